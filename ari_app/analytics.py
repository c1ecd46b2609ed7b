"""Call analytics: pure computations over rows of the call store (no I/O, no clock).

Input is what `CallStore.calls()` and `CallStore.latencies()` return and the outbox's
`OutboxStats`; output is one `CallReport` whose `to_dict()` keys are stable (the `report
--json` output and the dashboard's `/api/report` both use it). Definitions:
- resolution rate: calls the AI resolved with no human (outcome `resolved`) / ended calls;
- escalation rate: outcome `escalated` / ended calls; abandoned: outcome `abandoned`;
- handling time: `duration_s` of ended calls; latency: voice-to-voice `turns.latency_ms`
  (last voiced caller frame in -> first agent frame out), p50/p95 by linear interpolation;
- call drivers: articles used and topic tags (`phone` and the `ai-<outcome>` tags are left out).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

OUTCOMES = ("resolved", "escalated", "abandoned")
_GENERIC_TAGS = {"phone", "ai-resolved", "ai-escalated", "ai-abandoned"}


@dataclass(frozen=True)
class DayVolume:
    day: str  # YYYY-MM-DD (UTC)
    calls: int
    resolved: int
    escalated: int
    abandoned: int


@dataclass(frozen=True)
class Driver:
    key: str  # article id as text, or the tag
    label: str  # article title, or the tag
    calls: int


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None


@dataclass(frozen=True)
class OutboxSummary:
    pending: int
    delivered: int
    dead: int
    oldest_pending_age_s: float | None


@dataclass(frozen=True)
class CallReport:
    since: str | None
    first_call_at: str | None
    last_call_at: str | None
    total_calls: int
    ended_calls: int
    in_progress: int
    outcomes: dict[str, int]
    resolution_rate: float | None
    escalation_rate: float | None
    abandonment_rate: float | None
    avg_handling_s: float | None
    median_handling_s: float | None
    by_day: tuple[DayVolume, ...]
    by_hour: tuple[int, ...]  # 24 counts, UTC hour of the call start
    top_articles: tuple[Driver, ...]
    top_tags: tuple[Driver, ...]
    latency: LatencySummary
    case_states: dict[str, int]
    outbox: OutboxSummary | None = None
    schema: int = field(default=1)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (lists, not tuples): what `--json` and `/api/report` give."""
        out: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return out


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return ordered[lo]
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _parse(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return None


def _json_list(raw: Any) -> list[Any]:
    if not raw:
        return []
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return []
    return value if isinstance(value, list) else []


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def summarise_latency(latencies_ms: list[float]) -> LatencySummary:
    vals = [float(v) for v in latencies_ms if v is not None and v >= 0]
    p50 = percentile(vals, 50)
    p95 = percentile(vals, 95)
    return LatencySummary(
        count=len(vals),
        p50_ms=None if p50 is None else round(p50, 1),
        p95_ms=None if p95 is None else round(p95, 1),
        max_ms=round(max(vals), 1) if vals else None,
    )


def outbox_summary(stats: Any) -> OutboxSummary | None:
    """From `kayako_client.models.OutboxStats` or a dict with the same keys."""
    if stats is None:
        return None
    get = stats.get if isinstance(stats, dict) else lambda k, d=None: getattr(stats, k, d)
    age = get("oldest_pending_age_s", None)
    return OutboxSummary(
        pending=int(get("pending", 0) or 0),
        delivered=int(get("delivered", 0) or 0),
        dead=int(get("dead", 0) or 0),
        oldest_pending_age_s=None if age is None else round(float(age), 1),
    )


def build_report(
    calls: list[dict[str, Any]],
    latencies_ms: list[float],
    outbox: Any = None,
    since: str | None = None,
    top_n: int = 8,
) -> CallReport:
    """One report over these call rows (already filtered by `since` if the caller wanted)."""
    outcomes: Counter[str] = Counter()
    days: dict[str, Counter[str]] = {}
    hours = [0] * 24
    durations: list[float] = []
    articles: Counter[str] = Counter()
    titles: dict[str, str] = {}
    tags: Counter[str] = Counter()
    states: Counter[str] = Counter()
    starts: list[str] = []
    ended = 0
    for row in calls:
        started = _parse(row.get("started_at") or "")
        outcome = row.get("outcome") or ""
        is_ended = bool(row.get("ended_at")) or outcome in OUTCOMES
        if is_ended:
            ended += 1
            if outcome in OUTCOMES:
                outcomes[outcome] += 1
            if row.get("duration_s") is not None and row["duration_s"] >= 0:
                durations.append(float(row["duration_s"]))
        states[row.get("case_state") or "none"] += 1
        if started is not None:
            starts.append(row["started_at"])
            day = days.setdefault(started.date().isoformat(), Counter())
            day["calls"] += 1
            if outcome in OUTCOMES:
                day[outcome] += 1
            hours[started.hour] += 1
        seen_articles: set[str] = set()
        for item in _json_list(row.get("articles")):
            if isinstance(item, list | tuple) and item:
                key = str(item[0])
                title = str(item[1]) if len(item) > 1 else key
            else:
                key = title = str(item)
            if key not in seen_articles:
                seen_articles.add(key)
                articles[key] += 1
                titles.setdefault(key, title)
        for tag in {str(t) for t in _json_list(row.get("tags"))}:
            if tag and tag not in _GENERIC_TAGS:
                tags[tag] += 1

    def top(counter: Counter[str], label: dict[str, str] | None = None) -> tuple[Driver, ...]:
        ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]
        return tuple(Driver(k, (label or {}).get(k, k), n) for k, n in ranked)

    by_day = tuple(
        DayVolume(d, c["calls"], c["resolved"], c["escalated"], c["abandoned"])
        for d, c in sorted(days.items())
    )
    mean = round(sum(durations) / len(durations), 1) if durations else None
    median = percentile(durations, 50)
    return CallReport(
        since=since,
        first_call_at=min(starts) if starts else None,
        last_call_at=max(starts) if starts else None,
        total_calls=len(calls),
        ended_calls=ended,
        in_progress=len(calls) - ended,
        outcomes={o: outcomes[o] for o in OUTCOMES},
        resolution_rate=_rate(outcomes["resolved"], ended),
        escalation_rate=_rate(outcomes["escalated"], ended),
        abandonment_rate=_rate(outcomes["abandoned"], ended),
        avg_handling_s=mean,
        median_handling_s=None if median is None else round(median, 1),
        by_day=by_day,
        by_hour=tuple(hours),
        top_articles=top(articles, titles),
        top_tags=top(tags),
        latency=summarise_latency(latencies_ms),
        case_states=dict(sorted(states.items())),
        outbox=outbox_summary(outbox),
    )


def normalise_since(text: str | None) -> str | None:
    """`--since` as the store compares it (ISO, UTC); a bad date raises ValueError naming it."""
    if text is None or not text.strip():
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO date or time: {text!r} (e.g. 2025-03-01 or 2025-03-01T08:00)") from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.isoformat(timespec="milliseconds")
