"""Synthesized speech kept as PCM: fixed prompts and KB answers are spoken without waiting on TTS.

Owns the two-level cache (memory, then disk) keyed by what changes the sound: text, engine,
voice, rate and style. Files are raw 16 kHz int16 little-endian PCM (`<key>.pcm`, under a
two-character fan-out directory), written to a temporary file and renamed, so a crash never
leaves half a file under a real key.

Numbers it relies on: one second of speech is 32,000 bytes, so a 64 MiB memory budget holds
about 35 minutes of prompts and answers; beyond that the least recently used leave memory
(they stay on disk).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from media.tts import TtsEngine

logger = logging.getLogger(__name__)

CACHE_FORMAT = "pcm-s16le-16000-v1"


class AudioCache:
    def __init__(self, directory: str, engine: TtsEngine, memory_bytes: int = 64 << 20) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.engine = engine
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._memory_bytes = 0
        self._memory_limit = memory_bytes
        self._lock = threading.Lock()

    @staticmethod
    def normalize(text: str) -> str:
        return " ".join(text.split())

    def key(self, text: str) -> str:
        """Hash of the normalized text + engine name + voice + rate (+ style when the engine has one)."""
        parts = [
            CACHE_FORMAT,
            self.engine.name,
            self.engine.voice,
            f"{float(self.engine.rate):.4f}",
            str(getattr(self.engine, "style", "")),
            self.normalize(text),
        ]
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.pcm"

    def get(self, text: str) -> bytes | None:
        """Cached PCM from memory, else disk; never synthesizes."""
        key = self.key(text)
        with self._lock:
            pcm = self._memory.get(key)
            if pcm is not None:
                self._memory.move_to_end(key)
                return pcm
        path = self.path(key)
        try:
            pcm = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("audio cache file %s cannot be read: %s", path, exc)
            return None
        if not pcm or len(pcm) % 2:
            logger.warning(
                "audio cache file %s is damaged (%d bytes); it will be synthesized again", path, len(pcm)
            )
            path.unlink(missing_ok=True)
            return None
        self._remember(key, pcm)
        return pcm

    def get_or_synthesize(self, text: str) -> bytes:
        pcm = self.get(text)
        if pcm is not None:
            return pcm
        pcm = self.engine.synthesize(text)
        self._store(self.key(text), pcm)
        return pcm

    def warm(self, texts: Iterable[str], remember: bool = True) -> int:
        """Synthesize every text not cached yet (start-up, KB import); returns how many were synthesized.

        `remember=False` only makes sure the audio is on disk: rarely said texts (hundreds of
        follow-up sentences) are neither read back nor let push the prompts out of memory."""
        count = 0
        for text in dict.fromkeys(self.normalize(t) for t in texts):
            if not text:
                continue
            cached = self.get(text) is not None if remember else self.path(self.key(text)).is_file()
            if cached:
                continue
            self._store(self.key(text), self.engine.synthesize(text), remember)
            count += 1
        return count

    def _store(self, key: str, pcm: bytes, remember: bool = True) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(pcm)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise
        if remember:
            self._remember(key, pcm)

    def _remember(self, key: str, pcm: bytes) -> None:
        if len(pcm) > self._memory_limit:
            return
        with self._lock:
            old = self._memory.pop(key, None)
            if old is not None:
                self._memory_bytes -= len(old)
            self._memory[key] = pcm
            self._memory_bytes += len(pcm)
            while self._memory_bytes > self._memory_limit:
                _, dropped = self._memory.popitem(last=False)
                self._memory_bytes -= len(dropped)
