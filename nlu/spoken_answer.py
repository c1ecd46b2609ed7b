"""Spoken answers: an article's HTML turned into what the agent says on the phone.

Owns the shaping rules: `short` is at most SHORT_WORDS (45) words, about 15 s of speech at the
~170 words/minute a TTS voice reads at, which is as long as callers listen before interrupting;
numbered lists become "First, ... Then, ... Finally, ..."; links become their page name and
URLs/e-mail addresses are read the way people say them; "Note:" labels, headings and
menu arrows ("Admin Center > Billing") are rewritten for the ear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from nlu.kb import Article

SHORT_WORDS = 45
_META_RE = re.compile(r"^(?:this|the following) (?:article|page|guide)\b", re.IGNORECASE)
_ORDINALS = ("First", "Then", "Next", "After that")


@dataclass(frozen=True)
class SpokenAnswer:
    article_id: int
    short: str
    steps: tuple[str, ...]
    rest: str
    facts: tuple[str, ...]


@dataclass
class _Block:
    kind: str  # "p" | "note" | "h" | "ol" | "ul"
    text: str = ""


_URL_RE = re.compile(r"\b(?:https?://)?(?:[\w-]+\.)+[a-z]{2,}(?:/[\w./?=&%-]*)?", re.IGNORECASE)
_EMAIL_RE = re.compile(r"\b([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)\b")


def speak_email(address: str) -> str:
    local, _, domain = address.partition("@")
    local = local.replace(".", " dot ").replace("-", " dash ").replace("_", " underscore ")
    return f"{local} at {domain.replace('.', ' dot ')}"


def speak_url(url: str) -> str:
    """'https://app.example.com/login' -> 'the example dot com login page'."""
    bare = re.sub(r"^https?://", "", url.strip(), flags=re.IGNORECASE).rstrip("/")
    host, _, path = bare.partition("/")
    host = re.sub(r"^(?:www|app)\.", "", host, flags=re.IGNORECASE)
    page = path.split("/")[-1].split("?")[0].replace("-", " ").replace("_", " ") if path else ""
    spoken_host = host.replace(".", " dot ")
    return f"the {spoken_host} {page} page".replace("  ", " ") if page else f"the {spoken_host} website"


class _SpokenParser(HTMLParser):
    """Collects blocks of spoken text; links become their name, code is kept as words."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[_Block] = []
        self._buf: list[str] = []
        self._list_stack: list[str] = []
        self._kind = "p"
        self._href: str | None = None
        self._link_text: list[str] = []

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self._buf)).strip()
        self._buf = []
        if text:
            self.blocks.append(_Block(self._kind, text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag in ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"):
            self._flush()
            css = (attr.get("class") or "").lower()
            if tag.startswith("h"):
                self._kind = "h"
            elif "note" in css or "tip" in css or "warning" in css:
                self._kind = "note"
            elif self._list_stack:
                self._kind = self._list_stack[-1]
            else:
                self._kind = "p"
        elif tag in ("ol", "ul"):
            self._flush()
            self._list_stack.append(tag)
        elif tag == "li":
            self._flush()
            self._kind = self._list_stack[-1] if self._list_stack else "ul"
        elif tag == "br":
            self._buf.append(" ")
        elif tag == "a":
            self._href = attr.get("href") or ""
            self._link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            text = re.sub(r"\s+", " ", "".join(self._link_text)).strip()
            self._buf.append(_link_words(self._href, text))
            self._href = None
        elif tag in ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre"):
            self._flush()
            self._kind = self._list_stack[-1] if self._list_stack else "p"
        elif tag in ("ol", "ul"):
            self._flush()
            if self._list_stack:
                self._list_stack.pop()
            self._kind = self._list_stack[-1] if self._list_stack else "p"

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._link_text.append(data)
        else:
            self._buf.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def _link_words(href: str, text: str) -> str:
    if href.lower().startswith("mailto:") or _EMAIL_RE.fullmatch(text or ""):
        return speak_email(text if "@" in text else href[7:].split("?")[0])
    if not text or _URL_RE.fullmatch(text):
        return speak_url(text or href)
    if re.search(r"/articles?/\d+", href):
        return f'the article "{text}"'
    return text


def _ear(text: str) -> str:
    """Rewrite one block's text for TTS: notes, menu paths, acronyms in brackets, URLs, symbols."""
    text = re.sub(r"^(?:note|tip|important|warning)\s*:\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s*>\s*", ", then ", text)
    text = re.sub(r"\s*\(([A-Z0-9][A-Za-z0-9.]{0,7})\)", "", text)  # "two-factor (2FA)" -> "two-factor"
    text = re.sub(r"\s*\(([^()]*)\)", r", \1,", text)
    text = _EMAIL_RE.sub(lambda m: speak_email(m.group(0)), text)
    text = _URL_RE.sub(
        lambda m: speak_url(m.group(0)) if "." in m.group(0) and "/" in m.group(0) else m.group(0), text
    )
    text = re.sub(
        r"\{\{\s*([\w.]+)\s*\}\}", lambda m: "the " + re.sub(r"[._]", " ", m.group(1)) + " placeholder", text
    )
    text = re.sub(r"(?<![\w.])@(?=\w)", "", text)  # "@mentions" -> "mentions"
    text = text.replace("&", " and ").replace("%", " percent").replace(" / ", " or ")
    text = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s+", " ", text))
    text = re.sub(r",\s*([.;:!?,])", r"\1", text)
    text = re.sub(r"[:;]\s*$", ".", text)
    return text.strip()


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])", text)
    out = []
    for part in parts:
        part = part.strip()
        if part:
            out.append(part if part[-1] in ".!?" else part + ".")
    return out


