"""The RTP side of the Asterisk test double: one real UDP socket per externalMedia channel.

Owns: sending the simulated caller's audio to the app as paced 20 ms RTP packets, and recording
every RTP packet the app sends back (decoded to 16 kHz PCM, with arrival times).

Facts (Asterisk 22 chan_rtp / res_rtp_asterisk): an externalMedia channel binds a local UDP
port (reported in UNICASTRTP_LOCAL_ADDRESS / UNICASTRTP_LOCAL_PORT) and sends to
`external_host`; `slin16` is 16-bit signed linear, 16 kHz, big-endian on the wire, 640 bytes
per 20 ms, RTP payload type 118 (Asterisk's static dynamic-range mapping), timestamp +320 per
packet; `ulaw` is G.711 mu-law at 8 kHz, payload type 0, 160 bytes and +160 per packet;
`alaw` is payload type 8. In the other direction the channel has no SDP, so Asterisk looks a
received payload type up only in the static table (0-34): ulaw and alaw from the app reach the
caller, slin16 (118) from the app is dropped and the caller hears nothing (checked against a real
Asterisk 22.10.1); the double does the same and counts those packets. A mixing bridge keeps
sending frames (silence when nobody speaks), so the app sees a steady 50 packets/s while bridged.
The double's own audio interface is 16 kHz 16-bit little-endian mono PCM throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAME_MS = 20
FRAME_SAMPLES_16K = SAMPLE_RATE * FRAME_MS // 1000  # 320
FRAME_BYTES_16K = FRAME_SAMPLES_16K * 2  # 640


@dataclass(frozen=True)
class WireFormat:
    name: str
    payload_type: int
    clock_rate: int

    @property
    def samples_per_frame(self) -> int:
        return self.clock_rate * FRAME_MS // 1000


FORMATS: dict[str, WireFormat] = {
    "slin16": WireFormat("slin16", 118, 16000),
    "ulaw": WireFormat("ulaw", 0, 8000),
    "alaw": WireFormat("alaw", 8, 8000),
}
_BY_PT = {f.payload_type: f for f in FORMATS.values()}
LAST_STATIC_PT = 34  # Asterisk's AST_RTP_PT_LAST_STATIC


# ---- G.711 ----------------------------------------------------------------------------------


def _ulaw_decode_byte(byte: int) -> int:
    u = ~byte & 0xFF
    t = ((u & 0x0F) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return (0x84 - t) if (u & 0x80) else (t - 0x84)


def _alaw_decode_byte(byte: int) -> int:
    a = byte ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if (a & 0x80) else -t


_ULAW_DECODE = np.array([_ulaw_decode_byte(b) for b in range(256)], dtype=np.int16)
_ALAW_DECODE = np.array([_alaw_decode_byte(b) for b in range(256)], dtype=np.int16)


def _build_encoder(decode_table: np.ndarray) -> np.ndarray:
    """Nearest-code encoder table for every int16 value (65536 entries)."""
    order = np.argsort(decode_table.astype(np.int32))
    values = decode_table.astype(np.int32)[order]
    samples = np.arange(-32768, 32768, dtype=np.int32)
    idx = np.clip(np.searchsorted(values, samples), 1, len(values) - 1)
    left, right = values[idx - 1], values[idx]
    pick = np.where(samples - left <= right - samples, idx - 1, idx)
    return order[pick].astype(np.uint8)


_ULAW_ENCODE = _build_encoder(_ULAW_DECODE)
_ALAW_ENCODE = _build_encoder(_ALAW_DECODE)


def encode_frame(pcm16k_le: bytes, fmt: WireFormat) -> bytes:
    """16 kHz little-endian PCM -> RTP payload in `fmt`."""
    samples = np.frombuffer(pcm16k_le, dtype="<i2")
    if fmt.name == "slin16":
        return samples.astype(">i2").tobytes()
    # 16 -> 8 kHz: average each pair (a 2-tap low-pass), exact 160 samples per 20 ms frame
    even = samples[: len(samples) - len(samples) % 2].astype(np.int32)
    narrow16 = (even[0::2] + even[1::2]) // 2
    table = _ULAW_ENCODE if fmt.name == "ulaw" else _ALAW_ENCODE
    return table[narrow16 + 32768].tobytes()


def decode_payload(payload: bytes, fmt: WireFormat) -> bytes:
    """RTP payload in `fmt` -> 16 kHz little-endian PCM."""
    if fmt.name == "slin16":
        usable = len(payload) - (len(payload) % 2)
        return np.frombuffer(payload[:usable], dtype=">i2").astype("<i2").tobytes()
    table = _ULAW_DECODE if fmt.name == "ulaw" else _ALAW_DECODE
    narrow = table[np.frombuffer(payload, dtype=np.uint8)].astype(np.float32)
    if len(narrow) == 0:
        return b""
    # 8 -> 16 kHz: linear interpolation, exactly two output samples per input sample
    positions = np.arange(2 * len(narrow)) / 2.0
    wide = np.interp(positions, np.arange(len(narrow)), narrow)
    return np.clip(np.round(wide), -32768, 32767).astype("<i2").tobytes()


# ---- RTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedPacket:
    """One RTP packet the app sent to the double."""

    arrival_s: float  # time.monotonic() at arrival
    seq: int
    timestamp: int
    ssrc: int
    payload_type: int
    marker: bool
    pcm16k: bytes  # decoded to 16 kHz little-endian PCM; b"" if the payload type was unknown


def build_rtp(
    payload_type: int, seq: int, timestamp: int, ssrc: int, payload: bytes, marker: bool = False
) -> bytes:
    first = 0x80
    second = (0x80 if marker else 0) | (payload_type & 0x7F)
    return struct.pack("!BBHII", first, second, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc) + payload


def parse_rtp(data: bytes) -> tuple[int, bool, int, int, int, bytes] | None:
    """(payload_type, marker, seq, timestamp, ssrc, payload), or None for a malformed packet."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    first, second, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension
        if len(data) < offset + 4:
            return None
        ext_words = struct.unpack("!H", data[offset + 2 : offset + 4])[0]
        offset += 4 + 4 * ext_words
    end = len(data)
    if first & 0x20:  # padding
        end -= data[-1]
    if offset > end:
        return None
    return second & 0x7F, bool(second & 0x80), seq, ts, ssrc, data[offset:end]


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, peer: MediaPeer) -> None:
        self.peer = peer

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.peer._on_datagram(data, addr)


