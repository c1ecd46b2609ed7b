"""Receive-side jitter buffer (reordering by RTP sequence number) and packet-loss concealment.

Facts relied on: Asterisk sends one packet per 20 ms with sequence numbers that go up by one
and wrap at 65536. On loopback or a LAN, reordering spans one or two packets, so a few packets
of depth (default 3 = 60 ms) is enough, and nothing here adds delay when packets arrive in
order: the next expected packet is released at once. A missing packet is declared lost when
more than `depth` later packets are waiting, or the oldest waiting one is older than
`max_wait_s`. A jump of more than `reset_gap` sequence numbers either way (a new stream, a
restarted sender) resynchronises instead of concealing hundreds of frames. The buffer never
holds more than depth + 1 packets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from media.rtp import RtpPacket


@dataclass(frozen=True)
class Released:
    """One slot of the input timeline: a packet, or None where a packet was lost."""

    sequence: int
    packet: RtpPacket | None
    received_at: float


@dataclass
class JitterStats:
    lost: int = 0
    reordered: int = 0
    late: int = 0  # arrived after its slot was released or declared lost, or duplicate
    resets: int = 0


@dataclass
class JitterBuffer:
    depth: int = 3
    max_wait_s: float = 0.06
    reset_gap: int = 50
    stats: JitterStats = field(default_factory=JitterStats)

    def __post_init__(self) -> None:
        if self.depth < 0 or self.reset_gap <= self.depth:
            raise ValueError("jitter buffer needs depth >= 0 and reset_gap > depth")
        self._held: dict[int, tuple[RtpPacket, float]] = {}
        self._expected: int | None = None  # extended (unwrapped) sequence number

    def __len__(self) -> int:
        return len(self._held)

    def reset(self) -> None:
        self._held.clear()
        self._expected = None

    def push(self, packet: RtpPacket, now: float) -> list[Released]:
        """Add a packet; returns the slots now ready, in order."""
        if self._expected is None:
            self._expected = packet.sequence
        delta = ((packet.sequence - self._expected + 0x8000) & 0xFFFF) - 0x8000
        out: list[Released] = []
        if abs(delta) > self.reset_gap:
            out = self._release_held_as_is()
            self.stats.resets += 1
            self._expected = packet.sequence
            delta = 0
        if delta < 0:
            self.stats.late += 1
            return out
        ext = self._expected + delta
        if ext in self._held:
            self.stats.late += 1
            return out
        if self._held and ext < max(self._held):
            self.stats.reordered += 1
        self._held[ext] = (packet, now)
        out.extend(self._drain(now))
        return out

    def poll(self, now: float) -> list[Released]:
        """Release what has waited too long (call this on a timer, e.g. every 20 ms)."""
        return self._drain(now)

    def _drain(self, now: float) -> list[Released]:
        out: list[Released] = []
        held = self._held
        while held and self._expected is not None:
            expected = self._expected
            if expected in held:
                packet, at = held.pop(expected)
                out.append(Released(expected & 0xFFFF, packet, at))
            elif len(held) > self.depth or now - min(at for _, at in held.values()) >= self.max_wait_s:
                self.stats.lost += 1
                out.append(Released(expected & 0xFFFF, None, now))
            else:
                break
            self._expected = expected + 1
        return out

    def _release_held_as_is(self) -> list[Released]:
        out = [Released(ext & 0xFFFF, pkt, at) for ext, (pkt, at) in sorted(self._held.items())]
        self._held.clear()
        return out


class LossConcealer:
    """Stand-in audio for lost packets: the last good packet repeated with a gain that ramps
    down by `fade` per lost packet (smoothly inside each frame, so no step), silence after
    `max_frames` consecutive losses. Works on int16 LE PCM at any rate."""

    def __init__(self, fade: float = 0.5, max_frames: int = 5) -> None:
        self.fade = fade
        self.max_frames = max_frames
        self._last: np.ndarray | None = None
        self._run = 0

    def remember(self, pcm: bytes) -> None:
        self._last = np.frombuffer(pcm, dtype="<i2")
        self._run = 0

    def conceal(self, default_samples: int) -> bytes:
        self._run += 1
        last = self._last
        if last is None or last.size == 0 or self._run > self.max_frames:
            size = default_samples if last is None or last.size == 0 else last.size
            return bytes(2 * size)
        start = self.fade ** (self._run - 1)
        gains = np.linspace(start, start * self.fade, last.size, endpoint=False)
        return np.round(last * gains).astype("<i2").tobytes()
