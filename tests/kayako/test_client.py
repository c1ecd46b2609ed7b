"""Every KayakoClient operation over real HTTP against the simulator."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from kayako_client.client import KayakoClient
from kayako_client.errors import AuthError, FieldError, NotFound
from kayako_client.models import NewCase
from kayako_client.simulator import SimulatorHandle

DEV_ARTICLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "dev" / "kb_articles.json"
DEV = {a["id"]: a for a in json.loads(DEV_ARTICLES.read_text())}


async def test_list_articles_resolves_locale_fields_sections_and_categories(client: KayakoClient) -> None:
    articles = await client.list_articles()
    assert sorted(a.id for a in articles) == sorted(DEV)
    for a in articles:
        src = DEV[a.id]
        assert (a.title, a.section, a.category, a.body_html) == (
            src["title"],
            src["section"],
            src["category"],
            src["body_html"],
        )
        assert list(a.tags) == src["tags"]
        assert a.status == "PUBLISHED" and a.updated_at


async def test_pagination_follows_next_url(sim: SimulatorHandle, options_for: Any) -> None:
    async with KayakoClient(options_for(sim.url, page_limit=10)) as c:
        pages = [env async for env in c.http.pages("/api/v1/articles")]
    assert [len(p["data"]) for p in pages] == [10, 10, 10, 2]
    assert "next_url" in pages[0] and "next_url" not in pages[-1]
    assert pages[0]["total_count"] == 32


async def test_references_are_resolved_when_not_included(client: KayakoClient) -> None:
    env = await client.http.request("GET", "/api/v1/articles/1003")  # no include: refs only
    data = env["data"]
    assert data["titles"][0] == {"id": data["titles"][0]["id"], "resource_type": "locale_field"}
    record = await client._article(data)
    assert record.title == DEV[1003]["title"]
    assert record.section == DEV[1003]["section"] and record.category == DEV[1003]["category"]
    assert record == await client.get_article(1003)


async def test_help_center_search(client: KayakoClient) -> None:
    hits = await client.search_articles("refund policy", limit=3)
    assert hits and hits[0].article_id == 1008
    assert hits[0].title == DEV[1008]["title"] and "<p>" in hits[0].contents_html


async def test_users_by_email_and_phone(client: KayakoClient) -> None:
    jane = await client.create_user("Jane Doe", "Jane.Doe@Example.com", "+15555550101")
    assert jane.emails == ("jane.doe@example.com",) and jane.phones == ("+15555550101",)
    assert (await client.find_user_by_email("jane.doe@example.com")).id == jane.id  # type: ignore[union-attr]
    assert await client.find_user_by_email("jane.do@example.com") is None  # prefix is not a match
    assert await client.find_user_by_email("nobody@example.com") is None
    assert (await client.find_user_by_phone("+1 (555) 555-0101")).id == jane.id  # type: ignore[union-attr]
    assert await client.find_user_by_phone("+15555550102") is None
    again = await client.create_user("Jane D", "jane.doe@example.com")  # FIELD_DUPLICATE -> existing
    assert again.id == jane.id


async def test_create_user_with_bad_email_is_a_field_error(client: KayakoClient) -> None:
    with pytest.raises(FieldError) as err:
        await client.create_user("Bad", "not-an-email")
    assert err.value.code == "FIELD_INVALID" and err.value.parameter == "email" and err.value.status == 400


async def test_case_lifecycle(client: KayakoClient, sim: SimulatorHandle) -> None:
    user = await client.create_user("Ann Lee", "ann@example.com")
    case = await client.create_case(
        NewCase(
            requester_id=user.id,
            subject="Cannot log in",
            contents_html="<p>Transcript</p>",
            tags=("phone", "login"),
            field_values={"caller_phone": "+15555550100"},
            priority_name="high",
            status_name="Open",
            type_name="Problem",
        )
    )
    assert (case.priority, case.status, case.type, case.status_type) == ("High", "Open", "Problem", "OPEN")
    assert case.tags == ("phone", "login") and case.requester_id == user.id
    assert case.field_values == {"caller_phone": "+15555550100"}
    post = await client.add_note(case.id, "<p>Called back</p>")
    assert post.channel == "NOTE" and post.id
    updated = await client.update_case(case.id, status_name="Completed", add_tags=("callback",))
    assert updated.status_type == "COMPLETED" and not updated.is_open
    assert updated.tags == ("phone", "login", "callback")
    replaced = await client.update_case(case.id, tags=("only",))
    assert replaced.tags == ("only",)
    posts = await client.get_case_posts(case.id)
    assert [p.contents for p in posts] == ["Transcript", "Called back"]
    assert [c.id for c in await client.list_user_cases(user.id)] == [case.id]
    assert [c.id for c in await client.list_cases()] == [case.id]
    # what an agent sees: the case was created as a NOTE, nothing mailed
    env = await client.http.request("GET", f"/api/v1/cases/{case.id}")
    assert env["data"]["source_channel"]["type"] == "NOTE" and "tags" not in env["data"]


async def test_labels_are_cached_and_unknown_labels_rejected(client: KayakoClient) -> None:
    user = await client.create_user("Bo", "bo@example.com")
    with pytest.raises(FieldError) as err:
        await client.create_case(NewCase(user.id, "s", "<p>c</p>", priority_name="Critical"))
    assert err.value.code == "LABEL_UNKNOWN" and "Critical" in str(err.value)
    assert set(client._labels["priorities"]) == {"low", "normal", "high", "urgent"}


async def test_field_errors_and_not_found(client: KayakoClient) -> None:
    with pytest.raises(FieldError) as err:
        await client.create_case(NewCase(requester_id=9999, subject="x", contents_html="<p>y</p>"))
    assert (err.value.code, err.value.parameter) == ("FIELD_INVALID", "requester_id")
    with pytest.raises(NotFound):
        await client.get_case(424242)
    with pytest.raises(NotFound):
        await client.get_article(1)


async def test_bad_credentials(sim: SimulatorHandle, options_for: Any) -> None:
    async with KayakoClient(options_for(sim.url, password="wrong")) as c:
        with pytest.raises(AuthError) as err:
            await c.list_articles()
    assert err.value.code == "AUTHENTICATION_FAILED" and err.value.status == 401


async def test_credentials_never_logged(
    sim: SimulatorHandle, caplog: pytest.LogCaptureFixture, options_for: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "s3cret-Pa55word!"
    sim.store.ensure_agent("agent@northwind.example", secret)
    opts = options_for(sim.url, password=secret)
    async with KayakoClient(opts) as c:
        await c.search_articles("password")
        sim.set_faults(expire_sessions_count=1)  # force a second login too
        user = await c.create_user("Cy", "cy@example.com")
        assert user.id
    assert c.http.login_count == 2
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert secret not in text and "czNjcmV0" not in text  # nor its base64
    assert secret not in repr(opts)


async def test_session_csrf_and_wire_rules(sim: SimulatorHandle) -> None:
    api = sim.url + "/api/v1"
    async with httpx.AsyncClient() as http:
        login = await http.get(f"{api}/session.json", auth=("agent@northwind.example", "northwind"))
        assert login.status_code == 200 and login.headers["X-API-Version"] == "1"
        body = login.json()
        sid, token = body["data"]["id"], login.headers["X-CSRF-Token"]
        assert body["session_id"] == sid and body["resource"] == "session"
        head = {"X-Session-ID": sid}
        payload = {"fullName": "Camel Case", "email": "camel@example.com"}  # camelCase input
        refused = await http.post(f"{api}/users", json=payload, headers=head)
        assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == "CSRF_FAILED"
        made = await http.post(f"{api}/users.json", json=payload, headers=head | {"X-CSRF-Token": token})
        assert made.status_code == 201 and made.json()["data"]["full_name"] == "Camel Case"
        # form encoding with bracket keys
        case = await http.post(
            f"{api}/cases",
            data={
                "subject": "Form",
                "contents": "c",
                "channel": "NOTE",
                "requester_id": str(made.json()["data"]["id"]),
                "field_values[order_no]": "A1",
                "tags": "a,b",
            },
            headers=head | {"X-CSRF-Token": token},
        )
        assert case.status_code == 201
        got = await http.get(f"{api}/cases/{case.json()['data']['id']}?fields=%2Btags", headers=head)
        assert [t["name"] for t in got.json()["data"]["tags"]] == ["a", "b"]
        assert got.json()["data"]["custom_fields"][0]["value"] == "A1"
        mixed = await http.get(f"{api}/me", headers=head, auth=("agent@northwind.example", "wrong"))
        assert mixed.status_code == 454 and mixed.json()["errors"][0]["code"] == "SESSION_LOADING_FAILED"
        gone = await http.get(f"{api}/me", headers={"X-Session-ID": "nope"})
        assert gone.status_code == 401
        mail = await http.post(
            f"{api}/cases",
            json={"subject": "s", "contents": "c", "channel": "MAIL", "requester_id": 1},
            headers=head | {"X-CSRF-Token": token},
        )
        assert mail.json()["errors"][0] == mail.json()["errors"][0] | {
            "code": "FIELD_INVALID",
            "parameter": "channel",
        }
        lean = await http.get(f"{api}/articles?fields=id,status,updated_at&limit=2", headers=head)
        assert set(lean.json()["data"][0]) == {"id", "status", "updated_at", "resource_type"}
        assert (await http.get(f"{api}/me", headers=head | {"Accept": "text/html"})).status_code == 406
