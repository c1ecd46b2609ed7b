"""Playout clock: slots on a fixed grid (no drift from late wake-ups), bursts and skips after
a stall, and a real asyncio pacer that ticks in order."""

import asyncio
import time

import pytest

from media.pacer import Pacer, PlayoutClock


def test_late_wakeups_do_not_accumulate_drift():
    clock = PlayoutClock(period_s=0.02)
    clock.start(100.0)
    sent = []
    now = 100.0
    for _ in range(500):
        now = clock.next_due_at + 0.0015  # every wake-up overshoots by 1.5 ms
        sent += clock.due(now)
    assert [t.slot for t in sent] == list(range(500))
    # slot 499 is still due at t0 + 499 * 20 ms; a sleep(0.02) loop would be 750 ms late
    assert sent[-1].due_at == pytest.approx(100.0 + 499 * 0.02)
    assert max(t.lateness for t in sent) == pytest.approx(0.0015)


def test_early_wakeup_sends_nothing():
    clock = PlayoutClock(period_s=0.02)
    clock.start(0.0)
    assert [t.slot for t in clock.due(0.0)] == [0]
    assert clock.due(0.019) == []
    assert [t.slot for t in clock.due(0.02)] == [1]


def test_short_stall_catches_up_in_a_burst_long_stall_skips():
    clock = PlayoutClock(period_s=0.02, max_burst=3)
    clock.start(0.0)
    clock.due(0.0)
    assert [t.slot for t in clock.due(0.045)] == [1, 2]  # 25 ms late: burst of two
    assert clock.skipped == 0
    assert [t.slot for t in clock.due(0.205)] == [8, 9, 10]  # 160 ms stall: keep the last three
    assert clock.skipped == 5
    assert clock.next_due_at == pytest.approx(0.22)


def test_a_slot_taken_early_moves_the_later_slots_with_it():
    clock = PlayoutClock(0.02)
    clock.start(100.0)
    assert [t.slot for t in clock.due(100.0)] == [0]
    tick = clock.advance(100.005)  # slot 1 was due at 100.02
    assert (tick.slot, tick.due_at) == (1, 100.005)
    assert clock.moved_s == pytest.approx(0.015)
    assert clock.due(100.02) == []  # the pacer waking at slot 1's old time sends nothing
    assert [t.slot for t in clock.due(100.025)] == [2]  # 20 ms after the early one
    clock.advance(100.045)  # already due: nothing moves
    assert clock.moved_s == pytest.approx(0.015)


def test_clock_must_be_started():
    with pytest.raises(RuntimeError):
        PlayoutClock().due(1.0)
    with pytest.raises(ValueError):
        PlayoutClock(period_s=0)


async def test_real_pacer_ticks_in_order_and_survives_a_failing_tick():
    ticks = []

    def on_tick(tick):
        ticks.append(tick)
        if len(ticks) == 3:
            raise RuntimeError("one bad frame")

    pacer = Pacer(on_tick)
    started = time.monotonic()
    pacer.start()
    await asyncio.sleep(0.3)
    await pacer.stop()
    elapsed = time.monotonic() - started
    slots = [t.slot for t in ticks]
    assert slots == sorted(set(slots))
    assert slots[0] == 0
    assert len(ticks) + pacer.clock.skipped == pytest.approx(elapsed / 0.02, abs=3)
    assert not pacer.running
