"""Coqui TTS (optional `coqui-tts` package) with a model directory the operator brings.

Owns loading `<model_dir>/config.json` + one checkpoint file (`model.pth`, `best_model.pth`,
`model_file.pth`, or the newest `checkpoint_*.pth`), with an optional `vocoder/` subdirectory
holding its own config.json + checkpoint, and turning text into 16 kHz PCM.

Facts this relies on: Coqui's `Synthesizer` returns float samples at
`tts_config.audio["output_sample_rate"]` (or `sample_rate`); VITS-family models read their
speed from `length_scale` (> 1 is slower). Nothing is downloaded: only files on disk are used.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from media.tts import TtsError, check_rate, check_text, split_sentences, style_of, to_pcm16k

_CHECKPOINT_NAMES = ("model.pth", "best_model.pth", "model_file.pth", "model.pt")


def find_checkpoint(directory: Path) -> Path:
    for name in _CHECKPOINT_NAMES:
        if (directory / name).is_file():
            return directory / name
    checkpoints = sorted(directory.glob("checkpoint_*.pth"), key=lambda p: p.stat().st_mtime)
    if checkpoints:
        return checkpoints[-1]
    raise TtsError(
        f"Coqui model directory {directory} has no {', '.join(_CHECKPOINT_NAMES)} or checkpoint_*.pth"
    )


class CoquiTts:
    name = "coqui"

    def __init__(self, model_dir: str, rate: float = 1.0, style: str = "friendly") -> None:
        if not model_dir:
            raise TtsError(
                "Coqui TTS needs tts.coqui_model_dir (a directory with config.json and a model file)"
            )
        directory = Path(model_dir)
        config = directory / "config.json"
        if not config.is_file():
            raise TtsError(f"Coqui model directory {directory} has no config.json")
        checkpoint = find_checkpoint(directory)
        try:
            from TTS.utils.synthesizer import Synthesizer
        except ImportError as exc:
            raise TtsError("coqui-tts is not installed (pip install 'kayako-voice[coqui]')") from exc
        vocoder_dir = directory / "vocoder"
        vocoder_args: dict[str, str] = {}
        if (vocoder_dir / "config.json").is_file():
            vocoder_args = {
                "vocoder_checkpoint": str(find_checkpoint(vocoder_dir)),
                "vocoder_config": str(vocoder_dir / "config.json"),
            }
        self.voice = directory.name
        self.rate = check_rate(rate)
        self.style = style
        self._style = style_of(style)
        try:
            self._synth = Synthesizer(
                tts_checkpoint=str(checkpoint), tts_config_path=str(config), use_cuda=False, **vocoder_args
            )
        except Exception as exc:  # Coqui raises many kinds of errors for a bad model
            raise TtsError(f"Coqui model {checkpoint} cannot load: {exc}") from exc
        model = self._synth.tts_model
        if hasattr(model, "length_scale"):
            model.length_scale = float(model.length_scale) / (self.rate * self._style.rate_factor)
        self._sample_rate = int(self._synth.output_sample_rate)
        self._lock = threading.Lock()

    def sentences(self, text: str) -> list[str]:
        return split_sentences(text)

    def synthesize(self, text: str) -> bytes:
        text = check_text(text)
        try:
            with self._lock:
                wav = self._synth.tts(text, split_sentences=False)
        except Exception as exc:  # surfaced as TtsError with the model's message
            raise TtsError(f"Coqui could not synthesize {text[:40]!r}: {exc}") from exc
        samples = np.asarray(wav, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            raise TtsError(f"Coqui produced no audio for {text[:40]!r}")
        peak = float(np.max(np.abs(samples)))
        if peak > 1.0:
            samples = samples / peak
        return to_pcm16k(samples, self._sample_rate)
