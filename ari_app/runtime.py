"""Everything one kayako-voice process shares between calls, built once from `Settings`.

Owns construction and shutdown order: the ARI client, the speech services (STT, TTS, audio
cache, the bounded inference pool), the knowledge base, the call store, the Kayako client, the
case outbox with its delivery worker, and the periodic KB sync. Facts: model loading is the
slow part (Whisper tiny.en + Piper + MiniLM, a few seconds on 2 cores), so it happens here,
before the app registers with Asterisk; the outbox and the call store share the SQLite file
`storage.database` (separate tables, WAL mode), so a case is on disk before Kayako sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ari_app.ari.client import AriClient
from ari_app.ari.spec import AriSpec
from ari_app.kb_sync import client_options, sync_kb
from ari_app.knowledge import kb_from_articles, open_synced_kb
from ari_app.logs import log_event
from ari_app.privacy import open_store, purge_expired
from ari_app.settings import Settings
from ari_app.speech import load_speech_services
from ari_app.store import CallStore
from ari_app.voice_session import SpeechServices
from kayako_client import CaseOutbox, KayakoClient, OutboxOptions
from nlu.dialogue import KnowledgeBase

RETENTION_EVERY_S = 3600.0
log = logging.getLogger("kayako_voice.runtime")


def load_speech(settings: Settings, kb: Any = None) -> SpeechServices:
    """STT + TTS + audio cache + inference pool, with prompts and KB answers synthesized ahead."""
    return load_speech_services(settings, kb=kb)


def load_kb(settings: Settings) -> KnowledgeBase:
    """The synced index when one exists, else a fresh in-memory import of storage.articles."""
    if Path(settings.storage.kb_index).exists():
        return open_synced_kb(settings)
    return kb_from_articles(settings, settings.storage.articles)


def outbox_options(settings: Settings) -> OutboxOptions:
    return OutboxOptions(
        open_case_days=settings.kayako.open_case_days, dead_after_s=settings.kayako.dead_after_s
    )


@dataclass
class Runtime:
    """The process-wide pieces a `CallSession` uses; `start()` runs the background workers."""

    settings: Settings
    ari: AriClient
    services: SpeechServices
    kb: KnowledgeBase
    store: CallStore
    kayako: KayakoClient | None = None
    outbox: CaseOutbox | None = None
    kb_sync: Callable[[], Awaitable[Any]] | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def start_workers(self) -> None:
        if self.outbox is not None:
            self._tasks.append(asyncio.create_task(self.outbox.run(self.stop_event), name="case-outbox"))
        if self.kb_sync is not None and self.settings.kayako.kb_sync_interval_s > 0:
            self._tasks.append(asyncio.create_task(self._sync_loop(), name="kb-sync"))
        if self.settings.storage.retention_days > 0:
            self._tasks.append(asyncio.create_task(self._retention_loop(), name="retention"))

    async def _sync_loop(self) -> None:
        assert self.kb_sync is not None
        interval = self.settings.kayako.kb_sync_interval_s
        while not self.stop_event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), interval)
                return
            try:
                result = await self.kb_sync()
                log_event(log, "kb sync done", result=str(result))
            except Exception as exc:  # Kayako down: the old index keeps answering
                log_event(log, "kb sync failed", logging.WARNING, error=repr(exc))
                continue
            # new calls answer from the synced index; calls in progress keep the one they have
            with contextlib.suppress(Exception):
                self.kb = open_synced_kb(self.settings)

    async def _retention_loop(self) -> None:
        """Purge transcripts older than storage.retention_days, at start and then hourly."""
        days = self.settings.storage.retention_days
        while not self.stop_event.is_set():
            try:
                result = purge_expired(self.store, days)
                log_event(log, "retention purge", erased=str(result.to_dict()))
            except Exception as exc:
                log_event(log, "retention purge failed", logging.ERROR, error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), RETENTION_EVERY_S)

    async def close(self) -> None:
        self.stop_event.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await asyncio.wait_for(task, 5.0)
                except TimeoutError:
                    task.cancel()
                    log_event(
                        log, "background task did not stop in time", logging.WARNING, task=task.get_name()
                    )
                except Exception as exc:
                    log_event(log, "background task failed", logging.ERROR, error=repr(exc))
        await self.ari.close()
        if self.kayako is not None:
            await self.kayako.aclose()
        if self.outbox is not None:
            self.outbox.close()
        self.services.pool.shutdown()
        self.store.close()


def build_runtime(
    settings: Settings,
    *,
    services: SpeechServices | None = None,
    kb: KnowledgeBase | None = None,
    spec: AriSpec | None = None,
    outbox: OutboxOptions | None = None,
) -> Runtime:
    """Build every shared piece (models load here); call inside the running event loop."""
    a = settings.ari
    ari = AriClient(a.url, a.username, a.password, a.app, spec=spec)
    store = open_store(settings)
    kayako = KayakoClient(client_options(settings)) if settings.kayako.url else None
    case_outbox = None
    if kayako is not None:
        case_outbox = CaseOutbox(
            settings.storage.database,
            kayako,
            outbox or outbox_options(settings),
            on_delivered=lambda call_id, case_id: store.set_case_id(call_id, case_id),
        )
    sync: Callable[[], Awaitable[Any]] | None = None
    if settings.kayako.url:

        async def sync() -> Any:
            return await sync_kb(settings)

    kb = kb if kb is not None else load_kb(settings)
    return Runtime(
        settings=settings,
        ari=ari,
        services=services or load_speech(settings, kb),
        kb=kb,
        store=store,
        kayako=kayako,
        outbox=case_outbox,
        kb_sync=sync,
    )
