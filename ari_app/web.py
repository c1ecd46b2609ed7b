"""The web surface of a running `serve`: `/health` (JSON state), `/ready` (load balancer probe),
and the operations routes (`/dashboard`, `/api/report`, `/metrics`, admin API; see admin_web).

Owns the aiohttp server on `web.host:web.port`. `/ready` is 200 only while the ARI WebSocket
is up and new calls are admitted (Kamailio/HAProxy stop routing to a node that says 503, e.g.
during a graceful shutdown); `/health` is always 200 while the process runs and says why it
is or is not ready. No caller data is exposed here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ari_app.access import AccessTokens
from ari_app.admin_web import add_operations_routes
from ari_app.metrics import CallMetrics
from ari_app.stasis_app import StasisApp


def health(app: StasisApp) -> dict[str, Any]:
    outbox = app.runtime.outbox
    stats = outbox.stats() if outbox is not None else None
    return {
        "status": "ok",
        "ari_connected": app.ari.connected,
        "ari_connections": app.ari.connections,
        "admitting": app.admitting,
        "live_calls": app.live_calls,
        "max_calls": app.settings.ari.max_calls,
        "calls_ended": len(app.ended),
        "calls_refused": len(app.refused),
        "outbox": None
        if stats is None
        else {
            "pending": stats.pending,
            "delivered": stats.delivered,
            "dead": stats.dead,
            "oldest_pending_age_s": stats.oldest_pending_age_s,
        },
    }


def build_web(app: StasisApp, metrics: CallMetrics | None = None) -> web.Application:
    async def get_health(_request: web.Request) -> web.Response:
        return web.json_response(health(app))

    async def get_ready(_request: web.Request) -> web.Response:
        ready = app.ari.connected and app.admitting
        reason = "ready" if ready else ("not admitting calls" if not app.admitting else "ARI not connected")
        return web.json_response({"ready": ready, "reason": reason}, status=200 if ready else 503)

    web_app = web.Application()
    web_app.router.add_get("/health", get_health)
    web_app.router.add_get("/ready", get_ready)
    outbox = app.runtime.outbox
    add_operations_routes(
        web_app,
        app.runtime.store,
        outbox.stats if outbox is not None else None,
        AccessTokens.from_settings(app.settings.web),
        settings=app.settings,
        metrics=metrics,
    )
    return web_app


async def start_web(
    app: StasisApp, host: str, port: int, metrics: CallMetrics | None = None
) -> web.AppRunner:
    """Serve the web surface; stop with `await runner.cleanup()`."""
    runner = web.AppRunner(build_web(app, metrics), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
