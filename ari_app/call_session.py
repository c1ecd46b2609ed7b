"""`CallSession`: one call's channels, bridge, media and dialogue, from StasisStart to teardown.

Owns the ARI side of a call: answer, the `externalMedia` channel pointed at this call's RTP
port, the mixing bridge, DTMF, hang-up, the live-agent transfer, and the end of the call
(exactly once: media closed, the case stored and queued in the outbox before any send, the
bridge and the externalMedia channel destroyed). The voice loop itself is `VoiceSession`.

Facts (Asterisk 22, DESIGN.md): an externalMedia channel may join a bridge only after its own
StasisStart (422 "Channel not in Stasis application" otherwise), so we `expect()` it before
the request; the caller's end shows as ChannelHangupRequest, StasisEnd, ChannelDestroyed (any
one ends the session); an originated agent leg reports Dial BUSY/NOANSWER or ChannelDestroyed
17/19 when it fails and StasisStart when answered; `redirect` gives no event and leaves the
leg up, so it is never used. An externalMedia (UnicastRTP) channel has no SDP, so it
receives only RTP payload types from the static table (0 = ulaw, 8 = alaw): Asterisk 22.10.1
sends slin16 to us as payload type 118 but silently drops the slin16 we send back (seen on a
real Asterisk: "Got RTP packet ... type 118" and nothing forwarded to the caller), so the
caller would hear nothing; ulaw is the default for that reason. The caller lookup in Kayako
runs while the call is being answered and is bounded by `kayako.caller_lookup_timeout_s`
(0.8 s): it never delays the greeting by more than that, and usually not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ari_app.ari.client import AriClient, pjsip_header_var
from ari_app.ari.errors import AriError, BridgeGone, ChannelGone
from ari_app.ari.models import (
    AriEvent,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    Dial,
    StasisEnd,
    StasisStart,
)
from ari_app.case_delivery import outbound_case
from ari_app.logs import log_event
from ari_app.runtime import Runtime
from ari_app.store import TurnTiming
from ari_app.voice_session import VoiceOptions, VoiceSession
from kayako_client import lookup_caller
from media.turns import TurnSettings
from nlu.case import CaseDraft
from nlu.events import Transfer

log = logging.getLogger("kayako_voice.call")

MEDIA_STASIS_TIMEOUT_S = 3.0
# the externalMedia formats whose RTP Asterisk 22 accepts from us (static payload types)
EXTERNAL_MEDIA_RECEIVES = frozenset({"ulaw", "alaw"})
CASE_ID_WAIT_S = 3.0  # how long a transfer waits for the Kayako case id
BIND_ATTEMPTS = 20
CASE_ID_VAR = "KAYAKO_CASE_ID"
CASE_ID_HEADER = "X-Kayako-Case-Id"


def external_media_codec_problem(codec: str) -> str:
    """Why callers would not hear the agent with this media.codec on Asterisk 22, or ""."""
    if codec in EXTERNAL_MEDIA_RECEIVES:
        return ""
    return (
        f"media.codec = {codec!r}: Asterisk 22 drops {codec} RTP sent to an externalMedia channel "
        "(a dynamic payload type it has no mapping for), so callers hear nothing"
    )


_FAILED_DIAL = {"BUSY", "NOANSWER", "CONGESTION", "CHANUNAVAIL", "CANCEL"}

TurnListener = Callable[[str, str, float, str, TurnTiming | None], None]


def new_channel_id(kind: str) -> str:
    return f"kv-{kind}-{uuid.uuid4().hex[:16]}"


def turn_settings(runtime: Runtime) -> TurnSettings:
    """TurnSettings from media settings, for the fields this TurnSettings version has."""
    m = runtime.settings.media
    wanted = {
        "preroll_ms": m.preroll_ms,
        "end_of_turn_ms": m.end_of_turn_ms,
        "min_end_of_turn_ms": m.min_end_of_turn_ms,
        "max_turn_s": m.max_turn_s,
        "barge_in_ms": m.barge_in_ms,
    }
    known = set(getattr(TurnSettings, "__dataclass_fields__", {}))
    return TurnSettings(**{k: v for k, v in wanted.items() if k in known})  # type: ignore[arg-type]


class PortPool:
    """RTP ports in [low, high] handed out round-robin; a port in use is skipped."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        self._next = low
        self.in_use: set[int] = set()

    def take(self) -> int:
        size = self.high - self.low + 1
        for _ in range(size):
            port = self._next
            self._next = self.low + (self._next - self.low + 1) % size
            if port not in self.in_use:
                self.in_use.add(port)
                return port
        raise OSError(f"no free RTP port in {self.low}-{self.high}")

    def release(self, port: int) -> None:
        self.in_use.discard(port)


