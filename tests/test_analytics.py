"""Analytics over a seeded real SQLite store, and the `report` command end to end."""

from __future__ import annotations

import json

import pytest
from ops_seed import EXPECTED, seeded_store

from ari_app.analytics import build_report, normalise_since, percentile
from ari_app.cli import main
from ari_app.dashboard import report_for
from kayako_client.models import OutboundCase, OutboxStats
from kayako_client.outbox import CaseOutbox


@pytest.fixture
def store(tmp_path):
    s = seeded_store(tmp_path / "calls.db")
    yield s
    s.close()


def test_report_figures_match_the_seeded_history(store):
    r = report_for(store).to_dict()
    for key in (
        "total_calls",
        "ended_calls",
        "in_progress",
        "outcomes",
        "resolution_rate",
        "escalation_rate",
        "abandonment_rate",
        "avg_handling_s",
        "median_handling_s",
    ):
        assert r[key] == EXPECTED[key], key
    assert {d["day"]: d["calls"] for d in r["by_day"]} == EXPECTED["by_day"]
    assert {h: n for h, n in enumerate(r["by_hour"]) if n} == EXPECTED["by_hour"]
    assert r["latency"]["p50_ms"] == EXPECTED["p50_ms"]
    assert r["latency"]["p95_ms"] == EXPECTED["p95_ms"]
    top = r["top_articles"][0]
    assert (top["key"], top["label"], top["calls"]) == EXPECTED["top_article"]
    assert (r["top_tags"][0]["key"], r["top_tags"][0]["calls"]) == EXPECTED["top_tag"]
    assert not {"phone", "ai-resolved", "ai-escalated", "ai-abandoned"} & {t["key"] for t in r["top_tags"]}
    assert r["outbox"] is None


def test_since_keeps_later_calls_and_their_turns(store):
    r = report_for(store, since="2025-03-02").to_dict()
    assert r["total_calls"] == 4
    assert r["outcomes"] == {"resolved": 1, "escalated": 1, "abandoned": 1}
    assert r["latency"]["count"] == 4  # c4 (two), c5, c6
    assert r["since"].startswith("2025-03-02T00:00:00")


def test_bad_since_is_a_clear_error(store):
    with pytest.raises(ValueError, match="not an ISO date"):
        report_for(store, since="last tuesday")


def test_empty_store_gives_nones_not_errors():
    r = build_report([], [], None).to_dict()
    assert r["total_calls"] == 0
    assert r["resolution_rate"] is None and r["latency"]["p50_ms"] is None
    assert r["by_hour"] == [0] * 24


def test_percentile_interpolates_and_checks_range():
    assert percentile([10.0], 95) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_rows_with_broken_json_columns_are_skipped_not_fatal():
    rows = [
        {
            "started_at": "2025-01-01T10:00:00+00:00",
            "ended_at": "x",
            "outcome": "resolved",
            "tags": "{not json",
            "articles": "[[1001]]",
            "duration_s": 10.0,
        },
        {"started_at": "garbage", "outcome": None},
    ]
    r = build_report(rows, [5.0, -1.0], OutboxStats(2, 3, 1, 12.34)).to_dict()
    assert r["total_calls"] == 2 and r["ended_calls"] == 1
    assert r["top_articles"][0]["key"] == "1001" and r["top_tags"] == []
    assert r["latency"]["count"] == 1
    assert r["outbox"] == {"pending": 2, "delivered": 3, "dead": 1, "oldest_pending_age_s": 12.3}


def test_normalise_since_converts_to_utc():
    assert normalise_since("2025-03-02T02:00+02:00") == "2025-03-02T00:00:00.000+00:00"
    assert normalise_since("") is None


def _config(tmp_path, db):
    cfg = tmp_path / "kv.toml"
    cfg.write_text(f'[storage]\ndatabase = "{db}"\n', encoding="utf-8")
    return str(cfg)


def test_report_command_json_has_stable_keys_and_outbox(tmp_path, capsys):
    db = tmp_path / "calls.db"
    seeded_store(db).close()
    outbox = CaseOutbox(db, client=None)  # type: ignore[arg-type]  # enqueue needs no client
    outbox.enqueue(OutboundCase(call_id="c7", subject="Invoices", contents_html="<p>x</p>"))
    outbox.close()
    assert main(["report", "--json", "--config", _config(tmp_path, db)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {
        "since",
        "first_call_at",
        "last_call_at",
        "total_calls",
        "ended_calls",
        "in_progress",
        "outcomes",
        "resolution_rate",
        "escalation_rate",
        "abandonment_rate",
        "avg_handling_s",
        "median_handling_s",
        "by_day",
        "by_hour",
        "top_articles",
        "top_tags",
        "latency",
        "case_states",
        "outbox",
        "schema",
    }
    assert data["total_calls"] == 7
    assert data["outbox"]["pending"] == 1 and data["outbox"]["dead"] == 0


def test_report_command_text_draws_bars(tmp_path, capsys):
    db = tmp_path / "calls.db"
    seeded_store(db).close()
    assert main(["report", "--since", "2025-03-01", "--config", _config(tmp_path, db)]) == 0
    out = capsys.readouterr().out
    assert "resolved by AI 50.0%" in out
    assert "2025-03-01  " in out and "█" in out
    assert "Reset your password" in out
    assert "p50 850 ms, p95 1255 ms" in out


def test_report_command_errors(tmp_path, capsys):
    db = tmp_path / "calls.db"
    seeded_store(db).close()
    assert main(["report", "--since", "soon", "--config", _config(tmp_path, db)]) == 2
    assert "not an ISO date" in capsys.readouterr().err
    assert main(["report", "--config", _config(tmp_path, tmp_path / "missing.db")]) == 1
    assert "no call database" in capsys.readouterr().err
