"""Kayako v1 JSON shapes for the simulator's rows: envelopes, references vs included objects.

Rules reproduced (kayako-api.md §3): a nested resource is `{id, resource_type}` unless its
resource_type is named in `include=` (or `include=*`); locale strings are `locale_field`
refs unless `locale_field` is included; case `tags` only with `fields=+tags`; a plain
`fields=a,b` keeps only those keys; collections carry `offset/limit/total_count` and
`next_url/last_url` only when more pages exist.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from kayako_client.simulator.store import SimStore


class View:
    """How one request wants its resources drawn (include / fields / base URL)."""

    def __init__(self, request: web.Request) -> None:
        q = request.query
        self.include = {p.strip().replace("-", "_") for p in q.get("include", "").split(",") if p.strip()}
        fields = [p.strip() for p in q.get("fields", "").split(",") if p.strip()]
        self.extra_fields = {f[1:] for f in fields if f.startswith("+")}
        self.only_fields = {f for f in fields if not f.startswith(("+", "-"))}
        self.drop_fields = {f[1:] for f in fields if f.startswith("-")}
        self.base = f"{request.scheme}://{request.host}/api/v1"

    def inc(self, resource_type: str) -> bool:
        return "*" in self.include or resource_type in self.include

    def shape(self, obj: dict[str, Any]) -> dict[str, Any]:
        if self.only_fields:
            obj = {k: v for k, v in obj.items() if k in self.only_fields or k in ("id", "resource_type")}
        for key in self.drop_fields:
            obj.pop(key, None)
        return obj

    def ref(self, resource_type: str, obj_id: int | None, path: str) -> dict[str, Any] | None:
        if obj_id is None:
            return None
        return {"id": obj_id, "resource_type": resource_type, "resource_url": f"{self.base}/{path}/{obj_id}"}


def locale_field(store: SimStore, view: View, field_id: int) -> dict[str, Any]:
    if not view.inc("locale_field"):
        return {"id": field_id, "resource_type": "locale_field"}
    row = store.one("SELECT * FROM locale_fields WHERE id=?", field_id)
    return locale_field_full(view, row) if row else {"id": field_id, "resource_type": "locale_field"}


def locale_field_full(view: View, row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "locale": row["locale"],
        "translation": row["translation"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "resource_type": "locale_field",
        "resource_url": f"{view.base}/locale/fields/{row['id']}",
    }


def category(store: SimStore, view: View, cat_id: int, force: bool = False) -> dict[str, Any] | None:
    if not (force or view.inc("category")):
        return view.ref("category", cat_id, "categories")
    row = store.one("SELECT * FROM categories WHERE id=?", cat_id)
    if row is None:
        return None
    return {
        "id": row["id"],
        "legacy_id": None,
        "titles": [locale_field(store, view, row["title_field"])],
        "slugs": [{"locale": "en-us", "translation": _slug(row["id"], row["name"]), "resource_type": "slug"}],
        "descriptions": [],
        "brand": None,
        "display_order": row["id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "resource_type": "category",
        "resource_url": f"{view.base}/categories/{row['id']}",
    }


def section(store: SimStore, view: View, section_id: int, force: bool = False) -> dict[str, Any] | None:
    if not (force or view.inc("section")):
        return view.ref("section", section_id, "sections")
    row = store.one("SELECT * FROM sections WHERE id=?", section_id)
    if row is None:
        return None
    total = store.one("SELECT COUNT(*) AS n FROM articles WHERE section_id=?", section_id)
    return {
        "id": row["id"],
        "legacy_id": None,
        "titles": [locale_field(store, view, row["title_field"])],
        "slugs": [{"locale": "en-us", "translation": _slug(row["id"], row["name"]), "resource_type": "slug"}],
        "descriptions": [],
        "visibility": "PUBLIC",
        "category": category(store, view, row["category_id"]),
        "article_order_by": "LATEST",
        "total_articles": total["n"] if total else 0,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "resource_type": "section",
        "resource_url": f"{view.base}/sections/{row['id']}",
    }


def article(store: SimStore, view: View, row: Any) -> dict[str, Any]:
    title = store.one("SELECT translation FROM locale_fields WHERE id=?", row["title_field"])
    return view.shape(
        {
            "id": row["id"],
            "uuid": f"00000000-0000-4000-8000-{row['id']:012d}",
            "legacy_id": None,
            "titles": [locale_field(store, view, row["title_field"])],
            "slugs": [
                {
                    "locale": "en-us",
                    "translation": _slug(row["id"], title["translation"] if title else ""),
                    "resource_type": "slug",
                }
            ],
            "contents": [locale_field(store, view, row["contents_field"])],
            "keywords": None,
            "section": section(store, view, row["section_id"]),
            "creator": view.ref("user_minimal", 1, "users"),
            "author": view.ref("user_minimal", 1, "users"),
            "attachments": [],
            "status": row["status"],
            "upvote_count": 0,
            "downvote_count": 0,
            "views": 0,
            "rank": 0.0,
            "tags": [{"name": t} for t in json.loads(row["tags"] or "[]")],
            "is_featured": False,
            "allow_comments": False,
            "total_comments": 0,
            "created_at": row["created_at"],
            "published_at": row["created_at"] if row["status"] == "PUBLISHED" else None,
            "updated_at": row["updated_at"],
            "helpcenter_url": f"/hc/articles/{row['id']}",
            "resource_type": "article",
            "resource_url": f"{view.base}/articles/{row['id']}",
        }
    )


def identity(view: View, row: Any) -> dict[str, Any]:
    kind = "identity_email" if row["kind"] == "email" else "identity_phone"
    if not view.inc(kind):
        return {"id": row["id"], "resource_type": kind}
    body: dict[str, Any] = {"id": row["id"]}
    body["email" if row["kind"] == "email" else "number"] = row["value"]
    body.update(
        {
            "is_primary": bool(row["is_primary"]),
            "is_validated": False,
            "user": {"id": row["user_id"], "resource_type": "user"},
            "created_at": row["created_at"],
            "updated_at": row["created_at"],
            "resource_type": kind,
            "resource_url": f"{view.base}/identities/{row['kind']}s/{row['id']}",
        }
    )
    return body


def role(store: SimStore, view: View, role_id: int) -> dict[str, Any] | None:
    if not view.inc("role"):
        return view.ref("role", role_id, "roles")
    row = store.one("SELECT * FROM roles WHERE id=?", role_id)
    return dict(row) | {"is_system": True, "resource_type": "role"} if row else None


def user(store: SimStore, view: View, user_id: int, force: bool = False) -> dict[str, Any] | None:
    if not (force or view.inc("user")):
        return view.ref("user", user_id, "users")
    row = store.one("SELECT * FROM users WHERE id=?", user_id)
    if row is None:
        return None
    idents = store.all("SELECT * FROM identities WHERE user_id=? ORDER BY id", user_id)
    return view.shape(
        {
            "id": row["id"],
            "uuid": f"00000000-0000-4000-9000-{row['id']:012d}",
            "full_name": row["full_name"],
            "legacy_id": None,
            "designation": None,
            "is_enabled": True,
            "role": role(store, view, row["role_id"]),
            "organization": None,
            "teams": [],
            "emails": [identity(view, i) for i in idents if i["kind"] == "email"],
            "phones": [identity(view, i) for i in idents if i["kind"] == "phone"],
            "twitter": [],
            "facebook": [],
            "custom_fields": [],
            "locale": "en-us",
            "time_zone": "UTC",
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "resource_type": "user",
            "resource_url": f"{view.base}/users/{row['id']}",
        }
    )


def lookup(
    store: SimStore, view: View, table: str, resource_type: str, row_id: int | None
) -> dict[str, Any] | None:
    if row_id is None:
        return None
    path = {"statuses": "cases/statuses", "priorities": "cases/priorities", "types": "cases/types"}[table]
    if not view.inc(resource_type):
        return view.ref(resource_type, row_id, path)
    row = store.one(f"SELECT * FROM {table} WHERE id=?", row_id)
    if row is None:
        return None
    return lookup_full(view, row, resource_type, path)


def lookup_full(view: View, row: Any, resource_type: str, path: str) -> dict[str, Any]:
    body = dict(row)
    if resource_type == "case_status":
        body |= {"is_sla_active": False, "is_deleted": False}
    return body | {"resource_type": resource_type, "resource_url": f"{view.base}/{path}/{row['id']}"}


def case(store: SimStore, view: View, row: Any) -> dict[str, Any]:
    counts = store.one(
        "SELECT COUNT(*) AS n, SUM(channel='NOTE') AS notes FROM posts WHERE case_id=?", row["id"]
    )
    body: dict[str, Any] = {
        "id": row["id"],
        "legacy_id": None,
        "subject": row["subject"],
        "portal": "API",
        "source_channel": {"type": row["channel"], "resource_type": "channel"},
        "requester": user(store, view, row["requester_id"]),
        "creator": user(store, view, row["creator_id"]),
        "assignee": None,
        "assigned_agent": None,
        "assigned_team": None,
        "brand": None,
        "status": lookup(store, view, "statuses", "case_status", row["status_id"]),
        "priority": lookup(store, view, "priorities", "case_priority", row["priority_id"]),
        "type": lookup(store, view, "types", "case_type", row["type_id"]),
        "state": row["state"],
        "custom_fields": [
            {
                "field": {"id": i + 1, "key": k, "resource_type": "case_field"},
                "value": v,
                "resource_type": "case_field_value",
            }
            for i, (k, v) in enumerate(json.loads(row["field_values"] or "{}").items())
        ],
        "post_count": counts["n"] if counts else 0,
        "has_notes": bool(counts and counts["notes"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "resource_type": "case",
        "resource_url": f"{view.base}/cases/{row['id']}",
    }
    if "tags" in view.extra_fields:
        body["tags"] = [
            {"id": i + 1, "name": t, "resource_type": "tag"} for i, t in enumerate(json.loads(row["tags"]))
        ]
    return view.shape(body)


def post(store: SimStore, view: View, row: Any) -> dict[str, Any]:
    return view.shape(
        {
            "id": row["id"],
            "uuid": f"00000000-0000-4000-a000-{row['id']:012d}",
            "subject": "",
            "contents": re.sub(r"<[^>]+>", " ", row["contents"]).strip(),
            "creator": user(store, view, row["creator_id"]),
            "source_channel": {"type": row["channel"], "resource_type": "channel"},
            "attachments": [],
            "original": {
                "id": row["id"],
                "body_html": row["contents"],
                "resource_type": "note" if row["channel"] == "NOTE" else "case_message",
            },
            "is_requester": False,
            "created_at": row["created_at"],
            "updated_at": row["created_at"],
            "resource_type": "post",
            "resource_url": f"{view.base}/cases/{row['case_id']}/posts/{row['id']}",
        }
    )


def _slug(obj_id: int, text: str) -> str:
    return f"{obj_id}-" + re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# -- envelopes ---------------------------------------------------------------------------------


def single(data: dict[str, Any] | None, resource: str, status: int = 200) -> web.Response:
    return web.json_response({"status": status, "data": data, "resource": resource}, status=status)


def small_list(items: list[dict[str, Any]], resource: str) -> web.Response:
    return web.json_response({"status": 200, "data": items, "resource": resource, "total_count": len(items)})


def paged(request: web.Request, items: list[Any], resource: str, draw: Any) -> web.Response:
    """Page `items` with offset/limit (default 10) and draw only the visible ones."""
    try:
        offset = max(0, int(request.query.get("offset", "0")))
        limit = max(1, min(1000, int(request.query.get("limit", "10"))))
    except ValueError:
        return errors(400, "FIELD_INVALID", "limit", "offset and limit must be integers")
    window = items[offset : offset + limit]
    body: dict[str, Any] = {
        "status": 200,
        "data": [draw(item) for item in window],
        "resource": resource,
        "offset": offset,
        "limit": limit,
        "total_count": len(items),
    }
    if offset + limit < len(items):
        body["next_url"] = str(request.url.update_query({"offset": offset + limit, "limit": limit}))
        last = ((len(items) - 1) // limit) * limit
        body["last_url"] = str(request.url.update_query({"offset": last, "limit": limit}))
    return web.json_response(body)


def errors(
    status: int, code: str, parameter: str = "", message: str = "", headers: dict[str, str] | None = None
) -> web.Response:
    err: dict[str, Any] = {"code": code, "message": message or code.replace("_", " ").lower()}
    if parameter:
        err["parameter"] = parameter
    err["more_info"] = f"https://developer.kayako.com/api/v1/reference/errors/{code}"
    return web.json_response({"status": status, "errors": [err]}, status=status, headers=headers)
