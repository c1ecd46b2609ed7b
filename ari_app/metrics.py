"""Prometheus metrics of one kayako-voice process, and the `/metrics` handler.

All metric objects live in one `CallMetrics` with its own `CollectorRegistry` (not the global
one), so tests and several apps in one process do not collide. Latency buckets are set
around the DESIGN.md budget: a turn should answer in well under 1 s (end of turn <= 300 ms,
STT <= 150 ms, first audio <= 20 ms), so buckets are dense between 50 ms and 2 s.
Outbox depth is read from `CaseOutbox.stats()` at scrape time, never cached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from ari_app.logs import log_event

log = logging.getLogger(__name__)

_TURN_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)
_ENGINE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0)
OUTCOMES = ("resolved", "escalated", "abandoned")


class CallMetrics:
    """Every metric the app exports; call the `record_*`/`set_*` methods from the call flow."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.active_calls = Gauge("kayako_voice_active_calls", "Calls in progress now", registry=r)
        self.calls = Counter(
            "kayako_voice_calls", "Ended calls by outcome", ["outcome"], registry=r
        )  # exported as kayako_voice_calls_total
        for outcome in OUTCOMES:
            self.calls.labels(outcome=outcome)
        self.calls_refused = Counter(
            "kayako_voice_calls_refused", "Calls refused or overflowed at capacity", registry=r
        )
        self.turn_latency = Histogram(
            "kayako_voice_turn_latency_seconds",
            "Voice-to-voice latency: last voiced caller frame in to first agent frame out",
            buckets=_TURN_BUCKETS,
            registry=r,
        )
        self.stt_duration = Histogram(
            "kayako_voice_stt_seconds",
            "Speech-to-text time after end of turn",
            ["engine"],
            buckets=_ENGINE_BUCKETS,
            registry=r,
        )
        self.tts_duration = Histogram(
            "kayako_voice_tts_seconds",
            "Time to the first synthesized audio (0 for cached audio)",
            ["engine"],
            buckets=_ENGINE_BUCKETS,
            registry=r,
        )
        self.outbox_depth = Gauge(
            "kayako_voice_outbox_cases", "Cases in the outbox by state", ["state"], registry=r
        )
        self.outbox_oldest = Gauge(
            "kayako_voice_outbox_oldest_pending_seconds",
            "Age of the oldest case still waiting for Kayako (0 when none)",
            registry=r,
        )
        self.outbox_failures = Counter(
            "kayako_voice_outbox_failures", "Failed case delivery attempts", registry=r
        )
        self.ari_reconnects = Counter(
            "kayako_voice_ari_reconnects", "ARI WebSocket reconnections", registry=r
        )

    # -- call flow hooks ----------------------------------------------------------------------
    def call_started(self) -> None:
        self.active_calls.inc()

    def call_ended(self, outcome: str) -> None:
        self.active_calls.dec()
        self.calls.labels(outcome=outcome if outcome in OUTCOMES else "other").inc()

    def record_turn(
        self,
        latency_ms: float | None,
        stt_ms: float | None = None,
        tts_ms: float | None = None,
        stt_engine: str = "",
        tts_engine: str = "",
    ) -> None:
        if latency_ms is not None and latency_ms >= 0:
            self.turn_latency.observe(latency_ms / 1000.0)
        if stt_ms is not None and stt_ms >= 0:
            self.stt_duration.labels(engine=stt_engine or "unknown").observe(stt_ms / 1000.0)
        if tts_ms is not None and tts_ms >= 0:
            self.tts_duration.labels(engine=tts_engine or "unknown").observe(tts_ms / 1000.0)

    def set_outbox(self, stats: Any) -> None:
        """From `OutboxStats` (or a dict with pending/delivered/dead/oldest_pending_age_s)."""
        get = stats.get if isinstance(stats, dict) else lambda k, d=None: getattr(stats, k, d)
        for state in ("pending", "delivered", "dead"):
            self.outbox_depth.labels(state=state).set(float(get(state, 0) or 0))
        self.outbox_oldest.set(float(get("oldest_pending_age_s", None) or 0.0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def metrics_handler(
    metrics: CallMetrics, outbox_stats: Callable[[], Any] | None = None
) -> Callable[[web.Request], Any]:
    """aiohttp handler serving the text exposition format, outbox depth refreshed per scrape."""

    async def handle(request: web.Request) -> web.Response:
        if outbox_stats is not None:
            try:
                metrics.set_outbox(outbox_stats())
            except Exception as exc:  # a broken outbox must not hide the other metrics
                log_event(log, "outbox stats unavailable for /metrics", logging.WARNING, error=repr(exc))
        body = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return handle
