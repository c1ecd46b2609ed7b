"""The dashboard page in a real headless Chromium against the real app on 127.0.0.1.

Needs Debian's `chromium` (and `chromium-driver` for CI parity); skipped when it is absent.
The page loads no external resource: the browser runs with networking features off, and the
test checks the rendered SVG carries the seeded numbers, then keeps a screenshot in tmp_path.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest
from aiohttp import web
from ops_seed import EXPECTED, seeded_store

from ari_app.access import AccessTokens
from ari_app.admin_web import add_operations_routes

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
VIEWER = "viewer-token-0123456789"
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (apt-get install chromium chromium-driver)",
)


@pytest.fixture
async def served(tmp_path):
    store = seeded_store(tmp_path / "calls.db")
    app = web.Application()
    stats = {"pending": 3, "delivered": 9, "dead": 1, "oldest_pending_age_s": 75.0}
    add_operations_routes(app, store, lambda: stats, AccessTokens(viewer=[VIEWER]))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()
    store.close()


async def chromium(tmp_path: Path, *args: str, timeout: float = 60.0) -> str:
    profile = tmp_path / "chromium-profile"
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
        "--virtual-time-budget=3000",
        *args,
    ]
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode("utf-8", errors="replace")


def values(dom: str, chart: str, attr: str = "data-value") -> list[float]:
    m = re.search(rf'<svg[^>]*data-chart="{chart}".*?</svg>', dom, re.S)
    assert m, f"chart {chart} not rendered"
    return [float(v) for v in re.findall(rf'{attr}="([^"]+)"', m.group(0))]


async def test_dashboard_renders_the_seeded_data(served, tmp_path):
    dom = await chromium(tmp_path, "--dump-dom", f"{served}/dashboard?token={VIEWER}")
    assert 'data-rendered="yes"' in dom, dom[-3000:]
    # daily stacked bars: per-day totals match the seed
    svg = re.search(r'<svg[^>]*data-chart="daily".*?</svg>', dom, re.S).group(0)
    per_day: dict[str, float] = {}
    for day, value in re.findall(r'data-day="([^"]+)"[^>]*data-value="([^"]+)"', svg):
        per_day[day] = per_day.get(day, 0) + float(value)
    assert per_day == {d: float(n) for d, n in EXPECTED["by_day"].items()}
    assert sorted(values(dom, "outcomes")) == [1.0, 2.0, 3.0]
    assert sum(values(dom, "hourly")) == 7 and len(values(dom, "hourly")) == 24
    assert values(dom, "latency") == [EXPECTED["p50_ms"], EXPECTED["p95_ms"]]
    assert values(dom, "articles")[0] == 2.0 and "Reset your password" in dom
    assert values(dom, "tags")[0] == 3.0
    assert values(dom, "outbox") == [3.0, 1.0, 9.0]
    # the cards carry the headline numbers
    assert re.search(
        r'data-key="resolution_rate"><div class="label">[^<]*</div><div class="value">50\.0%', dom
    )
    assert re.search(r'data-key="latency_p95">.*?<div class="value">1255 ms', dom)
    assert "Could not load" not in dom

    shot = tmp_path / "dashboard.png"
    await chromium(tmp_path, f"--screenshot={shot}", f"{served}/dashboard?token={VIEWER}")
    assert shot.exists() and shot.stat().st_size > 20_000  # a blank page is a few kB


async def test_dashboard_without_a_token_says_how_to_open_it(served, tmp_path):
    dom = await chromium(tmp_path, "--dump-dom", f"{served}/dashboard")
    assert 'data-rendered="error"' in dom
    assert "a valid bearer token is required" in dom and "?token=" in dom
    assert "data-chart=" not in dom
