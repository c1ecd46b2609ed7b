"""Simulated phone legs inside the Asterisk test double: the caller (`SimCall`) and a dialled
agent (`AgentLeg`), plus `SimChannel`, the double's record of one Asterisk channel.

Owns what a test does to a call (speak, press DTMF, hang up, vanish) and what it can assert
(audio the app sent back with arrival times, answered, bridged, continued in the dialplan,
played media, originate variables and SIP headers).

Facts: audio is 16 kHz 16-bit little-endian mono PCM; the media peer takes one 640-byte frame
per 20 ms while the caller is bridged with an externalMedia channel; Asterisk's hang-up order
for a caller who hangs up is ChannelHangupRequest, (ChannelLeftBridge), StasisEnd,
ChannelDestroyed; Q.850 causes 16 normal, 17 busy, 19 no answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ari_app.ari.double.media_peer import FRAME_BYTES_16K, MediaPeer, ReceivedPacket

if TYPE_CHECKING:
    from ari_app.ari.double.asterisk_double import AsteriskDouble

logger = logging.getLogger(__name__)

HANGUP_ORDER = ("ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")
_SIP_HEADER_VAR = re.compile(r"^PJSIP_HEADER\(add,([^)]+)\)$")

AudioScript = bytes | Sequence[tuple[bytes, float]] | Callable[["SimCall"], Awaitable[None]] | None


@dataclass
class SimChannel:
    """The double's state for one channel; `to_json()` is the ARI Channel model."""

    id: str
    name: str
    kind: str  # "caller" | "external_media" | "originated"
    app: str
    state: str
    caller_name: str
    caller_number: str
    creationtime: str
    context: str = "from-trunk"
    exten: str = "s"
    priority: int = 1
    app_name: str = "Stasis"
    app_data: str = ""
    connected_name: str = ""
    connected_number: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    in_stasis: bool = False
    subscribed: bool = False  # the app gets this channel's events
    bridge_id: str | None = None
    media: MediaPeer | None = None
    media_format: str = ""
    sim: SimCall | None = None
    stasis_args: list[str] = field(default_factory=list)
    protocol_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": self.protocol_id,
            "caller": {"name": self.caller_name, "number": self.caller_number},
            "connected": {"name": self.connected_name, "number": self.connected_number},
            "accountcode": "",
            "dialplan": {
                "context": self.context,
                "exten": self.exten,
                "priority": self.priority,
                "app_name": self.app_name,
                "app_data": self.app_data,
            },
            "creationtime": self.creationtime,
            "language": "en",
        }


@dataclass(frozen=True)
class Continued:
    context: str
    extension: str
    priority: int


