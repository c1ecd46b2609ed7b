"""The simulator's HTTP surface: Kayako API v1 routes plus `/_sim/*` admin routes (aiohttp).

Behaviours from kayako-api.md §8: Basic auth creates a session (id in `data.id` and a
top-level `session_id`; `X-CSRF-Token` header unless the request sent `X-CSRF: false`);
`X-Session-ID` is accepted alone; a session id that disagrees with the Basic user gives 454
SESSION_LOADING_FAILED, an unknown one 401 AUTHORIZATION_REQUIRED; writes on a CSRF session
need `X-CSRF-Token` (403 CSRF_FAILED); field validation gives 400 with `errors[]`; paths work
with or without `.json`; input keys may be snake or camel case; JSON or form bodies.
Admin routes (no auth, simulator only): faults, articles add/update/unpublish/delete,
case ageing, counters.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kayako_client.simulator import render
from kayako_client.simulator.faults import Faults, fault_middleware
from kayako_client.simulator.render import View
from kayako_client.simulator.store import SimStore

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PUBLIC_PREFIX = "/api/v1/helpcenter/"
USER_ID = web.RequestKey("user_id", int)
SESSION_ID = web.RequestKey("session_id", str)


class BodyError(Exception):
    pass


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


async def read_body(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except ValueError as exc:
            raise BodyError("request body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise BodyError("request body must be a JSON object")
    else:
        form = await request.post()
        data = {}
        for key, value in form.items():
            m = re.match(r"^(\w+)\[(\w+)\]$", key)
            if m:
                data.setdefault(m[1], {})[m[2]] = value
            else:
                data[key] = value
    return {_snake(k): v for k, v in data.items()}


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    out: list[str] = []
    for t in items:
        name = str(t.get("name") if isinstance(t, dict) else t).strip().lower()
        if name and name not in out:
            out.append(name)
    return out


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class SimApi:
    """Route handlers over one `SimStore`."""

    def __init__(self, store: SimStore, faults: Faults) -> None:
        self.store = store
        self.faults = faults
        self.request_count = 0

    # -- auth -----------------------------------------------------------------------------------

    def _basic(self, request: web.Request) -> tuple[str, str] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            email, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return ("", "")
        return email, password

    @web.middleware
    async def auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        self.request_count += 1
        accept = request.headers.get("Accept", "*/*")
        if "application/json" not in accept and "*/*" not in accept:
            return render.errors(406, "NOT_ACCEPTABLE", message="Accept must include application/json")
        if request.path.startswith(_PUBLIC_PREFIX):
            return await handler(request)
        write = request.method in ("POST", "PUT", "DELETE")
        basic = self._basic(request)
        session_id = request.headers.get("X-Session-ID") or request.query.get("_session_id")
        if session_id:
            row = self.store.session(session_id)
            if row is None:
                return render.errors(401, "AUTHORIZATION_REQUIRED", message="session expired or unknown")
            if basic is not None and self.store.check_password(*basic) != row["user_id"]:
                return render.errors(
                    454, "SESSION_LOADING_FAILED", message="session does not match credentials"
                )
            if write and row["csrf"] and request.headers.get("X-CSRF-Token") != row["csrf"]:
                return render.errors(403, "CSRF_FAILED", message="missing or wrong X-CSRF-Token")
            request[USER_ID] = row["user_id"]
            request[SESSION_ID] = session_id
            return await handler(request)
        if basic is None:
            return render.errors(401, "AUTHORIZATION_REQUIRED", message="log in with Basic auth or a session")
        user_id = self.store.check_password(*basic)
        if user_id is None:
            return render.errors(401, "AUTHENTICATION_FAILED", message="email or password is wrong")
        csrf = request.headers.get("X-CSRF", "true").strip().lower() != "false" or self.faults.csrf_always
        session_id, token = self.store.new_session(user_id, csrf)
        request[USER_ID] = user_id
        request[SESSION_ID] = session_id
        response = await handler(request)
        if (
            isinstance(response, web.Response)
            and response.content_type == "application/json"
            and response.body
        ):
            body = json.loads(bytes(response.body))  # type: ignore[arg-type]
            body["session_id"] = session_id
            extra = {
                k: v
                for k, v in response.headers.items()
                if k.lower() not in ("content-type", "content-length")
            }
            response = web.json_response(body, status=response.status, headers=extra)
        if token:
            response.headers["X-CSRF-Token"] = token
        return response

    # -- sessions -------------------------------------------------------------------------------

    async def get_session(self, request: web.Request) -> web.Response:
        view = View(request)
        data = {
            "id": request[SESSION_ID],
            "portal": "API",
            "user": render.user(self.store, view, request[USER_ID]),
            "resource_type": "session",
        }
        return render.single(data, "session")

    async def delete_session(self, request: web.Request) -> web.Response:
        self.store.db.execute("DELETE FROM sessions WHERE id=?", (request[SESSION_ID],))
        return web.json_response({"status": 200})

    async def me(self, request: web.Request) -> web.Response:
        return render.single(render.user(self.store, View(request), request[USER_ID], force=True), "user")

    # -- help center ----------------------------------------------------------------------------

    async def list_articles(self, request: web.Request) -> web.Response:
        sql, args = "SELECT * FROM articles WHERE 1=1", []
        flt = request.query.get("filter", "").upper()
        if flt == "PUBLISHED":
            sql += " AND status='PUBLISHED'"
        if request.query.get("section_id"):
            sql += " AND section_id=?"
            args.append(_int(request.query["section_id"]))
        rows = self.store.all(sql + " ORDER BY id", *args)
        view = View(request)
        return render.paged(request, rows, "article", lambda r: render.article(self.store, view, r))

    async def get_article(self, request: web.Request) -> web.Response:
        row = self.store.one("SELECT * FROM articles WHERE id=?", int(request.match_info["id"]))
        if row is None:
            return render.errors(404, "RESOURCE_NOT_FOUND", message="no such article")
        return render.single(render.article(self.store, View(request), row), "article")

    async def list_sections(self, request: web.Request) -> web.Response:
        view = View(request)
        rows = self.store.all("SELECT id FROM sections ORDER BY id")
        return render.paged(
            request, rows, "section", lambda r: render.section(self.store, view, r["id"], True)
        )

    async def get_section(self, request: web.Request) -> web.Response:
        data = render.section(self.store, View(request), int(request.match_info["id"]), force=True)
        return render.single(data, "section") if data else render.errors(404, "RESOURCE_NOT_FOUND")

    async def list_categories(self, request: web.Request) -> web.Response:
        view = View(request)
        rows = self.store.all("SELECT id FROM categories ORDER BY id")
        return render.paged(
            request, rows, "category", lambda r: render.category(self.store, view, r["id"], True)
        )

    async def get_category(self, request: web.Request) -> web.Response:
        data = render.category(self.store, View(request), int(request.match_info["id"]), force=True)
        return render.single(data, "category") if data else render.errors(404, "RESOURCE_NOT_FOUND")

    async def get_locale_field(self, request: web.Request) -> web.Response:
        row = self.store.one("SELECT * FROM locale_fields WHERE id=?", int(request.match_info["id"]))
        if row is None:
            return render.errors(404, "RESOURCE_NOT_FOUND")
        return render.single(render.locale_field_full(View(request), row), "locale_field")

    def _article_text(self, row: Any) -> tuple[str, str]:
        title = self.store.one("SELECT translation FROM locale_fields WHERE id=?", row["title_field"])
        body = self.store.one("SELECT translation FROM locale_fields WHERE id=?", row["contents_field"])
        return (title["translation"] if title else "", body["translation"] if body else "")

    async def helpcenter_search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "").strip()
        if not query:
            return render.errors(400, "FIELD_REQUIRED", "query", "query is required")
        words = [w for w in re.findall(r"[a-z0-9]+", query.lower()) if len(w) >= 3] or [query.lower()]
        scored: list[tuple[int, Any, str, str]] = []
        for row in self.store.all("SELECT * FROM articles WHERE status='PUBLISHED' ORDER BY id"):
            title, body = self._article_text(row)
            low_t, low_b = title.lower(), body.lower()
            score = sum(3 * low_t.count(w) + low_b.count(w) for w in words)
            if score:
                scored.append((score, row, title, body))
        scored.sort(key=lambda s: (-s[0], s[1]["id"]))
        view = View(request)

        def draw(item: tuple[int, Any, str, str]) -> dict[str, Any]:
            _, row, title, body = item
            original = (
                render.article(self.store, view, row)
                if view.inc("article")
                else view.ref("article", row["id"], "articles")
            )
            return {
                "uuid": f"00000000-0000-4000-8000-{row['id']:012d}",
                "title": title,
                "contents": body,
                "link": f"{view.base.removesuffix('/api/v1')}/hc/articles/{row['id']}",
                "original": original,
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
                "resource_type": "search_result",
            }

        return render.paged(request, scored, "search", draw)

    # -- unified search and lookups -------------------------------------------------------------

    async def search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "").strip()
        if not query:
            return render.errors(400, "FIELD_REQUIRED", "query", "query is required")
        resources = {
            r.strip().upper() for r in request.query.get("resources", "CASES,USERS").split(",") if r.strip()
        }
        low = query.lower()
        digits = re.sub(r"\D", "", query)
        view = View(request)
        results: list[dict[str, Any]] = []
        if "USERS" in resources:
            for row in self.store.all("SELECT * FROM users ORDER BY id"):
                idents = self.store.all("SELECT kind, value FROM identities WHERE user_id=?", row["id"])
                hit = low in row["full_name"].lower() or any(
                    (i["kind"] == "email" and low in i["value"])
                    or (i["kind"] == "phone" and len(digits) >= 5 and digits in re.sub(r"\D", "", i["value"]))
                    for i in idents
                )
                if hit:
                    results.append(
                        {
                            "id": row["id"],
                            "title": row["full_name"],
                            "snippet": row["full_name"],
                            "resource": "user",
                            "resource_url": f"{view.base}/users/{row['id']}",
                            "data": render.user(self.store, view, row["id"], force=True),
                            "created_at": row["created_at"],
                        }
                    )
        if "CASES" in resources:
            for row in self.store.all("SELECT * FROM cases ORDER BY id DESC"):
                if low in row["subject"].lower():
                    results.append(
                        {
                            "id": row["id"],
                            "title": row["subject"],
                            "snippet": row["subject"],
                            "resource": "case",
                            "resource_url": f"{view.base}/cases/{row['id']}",
                            "data": render.case(self.store, view, row),
                            "created_at": row["created_at"],
                        }
                    )
        return render.paged(request, results, "search_result", lambda r: r)

    async def autocomplete_emails(self, request: web.Request) -> web.Response:
        address = request.query.get("address", "").strip().lower()
        if not address:
            return render.errors(400, "FIELD_REQUIRED", "address", "address is required")
        view = View(request)
        rows = self.store.all(
            "SELECT * FROM identities WHERE kind='email' AND value LIKE ? ESCAPE '\\' ORDER BY value",
            address.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
        )

        def draw(row: Any) -> dict[str, Any]:
            return {
                "identity": render.identity(view, row),
                "parent": {"id": row["user_id"], "resource_type": "user"},
                "resource_type": "autocomplete_email",
            }

        return render.paged(request, rows, "autocomplete_email", draw)

    async def list_roles(self, request: web.Request) -> web.Response:
        rows = self.store.all("SELECT * FROM roles ORDER BY id")
        return render.small_list(
            [dict(r) | {"is_system": True, "resource_type": "role"} for r in rows], "role"
        )

    # -- users ----------------------------------------------------------------------------------

    async def list_users(self, request: web.Request) -> web.Response:
        view = View(request)
        rows = self.store.all("SELECT id FROM users ORDER BY id")
        return render.paged(
            request, rows, "user", lambda r: render.user(self.store, view, r["id"], force=True)
        )

    async def get_user(self, request: web.Request) -> web.Response:
        data = render.user(self.store, View(request), int(request.match_info["id"]), force=True)
        return (
            render.single(data, "user")
            if data
            else render.errors(404, "RESOURCE_NOT_FOUND", message="no such user")
        )

    async def create_user(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        name = str(body.get("full_name") or "").strip()
        if not name:
            return render.errors(400, "FIELD_REQUIRED", "full_name", "full_name is required")
        role_id = _int(body.get("role_id") or 4)
        if role_id is None or not self.store.one("SELECT 1 FROM roles WHERE id=?", role_id):
            return render.errors(400, "FIELD_INVALID", "role_id", "unknown role")
        email = str(body.get("email") or "").strip().lower()
        if email and not _EMAIL.match(email):
            return render.errors(400, "FIELD_INVALID", "email", "not an email address")
        if email and self.store.email_taken(email):
            return render.errors(400, "FIELD_DUPLICATE", "email", "email already belongs to a user")
        user_id = self.store.create_user(name, role_id, email=email)
        return render.single(render.user(self.store, View(request), user_id, force=True), "user", 201)

    async def user_cases(self, request: web.Request) -> web.Response:
        user_id = int(request.match_info["id"])
        if not self.store.one("SELECT 1 FROM users WHERE id=?", user_id):
            return render.errors(404, "RESOURCE_NOT_FOUND", message="no such user")
        view = View(request)
        rows = self.store.all("SELECT * FROM cases WHERE requester_id=? ORDER BY id DESC", user_id)
        return render.paged(request, rows, "case", lambda r: render.case(self.store, view, r))

    async def create_identity(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]  # emails | phones
        body = await read_body(request)
        user_id = _int(body.get("user_id"))
        if user_id is None:
            return render.errors(400, "FIELD_REQUIRED", "user_id", "user_id is required")
        if not self.store.one("SELECT 1 FROM users WHERE id=?", user_id):
            return render.errors(400, "FIELD_INVALID", "user_id", "no such user")
        primary = str(body.get("is_primary", "false")).lower() in ("true", "1")
        if kind == "emails":
            email = str(body.get("email") or "").strip().lower()
            if not email:
                return render.errors(400, "FIELD_REQUIRED", "email", "email is required")
            if not _EMAIL.match(email):
                return render.errors(400, "FIELD_INVALID", "email", "not an email address")
            if self.store.email_taken(email):
                return render.errors(400, "FIELD_DUPLICATE", "email", "email already belongs to a user")
            ident = self.store.add_identity(user_id, "email", email, primary)
        else:
            number = str(body.get("number") or "").strip()
            if not number:
                return render.errors(400, "FIELD_REQUIRED", "number", "number is required")
            if len(re.sub(r"\D", "", number)) < 5 or not re.fullmatch(r"[+\d ()\-.]+", number):
                return render.errors(400, "FIELD_INVALID", "number", "not a phone number")
            ident = self.store.add_identity(user_id, "phone", number, primary)
        row = self.store.one("SELECT * FROM identities WHERE id=?", ident)
        view = View(request)
        view.include.add("identity_email" if kind == "emails" else "identity_phone")
        return render.single(
            render.identity(view, row), "identity_email" if kind == "emails" else "identity_phone", 201
        )

    async def list_identities(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        view = View(request)
        view.include.add("identity_email" if kind == "emails" else "identity_phone")
        sql, args = "SELECT * FROM identities WHERE kind=?", [kind[:-1]]
        if request.query.get("user_id"):
            sql += " AND user_id=?"
            args.append(str(_int(request.query["user_id"])))
        rows = self.store.all(sql + " ORDER BY id", *args)
        return render.paged(request, rows, f"identity_{kind[:-1]}", lambda r: render.identity(view, r))

    # -- cases ----------------------------------------------------------------------------------

    def _lookups(self, request: web.Request, table: str, resource_type: str, path: str) -> web.Response:
        view = View(request)
        rows = self.store.all(f"SELECT * FROM {table} ORDER BY id")
        return render.small_list(
            [render.lookup_full(view, r, resource_type, path) for r in rows], resource_type
        )

    async def statuses(self, request: web.Request) -> web.Response:
        return self._lookups(request, "statuses", "case_status", "cases/statuses")

    async def priorities(self, request: web.Request) -> web.Response:
        return self._lookups(request, "priorities", "case_priority", "cases/priorities")

    async def types(self, request: web.Request) -> web.Response:
        return self._lookups(request, "types", "case_type", "cases/types")

    def _case_fields(self, body: dict[str, Any], creating: bool) -> dict[str, Any] | web.Response:
        """Validate case keys shared by create, update and reply; return the changes."""
        out: dict[str, Any] = {}
        if "requester_id" in body or creating:
            requester = _int(body.get("requester_id"))
            if requester is None:
                return render.errors(400, "FIELD_REQUIRED", "requester_id", "requester_id is required")
            if not self.store.one("SELECT 1 FROM users WHERE id=?", requester):
                return render.errors(400, "FIELD_INVALID", "requester_id", "no such user")
            out["requester_id"] = requester
        for key, table in (("status_id", "statuses"), ("priority_id", "priorities"), ("type_id", "types")):
            if body.get(key) not in (None, ""):
                value = _int(body[key])
                if value is None or not self.store.one(f"SELECT 1 FROM {table} WHERE id=?", value):
                    return render.errors(400, "FIELD_INVALID", key, f"unknown {key}")
                out[key] = value
        if "subject" in body or creating:
            subject = str(body.get("subject") or "").strip()
            if not subject:
                return render.errors(400, "FIELD_REQUIRED", "subject", "subject is required")
            out["subject"] = subject
        if "tags" in body:
            out["tags"] = _tags(body["tags"])
        if "field_values" in body:
            fv = body["field_values"]
            if not isinstance(fv, dict) or not all(isinstance(v, str | int | float) for v in fv.values()):
                return render.errors(
                    400, "FIELD_INVALID", "field_values", "field_values must map keys to strings"
                )
            out["field_values"] = {str(k): str(v) for k, v in fv.items()}
        return out

    def _channel(self, body: dict[str, Any]) -> str | web.Response:
        channel = str(body.get("channel") or "").upper()
        if not channel:
            return render.errors(400, "FIELD_REQUIRED", "channel", "channel is required")
        options = body.get("channel_options") or {}
        if channel == "NOTE":
            if body.get("channel_id"):
                return render.errors(400, "FIELD_INVALID", "channel_id", "a NOTE takes no channel_id")
            if isinstance(options, dict) and options.get("cc"):
                return render.errors(400, "FIELD_INVALID", "channel_options", "cc is not allowed on a NOTE")
            return channel
        if channel == "MAIL":
            if not body.get("channel_id"):
                return render.errors(400, "FIELD_INVALID", "channel", "MAIL needs channel_id")
            return render.errors(400, "FIELD_INVALID", "channel_id", "no such mailbox on this instance")
        return render.errors(400, "FIELD_INVALID", "channel", f"unsupported channel {channel}")

    async def list_cases(self, request: web.Request) -> web.Response:
        view = View(request)
        rows = self.store.all("SELECT * FROM cases ORDER BY id")
        return render.paged(request, rows, "case", lambda r: render.case(self.store, view, r))

    async def create_case(self, request: web.Request) -> web.Response:
        try:
            body = await read_body(request)
        except BodyError as exc:
            return render.errors(400, "FIELD_INVALID", "body", str(exc))
        fields = self._case_fields(body, creating=True)
        if isinstance(fields, web.Response):
            return fields
        channel = self._channel(body)
        if isinstance(channel, web.Response):
            return channel
        contents = str(body.get("contents") or "").strip()
        if not contents:
            return render.errors(400, "FIELD_REQUIRED", "contents", "contents is required")
        case_id = self.store.create_case(
            fields | {"channel": channel, "contents": contents}, request[USER_ID]
        )
        row = self.store.one("SELECT * FROM cases WHERE id=?", case_id)
        return render.single(render.case(self.store, View(request), row), "case", 201)

    def _case_row(self, request: web.Request) -> Any:
        return self.store.one("SELECT * FROM cases WHERE id=?", int(request.match_info["id"]))

    async def get_case(self, request: web.Request) -> web.Response:
        row = self._case_row(request)
        if row is None:
            return render.errors(404, "RESOURCE_NOT_FOUND", message="no such case")
        return render.single(render.case(self.store, View(request), row), "case")

    async def update_case(self, request: web.Request) -> web.Response:
        row = self._case_row(request)
        if row is None:
            return render.errors(404, "RESOURCE_NOT_FOUND", message="no such case")
        try:
            body = await read_body(request)
        except BodyError as exc:
            return render.errors(400, "FIELD_INVALID", "body", str(exc))
        fields = self._case_fields(body, creating=False)
        if isinstance(fields, web.Response):
            return fields
        self.store.update_case(row["id"], fields)
        return render.single(render.case(self.store, View(request), self._case_row(request)), "case")

    async def reply(self, request: web.Request) -> web.Response:
        row = self._case_row(request)
        if row is None:
            return render.errors(404, "RESOURCE_NOT_FOUND", message="no such case")
        try:
            body = await read_body(request)
        except BodyError as exc:
            return render.errors(400, "FIELD_INVALID", "body", str(exc))
        contents = str(body.get("contents") or "").strip()
        if not contents:
            return render.errors(400, "FIELD_REQUIRED", "contents", "contents is required")
        channel = self._channel(body)
        if isinstance(channel, web.Response):
            return channel
        fields = self._case_fields(body, creating=False)
        if isinstance(fields, web.Response):
            return fields
        post_id = self.store.add_post(row["id"], channel, contents, request[USER_ID])
        if fields:
            self.store.update_case(row["id"], fields)
        view = View(request)
        post = self.store.one("SELECT * FROM posts WHERE id=?", post_id)
        data = {
            "case": view.ref("case", row["id"], "cases"),
            "posts": [render.post(self.store, view, post)],
            "resource_type": "case_reply",
        }
        return render.single(data, "case_reply", 201)

    async def posts(self, request: web.Request) -> web.Response:
        row = self._case_row(request)
        if row is None:
            return render.errors(404, "RESOURCE_NOT_FOUND", message="no such case")
        after = _int(request.query.get("after_id")) or 0
        rows = self.store.all("SELECT * FROM posts WHERE case_id=? AND id>? ORDER BY id", row["id"], after)
        view = View(request)
        return render.paged(request, rows, "post", lambda r: render.post(self.store, view, r))

    async def case_tags(self, request: web.Request) -> web.Response:
        row = self._case_row(request)
        if row is None:
            return render.errors(404, "RESOURCE_NOT_FOUND", message="no such case")
        current = self.store.case_tags(row["id"])
        status = 200
        if request.method != "GET":
            if request.method == "DELETE":
                given = _tags(request.query.get("tags"))
            else:
                try:
                    given = _tags((await read_body(request)).get("tags"))
                except BodyError as exc:
                    return render.errors(400, "FIELD_INVALID", "body", str(exc))
            if not given:
                return render.errors(400, "FIELD_REQUIRED", "tags", "tags is required")
            if request.method == "POST":
                current += [t for t in given if t not in current]
                status = 201
            elif request.method == "PUT":
                current = given
            else:
                current = [t for t in current if t not in given]
            self.store.update_case(row["id"], {"tags": current})
        items = [{"id": i + 1, "name": t, "resource_type": "tag"} for i, t in enumerate(current)]
        return web.json_response(
            {"status": status, "data": items, "resource": "tag", "total_count": len(items)}, status=status
        )

    # -- admin ----------------------------------------------------------------------------------

    async def get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.as_dict())

    async def set_faults(self, request: web.Request) -> web.Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("body must be a JSON object")
            expire_now = changes.pop("expire_sessions_now", False)
            self.faults.update(changes)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if expire_now:
            self.store.drop_sessions()
        return web.json_response(self.faults.as_dict())

    async def admin_put_article(self, request: web.Request) -> web.Response:
        try:
            item = await request.json()
            if not isinstance(item, dict):
                raise ValueError("body must be a JSON object")
            if "id" in request.match_info:
                item["id"] = int(request.match_info["id"])
                if not self.store.one("SELECT 1 FROM articles WHERE id=?", item["id"]):
                    return web.json_response({"error": "no such article"}, status=404)
            article_id = self.store.put_article(item)
        except (ValueError, KeyError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"id": article_id}, status=201 if request.method == "POST" else 200)

    async def admin_unpublish(self, request: web.Request) -> web.Response:
        article_id = int(request.match_info["id"])
        if not self.store.one("SELECT 1 FROM articles WHERE id=?", article_id):
            return web.json_response({"error": "no such article"}, status=404)
        self.store.put_article({"id": article_id, "status": "DRAFT"})
        return web.json_response({"id": article_id, "status": "DRAFT"})

    async def admin_delete_article(self, request: web.Request) -> web.Response:
        if not self.store.delete_article(int(request.match_info["id"])):
            return web.json_response({"error": "no such article"}, status=404)
        return web.json_response({"deleted": True})

    async def admin_put_case(self, request: web.Request) -> web.Response:
        case_id = int(request.match_info["id"])
        if not self.store.one("SELECT 1 FROM cases WHERE id=?", case_id):
            return web.json_response({"error": "no such case"}, status=404)
        changes = await request.json()
        self.store.update_case(case_id, changes)
        return web.json_response({"id": case_id})

    async def admin_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.store.stats() | {"api_requests": self.request_count})


def build_app(store: SimStore, faults: Faults) -> tuple[web.Application, SimApi]:
    api = SimApi(store, faults)
    app = web.Application(middlewares=[fault_middleware(faults, store.drop_sessions), api.auth_middleware])

    async def api_version(request: web.Request, response: web.StreamResponse) -> None:
        if request.path.startswith("/api/"):
            response.headers["X-API-Version"] = "1"

    app.on_response_prepare.append(api_version)

    def route(method: str, path: str, handler: Handler) -> None:
        app.router.add_route(method, "/api/v1" + path, handler)
        app.router.add_route(method, "/api/v1" + path + ".json", handler)

    n = r"{id:\d+}"
    route("GET", "/session", api.get_session)
    route("DELETE", "/session", api.delete_session)
    route("GET", "/me", api.me)
    route("GET", "/articles", api.list_articles)
    route("GET", f"/articles/{n}", api.get_article)
    route("GET", "/sections", api.list_sections)
    route("GET", f"/sections/{n}", api.get_section)
    route("GET", "/categories", api.list_categories)
    route("GET", f"/categories/{n}", api.get_category)
    route("GET", f"/locale/fields/{n}", api.get_locale_field)
    route("GET", "/helpcenter/search", api.helpcenter_search)
    route("GET", "/search", api.search)
    route("GET", "/autocomplete/emails", api.autocomplete_emails)
    route("GET", "/roles", api.list_roles)
    route("GET", "/users", api.list_users)
    route("POST", "/users", api.create_user)
    route("GET", f"/users/{n}", api.get_user)
    route("GET", f"/users/{n}/cases", api.user_cases)
    route("GET", "/identities/{kind:emails|phones}", api.list_identities)
    route("POST", "/identities/{kind:emails|phones}", api.create_identity)
    route("GET", "/cases/statuses", api.statuses)
    route("GET", "/cases/priorities", api.priorities)
    route("GET", "/cases/types", api.types)
    route("GET", "/cases", api.list_cases)
    route("POST", "/cases", api.create_case)
    route("GET", f"/cases/{n}", api.get_case)
    route("PUT", f"/cases/{n}", api.update_case)
    route("POST", f"/cases/{n}/reply", api.reply)
    route("GET", f"/cases/{n}/posts", api.posts)
    for method in ("GET", "POST", "PUT", "DELETE"):
        route(method, f"/cases/{n}/tags", api.case_tags)
    app.router.add_get("/_sim/faults", api.get_faults)
    app.router.add_post("/_sim/faults", api.set_faults)
    app.router.add_post("/_sim/articles", api.admin_put_article)
    app.router.add_put(f"/_sim/articles/{n}", api.admin_put_article)
    app.router.add_post(f"/_sim/articles/{n}/unpublish", api.admin_unpublish)
    app.router.add_delete(f"/_sim/articles/{n}", api.admin_delete_article)
    app.router.add_put(f"/_sim/cases/{n}", api.admin_put_case)
    app.router.add_get("/_sim/stats", api.admin_stats)
    return app, api
