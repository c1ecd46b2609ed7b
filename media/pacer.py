"""The 20 ms playout clock for outgoing RTP.

Fact relied on: Asterisk (and every carrier behind it) expects one packet every 20 ms; a
sender that does `sleep(0.02)` in a loop drifts late by the loop's own run time and the
scheduler's overshoot on every packet (about 0.1-1 ms each, i.e. seconds per hour), and the far
end's jitter buffer then under-runs. So slot n is due at t0 + n * 20 ms on the monotonic
clock and each wait is computed from that, which cancels drift. When the loop was starved
(a long GC pause, a blocked event loop) it sends at most `max_burst` overdue slots at once and
skips older ones, re-aligning with wall time rather than flooding the far end. A talk spurt
may start before its slot is due (`PlayoutClock.advance`); the slots after it keep 20 ms from
there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from media.frames import FRAME_MS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tick:
    """One slot to send now: its index since start, when it was due, when it is handled."""

    slot: int
    due_at: float
    now: float

    @property
    def lateness(self) -> float:
        return self.now - self.due_at


class PlayoutClock:
    """Pure slot arithmetic (no sleeping), so drift handling is testable with a fake clock."""

    def __init__(self, period_s: float = FRAME_MS / 1000.0, max_burst: int = 3) -> None:
        if period_s <= 0 or max_burst < 1:
            raise ValueError("playout clock needs period_s > 0 and max_burst >= 1")
        self.period_s = period_s
        self.max_burst = max_burst
        self.t0: float | None = None
        self.next_slot = 0
        self.skipped = 0
        self.moved_s = 0.0  # how much earlier `advance` has moved the slots, in all

    def start(self, now: float) -> None:
        self.t0 = now
        self.next_slot = 0
        self.skipped = 0
        self.moved_s = 0.0

    def due_at(self, slot: int) -> float:
        if self.t0 is None:
            raise RuntimeError("playout clock not started")
        return self.t0 + slot * self.period_s

    @property
    def next_due_at(self) -> float:
        return self.due_at(self.next_slot)

    def due(self, now: float) -> list[Tick]:
        """Slots due at `now`, oldest first (empty if the next one is still in the future)."""
        if self.t0 is None:
            raise RuntimeError("playout clock not started")
        # tolerate a few microseconds of early wake-up from the event loop
        current = int((now - self.t0 + 1e-4) // self.period_s)
        if current < self.next_slot:
            return []
        first = max(self.next_slot, current - self.max_burst + 1)
        self.skipped += first - self.next_slot
        self.next_slot = current + 1
        return [Tick(slot, self.due_at(slot), now) for slot in range(first, current + 1)]

    def advance(self, now: float) -> Tick:
        """Take the next slot now, before it is due, and count the following slots from here.

        For the first packet of a talk spurt: the agent's reply need not wait up to 20 ms for
        the slot after the comfort noise. The clock then runs `moved_s` ahead of slot index *
        period; the sender takes that off its timestamps so they keep following real time."""
        slot = self.next_slot
        early = max(0.0, self.due_at(slot) - now)
        if self.t0 is not None:
            self.t0 -= early
        self.moved_s += early
        self.next_slot = slot + 1
        return Tick(slot, now, now)


class Pacer:
    """Runs `on_tick` once per due slot until stopped. Exceptions from `on_tick` are logged
    and the clock keeps going (a call must not go silent because of one bad frame)."""

    def __init__(
        self,
        on_tick: Callable[[Tick], None],
        period_s: float = FRAME_MS / 1000.0,
        max_burst: int = 3,
        clock: Callable[[], float] = time.monotonic,
        call_id: str = "",
    ) -> None:
        self.clock = PlayoutClock(period_s, max_burst)
        self._on_tick = on_tick
        self._now = clock
        self._task: asyncio.Task[None] | None = None
        self.call_id = call_id

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self.clock.start(self._now())
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"pacer:{self.call_id}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            delay = self.clock.next_due_at - self._now()
            await asyncio.sleep(max(delay, 0.0))
            for tick in self.clock.due(self._now()):
                try:
                    self._on_tick(tick)
                except Exception:
                    logger.exception("playout tick failed", extra={"call_id": self.call_id})
