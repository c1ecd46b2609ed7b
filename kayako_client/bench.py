"""Benchmark: cases/s delivered to the local simulator, transfer-time latency, outage drain.

Run: `.venv/bin/python -m kayako_client.bench --json`. Everything is real: the simulator
listens on 127.0.0.1, the outbox is a SQLite file in a temporary folder, every case goes
through requester lookup/creation, the open-case check and `POST /cases`. The outage is a
closed listening socket (connection refused) for `--outage-s` seconds while 50 cases are
queued; the drain time is measured from the moment the socket listens again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from kayako_client.client import KayakoClient
from kayako_client.models import OutboundCase
from kayako_client.outbox import CaseOutbox, OutboxOptions
from kayako_client.simulator import start_simulator
from kayako_client.transport import ClientOptions

ARTICLES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "dev" / "kb_articles.json"


_PREFIX_CODE = {"tp": "101", "now": "102", "out": "103"}


def _case(prefix: str, i: int) -> OutboundCase:
    return OutboundCase(
        call_id=f"{prefix}-{i}",
        subject=f"Phone call {prefix}-{i}: cannot sign in",
        contents_html="<p>Summary</p><pre>[00:01] Caller: hi</pre>" * 10,
        tags=("phone", "login"),
        requester_name=f"Caller {i}",
        requester_email=f"{prefix}{i}@example.com",
        requester_phone=f"+1555{_PREFIX_CODE[prefix]}{i:04d}",
    )


async def _drain(box: CaseOutbox, total: int, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while box.stats().delivered < total and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def bench(cases: int, outage_s: float, concurrency: int) -> dict[str, Any]:
    sim = await start_simulator(str(ARTICLES) if ARTICLES.exists() else None)
    opts = ClientOptions(
        sim.url,
        sim.agent_email,
        sim.agent_password,
        timeout_s=2.0,
        max_attempts=2,
        backoff_base_s=0.1,
        backoff_max_s=0.5,
    )
    out: dict[str, Any] = {"cases": cases, "concurrency": concurrency}
    with tempfile.TemporaryDirectory() as tmp:
        async with KayakoClient(opts) as client:
            await client.list_article_stamps()  # log in once, outside the timings
            box_opts = OutboxOptions(
                concurrency=concurrency, backoff_base_s=0.25, backoff_max_s=1.0, poll_interval_s=0.05
            )
            # 1. throughput: queue everything, then deliver as fast as the outbox can
            box = CaseOutbox(Path(tmp) / "a.db", client, box_opts)
            for i in range(cases):
                box.enqueue(_case("tp", i))
            start = time.perf_counter()
            while box.stats().pending:
                await box.deliver_due()
            elapsed = time.perf_counter() - start
            out["throughput_cases_per_s"] = round(cases / elapsed, 1)
            out["throughput_s"] = round(elapsed, 3)

            # 2. transfer-time delivery: one case at a time via deliver_now
            lat: list[float] = []
            for i in range(20):
                box.enqueue(_case("now", i))
                t0 = time.perf_counter()
                assert await box.deliver_now(f"now-{i}", timeout_s=5) is not None
                lat.append((time.perf_counter() - t0) * 1000)
            lat.sort()
            out["deliver_now_ms_p50"] = round(statistics.median(lat), 1)
            out["deliver_now_ms_p95"] = round(lat[int(0.95 * (len(lat) - 1))], 1)
            box.close()

            # 3. outage: 50 cases queued while connections are refused; drain time after recovery
            box = CaseOutbox(Path(tmp) / "b.db", client, box_opts)
            stop = asyncio.Event()
            worker = asyncio.create_task(box.run(stop))
            await sim.outage(outage_s)
            queued_at = time.perf_counter()
            for i in range(50):
                box.enqueue(_case("out", i))
            await sim.wait_outage_over()
            back_at = time.perf_counter()
            await _drain(box, 50, 60)
            done_at = time.perf_counter()
            stop.set()
            await worker
            counts: dict[str, int] = {}
            for c in await client.list_cases():
                for t in c.tags:
                    if t.startswith("call-out-"):
                        counts[t] = counts.get(t, 0) + 1
            out["outage_s"] = outage_s
            out["outage_delivered"] = box.stats().delivered
            out["outage_each_exactly_once"] = len(counts) == 50 and set(counts.values()) == {1}
            out["drain_after_recovery_s"] = round(done_at - back_at, 3)
            out["queue_to_all_delivered_s"] = round(done_at - queued_at, 3)
            out["outbox_backoff"] = {"base_s": box_opts.backoff_base_s, "max_s": box_opts.backoff_max_s}
            box.close()
    await sim.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kayako_client.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--outage-s", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # retries during the outage are expected
    result = asyncio.run(bench(args.cases, args.outage_s, args.concurrency))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
