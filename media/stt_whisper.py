"""faster-whisper (CTranslate2) speech-to-text, tuned for short telephone turns on two cores.

Owns decoding with a Whisper model directory (see media.models), the background pre-decode
while the caller speaks, and the guards against Whisper's hallucinations.

Facts this relies on (measured on tiny.en, int8, 2 shared cores):
- faster-whisper's own `transcribe` pads every input to a 30 s window; the encoder then costs
  about 620 ms whatever the utterance length. CTranslate2's Whisper encoder also accepts
  fewer mel frames, so the utterance is encoded with only 0.5 s of trailing silence (at least
  2 s in all): ~60-110 ms for a 4 s utterance, with the same words. Decoding is then done with
  `generate` directly: beam `stt.beam_size`, no timestamps, English, no temperature fallback.
- One CPU thread per decode is faster than two: each generated token is a few small matrix
  products, and a second thread adds more synchronisation than it saves. On the 133 dev caller
  turns the mean decode is 0.22 s greedy and 0.26 s with beam 3 on one thread, against 0.26 s
  greedy on two; beam 3 lowers WER from 0.163 to 0.136 there (0.182 -> 0.157 on two other
  KBs' callers). So the default is beam 3 on one thread, and `workers` decodes (of different
  calls) run at once, one per core.
- Each generated token costs ~8 ms, so a final decode of a 4 s turn is ~200 ms. While the
  caller speaks, the audio so far is decoded in the background every `step_s` of new audio
  and as soon as 200 ms of silence follow speech; end of turn comes 300-600 ms after the last
  voiced frame, so at `finish` the last pre-decode usually already covers all voiced audio and
  is the result (only waiting for it, if it is still running). Otherwise one final decode runs.
- On such a short window Whisper often repeats the utterance until the token limit ("No. No.
  No."); the token limit is 10 + 8 per second of audio (fast speech with punctuation reaches
  ~6 tokens a second; a tighter limit cut sentence ends) and a text that is one phrase repeated
  is collapsed to one copy (a caller's "no, no" becomes "no", which means the same).
- Whisper invents text on silence and noise ("Thank you.", "you"). Guards: near-silent or very
  short audio and audio where Silero VAD finds under 100 ms of speech are never decoded; a
  result with no_speech_prob > 0.6 and avg_logprob < -1, avg_logprob < -1.6, a compression
  ratio over 2.4 (loops), or a known filler phrase without confident speech becomes "" with
  confidence 0. Confidence = exp(avg_logprob) * (1 - no_speech_prob).
- Whisper tiny.en sometimes ends a long turn after a word or two, depending only on where the
  speech sits in the window: one 7.6 s spelled address came back as "Luca . ." with 200 ms of
  leading silence and whole at 19 of 21 other offsets from 0 to 400 ms. A window of at least
  3 s that yields under one word per 2 s is decoded once more with the audio 100 ms later in
  the window, and the result with more words is kept. Ordinary turns never take this path.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media.stt import SAMPLE_RATE, SttError, Transcript, pcm_to_float
from media.vad import FRAME_BYTES, SileroVad, speech_probs

logger = logging.getLogger(__name__)

MIN_AUDIO_S = 0.15
SILENT_PEAK = 10 ** (-50 / 20)  # peak under -50 dBFS: nothing was said
MIN_SPEECH_MS = 100
PAD_S = 0.5
MIN_WINDOW_S = 2.0
MAX_CHUNK_S = 28.0
_VAD_THRESHOLD = 0.5
_WINDOW_MS = 32  # Silero window at 16 kHz
_TAIL_RANGE_DB = 30.0  # frames within this of the loudest speech frame count as voiced for coverage
RETRY_MIN_S = 3.0  # a window this long with under one word per RETRY_S_PER_WORD is decoded again
RETRY_S_PER_WORD = 2.0
RETRY_SHIFT_S = 0.1
HALLUCINATIONS = {
    "thank you",
    "thank you very much",
    "thanks for watching",
    "thank you for watching",
    "thanks for listening",
    "please subscribe",
    "you",
    "bye",
    "so",
}


@dataclass(frozen=True)
class Decoded:
    text: str
    confidence: float
    avg_logprob: float
    no_speech_prob: float


SILENT = Decoded("", 0.0, -math.inf, 1.0)


def _normalized(text: str) -> str:
    return " ".join("".join(ch for ch in text.lower() if ch.isalnum() or ch.isspace()).split())


def _word_count(text: str) -> int:
    return len(_normalized(text).split())


def collapse_loop(text: str) -> str:
    """Whisper on a short encoder window tends to repeat the whole utterance ("No. No. No.").
    If the words are one phrase repeated (the last copy possibly cut off by the token limit),
    keep one copy. A phrase counts when it ends a sentence and repeats at least two words,
    or when it is repeated in full at least twice."""
    words = text.split()
    norm = [_normalized(w) for w in words]
    for size in range(1, len(words)):
        unit = norm[:size]
        if not all(norm[i] == unit[i % size] for i in range(len(norm))):
            continue
        extra = len(words) - size
        ends_sentence = words[size - 1][-1:] in ".?!"
        if extra >= 2 * size or (ends_sentence and extra >= min(2, size)):
            return " ".join(words[:size])
    return text


def cut_repeated_tail(text: str) -> str:
    """Whisper often ends a turn by repeating its last phrase until the token limit ("... forgot my
    password. I'm pretty sure I forgot my password. I'm pretty sure I"). Drop the longest tail of
    at least 3 words that only repeats the phrase before it (a phrase of 2+ words with a word of
    4+ letters, so spelled letters and digit runs such as "five five five" are never cut); the
    last word may be cut off by the token limit."""
    words = text.split()
    norm = [_normalized(w) for w in words]
    n = len(words)
    for start in range(1, n - 2):  # the earliest start is the longest tail
        for size in range(2, start + 1):
            unit = norm[start - size : start]
            if not any(len(w) >= 4 for w in unit):
                continue
            tail = range(n - start)
            if all(norm[start + k] == unit[k % size] for k in tail[:-1]) and unit[tail[-1] % size].startswith(
                norm[-1]
            ):
                return " ".join(words[:start]).rstrip(",;")
    return text


def _frame_dbfs(frame: bytes) -> float:
    x = np.frombuffer(frame, dtype="<i2").astype(np.float64)
    rms = float(np.sqrt(np.mean(x * x))) / 32768.0
    return 20 * math.log10(rms) if rms > 1e-6 else -120.0


def speech_ms(samples: np.ndarray) -> float:
    """Milliseconds of speech Silero VAD finds in a whole utterance."""
    return float(np.count_nonzero(speech_probs(samples) >= _VAD_THRESHOLD) * _WINDOW_MS)


class FasterWhisperStt:
    name = "faster-whisper"

    def __init__(
        self,
        model_dir: Path,
        threads: int = 1,
        label: str = "",
        step_s: float = 0.8,
        pause_ms: int = 200,
        beam_size: int = 3,
        workers: int = 2,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub
        try:
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens
        except ImportError as exc:
            raise SttError("faster-whisper is not installed") from exc
        if not (Path(model_dir) / "tokenizer.json").is_file():
            raise SttError(f"{model_dir} has no tokenizer.json; refusing to let faster-whisper download one")
        try:
            self._model = WhisperModel(
                str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=workers
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise SttError(f"Whisper model {model_dir} cannot load: {exc}") from exc
        self.model = label or str(model_dir)
        self.step_s = step_s
        self.pause_ms = pause_ms
        self.beam_size = beam_size
        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer, self._model.model.is_multilingual, task="transcribe", language="en"
        )
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))
        self._background = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whisper-predecode")

    # -- whole utterances -----------------------------------------------------------------

    def transcribe(self, pcm: bytes) -> Transcript:
        started = time.perf_counter()
        samples = pcm_to_float(pcm)
        result = self.decode(samples, check_speech=True)
        return Transcript(
            text=result.text,
            confidence=result.confidence,
            duration_s=samples.size / SAMPLE_RATE,
            decode_ms=(time.perf_counter() - started) * 1000,
        )

    def stream(self) -> WhisperStream:
        return WhisperStream(self)

    def close(self) -> None:
        self._background.shutdown(wait=False, cancel_futures=True)

    # -- decoding -------------------------------------------------------------------------

    def decode(self, samples: np.ndarray, check_speech: bool) -> Decoded:
        """Decode float32 16 kHz samples, guarded against hallucinations; raises SttError on engine failure."""
        if samples.size < MIN_AUDIO_S * SAMPLE_RATE or float(np.max(np.abs(samples))) < SILENT_PEAK:
            return SILENT
        if check_speech and speech_ms(samples) < MIN_SPEECH_MS:
            return SILENT
        chunk = int(MAX_CHUNK_S * SAMPLE_RATE)
        parts = [self._decode_window(samples[i : i + chunk]) for i in range(0, samples.size, chunk)]
        parts = [p for p in parts if p.text]
        if not parts:
            return SILENT
        text = " ".join(p.text for p in parts)
        return Decoded(
            text=text,
            confidence=min(p.confidence for p in parts),
            avg_logprob=min(p.avg_logprob for p in parts),
            no_speech_prob=max(p.no_speech_prob for p in parts),
        )

    def _decode_window(self, samples: np.ndarray) -> Decoded:
        first = self._generate(samples)
        first_words = _word_count(first.text)
        duration = samples.size / SAMPLE_RATE
        if duration < RETRY_MIN_S or first_words >= duration / RETRY_S_PER_WORD:
            return first
        shifted = np.concatenate([np.zeros(int(RETRY_SHIFT_S * SAMPLE_RATE), dtype=np.float32), samples])
        second = self._generate(shifted)
        logger.debug(
            "Whisper stopped early (%r in %.1f s); shifted decode gave %r", first.text, duration, second.text
        )
        return second if _word_count(second.text) > first_words else first

    def _generate(self, samples: np.ndarray) -> Decoded:
        import ctranslate2

        duration = samples.size / SAMPLE_RATE
        total = max(samples.size + int(PAD_S * SAMPLE_RATE), int(MIN_WINDOW_S * SAMPLE_RATE))
        padded = np.zeros(total, dtype=np.float32)
        padded[: samples.size] = samples
        features = self._model.feature_extractor(padded, padding=0)
        frames = min(3000, features.shape[1] - features.shape[1] % 2)
        features = np.ascontiguousarray(features[None, :, :frames], dtype=np.float32)
        max_length = min(448, len(self._prompt) + 10 + int(8 * duration))
        try:
            encoded = self._model.model.encode(ctranslate2.StorageView.from_array(features), to_cpu=False)
            (result,) = self._model.model.generate(
                encoded,
                [self._prompt],
                beam_size=self.beam_size,
                max_length=max_length,
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=self._suppress,
            )
        except (RuntimeError, ValueError) as exc:
            raise SttError(f"Whisper decoding failed: {exc}") from exc
        ids = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        text = self._tokenizer.decode(ids).strip()
        avg_logprob = float(result.scores[0]) if result.scores else -math.inf
        no_speech = float(result.no_speech_prob)
        return self._guard(text, avg_logprob, no_speech)

    @staticmethod
    def _guard(text: str, avg_logprob: float, no_speech: float) -> Decoded:
        text = cut_repeated_tail(collapse_loop(text))
        norm = _normalized(text)
        reason = ""
        if not norm:
            reason = "no words"
        elif no_speech > 0.6 and avg_logprob < -1.0:
            reason = "no speech"
        elif avg_logprob < -1.6:
            reason = "unlikely text"
        elif len(text) > 24 and len(text) / max(1, len(zlib.compress(text.encode()))) > 2.4:
            reason = "repetition loop"
        elif norm in HALLUCINATIONS and (no_speech > 0.2 or avg_logprob < -0.6):
            reason = "filler phrase without confident speech"
        if reason:
            logger.debug("Whisper output %r dropped: %s", text, reason)
            return Decoded("", 0.0, avg_logprob, no_speech)
        confidence = math.exp(min(0.0, avg_logprob)) * (1.0 - no_speech)
        return Decoded(text, round(max(0.0, min(1.0, confidence)), 4), avg_logprob, no_speech)


class WhisperStream:
    """One caller turn: audio is buffered and pre-decoded in the background while it grows."""

    def __init__(self, engine: FasterWhisperStt, max_s: float = 60.0) -> None:
        self._engine = engine
        self._audio = bytearray()
        self._max_bytes = int(max_s * SAMPLE_RATE) * 2
        self._vad = SileroVad()
        self._vad_offset = 0  # bytes of _audio already scored by the VAD
        self._speech_frames = 0
        self._voiced_end = 0  # byte offset just after the last speech frame
        self._silent_frames = 0
        self._speech_peak_dbfs = -120.0
        self._submitted_end = 0
        self._future: Future[Decoded] | None = None
        self._future_end = 0
        self._done: tuple[int, Decoded] | None = None
        self._reported = ""
        self._lock = threading.Lock()
        self._finished = False

    def accept(self, pcm: bytes) -> str | None:
        if self._finished:
            raise SttError("this STT stream is finished; start a new one")
        if len(pcm) % 2:
            raise SttError(f"PCM must be whole 16-bit samples; got {len(pcm)} bytes (odd)")
        room = self._max_bytes - len(self._audio)
        if len(pcm) > room:
            logger.warning(
                "STT stream is full (%d s); %d bytes dropped", self._max_bytes // 32000, len(pcm) - room
            )
            pcm = pcm[: max(room, 0)]
        self._audio += pcm
        self._score_frames()
        self._collect()
        self._maybe_submit()
        if self._done and self._done[1].text != self._reported:
            self._reported = self._done[1].text
            return self._reported
        return None

    def finish(self) -> Transcript:
        started = time.perf_counter()
        self._finished = True
        if self._future is not None:
            self._collect(wait=True)
        duration = len(self._audio) / (2 * SAMPLE_RATE)
        if self._speech_frames * 20 < MIN_SPEECH_MS:
            result = SILENT
        elif self._done is not None and self._done[0] >= self._voiced_end:
            result = self._done[1]
        else:
            result = self._engine.decode(pcm_to_float(bytes(self._audio)), check_speech=False)
        return Transcript(
            text=result.text,
            confidence=result.confidence,
            duration_s=duration,
            decode_ms=(time.perf_counter() - started) * 1000,
        )

    # -- internals ------------------------------------------------------------------------

    def _score_frames(self) -> None:
        while self._vad_offset + FRAME_BYTES <= len(self._audio):
            frame = bytes(self._audio[self._vad_offset : self._vad_offset + FRAME_BYTES])
            self._vad_offset += FRAME_BYTES
            level = _frame_dbfs(frame)
            if self._vad.speech_prob(frame) >= _VAD_THRESHOLD:
                self._speech_frames += 1
                self._speech_peak_dbfs = max(self._speech_peak_dbfs, level)
                self._voiced_end = self._vad_offset
                self._silent_frames = 0
            elif self._speech_frames and level >= self._speech_peak_dbfs - _TAIL_RANGE_DB:
                # a quiet word ending ("-ts") the VAD misses still has to be in the decoded audio
                self._voiced_end = self._vad_offset
                self._silent_frames = 0
            else:
                self._silent_frames += 1

    def _collect(self, wait: bool = False) -> None:
        future = self._future
        if future is None or (not wait and not future.done()):
            return
        self._future = None
        try:
            self._done = (self._future_end, future.result())
        except SttError as exc:
            logger.warning("background Whisper pre-decode failed; the final decode will retry: %s", exc)

    def _maybe_submit(self) -> None:
        if self._future is not None or self._speech_frames * 20 < MIN_SPEECH_MS:
            return
        covered = self._done[0] if self._done else 0
        if self._voiced_end <= covered:
            return
        new_audio_s = (len(self._audio) - self._submitted_end) / (2 * SAMPLE_RATE)
        paused = self._silent_frames * 20 >= self._engine.pause_ms
        if new_audio_s < self._engine.step_s and not paused:
            return
        audio = pcm_to_float(bytes(self._audio))
        self._submitted_end = self._future_end = len(self._audio)
        self._future = self._engine._background.submit(self._engine.decode, audio, False)
