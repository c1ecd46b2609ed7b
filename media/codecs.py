"""Wire codecs for Asterisk externalMedia: G.711 mu-law / A-law (8 kHz) and slin16.

Facts relied on:
- G.711 (ITU-T G.711, in the form of the classic Sun reference code that CPython's audioop
  also uses; the tests compare all 65536 inputs against audioop where it exists): mu-law
  works on the top 14 bits, clips the magnitude at 8159, biases it by 33 and bit-inverts the
  code; A-law works on the top 13 bits and inverts the even bits (XOR 0x55). Endpoints: mu-law 0x00/0x80 decode to -32124/+32124, 0xFF to
  0; A-law 0x2A/0xAA decode to -32256/+32256, 0xD5/0x55 to +8/-8.
- slin16 on the wire is 16-bit signed *big-endian* at 16 kHz (RTP network byte order);
  Asterisk's externalMedia offers it on a dynamic payload type (we default to 118 and accept
  whatever PT we are told).
- RTP static payload types (RFC 3551): PCMU = 0, PCMA = 8.

A Codec object carries stream state (resampler history, loss concealment), so use one
instance per call and per direction pair: `codec_for` returns a fresh one each time.
"""

from __future__ import annotations

import numpy as np

from media.frames import FRAME_MS, SAMPLE_RATE
from media.jitter import LossConcealer
from media.resample import LockstepResampler

PAYLOAD_TYPES: dict[str, int] = {"pcmu": 0, "pcma": 8, "ulaw": 0, "alaw": 8, "slin16": 118}
SLIN16_DEFAULT_PT = 118

_MULAW_BIAS = 0x84
_MULAW_CLIP = 32635


class CodecError(ValueError):
    """Unknown codec name or a payload that cannot be decoded."""


def _segment(values: np.ndarray) -> np.ndarray:
    """floor(log2(v)) for v >= 1, 0 for v == 0 (values are small non-negative ints)."""
    _, exp = np.frexp(np.maximum(values, 1).astype(np.float64))
    return (exp - 1).astype(np.int32)


def _build_ulaw_encode_table() -> np.ndarray:
    # 14-bit reference form: magnitude of (pcm >> 2), clipped to 8159, biased by 33.
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), _MULAW_CLIP >> 2) + (_MULAW_BIAS >> 2)
    seg = np.maximum(_segment(magnitude) - 5, 0)
    codes = np.where(seg >= 8, 0x7F, (seg << 4) | ((magnitude >> (seg + 1)) & 0x0F)) ^ mask
    # index by the int16 bit pattern read as uint16
    return np.roll(codes.astype(np.uint8), -32768)


def _build_ulaw_decode_table() -> np.ndarray:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _MULAW_BIAS) << exponent) - _MULAW_BIAS
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _build_alaw_encode_table() -> np.ndarray:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = _segment(magnitude >> 4)
    shift = np.where(seg < 2, 1, seg)
    codes = np.where(seg >= 8, 0x7F, (seg << 4) | ((magnitude >> shift) & 0x0F)) ^ mask
    return np.roll(codes.astype(np.uint8), -32768)


def _build_alaw_decode_table() -> np.ndarray:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (code & 0x70) >> 4
    base = ((code & 0x0F) << 4) + np.where(seg == 0, 8, 0x108)
    magnitude = np.where(seg > 1, base << np.maximum(seg - 1, 0), base)
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


_ULAW_ENCODE = _build_ulaw_encode_table()
_ULAW_DECODE = _build_ulaw_decode_table()
_ALAW_ENCODE = _build_alaw_encode_table()
_ALAW_DECODE = _build_alaw_decode_table()


def _pcm_view(pcm: bytes) -> np.ndarray:
    if len(pcm) % 2:
        raise CodecError(f"PCM length {len(pcm)} is not a whole number of 16-bit samples")
    return np.frombuffer(pcm, dtype="<i2")


def ulaw_encode(pcm: bytes) -> bytes:
    """int16 LE PCM (any rate) -> mu-law bytes, one per sample."""
    return _ULAW_ENCODE[_pcm_view(pcm).view(np.uint16)].tobytes()


def ulaw_decode(data: bytes) -> bytes:
    """mu-law bytes -> int16 LE PCM, one sample per byte."""
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


def alaw_encode(pcm: bytes) -> bytes:
    """int16 LE PCM (any rate) -> A-law bytes, one per sample."""
    return _ALAW_ENCODE[_pcm_view(pcm).view(np.uint16)].tobytes()


def alaw_decode(data: bytes) -> bytes:
    """A-law bytes -> int16 LE PCM, one sample per byte."""
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


