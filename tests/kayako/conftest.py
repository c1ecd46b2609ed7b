"""Fixtures: a real simulator on 127.0.0.1 (random port) and a client with fast retry settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kayako_client.client import KayakoClient
from kayako_client.simulator import SimulatorHandle, start_simulator
from kayako_client.transport import ClientOptions

DEV_ARTICLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "dev" / "kb_articles.json"


def fast_options(url: str, **overrides: object) -> ClientOptions:
    base: dict[str, object] = {
        "url": url,
        "email": "agent@northwind.example",
        "password": "northwind",
        "timeout_s": 2.0,
        "max_attempts": 3,
        "backoff_base_s": 0.02,
        "backoff_max_s": 0.1,
        "max_retry_after_s": 2.0,
    }
    base.update(overrides)
    return ClientOptions(**base)  # type: ignore[arg-type]


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    handle = await start_simulator(str(DEV_ARTICLES))
    yield handle
    await handle.stop()


@pytest.fixture
async def client(sim: SimulatorHandle) -> AsyncIterator[KayakoClient]:
    c = KayakoClient(fast_options(sim.url))
    yield c
    await c.aclose()


@pytest.fixture
def options_for() -> object:
    """fast_options as a fixture, for tests that build their own client."""
    return fast_options


@pytest.fixture
def dev_articles() -> list[dict[str, object]]:
    import json

    return json.loads(DEV_ARTICLES.read_text(encoding="utf-8"))
