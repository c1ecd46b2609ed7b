"""`kb sync` through the Kayako-compatible server over real HTTP into a real SQLite index:
full, incremental, unpublished/deleted articles removed, and retrieval figures identical to a
direct import of the same KB."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ari_app.evaluation import evaluate_retrieval, read_jsonl
from ari_app.kb_sync import sync_kb
from ari_app.knowledge import kb_from_articles, open_synced_kb
from ari_app.settings import load_settings
from kayako_client.simulator import start_simulator

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev"


def settings_for(url: str, index: Path):
    return load_settings(
        None,
        environ={"KAYAKO_VOICE_KAYAKO_URL": url, "KAYAKO_VOICE_STORAGE_KB_INDEX": str(index)},
    )


@pytest.fixture
async def sim():
    handle = await start_simulator(str(DEV / "kb_articles.json"))
    yield handle
    await handle.stop()


async def test_full_then_incremental_sync_removes_unpublished_and_deleted(sim, tmp_path):
    settings = settings_for(sim.url, tmp_path / "kb.db")
    first = await sync_kb(settings)
    assert first.full and first.total == 32 and first.fetched == 32

    again = await sync_kb(settings)
    assert not again.full and again.deleted == 0 and again.total == 32

    async with httpx.AsyncClient(base_url=sim.url) as http:
        r = await http.post("/_sim/articles/1001/unpublish")
        assert r.status_code < 300, r.text
        r = await http.delete("/_sim/articles/1002")
        assert r.status_code < 300, r.text
    third = await sync_kb(settings)
    assert third.deleted == 2 and third.total == 30

    index = open_synced_kb(settings)
    try:
        ids = {a.id for a in index.articles()}
        assert 1001 not in ids and 1002 not in ids
        decided = index.decide("I forgot my password and need to reset it")
        assert decided.best is None or decided.best.article_id not in (1001, 1002)
    finally:
        index.close()


async def test_synced_index_gives_the_same_retrieval_figures_as_a_direct_import(sim, tmp_path):
    settings = settings_for(sim.url, tmp_path / "kb.db")
    await sync_kb(settings)
    utterances = read_jsonl(DEV / "utterances.jsonl", ("text", "kind"))
    synced = open_synced_kb(settings)
    direct = kb_from_articles(settings, DEV / "kb_articles.json")
    try:
        a = evaluate_retrieval(synced, utterances, "Northwind Desk")
        b = evaluate_retrieval(direct, utterances, "Northwind Desk")
    finally:
        synced.close()
        direct.close()
    keys = ("n", "answerable_top1", "escalation_correct", "smalltalk_ok", "wrong_answer_rate", "clarify_rate")
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    assert [(r.id, r.decision, r.article_id) for r in a["_results"]] == [
        (r.id, r.decision, r.article_id) for r in b["_results"]
    ]


def test_sync_against_a_dead_server_is_a_clear_error(tmp_path):
    env = {
        "KAYAKO_VOICE_KAYAKO_URL": "http://127.0.0.1:9",
        "KAYAKO_VOICE_STORAGE_KB_INDEX": str(tmp_path / "kb.db"),
        "KAYAKO_VOICE_KAYAKO_TIMEOUT_S": "1",
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "ari_app.cli", "--log-level", "ERROR", "kb", "sync"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "cannot fetch articles" in proc.stderr


def test_eval_retrieval_rejects_bad_files(tmp_path):
    bad = tmp_path / "u.jsonl"
    bad.write_text('{"text": "hi"}\nnot json\n')
    proc = subprocess.run(
        [sys.executable, "-m", "ari_app.cli", "eval", "retrieval", "--utterances", str(bad), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "missing field(s) kind" in proc.stderr
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "ari_app.cli",
            "eval",
            "calls",
            "--articles",
            str(tmp_path / "nope.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "articles file not found" in missing.stderr
