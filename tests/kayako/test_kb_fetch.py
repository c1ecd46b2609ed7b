"""KB fetch for sync: full, then incremental by updated_at, with deletions visible."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kayako_client.client import KayakoClient
from kayako_client.kb_fetch import fetch_published_articles
from kayako_client.simulator import SimulatorHandle


async def test_full_then_incremental(
    client: KayakoClient, sim: SimulatorHandle, dev_articles: list[dict[str, Any]]
) -> None:
    progress: list[tuple[int, int]] = []
    full = await fetch_published_articles(client, None, on_progress=lambda d, t: progress.append((d, t)))
    assert full.full and len(full.articles) == 32 and progress[-1] == (32, 32)
    assert full.all_published_ids == {a["id"] for a in dev_articles}
    by_id = {a.id: a for a in full.articles}
    for src in dev_articles:
        got = by_id[src["id"]]
        assert (got.title, got.section, got.category, list(got.tags), got.body_html, got.status) == (
            src["title"],
            src["section"],
            src["category"],
            src["tags"],
            src["body_html"],
            src["status"],
        )
    assert full.newest_updated_at

    async with httpx.AsyncClient(base_url=sim.url) as http:
        r = await http.put(
            "/_sim/articles/1001", json={"title": "Reset your password (new)", "tags": ["password"]}
        )
        assert r.status_code == 200
        assert (await http.post("/_sim/articles/1002/unpublish")).status_code == 200
        assert (await http.delete("/_sim/articles/1003")).status_code == 200
        new = {
            "id": 2001,
            "title": "Use the mobile app",
            "section": "Apps",
            "category": "Mobile",
            "tags": ["mobile"],
            "body_html": "<p>Install it.</p>",
            "status": "PUBLISHED",
        }
        assert (await http.post("/_sim/articles", json=new)).status_code == 201
        draft = new | {"id": 2002, "title": "Draft", "status": "DRAFT"}
        assert (await http.post("/_sim/articles", json=draft)).status_code == 201
        bad = await http.post("/_sim/articles", json={"id": 2003, "title": ""})
        assert bad.status_code == 400

    progress.clear()
    inc = await fetch_published_articles(
        client, full.newest_updated_at, on_progress=lambda d, t: progress.append((d, t))
    )
    assert not inc.full
    changed = {a.id: a for a in inc.articles}
    assert {1001, 2001} <= set(changed) and not {1002, 1003, 2002} & set(changed)
    assert len(changed) < 10  # only what changed since the last sync (same-second edits included)
    assert changed[1001].title == "Reset your password (new)" and changed[1001].tags == ("password",)
    assert changed[2001].section == "Apps" and changed[2001].category == "Mobile"
    assert 1002 not in inc.all_published_ids and 1003 not in inc.all_published_ids
    assert 2001 in inc.all_published_ids and len(inc.all_published_ids) == 31
    assert progress[0] == (0, len(changed)) and progress[-1] == (len(changed), len(changed))


async def test_bad_since_is_a_clear_error(client: KayakoClient) -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        await fetch_published_articles(client, "yesterday")
