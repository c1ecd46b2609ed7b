"""Voice evaluation: scripted calls over real RTP on 127.0.0.1 through a real `VoiceSession`.

Owns `ScriptedCaller` (a plain asyncio UDP peer that plays the caller: paced 20 ms RTP,
continuous like Asterisk's, silent frames between turns; it records the agent's audio),
`run_voice_call`, the barge-in check and `evaluate_calls_voice`, whose report has the keys of
the text-mode `evaluate_calls` plus latency, WER and barge-in.

Measurement rules:
- Latency per turn (the session's view, DESIGN.md): first agent frame sent minus last voiced
  caller frame received. Cross-check (the peer's view): last voiced caller frame sent -> first
  agent packet louder than -60 dBFS received (comfort noise is about -78 dBFS).
- The caller is polite: after a turn it waits for the agent's audio, then until the agent has
  been quiet for 0.3-0.7 s (seeded), before its next turn. "[silence]" turns send only silence
  until the agent speaks again (the silence timeout).
- WER: every STT text the session produced while the caller was on script turn i is joined and
  scored against turn i's reference text (media.wer normalisation, corpus WER).
- Barge-in check: the caller talks over a long answer ~1 s after it starts; OK when the
  session detects it, no frame of the interrupted reply is sent after detection (the next slot
  is comfort noise), the peer hears the agent stop within 40 ms of detection (one frame plus
  loopback), and the dialogue records the interruption.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ari_app.caller_voice import CallerUtterance, CallerVoice
from ari_app.evaluation import SILENCE_TURN, percentile, score_call
from ari_app.logs import log_event
from ari_app.settings import Settings
from ari_app.voice_session import SpeechServices, VoiceOptions, VoiceSession
from media.codecs import Codec, codec_for
from media.frames import FRAME_BYTES
from media.rtp import RtpError, RtpPacket, build_rtp, parse_rtp
from media.turns import TurnSettings, frame_dbfs
from media.wer import corpus_wer
from nlu.case import CaseDraft
from nlu.case_composer import main_article_id
from nlu.dialogue import KnowledgeBase

log = logging.getLogger("kayako_voice.voice_eval")

AGENT_VOICE_DBFS = -60.0
SILENCE_FRAME = bytes(FRAME_BYTES)
AGENT_REPLY_TIMEOUT_S = 20.0


@dataclass
class _TurnMark:
    index: int
    speech_end: float  # monotonic time the last voiced caller frame was sent
    first_agent: float | None = None


class ScriptedCaller(asyncio.DatagramProtocol):
    """The caller's side of the call: one UDP socket, one RTP stream out, the agent's audio in."""

    def __init__(self, codec: Codec, target: tuple[str, int]) -> None:
        self.codec = codec
        self.rx_codec = codec_for(codec.name, codec.payload_type)
        self.target = target
        self._queue: list[bytes] = []
        self._transport: asyncio.DatagramTransport | None = None
        self._task: asyncio.Task[None] | None = None
        self._seq = random.randrange(1 << 16)
        self._ts = random.randrange(1 << 32)
        self._ssrc = random.randrange(1 << 32)
        self.agent_voiced_at: list[float] = []  # receive time of every agent packet with voice
        self.agent_audio = bytearray()
        self.max_agent_audio_bytes = 64 * 32000  # keep at most 64 s of agent audio
        self.last_agent_voice = 0.0
        self.marks: list[_TurnMark] = []
        self._speech_done: asyncio.Event | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self._task = asyncio.create_task(self._send_loop(), name="scripted-caller")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        now = time.monotonic()
        try:
            packet = parse_rtp(data)
        except RtpError:
            return
        try:
            pcm = self.rx_codec.decode(packet.payload)
        except ValueError:
            return
        if len(self.agent_audio) < self.max_agent_audio_bytes:
            self.agent_audio += pcm
        # voiced or not by the samples on the wire: the 8 kHz -> 16 kHz resampler would shift it
        if frame_dbfs(self.rx_codec.wire_pcm(packet.payload)) > AGENT_VOICE_DBFS:
            self.agent_voiced_at.append(now)
            self.last_agent_voice = now
            for mark in self.marks:
                if mark.first_agent is None and now > mark.speech_end:
                    mark.first_agent = now

    async def _send_loop(self) -> None:
        next_at = time.monotonic()
        while True:
            pcm = self._queue.pop(0) if self._queue else SILENCE_FRAME
            payload = self.codec.encode(pcm)
            data = build_rtp(RtpPacket(self.codec.payload_type, self._seq, self._ts, self._ssrc, payload))
            self._seq = (self._seq + 1) & 0xFFFF
            self._ts = (self._ts + self.codec.frame_wire_samples) & 0xFFFFFFFF
            if self._transport is not None:
                self._transport.sendto(data, self.target)
            if pcm is not SILENCE_FRAME and not self._queue and self._speech_done is not None:
                self._speech_done.set()
            next_at += 0.02
            delay = next_at - time.monotonic()
            if delay < -0.2:  # starved for long: restart the clock rather than burst
                next_at = time.monotonic()
                delay = 0.0
            await asyncio.sleep(max(0.0, delay))

    async def say(self, pcm: bytes, index: int) -> float:
        """Send one turn (paced); returns the monotonic time its last frame was sent."""
        frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
        if frames and len(frames[-1]) < FRAME_BYTES:
            frames[-1] = frames[-1] + bytes(FRAME_BYTES - len(frames[-1]))
        # the last voiced frame: trailing near-silence does not count
        last_voiced = max((i for i, f in enumerate(frames) if frame_dbfs(f) > -45.0), default=len(frames) - 1)
        frames = frames[: last_voiced + 1]
        self._speech_done = asyncio.Event()
        self._queue.extend(frames)
        await self._speech_done.wait()
        self._speech_done = None
        end = time.monotonic()
        self.marks.append(_TurnMark(index=index, speech_end=end))
        return end

    async def wait_agent(self, since: float, timeout_s: float, quiet_s: float) -> bool:
        """Wait for agent audio after `since`, then for `quiet_s` of quiet; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self.last_agent_voice <= since:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        while time.monotonic() - self.last_agent_voice < quiet_s:
            if time.monotonic() > deadline + 60:
                return False
            await asyncio.sleep(0.02)
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._transport is not None:
            self._transport.close()