def _words(text: str) -> int:
    return len(text.split())


def _first_clause(step: str) -> str:
    """The instruction part of a step: its first sentence."""
    return _sentences(step)[0] if step else step


def _lower_first(text: str) -> str:
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _join_steps(steps: list[str], budget: int) -> str:
    """'First, a. Then, b. Finally, c.' within `budget` words (as many whole steps as fit)."""
    out: list[str] = []
    used = 0
    for index, step in enumerate(steps):
        if len(steps) > 1 and index == len(steps) - 1:
            lead = "Finally"
        else:
            lead = _ORDINALS[min(index, len(_ORDINALS) - 1)]
        phrase = f"{lead}, {_lower_first(step)}"
        if used + _words(phrase) > budget and out:
            remaining = len(steps) - index
            out.append(f"There {'is one more step' if remaining == 1 else f'are {remaining} more steps'}.")
            break
        out.append(phrase)
        used += _words(phrase)
    return " ".join(out)


def _clip(sentences: list[str], budget: int) -> str:
    out: list[str] = []
    used = 0
    for sentence in sentences:
        if used + _words(sentence) > budget:
            break
        out.append(sentence)
        used += _words(sentence)
    if not out and sentences:  # one very long sentence: cut at a word boundary
        out.append(" ".join(sentences[0].split()[: budget - 1]).rstrip(",;:") + ".")
    return " ".join(out)


def make_spoken_answer(article: Article) -> SpokenAnswer:
    """Shape an article for the phone: a short answer, every step, the rest and fact sentences."""
    parser = _SpokenParser()
    parser.feed(article.body_html or "")
    parser.close()
    blocks = [_Block(b.kind, _ear(b.text)) for b in parser.blocks]
    blocks = [b for b in blocks if b.text]

    first_heading = next((i for i, b in enumerate(blocks) if b.kind == "h"), len(blocks))
    intro = blocks[:first_heading]
    ordered = [b.text if b.text[-1] in ".!?" else b.text + "." for b in blocks if b.kind == "ol"]
    intro_steps = [b.text if b.text[-1] in ".!?" else b.text + "." for b in intro if b.kind == "ol"]
    if not intro_steps and sum(len(_sentences(b.text)) for b in intro) <= 2:
        # a one-line intro followed by a headed section of steps: those steps are the answer
        second_heading = next(
            (i for i, b in enumerate(blocks) if b.kind == "h" and i > first_heading), len(blocks)
        )
        section = blocks[first_heading:second_heading]
        intro_steps = [b.text if b.text[-1] in ".!?" else b.text + "." for b in section if b.kind == "ol"]
        if intro_steps:
            intro = intro + section
    steps = ordered or [b.text for b in intro if b.kind == "ul"] or [b.text for b in blocks if b.kind == "ul"]

    if intro_steps:
        lead_block = next((b for b in intro if b.kind in ("p", "note")), None)
        lead_first = _sentences(lead_block.text)[0] if lead_block else ""
        if _META_RE.match(lead_first):
            lead_first = ""
        if (
            blocks.index(lead_block) > blocks.index(next(b for b in intro if b.kind == "ol"))
            if lead_block
            else True
        ):
            lead_first = ""
        tail = 5  # "There are N more steps."
        budget = SHORT_WORDS - tail - _words(lead_first)
        if budget < 16:  # a long lead: the steps matter more on the phone
            lead_first, budget = "", SHORT_WORDS - tail
        short = (lead_first + " " + _join_steps([_first_clause(x) for x in intro_steps], budget)).strip()
    else:
        intro_sentences = [
            x for b in intro if b.kind != "h" for x in _sentences(b.text) if not _META_RE.match(x)
        ]
        if not intro_sentences:
            intro_sentences = [
                x for b in blocks if b.kind != "h" for x in _sentences(b.text) if not _META_RE.match(x)
            ]
        short = _clip(intro_sentences or [article.title + "."], SHORT_WORDS)

    short_sentences = set(_sentences(short))
    rest_parts: list[str] = []
    for b in blocks:
        if b.kind == "h" or (b.kind == "ol" and b in intro):
            continue
        kept = [s for s in _sentences(b.text) if s not in short_sentences]
        rest_parts.extend(kept)

    facts: list[str] = []
    for b in blocks:
        if b.kind == "h":
            continue
        facts.extend(_sentences(b.text))
    return SpokenAnswer(
        article_id=article.id,
        short=short,
        steps=tuple(steps),
        rest=" ".join(rest_parts),
        facts=tuple(dict.fromkeys(facts)),
    )