class CallSession:
    def __init__(
        self,
        runtime: Runtime,
        channel: Channel,
        ports: PortPool,
        *,
        on_turn: TurnListener | None = None,
        on_closed: Callable[[CallSession], Any] | None = None,
    ) -> None:
        self.runtime = runtime
        self.ari: AriClient = runtime.ari
        self.settings = runtime.settings
        self.channel = channel
        self.call_id = channel.id
        self.caller_number = channel.caller.number
        self.ports = ports
        self.on_turn = on_turn
        self.on_closed = on_closed
        self.events: asyncio.Queue[AriEvent] = asyncio.Queue(maxsize=1000)
        self.voice: VoiceSession | None = None
        self.rtp_port: int | None = None
        self.media_channel_id: str | None = None
        self.bridge_id: str | None = None
        self.agent_channel_id: str | None = None
        self.agent_bridged = False
        self.case_filed = False
        self.kayako_case_id: int | None = None
        self.end_reason = ""
        self.started_at = time.monotonic()
        self.done = asyncio.Event()
        self._begun = False
        self._ending = False
        self._caller_gone = False
        self._agent_result: asyncio.Future[str] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._setup: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """The whole call; returns when it has ended and everything is torn down."""
        self.ari.subscribe(self.call_id, self.events)
        log_event(log, "call admitted", call_id=self.call_id, caller=self.caller_number)
        if self.runtime.store is not None:
            self.runtime.store.start_call(self.call_id, self.caller_number)
        self._consumer = asyncio.create_task(self._consume(), name=f"events-{self.call_id}")
        self._setup = asyncio.create_task(self._establish(), name=f"setup-{self.call_id}")
        try:
            await self._setup
        except asyncio.CancelledError:
            if not self._ending:
                raise
        except Exception as exc:
            log_event(log, "call setup failed", logging.ERROR, call_id=self.call_id, error=repr(exc))
            await self.finish("setup-failed")
        await self.done.wait()

    async def _establish(self) -> None:
        lookup = asyncio.create_task(self._lookup())
        try:
            await self.ari.answer(self.call_id)
            host, port = await self._start_voice()
            await self._attach_media(host, port)
            name, email = await lookup
        finally:
            if not lookup.done():
                lookup.cancel()
        assert self.voice is not None
        self._begun = True
        self.voice.begin(self.caller_number, name, email)
        log_event(
            log,
            "call media up, greeting",
            call_id=self.call_id,
            setup_ms=round((time.monotonic() - self.started_at) * 1000, 1),
            known_caller=bool(name or email),
        )
        self._spawn(self._watch_voice())

    async def _lookup(self) -> tuple[str, str]:
        kayako = self.runtime.kayako
        if kayako is None or not self.caller_number:
            return "", ""
        record = await lookup_caller(kayako, self.caller_number, self.settings.kayako.caller_lookup_timeout_s)
        if record is None:
            return "", ""
        return record.name, record.email

    async def _start_voice(self) -> tuple[str, int]:
        m = self.settings.media
        last: OSError | None = None
        for _ in range(BIND_ATTEMPTS):
            port = self.ports.take()
            voice = VoiceSession(
                self.runtime.services,
                self.runtime.kb,
                VoiceOptions(
                    call_id=self.call_id,
                    company=self.settings.company.name,
                    agent_extension=self._agent_target(),
                    codec=m.codec,
                    rtp_host=m.rtp_host,
                    rtp_port=port,
                    comfort_noise=m.comfort_noise,
                    turn=turn_settings(self.runtime),
                    silence_timeout_s=m.silence_timeout_s,
                ),
                on_case=self._on_case,
                on_transfer=self._on_transfer,
                on_hangup=self._on_hangup,
                on_turn=self._on_voice_turn,
            )
            try:
                address = await voice.start()
            except OSError as exc:
                last = exc
                self.ports.release(port)
                await voice.close()
                continue
            self.voice, self.rtp_port = voice, port
            return address
        raise OSError(f"could not bind an RTP port: {last}")

    def _agent_target(self) -> str:
        """Non-empty when escalations can reach a human (the dialogue offers the transfer)."""
        a = self.settings.ari
        if a.transfer_mode == "continue":
            return self.settings.company.agent_extension or "agent"
        return a.agent_endpoint

    async def _attach_media(self, host: str, port: int) -> None:
        em_id = new_channel_id("media")
        self.media_channel_id = em_id
        self.ari.subscribe(em_id, self.events)
        ready = self.ari.expect("StasisStart", em_id)
        fmt = self.settings.media.codec
        await self.ari.external_media(external_host=f"{host}:{port}", format=fmt, channel_id=em_id)
        await asyncio.wait_for(ready, MEDIA_STASIS_TIMEOUT_S)
        bridge = await self.ari.create_bridge("mixing", name=f"kv-{self.call_id}")
        self.bridge_id = bridge.id
        self.ari.subscribe(bridge.id, self.events)
        await self.ari.add_channel(bridge.id, [self.call_id, em_id])
        remote_host = await self.ari.get_channel_var(em_id, "UNICASTRTP_LOCAL_ADDRESS")
        remote_port = await self.ari.get_channel_var(em_id, "UNICASTRTP_LOCAL_PORT")
        assert self.voice is not None
        endpoint = self.voice.endpoint
        if (
            remote_host
            and remote_port
            and remote_port.isdigit()
            and remote_host not in ("0.0.0.0", "::")
            and endpoint.remote_address is None
        ):
            # send the greeting at once; symmetric RTP would also learn it from the first packet
            endpoint.remote_address = (remote_host, int(remote_port))
        log_event(
            log,
            "media attached",
            call_id=self.call_id,
            rtp_local=f"{host}:{port}",
            asterisk_rtp=f"{remote_host}:{remote_port}",
            bridge_id=bridge.id,
        )

    async def _watch_voice(self) -> None:
        """A dialogue that ends with HangUp hangs the caller up; the events then end the session."""
        assert self.voice is not None
        await self.voice.ended.wait()

    # ------------------------------------------------------------------ ARI events
    async def _consume(self) -> None:
        while True:
            event = await self.events.get()
            try:
                await self._on_event(event)
            except Exception as exc:  # one bad event must not leave the call unmanaged
                log_event(
                    log,
                    "event handling failed",
                    logging.ERROR,
                    call_id=self.call_id,
                    event_type=event.type,
                    error=repr(exc),
                )

    async def _on_event(self, event: AriEvent) -> None:
        if isinstance(event, ChannelDtmfReceived) and event.channel.id == self.call_id:
            log_event(log, "dtmf", call_id=self.call_id, digit=event.digit)
            if self.voice is not None and self._begun and not self.agent_bridged:
                self.voice.dtmf(event.digit)
            return
        if isinstance(event, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
            cid = event.channel.id
            if cid == self.call_id:
                self._caller_gone = True
                self._spawn(self.finish(f"caller-{event.type}"))
            elif cid == self.agent_channel_id:
                if self.agent_bridged:
                    self._spawn(self.finish("agent-hung-up"))
                elif isinstance(event, ChannelDestroyed):
                    self._agent_done(f"agent-leg-destroyed-{event.cause}")
            elif (
                cid == self.media_channel_id
                and not self._ending
                and not self.agent_bridged
                and isinstance(event, ChannelDestroyed | StasisEnd)
            ):
                log_event(log, "media channel lost", logging.WARNING, call_id=self.call_id)
                self._spawn(self.finish("media-channel-lost"))
            return
        if isinstance(event, Dial) and event.peer.id == self.agent_channel_id:
            status = event.dialstatus.upper()
            if status in _FAILED_DIAL:
                self._agent_done(status.lower())
            return
        if isinstance(event, StasisStart) and event.channel.id == self.agent_channel_id:
            self._agent_done("answer")

    def _agent_done(self, outcome: str) -> None:
        if self._agent_result is not None and not self._agent_result.done():
            self._agent_result.set_result(outcome)

    # ------------------------------------------------------------------ voice callbacks
    def _on_voice_turn(self, speaker: str, at: float, text: str, timing: TurnTiming | None) -> None:
        store = self.runtime.store
        if speaker == "timing" and timing is not None:
            store.set_turn_timing(self.call_id, timing)
        elif speaker in ("caller", "agent"):
            store.add_turn(self.call_id, at, speaker, text, timing)
        if self.on_turn is not None:
            try:
                self.on_turn(self.call_id, speaker, at, text, timing)
            except Exception as exc:
                log_event(log, "turn listener failed", logging.WARNING, call_id=self.call_id, error=repr(exc))

    def _on_case(self, draft: CaseDraft) -> None:
        """FileCase from the dialogue: call row + outbox (durable) before anything is sent."""
        if self.case_filed:
            log_event(log, "second case for one call ignored", logging.WARNING, call_id=self.call_id)
            return
        self.case_filed = True
        self.runtime.store.end_call(self.call_id, draft)
        outbox = self.runtime.outbox
        if outbox is None:
            log_event(
                log, "no Kayako configured: case kept locally only", logging.WARNING, call_id=self.call_id
            )
            return
        outbox.enqueue(outbound_case(draft, self.settings.company.name))
        log_event(log, "case queued", call_id=self.call_id, outcome=draft.outcome, priority=draft.priority)

    async def _on_hangup(self, reason: str) -> None:
        log_event(log, "agent hangs up", call_id=self.call_id, reason=reason)
        if not self._caller_gone:
            with contextlib.suppress(ChannelGone):
                await self.ari.hangup(self.call_id)
        # the caller's StasisEnd/ChannelDestroyed finish the session; a lost event must not
        self._spawn(self._finish_after(2.0, "agent-hung-up-call"))

    async def _finish_after(self, delay_s: float, reason: str) -> None:
        await asyncio.sleep(delay_s)
        await self.finish(reason)

    def _on_transfer(self, action: Transfer) -> None:
        # our own task: bridging the agent closes the VoiceSession, whose tasks it must not be in
        self._spawn(self._run_transfer(action))

    async def _run_transfer(self, action: Transfer) -> None:
        try:
            await self._transfer(action)
        except Exception as exc:
            log_event(log, "transfer failed", logging.ERROR, call_id=self.call_id, error=repr(exc))
            if self.voice is not None and not self._ending:
                self.voice.transfer_failed("error")

    async def _transfer(self, action: Transfer) -> None:
        a = self.settings.ari
        if self._ending:
            return
        case_id = None
        if self.runtime.outbox is not None and self.case_filed:
            case_id = await self.runtime.outbox.deliver_now(self.call_id, CASE_ID_WAIT_S)
        self.kayako_case_id = case_id
        variables: dict[str, str] = {}
        if case_id is not None:
            with contextlib.suppress(ChannelGone):
                await self.ari.set_channel_var(self.call_id, CASE_ID_VAR, str(case_id))
            variables = {pjsip_header_var(CASE_ID_HEADER): str(case_id), CASE_ID_VAR: str(case_id)}
        log_event(
            log, "transfer", call_id=self.call_id, mode=a.transfer_mode, case_id=case_id, reason=action.reason
        )
        if a.transfer_mode == "continue":
            extension = action.extension or self.settings.company.agent_extension or "s"
            await self.ari.continue_in_dialplan(self.call_id, context=a.transfer_context, extension=extension)
            return  # StasisEnd of the caller ends the session; the dialplan has the call now
        if not a.agent_endpoint:
            assert self.voice is not None
            self.voice.transfer_failed("no-agent-endpoint")
            return
        agent_id = new_channel_id("agent")
        self.agent_channel_id = agent_id
        self._agent_result = asyncio.get_running_loop().create_future()
        self.ari.subscribe(agent_id, self.events)
        timeout = max(1, int(round(a.transfer_timeout_s)))
        await self.ari.originate(
            a.agent_endpoint,
            channel_id=agent_id,
            app_args=["transfer", self.call_id],
            caller_id=self.caller_number or None,
            timeout_s=timeout,
            variables=variables or None,
        )
        try:
            outcome = await asyncio.wait_for(asyncio.shield(self._agent_result), a.transfer_timeout_s + 2.0)
        except TimeoutError:
            outcome = "timeout"
        if self._ending:
            return
        if outcome != "answer":
            log_event(log, "agent did not answer", logging.WARNING, call_id=self.call_id, outcome=outcome)
            with contextlib.suppress(AriError):
                await self.ari.hangup(agent_id)
            self.agent_channel_id = None
            self.ari.unsubscribe(agent_id)
            assert self.voice is not None
            self.voice.transfer_failed(outcome)
            return
        await self._bridge_agent(agent_id)

    async def _bridge_agent(self, agent_id: str) -> None:
        """The agent answered: the agent's voice leaves the bridge and the human joins it."""
        assert self.bridge_id is not None
        self.agent_bridged = True
        em = self.media_channel_id
        if em is not None:
            with contextlib.suppress(ChannelGone, BridgeGone):
                await self.ari.remove_channel(self.bridge_id, em)
        await self.ari.add_channel(self.bridge_id, agent_id)
        if em is not None:
            with contextlib.suppress(ChannelGone):
                await self.ari.hangup(em)
        if self.voice is not None:
            await self.voice.close()
        if self.rtp_port is not None:
            self.ports.release(self.rtp_port)
            self.rtp_port = None
        log_event(
            log, "agent bridged", call_id=self.call_id, agent_channel=agent_id, case_id=self.kayako_case_id
        )

    # ------------------------------------------------------------------ ending
    async def finish(self, reason: str) -> None:
        """End the session exactly once: case filed, media closed, ARI resources released."""
        if self._ending:
            return
        self._ending = True
        self.end_reason = reason
        log_event(log, "call ending", call_id=self.call_id, reason=reason)
        if self._setup is not None and not self._setup.done() and self._setup is not asyncio.current_task():
            self._setup.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._setup
        voice = self.voice
        if voice is not None:
            if not self.case_filed:
                if not self._begun:
                    self._begun = True
                    voice.begin(self.caller_number)
                voice.caller_hung_up()  # the dialogue files the case (once)
            await voice.close()
        if not self.case_filed:
            log_event(log, "call ended without a case", logging.WARNING, call_id=self.call_id)
        await self._release()
        self.done.set()
        if self.on_closed is not None:
            try:
                self.on_closed(self)
            except Exception as exc:
                log_event(log, "on_closed failed", logging.ERROR, call_id=self.call_id, error=repr(exc))
        log_event(
            log,
            "call ended",
            call_id=self.call_id,
            reason=reason,
            duration_s=round(time.monotonic() - self.started_at, 2),
            case_filed=self.case_filed,
        )

    async def _release(self) -> None:
        ari = self.ari
        if self.media_channel_id is not None:
            await _quietly(ari.hangup(self.media_channel_id), self.call_id, "hangup media channel")
        if self.agent_channel_id is not None and not self.agent_bridged and self._agent_result is not None:
            await _quietly(ari.hangup(self.agent_channel_id), self.call_id, "hangup agent leg")
        if self.agent_bridged and self.agent_channel_id is not None:
            await _quietly(ari.hangup(self.agent_channel_id), self.call_id, "hangup agent")
        if not self._caller_gone:
            await _quietly(ari.hangup(self.call_id), self.call_id, "hangup caller")
        if self.bridge_id is not None:
            await _quietly(ari.destroy_bridge(self.bridge_id), self.call_id, "destroy bridge")
        for cid in (self.call_id, self.media_channel_id, self.agent_channel_id, self.bridge_id):
            if cid is not None:
                ari.unsubscribe(cid, self.events)
        if self.rtp_port is not None:
            self.ports.release(self.rtp_port)
            self.rtp_port = None
        if self._consumer is not None and self._consumer is not asyncio.current_task():
            self._consumer.cancel()
        for task in list(self._tasks):
            if task is not asyncio.current_task() and not task.done():
                task.cancel()

    async def hang_up(self, reason: str = "shutdown") -> None:
        """End a live call from our side (shutdown); the case is still filed."""
        await self.finish(reason)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log_event(
                log, "call task failed", logging.ERROR, call_id=self.call_id, error=repr(task.exception())
            )


async def _quietly(request: Awaitable[Any], call_id: str, what: str) -> None:
    """Cleanup requests: a channel or bridge that is already gone is the expected case."""
    try:
        await request
    except (ChannelGone, BridgeGone):
        pass
    except AriError as exc:
        log_event(log, f"{what} failed", logging.WARNING, call_id=call_id, error=str(exc))
