"""Speech-to-text: the engine interface, the result type and engine choice.

Owns `Transcript`, `SttEngine`/`SttStream` and `make_stt`. Audio is always the internal format:
mono int16 little-endian PCM at 16 kHz (32,000 bytes per second).

An engine answers a whole utterance (`transcribe`) or follows one while the caller speaks
(`stream`: `accept` audio as it arrives, possibly getting partial text, then `finish`).
`finish` and `transcribe` block while decoding: call them from a worker thread, not the event
loop. `accept` only buffers and hands work to the engine's own background thread.

`confidence` is in [0, 1]; empty text always comes with confidence 0 (silence, noise, or a
suppressed Whisper hallucination). `decode_ms` is the time the caller of `transcribe`/`finish`
waited for the result, i.e. what the turn's latency budget pays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

SAMPLE_RATE = 16000


class SttError(RuntimeError):
    """The engine cannot load or decoding failed; the message says why."""


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float
    duration_s: float
    decode_ms: float


class SttStream(Protocol):
    def accept(self, pcm: bytes) -> str | None: ...

    def finish(self) -> Transcript: ...


class SttEngine(Protocol):
    name: str

    def transcribe(self, pcm: bytes) -> Transcript: ...

    def stream(self) -> SttStream: ...


def pcm_to_float(pcm: bytes) -> np.ndarray:
    """int16 LE bytes to float32 in [-1, 1]; a dangling odd byte is a caller bug and is refused."""
    if len(pcm) % 2:
        raise SttError(f"PCM must be whole 16-bit samples; got {len(pcm)} bytes (odd)")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def make_stt(
    engine: str,
    model: str,
    vosk_model_dir: str = "",
    threads: int = 1,
    cache_dir: str = "var/cache",
    beam_size: int = 3,
    workers: int = 2,
) -> SttEngine:
    """Load the configured engine: "faster-whisper" (model "tiny.en", "base" or a directory) or "vosk"."""
    if beam_size < 1:
        raise SttError(f"STT beam size must be at least 1, got {beam_size}")
    if threads < 1:
        raise SttError(f"STT threads must be at least 1, got {threads}")
    if workers < 1:
        raise SttError(f"STT workers must be at least 1, got {workers}")
    if engine == "faster-whisper":
        from media.models import ModelNotFoundError, whisper_model_dir
        from media.stt_whisper import FasterWhisperStt

        try:
            directory = whisper_model_dir(model, cache_dir)
        except ModelNotFoundError as exc:
            raise SttError(str(exc)) from exc
        return FasterWhisperStt(directory, threads=threads, label=model, beam_size=beam_size, workers=workers)
    if engine == "vosk":
        from media.stt_vosk import VoskStt

        return VoskStt(vosk_model_dir)
    raise SttError(f"unknown STT engine {engine!r}: use faster-whisper or vosk")
