"""`kayako-voice eval stt`: word error rate and real-time factor of the configured STT engine.

Input: a folder of WAV files (16-bit PCM, any rate, mono or stereo; resampled to 16 kHz) and a
transcript file with one `name: text` line per WAV (name without `.wav`; blank lines and lines
starting with `#` are ignored). Output: `n` (utterances), `wer` (corpus WER, media.wer) and
`rtf` (total decode time / total audio duration; under 1 is faster than real time).
Every listed name must have its WAV: a missing or unreadable file stops the run with exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import wave
from pathlib import Path

import numpy as np

from ari_app.settings import SettingsError
from ari_app.speech import configured_stt
from media.stt import SttError
from media.wer import corpus_wer


def read_transcripts(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SettingsError(f"eval stt: cannot read transcripts {path}: {exc.strerror}") from None
    out: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, text = line.partition(":")
        if not sep or not name.strip():
            raise SettingsError(f"eval stt: {path}:{number}: expected 'name: text', got {line[:60]!r}")
        name = name.strip().removesuffix(".wav")
        if name in out:
            raise SettingsError(f"eval stt: {path}:{number}: {name!r} is listed twice")
        out[name] = text.strip()
    if not out:
        raise SettingsError(f"eval stt: {path} lists no utterances")
    return out


def read_wav_16k(path: Path) -> bytes:
    """16 kHz mono int16 PCM from a 16-bit PCM WAV file."""
    import soxr

    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise SettingsError(f"eval stt: {path}: expected 16-bit PCM, got {8 * w.getsampwidth()}-bit")
            channels, rate = w.getnchannels(), w.getframerate()
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    except (OSError, wave.Error, EOFError) as exc:
        raise SettingsError(f"eval stt: {path}: not a readable WAV file: {exc}") from None
    x = samples.astype(np.float32) / 32768.0
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    if rate != 16000 and x.size:
        x = soxr.resample(x, rate, 16000)
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def run(args: argparse.Namespace) -> int:
    wav_dir = Path(args.wav_dir)
    if not wav_dir.is_dir():
        raise SettingsError(f"eval stt: --wav-dir {wav_dir} is not a directory")
    transcripts = read_transcripts(Path(args.transcripts))
    missing = [name for name in transcripts if not (wav_dir / f"{name}.wav").is_file()]
    if missing:
        raise SettingsError(f"eval stt: no WAV in {wav_dir} for {', '.join(sorted(missing)[:10])}")
    audio = {name: read_wav_16k(wav_dir / f"{name}.wav") for name in transcripts}
    try:
        engine = configured_stt(args.settings)
        results = {name: engine.transcribe(pcm) for name, pcm in audio.items()}
    except SttError as exc:
        print(f"kayako-voice: eval stt: {exc}", file=sys.stderr)
        return 1
    audio_s = sum(len(pcm) for pcm in audio.values()) / 32000
    decode_s = sum(r.decode_ms for r in results.values()) / 1000
    report = {
        "n": len(results),
        "wer": round(corpus_wer((transcripts[n], r.text) for n, r in results.items()), 4),
        "rtf": round(decode_s / audio_s, 4) if audio_s else 0.0,
    }
    if args.json:
        print(json.dumps(report))
    else:
        for name, result in results.items():
            print(f"{name}: {result.text!r} (confidence {result.confidence:.2f}, {result.decode_ms:.0f} ms)")
        print(f"{report['n']} utterances, WER {report['wer']:.3f}, RTF {report['rtf']:.3f} ({engine.name})")
    return 0