class SimCall:
    """One simulated phone leg the test drives (created by `AsteriskDouble.place_call`)."""

    def __init__(self, double: AsteriskDouble, channel: SimChannel, audio: AudioScript = None) -> None:
        self.double = double
        self.channel = channel
        self._script = audio
        self._script_task: asyncio.Task[None] | None = None
        self._out = bytearray()
        self._enqueued = 0
        self._sent = 0
        self._pending: list[tuple[int, asyncio.Future[None]]] = []
        self.received_packets: list[ReceivedPacket] = []
        self.max_packets = 50 * 600  # bounded: 10 minutes of 20 ms packets
        self.dropped_packets = 0
        self.voiced_threshold = 500.0  # RMS of a 20 ms frame that counts as agent speech
        self._last_voiced: float | None = None
        self._packet_event = asyncio.Event()
        self.media_started = asyncio.Event()
        self.gone = False
        self.destroyed = asyncio.Event()
        self.continued_to: Continued | None = None
        self.redirected_to: str | None = None
        self.played: list[str] = []
        self.rings = 0
        self.hangup_cause: int | None = None
        self.speech_frames_sent = 0

    # ---- state ----------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.channel.id

    @property
    def state(self) -> str:
        return self.channel.state

    @property
    def answered(self) -> bool:
        return self.channel.state == "Up"

    @property
    def in_stasis(self) -> bool:
        return self.channel.in_stasis and not self.gone

    @property
    def bridged(self) -> bool:
        return self.channel.bridge_id is not None and not self.gone

    @property
    def variables(self) -> dict[str, str]:
        return dict(self.channel.variables)

    # ---- audio to the app -----------------------------------------------------------------

    def say(self, pcm16k: bytes) -> asyncio.Future[None]:
        """Queue caller speech (16 kHz LE PCM); the future resolves once its last frame is sent."""
        if len(pcm16k) % 2:
            raise ValueError("PCM must have an even number of bytes (16-bit samples)")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._out.extend(pcm16k)
        self._enqueued += len(pcm16k)
        self._pending.append((self._enqueued, future))
        if not pcm16k:
            self._resolve_sent()
        return future

    @property
    def speaking(self) -> bool:
        return len(self._out) > 0

    def next_frame(self) -> bytes | None:
        """Called by the media peer every 20 ms: the next frame of speech, or None (silence)."""
        if not self._out:
            return None
        frame = bytes(self._out[:FRAME_BYTES_16K])
        del self._out[:FRAME_BYTES_16K]
        self._sent += len(frame)
        self.speech_frames_sent += 1
        self._resolve_sent()
        return frame

    def _resolve_sent(self) -> None:
        keep = []
        for end, future in self._pending:
            if end <= self._sent:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((end, future))
        self._pending = keep

    def _media_started(self) -> None:
        if self.media_started.is_set():
            return
        self.media_started.set()
        script = self._script
        if script is None:
            return
        if isinstance(script, bytes | bytearray):
            self.say(bytes(script))
        elif callable(script):
            self._script_task = asyncio.create_task(self._run_script(script(self)))
        else:
            self._script_task = asyncio.create_task(self._run_script(self._play_list(list(script))))

    async def _play_list(self, items: list[tuple[bytes, float]]) -> None:
        for pcm, pause_s in items:
            await self.say(pcm)
            await asyncio.sleep(pause_s)

    async def _run_script(self, coro: Awaitable[None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("caller audio script failed", extra={"call_id": self.id})
            self.double.errors.append(f"audio script of {self.id} failed")

    # ---- audio from the app ---------------------------------------------------------------

    def _on_packet(self, packet: ReceivedPacket) -> None:
        if len(self.received_packets) >= self.max_packets:
            self.dropped_packets += 1
            return
        self.received_packets.append(packet)
        if packet.pcm16k:
            samples = np.frombuffer(packet.pcm16k, dtype="<i2").astype(np.float64)
            if samples.size and float(np.sqrt(np.mean(samples * samples))) >= self.voiced_threshold:
                self._last_voiced = packet.arrival_s
        self._packet_event.set()

    def received_audio(self) -> bytes:
        """Everything the app sent, decoded to 16 kHz LE PCM, in arrival order."""
        return b"".join(p.pcm16k for p in self.received_packets)

    async def wait_received(self, seconds: float, timeout: float = 3.0) -> None:
        """Wait until the app has sent at least `seconds` of audio."""
        needed = int(seconds * 16000 * 2)

        async def _wait() -> None:
            while sum(len(p.pcm16k) for p in self.received_packets) < needed:
                self._packet_event.clear()
                await self._packet_event.wait()

        await asyncio.wait_for(_wait(), timeout)

    async def wait_agent_quiet(self, quiet_s: float = 0.4, timeout: float = 5.0) -> None:
        """Wait until the app has spoken (voiced packets) and then been quiet for `quiet_s`."""

        async def _wait() -> None:
            while True:
                last = self._last_voiced
                now = time.monotonic()
                if last is not None and now - last >= quiet_s:
                    return
                await asyncio.sleep(0.02)

        await asyncio.wait_for(_wait(), timeout)

    # ---- signalling -----------------------------------------------------------------------

    async def press(self, digit: str, duration_ms: int = 120) -> None:
        """The caller presses a DTMF key: ChannelDtmfReceived."""
        if digit not in "0123456789ABCDE#*" or len(digit) != 1:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        if self.gone:
            raise RuntimeError(f"channel {self.id} is gone")
        await self.double._emit_channel_event(
            "ChannelDtmfReceived", self.channel, digit=digit, duration_ms=duration_ms
        )

    async def hangup(
        self, cause: int = 16, order: Sequence[str] = HANGUP_ORDER, duplicate: bool = False
    ) -> None:
        """The caller hangs up. `order`/`duplicate` produce unusual event sequences on purpose."""
        await self.double._far_end_hangup(self, cause, tuple(order), duplicate)

    async def vanish(self) -> None:
        """The channel disappears mid-call: only ChannelDestroyed, no hangup request, no StasisEnd."""
        await self.double._far_end_hangup(self, 38, ("ChannelDestroyed",), False)

    def _mark_gone(self, cause: int | None) -> None:
        self.gone = True
        self.hangup_cause = cause
        if self._script_task is not None:
            self._script_task.cancel()
        for _, future in self._pending:
            if not future.done():
                future.cancel()
        self._pending.clear()
        self.destroyed.set()

    async def wait_gone(self, timeout: float = 3.0) -> None:
        await asyncio.wait_for(self.destroyed.wait(), timeout)

    async def aclose(self) -> None:
        if self._script_task is not None:
            self._script_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._script_task


class AgentLeg(SimCall):
    """A channel the app originated (live-agent transfer); the test decides how it ends."""

    def __init__(
        self,
        double: AsteriskDouble,
        channel: SimChannel,
        endpoint: str,
        variables: dict[str, str],
        app_args: list[str],
        timeout_s: int,
    ) -> None:
        super().__init__(double, channel)
        self.endpoint = endpoint
        self.originate_variables = dict(variables)
        self.app_args = list(app_args)
        self.timeout_s = timeout_s
        self.outcome: str | None = None  # "answer" | "busy" | "no_answer"
        self.claimed = False  # handed to a test by AsteriskDouble.next_agent_leg
        self._timeout_task: asyncio.Task[None] | None = None

    @property
    def sip_headers(self) -> dict[str, str]:
        """Headers requested with `PJSIP_HEADER(add,<name>)` originate variables."""
        out = {}
        for key, value in self.originate_variables.items():
            match = _SIP_HEADER_VAR.match(key)
            if match:
                out[match.group(1)] = value
        return out

    def _decide(self, outcome: str) -> bool:
        if self.outcome is not None or self.gone:
            return False
        self.outcome = outcome
        if self._timeout_task is not None and self._timeout_task is not asyncio.current_task():
            self._timeout_task.cancel()
        return True

    async def answer(self) -> None:
        """The agent picks up: ChannelStateChange(Up), Dial ANSWER, StasisStart(appArgs)."""
        if self._decide("answer"):
            await self.double._agent_answer(self)

    async def busy(self) -> None:
        """The agent's phone is busy: Dial BUSY, ChannelDestroyed cause 17."""
        if self._decide("busy"):
            await self.double._agent_fail(self, "BUSY", 17)

    async def no_answer(self) -> None:
        """Nobody picks up: Dial NOANSWER, ChannelDestroyed cause 19."""
        if self._decide("no_answer"):
            await self.double._agent_fail(self, "NOANSWER", 19)