@dataclass
class VoiceCallRun:
    call_id: str
    cases: list[CaseDraft] = field(default_factory=list)
    article_id: int | None = None
    latencies_ms: list[float] = field(default_factory=list)
    peer_latencies_ms: list[float] = field(default_factory=list)
    first_audio_cached_ms: list[float] = field(default_factory=list)
    stt_pairs: list[tuple[str, str]] = field(default_factory=list)
    agent_texts: list[str] = field(default_factory=list)
    caller_texts: list[str] = field(default_factory=list)
    agent_audio_s: float = 0.0
    ended_by: str = ""
    timings: list[dict[str, Any]] = field(default_factory=list)


def eval_turn_settings(settings: Settings) -> TurnSettings:
    m = settings.media
    return TurnSettings(
        preroll_ms=m.preroll_ms,
        end_of_turn_ms=m.end_of_turn_ms,
        min_end_of_turn_ms=m.min_end_of_turn_ms,
        max_turn_s=m.max_turn_s,
        barge_in_ms=m.barge_in_ms,
    )


async def run_voice_call(
    services: SpeechServices,
    kb: KnowledgeBase,
    call: dict[str, Any],
    voice: CallerVoice,
    options: VoiceOptions,
    seed: int = 1,
    after_session: Callable[[VoiceSession, ScriptedCaller], None] | None = None,
) -> VoiceCallRun:
    """Play one scripted call against a fresh VoiceSession; everything on 127.0.0.1."""
    rng = random.Random(seed)
    run = VoiceCallRun(call_id=options.call_id)
    turns = [str(t) for t in call.get("turns", [])]
    spoken: dict[int, CallerUtterance] = {
        i: voice.speak(t) for i, t in enumerate(turns) if t.strip().lower() != SILENCE_TURN
    }
    current = [-1]
    heard: dict[int, list[str]] = {}

    def on_turn(speaker: str, at: float, text: str, timing: Any) -> None:
        if speaker == "caller":
            heard.setdefault(current[0], []).append(text)

    session = VoiceSession(services, kb, options, on_case=run.cases.append, on_turn=on_turn)
    host, port = await session.start()
    peer = ScriptedCaller(codec_for(options.codec, options.payload_type), (host, port))
    await peer.start()
    if after_session is not None:
        after_session(session, peer)
    try:
        await asyncio.sleep(0.1)  # the endpoint learns the peer from its first packets
        session.begin(caller_number=str(call.get("caller_number") or ""))
        await peer.wait_agent(0.0, AGENT_REPLY_TIMEOUT_S, rng.uniform(0.3, 0.7))
        for i, _turn in enumerate(turns):
            if session.ended.is_set() or session.dialogue.ended:
                break
            current[0] = i
            if i not in spoken:  # "[silence]": say nothing until the agent re-prompts
                since = time.monotonic()
                await peer.wait_agent(since, options.silence_timeout_s * 4 + 10, rng.uniform(0.3, 0.7))
                continue
            end = await peer.say(spoken[i].pcm, i)
            await peer.wait_agent(end, AGENT_REPLY_TIMEOUT_S, rng.uniform(0.3, 0.7))
        if not session.ended.is_set():
            await asyncio.sleep(0.3)
            session.caller_hung_up()
            run.ended_by = "caller"
        else:
            run.ended_by = "agent"
        for i, utterance in spoken.items():
            run.stt_pairs.append((utterance.reference, " ".join(heard.get(i, []))))
        for rec in session.records:
            if rec.caller_text:
                run.caller_texts.append(rec.caller_text)
            if rec.agent_text:
                run.agent_texts.append(rec.agent_text)
            if rec.timing.latency_ms is not None and rec.caller_text:
                run.latencies_ms.append(rec.timing.latency_ms)
                run.timings.append(
                    dict(vars(rec.timing), first_audio_ms=rec.first_audio_ms, cached=rec.cached)
                )
                if rec.cached and rec.first_audio_ms is not None:
                    run.first_audio_cached_ms.append(rec.first_audio_ms)
        for mark in peer.marks:
            if mark.first_agent is not None:
                run.peer_latencies_ms.append(round((mark.first_agent - mark.speech_end) * 1000, 1))
        run.article_id = main_article_id(session.dialogue)
        run.agent_audio_s = len(peer.agent_voiced_at) * 0.02
    finally:
        await session.close()
        await peer.close()
    return run


