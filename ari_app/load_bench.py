"""The load benchmark: N overlapping scripted calls through the whole pipeline in one process.

Owns `run_load(...)`: starts the Kayako-compatible server and the Asterisk test double (real ARI
REST + WebSocket, real RTP over UDP on 127.0.0.1), builds the real runtime (StasisApp +
CallSession + VoiceSession, the outbox, the call store) around the given speech services,
places `calls` scripted callers `ramp_s` apart and measures what the callers experience:
per-turn voice-to-voice latency (`TurnTiming.latency_ms`, from the Stasis app's turn
listener), late outgoing agent frames (`RtpStats.late_frames`: more than 5 ms off their 20 ms
slot, summed over calls), cases that did not reach Kayako exactly once (counted by the
outbox's `call-<id>` tag), process CPU and peak RSS, and the event loop's lag.

Facts it relies on:
- A scripted caller waits for the agent to be heard and then quiet for `QUIET_S` before its
  next turn; a reply's sentences follow each other with no gap longer than that. A turn the
  dialogue leaves unanswered ("hang on") is moved past after `reply_timeout_s` (counted in
  `unanswered_turns`); overload shows as STT timeouts, i.e. `transferred` outcomes.
- Everything runs on one event loop (callers, double, app, Kayako server), so CPU % is the
  whole system's and it is out of 100 per core (200 on this 2-core machine).
- Event-loop lag is sampled every `LAG_TICK_S`: a tick that fires late by X ms means a
  callback held the loop for about X ms (the RTP pacers fire every 20 ms and tolerate 5).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import re
import resource
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ari_app.logs import log_event
from ari_app.runtime import build_runtime
from ari_app.settings import Settings
from ari_app.stasis_app import StasisApp
from ari_app.store import TurnTiming
from kayako_client import KayakoClient, OutboxOptions
from kayako_client.outbox import call_tag
from kayako_client.transport import ClientOptions

log = logging.getLogger("kayako_voice.load_bench")

QUIET_S = 0.6
VOICED_RMS = 500.0
LAG_TICK_S = 0.05
RESULT_KEYS = (
    "calls",
    "completed",
    "latency_p50_ms",
    "latency_p95_ms",
    "late_frames",
    "lost_cases",
    "cpu_percent",
    "rss_mb",
)


class LoadBenchError(ValueError):
    """The benchmark cannot run as asked (no scripts, bad numbers)."""


@dataclass(frozen=True)
class CallScript:
    """One scripted caller: its number and the audio of each turn (16 kHz int16 LE)."""

    name: str
    caller_number: str
    turns: tuple[bytes, ...]


@dataclass(frozen=True)
class LoadOptions:
    calls: int
    ramp_s: float = 0.2
    reply_timeout_s: float = 8.0
    call_limit_s: float = 150.0
    case_wait_s: float = 30.0
    max_calls: int | None = None  # admission limit for this run (default: admit all N calls)
    slow_callback_ms: float | None = None  # asyncio debug mode: record callbacks holding the loop longer


@dataclass(frozen=True)
class LoadResult:
    calls: int
    completed: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    late_frames: int
    lost_cases: int
    cpu_percent: float
    rss_mb: float
    # details, outside the fixed JSON keys
    refused: int = 0
    turns: int = 0
    latency_max_ms: float | None = None
    loop_lag_max_ms: float = 0.0
    loop_lag_p99_ms: float = 0.0
    wall_s: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    unanswered_turns: int = 0
    slow_callbacks: list[str] = field(default_factory=list)
    parts_p95_ms: dict[str, float | None] = field(default_factory=dict)  # end_of_turn, stt, decide, tts

    def to_dict(self, details: bool = False) -> dict[str, Any]:
        full = dataclasses.asdict(self)
        return full if details else {k: full[k] for k in RESULT_KEYS}


@dataclass
class _CallRecord:
    script: str
    call_id: str = ""
    outcome: str = "not-started"  # done | transferred | dropped | refused | timeout
    unanswered: int = 0  # caller turns the agent did not answer within reply_timeout_s


class LoopLagMonitor:
    """Samples how late a periodic timer fires on the running loop."""

    def __init__(self, tick_s: float = LAG_TICK_S) -> None:
        self.tick_s = tick_s
        self.lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def _run(self) -> None:
        while True:
            due = time.monotonic() + self.tick_s
            await asyncio.sleep(self.tick_s)
            self.lags_ms.append(max(0.0, (time.monotonic() - due) * 1000))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def max_ms(self) -> float:
        return round(max(self.lags_ms, default=0.0), 1)

    def p99_ms(self) -> float:
        return round(float(np.percentile(self.lags_ms, 99)), 1) if self.lags_ms else 0.0


class SlowCallbacks(logging.Handler):
    """Collects asyncio debug mode's "Executing ... took N seconds" warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if " took " in msg:
            self.seen.append(re.sub(r"\s+", " ", msg)[:400])


