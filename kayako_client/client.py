"""`KayakoClient`: the Kayako API v1 operations kayako-voice uses, over `KayakoTransport`.

Facts it relies on (kayako-api.md §3.3, §5, §6): nested resources are references unless
`include=` names them, and locale strings need `include=locale_field` (else they are
`locale_field` refs resolved by `GET /locale/fields/:id`); case tags only come with
`fields=+tags`; a case is created with `channel: NOTE` and a `requester_id` (no email is
sent to the caller); status/priority/type are ids, looked up here by label and cached;
`/autocomplete/emails` is prefix matching, so the exact address is checked.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx

from kayako_client.errors import BadReply, FieldError, NotFound
from kayako_client.models import (
    ArticleHit,
    KayakoCase,
    KayakoPost,
    KayakoUser,
    KbArticleRecord,
    NewCase,
)
from kayako_client.transport import ClientOptions, KayakoTransport

API = "/api/v1"
ARTICLE_INCLUDE = "section,category,locale_field"
CASE_INCLUDE = "case_status,case_priority,case_type"
USER_INCLUDE = "identity_email,identity_phone,role"
logger = logging.getLogger(__name__)
CUSTOMER_ROLE_FALLBACK = 4  # "Customer" on default instances (kayako-api.md §5.1)


def phone_digits(number: str) -> str:
    return re.sub(r"\D", "", number)


class KayakoClient:
    """Async client for one Kayako instance; close it with `aclose()`."""

    def __init__(self, options: ClientOptions, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.options = options
        self.http = KayakoTransport(options, transport=transport)
        self._labels: dict[str, dict[str, int]] = {}
        self._locale_cache: dict[int, str] = {}
        self._titles_cache: dict[tuple[str, int], tuple[str, int | None]] = {}
        self._customer_role: int | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> KayakoClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- text helpers ------------------------------------------------------------------------

    async def _text(self, value: Any) -> str:
        """Plain text of a locale-field list (or a plain string), in the configured locale."""
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if not isinstance(value, list) or not value:
            return ""
        fields = [v for v in value if isinstance(v, dict)]
        chosen = next((f for f in fields if f.get("locale") == self.options.locale), None) or (
            fields[0] if fields else None
        )
        if chosen is None:
            return ""
        if isinstance(chosen.get("translation"), str):
            return str(chosen["translation"])
        field_id = chosen.get("id")
        if not isinstance(field_id, int):
            return ""
        if field_id not in self._locale_cache:
            env = await self.http.request("GET", f"{API}/locale/fields/{field_id}")
            data = _obj(env)
            self._locale_cache[field_id] = str(data.get("translation") or "")
        return self._locale_cache[field_id]

    async def _titled(self, kind: str, value: Any) -> tuple[str, Any]:
        """(title, nested object) of a section or category given inline or as a reference."""
        if not isinstance(value, dict) or not isinstance(value.get("id"), int):
            return "", None
        if "titles" in value:
            return await self._text(value["titles"]), value
        key = (kind, value["id"])
        if key not in self._titles_cache:
            env = await self.http.request(
                "GET", f"{API}/{kind}/{value['id']}", params={"include": "locale_field"}
            )
            data = _obj(env)
            category = data.get("category")
            cat_id = category.get("id") if isinstance(category, dict) else None
            self._titles_cache[key] = (await self._text(data.get("titles")), cat_id)
        title, cat_id = self._titles_cache[key]
        return title, {"id": value["id"], "category": {"id": cat_id} if cat_id else None}

    async def _article(self, data: dict[str, Any]) -> KbArticleRecord:
        section_title, section = await self._titled("sections", data.get("section"))
        category_title = ""
        if isinstance(section, dict):
            category_title, _ = await self._titled("categories", section.get("category"))
        tags_raw = data.get("tags") or []
        tags = (
            tuple(str(t.get("name")) if isinstance(t, dict) else str(t) for t in tags_raw if t)
            if isinstance(tags_raw, list)
            else tuple(t.strip() for t in str(tags_raw).split(",") if t.strip())
        )
        article_id = data.get("id")
        if not isinstance(article_id, int):
            raise BadReply("article without an integer id")
        return KbArticleRecord(
            id=article_id,
            title=await self._text(data.get("titles")),
            section=section_title,
            category=category_title,
            tags=tags,
            body_html=await self._text(data.get("contents")),
            status=str(data.get("status") or ""),
            updated_at=str(data.get("updated_at") or ""),
        )

    # -- articles ----------------------------------------------------------------------------

    async def list_articles(self, *, published_only: bool = True) -> list[KbArticleRecord]:
        params: dict[str, Any] = {"include": ARTICLE_INCLUDE}
        if published_only:
            params["filter"] = "PUBLISHED"
        out: list[KbArticleRecord] = []
        async for env in self.http.pages(f"{API}/articles", params):
            for item in _items(env):
                record = await self._article(item)
                if not published_only or record.status == "PUBLISHED":
                    out.append(record)
        return out

    async def list_article_stamps(self) -> list[tuple[int, str, str]]:
        out: list[tuple[int, str, str]] = []
        async for env in self.http.pages(f"{API}/articles", {"fields": "id,status,updated_at"}):
            for item in _items(env):
                if isinstance(item.get("id"), int):
                    out.append((item["id"], str(item.get("status") or ""), str(item.get("updated_at") or "")))
        return out

    async def get_article(self, article_id: int) -> KbArticleRecord:
        env = await self.http.request(
            "GET", f"{API}/articles/{article_id}", params={"include": ARTICLE_INCLUDE}
        )
        return await self._article(_obj(env))

    async def search_articles(self, query: str, limit: int = 10) -> list[ArticleHit]:
        env = await self.http.request(
            "GET",
            f"{API}/helpcenter/search",
            params={"query": query, "in": "articles", "limit": limit, "include": "locale_field"},
        )
        hits: list[ArticleHit] = []
        for item in _items(env):
            original = item.get("original")
            article_id = original.get("id") if isinstance(original, dict) else None
            hits.append(
                ArticleHit(
                    article_id=article_id if isinstance(article_id, int) else None,
                    title=await self._text(item.get("title")),
                    contents_html=await self._text(item.get("contents")),
                    link=str(item.get("link") or ""),
                )
            )
        return hits

    # -- users -------------------------------------------------------------------------------

    def _user(self, data: dict[str, Any]) -> KayakoUser:
        emails = tuple(
            str(e["email"]) for e in data.get("emails") or [] if isinstance(e, dict) and e.get("email")
        )
        phones = tuple(
            str(p["number"]) for p in data.get("phones") or [] if isinstance(p, dict) and p.get("number")
        )
        role = data.get("role")
        if not isinstance(data.get("id"), int):
            raise BadReply("user without an integer id")
        return KayakoUser(
            id=data["id"],
            full_name=str(data.get("full_name") or ""),
            emails=emails,
            phones=phones,
            role_type=str(role.get("type") or "") if isinstance(role, dict) else "",
        )

    async def get_user(self, user_id: int) -> KayakoUser:
        env = await self.http.request("GET", f"{API}/users/{user_id}", params={"include": USER_INCLUDE})
        return self._user(_obj(env))

    async def find_user_by_email(self, email: str) -> KayakoUser | None:
        wanted = email.strip().lower()
        if not wanted:
            return None
        env = await self.http.request("GET", f"{API}/autocomplete/emails", params={"address": wanted})
        for item in _items(env):
            parent = item.get("parent")
            if not isinstance(parent, dict) or not isinstance(parent.get("id"), int):
                continue
            user = await self.get_user(parent["id"])
            if wanted in (e.lower() for e in user.emails):  # autocomplete is a prefix match
                return user
        return None

    async def find_user_by_phone(self, phone: str) -> KayakoUser | None:
        wanted = phone_digits(phone)
        if len(wanted) < 5:
            return None
        env = await self.http.request(
            "GET",
            f"{API}/search",
            params={"query": phone.strip(), "resources": "USERS", "include": USER_INCLUDE},
        )
        for item in _items(env):
            if item.get("resource") != "user" or not isinstance(item.get("data"), dict):
                continue
            user = self._user(item["data"])
            if not user.phones:
                user = await self.get_user(user.id)  # identities came as references
            if any(phone_digits(p) == wanted for p in user.phones):
                return user
        return None

    async def _customer_role_id(self) -> int:
        if self._customer_role is None:
            role_id = CUSTOMER_ROLE_FALLBACK
            try:
                env = await self.http.request("GET", f"{API}/roles")
                for item in _items(env):
                    if str(item.get("type")).upper() == "CUSTOMER" and isinstance(item.get("id"), int):
                        role_id = item["id"]
                        break
            except NotFound:
                pass  # older instances: the documented default id
            self._customer_role = role_id
        return self._customer_role

    async def create_user(self, full_name: str, email: str = "", phone: str = "") -> KayakoUser:
        body: dict[str, Any] = {
            "full_name": full_name or "Unknown caller",
            "role_id": await self._customer_role_id(),
        }
        if email:
            body["email"] = email.strip().lower()
        try:
            env = await self.http.request("POST", f"{API}/users", params={"include": USER_INCLUDE}, body=body)
        except FieldError as exc:
            if exc.code == "FIELD_DUPLICATE" and email:
                existing = await self.find_user_by_email(email)
                if existing is not None:
                    return existing
            raise
        user = self._user(_obj(env))
        if phone:
            try:
                await self.http.request(
                    "POST",
                    f"{API}/identities/phones",
                    body={"user_id": user.id, "number": phone.strip(), "is_primary": True},
                )
            except FieldError as exc:  # the user exists; an unusable number must not lose them
                logger.warning(
                    "phone identity refused by Kayako", extra={"user_id": user.id, "error": str(exc)}
                )
                return user
            user = KayakoUser(
                user.id, user.full_name, user.emails, (*user.phones, phone.strip()), user.role_type
            )
        return user

    # -- cases -------------------------------------------------------------------------------

    async def _label_id(self, kind: str, label: str) -> int:
        """Id of a case status/priority/type by its label (case-insensitive), cached."""
        if kind not in self._labels:
            env = await self.http.request("GET", f"{API}/cases/{kind}")
            table: dict[str, int] = {}
            for item in _items(env):
                name = item.get("label")
                if isinstance(name, list):
                    name = await self._text(name)
                if isinstance(name, str) and isinstance(item.get("id"), int):
                    table[name.strip().lower()] = item["id"]
            self._labels[kind] = table
        table = self._labels[kind]
        key = label.strip().lower()
        if key not in table:
            raise FieldError(
                f"no case {kind[:-1] if kind != 'statuses' else 'status'} labelled {label!r} in Kayako "
                f"(known: {', '.join(sorted(table)) or 'none'})",
                code="LABEL_UNKNOWN",
                parameter=kind,
            )
        return table[key]

    async def _case(self, data: dict[str, Any]) -> KayakoCase:
        def label(obj: Any) -> str:
            return str(obj.get("label") or "") if isinstance(obj, dict) else ""

        status = data.get("status") if isinstance(data.get("status"), dict) else {}
        requester = data.get("requester")
        tags_raw = data.get("tags") or []
        field_values: dict[str, str] = {}
        for cf in data.get("custom_fields") or []:
            if isinstance(cf, dict) and isinstance(cf.get("field"), dict):
                key = cf["field"].get("key")
                if key:
                    field_values[str(key)] = str(cf.get("value") or "")
        if not isinstance(data.get("id"), int):
            raise BadReply("case without an integer id")
        return KayakoCase(
            id=data["id"],
            subject=str(data.get("subject") or ""),
            requester_id=requester.get("id") if isinstance(requester, dict) else None,
            status=label(status),
            status_type=str(status.get("type") or "") if isinstance(status, dict) else "",
            priority=label(data.get("priority")),
            type=label(data.get("type")),
            tags=tuple(str(t.get("name")) for t in tags_raw if isinstance(t, dict) and t.get("name")),
            created_at=str(data.get("created_at") or ""),
            updated_at=str(data.get("updated_at") or ""),
            field_values=field_values,
        )

    async def create_case(self, case: NewCase) -> KayakoCase:
        body: dict[str, Any] = {
            "subject": case.subject,
            "contents": case.contents_html,
            "channel": "NOTE",
            "channel_options": {"html": True},
            "requester_id": case.requester_id,
        }
        if case.tags:
            body["tags"] = ",".join(case.tags)
        if case.field_values:
            body["field_values"] = dict(case.field_values)
        for kind, name, key in (
            ("priorities", case.priority_name, "priority_id"),
            ("statuses", case.status_name, "status_id"),
            ("types", case.type_name, "type_id"),
        ):
            if name:
                body[key] = await self._label_id(kind, name)
        env = await self.http.request(
            "POST", f"{API}/cases", params={"include": CASE_INCLUDE, "fields": "+tags"}, body=body
        )
        return await self._case(_obj(env))

    async def add_note(self, case_id: int, contents_html: str) -> KayakoPost:
        env = await self.http.request(
            "POST",
            f"{API}/cases/{case_id}/reply",
            body={"contents": contents_html, "channel": "NOTE", "channel_options": {"html": True}},
        )
        data = _obj(env)
        posts = data.get("posts") if isinstance(data.get("posts"), list) else []
        post = posts[0] if posts and isinstance(posts[0], dict) else {}
        return KayakoPost(
            id=int(post.get("id") or 0),
            case_id=case_id,
            contents=str(post.get("contents") or contents_html),
            channel="NOTE",
            created_at=str(post.get("created_at") or ""),
        )

    async def update_case(
        self,
        case_id: int,
        *,
        status_name: str | None = None,
        tags: tuple[str, ...] | None = None,
        add_tags: tuple[str, ...] = (),
    ) -> KayakoCase:
        body: dict[str, Any] = {}
        if status_name:
            body["status_id"] = await self._label_id("statuses", status_name)
        if tags is not None:
            body["tags"] = ",".join(tags)
        if body:
            await self.http.request("PUT", f"{API}/cases/{case_id}", body=body)
        if add_tags:
            await self.http.request("POST", f"{API}/cases/{case_id}/tags", body={"tags": ",".join(add_tags)})
        return await self.get_case(case_id)

    async def get_case(self, case_id: int) -> KayakoCase:
        env = await self.http.request(
            "GET", f"{API}/cases/{case_id}", params={"include": CASE_INCLUDE, "fields": "+tags"}
        )
        return await self._case(_obj(env))

    async def list_cases(self) -> list[KayakoCase]:
        out: list[KayakoCase] = []
        async for env in self.http.pages(f"{API}/cases", {"include": CASE_INCLUDE, "fields": "+tags"}):
            out.extend([await self._case(item) for item in _items(env)])
        return out

    async def list_user_cases(self, user_id: int) -> list[KayakoCase]:
        out: list[KayakoCase] = []
        async for env in self.http.pages(
            f"{API}/users/{user_id}/cases", {"include": CASE_INCLUDE, "fields": "+tags"}
        ):
            out.extend([await self._case(item) for item in _items(env)])
        return out

    async def get_case_posts(self, case_id: int) -> list[KayakoPost]:
        out: list[KayakoPost] = []
        async for env in self.http.pages(f"{API}/cases/{case_id}/posts"):
            for item in _items(env):
                channel = item.get("source_channel")
                out.append(
                    KayakoPost(
                        id=int(item.get("id") or 0),
                        case_id=case_id,
                        contents=str(item.get("contents") or ""),
                        channel=str(channel.get("type") or "") if isinstance(channel, dict) else "",
                        created_at=str(item.get("created_at") or ""),
                    )
                )
        return out


def _obj(envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise BadReply(f"expected one object in 'data', got {type(data).__name__}")
    return data


def _items(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    data = envelope.get("data")
    if not isinstance(data, list):
        raise BadReply(f"expected a list in 'data', got {type(data).__name__}")
    return [item for item in data if isinstance(item, dict)]
