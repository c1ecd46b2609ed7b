"""CaseOutbox against the simulator: exactly-once delivery through outages and lost replies."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from kayako_client.client import KayakoClient
from kayako_client.models import OutboundCase
from kayako_client.outbox import CaseOutbox, OutboxOptions, call_tag
from kayako_client.simulator import SimulatorHandle

FAST = OutboxOptions(backoff_base_s=0.05, backoff_max_s=0.2, poll_interval_s=0.05, concurrency=4)


def outbound(call_id: str, **kw: Any) -> OutboundCase:
    base: dict[str, Any] = {
        "call_id": call_id,
        "subject": f"Phone call {call_id}",
        "contents_html": f"<p>Transcript of {call_id}</p>",
        "tags": ("phone", "Login Issue"),
        "priority_name": "Normal",
        "status_name": "Open",
        "type_name": "Question",
        "requester_name": "Jane Doe",
        "requester_email": "jane@example.com",
        "requester_phone": "+15555550101",
        "note_text": f"<p>Caller phoned again ({call_id})</p>",
    }
    base.update(kw)
    return OutboundCase(**base)


async def cases_by_call(client: KayakoClient) -> Counter[str]:
    counts: Counter[str] = Counter()
    for case in await client.list_cases():
        counts.update(t for t in case.tags if t.startswith("call-"))
    return counts


async def test_delivers_case_with_requester_and_callback(client: KayakoClient, tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    box = CaseOutbox(tmp_path / "o.db", client, FAST, on_delivered=lambda c, i: seen.append((c, i)))
    box.enqueue(outbound("c1"))
    box.enqueue(outbound("c1", subject="changed"))  # idempotent per call id
    assert box.stats().pending == 1
    assert await box.deliver_due() == 1
    state, case_id = box.state("c1")  # type: ignore[misc]
    assert state == "delivered" and seen == [("c1", case_id)]
    case = await client.get_case(case_id)
    assert case.subject == "Phone call c1" and case.tags == ("phone", "login-issue", "call-c1")
    user = await client.find_user_by_email("jane@example.com")
    assert user is not None and case.requester_id == user.id and user.phones == ("+15555550101",)
    assert box.stats().delivered == 1 and box.stats().oldest_pending_age_s is None


async def test_unknown_caller_gets_phone_identity(client: KayakoClient, tmp_path: Path) -> None:
    box = CaseOutbox(tmp_path / "o.db", client, FAST)
    box.enqueue(outbound("anon", requester_name="", requester_email="", requester_phone="+15555550199"))
    await box.deliver_due()
    user = await client.find_user_by_phone("+15555550199")
    assert user is not None and user.full_name.startswith("Unknown caller") and not user.emails
    assert (await client.get_case(box.state("anon")[1])).requester_id == user.id  # type: ignore[index,arg-type]


async def test_open_case_gets_a_note_instead_of_a_new_case(client: KayakoClient, tmp_path: Path) -> None:
    box = CaseOutbox(tmp_path / "o.db", client, FAST)
    box.enqueue(outbound("first"))
    await box.deliver_due()
    box.enqueue(outbound("second", requester_email="", tags=("phone", "billing")))  # same phone
    await box.deliver_due()
    first_id, second_id = box.state("first")[1], box.state("second")[1]  # type: ignore[index]
    assert first_id == second_id and len(await client.list_cases()) == 1
    case = await client.get_case(first_id)  # type: ignore[arg-type]
    assert {"call-first", "call-second", "billing"} <= set(case.tags)
    posts = await client.get_case_posts(case.id)
    assert (
        len(posts) == 2 and "Caller phoned again (second)" in posts[1].contents and posts[1].channel == "NOTE"
    )


async def test_old_or_closed_case_gets_a_new_case(
    client: KayakoClient, sim: SimulatorHandle, tmp_path: Path
) -> None:
    box = CaseOutbox(tmp_path / "o.db", client, OutboxOptions(open_case_days=7, backoff_base_s=0.05))
    box.enqueue(outbound("old"))
    await box.deliver_due()
    old_id = box.state("old")[1]  # type: ignore[index]
    async with httpx.AsyncClient(base_url=sim.url) as http:
        await http.put(f"/_sim/cases/{old_id}", json={"created_at": "2020-01-01T00:00:00+00:00"})
    box.enqueue(outbound("new"))
    await box.deliver_due()
    assert box.state("new")[1] != old_id  # type: ignore[index]
    await client.update_case(box.state("new")[1], status_name="Completed")  # type: ignore[index,arg-type]
    box.enqueue(outbound("newer"))
    await box.deliver_due()
    assert len({box.state(c)[1] for c in ("old", "new", "newer")}) == 3  # type: ignore[index]


@pytest.mark.parametrize("variant", ["create", "note"])
async def test_lost_reply_is_found_not_rewritten(
    client: KayakoClient, sim: SimulatorHandle, tmp_path: Path, variant: str
) -> None:
    box = CaseOutbox(tmp_path / "o.db", client, FAST)
    if variant == "note":
        box.enqueue(outbound("earlier"))
        await box.deliver_due()
    else:
        await client.create_user("Jane Doe", "jane@example.com")
    sim.set_faults(timeout_after_commit_count=1)
    box.enqueue(outbound("lost"))
    assert await box.deliver_due() == 0  # ambiguous: committed, reply dropped
    box._db.execute("UPDATE case_outbox SET next_attempt_at = 0")
    assert await box.deliver_due() == 1
    cases = await client.list_cases()
    assert len(cases) == 1
    assert call_tag("lost") in cases[0].tags
    posts = await client.get_case_posts(cases[0].id)
    assert sum(call_tag("lost") in p.contents for p in posts) == (1 if variant == "note" else 0)
    assert len(posts) == (2 if variant == "note" else 1)


async def test_restart_resumes_pending(client: KayakoClient, sim: SimulatorHandle, tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    first = CaseOutbox(path, client, FAST)
    sim.set_faults(down=True)
    for i in range(3):
        first.enqueue(outbound(f"r{i}", requester_email=f"r{i}@example.com", requester_phone=""))
    assert await first.deliver_due() == 0
    row = first._db.execute("SELECT attempts, next_attempt_at, enqueued_at FROM case_outbox").fetchone()
    assert row["attempts"] == 1 and row["next_attempt_at"] > row["enqueued_at"]  # backoff is stored
    first.close()
    sim.set_faults(down=False)
    second = CaseOutbox(path, client, FAST)
    assert second.stats().pending == 3
    await asyncio.sleep(0.25)  # past the stored backoff
    assert await second.deliver_due() == 3
    assert await cases_by_call(client) == Counter({"call-r0": 1, "call-r1": 1, "call-r2": 1})


async def test_dead_after_configured_time(
    client: KayakoClient, sim: SimulatorHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    box = CaseOutbox(
        tmp_path / "o.db", client, OutboxOptions(dead_after_s=60, backoff_base_s=1), clock=lambda: now[0]
    )
    sim.set_faults(down=True)
    box.enqueue(outbound("doomed"))
    await box.deliver_due()
    assert box.stats().pending == 1
    now[0] += 30
    assert box.stats().oldest_pending_age_s == 30
    await box.deliver_due()
    assert box.state("doomed")[0] == "pending"  # type: ignore[index]
    now[0] += 31
    caplog.set_level(logging.ERROR)
    await box.deliver_due()
    assert box.state("doomed")[0] == "dead"  # type: ignore[index]
    assert box.stats().dead == 1 and box.stats().pending == 0
    assert any(r.levelno == logging.ERROR and getattr(r, "call_id", "") == "doomed" for r in caplog.records)
    assert "503" in box.dead_cases()[0][1]
    sim.set_faults(down=False)
    assert box.requeue("doomed") and await box.deliver_due() == 1


async def test_refused_case_is_dead_not_dropped(client: KayakoClient, tmp_path: Path) -> None:
    box = CaseOutbox(tmp_path / "o.db", client, FAST)
    box.enqueue(outbound("bad", priority_name="Critical"))
    await box.deliver_due()
    assert box.state("bad") == ("dead", None)
    assert "Critical" in box.dead_cases()[0][1]


async def test_bad_input_is_rejected_clearly(client: KayakoClient, tmp_path: Path) -> None:
    box = CaseOutbox(tmp_path / "o.db", client, FAST)
    with pytest.raises(ValueError, match="subject"):
        box.enqueue(outbound("x", subject="  "))
    assert box.stats().pending == 0


async def test_invalid_email_falls_back_to_phone(client: KayakoClient, tmp_path: Path) -> None:
    box = CaseOutbox(tmp_path / "o.db", client, FAST)
    box.enqueue(outbound("e", requester_email="jane at example", requester_phone="+15555550177"))
    assert await box.deliver_due() == 1
    user = await client.find_user_by_phone("+15555550177")
    assert user is not None and not user.emails


async def test_deliver_now_returns_case_id(
    client: KayakoClient, sim: SimulatorHandle, tmp_path: Path
) -> None:
    box = CaseOutbox(tmp_path / "o.db", client, FAST)
    box.enqueue(outbound("t1"))
    case_id = await box.deliver_now("t1", timeout_s=5)
    assert case_id is not None and (await client.get_case(case_id)).subject == "Phone call t1"
    assert await box.deliver_now("t1", 1) == case_id and await box.deliver_now("nope", 1) is None
    sim.set_faults(delay_s=0.5)
    box.enqueue(outbound("t2", requester_email="t2@example.com", requester_phone=""))
    assert await box.deliver_now("t2", timeout_s=0.1) is None  # too slow for the transfer
    sim.set_faults(delay_s=0)
    for _ in range(100):  # the delivery went on in the background
        if box.state("t2")[0] == "delivered":  # type: ignore[index]
            break
        await asyncio.sleep(0.05)
    assert box.state("t2")[0] == "delivered"  # type: ignore[index]
    assert (await cases_by_call(client))["call-t2"] == 1


async def test_outage_with_50_cases_delivers_each_once(
    sim: SimulatorHandle, options_for: Any, tmp_path: Path
) -> None:
    async with KayakoClient(options_for(sim.url, max_attempts=2, timeout_s=1.0)) as client:
        box = CaseOutbox(tmp_path / "o.db", client, FAST)
        stop = asyncio.Event()
        worker = asyncio.create_task(box.run(stop))
        await sim.outage(2.0)  # connection refused for 2 s
        sim.set_faults(rate_limit_count=5, retry_after_s=0.05)  # and a 429 storm when it is back
        for i in range(50):
            box.enqueue(
                outbound(
                    f"o{i}", requester_email=f"caller{i}@example.com", requester_phone=f"+1555555{i:04d}"
                )
            )
        await asyncio.sleep(0.5)
        assert box.stats().delivered == 0 and box.stats().pending == 50
        await sim.wait_outage_over()
        for _ in range(200):
            if box.stats().delivered == 50:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await worker
        assert box.stats().delivered == 50
        counts = await cases_by_call(client)
        assert counts == Counter({f"call-o{i}": 1 for i in range(50)})


async def test_same_caller_twice_in_one_pass_gives_one_case_and_a_note(
    client: KayakoClient, tmp_path: Path
) -> None:
    box = CaseOutbox(tmp_path / "o.db", client, FAST)  # concurrency 4: both rows start together
    box.enqueue(outbound("a1"))
    box.enqueue(outbound("a2"))
    assert await box.deliver_due() == 2
    assert box.state("a1")[1] == box.state("a2")[1]  # type: ignore[index]
    assert len(await client.list_cases()) == 1 and len(box._caller_locks) == 0
