"""The operations web surface mounted into the `serve` app: dashboard, report, metrics, admin.

| route | who |
|---|---|
| `GET /dashboard`, `/dashboard.js`, `/dashboard.css` | anyone (the page holds no data) |
| `GET /api/report?since=DATE` | viewer |
| `GET /metrics` | anyone who can reach the port (Prometheus text; no caller data in it) |
| `POST /api/admin/forget` `{"phone": ...}` / `{"email": ...}` | admin |
| `POST /api/admin/purge` `{"retention_days": N}` (default `storage.retention_days`) | admin |
| `GET /api/admin/config` | admin (settings with secrets replaced) |

Admin requests and refusals are written to the audit table (see `ari_app.access`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ari_app.access import PRINCIPAL, AccessTokens, require
from ari_app.dashboard import dashboard_asset, dashboard_page, report_handler
from ari_app.metrics import CallMetrics, metrics_handler
from ari_app.privacy import ForgetRequestError, forget_caller, purge_expired
from ari_app.settings import Settings, redacted
from ari_app.store import CallStore

log = logging.getLogger(__name__)

METRICS_KEY = web.AppKey("kayako_voice_metrics", CallMetrics)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"body is not JSON: {exc}"}), content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}), content_type="application/json"
        )
    return body


def add_operations_routes(
    app: web.Application,
    store: CallStore,
    outbox_stats: Callable[[], Any] | None,
    tokens: AccessTokens,
    *,
    settings: Settings | None = None,
    metrics: CallMetrics | None = None,
) -> CallMetrics:
    """Mount the routes; returns the `CallMetrics` served at /metrics (also `app[METRICS_KEY]`)."""
    settings = settings or Settings()
    metrics = metrics or CallMetrics()
    app[METRICS_KEY] = metrics
    viewer = require("viewer", tokens, store)
    admin = require("admin", tokens, store)

    @admin
    async def forget(request: web.Request) -> web.Response:
        body = await _json_body(request)
        phone, email = body.get("phone"), body.get("email")
        if not isinstance(phone, str | None) or not isinstance(email, str | None):
            return web.json_response({"error": "phone and email must be strings"}, status=400)
        try:
            result = forget_caller(store, phone=phone, email=email, actor=request[PRINCIPAL].actor)
        except ForgetRequestError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(result.to_dict())

    @admin
    async def purge(request: web.Request) -> web.Response:
        body = await _json_body(request)
        days = body.get("retention_days", settings.storage.retention_days)
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            return web.json_response(
                {"error": "retention_days must be a whole number of days >= 1"}, status=400
            )
        result = purge_expired(store, days, actor=request[PRINCIPAL].actor)
        return web.json_response(result.to_dict())

    @admin
    async def config(request: web.Request) -> web.Response:
        return web.json_response(redacted(settings))

    app.router.add_get("/dashboard", dashboard_page)
    app.router.add_get("/{name:dashboard\\.(?:js|css)}", dashboard_asset)
    app.router.add_get("/api/report", viewer(report_handler(store, outbox_stats)))
    app.router.add_get("/metrics", metrics_handler(metrics, outbox_stats))
    app.router.add_post("/api/admin/forget", forget)
    app.router.add_post("/api/admin/purge", purge)
    app.router.add_get("/api/admin/config", config)
    return metrics