class Codec:
    """One call's wire codec: internal 16 kHz PCM <-> RTP payload bytes.

    encode/decode are streaming (resampler state carries across calls) and length-locked: a
    20 ms frame in gives exactly one 20 ms payload out and vice versa.
    """

    name: str
    payload_type: int
    wire_rate: int
    frame_wire_bytes: int

    def __init__(self, name: str, payload_type: int, wire_rate: int, bytes_per_sample: int) -> None:
        if not 0 <= payload_type <= 127:
            raise CodecError(f"payload type {payload_type} outside 0..127")
        self.name = name
        self.payload_type = payload_type
        self.wire_rate = wire_rate
        self.bytes_per_sample = bytes_per_sample
        self.frame_wire_samples = wire_rate * FRAME_MS // 1000
        self.frame_wire_bytes = self.frame_wire_samples * bytes_per_sample
        self._down = LockstepResampler(SAMPLE_RATE, wire_rate) if wire_rate != SAMPLE_RATE else None
        self._up = LockstepResampler(wire_rate, SAMPLE_RATE) if wire_rate != SAMPLE_RATE else None
        self._concealer = LossConcealer()

    def __repr__(self) -> str:
        return f"Codec({self.name!r}, pt={self.payload_type}, {self.wire_rate} Hz)"

    # wire-rate linear PCM (int16 LE) <-> payload
    def _to_wire(self, linear: bytes) -> bytes:
        raise NotImplementedError

    def _from_wire(self, payload: bytes) -> bytes:
        raise NotImplementedError

    def wire_samples(self, payload: bytes) -> int:
        """How many wire-rate samples a payload holds (the RTP timestamp increment)."""
        return len(payload) // self.bytes_per_sample

    def encode(self, pcm16k: bytes) -> bytes:
        _pcm_view(pcm16k)
        linear = self._down.process(pcm16k) if self._down else pcm16k
        return self._to_wire(linear)

    def decode(self, payload: bytes) -> bytes:
        """Payload -> internal 16 kHz PCM. Raises CodecError on a payload it cannot hold."""
        linear = self._from_wire(payload)
        self._concealer.remember(linear)
        return self._up.process(linear) if self._up else linear

    def conceal(self) -> bytes:
        """Internal PCM standing in for one lost packet (the last one repeated, fading out)."""
        linear = self._concealer.conceal(self.frame_wire_samples)
        return self._up.process(linear) if self._up else linear

    def wire_pcm(self, payload: bytes) -> bytes:
        """Payload -> linear PCM at the wire rate, stateless: what is on the line in this packet,
        without the resampler's delay (for measuring when sound starts and stops)."""
        return self._from_wire(payload)

    def reset_encoder(self) -> None:
        """Drop what the encoder's resampler still holds (about 15 ms at 8 kHz), so the packet
        after a barge-in carries none of the interrupted speech."""
        if self._down:
            self._down.reset()

    def reset(self) -> None:
        """Forget stream state (a new RTP source started)."""
        if self._up:
            self._up.reset()
        self._concealer = LossConcealer()


class Slin16Codec(Codec):
    def __init__(self, payload_type: int = SLIN16_DEFAULT_PT) -> None:
        super().__init__("slin16", payload_type, 16000, 2)

    def _to_wire(self, linear: bytes) -> bytes:
        return _pcm_view(linear).astype(">i2").tobytes()

    def _from_wire(self, payload: bytes) -> bytes:
        if len(payload) % 2:
            raise CodecError(f"slin16 payload of {len(payload)} bytes is not whole 16-bit samples")
        return np.frombuffer(payload, dtype=">i2").astype("<i2").tobytes()


class UlawCodec(Codec):
    def __init__(self, payload_type: int = 0) -> None:
        super().__init__("ulaw", payload_type, 8000, 1)

    def _to_wire(self, linear: bytes) -> bytes:
        return ulaw_encode(linear)

    def _from_wire(self, payload: bytes) -> bytes:
        return ulaw_decode(payload)


class AlawCodec(Codec):
    def __init__(self, payload_type: int = 8) -> None:
        super().__init__("alaw", payload_type, 8000, 1)

    def _to_wire(self, linear: bytes) -> bytes:
        return alaw_encode(linear)

    def _from_wire(self, payload: bytes) -> bytes:
        return alaw_decode(payload)


_ALIASES = {"slin16": "slin16", "ulaw": "ulaw", "pcmu": "ulaw", "alaw": "alaw", "pcma": "alaw"}


def codec_for(name: str, payload_type: int | None = None) -> Codec:
    """A fresh codec for "slin16" | "ulaw" | "alaw" (also "pcmu"/"pcma"); `payload_type`
    overrides the default PT (needed for slin16, whose PT Asterisk negotiates dynamically)."""
    key = _ALIASES.get(name.strip().lower())
    if key is None:
        raise CodecError(f"unknown codec {name!r}; expected slin16, ulaw or alaw")
    if key == "slin16":
        return Slin16Codec(SLIN16_DEFAULT_PT if payload_type is None else payload_type)
    if key == "ulaw":
        return UlawCodec(0 if payload_type is None else payload_type)
    return AlawCodec(8 if payload_type is None else payload_type)
