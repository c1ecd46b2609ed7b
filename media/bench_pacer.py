"""Benchmark: many RtpEndpoints pacing 20 ms packets at once on loopback.

Run: `.venv/bin/python -m media.bench_pacer --json [--endpoints 50] [--seconds 10] [--codec ulaw]`.
Every endpoint plays audio for the first half and comfort noise after, to one receiver socket
read by its own process (so measuring shares neither the event loop nor the GIL). Reports
send lateness against each packet's slot (the endpoint's own view; late = more than 5 ms off),
inter-arrival jitter at the receiver (|interval - 20 ms|), sequence gaps, and CPU use, and first
the lateness of a bare asyncio timer on the same grid, so a busy machine can be told apart
from slow code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import struct
import time
from collections import defaultdict
from typing import Any

import numpy as np

from media.codecs import codec_for
from media.frames import FRAME_MS, SAMPLE_RATE
from media.rtp_endpoint import RtpEndpoint


def _receive(address: tuple[str, int], ready: Any, stop: Any, results: Any) -> None:
    """Child process: timestamp every datagram on arrival, keyed by SSRC."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(address)
    sock.settimeout(0.1)
    ready.set()
    arrivals: dict[int, list[tuple[float, int]]] = defaultdict(list)
    while not stop.is_set():
        try:
            data = sock.recv(2048)
        except TimeoutError:
            continue
        now = time.monotonic()
        seq, _, ssrc = struct.unpack_from("!HII", data, 2)
        arrivals[ssrc].append((now, seq))
    sock.close()
    results.put(dict(arrivals))


class _Receiver:
    """One UDP socket read in its own process, so measuring shares neither the event loop
    nor the GIL with the endpoints being measured."""

    def __init__(self) -> None:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        self.address: tuple[str, int] = probe.getsockname()[:2]
        probe.close()
        ctx = multiprocessing.get_context("spawn")
        self._ready, self._stop, self._results = ctx.Event(), ctx.Event(), ctx.Queue()
        self._process = ctx.Process(
            target=_receive, args=(self.address, self._ready, self._stop, self._results), daemon=True
        )

    def start(self) -> None:
        self._process.start()
        if not self._ready.wait(30):
            raise RuntimeError("benchmark receiver process did not start")

    def stop(self) -> dict[int, list[tuple[float, int]]]:
        self._stop.set()
        arrivals: dict[int, list[tuple[float, int]]] = self._results.get(timeout=30)
        self._process.join(10)
        return arrivals


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 3),
        "p95_ms": round(float(np.percentile(arr, 95)), 3),
        "p99_ms": round(float(np.percentile(arr, 99)), 3),
        "max_ms": round(float(arr.max()), 3),
    }


async def _timer_baseline(seconds: float) -> list[float]:
    """Lateness of a bare asyncio timer on the same 20 ms grid, doing no work: what this
    machine's scheduler gives before any endpoint runs (shared CPUs show up here)."""
    period = FRAME_MS / 1000.0
    t0 = time.monotonic()
    lateness = []
    for n in range(1, int(seconds / period)):
        await asyncio.sleep(max(t0 + n * period - time.monotonic(), 0.0))
        lateness.append(time.monotonic() - (t0 + n * period))
    return lateness


async def _bench(endpoints: int, seconds: float, codec: str) -> dict[str, object]:
    baseline = await _timer_baseline(min(seconds, 3.0))
    receiver = _Receiver()
    receiver.start()
    eps = [
        RtpEndpoint(codec_for(codec), remote=receiver.address, call_id=f"bench-{i}") for i in range(endpoints)
    ]
    t = np.arange(int(seconds / 2 * SAMPLE_RATE)) / SAMPLE_RATE
    speech = np.round(6000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    cpu0, wall0 = time.process_time(), time.monotonic()
    for ep in eps:
        await ep.start()
        ep.play(speech, tag="bench")
    await asyncio.sleep(seconds)
    for ep in eps:
        await ep.close()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    await asyncio.sleep(0.1)
    arrivals = receiver.stop()

    lateness: list[float] = []
    for ep in eps:
        lateness.extend(ep.recent_lateness_s)
    jitter: list[float] = []
    gaps = 0
    received = 0
    for series in arrivals.values():
        received += len(series)
        for (t_a, s_a), (t_b, s_b) in zip(series, series[1:], strict=False):
            jitter.append(abs((t_b - t_a) - FRAME_MS / 1000.0))
            if (s_b - s_a) & 0xFFFF != 1:
                gaps += 1
    sent = sum(ep.stats.packets_out for ep in eps)
    late = sum(ep.stats.late_frames for ep in eps)
    return {
        "endpoints": endpoints,
        "seconds": seconds,
        "codec": codec,
        "packets_sent": sent,
        "packets_nominal": int(endpoints * seconds * 1000 / FRAME_MS),
        "packets_received": received,
        "sequence_gaps": gaps,
        "late_frames": late,
        "late_frames_pct": round(100.0 * late / max(sent, 1), 3),
        "skipped_slots": sum(ep.stats.skipped_slots for ep in eps),
        "send_lateness": _percentiles([abs(x) for x in lateness]),
        "arrival_jitter": _percentiles(jitter),
        "baseline_timer_lateness": _percentiles(baseline),
        "cpu_pct_of_one_core": round(100.0 * cpu / wall, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m media.bench_pacer", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--codec", default="slin16", choices=["slin16", "ulaw", "alaw"])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.endpoints < 1 or args.seconds <= 0:
        parser.error("--endpoints must be >= 1 and --seconds > 0")
    result = asyncio.run(_bench(args.endpoints, args.seconds, args.codec))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
