"""Who may use the operations web surface: bearer tokens with a role.

Two roles: `viewer` (dashboard and report API) and `admin` (everything a viewer may, plus
forget, purge and the redacted config). Tokens come from `web.viewer_token` and
`web.admin_token` (or their `_file` variants). A token is read from `Authorization: Bearer
<token>`, or from `?token=` so a browser can open the dashboard from a link. Tokens are
compared in constant time; with no token configured for a role, nobody has that role (the
surface is closed, not open). Every request that reaches an admin handler, and every refused
one, goes to the audit table; the token itself is never written, only a short fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ari_app.logs import log_event
from ari_app.settings import WebSettings
from ari_app.store import CallStore

log = logging.getLogger(__name__)

ROLES = ("viewer", "admin")
_RANK = {"viewer": 1, "admin": 2}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Principal:
    role: str
    fingerprint: str  # first 8 hex of sha256(token): names the token in the audit log

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.fingerprint}"

    def may(self, role: str) -> bool:
        return _RANK[self.role] >= _RANK[role]


# where a guarded handler finds who called it (aiohttp >= 3.12 has typed request keys)
PRINCIPAL: Any = web.RequestKey("principal", Principal) if hasattr(web, "RequestKey") else "principal"


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:8]


class AccessTokens:
    """The configured tokens and their roles."""

    def __init__(self, viewer: Iterable[str] = (), admin: Iterable[str] = ()) -> None:
        self._tokens: list[tuple[bytes, str]] = []
        for role, tokens in (("viewer", viewer), ("admin", admin)):
            for token in tokens:
                token = token.strip()
                if not token:
                    continue
                if len(token) < 12:
                    raise ValueError(f"{role} token is too short: use at least 12 characters")
                self._tokens.append((token.encode("utf-8"), role))

    @classmethod
    def from_settings(cls, web_settings: WebSettings) -> AccessTokens:
        return cls(viewer=[web_settings.viewer_token], admin=[web_settings.admin_token])

    @property
    def configured(self) -> bool:
        return bool(self._tokens)

    def identify(self, token: str) -> Principal | None:
        given = token.strip().encode("utf-8")
        found: Principal | None = None
        for known, role in self._tokens:  # no early exit: same time whatever matches
            if hmac.compare_digest(known, given) and (found is None or _RANK[role] > _RANK[found.role]):
                found = Principal(role, fingerprint(token.strip()))
        return found


def token_of(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query.get("token", "").strip()


def _deny(status: int, reason: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="kayako-voice"'} if status == 401 else {}
    return web.json_response({"error": reason}, status=status, headers=headers)


def require(role: str, tokens: AccessTokens, store: CallStore | None = None) -> Callable[[Handler], Handler]:
    """Decorator: the handler runs only for a token with at least `role`.

    The principal is stored as `request[PRINCIPAL]`. For `admin`, each allowed call and each
    refusal is written to the audit table through `store`.
    """
    if role not in _RANK:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            action = f"{request.method} {request.path}"
            token = token_of(request)
            principal = tokens.identify(token) if token else None
            if principal is None or not principal.may(role):
                status, reason = (
                    (401, "a valid bearer token is required")
                    if principal is None
                    else (
                        403,
                        f"this needs the {role} role",
                    )
                )
                if role == "admin" and store is not None:
                    who = (
                        principal.actor
                        if principal
                        else (f"unknown:{fingerprint(token)}" if token else "anonymous")
                    )
                    store.audit("", who, "access-denied", action)
                log_event(
                    log,
                    "operations access refused",
                    logging.WARNING,
                    action=action,
                    status=status,
                    remote=request.remote,
                )
                return _deny(status, reason)
            request[PRINCIPAL] = principal
            if role == "admin" and store is not None:
                store.audit("", principal.actor, "admin-request", action)
            return await handler(request)

        return guarded

    return wrap
