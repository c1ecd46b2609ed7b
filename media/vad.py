"""Voice activity detection: the probability that one 20 ms frame of caller audio is speech.

Owns the two VAD engines behind one `Vad` protocol. Input is always one frame of the internal
format: mono int16 little-endian PCM at 16 kHz, 20 ms = 320 samples = 640 bytes.

Facts this relies on:
- Silero VAD v6 (the ONNX file shipped in faster-whisper's assets) takes 512-sample windows
  (32 ms at 16 kHz) preceded by the previous window's last 64 samples, plus an LSTM state
  (h, c: 1x1x128) that must be carried from window to window. A 20 ms frame is therefore
  buffered; a window is scored whenever 512 new samples are in, so each frame costs at most
  one ONNX run (about 0.1-0.3 ms on one core) and the answer lags by at most 12 ms.
- webrtcvad only accepts 10/20/30 ms frames at 8/16/32/48 kHz and answers yes/no (1.0/0.0).
"""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np

from media.models import silero_vad_file

FRAME_BYTES = 640
SAMPLE_RATE = 16000
_WINDOW = 512
_CONTEXT = 64


class Vad(Protocol):
    def speech_prob(self, frame: bytes) -> float: ...


def check_frame(frame: bytes) -> None:
    if len(frame) != FRAME_BYTES:
        raise ValueError(
            f"VAD frame must be {FRAME_BYTES} bytes (20 ms of 16 kHz int16 mono), got {len(frame)}"
        )


class WebRtcVad:
    """webrtcvad (Google's GMM VAD). Mode 0..3: higher rejects more non-speech."""

    def __init__(self, mode: int = 3) -> None:
        import webrtcvad

        if mode not in (0, 1, 2, 3):
            raise ValueError(f"webrtcvad mode must be 0..3, got {mode}")
        self._vad = webrtcvad.Vad(mode)

    def speech_prob(self, frame: bytes) -> float:
        check_frame(frame)
        return 1.0 if self._vad.is_speech(frame, SAMPLE_RATE) else 0.0

    def reset(self) -> None:
        """webrtcvad keeps no state between frames that we need to clear."""


_session_lock = threading.Lock()
_session = None


def _silero_session():  # type: ignore[no-untyped-def]
    """One ONNX session per process; `run` is thread-safe, the LSTM state lives in each SileroVad."""
    global _session
    with _session_lock:
        if _session is None:
            import onnxruntime

            opts = onnxruntime.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            _session = onnxruntime.InferenceSession(
                str(silero_vad_file()), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        return _session


class SileroVad:
    """Silero VAD v6 over onnxruntime, streaming: one instance per audio stream (it holds state)."""

    def __init__(self) -> None:
        self._session = _silero_session()
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._last = 0.0

    def speech_prob(self, frame: bytes) -> float:
        check_frame(frame)
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
        self._pending = np.concatenate([self._pending, samples])
        while len(self._pending) >= _WINDOW:
            window = self._pending[:_WINDOW]
            self._pending = self._pending[_WINDOW:]
            self._last = self._score(window)
        return self._last

    def _score(self, window: np.ndarray) -> float:
        x = np.concatenate([self._context, window])[None, :]
        prob, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = window[-_CONTEXT:]
        return float(np.asarray(prob).reshape(-1)[0])


def make_vad(kind: str = "silero") -> Vad:
    """A fresh VAD for one audio stream: "silero" (default) or "webrtc"."""
    if kind == "silero":
        return SileroVad()
    if kind == "webrtc":
        return WebRtcVad()
    raise ValueError(f"unknown VAD {kind!r}: use 'silero' or 'webrtc'")


def speech_probs(samples: np.ndarray) -> np.ndarray:
    """Silero speech probability of every 512-sample window of a whole utterance (float32, 16 kHz),
    in one ONNX run with a fresh state; the last window is zero-padded."""
    if samples.size == 0:
        return np.zeros(0, dtype=np.float32)
    pad = (-samples.size) % _WINDOW
    x = np.concatenate([samples.astype(np.float32), np.zeros(pad, dtype=np.float32)]).reshape(-1, _WINDOW)
    context = np.concatenate([np.zeros((1, _CONTEXT), np.float32), x[:-1, -_CONTEXT:]], axis=0)
    batch = np.ascontiguousarray(np.concatenate([context, x], axis=1))
    h = np.zeros((1, 1, 128), dtype=np.float32)
    c = np.zeros((1, 1, 128), dtype=np.float32)
    probs, _, _ = _silero_session().run(None, {"input": batch, "h": h, "c": c})
    return np.asarray(probs, dtype=np.float32).reshape(-1)
