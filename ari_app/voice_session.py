"""`VoiceSession`: one call's voice loop. RTP in -> turn-taking -> STT -> `Dialogue` -> TTS -> RTP out.

Independent of ARI: any RTP peer can drive it (the Asterisk test double, a SIPp scenario, the
voice evaluation). The call's owner (`CallSession`, or an evaluation) gets the case, transfer
and hang-up through callbacks.

Facts it relies on:
- The playout clock lives in `RtpEndpoint` (one packet per 20 ms); a cached prompt is queued
  at once, so its first frame goes out at the next 20 ms slot after the decision.
- Whisper decoding and speech synthesis are CPU-bound (tens to hundreds of ms): they run in
  the shared bounded `InferencePool`, never on the event loop, so RTP of other calls keeps
  its 20 ms pace. VAD runs on the loop (Silero: ~0.1 ms a frame, WebRTC: ~20 us).
- Decoding starts while the caller still speaks: the turn's audio goes to `SttStream.accept`
  every 100 ms (it only buffers and scores VAD frames, ~1 ms); the Whisper stream pre-decodes
  in its own thread as soon as the caller pauses, so at the end of the turn at most the tail
  is left. An STT stream that fails while being fed is dropped and the turn is decoded whole.
- Barge-in: the endpoint's queue is flushed synchronously in the frame callback that detects
  it, so the next 20 ms slot already carries comfort noise; sentences of the interrupted reply
  that were still being synthesized are discarded (reply generation counter).
- The turn detector's echo floor is fed with every agent frame actually sent
  (`RtpEndpoint.on_sent` -> `TurnDetector.agent_output`).
- Voice-to-voice latency per turn = first agent frame sent - last voiced caller frame
  received, both on `time.monotonic()`; parts: end-of-turn wait, STT tail, decide, TTS.
- A short word followed by a pause ("No, ... still blank") can end a turn of its own, and Whisper
  sometimes decodes such a fragment alone to nothing. An empty turn is not dropped at once: when
  the caller goes on within `CARRY_S`, the fragment is decoded again in front of the next turn.
- Replies are synthesized and queued sentence by sentence: the caller hears the first
  sentence while the next is being synthesized.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ari_app.logs import log_event
from ari_app.store import TurnTiming
from media.audio_cache import AudioCache
from media.codecs import codec_for
from media.rtp_endpoint import PlayoutEvent, RtpEndpoint
from media.stt import SttEngine, SttStream, Transcript
from media.tts import TtsEngine
from media.turns import BargeInDetected, SpeechStarted, TurnDetector, TurnEnded, TurnSettings
from media.vad import make_vad
from nlu.case import CaseDraft
from nlu.dialogue import PATIENCE_S, Dialogue, DialogueConfig, KnowledgeBase
from nlu.events import (
    AgentFinishedSpeaking,
    BargeIn,
    CallerHungUp,
    CallerSaid,
    CallStarted,
    DialogueAction,
    DialogueEvent,
    DtmfDigit,
    EngineError,
    FileCase,
    HangUp,
    Say,
    SilenceTimeout,
    Transfer,
    TransferFailed,
)
from nlu.prompts import all_prompts

log = logging.getLogger("kayako_voice.voice")

FEED_EVERY_BYTES = 5 * 640  # hand the turn's new audio to the STT stream every 100 ms
STT_TIMEOUT_S = 8.0
# A turn that decodes to nothing is kept this long: when the caller goes on talking within it, the
# fragment is decoded again at the start of the next turn ("No, ... still blank" split at the comma)
CARRY_S = 1.5
CARRY_MAX_BYTES = 4 * 32000  # at most 4 s of unheard audio is carried
CARRY_GAP = bytes(int(0.2 * 16000) * 2)  # silence between the fragment and the next turn


class InferencePool:
    """The bounded worker pool for CPU-heavy inference shared by every call of the process."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inference")

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class SpeechServices:
    """Models shared by all calls: loaded once per process."""

    stt: SttEngine
    tts: TtsEngine
    cache: AudioCache
    pool: InferencePool
    vad_kind: str = "silero"
    slow_cache: AudioCache | None = None  # the same voice, slower, for callers who ask "slow down"

    def cache_for(self, slow: bool) -> AudioCache:
        return self.slow_cache if slow and self.slow_cache is not None else self.cache

    def warm_prompts(
        self, company: str, extra: list[str] | None = None, on_disk: list[str] | None = None
    ) -> int:
        """Synthesize every fixed prompt (and e.g. KB spoken answers) ahead of the first call, sentence
        by sentence as they are played; `on_disk` texts (follow-ups) are cached on disk only."""

        def sentences(texts: list[str]) -> list[str]:
            return [s for text in texts for s in self.tts.sentences(text)]

        hot = sentences(list(all_prompts(company).values()) + list(extra or []))
        return self.cache.warm(hot) + self.cache.warm(sentences(on_disk or []), remember=False)


