"""Synthetic callers for the voice evaluation and tests: script text in, telephone audio out.

Owns `CallerVoice`, which speaks a scripted caller turn with a voice unlike the agent's (the
agent is Piper en_US-joe; the caller is the Debian `flite` (voice rms) or `espeak-ng` program), band-limits
it the way a phone line does and puts natural pauses between phrases.

Facts it relies on:
- A telephone line carries 8 kHz audio (300-3400 Hz): the synthesized 16 kHz speech is
  resampled to 8 kHz and back to 16 kHz, so slin16 carries telephone-band audio too, and the
  ulaw codec (which resamples to 8 kHz itself) gets the same signal.
- Callers pause between phrases: 120-260 ms at a comma, 200-320 ms between sentences. Both stay
  under the turn detector's shortest end-of-turn silence (300 ms in `TurnSettings`, 250 ms in
  the tuned evaluation), so a scripted turn is one caller turn.
- espeak-ng and flite pad their output with silence: each phrase is trimmed to its voiced
  part (-45 dBFS) before the pauses are added, so the pauses are exactly the ones chosen.
- "[inaudible]" in a script is a garbled part: 350 ms of low, speech-band noise; it is left
  out of the reference text that STT is scored against.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import numpy as np

from media.resample import resample
from media.tts import TtsEngine, TtsError

SAMPLE_RATE = 16000
_PHRASE_SPLIT = re.compile(r"(?<=[,;.!?])\s+")
_INAUDIBLE = re.compile(r"\[inaudible\]", re.IGNORECASE)
_VOICED_DBFS = -45.0


class CallerVoiceError(ValueError):
    """A caller turn cannot be spoken (nothing to say, or the synthesizer failed)."""


@dataclass(frozen=True)
class CallerUtterance:
    reference: str  # what STT should hear (the script without "[inaudible]")
    pcm: bytes  # 16 kHz int16 LE, telephone band


def make_caller_engine(engine: str = "flite", voice: str = "") -> TtsEngine:
    """The caller's synthesizer: "flite" (default voice rms) or "espeak-ng" (default en-us).

    Measured on 11 dev turns with Whisper tiny.en: flite rms WER 0.29, flite slt 0.43,
    espeak-ng en-us 0.5-0.7; flite rms is the default."""
    if engine == "espeak-ng":
        from media.tts_cli import EspeakNgTts

        return EspeakNgTts(voice=voice or "en-us", rate=0.95)
    if engine == "flite":
        from media.tts_cli import FliteTts

        return FliteTts(voice=voice or "rms")
    raise CallerVoiceError(f"unknown caller voice engine {engine!r}: use espeak-ng or flite")


def reference_text(turn: str) -> str:
    return " ".join(_INAUDIBLE.sub(" ", turn).split())


def telephone_band(pcm16k: bytes) -> bytes:
    """16 kHz -> 8 kHz -> 16 kHz: what a phone line leaves of the signal."""
    return resample(resample(pcm16k, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE)


def trim_silence(pcm: bytes, threshold_dbfs: float = _VOICED_DBFS) -> bytes:
    samples = np.frombuffer(pcm, dtype="<i2")
    if samples.size == 0:
        return b""
    win = 160  # 10 ms
    n = samples.size // win
    if n == 0:
        return pcm
    blocks = samples[: n * win].astype(np.float64).reshape(n, win)
    rms = np.sqrt(np.mean(blocks * blocks, axis=1)) / 32768.0
    voiced = np.nonzero(rms > 10 ** (threshold_dbfs / 20))[0]
    if voiced.size == 0:
        return b""
    start = max(0, int(voiced[0]) - 2) * win
    end = min(samples.size, (int(voiced[-1]) + 3) * win)
    return samples[start:end].tobytes()


class CallerVoice:
    """Speaks script turns; seeded, so a run is repeatable."""

    def __init__(self, engine: TtsEngine | None = None, seed: int = 7) -> None:
        self.engine = engine or make_caller_engine()
        self._rng = random.Random(seed)

    def _silence(self, lo_ms: int, hi_ms: int) -> bytes:
        ms = self._rng.randint(lo_ms, hi_ms)
        return bytes(int(ms * SAMPLE_RATE / 1000) * 2)

    def _garble(self) -> bytes:
        rng = np.random.default_rng(self._rng.randrange(1 << 30))
        n = int(0.35 * SAMPLE_RATE)
        noise = rng.normal(0.0, 1.0, n)
        kernel = np.ones(6) / 6  # crude low-pass: muffled, speech-band-ish
        shaped = np.convolve(noise, kernel, mode="same") * 900 * np.hanning(n)
        return np.clip(shaped, -32768, 32767).astype("<i2").tobytes()

    def speak(self, turn: str) -> CallerUtterance:
        reference = reference_text(turn)
        pieces = [p for p in re.split(r"(\[inaudible\])", turn, flags=re.IGNORECASE) if p.strip()]
        out = bytearray()
        for piece in pieces:
            if _INAUDIBLE.fullmatch(piece.strip()):
                if out:
                    out += self._silence(120, 200)
                out += self._garble()
                continue
            phrases = [p for p in _PHRASE_SPLIT.split(piece.strip()) if any(c.isalnum() for c in p)]
            for phrase in phrases:
                try:
                    pcm = trim_silence(self.engine.synthesize(phrase))
                except TtsError as exc:
                    raise CallerVoiceError(f"cannot speak caller phrase {phrase[:40]!r}: {exc}") from exc
                if not pcm:
                    continue
                if out:
                    ends_sentence = bool(out) and phrase and phrase[0].isupper()
                    out += self._silence(200, 320) if ends_sentence else self._silence(120, 260)
                out += pcm
        if not out:
            raise CallerVoiceError(f"nothing to say in caller turn {turn[:40]!r}")
        return CallerUtterance(reference=reference, pcm=telephone_band(bytes(out)))
