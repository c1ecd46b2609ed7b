"""Fault injection for the simulator: outages, slowness, 429 storms, lost replies, bad bodies.

Set by constructor settings (`Faults(...)`), by `SimulatorHandle.set_faults(...)`, or over
HTTP with `POST /_sim/faults` (JSON with the same keys; `GET` shows the current values).
Counters (`*_count`) apply to the next N `/api/v1` requests and count down. A real
"connection refused" outage is not a fault here: `SimulatorHandle.stop_listener()` closes the
listening socket. Retry-After may be fractional (real Kayako sends whole seconds) so tests
stay fast.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from aiohttp import web

from kayako_client.simulator import render

HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><h1>Bad Gateway</h1><p>The proxy could not reach the helpdesk.</p></body></html>"
)


@dataclass
class Faults:
    down: bool = False  # every API request gets 503
    down_for_s: float = 0.0  # 503 for this many seconds from when it is set
    delay_s: float = 0.0  # added before every API reply
    rate_limit_count: int = 0  # next N requests get 429
    retry_after_s: float = 1.0
    expire_sessions_count: int = 0  # next N requests first drop every session (-> 401)
    html_error_count: int = 0  # next N requests get an HTML error page
    html_error_status: int = 502
    truncated_json_count: int = 0  # next N replies are cut in half
    timeout_after_commit_count: int = 0  # next N writes commit, then the connection is dropped
    extra_fields: bool = False  # add unknown keys to every envelope and object
    csrf_always: bool = False  # ignore `X-CSRF: false`: every new session needs X-CSRF-Token on writes
    down_until: float = 0.0  # monotonic deadline derived from down_for_s

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        for key, value in changes.items():
            if key not in known or key == "down_until":
                raise ValueError(
                    f"unknown fault {key!r}; known: {', '.join(sorted(k for k in known if k != 'down_until'))}"
                )
            current = getattr(self, key)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"fault {key!r} must be true or false")
            elif isinstance(current, int):
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"fault {key!r} must be a non-negative integer")
            elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"fault {key!r} must be a non-negative number")
            setattr(self, key, value)
        if "down_for_s" in changes:
            self.down_until = time.monotonic() + float(self.down_for_s) if self.down_for_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("down_until")
        out["down_now"] = self.is_down()
        return out

    def is_down(self) -> bool:
        return self.down or time.monotonic() < self.down_until

    def take(self, name: str) -> bool:
        """Use one unit of a counted fault; True if it fires for this request."""
        left = getattr(self, name)
        if left > 0:
            setattr(self, name, left - 1)
            return True
        return False


def fault_middleware(faults: Faults, on_expire: Any) -> Any:
    """aiohttp middleware applying `faults` to every /api/v1 request."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        if faults.delay_s:
            await asyncio.sleep(faults.delay_s)
        if faults.is_down():
            return render.errors(503, "SERVICE_UNAVAILABLE", message="the helpdesk is down for maintenance")
        if faults.take("rate_limit_count"):
            return render.errors(
                429,
                "RATE_LIMIT_REACHED",
                message="The rate limit for this action was reached",
                headers={"Retry-After": f"{faults.retry_after_s:g}"},
            )
        if faults.take("html_error_count"):
            return web.Response(status=faults.html_error_status, text=HTML_PAGE, content_type="text/html")
        if faults.take("expire_sessions_count"):
            on_expire()
        write = request.method in ("POST", "PUT", "DELETE")
        drop = write and faults.take("timeout_after_commit_count")
        response = await handler(request)
        if drop:
            # the write is committed; the reply never arrives
            if request.transport is not None:
                request.transport.close()
            return response
        if (
            faults.extra_fields
            and isinstance(response, web.Response)
            and response.content_type == "application/json"
        ):
            raw = response.text or "{}"
            response = web.json_response(_with_extras(json.loads(raw)), status=response.status)
        if isinstance(response, web.Response) and faults.take("truncated_json_count") and response.body:
            body = bytes(response.body)  # type: ignore[arg-type]
            return web.Response(
                status=response.status, body=body[: len(body) // 2], content_type="application/json"
            )
        return response

    return middleware


def _with_extras(value: Any) -> Any:
    """Add keys a newer Kayako might send; clients must ignore them."""
    if isinstance(value, dict):
        out = {k: _with_extras(v) for k, v in value.items()}
        out["x_future_field"] = {"nested": [1, "two", None]}
        out["sla_breach_forecast"] = None
        return out
    if isinstance(value, list):
        return [_with_extras(v) for v in value]
    return value
