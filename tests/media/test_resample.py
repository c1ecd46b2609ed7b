"""Resampling quality: whole buffers and 20 ms streams (frequency kept, no steps at chunk
edges, locked frame sizes), and clear errors on bad input."""

import numpy as np
import pytest

from media.resample import LockstepResampler, ResampleError, StreamResampler, resample


def tone(freq: float, seconds: float, rate: int, amp: float = 10000.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.round(amp * np.sin(2 * np.pi * freq * t)).astype("<i2")


def peak_hz(y: np.ndarray, rate: int) -> float:
    y = y.astype(float)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.argmax(spectrum) * rate / y.size)


def as_array(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2")


@pytest.mark.parametrize(("src", "dst"), [(22050, 16000), (16000, 8000), (8000, 16000), (16000, 22050)])
def test_whole_buffer_keeps_length_frequency_and_level(src, dst):
    out = as_array(resample(tone(1000, 1.0, src).tobytes(), src, dst))
    assert abs(out.size - dst) <= 2
    assert abs(peak_hz(out, dst) - 1000) < 3
    rms = np.sqrt(np.mean(out[200:-200].astype(float) ** 2))
    assert abs(rms - 10000 / np.sqrt(2)) < 100


def test_whole_buffer_same_rate_and_empty():
    data = tone(440, 0.1, 16000).tobytes()
    assert resample(data, 16000, 16000) == data
    assert resample(b"", 22050, 16000) == b""


def test_downsampling_removes_what_8k_cannot_carry():
    out = as_array(resample(tone(6000, 0.5, 16000).tobytes(), 16000, 8000)).astype(float)
    assert np.sqrt(np.mean(out[100:-100] ** 2)) < 10  # 6 kHz would alias to 2 kHz otherwise


def test_streaming_round_trip_through_8k_keeps_a_1khz_tone_without_edge_clicks():
    signal = tone(1000, 1.0, 16000)
    down, up = StreamResampler(16000, 8000), StreamResampler(8000, 16000)
    pieces = []
    for i in range(0, signal.size, 320):  # 20 ms chunks
        pieces.append(up.process(down.process(signal[i : i + 320].tobytes())))
    pieces.append(up.process(down.flush()))
    pieces.append(up.flush())
    out = as_array(b"".join(pieces))
    assert abs(out.size - signal.size) <= 4
    assert abs(peak_hz(out, 16000) - 1000) < 3
    body = out[800:-800].astype(float)
    # a sine's largest sample-to-sample step is 2*pi*f/fs*A; a click at a chunk edge exceeds it
    max_step = 2 * np.pi * 1000 / 16000 * 10000
    assert np.max(np.abs(np.diff(body))) <= 1.02 * max_step
    # no DC offset appears
    assert abs(body.mean()) < 20


def test_stream_matches_whole_buffer_quality_for_tts_rate():
    signal = tone(1000, 1.0, 22050)
    stream = StreamResampler(22050, 16000)
    chunks = [stream.process(signal[i : i + 441].tobytes()) for i in range(0, signal.size, 441)]
    out = as_array(b"".join(chunks) + stream.flush())
    assert abs(out.size - 16000) <= 2
    assert abs(peak_hz(out, 16000) - 1000) < 3
    # the stream is reusable after flush
    assert len(stream.process(signal[:441].tobytes())) >= 0


def test_lockstep_returns_exact_sizes_and_contiguous_audio():
    lock = LockstepResampler(8000, 16000)
    signal = tone(500, 1.0, 8000)
    out = []
    for i in range(0, signal.size, 160):
        chunk = lock.process(signal[i : i + 160].tobytes())
        assert len(chunk) == 640
        out.append(chunk)
    y = as_array(b"".join(out)).astype(float)
    assert 0 < lock.delay_samples <= 640  # start-up delay paid once, at most 40 ms
    body = y[lock.delay_samples + 200 :]
    assert np.max(np.abs(np.diff(body))) <= 1.02 * 2 * np.pi * 500 / 16000 * 10000
    assert abs(peak_hz(body, 16000) - 500) < 3


def test_lockstep_fractional_ratio_totals_are_exact():
    lock = LockstepResampler(22050, 16000)
    total = sum(len(lock.process(bytes(2 * n))) // 2 for n in [441, 100, 7, 441, 1000])
    assert total == (441 + 100 + 7 + 441 + 1000) * 16000 // 22050


@pytest.mark.parametrize(("src", "dst"), [(0, 16000), (16000, -1), (16000.5, 8000)])
def test_bad_rates_raise(src, dst):
    with pytest.raises(ResampleError):
        resample(b"\x00\x00", src, dst)
    with pytest.raises(ResampleError):
        StreamResampler(src, dst)


def test_odd_length_pcm_raises():
    with pytest.raises(ResampleError, match="16-bit"):
        resample(b"\x00\x00\x00", 16000, 8000)
    with pytest.raises(ResampleError, match="16-bit"):
        StreamResampler(16000, 8000).process(b"\x01")
