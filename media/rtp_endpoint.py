"""One call's RTP media endpoint on asyncio UDP: receives the caller's audio from Asterisk
externalMedia and sends the agent's voice back, one packet per 20 ms.

Facts and rules this module relies on:
- Asterisk externalMedia sends from the same socket it receives on, so the peer address is
  learned from the first valid packet (symmetric RTP) unless `remote` is given; nothing is
  sent, and queued audio waits, until the peer is known. With `remote` given, packets are
  still accepted from any source address (Asterisk may report a wildcard bind address as its
  UNICASTRTP_LOCAL_ADDRESS); the SSRC lock is the filter.
- SSRC lock: the first SSRC seen is locked. A packet with another SSRC is dropped
  (`dropped_foreign_ssrc`) unless the locked source has sent nothing accepted for
  `ssrc_switch_gap_s` (default 1 s): then the new SSRC is taken over (a re-INVITE or re-bridge
  changes the SSRC and the old stream stops), the jitter buffer and decoder restart, and the
  peer address is re-learned (when `remote` was not given).
- Checks in order, each counted and dropped, never raised: size > max_packet_bytes
  (oversize), not RTP (malformed), payload type other than the codec's (wrong payload; this
  also drops RTCP multiplexed on the port and RFC 4733 DTMF events), foreign SSRC. A payload
  the codec cannot hold (odd-length slin16) counts as malformed.
- Outgoing: slot n of the pacer is sent at t0 + n*20 ms; the sequence number goes up by one
  per packet sent, and the marker bit is set on the first packet of each talk spurt. That
  packet goes out as soon as its audio is queued, not at the next slot (a reply starts up to
  20 ms sooner), and the slots after it keep 20 ms from there. The RTP timestamp is
  ts0 + n * wire samples per frame, less the time the early starts have moved the clock: it
  follows real time through comfort noise, through slots the pacer had to skip and across talk
  spurts (a spurt's first packet advances less than a frame from the packet before it, and the
  marker bit lets the far end's jitter buffer re-align there). When no agent audio is queued
  a comfort frame goes out (low-level noise, or digital silence with comfort_noise=False) so
  carriers do not hang up on RTP inactivity.
- Playout events: every play() call ends in exactly one "finished" (its last frame was sent)
  or "flushed" (flush() or close() dropped it); "started" fires when its first frame is sent.
- Memory is bounded: the outgoing queue holds at most `max_queue_s` (300 s), play() beyond
  that raises PlayoutQueueFull without queueing anything; the jitter buffer holds at most
  depth + 1 packets.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

import numpy as np

from media.codecs import Codec, CodecError
from media.frames import FRAME_BYTES, FRAME_MS, FRAME_SAMPLES, split_frames
from media.jitter import JitterBuffer, Released
from media.pacer import Pacer, Tick
from media.rtp import RtpError, RtpPacket, build_rtp, parse_rtp

logger = logging.getLogger(__name__)

LATE_FRAME_S = 0.005
SPURT_MIN_EARLY_S = 0.002  # a reply's first frame goes out at once when its slot is further off
COMFORT_NOISE_RMS = 4.0  # about -78 dBFS: inaudible, but not digital silence


class PlayoutQueueFull(ValueError):
    """play() would push the outgoing queue past its cap; nothing was queued."""


@dataclass
class RtpStats:
    packets_in: int = 0  # every datagram received, whatever became of it
    packets_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    dropped_malformed: int = 0
    dropped_foreign_ssrc: int = 0
    dropped_wrong_payload: int = 0
    dropped_oversize: int = 0
    lost: int = 0
    reordered: int = 0
    concealed: int = 0
    late_packets: int = 0  # arrived after their slot was played out, or duplicates
    jitter_resets: int = 0
    ssrc_changes: int = 0
    late_frames: int = 0  # outgoing frames sent more than 5 ms off their slot
    skipped_slots: int = 0  # outgoing slots skipped after the event loop was starved
    comfort_frames: int = 0
    send_errors: int = 0


@dataclass(frozen=True)
class PlayoutEvent:
    kind: str  # "started" | "finished" | "flushed"
    tag: str
    at: float  # time.monotonic()


@dataclass(frozen=True)
class _OutFrame:
    pcm: bytes
    tag: str
    utterance: int
    first: bool
    last: bool


class _RtpProtocol(asyncio.DatagramProtocol):
    def __init__(self, endpoint: RtpEndpoint) -> None:
        self._endpoint = endpoint

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._endpoint.receive_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and friends: the peer is gone or not there yet.
        self._endpoint.stats.send_errors += 1
        logger.debug("rtp socket error: %s", exc, extra={"call_id": self._endpoint.call_id})


class RtpEndpoint:
    def __init__(
        self,
        codec: Codec,
        local_host: str = "127.0.0.1",
        local_port: int = 0,
        remote: tuple[str, int] | None = None,
        comfort_noise: bool = True,
        on_frame: Callable[[bytes, float], None] | None = None,
        on_playout: Callable[[PlayoutEvent], None] | None = None,
        call_id: str = "",
        max_packet_bytes: int = 1500,
        *,
        jitter_depth: int = 3,
        max_queue_s: float = 300.0,
        ssrc_switch_gap_s: float = 1.0,
        on_sent: Callable[[bytes], None] | None = None,
    ) -> None:
        self.codec = codec
        self.local_host = local_host
        self.local_port = local_port
        self._fixed_remote = remote is not None
        self.remote_address: tuple[str, int] | None = remote
        self.local_address: tuple[str, int] | None = None
        self.comfort_noise = comfort_noise
        self.on_frame = on_frame
        self.on_playout = on_playout
        self.on_sent = on_sent
        self.call_id = call_id
        self.max_packet_bytes = max_packet_bytes
        self.ssrc_switch_gap_s = ssrc_switch_gap_s
        self.max_queue_frames = int(max_queue_s * 1000 / FRAME_MS)
        self.stats = RtpStats()
        self.recent_lateness_s: collections.deque[float] = collections.deque(maxlen=3000)

        self._jitter = JitterBuffer(depth=jitter_depth)
        self._inbound = b""
        self._peer_ssrc: int | None = None
        self._last_accepted_at = 0.0
        self._warned: set[str] = set()

        self._queue: collections.deque[_OutFrame] = collections.deque()
        self._utterance_ids = count(1)
        self._talking = False
        self.ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp0 = secrets.randbits(32)
        self._comfort = self._comfort_frames(comfort_noise)
        self._comfort_index = 0

        self._transport: asyncio.DatagramTransport | None = None
        self._pacer = Pacer(self._on_tick, call_id=call_id)
        self._closed = False

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self) -> tuple[str, int]:
        """Bind the UDP socket and start the playout clock; returns the bound address."""
        if self._transport is not None:
            raise RuntimeError("RtpEndpoint already started")
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _RtpProtocol(self), local_addr=(self.local_host, self.local_port)
        )
        self._transport = transport
        host, port = transport.get_extra_info("sockname")[:2]
        self.local_address = (host, port)
        self._pacer.start()
        logger.info(
            "rtp endpoint listening",
            extra={"call_id": self.call_id, "local": f"{host}:{port}", "codec": self.codec.name},
        )
        return self.local_address

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._pacer.stop()
        self._drop_queue()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # ---- outgoing --------------------------------------------------------------------
    def play(self, pcm: bytes, tag: str = "") -> None:
        """Queue agent audio (internal PCM, any length; a partial last frame is padded)."""
        frames = split_frames(pcm)
        if not frames:
            return
        if len(self._queue) + len(frames) > self.max_queue_frames:
            raise PlayoutQueueFull(
                f"{len(frames) * FRAME_MS} ms more would exceed the {self.max_queue_frames * FRAME_MS} ms "
                f"playout queue ({self.queued_ms} ms queued)"
            )
        utterance = next(self._utterance_ids)
        last = len(frames) - 1
        starts_spurt = not self._queue and not self._talking
        self._queue.extend(
            _OutFrame(frame, tag, utterance, i == 0, i == last) for i, frame in enumerate(frames)
        )
        if starts_spurt:
            with contextlib.suppress(RuntimeError):  # no event loop: no pacer running either
                asyncio.get_running_loop().call_soon(self._start_spurt)

    def _start_spurt(self) -> None:
        """Send a new reply's first frame now rather than at the next slot (up to 20 ms later)."""
        clock = self._pacer.clock
        now = time.monotonic()
        if (
            not self._pacer.running
            or self._transport is None
            or self.remote_address is None  # nothing goes out until the peer is known
            or not self._queue
            or self._talking
            or clock.next_due_at - now < SPURT_MIN_EARLY_S
        ):
            return
        self._send_slot(clock.advance(now))

    def flush(self) -> int:
        """Barge-in: drop everything queued; the next packet out is comfort noise."""
        return self._drop_queue()

    @property
    def is_playing(self) -> bool:
        return bool(self._queue)

    @property
    def queued_ms(self) -> int:
        return len(self._queue) * FRAME_MS

    def _drop_queue(self) -> int:
        dropped = len(self._queue)
        if not dropped:
            return 0
        tags: dict[int, str] = {}
        for frame in self._queue:
            tags.setdefault(frame.utterance, frame.tag)
        self._queue.clear()
        self.codec.reset_encoder()
        now = time.monotonic()
        for tag in tags.values():
            self._emit(PlayoutEvent("flushed", tag, now))
        return dropped

    def _on_tick(self, tick: Tick) -> None:
        # the outgoing frame goes first: the caller's frames this tick releases run the VAD and
        # turn detector, which must not make this slot's packet late (measured with `bench load`)
        try:
            self._send_slot(tick)
        finally:
            self._deliver(self._jitter.poll(tick.now))

    def _send_slot(self, tick: Tick) -> None:
        self.stats.skipped_slots = self._pacer.clock.skipped
        if self._transport is None or self.remote_address is None:
            return
        item = self._queue.popleft() if self._queue else None
        if item is not None:
            pcm = item.pcm
            marker = not self._talking
            self._talking = True
        else:
            pcm = self._comfort[self._comfort_index]
            self._comfort_index = (self._comfort_index + 1) % len(self._comfort)
            marker = False
            self._talking = False
            self.stats.comfort_frames += 1
        payload = self.codec.encode(pcm)
        moved = round(self._pacer.clock.moved_s * self.codec.frame_wire_samples * 1000 / FRAME_MS)
        timestamp = (self._timestamp0 + tick.slot * self.codec.frame_wire_samples - moved) & 0xFFFFFFFF
        data = build_rtp(
            RtpPacket(self.codec.payload_type, self._sequence, timestamp, self.ssrc, payload, marker)
        )
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._transport.sendto(data, self.remote_address)
        sent_at = time.monotonic()
        self.stats.packets_out += 1
        self.stats.bytes_out += len(data)
        lateness = sent_at - tick.due_at
        self.recent_lateness_s.append(lateness)
        if abs(lateness) > LATE_FRAME_S:
            self.stats.late_frames += 1
        if item is not None:
            if self.on_sent is not None:
                try:
                    self.on_sent(pcm)
                except Exception:
                    logger.exception("on_sent callback failed", extra={"call_id": self.call_id})
            if item.first:
                self._emit(PlayoutEvent("started", item.tag, sent_at))
            if item.last:
                self._emit(PlayoutEvent("finished", item.tag, sent_at))

    def _emit(self, event: PlayoutEvent) -> None:
        if self.on_playout is None:
            return
        try:
            self.on_playout(event)
        except Exception:
            logger.exception("on_playout callback failed", extra={"call_id": self.call_id})

    @staticmethod
    def _comfort_frames(noise: bool) -> list[bytes]:
        if not noise:
            return [bytes(FRAME_BYTES)]
        rng = np.random.default_rng()
        noise_frames = rng.normal(0.0, COMFORT_NOISE_RMS, size=(16, FRAME_SAMPLES))
        return [np.round(f).astype("<i2").tobytes() for f in noise_frames]

    # ---- incoming --------------------------------------------------------------------
    def receive_datagram(self, data: bytes, addr: tuple[str, int], now: float | None = None) -> None:
        """The receive path for one datagram (the socket calls this; tests may too)."""
        if now is None:
            now = time.monotonic()
        stats = self.stats
        stats.packets_in += 1
        stats.bytes_in += len(data)
        if len(data) > self.max_packet_bytes:
            stats.dropped_oversize += 1
            self._warn_once("oversize", f"{len(data)} bytes > {self.max_packet_bytes}", addr)
            return
        try:
            packet = parse_rtp(data)
        except RtpError as exc:
            stats.dropped_malformed += 1
            self._warn_once("malformed", str(exc), addr)
            return
        if packet.payload_type != self.codec.payload_type:
            stats.dropped_wrong_payload += 1
            self._warn_once("wrong_payload", f"payload type {packet.payload_type}", addr)
            return
        if self._peer_ssrc is None:
            self._peer_ssrc = packet.ssrc
        elif packet.ssrc != self._peer_ssrc:
            if now - self._last_accepted_at <= self.ssrc_switch_gap_s:
                stats.dropped_foreign_ssrc += 1
                self._warn_once("foreign_ssrc", f"ssrc {packet.ssrc:#x}", addr)
                return
            self._switch_source(packet.ssrc, addr)
        if self.remote_address is None:
            self.remote_address = (addr[0], addr[1])
            logger.info("rtp peer learned", extra={"call_id": self.call_id, "remote": f"{addr[0]}:{addr[1]}"})
        self._last_accepted_at = now
        self._deliver(self._jitter.push(packet, now))

    def _switch_source(self, ssrc: int, addr: tuple[str, int]) -> None:
        logger.info(
            "rtp source changed",
            extra={"call_id": self.call_id, "old_ssrc": self._peer_ssrc, "new_ssrc": ssrc},
        )
        self._peer_ssrc = ssrc
        self.stats.ssrc_changes += 1
        self._jitter.reset()
        self.codec.reset()
        self._inbound = b""
        if not self._fixed_remote:
            self.remote_address = (addr[0], addr[1])

    def _deliver(self, released: list[Released]) -> None:
        stats = self.stats
        jstats = self._jitter.stats
        stats.lost, stats.reordered = jstats.lost, jstats.reordered
        stats.late_packets, stats.jitter_resets = jstats.late, jstats.resets
        for slot in released:
            if slot.packet is None:
                pcm = self.codec.conceal()
                stats.concealed += 1
            else:
                try:
                    pcm = self.codec.decode(slot.packet.payload)
                except CodecError as exc:
                    stats.dropped_malformed += 1
                    self._warn_once("bad_payload", str(exc), None)
                    continue
            inbound = self._inbound + pcm if self._inbound else pcm
            offset = 0
            while len(inbound) - offset >= FRAME_BYTES:
                self._frame_out(inbound[offset : offset + FRAME_BYTES], slot.received_at)
                offset += FRAME_BYTES
            self._inbound = inbound[offset:]

    def _frame_out(self, frame: bytes, received_at: float) -> None:
        if self.on_frame is None:
            return
        try:
            self.on_frame(frame, received_at)
        except Exception:
            logger.exception("on_frame callback failed", extra={"call_id": self.call_id})

    def _warn_once(self, kind: str, detail: str, addr: tuple[str, int] | None) -> None:
        if kind in self._warned:
            return
        self._warned.add(kind)
        logger.warning(
            "rtp packet dropped",
            extra={
                "call_id": self.call_id,
                "reason": kind,
                "detail": detail,
                "source": f"{addr[0]}:{addr[1]}" if addr else "",
            },
        )

    @property
    def jitter_buffered(self) -> int:
        """Packets held in the jitter buffer now (at most depth + 1)."""
        return len(self._jitter)
