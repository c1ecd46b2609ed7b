"""Text-to-speech: the engine interface, sentence splitting, brand styles and engine choice.

Owns `TtsEngine` (text in, 16 kHz mono int16 PCM out), `make_tts` with its fallback chain
piper -> flite -> espeak-ng, and the output conversion every engine shares.

Facts this relies on: Piper's en_US-joe-medium speaks at 22,050 Hz, espeak-ng writes 22,050 Hz
WAV, flite's voices are 8 or 16 kHz; everything is resampled with soxr to 16 kHz (the internal
format). Speech is streamed sentence by sentence, so the first sentence's synthesis time is the
agent's time to first audio.

Brand styles change the voice minimally (documented here, applied by each engine):
- "friendly" (default): the voice's own pace and expressiveness.
- "formal": 5 % slower, 25 % less prosody variation (Piper noise scales; espeak-ng pitch -5).
- "brief": 8 % faster, own expressiveness.

A caller who says "slow down" gets the rest of the call at `SLOW_RATE_FACTOR` of the configured
rate (`at_rate`): the same loaded voice, a slower rate, its own cache entries (the cache key has
the rate). Engines that read the rate at each synthesis (Piper, flite, espeak-ng) can do this;
Coqui sets it once when the model loads and keeps its pace.
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000


class TtsError(RuntimeError):
    """Synthesis failed or the engine cannot load; the message says why."""


class TtsEngine(Protocol):
    name: str
    voice: str
    rate: float

    def synthesize(self, text: str) -> bytes: ...

    def sentences(self, text: str) -> list[str]: ...


@dataclass(frozen=True)
class Style:
    rate_factor: float
    expressiveness: float  # scales Piper's noise_scale / noise_w
    pitch_shift: int  # espeak-ng pitch offset (0..99 scale, default 50)


STYLES: dict[str, Style] = {
    "friendly": Style(rate_factor=1.0, expressiveness=1.0, pitch_shift=0),
    "formal": Style(rate_factor=0.95, expressiveness=0.75, pitch_shift=-5),
    "brief": Style(rate_factor=1.08, expressiveness=1.0, pitch_shift=0),
}


def style_of(name: str) -> Style:
    try:
        return STYLES[name]
    except KeyError:
        raise TtsError(f"unknown TTS style {name!r}: use one of {', '.join(STYLES)}") from None


def check_rate(rate: float) -> float:
    if not 0.5 <= rate <= 2.0:
        raise TtsError(f"TTS rate must be between 0.5 and 2.0, got {rate}")
    return rate


SLOW_RATE_FACTOR = 0.8


def at_rate(engine: TtsEngine, rate: float) -> TtsEngine | None:
    """The same engine and loaded voice speaking at `rate`, or None when the engine fixes its rate
    when the model loads (it has no `rate_per_call`)."""
    if not getattr(engine, "rate_per_call", False):
        return None
    twin = copy.copy(engine)
    twin.rate = check_rate(max(0.5, rate))
    return twin


def check_text(text: str) -> str:
    cleaned = " ".join(text.split())
    if not any(ch.isalnum() for ch in cleaned):
        raise TtsError(f"nothing to say in {text[:40]!r}")
    return cleaned


_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "no", "approx"}
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_LONG_SENTENCE_CHARS = 160


def split_sentences(text: str) -> list[str]:
    """Split for streaming: at sentence ends (not after "Dr.", "e.g." or inside "3.5"); very long
    sentences are cut once more at a comma or semicolon so the first audio comes sooner."""
    text = " ".join(text.split())
    if not text:
        return []
    parts: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()].strip()
        last_word = candidate.rsplit(" ", 1)[-1].rstrip(".!?").lower()
        # "Dr.", "e.g.", "p.m." and single initials do not end a sentence
        if last_word in _ABBREVIATIONS or "." in last_word or (len(last_word) == 1 and last_word.isalpha()):
            continue
        parts.append(candidate)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    out: list[str] = []
    for part in parts:
        while len(part) > _LONG_SENTENCE_CHARS:
            cut = max(part.rfind(", ", 0, _LONG_SENTENCE_CHARS), part.rfind("; ", 0, _LONG_SENTENCE_CHARS))
            if cut < 40:
                break
            out.append(part[: cut + 1])
            part = part[cut + 2 :]
        out.append(part)
    return [p for p in out if any(ch.isalnum() for ch in p)]


def to_pcm16k(samples: np.ndarray, rate: int) -> bytes:
    """Float (-1..1) or int16 samples at `rate` to 16 kHz int16 little-endian bytes."""
    import soxr

    x = samples.astype(np.float32)
    if samples.dtype == np.int16:
        x /= 32768.0
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != SAMPLE_RATE and x.size:
        x = soxr.resample(x, rate, SAMPLE_RATE, quality="HQ")
    return (np.clip(x, -1.0, 1.0) * 32767).astype("<i2").tobytes()


FALLBACK_ORDER = ("piper", "flite", "espeak-ng")


def _build(engine: str, voice: str, rate: float, coqui_model_dir: str, style: str) -> TtsEngine:
    if engine == "piper":
        from media.tts_piper import PiperTts

        return PiperTts(voice=voice, rate=rate, style=style)
    if engine == "flite":
        from media.tts_cli import FliteTts

        return FliteTts(voice=voice, rate=rate, style=style)
    if engine == "espeak-ng":
        from media.tts_cli import EspeakNgTts

        return EspeakNgTts(voice=voice, rate=rate, style=style)
    if engine == "coqui":
        from media.tts_coqui import CoquiTts

        return CoquiTts(model_dir=coqui_model_dir, rate=rate, style=style)
    raise TtsError(f"unknown TTS engine {engine!r}: use piper, flite, espeak-ng or coqui")


def make_tts(
    engine: str,
    voice: str = "",
    rate: float = 1.0,
    coqui_model_dir: str = "",
    style: str = "friendly",
    strict: bool = False,
) -> TtsEngine:
    """The configured engine, or (unless `strict`) the first of piper, flite, espeak-ng that loads.

    `voice` applies to the configured engine only; a fallback uses its own default voice.
    """
    check_rate(rate)
    style_of(style)
    if engine not in (*FALLBACK_ORDER, "coqui"):
        raise TtsError(f"unknown TTS engine {engine!r}: use piper, flite, espeak-ng or coqui")
    chain = [engine] + ([] if strict else [e for e in FALLBACK_ORDER if e != engine])
    errors: list[str] = []
    for name in chain:
        try:
            built = _build(name, voice if name == engine else "", rate, coqui_model_dir, style)
        except (TtsError, OSError, ImportError) as exc:
            errors.append(f"{name}: {exc}")
            if strict:
                raise TtsError(f"TTS engine {name} cannot load: {exc}") from exc
            logger.warning("TTS engine %s cannot load, trying the next one: %s", name, exc)
            continue
        if name != engine:
            logger.warning("TTS engine %s is used instead of %s", name, engine)
        return built
    raise TtsError("no TTS engine could load: " + "; ".join(errors))
