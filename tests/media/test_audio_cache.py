"""AudioCache: memory, then disk, then synthesis; keys follow what changes the sound."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from media.audio_cache import AudioCache
from media.tts import TtsError


class CountingEngine:
    """A real-shaped engine that records how often it is asked to synthesize."""

    name = "counting"

    def __init__(self, voice: str = "v1", rate: float = 1.0, style: str = "friendly") -> None:
        self.voice, self.rate, self.style = voice, rate, style
        self.calls: list[str] = []

    def synthesize(self, text: str) -> bytes:
        if not text.strip():
            raise TtsError("nothing to say")
        self.calls.append(text)
        return (text.encode() * 4)[: 2 * (len(text) * 2 // 2)] or b"\x00\x00"

    def sentences(self, text: str) -> list[str]:
        return [text]


def test_second_get_hits_memory_then_disk_without_synthesis(tmp_path: Path) -> None:
    engine = CountingEngine()
    cache = AudioCache(str(tmp_path), engine)
    assert cache.get("Hello caller") is None
    first = cache.get_or_synthesize("Hello caller")
    assert cache.get_or_synthesize("Hello  caller ") == first  # same text after whitespace folding
    assert engine.calls == ["Hello caller"]
    # a new process: empty memory, the disk answers
    fresh = AudioCache(str(tmp_path), engine)
    assert fresh.get("Hello caller") == first
    assert fresh.get_or_synthesize("Hello caller") == first
    assert engine.calls == ["Hello caller"]
    assert fresh.path(fresh.key("Hello caller")).read_bytes() == first


def test_key_changes_with_voice_rate_style_and_engine(tmp_path: Path) -> None:
    base = AudioCache(str(tmp_path), CountingEngine()).key("Hi")
    assert AudioCache(str(tmp_path), CountingEngine(voice="v2")).key("Hi") != base
    assert AudioCache(str(tmp_path), CountingEngine(rate=1.1)).key("Hi") != base
    assert AudioCache(str(tmp_path), CountingEngine(style="formal")).key("Hi") != base
    other = CountingEngine()
    other.name = "other"
    assert AudioCache(str(tmp_path), other).key("Hi") != base
    assert AudioCache(str(tmp_path), CountingEngine()).key("Hi ") == base


def test_warm_counts_only_new_syntheses(tmp_path: Path) -> None:
    engine = CountingEngine()
    cache = AudioCache(str(tmp_path), engine)
    assert cache.warm(["Hello", "Goodbye", "Hello", ""]) == 2
    assert cache.warm(["Hello", "Goodbye", "Thanks"]) == 1
    assert engine.calls == ["Hello", "Goodbye", "Thanks"]


def test_damaged_file_is_synthesized_again(tmp_path: Path) -> None:
    engine = CountingEngine()
    cache = AudioCache(str(tmp_path), engine)
    pcm = cache.get_or_synthesize("Hello")
    cache.path(cache.key("Hello")).write_bytes(b"\x01\x02\x03")  # odd length: torn write
    fresh = AudioCache(str(tmp_path), engine)
    assert fresh.get("Hello") is None
    assert fresh.get_or_synthesize("Hello") == pcm
    assert len(engine.calls) == 2


def test_memory_is_bounded_and_disk_keeps_everything(tmp_path: Path) -> None:
    engine = CountingEngine()
    cache = AudioCache(str(tmp_path), engine, memory_bytes=200)
    for i in range(50):
        cache.get_or_synthesize(f"sentence number {i}")
    assert cache._memory_bytes <= 200
    assert cache.get("sentence number 0") is not None
    assert len(engine.calls) == 50


def test_synthesis_error_is_not_cached(tmp_path: Path) -> None:
    cache = AudioCache(str(tmp_path), CountingEngine())
    with pytest.raises(TtsError):
        cache.get_or_synthesize("   ")
    assert list(tmp_path.rglob("*.pcm")) == []


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_real_engine_round_trip(tmp_path: Path) -> None:
    from media.tts import make_tts

    engine = make_tts("espeak-ng", strict=True)
    cache = AudioCache(str(tmp_path), engine)
    pcm = cache.get_or_synthesize("Your case number is 42.")
    assert len(pcm) > 16000 and AudioCache(str(tmp_path), engine).get("Your case number is 42.") == pcm
