"""Caller lookup: found with open cases, unknown, and bounded by its timeout without raising."""

from __future__ import annotations

import time

from kayako_client.client import KayakoClient
from kayako_client.lookup import lookup_caller
from kayako_client.models import NewCase
from kayako_client.simulator import SimulatorHandle


async def test_known_caller_with_open_cases(client: KayakoClient) -> None:
    user = await client.create_user("Kim Park", "kim@example.com", "+15555550142")
    open_case = await client.create_case(NewCase(user.id, "Open one", "<p>x</p>", status_name="Open"))
    done = await client.create_case(NewCase(user.id, "Done", "<p>x</p>", status_name="Closed"))
    record = await lookup_caller(client, "+1 555-555-0142", timeout_s=2)
    assert record is not None
    assert (record.user_id, record.name, record.email) == (user.id, "Kim Park", "kim@example.com")
    assert record.open_case_ids == (open_case.id,) and done.id not in record.open_case_ids


async def test_unknown_or_withheld(client: KayakoClient) -> None:
    assert await lookup_caller(client, "+15555550000", timeout_s=2) is None
    assert await lookup_caller(client, "", timeout_s=2) is None


async def test_timeout_and_errors_give_none(client: KayakoClient, sim: SimulatorHandle) -> None:
    sim.set_faults(delay_s=1.0)
    start = time.monotonic()
    assert await lookup_caller(client, "+15555550142", timeout_s=0.2) is None
    assert time.monotonic() - start < 0.9
    sim.set_faults(delay_s=0, down=True)
    assert await lookup_caller(client, "+15555550142", timeout_s=2) is None
