"""G.711 mu-law / A-law and slin16 codecs: reference values, full-range agreement with the
reference implementation, frame sizes and stream behaviour of Codec objects."""

import warnings

import numpy as np
import pytest

from media.codecs import (
    PAYLOAD_TYPES,
    Codec,
    CodecError,
    alaw_decode,
    alaw_encode,
    codec_for,
    ulaw_decode,
    ulaw_encode,
)
from media.frames import FRAME_BYTES

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop  # removed in Python 3.13; the G.711 reference while it exists
    except ImportError:  # pragma: no cover
        audioop = None

ALL_INT16 = np.arange(-32768, 32768, dtype="<i2").tobytes()


def pcm(*values: int) -> bytes:
    return np.array(values, dtype="<i2").tobytes()


def samples(data: bytes) -> list[int]:
    return np.frombuffer(data, dtype="<i2").tolist()


def test_ulaw_table_endpoints():
    assert samples(ulaw_decode(bytes([0x00, 0x80, 0xFF, 0x7F]))) == [-32124, 32124, 0, 0]
    assert ulaw_encode(pcm(0, 32767, -32768, 32124, -32124)) == bytes([0xFF, 0x80, 0x00, 0x80, 0x00])


def test_alaw_table_endpoints():
    assert samples(alaw_decode(bytes([0x2A, 0xAA, 0xD5, 0x55]))) == [-32256, 32256, 8, -8]
    assert alaw_encode(pcm(0, 32767, -32768, 32256, -32256)) == bytes([0xD5, 0xAA, 0x2A, 0xAA, 0x2A])


@pytest.mark.skipif(audioop is None, reason="audioop (the reference) is gone in this Python")
def test_agrees_with_reference_on_every_input():
    assert ulaw_encode(ALL_INT16) == audioop.lin2ulaw(ALL_INT16, 2)
    assert alaw_encode(ALL_INT16) == audioop.lin2alaw(ALL_INT16, 2)
    codes = bytes(range(256))
    assert ulaw_decode(codes) == audioop.ulaw2lin(codes, 2)
    assert alaw_decode(codes) == audioop.alaw2lin(codes, 2)


@pytest.mark.parametrize(("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_code_words_are_fixed_points_and_quantisation_is_logarithmic(encode, decode):
    codes = bytes(range(256))
    decoded = decode(codes)
    # decoding then encoding every code word gives it back (except mu-law's negative zero)
    back = encode(decoded)
    assert sum(a != b for a, b in zip(back, codes, strict=True)) <= 1
    x = np.frombuffer(ALL_INT16, dtype="<i2").astype(np.int64)
    err = np.abs(np.frombuffer(decode(encode(ALL_INT16)), dtype="<i2").astype(np.int64) - x)
    big = np.abs(x) > 1024
    assert np.all(err[big] <= np.abs(x[big]) / 16)  # about 4 bits of mantissa: <= 1/16 relative
    assert np.all(err[~big] <= 64)


def test_odd_length_pcm_is_rejected():
    with pytest.raises(CodecError):
        ulaw_encode(b"\x00\x01\x02")


def test_codec_for_names_and_payload_types():
    assert PAYLOAD_TYPES["pcmu"] == 0 and PAYLOAD_TYPES["pcma"] == 8
    ulaw, alaw, slin = codec_for("ulaw"), codec_for("ALAW"), codec_for("slin16")
    assert (ulaw.payload_type, ulaw.wire_rate, ulaw.frame_wire_bytes) == (0, 8000, 160)
    assert (alaw.payload_type, alaw.wire_rate, alaw.frame_wire_bytes) == (8, 8000, 160)
    assert (slin.payload_type, slin.wire_rate, slin.frame_wire_bytes) == (118, 16000, 640)
    assert codec_for("slin16", payload_type=96).payload_type == 96
    assert codec_for("pcmu").name == "ulaw"
    assert codec_for("ulaw") is not codec_for("ulaw")  # stateful: one per call
    with pytest.raises(CodecError, match="unknown codec"):
        codec_for("opus")
    with pytest.raises(CodecError):
        codec_for("slin16", payload_type=200)


def test_slin16_is_big_endian_on_the_wire():
    codec = codec_for("slin16")
    frame = pcm(1, -2, 0x1234) + bytes(FRAME_BYTES - 6)
    wire = codec.encode(frame)
    assert wire[:6] == bytes([0x00, 0x01, 0xFF, 0xFE, 0x12, 0x34])
    assert codec.decode(wire) == frame
    with pytest.raises(CodecError, match="16-bit"):
        codec.decode(b"\x00\x01\x02")


def tone(freq: float, n: int, rate: int = 16000, amp: float = 8000.0, start: int = 0) -> np.ndarray:
    t = (np.arange(n) + start) / rate
    return np.round(amp * np.sin(2 * np.pi * freq * t)).astype("<i2")


@pytest.mark.parametrize("name", ["ulaw", "alaw"])
def test_g711_codec_is_frame_locked_and_keeps_a_tone(name):
    codec: Codec = codec_for(name)
    signal = tone(1000, 16000)
    decoded = []
    for i in range(0, signal.size, 320):
        payload = codec.encode(signal[i : i + 320].tobytes())
        assert len(payload) == 160
        out = codec.decode(payload)
        assert len(out) == FRAME_BYTES
        decoded.append(out)
    y = np.frombuffer(b"".join(decoded), dtype="<i2").astype(float)[4000:]
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    peak_hz = np.argmax(spectrum) * 16000 / y.size
    assert abs(peak_hz - 1000) < 5
    rms = np.sqrt(np.mean(y**2))
    assert abs(rms - 8000 / np.sqrt(2)) < 0.05 * 8000 / np.sqrt(2)


def test_conceal_repeats_the_last_packet_fading():
    codec = codec_for("slin16")
    frame = np.full(320, 1000, dtype="<i2").tobytes()
    codec.decode(codec.encode(frame))
    first = np.frombuffer(codec.conceal(), dtype="<i2")
    second = np.frombuffer(codec.conceal(), dtype="<i2")
    assert first[0] == 1000 and 400 < first[-1] < 600
    assert second.max() <= first[-1] and second.min() > 0
    for _ in range(5):
        last = codec.conceal()
    assert last == bytes(FRAME_BYTES)


@pytest.mark.parametrize("name", ["ulaw", "alaw"])
def test_reset_encoder_drops_the_resampled_tail_so_nothing_follows_a_barge_in(name: str) -> None:
    loud = (np.sin(np.arange(320 * 10) * 0.2) * 8000).astype("<i2").tobytes()
    quiet = bytes(640)

    def first_quiet_packet_peak(reset: bool) -> int:
        codec = codec_for(name)
        for i in range(10):
            codec.encode(loud[i * 640 : (i + 1) * 640])
        if reset:
            codec.reset_encoder()
        wire = np.frombuffer(codec.wire_pcm(codec.encode(quiet)), dtype="<i2")
        return int(np.abs(wire).max())

    assert first_quiet_packet_peak(reset=False) > 4000  # the resampler still held ~15 ms of speech
    assert first_quiet_packet_peak(reset=True) < 100
