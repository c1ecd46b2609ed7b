"""The calls dashboard: one offline HTML page plus the report it draws.

The page (`static/dashboard.html` + `.js` + `.css`) uses no CDN and no chart library: the
script fetches `/api/report` with the viewer's bearer token and draws inline SVG. The
report is `analytics.build_report` over the call store and the outbox's live stats, so the
page, `/api/report` and `kayako-voice report --json` always show the same numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from ari_app.analytics import CallReport, build_report, normalise_since
from ari_app.logs import log_event
from ari_app.store import CallStore

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS = {
    "dashboard.js": "application/javascript",
    "dashboard.css": "text/css",
}
OutboxStatsSource = Callable[[], Any]


def report_for(
    store: CallStore, outbox_stats: OutboxStatsSource | None = None, since: str | None = None
) -> CallReport:
    """The report as of now; `since` is an ISO date/time (a bad one raises ValueError)."""
    cutoff = normalise_since(since)
    stats = None
    if outbox_stats is not None:
        try:
            stats = outbox_stats()
        except Exception as exc:  # the report still shows the calls without the outbox
            log_event(log, "outbox stats unavailable for the report", logging.WARNING, error=repr(exc))
    return build_report(store.calls(cutoff), store.latencies(cutoff), stats, since=cutoff)


def page_html() -> str:
    return (STATIC_DIR / "dashboard.html").read_text(encoding="utf-8")


async def dashboard_page(request: web.Request) -> web.Response:
    return web.Response(
        text=page_html(),
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'",
            "Referrer-Policy": "no-referrer",
        },
    )


async def dashboard_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound()
    return web.Response(
        text=(STATIC_DIR / name).read_text(encoding="utf-8"),
        content_type=ASSETS[name],
        headers={"Cache-Control": "no-cache"},
    )


def report_handler(store: CallStore, outbox_stats: OutboxStatsSource | None) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.Response:
        try:
            report = report_for(store, outbox_stats, request.query.get("since"))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(report.to_dict(), headers={"Cache-Control": "no-store"})

    return handle
