"""`StasisApp`: the Stasis application; admits new calls, owns the live `CallSession`s.

Owns admission (at most `ari.max_calls` live calls; above that the caller hears Asterisk's
"all circuits are busy" sound and is sent on to the overflow dialplan location or hung up,
per `ari.overflow_action`), routing each new caller channel to its own `CallSession`,
reconciliation after an ARI WebSocket reconnect, and graceful shutdown. Facts: a StasisStart
that no session subscribed to is a new call (the router's fallback); agent legs and
externalMedia channels are subscribed before they exist, so they never arrive here; events
sent while the WebSocket was down are lost, so after a reconnect `GET /channels` is the truth:
sessions whose caller channel is gone are ended (their cases are filed), live ones continue.
No TTS audio can reach a caller we refuse (no media is set up), so refusal uses `sound:`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from ari_app.ari.errors import AriError, ChannelGone
from ari_app.ari.models import StasisStart
from ari_app.call_session import CallSession, PortPool, TurnListener
from ari_app.logs import log_event
from ari_app.metrics import CallMetrics
from ari_app.runtime import Runtime

log = logging.getLogger("kayako_voice.stasis")

BUSY_SOUND = "sound:all-circuits-busy-now"
BUSY_SOUND_S = 2.5  # the sound's length; the caller hears it before being moved on


class StasisApp:
    def __init__(
        self,
        runtime: Runtime,
        *,
        on_turn: TurnListener | None = None,
        on_call_ended: Callable[[CallSession], Any] | None = None,
        busy_sound_s: float = BUSY_SOUND_S,
        metrics: CallMetrics | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.ari = runtime.ari
        m = self.settings.media
        self.ports = PortPool(m.rtp_port_min, m.rtp_port_max)
        self.sessions: dict[str, CallSession] = {}
        self.ended: list[CallSession] = []
        self.refused: list[str] = []
        self.metrics = metrics
        self.on_turn = self._metered_turn if metrics is not None else on_turn
        self._turn_listener = on_turn
        self.on_call_ended = on_call_ended
        self.busy_sound_s = busy_sound_s
        self.admitting = True
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Register with Asterisk (WebSocket up) and start taking calls."""
        self.ari.on_stasis_start = self.on_new_channel
        self.ari.on_reconnect = self.reconcile
        await self.ari.connect()
        log_event(log, "stasis app registered", app=self.ari.app, max_calls=self.settings.ari.max_calls)

    @property
    def live_calls(self) -> int:
        return len(self.sessions)

    def on_new_channel(self, event: StasisStart) -> None:
        channel = event.channel
        if event.args and event.args[0] == "transfer":
            # an agent leg whose session is gone (e.g. ended meanwhile): nothing to join
            self._spawn(self._drop_orphan(channel.id))
            return
        if channel.is_external_media:
            self._spawn(self._drop_orphan(channel.id))
            return
        if not self.admitting or len(self.sessions) >= self.settings.ari.max_calls:
            self.refused.append(channel.id)
            if self.metrics is not None:
                self.metrics.calls_refused.inc()
            self._spawn(self._refuse(channel.id))
            return
        if self.metrics is not None:
            self.metrics.call_started()
        session = CallSession(self.runtime, channel, self.ports, on_turn=self.on_turn, on_closed=self._closed)
        self.sessions[channel.id] = session
        self._spawn(session.run())

    def _metered_turn(self, call_id: str, speaker: str, at: float, text: str, timing: Any) -> None:
        if self.metrics is not None and timing is not None:
            s = self.settings
            self.metrics.record_turn(
                timing.latency_ms, timing.stt_ms, timing.tts_ms, s.stt.engine, s.tts.engine
            )
        if self._turn_listener is not None:
            self._turn_listener(call_id, speaker, at, text, timing)

    def _closed(self, session: CallSession) -> None:
        self.sessions.pop(session.call_id, None)
        self.ended.append(session)
        if self.metrics is not None:
            case = session.voice.case if session.voice is not None else None
            self.metrics.call_ended(case.outcome if case is not None else "abandoned")
        if self.on_call_ended is not None:
            self.on_call_ended(session)

    async def _drop_orphan(self, channel_id: str) -> None:
        log_event(log, "orphan channel entered the app; hanging it up", logging.WARNING, call_id=channel_id)
        with contextlib.suppress(ChannelGone):
            await self.ari.hangup(channel_id)

    async def _refuse(self, channel_id: str) -> None:
        a = self.settings.ari
        reason = "shutting down" if not self.admitting else f"{len(self.sessions)} calls live"
        log_event(
            log, "call refused", logging.WARNING, call_id=channel_id, reason=reason, action=a.overflow_action
        )
        try:
            await self.ari.answer(channel_id)
            await self.ari.play(channel_id, BUSY_SOUND)
            await asyncio.sleep(self.busy_sound_s)
            if a.overflow_action == "overflow":
                await self.ari.continue_in_dialplan(
                    channel_id, context=a.overflow_context, extension=a.overflow_extension, priority=1
                )
            else:
                await self.ari.hangup(channel_id, reason="congestion")
        except ChannelGone:
            log_event(log, "refused caller hung up first", call_id=channel_id)
        except AriError as exc:
            log_event(log, "refusing the call failed", logging.ERROR, call_id=channel_id, error=str(exc))
            with contextlib.suppress(AriError):
                await self.ari.hangup(channel_id)

    async def reconcile(self) -> None:
        """After a reconnect: end sessions whose caller channel no longer exists."""
        try:
            live = {c.id for c in await self.ari.list_channels()}
        except AriError as exc:
            log_event(log, "reconcile: cannot list channels", logging.ERROR, error=str(exc))
            return
        gone = [s for cid, s in self.sessions.items() if cid not in live]
        log_event(log, "reconciled after reconnect", live=len(self.sessions) - len(gone), gone=len(gone))
        for session in gone:
            session._caller_gone = True
            self._spawn(session.finish("channel-gone-after-reconnect"))

    async def shutdown(self, grace_s: float | None = None) -> None:
        """Stop admitting, let live calls end for up to `grace_s`, then hang up the rest."""
        self.admitting = False
        grace = self.settings.ari.shutdown_grace_s if grace_s is None else grace_s
        live = list(self.sessions.values())
        log_event(log, "shutting down", live_calls=len(live), grace_s=grace)
        if live:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(s.done.wait() for s in live)), grace)
        for session in list(self.sessions.values()):
            await session.hang_up("shutdown")
        for task in list(self._tasks):
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log_event(log, "stasis task failed", logging.ERROR, error=repr(task.exception()))
