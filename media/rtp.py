"""RTP packets (RFC 3550 section 5.1): parse and build the fixed header, CSRCs, header
extension and padding.

Facts relied on: the fixed header is 12 bytes, version is always 2, a header extension is a
4-byte (profile, length-in-32-bit-words) preamble plus its words, and the last byte of a padded
packet counts the padding bytes including itself. Header extensions are skipped on parse (Asterisk
externalMedia sends none) and never written.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
HEADER_BYTES = 12
_FIXED = struct.Struct("!BBHII")


class RtpError(ValueError):
    """A datagram that is not a well-formed RTP packet, or a packet that cannot be built."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse one RTP datagram; raises RtpError when it is malformed."""
    size = len(data)
    if size < HEADER_BYTES:
        raise RtpError(f"datagram of {size} bytes is shorter than the 12-byte RTP header")
    first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(data, 0)
    version = first >> 6
    if version != RTP_VERSION:
        raise RtpError(f"RTP version {version}, expected 2")
    has_padding = bool(first & 0x20)
    has_extension = bool(first & 0x10)
    csrc_count = first & 0x0F
    offset = HEADER_BYTES + 4 * csrc_count
    if offset > size:
        raise RtpError(f"{csrc_count} CSRCs overrun a {size}-byte datagram")
    csrcs = struct.unpack_from(f"!{csrc_count}I", data, HEADER_BYTES) if csrc_count else ()
    if has_extension:
        if offset + 4 > size:
            raise RtpError("header extension preamble overruns the datagram")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
        if offset > size:
            raise RtpError(f"header extension of {words} words overruns a {size}-byte datagram")
    end = size
    if has_padding:
        if size == offset:
            raise RtpError("padding bit set but no room for the padding count")
        pad = data[-1]
        if pad == 0 or offset + pad > size:
            raise RtpError(f"bad padding count {pad} for {size - offset} bytes after the header")
        end = size - pad
    return RtpPacket(
        payload_type=second & 0x7F,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        payload=bytes(data[offset:end]),
        marker=bool(second & 0x80),
        csrcs=tuple(csrcs),
    )


def build_rtp(packet: RtpPacket) -> bytes:
    """Serialize a packet (no padding, no extension); raises RtpError on out-of-range fields."""
    if not 0 <= packet.payload_type <= 127:
        raise RtpError(f"payload type {packet.payload_type} outside 0..127")
    if not 0 <= packet.sequence <= 0xFFFF:
        raise RtpError(f"sequence {packet.sequence} outside 0..65535")
    if not 0 <= packet.timestamp <= 0xFFFFFFFF:
        raise RtpError(f"timestamp {packet.timestamp} outside 32 bits")
    if not 0 <= packet.ssrc <= 0xFFFFFFFF:
        raise RtpError(f"SSRC {packet.ssrc} outside 32 bits")
    if len(packet.csrcs) > 15:
        raise RtpError(f"{len(packet.csrcs)} CSRCs; at most 15 fit")
    if any(not 0 <= c <= 0xFFFFFFFF for c in packet.csrcs):
        raise RtpError("a CSRC is outside 32 bits")
    header = _FIXED.pack(
        (RTP_VERSION << 6) | len(packet.csrcs),
        (0x80 if packet.marker else 0) | packet.payload_type,
        packet.sequence,
        packet.timestamp,
        packet.ssrc,
    )
    if packet.csrcs:
        header += struct.pack(f"!{len(packet.csrcs)}I", *packet.csrcs)
    return header + bytes(packet.payload)
