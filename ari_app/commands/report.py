"""`kayako-voice report [--since DATE] [--json]`: call analytics from the local store.

Reads `storage.database` (calls, turns and the case outbox share that SQLite file); with
`--json` prints one object whose keys are `CallReport.to_dict()`'s, stable for scripts.
Without it, a short text report with bar charts drawn in block characters.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from ari_app.analytics import CallReport
from ari_app.dashboard import report_for
from ari_app.privacy import open_store

_BAR = 30


def outbox_stats_of(database: str) -> dict[str, Any] | None:
    """The outbox's counts from its table in the same file, or None if there is no outbox yet."""
    if database != ":memory:" and not Path(database).exists():
        return None
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True) if database != ":memory:" else None
    if db is None:
        return None
    try:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='case_outbox'").fetchone():
            return None
        from kayako_client.outbox import CaseOutbox

        # stats() only reads the table; no Kayako client is needed for it
        outbox = CaseOutbox(database, client=None)  # type: ignore[arg-type]
        try:
            stats = outbox.stats()
        finally:
            outbox.close()
        return {
            "pending": stats.pending,
            "delivered": stats.delivered,
            "dead": stats.dead,
            "oldest_pending_age_s": stats.oldest_pending_age_s,
        }
    finally:
        db.close()


def _bar(n: int, top: int) -> str:
    if top <= 0 or n <= 0:
        return ""
    return "█" * max(1, round(_BAR * n / top))


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def render_text(r: CallReport) -> str:
    out: list[str] = []
    span = f"{(r.first_call_at or '–')[:10]} to {(r.last_call_at or '–')[:10]}"
    out.append(f"kayako-voice calls report ({'since ' + r.since[:10] if r.since else 'all time'}; {span})")
    out.append("")
    out.append(
        f"calls {r.total_calls} (ended {r.ended_calls}, in progress {r.in_progress})   "
        f"resolved by AI {_pct(r.resolution_rate)}   escalated {_pct(r.escalation_rate)}   "
        f"abandoned {_pct(r.abandonment_rate)}"
    )
    aht = "–" if r.avg_handling_s is None else f"{r.avg_handling_s:.0f} s"
    lat = r.latency
    p50 = "–" if lat.p50_ms is None else f"{lat.p50_ms:.0f} ms"
    p95 = "–" if lat.p95_ms is None else f"{lat.p95_ms:.0f} ms"
    out.append(
        f"average handling time {aht}   voice-to-voice latency p50 {p50}, p95 {p95} ({lat.count} turns)"
    )
    if r.outbox is not None:
        ob = r.outbox
        age = "" if ob.oldest_pending_age_s is None else f", oldest waiting {ob.oldest_pending_age_s:.0f} s"
        out.append(f"outbox: {ob.pending} waiting, {ob.dead} dead, {ob.delivered} delivered{age}")
    else:
        out.append("outbox: none in this database")
    if r.by_day:
        out.append("")
        out.append("calls per day                     (R resolved / E escalated / A abandoned)")
        top = max(d.calls for d in r.by_day)
        for d in r.by_day:
            out.append(
                f"  {d.day}  {_bar(d.calls, top):<{_BAR}} {d.calls:>4}  R{d.resolved} E{d.escalated} A{d.abandoned}"
            )
    if any(r.by_hour):
        out.append("")
        out.append("calls by hour (UTC)")
        top = max(r.by_hour)
        for hour, n in enumerate(r.by_hour):
            if n:
                out.append(f"  {hour:02d}:00  {_bar(n, top):<{_BAR}} {n:>4}")
    for title, drivers in (("top articles", r.top_articles), ("top topics", r.top_tags)):
        if drivers:
            out.append("")
            out.append(title)
            top = drivers[0].calls
            for driver in drivers:
                label = driver.label if len(driver.label) <= 40 else driver.label[:39] + "…"
                out.append(f"  {label:<40} {_bar(driver.calls, top):<{_BAR}} {driver.calls:>4}")
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    settings = args.settings
    database = settings.storage.database
    if database != ":memory:" and not Path(database).exists():
        print(f"kayako-voice report: no call database at {database} (storage.database)", file=sys.stderr)
        return 1
    store = open_store(settings)
    try:
        try:
            report = report_for(store, lambda: outbox_stats_of(database), getattr(args, "since", None))
        except ValueError as exc:
            print(f"kayako-voice report: --since: {exc}", file=sys.stderr)
            return 2
    finally:
        store.close()
    if getattr(args, "json", False):
        print(json.dumps(report.to_dict(), ensure_ascii=False, sort_keys=True))
    else:
        print(render_text(report))
    return 0
