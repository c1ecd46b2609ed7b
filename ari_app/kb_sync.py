"""KB sync: Kayako's published articles -> the local index that calls answer from.

The first sync is full; later ones are incremental: only articles with `updated_at` at or
after the newest stamp of the previous sync are fetched (stored in the index's meta table as
`kayako_updated_at`), and every article Kayako no longer publishes (deleted, unpublished) is
removed locally, so it disappears from answers. Spoken answers and vectors are computed here,
during the sync, never per call, and off the event loop (a worker thread with its own SQLite
connection), so live calls keep their 20 ms pacing. `serve` runs this every
`kayako.kb_sync_interval_s` and then swaps the index new calls answer from.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ari_app.knowledge import KnowledgeError, make_embedder
from ari_app.logs import log_event
from ari_app.settings import Settings
from kayako_client import ClientOptions, KayakoClient, KayakoError, KbFetch, fetch_published_articles
from kayako_client.models import KbArticleRecord
from nlu.kb import Article
from nlu.kb_index import KbIndex

log = logging.getLogger("kayako_voice.kb_sync")

META_UPDATED_AT = "kayako_updated_at"
META_SOURCE = "kayako_url"


@dataclass(frozen=True)
class SyncResult:
    fetched: int
    upserted: int
    deleted: int
    total: int
    full: bool


def to_article(record: KbArticleRecord) -> Article:
    return Article(
        id=record.id,
        title=record.title,
        section=record.section,
        category=record.category,
        tags=tuple(record.tags),
        body_html=record.body_html,
        status=record.status,
        updated_at=record.updated_at,
    )


def client_options(settings: Settings) -> ClientOptions:
    k = settings.kayako
    return ClientOptions(
        k.url, k.email, k.password, timeout_s=k.timeout_s, verify_tls=k.verify_tls, ca_bundle=k.ca_bundle
    )


async def sync_kb(
    settings: Settings,
    *,
    full: bool = False,
    progress: bool = False,
    index: KbIndex | None = None,
    client: KayakoClient | None = None,
) -> SyncResult:
    """Pull published articles from Kayako into the index (storage.kb_index unless given)."""
    own_client = client is None
    client = client or KayakoClient(client_options(settings))
    bar: tqdm | None = None  # type: ignore[type-arg]

    def on_progress(done: int, total: int) -> None:
        nonlocal bar
        if not progress:
            return
        if bar is None:
            bar = tqdm(total=total, desc="kb sync", unit="article")
        bar.total = total
        bar.n = done
        bar.refresh()

    def open_index() -> KbIndex:
        Path(settings.storage.kb_index).parent.mkdir(parents=True, exist_ok=True)
        return KbIndex(settings.storage.kb_index, embedder=make_embedder(settings))

    try:
        if index is not None:
            since = _since(settings, index, full)
        else:
            probe = await asyncio.to_thread(open_index)
            try:
                since = _since(settings, probe, full)
            finally:
                probe.close()
        try:
            fetched = await fetch_published_articles(client, since, on_progress)
        except KayakoError as exc:
            raise KnowledgeError(f"cannot fetch articles from {settings.kayako.url}: {exc}") from exc
        if index is not None:
            return _apply(settings, index, fetched)

        def apply_in_thread() -> SyncResult:
            # embedding the articles takes seconds: off the event loop, with the index's own
            # SQLite connection opened in this thread
            own = open_index()
            try:
                return _apply(settings, own, fetched)
            finally:
                own.close()

        return await asyncio.to_thread(apply_in_thread)
    finally:
        if bar is not None:
            bar.close()
        if own_client:
            await client.aclose()


def _since(settings: Settings, index: KbIndex, full: bool) -> str | None:
    source_changed = index.meta(META_SOURCE) not in (None, settings.kayako.url)
    return None if (full or source_changed) else index.meta(META_UPDATED_AT)


def _apply(settings: Settings, index: KbIndex, fetched: KbFetch) -> SyncResult:
    articles = [to_article(r) for r in fetched.articles]
    if fetched.full:
        index.replace_all(articles)
        upserted, deleted = len(articles), 0
    else:
        upserted = index.upsert(articles) if articles else 0
        gone = [a.id for a in index.articles() if a.id not in fetched.all_published_ids]
        deleted = index.delete(gone) if gone else 0
    if fetched.newest_updated_at:
        index.set_meta(META_UPDATED_AT, fetched.newest_updated_at)
    index.set_meta(META_SOURCE, settings.kayako.url)
    total = len(index.articles())
    result = SyncResult(len(fetched.articles), upserted, deleted, total, fetched.full)
    log_event(
        log,
        "kb synced",
        fetched=result.fetched,
        upserted=upserted,
        deleted=deleted,
        total=total,
        full=fetched.full,
    )
    return result
