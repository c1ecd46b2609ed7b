"""The client against an unreliable Kayako: 429 storms, expired sessions, outages, bad bodies."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from kayako_client.client import KayakoClient
from kayako_client.errors import BadReply, RateLimited, Unavailable
from kayako_client.models import NewCase
from kayako_client.simulator import SimulatorHandle


async def test_429_storm_waits_retry_after(sim: SimulatorHandle, client: KayakoClient) -> None:
    await client.list_article_stamps()  # logged in
    sim.set_faults(rate_limit_count=4, retry_after_s=0.15)
    start = time.monotonic()
    hits = await client.search_articles("invoice")
    assert hits
    assert time.monotonic() - start >= 4 * 0.15  # each 429's Retry-After was honoured
    assert sim.faults.rate_limit_count == 0


async def test_429_beyond_budget_raises_rate_limited(sim: SimulatorHandle, client: KayakoClient) -> None:
    sim.set_faults(rate_limit_count=1, retry_after_s=30)  # longer than max_retry_after_s=2
    with pytest.raises(RateLimited) as err:
        await client.list_article_stamps()
    assert err.value.retry_after == 30 and err.value.code == "RATE_LIMIT_REACHED"


async def test_session_expiry_mid_run_logs_in_again(sim: SimulatorHandle, client: KayakoClient) -> None:
    user = await client.create_user("Di", "di@example.com")
    sim.set_faults(expire_sessions_count=1)
    case = await client.create_case(NewCase(user.id, "After expiry", "<p>x</p>"))
    assert case.id and client.http.login_count == 2
    assert len(await client.list_cases()) == 1


async def test_html_error_page_is_retried_then_reported(sim: SimulatorHandle, client: KayakoClient) -> None:
    await client.list_article_stamps()
    sim.set_faults(html_error_count=1)
    assert len(await client.list_article_stamps()) == 32  # one 502 page, then fine
    sim.set_faults(html_error_count=10)
    with pytest.raises(Unavailable) as err:
        await client.list_article_stamps()
    assert "text/html" in str(err.value) and "Bad Gateway" in str(err.value) and err.value.status == 502
    sim.clear_faults()
    sim.set_faults(html_error_count=10, html_error_status=200)
    with pytest.raises(BadReply) as bad:
        await client.get_article(1001)
    assert "instead of JSON" in str(bad.value)


async def test_truncated_json(sim: SimulatorHandle, client: KayakoClient) -> None:
    user = await client.create_user("Ed", "ed@example.com")
    sim.set_faults(truncated_json_count=10)
    with pytest.raises(BadReply) as err:
        await client.get_case(1)
    assert "malformed JSON" in str(err.value)
    sim.clear_faults()
    sim.set_faults(truncated_json_count=1)
    with pytest.raises(BadReply) as write:
        await client.create_case(NewCase(user.id, "Cut reply", "<p>x</p>"))
    assert write.value.maybe_committed  # the case exists although the reply was cut
    assert [c.subject for c in await client.list_user_cases(user.id)] == ["Cut reply"]


async def test_unknown_extra_fields_are_ignored(sim: SimulatorHandle, client: KayakoClient) -> None:
    sim.set_faults(extra_fields=True)
    articles = await client.list_articles()
    assert len(articles) == 32 and articles[0].title
    user = await client.create_user("Flo", "flo@example.com", "+15555550111")
    case = await client.create_case(NewCase(user.id, "Extra", "<p>x</p>", tags=("a",), priority_name="Low"))
    assert case.priority == "Low" and case.tags == ("a",)
    assert (await client.find_user_by_phone("+15555550111")).id == user.id  # type: ignore[union-attr]


async def test_down_and_connection_refused(sim: SimulatorHandle, client: KayakoClient) -> None:
    await client.list_article_stamps()
    sim.set_faults(down=True)
    with pytest.raises(Unavailable) as err:
        await client.list_article_stamps()
    assert err.value.status == 503
    sim.set_faults(down=False)
    await sim.stop_listener()
    with pytest.raises(Unavailable) as refused:
        await client.list_article_stamps()
    assert "cannot reach" in str(refused.value) and not refused.value.maybe_committed
    await sim.start_listener()
    assert len(await client.list_article_stamps()) == 32


async def test_short_outage_is_ridden_out(sim: SimulatorHandle, options_for: Any) -> None:
    async with KayakoClient(options_for(sim.url, max_attempts=8, backoff_base_s=0.1, backoff_max_s=0.3)) as c:
        sim.set_faults(down_for_s=0.4)
        assert len(await c.list_article_stamps()) == 32


async def test_slow_server_times_out(sim: SimulatorHandle, options_for: Any) -> None:
    async with KayakoClient(options_for(sim.url, timeout_s=0.2, max_attempts=2)) as c:
        sim.set_faults(delay_s=0.5)
        with pytest.raises(Unavailable) as err:
            await c.list_article_stamps()
        assert "ReadTimeout" in str(err.value)


async def test_timeout_after_commit_is_flagged(sim: SimulatorHandle, client: KayakoClient) -> None:
    user = await client.create_user("Gus", "gus@example.com")
    sim.set_faults(timeout_after_commit_count=1)
    with pytest.raises(Unavailable) as err:
        await client.create_case(NewCase(user.id, "Lost reply", "<p>x</p>"))
    assert err.value.maybe_committed
    assert len(await client.list_user_cases(user.id)) == 1  # committed, not retried blindly


async def test_admin_fault_endpoint(sim: SimulatorHandle) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        ok = await http.post("/_sim/faults", json={"rate_limit_count": 2, "retry_after_s": 0.5})
        assert ok.status_code == 200 and ok.json()["rate_limit_count"] == 2
        bad = await http.post("/_sim/faults", json={"explode": True})
        assert bad.status_code == 400 and "unknown fault" in bad.json()["error"]
        neg = await http.post("/_sim/faults", json={"delay_s": -1})
        assert neg.status_code == 400
        r = await http.get("/api/v1/me", auth=("agent@northwind.example", "northwind"))
        assert r.status_code == 429 and r.headers["Retry-After"] == "0.5"


async def test_csrf_token_carried_when_opt_out_is_ignored(sim: SimulatorHandle, client: KayakoClient) -> None:
    sim.set_faults(csrf_always=True)
    user = await client.create_user("Hal", "hal@example.com", "+15555550123")  # two writes
    case = await client.create_case(NewCase(user.id, "CSRF", "<p>x</p>"))
    assert case.id and client.http.login_count == 1 and client.http._csrf_token
