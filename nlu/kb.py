"""Knowledge-base articles: the `Article` record, parsing the help-center JSON, HTML to plain text.

Relies on the Kayako/Northwind help-center export shape (list of objects with id, title, section,
category, tags, body_html, status); bodies are small (150 to 280 words), so a tolerant
tag-stripping parser built on `html.parser` is enough: no DOM library.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "li",
        "ol",
        "ul",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "br",
        "tr",
        "table",
        "pre",
        "blockquote",
    }
)


@dataclass(frozen=True)
class Article:
    id: int
    title: str
    section: str
    category: str
    tags: tuple[str, ...]
    body_html: str
    status: str = "PUBLISHED"
    updated_at: str = ""


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html_text: str) -> str:
    """Plain text of an HTML fragment: one line per block element, whitespace collapsed."""
    collector = _TextCollector()
    collector.feed(html_text or "")
    collector.close()
    raw = html.unescape("".join(collector.parts))
    lines = [re.sub(r"[ \t\r\f\v\u00a0]+", " ", line).strip() for line in raw.split("\n")]
    return "\n".join(line for line in lines if line)


class _HeadingCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[str] = []
        self._buf: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._buf = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6") and self._buf is not None:
            text = re.sub(r"\s+", " ", "".join(self._buf)).strip()
            if text:
                self.headings.append(text)
            self._buf = None

    def handle_data(self, data: str) -> None:
        if self._buf is not None:
            self._buf.append(data)


def html_headings(html_text: str) -> list[str]:
    """Text of each heading in an HTML fragment (help-center h3s read like callers' questions)."""
    collector = _HeadingCollector()
    collector.feed(html_text or "")
    collector.close()
    return collector.headings


def _field(item: dict, index: int, name: str, kind: type, required: bool = True) -> object:
    if name not in item:
        if required:
            raise ValueError(f"article #{index} (id={item.get('id')!r}): missing field {name!r}")
        return None
    value = item[name]
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                return int(value.strip())
            raise ValueError(f"article #{index} (id={item.get('id')!r}): field {name!r} must be an integer")
        return value
    if not isinstance(value, kind):
        raise ValueError(
            f"article #{index} (id={item.get('id')!r}): field {name!r} must be {kind.__name__}, "
            f"got {type(value).__name__}"
        )
    return value


def articles_from_json(data: list[dict]) -> list[Article]:
    """Parse the help-center export (see shared/data/dev/README.md); ValueError names the bad item/field."""
    if not isinstance(data, list):
        raise ValueError(f"articles: expected a JSON list, got {type(data).__name__}")
    out: list[Article] = []
    seen: set[int] = set()
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"article #{index}: expected an object, got {type(item).__name__}")
        article_id = _field(item, index, "id", int)
        assert isinstance(article_id, int)
        if article_id in seen:
            raise ValueError(f"article #{index}: duplicate id {article_id}")
        seen.add(article_id)
        title = str(_field(item, index, "title", str)).strip()
        if not title:
            raise ValueError(f"article #{index} (id={article_id}): field 'title' is empty")
        tags_raw = _field(item, index, "tags", list, required=False) or []
        assert isinstance(tags_raw, list)
        for tag in tags_raw:
            if not isinstance(tag, str):
                raise ValueError(f"article #{index} (id={article_id}): field 'tags' must hold strings")
        out.append(
            Article(
                id=article_id,
                title=title,
                section=str(_field(item, index, "section", str, required=False) or ""),
                category=str(_field(item, index, "category", str, required=False) or ""),
                tags=tuple(t.strip() for t in tags_raw if t.strip()),
                body_html=str(_field(item, index, "body_html", str)),
                status=str(_field(item, index, "status", str, required=False) or "PUBLISHED"),
                updated_at=str(_field(item, index, "updated_at", str, required=False) or ""),
            )
        )
    return out
