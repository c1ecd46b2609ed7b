"""Fixtures: one spec per session, a fresh Asterisk double and a connected client per test."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from ari_app.ari.client import AriClient
from ari_app.ari.double import AsteriskDouble
from ari_app.ari.spec import AriSpec

APP = "kayako-voice"


MAX_TEST_S = 5.0


@pytest.fixture(autouse=True)
def bounded_runtime() -> Iterator[None]:
    """Every test in tests/ari must finish within MAX_TEST_S (network tests included)."""
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < MAX_TEST_S, f"test took {elapsed:.1f}s (limit {MAX_TEST_S}s)"


@pytest.fixture(scope="session")
def spec() -> AriSpec:
    return AriSpec()


@pytest.fixture
async def double(spec: AriSpec) -> AsyncIterator[AsteriskDouble]:
    async with AsteriskDouble(spec=spec, restart_down_s=0.2) as d:
        yield d
        assert d.errors == [], "the double produced something outside the ARI spec"


@pytest.fixture
async def client(double: AsteriskDouble, spec: AriSpec) -> AsyncIterator[AriClient]:
    c = AriClient(
        double.base_url,
        double.username,
        double.password,
        APP,
        spec=spec,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )
    await c.connect(timeout_s=3)
    await double.wait_app(APP)
    yield c
    await c.close()


def tone(seconds: float, freq: float = 440.0, amplitude: int = 8000, rate: int = 16000) -> bytes:
    """A sine tone as 16 kHz little-endian PCM (a stand-in for speech)."""
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()
