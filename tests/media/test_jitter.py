"""Jitter buffer: in-order release without delay, reordering, loss by depth and by time,
wrap-around, resync on big jumps, bounded size."""

import random

import pytest

from media.jitter import JitterBuffer, LossConcealer
from media.rtp import RtpPacket


def pkt(seq: int) -> RtpPacket:
    return RtpPacket(
        payload_type=0, sequence=seq & 0xFFFF, timestamp=seq * 160, ssrc=1, payload=bytes([seq % 256])
    )


def seqs(released) -> list:
    return [(r.sequence if r.packet is not None else ("lost", r.sequence)) for r in released]


def test_in_order_packets_come_out_at_once():
    jb = JitterBuffer(depth=3)
    for s in range(10):
        assert seqs(jb.push(pkt(s), now=s * 0.02)) == [s]
    assert len(jb) == 0
    assert (jb.stats.lost, jb.stats.reordered) == (0, 0)


def test_swapped_packets_are_put_back_in_order():
    jb = JitterBuffer(depth=3)
    out = []
    for s in [0, 1, 3, 2, 4]:
        out += jb.push(pkt(s), now=0.0)
    assert seqs(out) == [0, 1, 2, 3, 4]
    assert jb.stats.reordered == 1 and jb.stats.lost == 0


def test_a_gap_is_declared_lost_once_depth_is_exceeded():
    jb = JitterBuffer(depth=2, max_wait_s=10)
    out = []
    for s in [0, 2, 3]:
        out += jb.push(pkt(s), now=0.0)
    assert seqs(out) == [0]  # still waiting for 1
    out += jb.push(pkt(4), now=0.0)
    assert seqs(out) == [0, ("lost", 1), 2, 3, 4]
    assert jb.stats.lost == 1
    assert seqs(jb.push(pkt(1), now=0.0)) == []  # too late now
    assert jb.stats.late == 1


def test_a_gap_is_declared_lost_after_max_wait_by_poll():
    jb = JitterBuffer(depth=5, max_wait_s=0.06)
    jb.push(pkt(10), now=1.0)
    assert seqs(jb.push(pkt(12), now=1.04)) == []
    assert seqs(jb.poll(now=1.08)) == []
    assert seqs(jb.poll(now=1.10)) == [("lost", 11), 12]


def test_sequence_wraps_around():
    jb = JitterBuffer()
    out = []
    for s in [65533, 65534, 0, 65535, 1]:
        out += jb.push(pkt(s), now=0.0)
    assert seqs(out) == [65533, 65534, 65535, 0, 1]
    assert jb.stats.lost == 0


def test_duplicates_are_dropped():
    jb = JitterBuffer()
    out = jb.push(pkt(5), 0.0) + jb.push(pkt(5), 0.0) + jb.push(pkt(7), 0.0) + jb.push(pkt(7), 0.0)
    assert seqs(out) == [5]
    assert jb.stats.late == 2


@pytest.mark.parametrize("jump", [1000, -1000, 30000])
def test_big_jump_resynchronises_without_concealing(jump):
    jb = JitterBuffer(depth=3, reset_gap=50)
    out = jb.push(pkt(100), 0.0) + jb.push(pkt(102), 0.0)
    out += jb.push(pkt(100 + jump), 0.0)
    out += jb.push(pkt(101 + jump), 0.0)
    assert seqs(out) == [100, 102, (100 + jump) & 0xFFFF, (101 + jump) & 0xFFFF]
    assert jb.stats.resets == 1 and jb.stats.lost == 0


def test_never_holds_more_than_depth_plus_one_under_random_loss_and_reordering():
    rng = random.Random(7)
    jb = JitterBuffer(depth=3, max_wait_s=10)
    order = list(range(20000))
    for i in range(0, len(order) - 3, 3):
        if rng.random() < 0.2:
            order[i], order[i + 2] = order[i + 2], order[i]
    kept = [s for s in order if rng.random() > 0.05]
    released = []
    for s in kept:
        released += jb.push(pkt(s), 0.0)
        assert len(jb) <= 4
    numbers = [r.sequence for r in released]
    assert numbers == [s & 0xFFFF for s in range(numbers[0], numbers[0] + len(numbers))]
    assert jb.stats.lost == len(numbers) - sum(r.packet is not None for r in released)


def test_concealer_fades_to_silence():
    conceal = LossConcealer(fade=0.5, max_frames=3)
    assert conceal.conceal(160) == bytes(320)  # nothing heard yet: silence
    conceal.remember(b"\x10\x27" * 160)  # 10000
    frames = [conceal.conceal(160) for _ in range(4)]
    starts = [int.from_bytes(f[:2], "little", signed=True) for f in frames]
    assert starts[:3] == [10000, 5000, 2500]
    assert frames[3] == bytes(320)
    conceal.remember(b"\x10\x27" * 160)
    assert int.from_bytes(conceal.conceal(160)[:2], "little", signed=True) == 10000