@dataclass(frozen=True)
class BargeInCheck:
    ok: bool
    detected: bool
    frames_after_detection: int
    peer_stop_ms: float | None  # detection -> last agent packet of the interrupted reply heard
    dialogue_saw_it: bool
    detail: str


async def check_barge_in(
    services: SpeechServices, kb: KnowledgeBase, voice: CallerVoice, options: VoiceOptions
) -> BargeInCheck:
    """Ask a question with a long answer, talk over the answer ~1 s in, check the agent stops."""
    session = VoiceSession(services, kb, options)
    host, port = await session.start()
    peer = ScriptedCaller(codec_for(options.codec, options.payload_type), (host, port))
    await peer.start()
    question = voice.speak("Hi, how do I set up single sign on with okta for my team?")
    interruption = voice.speak("Sorry, wait, actually I just need to talk to a person please.")
    try:
        await asyncio.sleep(0.1)
        session.begin(caller_number="+15555550199")
        await peer.wait_agent(0.0, AGENT_REPLY_TIMEOUT_S, 0.4)
        end = await peer.say(question.pcm, 0)
        deadline = time.monotonic() + AGENT_REPLY_TIMEOUT_S
        while peer.last_agent_voice <= end and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.0)
        await peer.say(interruption.pcm, 1)
        await asyncio.sleep(1.5)
        detected = bool(session.barge_ins)
        if not detected:
            return BargeInCheck(False, False, 0, None, False, "no barge-in was detected")
        rec = session.barge_ins[0]
        reply_start = peer.marks[-1].speech_end  # anything after the caller stopped is a new reply
        heard = [t for t in peer.agent_voiced_at if rec.detected_at - 1.0 <= t < reply_start]
        stop_ms = round((max(heard) - rec.detected_at) * 1000, 1) if heard else None
        saw = any("[interrupted before" in t.text for t in session.dialogue.transcript)
        ok = rec.frames_after == 0 and (stop_ms is None or stop_ms <= 40.0) and saw
        detail = f"dropped {rec.dropped_frames} frames, {rec.frames_after} sent after detection"
        return BargeInCheck(ok, True, rec.frames_after, stop_ms, saw, detail)
    finally:
        await session.close()
        await peer.close()


