"""Fallback text-to-speech through the Debian `flite` and `espeak-ng` programs.

Owns running those binaries (text in a temporary file, WAV out) and converting their output
to 16 kHz PCM. They load in milliseconds and need no model package, so they are the fallbacks
when Piper cannot load.

Facts this relies on: `flite -voice slt` writes 16 kHz WAV (kal: 8 kHz) and slows down with
`--setf duration_stretch=F` (F > 1 is slower); `espeak-ng -w` writes 22,050 Hz WAV, speaks at
`-s` words per minute (175 by default) and takes a pitch `-p` 0..99 (50 by default).
Text goes through a file (`-f`) so text starting with "-" is never read as an option.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from media.tts import TtsError, check_rate, check_text, split_sentences, style_of, to_pcm16k

_TIMEOUT_S = 30.0


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """int16 samples (mono mixdown) and sample rate of a 16-bit PCM WAV file."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise TtsError(f"{path}: expected 16-bit PCM WAV, got {8 * w.getsampwidth()}-bit")
            channels = w.getnchannels()
            rate = w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    except (wave.Error, EOFError) as exc:
        raise TtsError(f"{path}: not a readable WAV file: {exc}") from exc
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return data, rate


class _CliTts:
    name = ""
    rate_per_call = True  # the rate is read at each synthesis (see media.tts.at_rate)
    binary = ""

    def __init__(self, voice: str, rate: float, style: str) -> None:
        path = shutil.which(self.binary)
        if path is None:
            raise TtsError(f"{self.binary} is not installed (Debian package {self.binary})")
        self._path = path
        self.voice = voice
        self.rate = check_rate(rate)
        self.style = style
        self._style = style_of(style)

    def sentences(self, text: str) -> list[str]:
        return split_sentences(text)

    def _command(self, text_file: Path, wav_file: Path) -> list[str]:
        raise NotImplementedError

    def synthesize(self, text: str) -> bytes:
        text = check_text(text)
        with tempfile.TemporaryDirectory(prefix="kv-tts-") as tmp:
            text_file = Path(tmp) / "text.txt"
            wav_file = Path(tmp) / "out.wav"
            text_file.write_text(text + "\n", encoding="utf-8")
            try:
                proc = subprocess.run(
                    self._command(text_file, wav_file), capture_output=True, timeout=_TIMEOUT_S, check=False
                )
            except subprocess.TimeoutExpired as exc:
                raise TtsError(f"{self.binary} took longer than {_TIMEOUT_S:.0f} s") from exc
            if proc.returncode != 0 or not wav_file.exists():
                err = proc.stderr.decode("utf-8", "replace").strip()[:200]
                raise TtsError(f"{self.binary} failed (exit {proc.returncode}): {err}")
            samples, sample_rate = read_wav(wav_file)
        if samples.size == 0:
            raise TtsError(f"{self.binary} produced no audio for {text[:40]!r}")
        return to_pcm16k(samples, sample_rate)


class FliteTts(_CliTts):
    name = "flite"
    binary = "flite"

    def __init__(self, voice: str = "", rate: float = 1.0, style: str = "friendly") -> None:
        super().__init__(voice or "slt", rate, style)

    def _command(self, text_file: Path, wav_file: Path) -> list[str]:
        stretch = 1.0 / (self.rate * self._style.rate_factor)
        return [
            self._path,
            "-voice",
            self.voice,
            "--setf",
            f"duration_stretch={stretch:.3f}",
            "-f",
            str(text_file),
            "-o",
            str(wav_file),
        ]


class EspeakNgTts(_CliTts):
    name = "espeak-ng"
    binary = "espeak-ng"

    def __init__(self, voice: str = "", rate: float = 1.0, style: str = "friendly") -> None:
        super().__init__(voice or "en-us", rate, style)

    def _command(self, text_file: Path, wav_file: Path) -> list[str]:
        wpm = round(175 * self.rate * self._style.rate_factor)
        pitch = 50 + self._style.pitch_shift
        return [
            self._path,
            "-v",
            self.voice,
            "-s",
            str(wpm),
            "-p",
            str(pitch),
            "-w",
            str(wav_file),
            "-f",
            str(text_file),
        ]
