"""Pull the published help-center articles out of Kayako for the local KB index.

A full fetch pages through `GET /articles?filter=PUBLISHED&include=section,category,locale_field`
(100 per page). An incremental fetch first lists every article's `id, status, updated_at`
cheaply (`fields=id,status,updated_at`, kayako-api.md §3.3), then fetches in full only the
published ones with `updated_at >= updated_since` (>= because timestamps have one-second
resolution: an edit in the same second as the last sync is fetched again, never missed).
`all_published_ids` lets the caller delete locally what Kayako deleted or unpublished.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from kayako_client.models import KbArticleRecord
from kayako_client.protocol import HelpdeskApi

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class KbFetch:
    articles: list[KbArticleRecord]  # new or changed published articles (all of them when full)
    all_published_ids: frozenset[int]
    full: bool
    newest_updated_at: str | None  # pass back as updated_since next time


def _when(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        return None


async def fetch_published_articles(
    client: HelpdeskApi,
    updated_since: str | None,
    on_progress: ProgressCallback | None = None,
) -> KbFetch:
    """Fetch published articles: all of them, or those changed since `updated_since` (ISO-8601)."""
    since = _when(updated_since) if updated_since else None
    if updated_since and since is None:
        raise ValueError(f"updated_since must be an ISO-8601 timestamp, got {updated_since!r}")
    if since is None:
        everything = await client.list_articles(published_only=True)
        if on_progress:
            on_progress(len(everything), len(everything))
        ids = frozenset(a.id for a in everything)
        return KbFetch(everything, ids, True, _newest(a.updated_at for a in everything))

    stamps = await client.list_article_stamps()
    published = [(i, u) for i, status, u in stamps if status == "PUBLISHED"]
    changed = []
    for article_id, updated in published:
        when = _when(updated)
        if when is None or when >= since:  # an unreadable stamp is treated as changed
            changed.append(article_id)
    total = len(changed)
    if on_progress:
        on_progress(0, total)
    articles: list[KbArticleRecord] = []
    for done, article_id in enumerate(changed, start=1):
        articles.append(await client.get_article(article_id))
        if on_progress:
            on_progress(done, total)
    newest = _newest(u for _, u in published)
    return KbFetch(articles, frozenset(i for i, _ in published), False, newest or updated_since)


def _newest(stamps: Iterable[str]) -> str | None:
    best: tuple[datetime, str] | None = None
    for stamp in stamps:
        when = _when(str(stamp))
        if when is not None and (best is None or when > best[0]):
            best = (when, str(stamp))
    return best[1] if best else None