class _AgentEar:
    """Watches one SimCall's received packets (each scored once) for the agent's speech."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self._seen = 0
        self.last_voiced = 0.0

    def _scan(self) -> None:
        packets = self.call.received_packets
        for p in packets[self._seen :]:
            if p.pcm16k:
                x = np.frombuffer(p.pcm16k, dtype="<i2").astype(np.float32)
                if float(np.sqrt(np.mean(x * x))) >= VOICED_RMS:
                    self.last_voiced = max(self.last_voiced, p.arrival_s)
        self._seen = len(packets)

    async def reply(self, since: float, timeout: float, transferred: Any) -> str:
        """Wait for the agent to speak after `since` and go quiet: done, transferred, no-reply, dropped."""
        deadline = time.monotonic() + timeout
        while True:
            self._scan()
            now = time.monotonic()
            if self.last_voiced > since and now - self.last_voiced >= QUIET_S:
                return "done"
            if self.call.gone:  # the agent may end the call after its last reply
                return "done" if self.last_voiced > since else "dropped"
            if transferred():
                return "transferred"
            if now > deadline:
                return "no-reply"
            await asyncio.sleep(0.05)


def _percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def run_load(
    base: Settings,
    scripts: Sequence[CallScript],
    options: LoadOptions,
    *,
    articles: str,
    services: Any = None,
    kb: Any = None,
    work_dir: Path | None = None,
) -> LoadResult:
    """Run `options.calls` concurrent scripted calls (cycling through `scripts`) and measure them.

    `services`/`kb` default to the real ones (`build_runtime` loads them); pass stand-ins for tests.
    """
    from ari_app.ari.double import AsteriskDouble
    from kayako_client.simulator import start_simulator

    if options.calls < 1:
        raise LoadBenchError(f"need at least 1 call, got {options.calls}")
    if not scripts or any(not s.turns for s in scripts):
        raise LoadBenchError("every call script needs at least one caller turn")
    if options.ramp_s < 0:
        raise LoadBenchError(f"ramp must be >= 0 s, got {options.ramp_s}")
    work = work_dir or Path(tempfile.mkdtemp(prefix="kayako-voice-load-"))
    sim = await start_simulator(articles)
    double = AsteriskDouble()
    await double.start()
    double.originate_policy = "answer"
    settings = _bench_settings(base, double, sim, work, options)
    runtime = build_runtime(
        settings,
        services=services,
        kb=kb,
        outbox=OutboxOptions(poll_interval_s=0.1, backoff_base_s=0.2, backoff_max_s=1.0),
    )
    runtime.start_workers()
    latencies: list[float] = []
    timings: list[TurnTiming] = []
    late_frames = 0

    def on_turn(call_id: str, speaker: str, at: float, text: str, timing: TurnTiming | None) -> None:
        if speaker == "timing" and timing is not None:
            if timing.latency_ms is not None:
                latencies.append(timing.latency_ms)
            timings.append(timing)

    def on_ended(session: Any) -> None:
        nonlocal late_frames
        if session.voice is not None:
            late_frames += session.voice.endpoint.stats.late_frames

    app = StasisApp(runtime, on_turn=on_turn, on_call_ended=on_ended, busy_sound_s=0.2)
    await app.start()
    kayako = KayakoClient(ClientOptions(sim.url, sim.agent_email, sim.agent_password))
    records = [_CallRecord(script=scripts[i % len(scripts)].name) for i in range(options.calls)]
    lag = LoopLagMonitor()
    slow = SlowCallbacks()
    if options.slow_callback_ms:
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = options.slow_callback_ms / 1000
        logging.getLogger("asyncio").addHandler(slow)
    cpu0, wall0 = time.process_time(), time.monotonic()
    lag.start()
    try:
        tasks = []
        for i, record in enumerate(records):
            tasks.append(
                asyncio.create_task(_one_call(double, app, scripts[i % len(scripts)], record, options))
            )
            if options.ramp_s:
                await asyncio.sleep(options.ramp_s)
        await asyncio.gather(*tasks)
        admitted = [r for r in records if r.outcome != "refused" and r.call_id]
        lost = await _lost_cases(kayako, [r.call_id for r in admitted], options.case_wait_s)
    finally:
        await lag.stop()
        logging.getLogger("asyncio").removeHandler(slow)
        cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - wall0
        await app.shutdown(grace_s=1.0)
        await runtime.close()
        await kayako.aclose()
        await double.stop()
        await sim.stop()
    outcomes: dict[str, int] = {}
    for r in records:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    result = LoadResult(
        calls=options.calls,
        completed=sum(1 for r in records if r.outcome in ("done", "transferred")),
        latency_p50_ms=_percentile(latencies, 50),
        latency_p95_ms=_percentile(latencies, 95),
        late_frames=late_frames,
        lost_cases=lost,
        cpu_percent=round(100.0 * cpu_s / max(wall_s, 1e-9), 1),
        rss_mb=_peak_rss_mb(),
        refused=len(app.refused),
        turns=len(latencies),
        latency_max_ms=round(max(latencies), 1) if latencies else None,
        loop_lag_max_ms=lag.max_ms(),
        loop_lag_p99_ms=lag.p99_ms(),
        wall_s=round(wall_s, 1),
        outcomes=outcomes,
        unanswered_turns=sum(r.unanswered for r in records),
        slow_callbacks=slow.seen,
        parts_p95_ms={
            part: _percentile([getattr(t, f"{part}_ms") for t in timings], 95)
            for part in ("end_of_turn", "stt", "decide", "tts")
        },
    )
    summary: dict[str, Any] = {k: str(v) for k, v in result.to_dict(details=True).items()}
    log_event(log, "load run finished", **summary)
    return result


def _bench_settings(base: Settings, double: Any, sim: Any, work: Path, options: LoadOptions) -> Settings:
    low = random.randrange(30000, 60000, 100)
    max_calls = options.max_calls or max(base.ari.max_calls, options.calls)  # measure N, not admission
    return dataclasses.replace(
        base,
        company=dataclasses.replace(base.company, agent_extension=base.company.agent_extension or "100"),
        ari=dataclasses.replace(
            base.ari,
            url=double.base_url,
            username=double.username,
            password=double.password,
            agent_endpoint=base.ari.agent_endpoint or "PJSIP/agent100",
            transfer_timeout_s=5.0,
            max_calls=max_calls,
            overflow_action="hangup",
        ),
        kayako=dataclasses.replace(
            base.kayako, url=sim.url, email=sim.agent_email, password=sim.agent_password
        ),
        media=dataclasses.replace(base.media, rtp_port_min=low, rtp_port_max=low + 2 * max_calls + 99),
        storage=dataclasses.replace(
            base.storage, database=str(work / "load.db"), kb_index=str(work / "no-index.db")
        ),
    )


async def _one_call(
    double: Any, app: StasisApp, script: CallScript, record: _CallRecord, options: LoadOptions
) -> None:
    """Place one call and play its caller: each turn after the agent's reply, then hang up."""
    started = asyncio.get_running_loop().create_future()

    async def caller(call: Any) -> None:
        ear = _AgentEar(call)

        def transferred() -> bool:
            session = app.sessions.get(call.id)
            return bool(session is not None and session.agent_bridged)

        outcome = await ear.reply(0.0, options.reply_timeout_s, transferred)  # the greeting
        for pcm in script.turns:
            if outcome not in ("done", "no-reply"):
                break
            await call.say(pcm)
            # a caller saying "hang on" gets no reply: after `reply_timeout_s` it goes on
            outcome = await ear.reply(time.monotonic(), options.reply_timeout_s, transferred)
            record.unanswered += outcome == "no-reply"
        record.outcome = "done" if outcome == "no-reply" else outcome
        if not call.gone:
            await call.hangup()
        if not started.done():
            started.set_result(None)

    call = await double.place_call(script.caller_number, audio=caller)
    record.call_id = call.id
    deadline = time.monotonic() + options.call_limit_s
    while time.monotonic() < deadline:
        if call.id in app.refused:
            record.outcome = "refused"
            return
        ended = any(s.call_id == call.id for s in app.ended)
        if ended and (started.done() or call.gone):
            if record.outcome == "not-started":
                record.outcome = "dropped"
            return
        await asyncio.sleep(0.1)
    record.outcome = "timeout"
    log_event(log, "scripted call did not end in time; hanging up", logging.WARNING, call_id=call.id)
    with contextlib.suppress(Exception):
        await call.hangup()


async def _lost_cases(kayako: KayakoClient, call_ids: list[str], wait_s: float) -> int:
    """How many of these calls do not have exactly one case in Kayako (tag `call-<id>`)."""
    wanted = {call_tag(c): c for c in call_ids}
    deadline = time.monotonic() + wait_s
    while True:
        counts = dict.fromkeys(wanted, 0)
        for case in await kayako.list_cases():
            for tag in case.tags:
                if tag in counts:
                    counts[tag] += 1
        if all(n == 1 for n in counts.values()) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.3)  # a duplicate delivery would show up now
    counts = dict.fromkeys(wanted, 0)
    for case in await kayako.list_cases():
        for tag in case.tags:
            if tag in counts:
                counts[tag] += 1
    return sum(1 for n in counts.values() if n != 1)
