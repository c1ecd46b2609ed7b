"""The test softphone: one SIP call from this machine, scripted caller turns, the far end recorded.

Owns `Softphone` (the pjsua2 library's lifetime: created, started, and always destroyed),
`SipTarget`/`parse_sip_uri` (what `kayako-voice dial` accepts), `VoiceActivity` (when the far
end speaks and when it has gone quiet) and the per-turn results `TurnAudio` / `CallAudio`.

Facts it relies on:
- pjsua2 (PyPI `pjsua2-python` 2.15) allows one library instance per process and runs its own
  media clock thread. SIP work is polled from the calling thread (`threadCnt = 0`,
  `mainThreadOnly`), so call callbacks run here; only the audio port's two frame callbacks run
  on the media clock thread, which the binding enters with the GIL held. `libDestroy` waits
  about 1 s for calls to hang up; `Softphone` calls it on every exit path, or the process
  keeps pjsua2's threads and never exits.
- That wheel's build accepts at most 4 simultaneous calls (`maxCalls = 4`); we place one.
- No sound card: the null audio device clocks the conference bridge. One `AudioMediaPort` at
  16 kHz mono, 20 ms frames (640 bytes), is both our microphone (it plays the turn's PCM, then
  silence) and our loudspeaker (every frame the far end sends, stamped with the monotonic
  clock as it arrives). The bridge resamples to whatever codec the far end picked (PCMU with
  SIPp), so the recording is 16 kHz int16, the STT's own format.
- A frame is voiced when its RMS is at least -40 dBFS (G.711 silence decodes to 0, comfort
  noise sits near -60 dBFS, telephone speech at -30 to -15 dBFS); a reply starts at the first
  of 2 voiced frames in a row (one click is not speech) and is over after 0.8 s without one.
  Voice that the far end sends during our last 300 ms counts as its reply (SIPp's -rtp_echo
  returns our speech ~100 ms late; our synthesized speech fades below the floor before its end).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ari_app.logs import log_event

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2  # 640: 20 ms of 16 kHz int16 mono
VOICED_DBFS = -40.0
ONSET_FRAMES = 2
QUIET_S = 0.8
ECHO_TAIL_S = 0.3  # far-end voice heard in our last 300 ms counts as its reply (an echo ends with us)
MAX_CALLS = 4  # what the pjsua2-python wheel's build accepts
HANGUP_WAIT_S = 3.0
_POLL_MS = 10

_URI = re.compile(
    r"""^sip:
        (?:(?P<user>[A-Za-z0-9\-_.!~*'()&=+$,%]+)@)?
        (?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?)
        (?::(?P<port>[0-9]{1,5}))?
        (?P<params>(?:;[A-Za-z0-9\-_.!~*'()%]+(?:=[A-Za-z0-9\-_.!~*'()%]+)?)*)$""",
    re.VERBOSE | re.IGNORECASE,
)


class SipUriError(ValueError):
    """The text is not a SIP URI this softphone can dial."""


class SoftphoneUnavailableError(RuntimeError):
    """pjsua2 is not installed (the `softphone` extra)."""


class CallFailedError(RuntimeError):
    """The call could not be set up, or dropped before the script was done; the message says why."""


@dataclass(frozen=True)
class SipTarget:
    uri: str
    user: str
    host: str
    port: int  # 0: the default (5060, or what DNS says)

    @property
    def is_loopback(self) -> bool:
        host = self.host.strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def parse_sip_uri(text: str) -> SipTarget:
    """`sip:EXT@HOST[:PORT][;params]` -> SipTarget; anything else raises SipUriError saying why."""
    raw = text.strip()
    if raw.lower().startswith("sips:"):
        raise SipUriError(f"{text!r}: sips: (SIP over TLS) is not supported by this softphone; use sip:")
    if not raw.lower().startswith("sip:"):
        raise SipUriError(
            f"{text!r} is not a SIP URI: it must start with 'sip:' (e.g. sip:100@pbx.example:5060)"
        )
    match = _URI.match(raw)
    if match is None:
        raise SipUriError(f"{text!r} is not a SIP URI of the form sip:EXT@HOST[:PORT]")
    host = match.group("host")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError as exc:
            raise SipUriError(f"{text!r}: {host} is not an IPv6 address") from exc
    elif re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError as exc:
            raise SipUriError(f"{text!r}: {host} is not an IPv4 address") from exc
    port = int(match.group("port") or 0)
    if match.group("port") is not None and not 1 <= port <= 65535:
        raise SipUriError(f"{text!r}: port {port} is outside 1-65535")
    return SipTarget(uri=match.group(0), user=match.group("user") or "", host=host, port=port)


def frame_dbfs(frame: bytes) -> float:
    """RMS level of one int16 LE frame in dBFS (-120 for digital silence)."""
    samples = np.frombuffer(frame[: len(frame) // 2 * 2], dtype="<i2")
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) / 32768.0
    return 20.0 * np.log10(rms) if rms > 1e-6 else -120.0


class VoiceActivity:
    """Follows the far end's frames: when its speech started, when it was last heard."""

    def __init__(self, floor_dbfs: float = VOICED_DBFS, onset_frames: int = ONSET_FRAMES) -> None:
        self.floor_dbfs = floor_dbfs
        self.onset_frames = onset_frames
        self._run: list[float] = []  # arrival times of the current run of voiced frames
        self.voiced_times: list[float] = []  # start time of each voiced frame in a counted run
        self.first_voiced: float | None = None
        self.last_voiced: float | None = None

    def feed(self, at: float, frame: bytes) -> bool:
        """One received frame that arrived at `at` (end of the frame); True if it is voiced."""
        start = at - FRAME_MS / 1000
        if frame_dbfs(frame) < self.floor_dbfs:
            self._run.clear()
            return False
        self._run.append(start)
        if len(self._run) == self.onset_frames:
            self.voiced_times.extend(self._run)
            if self.first_voiced is None:
                self.first_voiced = self._run[0]
        elif len(self._run) > self.onset_frames:
            self.voiced_times.append(start)
        if len(self._run) >= self.onset_frames:
            self.last_voiced = at
        return True

    def first_voiced_after(self, t: float) -> float | None:
        for v in self.voiced_times:
            if v >= t:
                return v
        return None

    def quiet_for(self, now: float) -> float | None:
        """Seconds since voiced audio was last heard; None if none was heard yet."""
        return None if self.last_voiced is None else now - self.last_voiced


@dataclass(frozen=True)
class TurnAudio:
    """One turn as heard on the line; times are seconds from the start of `far_pcm`."""

    said: str  # "" for the far end's greeting
    far_pcm: bytes  # 16 kHz int16 LE, everything the far end sent during the turn
    speech_end_s: float  # when our speech ended (0 for the greeting: we said nothing)
    # first voiced far-end audio at/after the end of our speech, minus that end; negative when
    # the far end spoke over us and stopped with us (an echo): then its first voiced frame
    response_s: float | None
    overlapped: bool  # the far end was voiced while we spoke (echo, or it talked over us)
    replied: bool  # the far end said something and went quiet before the timeout


@dataclass(frozen=True)
class CallAudio:
    connect_s: float
    greeting: TurnAudio | None
    turns: tuple[TurnAudio, ...]
    ended_by: str  # "us" | "remote"
    remote_status: str  # e.g. "200 OK" or the reason the far end gave when it hung up


@dataclass(frozen=True)
class DialOptions:
    timeout_s: float = 10.0  # answer, and the start of each reply
    greeting_wait_s: float = 3.0  # kayako-voice greets within ~0.5 s of answering (pre-synthesized)
    quiet_s: float = QUIET_S
    max_reply_s: float = 30.0
    floor_dbfs: float = VOICED_DBFS
    local_port: int = 0  # SIP UDP port; 0: any free one
    local_host: str = ""  # bind address; "" means 127.0.0.1 for a loopback target, else all
    user_agent: str = "kayako-voice dial"
    pj_log_level: int = 1  # pjsip's own log (errors only) goes to this module's logger


@dataclass
class _Segment:
    started: float
    pcm: bytearray = field(default_factory=bytearray)
    activity: VoiceActivity = field(default_factory=VoiceActivity)


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _import_pjsua2() -> Any:
    try:
        import pjsua2
    except ImportError as exc:
        raise SoftphoneUnavailableError(
            "the softphone needs pjsua2: pip install 'kayako-voice[softphone]' (PyPI pjsua2-python)"
        ) from exc
    return pjsua2


@functools.cache
def _make_classes(pj: Any) -> tuple[type, type, type]:
    """pjsua2's director classes, built once pjsua2 is importable."""

    class LineAudio(pj.AudioMediaPort):  # type: ignore[misc,name-defined]
        """Our side of the line: plays queued PCM, records the far end (media clock thread)."""

        def __init__(self, floor_dbfs: float) -> None:
            super().__init__()
            self.floor_dbfs = floor_dbfs
            self._lock = threading.Lock()
            self._out = b""
            self._pos = 0
            self.played_until: float | None = None
            self.segment = _Segment(time.monotonic(), activity=VoiceActivity(floor_dbfs))
            self.callback_errors = 0

        def play(self, pcm: bytes) -> None:
            with self._lock:
                self._out = pcm
                self._pos = 0
                self.played_until = None

        def new_segment(self) -> _Segment:
            with self._lock:
                self.segment = _Segment(time.monotonic(), activity=VoiceActivity(self.floor_dbfs))
                return self.segment

        def onFrameRequested(self, frame: Any) -> None:  # noqa: N802 (pjsua2's name)
            try:
                with self._lock:
                    chunk = self._out[self._pos : self._pos + FRAME_BYTES]
                    if chunk:
                        self._pos += len(chunk)
                        if self._pos >= len(self._out):
                            self.played_until = time.monotonic() + len(chunk) / (SAMPLE_RATE * 2)
                chunk = chunk.ljust(FRAME_BYTES, b"\0")
                frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
                frame.buf = pj.ByteVector(chunk)
                frame.size = FRAME_BYTES
            except Exception:  # media thread: never let an error escape into pjmedia
                self.callback_errors += 1
                if self.callback_errors == 1:
                    logger.exception("softphone: playing a frame failed")

        def onFrameReceived(self, frame: Any) -> None:  # noqa: N802 (pjsua2's name)
            try:
                now = time.monotonic()
                data = bytes(frame.buf) if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO else b""
                data = data[:FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
                with self._lock:
                    self.segment.pcm += data
                    self.segment.activity.feed(now, data)
            except Exception:
                self.callback_errors += 1
                if self.callback_errors == 1:
                    logger.exception("softphone: recording a frame failed")

    class OutboundCall(pj.Call):  # type: ignore[misc,name-defined]
        def __init__(self, account: Any, line: Any) -> None:
            super().__init__(account)
            self.line = line
            self.state = pj.PJSIP_INV_STATE_NULL
            self.status = ""
            self.media_up = False
            self.confirmed_at: float | None = None

        def onCallState(self, prm: Any) -> None:  # noqa: N802
            info = self.getInfo()
            self.state = info.state
            self.status = f"{info.lastStatusCode} {info.lastReason}".strip()
            if info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
                self.confirmed_at = time.monotonic()
            logger.debug("softphone call state %s (%s)", info.stateText, self.status)

        def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
            info = self.getInfo()
            for index, media in enumerate(info.media):
                if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    audio = self.getAudioMedia(index)
                    audio.startTransmit(self.line)
                    self.line.startTransmit(audio)
                    self.media_up = True

    class PjLog(pj.LogWriter):  # type: ignore[misc,name-defined]
        def write(self, entry: Any) -> None:
            logger.info("pjsip: %s", entry.msg.rstrip())

    return LineAudio, OutboundCall, PjLog


class Softphone:
    """One pjsua2 library instance: `with Softphone(options) as phone: phone.call(...)`."""

    def __init__(self, options: DialOptions | None = None) -> None:
        self.options = options or DialOptions()
        self._pj = _import_pjsua2()
        self._ep: Any = None
        self._account: Any = None
        self._line: Any = None
        self._log_writer: Any = None

    # -- library lifetime ------------------------------------------------------------------

    def open(self, bind_host: str) -> None:
        pj = self._pj
        line_cls, _, log_cls = _make_classes(pj)
        self._ep = pj.Endpoint()
        with _stdout_silenced():  # libCreate logs its start on stdout before any log config applies
            self._ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = MAX_CALLS
        cfg.uaConfig.userAgent = self.options.user_agent
        self._log_writer = log_cls()
        cfg.logConfig.writer = self._log_writer
        cfg.logConfig.level = self.options.pj_log_level
        cfg.logConfig.consoleLevel = self.options.pj_log_level
        cfg.logConfig.msgLogging = 0
        cfg.medConfig.clockRate = SAMPLE_RATE
        cfg.medConfig.sndClockRate = SAMPLE_RATE
        cfg.medConfig.channelCount = 1
        cfg.medConfig.noVad = True  # keep sending silence frames: the far end's jitter buffer stays fed
        self._ep.libInit(cfg)
        transport = pj.TransportConfig()
        transport.port = self.options.local_port
        if bind_host:
            transport.boundAddress = bind_host
        try:
            self._ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        except pj.Error as exc:
            where = f"{bind_host or '*'}:{self.options.local_port or 'any'}"
            raise CallFailedError(f"cannot open a SIP UDP port on {where}: {exc.info()}") from exc
        self._ep.libStart()
        self._ep.audDevManager().setNullDev()
        account_cfg = pj.AccountConfig()
        account_cfg.idUri = f"sip:kayako-voice-dial@{bind_host or '127.0.0.1'}"
        account_cfg.regConfig.registrarUri = ""  # no registration: we only place a direct call
        account_cfg.regConfig.registerOnAdd = False
        if bind_host:
            account_cfg.mediaConfig.transportConfig.boundAddress = bind_host
        self._account = pj.Account()
        self._account.create(account_cfg)
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, SAMPLE_RATE, 1, FRAME_MS * 1000, 16)
        self._line = line_cls(self.options.floor_dbfs)
        self._line.createPort("kayako-voice-dial", fmt)

    def close(self) -> None:
        """Destroy the library (always; pjsua2's threads otherwise keep the process alive)."""
        if self._ep is None:
            return
        try:
            with contextlib.suppress(Exception):
                self._ep.hangupAllCalls()
            if self._account is not None:
                try:
                    self._account.shutdown()
                except self._pj.Error as exc:
                    logger.warning("softphone: account shutdown failed: %s", exc.info())
            self._line = None
            self._account = None
        finally:
            try:
                self._ep.libDestroy()
            except self._pj.Error as exc:
                logger.warning("softphone: libDestroy failed: %s", exc.info())
            self._ep = None

    def __enter__(self) -> Softphone:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the call ---------------------------------------------------------------------------

    def _pump(self, done: Callable[[], bool], seconds: float) -> bool:
        """Poll SIP events until done() or `seconds` pass; True if done."""
        deadline = time.monotonic() + seconds
        while not done():
            if time.monotonic() >= deadline:
                return False
            self._ep.libHandleEvents(_POLL_MS)
        return True

    def call(
        self,
        target: SipTarget,
        turns: Sequence[tuple[str, bytes]],
        on_turn: Callable[[TurnAudio], None] | None = None,
        call_id: str = "",
    ) -> CallAudio:
        """Dial, hear the greeting, speak each (text, 16 kHz PCM) turn and hear the reply, hang up.

        Raises CallFailedError when the call is not answered within the timeout, is refused,
        or the far end hangs up before every turn was spoken (turns so far are in the message)."""
        pj = self._pj
        opts = self.options
        bind = opts.local_host or ("127.0.0.1" if target.is_loopback else "")
        if self._ep is None:
            self.open(bind)
        _, call_cls, _ = _make_classes(pj)
        call = call_cls(self._account, self._line)
        disconnected = pj.PJSIP_INV_STATE_DISCONNECTED
        started = time.monotonic()
        log_event(logger, "softphone dialing", call_id=call_id, uri=target.uri)
        try:
            call.makeCall(target.uri, pj.CallOpParam(True))
        except pj.Error as exc:
            raise CallFailedError(f"cannot call {target.uri}: {exc.info()}") from exc
        try:
            answered = self._pump(
                lambda: call.state == disconnected or (call.confirmed_at is not None and call.media_up),
                opts.timeout_s,
            )
            if call.state == disconnected:
                raise CallFailedError(f"{target.uri} did not answer: {call.status or 'no response'}")
            if not answered:
                raise CallFailedError(
                    f"{target.uri} did not answer within {opts.timeout_s:g} s"
                    + (
                        f" (last response: {call.status})"
                        if call.status and not call.status.startswith("0")
                        else ""
                    )
                )
            connect_s = time.monotonic() - started
            log_event(logger, "softphone connected", call_id=call_id, connect_s=round(connect_s, 3))

            greeting = self._listen(call, "", b"", opts.greeting_wait_s)
            if greeting is not None and on_turn is not None:
                on_turn(greeting)
            heard: list[TurnAudio] = []
            for index, (text, pcm) in enumerate(turns):
                if call.state == disconnected:
                    raise CallFailedError(
                        f"{target.uri} hung up ({call.status}) before turn {index + 1} of {len(turns)}"
                    )
                turn = self._listen(call, text, pcm, opts.timeout_s)
                assert turn is not None
                heard.append(turn)
                if on_turn is not None:
                    on_turn(turn)
            ended_by = "remote" if call.state == disconnected else "us"
            remote_status = call.status
        finally:
            if call.state != disconnected:
                try:
                    call.hangup(pj.CallOpParam(True))
                except pj.Error as exc:
                    logger.warning("softphone: hangup failed: %s", exc.info())
                if not self._pump(lambda: call.state == disconnected, HANGUP_WAIT_S):
                    logger.warning("softphone: no answer to our BYE within %s s", HANGUP_WAIT_S)
            log_event(logger, "softphone call ended", call_id=call_id, status=call.status)
            # the Call must be freed while the library lives: an exception's traceback would
            # otherwise keep it until after libDestroy, and its destructor then aborts pjsua
            call = None
        return CallAudio(
            connect_s=connect_s,
            greeting=greeting,
            turns=tuple(heard),
            ended_by=ended_by,
            remote_status=remote_status,
        )

    def _listen(self, call: Any, text: str, pcm: bytes, start_timeout_s: float) -> TurnAudio | None:
        """Speak `pcm` (may be empty), then wait for the far end's reply to start and go quiet.

        For the greeting (no pcm) None means the far end said nothing within the wait."""
        opts = self.options
        line = self._line
        disconnected = self._pj.PJSIP_INV_STATE_DISCONNECTED
        segment = line.new_segment()
        if pcm:
            line.play(pcm)
            self._pump(lambda: line.played_until is not None or call.state == disconnected, 3600)
            speech_end = line.played_until or time.monotonic()
            self._pump(lambda: time.monotonic() >= speech_end or call.state == disconnected, 1.0)
        else:
            speech_end = segment.started
        act = segment.activity

        def reply_over() -> bool:
            now = time.monotonic()
            if call.state == disconnected or now - speech_end >= opts.max_reply_s:
                return True
            after = act.last_voiced is not None and act.last_voiced >= speech_end - ECHO_TAIL_S
            if not after:
                return now - speech_end >= start_timeout_s  # nothing (new) within the wait
            quiet = act.quiet_for(now)
            return quiet is not None and quiet >= opts.quiet_s

        self._pump(reply_over, opts.max_reply_s + 1)
        with line._lock:
            far = bytes(segment.pcm)
            first_after = act.first_voiced_after(speech_end)
            overlapped = bool(pcm) and act.first_voiced is not None and act.first_voiced < speech_end
            replied = act.last_voiced is not None and act.last_voiced >= speech_end - ECHO_TAIL_S
            if first_after is None and overlapped and replied:
                first_after = act.first_voiced  # it spoke over us and stopped with us: an echo
        if not pcm and not replied:
            return None
        return TurnAudio(
            said=text,
            far_pcm=far,
            speech_end_s=max(0.0, speech_end - segment.started),
            response_s=None if first_after is None else first_after - speech_end,
            overlapped=overlapped,
            replied=replied,
        )
