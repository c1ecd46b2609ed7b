"""HTTP transport to Kayako API v1: session auth, retries, rate limits, envelopes, paging.

Facts it relies on (kayako-api.md §2-§4): Basic auth on `GET /api/v1/session` returns the
session id in `data.id`; later requests send only `X-Session-ID`; `X-CSRF: false` on that
request makes a session that needs no CSRF token (else the token comes back in the
`X-CSRF-Token` header and must accompany POST/PUT/DELETE); 401 (or 454
SESSION_LOADING_FAILED) means the session is gone: log in again once; 429 carries
`Retry-After` in seconds; collections page with `next_url`. Writes are retried only when
they surely did not reach Kayako (connection refused, 503, 429); a write that may have been
committed raises with `maybe_committed=True` instead. Credentials are never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from kayako_client.errors import (
    AuthError,
    BadReply,
    FieldError,
    KayakoError,
    NotFound,
    RateLimited,
    Unavailable,
)

logger = logging.getLogger(__name__)

_SESSION_GONE = {401, 454}
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAYBE_SENT = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class ClientOptions:
    """How to reach one Kayako instance and how hard to try."""

    url: str
    email: str
    password: str
    timeout_s: float = 10.0
    verify_tls: bool = True
    ca_bundle: str = ""  # PEM file; empty: the system/certifi bundle
    max_attempts: int = 4  # per request, for connection errors, timeouts and 5xx
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    max_rate_limit_waits: int = 10  # 429 replies honoured per request
    max_retry_after_s: float = 60.0  # a longer Retry-After is not waited for: RateLimited
    page_limit: int = 100
    locale: str = "en-us"

    def __repr__(self) -> str:  # never show the password
        return f"ClientOptions(url={self.url!r}, email=<hidden>, timeout_s={self.timeout_s})"


class KayakoTransport:
    """One logged-in HTTP connection pool to a Kayako instance."""

    def __init__(
        self,
        options: ClientOptions,
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.options = options
        verify: bool | ssl.SSLContext = options.verify_tls
        if options.ca_bundle:
            verify = ssl.create_default_context(cafile=options.ca_bundle)  # raises if the file is unusable
        self._http = httpx.AsyncClient(
            base_url=options.url.rstrip("/"),
            timeout=httpx.Timeout(options.timeout_s),
            verify=verify,
            headers={"Accept": "application/json"},
            transport=transport,
        )
        self._sleep = sleep
        self._session_id: str | None = None
        self._csrf_token: str | None = None
        self._login_lock = asyncio.Lock()
        self.login_count = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- session -----------------------------------------------------------------------------

    async def _login(self) -> str:
        async with self._login_lock:
            if self._session_id is not None:
                return self._session_id  # another task logged in while this one waited
            reply = await self._send(
                "GET",
                "/api/v1/session",
                params=None,
                body=None,
                headers={"X-CSRF": "false"},
                auth=(self.options.email, self.options.password),
                write=False,
            )
            envelope = _decode(reply, write=False)
            if reply.status_code == 429:  # AUTHENTICATION_LOCKED or a rate limit
                raise RateLimited(
                    "GET /api/v1/session: rate limited by Kayako",
                    retry_after=_retry_after(reply),
                    code="RATE_LIMIT_REACHED",
                    status=429,
                )
            if reply.status_code >= 400:
                raise _error_from(reply, envelope, auth=True)
            data = envelope.get("data")
            session_id = envelope.get("session_id") or (data.get("id") if isinstance(data, dict) else None)
            if not isinstance(session_id, str) or not session_id:
                raise BadReply("session reply carries no session id", status=reply.status_code)
            self._session_id = session_id
            self._csrf_token = reply.headers.get("X-CSRF-Token")
            self.login_count += 1
            logger.info("kayako session opened", extra={"kayako_url": self.options.url})
            return session_id

    # -- requests ----------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send one API request and return the decoded envelope; raise a KayakoError subclass."""
        write = method.upper() != "GET"
        attempt = 0
        rate_waits = 0
        relogged = False
        while True:
            attempt += 1
            try:
                session_id = self._session_id or await self._login()
                headers = {"X-Session-ID": session_id}
                if write and self._csrf_token:
                    headers["X-CSRF-Token"] = self._csrf_token
                reply = await self._send(method, path, params=params, body=body, headers=headers, write=write)
                envelope = _decode(reply, write=write)
            except (Unavailable, BadReply) as exc:
                if exc.maybe_committed and write:
                    raise
                if attempt >= self.options.max_attempts:
                    raise
                await self._backoff(attempt, method, path, exc)
                continue
            except RateLimited as exc:  # raised while logging in
                rate_waits += 1
                attempt -= 1
                await self._rate_wait(method, path, exc.retry_after, rate_waits)
                continue
            status = reply.status_code
            if status < 400:
                return envelope
            if status in _SESSION_GONE or _has_code(envelope, "CSRF_FAILED"):
                if relogged:
                    raise _error_from(reply, envelope, auth=True)
                relogged = True
                attempt -= 1
                logger.info("kayako session expired; logging in again", extra={"status": status})
                if self._session_id == session_id:
                    self._session_id = None  # the next turn logs in (once, shared by all tasks)
                continue
            if status == 429:
                rate_waits += 1
                attempt -= 1  # a 429 is not a failed attempt; it has its own budget
                await self._rate_wait(method, path, _retry_after(reply), rate_waits)
                continue
            if status >= 500:
                err = _error_from(reply, envelope, auth=False)
                if write and status != 503:  # the write may have been applied
                    err.maybe_committed = True
                    raise err
                if attempt >= self.options.max_attempts:
                    raise err
                await self._backoff(attempt, method, path, err)
                continue
            raise _error_from(reply, envelope, auth=False)

    async def _rate_wait(self, method: str, path: str, retry_after: float, waits: int) -> None:
        if waits > self.options.max_rate_limit_waits or retry_after > self.options.max_retry_after_s:
            raise RateLimited(
                f"{method} {path}: rate limited by Kayako (Retry-After {retry_after:g} s)",
                retry_after=retry_after,
                code="RATE_LIMIT_REACHED",
                status=429,
            )
        logger.warning(
            "kayako rate limit; waiting Retry-After", extra={"path": path, "retry_after_s": retry_after}
        )
        await self._sleep(retry_after)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        write: bool,
        auth: tuple[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return await self._http.request(
                method, path, params=params, json=body, headers=headers, auth=auth or httpx.USE_CLIENT_DEFAULT
            )
        except _NOT_SENT as exc:
            raise Unavailable(f"{method} {path}: cannot reach Kayako ({type(exc).__name__})") from exc
        except _MAYBE_SENT as exc:
            raise Unavailable(
                f"{method} {path}: no reply from Kayako ({type(exc).__name__})", maybe_committed=write
            ) from exc
        except httpx.TransportError as exc:
            raise Unavailable(
                f"{method} {path}: transport error ({type(exc).__name__})", maybe_committed=write
            ) from exc

    async def _backoff(self, attempt: int, method: str, path: str, exc: KayakoError) -> None:
        ceiling = min(self.options.backoff_max_s, self.options.backoff_base_s * (2 ** (attempt - 1)))
        delay = random.uniform(ceiling / 2, ceiling)  # jitter so many clients do not retry in step
        logger.warning(
            "kayako request failed; retrying",
            extra={
                "method": method,
                "path": path,
                "attempt": attempt,
                "delay_s": round(delay, 3),
                "error": str(exc),
            },
        )
        await self._sleep(delay)

    async def pages(self, path: str, params: dict[str, Any] | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield every envelope of a paged collection, following `next_url` until it is absent."""
        query: dict[str, Any] | None = {"limit": self.options.page_limit, **(params or {})}
        current = path
        seen: set[str] = set()
        while True:
            envelope = await self.request("GET", current, params=query)
            yield envelope
            next_url = envelope.get("next_url")
            if not isinstance(next_url, str) or not next_url:
                return
            # Keep our own host (the instance may advertise its public name); take path + query.
            parts = urlsplit(next_url)
            current = parts.path + (f"?{parts.query}" if parts.query else "")
            if current in seen:
                raise BadReply(f"GET {path}: next_url repeats itself ({current})")
            seen.add(current)
            query = None


def _decode(reply: httpx.Response, *, write: bool) -> dict[str, Any]:
    """Parse a Kayako envelope or raise BadReply/Unavailable naming what came back."""
    ctype = reply.headers.get("content-type", "")
    status = reply.status_code
    text = reply.text
    if "json" not in ctype:
        snippet = " ".join(text[:80].split())
        msg = f"Kayako replied {status} with {ctype or 'no content type'} instead of JSON: {snippet!r}"
        if status >= 500:
            raise Unavailable(msg, status=status, maybe_committed=write and status != 503)
        raise BadReply(msg, status=status, maybe_committed=write and status < 400)
    try:
        envelope = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadReply(
            f"Kayako replied {status} with malformed JSON ({exc.msg} at char {exc.pos} of {len(text)})",
            status=status,
            maybe_committed=write and status < 400,
        ) from exc
    if not isinstance(envelope, dict):
        raise BadReply(f"Kayako replied {status} with JSON that is not an envelope object", status=status)
    return envelope


def _has_code(envelope: dict[str, Any], code: str) -> bool:
    errors = envelope.get("errors")
    return isinstance(errors, list) and any(isinstance(e, dict) and e.get("code") == code for e in errors)


def _retry_after(reply: httpx.Response) -> float:
    try:
        return max(0.0, float(reply.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _error_from(reply: httpx.Response, envelope: dict[str, Any], *, auth: bool) -> KayakoError:
    status = reply.status_code
    errors = envelope.get("errors")
    first: dict[str, Any] = (
        errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    )
    code = str(first.get("code") or "")
    parameter = str(first.get("parameter") or "")
    detail = str(first.get("message") or "")
    where = f"{reply.request.method} {reply.request.url.path}"
    message = f"{where}: Kayako error {status}" + (f": {detail}" if detail else "")
    kind: type[KayakoError]
    if status in _SESSION_GONE or (status == 403 and auth):
        kind = AuthError
    elif status == 404:
        kind = NotFound
    elif status in (400, 422) or code.startswith("FIELD_"):
        kind = FieldError
    elif status >= 500:
        kind = Unavailable
    else:
        kind = KayakoError
    return kind(message, code=code, parameter=parameter, status=status)
