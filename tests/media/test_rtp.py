"""RTP packet parse/build (RFC 3550 5.1), malformed datagrams rejected with RtpError."""

import struct

import pytest

from media.rtp import RtpError, RtpPacket, build_rtp, parse_rtp


def test_round_trip_keeps_every_field():
    packet = RtpPacket(
        payload_type=118,
        sequence=65535,
        timestamp=0xFFFFFFFF,
        ssrc=0xDEADBEEF,
        payload=b"\x01\x02\x03",
        marker=True,
        csrcs=(1, 0xFFFFFFFF),
    )
    data = build_rtp(packet)
    assert len(data) == 12 + 8 + 3
    assert data[0] == 0x82  # V=2, no padding/extension, CC=2
    assert data[1] == 0x80 | 118
    assert parse_rtp(data) == packet


def test_parses_a_hand_built_header():
    data = bytes([0x80, 0x00, 0x12, 0x34, 0, 0, 0x01, 0x40, 0xCA, 0xFE, 0xBA, 0xBE]) + b"\xff" * 160
    packet = parse_rtp(data)
    assert packet.payload_type == 0
    assert packet.sequence == 0x1234
    assert packet.timestamp == 320
    assert packet.ssrc == 0xCAFEBABE
    assert packet.marker is False
    assert packet.payload == b"\xff" * 160


def test_extension_is_skipped_and_padding_removed():
    header = bytes([0xB0, 0x08]) + struct.pack("!HII", 7, 160, 42)  # V=2, P=1, X=1
    extension = struct.pack("!HH", 0xBEDE, 2) + b"\xaa" * 8
    payload = b"\x55" * 10
    padding = b"\x00\x00\x03"
    packet = parse_rtp(header + extension + payload + padding)
    assert packet.payload == payload
    assert packet.payload_type == 8
    assert packet.sequence == 7


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "shorter"),
        (b"\x80\x00\x00", "shorter"),
        (bytes([0x40, 0]) + bytes(10), "version 1"),
        (bytes([0x00, 0]) + bytes(10), "version 0"),
        (bytes([0x83, 0]) + bytes(10) + bytes(8), "CSRCs overrun"),
        (bytes([0x90, 0]) + bytes(10) + b"\x00\x00", "preamble overruns"),
        (bytes([0x90, 0]) + bytes(10) + b"\x00\x00\x00\x05" + bytes(8), "extension of 5 words"),
        (bytes([0xA0, 0]) + bytes(10) + b"abc\x00", "padding count 0"),
        (bytes([0xA0, 0]) + bytes(10) + b"abc\x09", "padding count 9"),
        (bytes([0xA0, 0]) + bytes(10), "no room"),
    ],
)
def test_malformed_datagrams_raise_rtp_error(data, reason):
    with pytest.raises(RtpError, match=reason):
        parse_rtp(data)


def test_rtp_error_is_a_value_error():
    assert issubclass(RtpError, ValueError)


@pytest.mark.parametrize(
    "fields",
    [
        {"payload_type": 128},
        {"payload_type": -1},
        {"sequence": 65536},
        {"timestamp": 1 << 32},
        {"ssrc": -1},
        {"csrcs": tuple(range(16))},
    ],
)
def test_build_rejects_out_of_range_fields(fields):
    base = {"payload_type": 0, "sequence": 1, "timestamp": 2, "ssrc": 3, "payload": b""}
    base.update(fields)
    with pytest.raises(RtpError):
        build_rtp(RtpPacket(**base))
