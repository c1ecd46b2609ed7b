"""Internal audio frame format shared by every media module.

Everything inside the app is mono signed 16-bit little-endian PCM at 16 kHz, cut into
20 ms frames: 320 samples = 640 bytes. RTP carries one such frame per packet (Asterisk
externalMedia sends and expects 20 ms packets).
"""

from __future__ import annotations

SAMPLE_RATE = 16000
SAMPLE_WIDTH = 2
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 320
FRAME_BYTES = FRAME_SAMPLES * SAMPLE_WIDTH  # 640
SILENCE_FRAME = bytes(FRAME_BYTES)


def split_frames(pcm: bytes) -> list[bytes]:
    """Cut internal PCM into 20 ms frames; a partial last frame is padded with silence.

    Raises ValueError when `pcm` is not a whole number of 16-bit samples.
    """
    if len(pcm) % SAMPLE_WIDTH:
        raise ValueError(f"PCM length {len(pcm)} is not a whole number of 16-bit samples")
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    if frames and len(frames[-1]) < FRAME_BYTES:
        frames[-1] = frames[-1] + bytes(FRAME_BYTES - len(frames[-1]))
    return frames


def duration_ms(pcm: bytes, rate: int = SAMPLE_RATE) -> float:
    """Length of 16-bit mono PCM in milliseconds."""
    return len(pcm) / SAMPLE_WIDTH / rate * 1000.0