PacketSink = Callable[[ReceivedPacket], None]
FrameSource = Callable[[], bytes | None]


class MediaPeer:
    """Asterisk's end of one externalMedia channel."""

    def __init__(self, fmt: WireFormat, remote: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.fmt = fmt
        self.remote = remote
        self.host = host
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._send_task: asyncio.Task[None] | None = None
        self._seq = random.randrange(0, 0x10000)
        self._ts = random.randrange(0, 0x100000000)
        self._ssrc = random.randrange(1, 0x100000000)
        self.source: FrameSource | None = None
        self.sink: PacketSink | None = None
        self.unbridged_packets: list[ReceivedPacket] = []
        self.malformed_packets = 0
        self.unknown_payload_packets = 0
        self.packets_sent = 0
        self.max_recorded = 50 * 600  # bounded memory: 10 minutes of packets

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=(self.host, 0))
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def start_sending(self, source: FrameSource, sink: PacketSink) -> None:
        """Start the 20 ms clock; `source()` gives the next 640-byte frame or None for silence."""
        self.source = source
        self.sink = sink
        if self._send_task is None or self._send_task.done():
            self._send_task = asyncio.create_task(self._pace(), name=f"double-rtp-{self.port}")

    def stop_sending(self) -> None:
        self.source = None
        self.sink = None
        if self._send_task is not None:
            self._send_task.cancel()
            self._send_task = None

    @property
    def sending(self) -> bool:
        return self._send_task is not None and not self._send_task.done()

    async def close(self) -> None:
        task = self._send_task
        self.stop_sending()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        period = FRAME_MS / 1000.0
        start = loop.time()
        n = 0
        first = True
        silence = bytes(FRAME_BYTES_16K)
        while True:
            source = self.source
            frame = source() if source is not None else None
            pcm = frame if frame is not None else silence
            if len(pcm) < FRAME_BYTES_16K:
                pcm = pcm + bytes(FRAME_BYTES_16K - len(pcm))
            payload = encode_frame(pcm[:FRAME_BYTES_16K], self.fmt)
            packet = build_rtp(self.fmt.payload_type, self._seq, self._ts, self._ssrc, payload, marker=first)
            first = False
            if self._transport is not None:
                self._transport.sendto(packet, self.remote)
                self.packets_sent += 1
            self._seq = (self._seq + 1) & 0xFFFF
            self._ts = (self._ts + self.fmt.samples_per_frame) & 0xFFFFFFFF
            n += 1
            deadline = start + n * period
            now = loop.time()
            if now - deadline > 0.1:  # fell far behind (CPU starved): restart the clock
                start, n = now, 0
                deadline = now
            await asyncio.sleep(max(0.0, deadline - now))

    def _on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        parsed = parse_rtp(data)
        if parsed is None:
            self.malformed_packets += 1
            return
        pt, marker, seq, ts, ssrc, payload = parsed
        fmt = _BY_PT.get(pt) if pt <= LAST_STATIC_PT else None
        if fmt is None:
            self.unknown_payload_packets += 1  # Asterisk drops them: nothing reaches the caller
            return
        pcm = decode_payload(payload, fmt)
        packet = ReceivedPacket(time.monotonic(), seq, ts, ssrc, pt, marker, pcm)
        if self.sink is not None:
            self.sink(packet)
        elif len(self.unbridged_packets) < self.max_recorded:
            self.unbridged_packets.append(packet)