@dataclass(frozen=True)
class VoiceOptions:
    call_id: str
    company: str = "Northwind Desk"
    agent_extension: str = ""
    codec: str = "ulaw"
    payload_type: int | None = None
    rtp_host: str = "127.0.0.1"
    rtp_port: int = 0
    remote: tuple[str, int] | None = None
    comfort_noise: bool = True
    turn: TurnSettings = field(default_factory=TurnSettings)
    silence_timeout_s: float = 8.0


@dataclass
class TurnRecord:
    caller_text: str
    agent_text: str
    timing: TurnTiming
    confidence: float = 1.0
    # decision -> first agent frame sent, and whether the first sentence came from the cache
    first_audio_ms: float | None = None
    cached: bool | None = None


@dataclass(frozen=True)
class BargeInRecord:
    detected_at: float  # time.monotonic() of the frame that completed the barge-in
    dropped_frames: int
    # agent frames of the interrupted reply sent after detection (0: stopped at the next slot)
    frames_after: int = 0


class VoiceSession:
    def __init__(
        self,
        services: SpeechServices,
        kb: KnowledgeBase,
        options: VoiceOptions,
        *,
        on_case: Callable[[CaseDraft], None] | None = None,
        on_transfer: Callable[[Transfer], Any] | None = None,
        on_hangup: Callable[[str], Any] | None = None,
        on_turn: Callable[[str, float, str, TurnTiming | None], None] | None = None,
    ) -> None:
        self.services = services
        self.options = options
        self.call_id = options.call_id
        self.dialogue = Dialogue(
            kb,
            DialogueConfig(
                company=options.company, agent_extension=options.agent_extension, call_id=options.call_id
            ),
        )
        self.on_case = on_case
        self.on_transfer = on_transfer
        self.on_hangup = on_hangup
        self.on_turn = on_turn
        self.endpoint = RtpEndpoint(
            codec_for(options.codec, options.payload_type),
            local_host=options.rtp_host,
            local_port=options.rtp_port,
            remote=options.remote,
            comfort_noise=options.comfort_noise,
            on_frame=self._on_frame,
            on_playout=self._on_playout,
            call_id=options.call_id,
            on_sent=self._on_sent,
        )
        self.turns = TurnDetector(options.turn, make_vad(services.vad_kind))
        self.records: list[TurnRecord] = []
        self.ended = asyncio.Event()
        self._t0 = time.monotonic()
        self._stream: SttStream | None = None
        self._stream_fed = 0
        self._stream_broken = False
        self._carry: tuple[bytes, float] | None = None  # (audio, last voiced at) of an unheard turn
        self._prefix = b""  # unheard audio the current turn is decoded after
        self._turn_onset = 0.0
        self._partial_task: asyncio.Task[None] | None = None
        self._generation = 0  # bumped on barge-in: sentences of older replies are not played
        self._barge_open: int | None = None  # index into barge_ins while the old reply may leak
        self.barge_ins: list[BargeInRecord] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._speaking_tags: set[str] = set()
        self._tag_text: dict[str, str] = {}
        self._tag_seq = 0
        self._pending_timing: dict[str, Any] | None = None
        self._last_activity = time.monotonic()
        self._silence_task: asyncio.Task[None] | None = None
        self._final_action: DialogueAction | None = None
        self._say_lock = asyncio.Lock()
        self._closed = False
        self._turn_busy = False
        self.case: CaseDraft | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> tuple[str, int]:
        address = await self.endpoint.start()
        self._silence_task = asyncio.create_task(self._silence_watch(), name=f"silence-{self.call_id}")
        return address

    def begin(self, caller_number: str = "", known_name: str = "", known_email: str = "") -> None:
        """The call is answered and media flows: greet the caller."""
        self._t0 = time.monotonic()
        self._dispatch(
            CallStarted(
                at=0.0,
                caller_number=caller_number,
                known_name=known_name,
                known_email=known_email,
                call_id=self.call_id,
            )
        )

    def now(self) -> float:
        return time.monotonic() - self._t0

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in [self._silence_task, self._partial_task, *self._tasks]:
            if task is not None and not task.done():
                task.cancel()
        await self.endpoint.close()
        self.ended.set()

    # ------------------------------------------------------------------ outside events
    def dtmf(self, digit: str) -> None:
        self._dispatch(DtmfDigit(at=self.now(), digit=digit))

    def caller_hung_up(self) -> None:
        """The caller's leg is gone: file the case (once) and stop."""
        self._dispatch(CallerHungUp(at=self.now()))
        self.ended.set()

    def transfer_failed(self, reason: str) -> None:
        self._dispatch(TransferFailed(at=self.now(), reason=reason))

    def engine_failed(self, what: str, detail: str) -> None:
        self._dispatch(EngineError(at=self.now(), what=what, detail=detail))

    # ------------------------------------------------------------------ media in
    def _on_frame(self, frame: bytes, received_at: float) -> None:
        if self._closed or self.dialogue.ended:
            return
        try:
            events = self.turns.feed(frame, received_at - self._t0, self.endpoint.is_playing)
        except Exception as exc:  # a VAD failure must not kill the call
            log_event(log, "turn detector failed", logging.ERROR, call_id=self.call_id, error=str(exc))
            return
        if self.turns.in_turn:
            self._last_activity = time.monotonic()
            self._maybe_partial()
        for ev in events:
            if isinstance(ev, SpeechStarted):
                self._last_activity = time.monotonic()
                self._drop_stream()
                self._turn_onset = ev.at
                self._prefix = self._take_carry(ev.at)
                self._maybe_partial()
            elif isinstance(ev, BargeInDetected):
                self._barge_in(ev, received_at)
            elif isinstance(ev, TurnEnded):
                self._spawn(self._finish_turn(ev, received_at))

    def _barge_in(self, ev: BargeInDetected, detected_at: float) -> None:
        unsaid = " ".join(self._tag_text[t] for t in sorted(self._speaking_tags) if t in self._tag_text)
        self._generation += 1
        dropped = self.endpoint.flush()
        self._speaking_tags.clear()
        self.barge_ins.append(BargeInRecord(detected_at=detected_at, dropped_frames=dropped))
        self._barge_open = len(self.barge_ins) - 1
        log_event(log, "barge-in", call_id=self.call_id, dropped_frames=dropped)
        self._dispatch(BargeIn(at=ev.at, unsaid=unsaid.strip()))

    def _on_sent(self, pcm: bytes) -> None:
        self.turns.agent_output(pcm)
        if self._barge_open is not None:
            rec = self.barge_ins[self._barge_open]
            self.barge_ins[self._barge_open] = BargeInRecord(
                rec.detected_at, rec.dropped_frames, rec.frames_after + 1
            )

    def _maybe_partial(self) -> None:
        """Hand the turn's new audio to the STT stream while the caller is still speaking."""
        if self._stream_broken:
            return
        audio = self.turns.speech_so_far()
        if len(audio) - self._stream_fed < FEED_EVERY_BYTES:
            return
        try:
            if self._stream is None:
                self._stream = self.services.stt.stream()
                if self._prefix:
                    self._stream.accept(self._prefix)
            self._stream.accept(audio[self._stream_fed :])
            self._stream_fed = len(audio)
        except Exception as exc:  # decode the whole turn at its end instead
            log_event(log, "STT stream failed", logging.WARNING, call_id=self.call_id, error=repr(exc))
            self._stream_broken = True
            self._stream = None
            self._stream_fed = 0

    async def _finish_turn(self, ev: TurnEnded, received_at: float) -> None:
        self._turn_busy = True
        try:
            await self._handle_turn(ev)
        finally:
            self._turn_busy = False
            self._last_activity = time.monotonic()

    async def _handle_turn(self, ev: TurnEnded) -> None:
        turn_end = time.monotonic()
        last_voiced_mono = self._t0 + ev.last_voiced_at
        stream = self._stream
        fed = self._stream_fed
        prefix = self._prefix
        self._drop_stream()
        self._prefix = b""
        if fed:  # the stream got the prefix before the turn's audio
            fed += len(prefix)
        t_stt = time.monotonic()
        try:
            transcript = await asyncio.wait_for(
                self._transcribe(stream, fed, prefix + ev.audio), STT_TIMEOUT_S
            )
        except Exception as exc:  # STT crash or timeout: apologise, escalate, file the case
            log_event(log, "speech-to-text failed", logging.ERROR, call_id=self.call_id, error=repr(exc))
            self.engine_failed("stt", repr(exc))
            return
        stt_ms = (time.monotonic() - t_stt) * 1000
        text = transcript.text.strip()
        if not text:  # noise, a cough, or a word too short to decode alone: not a turn (yet)
            self._keep_unheard(ev)
            return
        self._last_activity = time.monotonic()
        self._pending_timing = {
            "generation": self._generation,
            "last_voiced": last_voiced_mono,
            "end_of_turn_ms": (turn_end - last_voiced_mono) * 1000,
            "stt_ms": stt_ms,
        }
        self._record_turn("caller", text, None)
        self.records[-1].confidence = transcript.confidence
        self._pending_timing["record"] = len(self.records) - 1
        t_decide = time.monotonic()
        self._dispatch(
            CallerSaid(at=self.now(), text=text, confidence=transcript.confidence), t_decide=t_decide
        )

    def _keep_unheard(self, ev: TurnEnded) -> None:
        """Keep a turn that decoded to nothing for the next one (see CARRY_S)."""
        if len(ev.audio) > CARRY_MAX_BYTES:
            self._carry = None
            return
        if self.turns.in_turn and 0 <= self._turn_onset - ev.last_voiced_at <= CARRY_S:
            # the caller already went on: the running turn restarts its stream with the fragment first
            self._prefix = ev.audio + CARRY_GAP
            self._drop_stream()
            self._carry = None
        else:
            self._carry = (ev.audio, ev.last_voiced_at)
        log_event(log, "unheard fragment kept", logging.DEBUG, call_id=self.call_id, bytes=len(ev.audio))

    def _take_carry(self, onset: float) -> bytes:
        carry, self._carry = self._carry, None
        if carry is None or not 0 <= onset - carry[1] <= CARRY_S:
            return b""
        return carry[0] + CARRY_GAP

    def _drop_stream(self) -> None:
        """Forget the turn's STT stream: the next audio fed starts a new one."""
        self._stream = None
        self._stream_fed = 0
        self._stream_broken = False

    async def _transcribe(self, stream: SttStream | None, fed: int, audio: bytes) -> Transcript:
        """Finish the stream that was fed the first `fed` bytes of `audio`, or decode `audio` whole."""
        stt = self.services.stt
        if stream is not None and fed > 0:
            tail = audio[fed:] if len(audio) > fed else b""

            def finish() -> Transcript:
                if tail:
                    stream.accept(tail)
                return stream.finish()

            result: Transcript = await self.services.pool.run(finish)
            return result
        return await self.services.pool.run(stt.transcribe, audio)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ dialogue
    def _dispatch(self, event: DialogueEvent, t_decide: float | None = None) -> None:
        t0 = time.monotonic()
        try:
            actions = self.dialogue.on(event)
        except Exception as exc:  # a bug in a rule must not drop the call: escalate and file
            log_event(log, "dialogue failed", logging.ERROR, call_id=self.call_id, error=repr(exc))
            actions = self.dialogue.on(EngineError(at=self.now(), what="dialogue", detail=repr(exc)))
        decide_ms = (time.monotonic() - (t_decide or t0)) * 1000
        if isinstance(event, CallerSaid) and not actions:
            # the dialogue waits for the rest of an unfinished turn ("okay so"): what it says
            # later (to the rest, or after the silence) is not a reply to this turn's last frame
            self._pending_timing = None
        if self._pending_timing is not None and "decide_ms" not in self._pending_timing:
            self._pending_timing["decide_ms"] = decide_ms
            self._pending_timing["decided_at"] = time.monotonic()
        self._run(actions)

    def _run(self, actions: list[DialogueAction]) -> None:
        says = [a for a in actions if isinstance(a, Say)]
        rest = [a for a in actions if not isinstance(a, Say)]
        for a in rest:
            if isinstance(a, FileCase):
                self.case = a.case
                if self.on_case is not None:
                    try:
                        self.on_case(a.case)
                    except Exception as exc:
                        log_event(
                            log,
                            "filing the case failed",
                            logging.ERROR,
                            call_id=self.call_id,
                            error=repr(exc),
                        )
        final = next((a for a in rest if isinstance(a, HangUp | Transfer)), None)
        if final is not None:
            self._final_action = final
        if says or final is not None:
            texts = [s.text for s in says]
            cache = self.services.cache_for(any(s.slow for s in says))
            generation = self._generation
            # the first sentence of a cached reply is queued right here, inside the decision,
            # so it goes out at the next 20 ms slot
            first_done = self._play_cached_first(texts, cache)
            self._spawn(self._speak(texts, final, generation, first_done, cache))

    def _play_cached_first(self, texts: list[str], cache: AudioCache) -> bool:
        if not texts or self._say_lock.locked() or self.endpoint.is_playing:
            return False
        sentences = self.services.tts.sentences(texts[0])
        if not sentences:
            return False
        pcm = cache.get(sentences[0])
        if pcm is None:
            return False
        if self._pending_timing is not None:
            self._pending_timing.setdefault("tts_ms", 0.0)
            self._pending_timing["cached"] = True
        self._record_turn("agent", texts[0], None)
        self._queue(sentences[0], pcm)
        return True

    def _queue(self, sentence: str, pcm: bytes) -> None:
        self._barge_open = None  # frames sent from now on belong to a new reply
        self._tag_seq += 1
        tag = f"{self.call_id}:{self._tag_seq}"
        self._tag_text[tag] = sentence
        self._speaking_tags.add(tag)
        try:
            self.endpoint.play(pcm, tag=tag)
        except Exception as exc:
            self._speaking_tags.discard(tag)
            self._tag_text.pop(tag, None)
            log_event(log, "playout failed", logging.ERROR, call_id=self.call_id, error=repr(exc))

    async def _speak(
        self,
        texts: list[str],
        final: DialogueAction | None,
        generation: int,
        first_done: bool,
        cache: AudioCache,
    ) -> None:
        async with self._say_lock:
            for i, text in enumerate(texts):
                sentences = self.services.tts.sentences(text)
                if i == 0 and first_done:
                    sentences = sentences[1:]
                else:
                    self._record_turn("agent", text, None)
                for sentence in sentences:
                    if self._closed:
                        return
                    if generation != self._generation:
                        break  # the caller barged in: the rest of this reply is not said
                    t_tts = time.monotonic()
                    pcm = cache.get(sentence)
                    if pcm is not None and self._pending_timing is not None:
                        self._pending_timing.setdefault("cached", True)
                    if pcm is None:
                        try:
                            pcm = await self.services.pool.run(cache.get_or_synthesize, sentence)
                        except Exception as exc:
                            log_event(
                                log,
                                "speech synthesis failed",
                                logging.ERROR,
                                call_id=self.call_id,
                                error=repr(exc),
                            )
                            if final is None and not self.dialogue.ended:
                                self.engine_failed("tts", repr(exc))
                            return
                    if self._pending_timing is not None and "tts_ms" not in self._pending_timing:
                        self._pending_timing["tts_ms"] = (time.monotonic() - t_tts) * 1000
                        self._pending_timing.setdefault("cached", False)
                    if generation != self._generation or self._closed:
                        break
                    self._queue(sentence, pcm)
            if final is not None:
                await self._drain()
                if isinstance(final, Transfer) and self.on_transfer is not None:
                    await _maybe_await(self.on_transfer(final))
                elif isinstance(final, HangUp) and self.on_hangup is not None:
                    await _maybe_await(self.on_hangup(final.reason))
                if isinstance(final, HangUp):
                    self.ended.set()

    async def _drain(self, limit_s: float = 60.0) -> None:
        deadline = time.monotonic() + limit_s
        while self.endpoint.is_playing and time.monotonic() < deadline and not self._closed:
            await asyncio.sleep(0.02)

    def _on_playout(self, ev: PlayoutEvent) -> None:
        if ev.kind == "started":
            self._barge_open = None
        if ev.kind == "started" and self._pending_timing is not None:
            p = self._pending_timing
            self._pending_timing = None
            timing = TurnTiming(
                latency_ms=round((ev.at - p["last_voiced"]) * 1000, 1),
                end_of_turn_ms=round(p.get("end_of_turn_ms", 0.0), 1),
                stt_ms=round(p.get("stt_ms", 0.0), 1),
                decide_ms=round(p.get("decide_ms", 0.0), 2),
                tts_ms=round(p.get("tts_ms", 0.0), 1),
            )
            index = p.get("record")
            if index is not None and index < len(self.records):
                rec = self.records[index]
                rec.timing = timing
                if "decided_at" in p:
                    rec.first_audio_ms = round((ev.at - p["decided_at"]) * 1000, 1)
                rec.cached = bool(p.get("cached", False))
            log_event(log, "turn latency", call_id=self.call_id, **{k: v for k, v in timing.__dict__.items()})
            if self.on_turn is not None:
                self.on_turn("timing", 0.0, "", timing)
        elif ev.kind in ("finished", "flushed"):
            self._speaking_tags.discard(ev.tag)
            self._tag_text.pop(ev.tag, None)
            self._last_activity = time.monotonic()
            if ev.kind == "finished" and not self._speaking_tags and not self.endpoint.is_playing:
                self.dialogue.on(AgentFinishedSpeaking(at=self.now()))

    def _record_turn(self, speaker: str, text: str, timing: TurnTiming | None) -> None:
        if speaker == "caller":
            self.records.append(TurnRecord(caller_text=text, agent_text="", timing=TurnTiming()))
        elif self.records and not self.records[-1].agent_text:
            self.records[-1].agent_text = text
        else:
            self.records.append(TurnRecord(caller_text="", agent_text=text, timing=TurnTiming()))
        if self.on_turn is not None:
            self.on_turn(speaker, self.now(), text, timing)

    async def _silence_watch(self) -> None:
        while not self._closed and not self.dialogue.ended:
            await asyncio.sleep(0.25)
            if self.endpoint.is_playing or self.turns.in_turn or self._turn_busy:
                self._last_activity = time.monotonic()
                continue
            if time.monotonic() - self._last_activity >= self._patience_s():
                self._last_activity = time.monotonic()
                self._dispatch(SilenceTimeout(at=self.now()))

    def _patience_s(self) -> float:
        """The dialogue's patience (8 s, 30 s after "hold on") scaled to the configured timeout."""
        return self.dialogue.patience_s * self.options.silence_timeout_s / PATIENCE_S

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log_event(
                log, "voice task failed", logging.ERROR, call_id=self.call_id, error=repr(task.exception())
            )


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value):
        await value