def _row(call: dict[str, Any], run: VoiceCallRun) -> dict[str, Any]:
    return score_call(call, run.call_id, run.cases, run.article_id) | {
        "latency_ms": run.latencies_ms,
        "peer_latency_ms": run.peer_latencies_ms,
        "timings": run.timings,
        "stt": run.stt_pairs,
        "replies": run.agent_texts,
        "ended_by": run.ended_by,
    }


def load_average() -> list[float]:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return []


async def _evaluate(
    settings: Settings,
    kb: KnowledgeBase,
    calls: list[dict[str, Any]],
    services: SpeechServices,
    options: VoiceOptions,
    barge_in: bool,
) -> dict[str, Any]:
    voice = CallerVoice()
    runs: list[dict[str, Any]] = []
    all_runs: list[VoiceCallRun] = []
    loads = [load_average()]
    for n, call in enumerate(calls):
        opts = replace(options, call_id=str(call.get("id", f"call-{n}")))
        run = await run_voice_call(services, kb, call, voice, opts, seed=n + 1)
        all_runs.append(run)
        runs.append(_row(call, run))
        loads.append(load_average())
        log_event(
            log,
            "voice call evaluated",
            logging.INFO,
            call_id=run.call_id,
            outcome_ok=runs[-1]["outcome_ok"],
            latency_ms=run.latencies_ms,
        )
    check = (
        await check_barge_in(services, kb, voice, replace(options, call_id="barge-in-check"))
        if barge_in
        else None
    )
    latencies = [x for r in all_runs for x in r.latencies_ms]
    peer = [x for r in all_runs for x in r.peer_latencies_ms]
    cached = [x for r in all_runs for x in r.first_audio_cached_ms]
    pairs = [p for r in all_runs for p in r.stt_pairs]

    def share(key: str) -> float:
        return round(sum(bool(r[key]) for r in runs) / len(runs), 4) if runs else 0.0

    def pct(values: list[float], q: float) -> float | None:
        return round(percentile(values, q), 1) if values else None

    one_min = [x[0] for x in loads if x]
    return {
        "n": len(runs),
        "outcome_accuracy": share("outcome_ok"),
        "article_accuracy": share("article_ok"),
        "email_exact": share("email_ok"),
        "name_exact": share("name_ok"),
        "case_complete": share("case_complete"),
        "latency_p50_ms": pct(latencies, 0.5),
        "latency_p95_ms": pct(latencies, 0.95),
        "wer": round(corpus_wer(pairs), 4) if pairs else None,
        "barge_in_ok": check.ok if check is not None else None,
        "turns_measured": len(latencies),
        "peer_latency_p50_ms": pct(peer, 0.5),
        "peer_latency_p95_ms": pct(peer, 0.95),
        "cached_first_audio_p50_ms": pct(cached, 0.5),
        "cached_first_audio_max_ms": round(max(cached), 1) if cached else None,
        "barge_in": vars(check) if check is not None else None,
        "load_avg_1m_min": min(one_min) if one_min else None,
        "load_avg_1m_max": max(one_min) if one_min else None,
        "settings": {
            "stt": settings.stt.model,
            "tts": f"{settings.tts.engine}/{settings.tts.voice}",
            "codec": options.codec,
            "end_of_turn_ms": options.turn.end_of_turn_ms,
            "min_end_of_turn_ms": options.turn.min_end_of_turn_ms,
            "silence_timeout_s": options.silence_timeout_s,
        },
        "_runs": runs,
    }


def evaluate_calls_voice(
    settings: Settings,
    kb: KnowledgeBase,
    calls: list[dict[str, Any]],
    *,
    silence_timeout_s: float = 4.0,
    barge_in: bool = True,
) -> dict[str, Any]:
    """Run every scripted call over real RTP, one at a time; returns the evaluation report."""
    from ari_app.speech import load_speech_services

    services = load_speech_services(settings, kb)  # type: ignore[arg-type]
    options = VoiceOptions(
        call_id="eval",
        company=settings.company.name,
        codec=settings.media.codec,
        payload_type=None,
        comfort_noise=settings.media.comfort_noise,
        turn=eval_turn_settings(settings),
        silence_timeout_s=silence_timeout_s,
    )
    try:
        return asyncio.run(_evaluate(settings, kb, calls, services, options, barge_in))
    finally:
        services.pool.shutdown()
