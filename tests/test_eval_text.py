"""Whole scripted calls in text, through the real `Dialogue` and the real KB index.

Call files: the dev calls (../shared/data/dev/calls.jsonl), tests/data/probe_calls.jsonl,
37 calls written for these tests on the dev KB in other words than the dev set. The probes
cover names and corrections, asides during the details, another language, "am I talking to a
robot?", "pardon?", a "no" taken back, and requests only staff can act on; and the calls of two
KBs in other domains (tests/data/other_kbs/), on their own KB. Tests assert what
every call must do: file exactly one complete case, end as the script says, and keep the
caller's details. The accuracy figures are the evaluation command's business, not a test's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ari_app.evaluation import evaluate_calls, read_jsonl
from ari_app.knowledge import kb_from_articles
from ari_app.settings import SHARED_DEV_DATA, load_settings

PROBES = Path(__file__).parent / "data" / "probe_calls.jsonl"
ARTICLES = SHARED_DEV_DATA / "kb_articles.json"


@pytest.fixture(scope="module")
def kb():  # type: ignore[no-untyped-def]
    return kb_from_articles(load_settings(None), str(ARTICLES))


def _unpunctuated(turn: str) -> str:
    """What STT gives without punctuation or capitals ("[silence]" stays)."""
    return turn if turn == "[silence]" else " ".join(re.sub(r"[^\w\s']", " ", turn).lower().split())


def test_every_dev_call_files_one_complete_case(kb) -> None:  # type: ignore[no-untyped-def]
    calls = read_jsonl(str(SHARED_DEV_DATA / "calls.jsonl"), ("turns",))
    report = evaluate_calls(kb, calls, "Northwind Desk")
    assert report["n"] == len(calls) == 25
    assert all(r["cases_filed"] == 1 for r in report["_runs"])
    assert report["case_complete"] == 1.0


def test_dev_calls_end_the_same_without_punctuation_or_capitals(kb) -> None:  # type: ignore[no-untyped-def]
    calls = read_jsonl(str(SHARED_DEV_DATA / "calls.jsonl"), ("turns",))
    plain = [dict(c, turns=[_unpunctuated(t) for t in c["turns"]]) for c in calls]
    cased = evaluate_calls(kb, calls, "Northwind Desk")["_runs"]
    lowered = evaluate_calls(kb, plain, "Northwind Desk")["_runs"]
    for a, b in zip(cased, lowered, strict=True):
        assert (a["id"], a["outcome"], a["email"], a["name"]) == (
            b["id"],
            b["outcome"],
            b["email"],
            b["name"],
        )


@pytest.mark.parametrize("call", read_jsonl(str(PROBES), ("turns",)), ids=lambda c: c["id"])
def test_probe_call(kb, call) -> None:  # type: ignore[no-untyped-def]
    (run,) = evaluate_calls(kb, [call], "Northwind Desk")["_runs"]
    assert run["cases_filed"] == 1 and run["case_complete"]
    assert run["outcome"] == call["expect"]["outcome"], run["replies"]
    assert run["email_ok"] and run["name_ok"], (run["email"], run["name"])


def test_eval_calls_rejects_a_bad_calls_file(tmp_path: Path) -> None:
    bad = tmp_path / "calls.jsonl"
    bad.write_text('{"id": "x", "caller_number": "+15550100"}\nnot json\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "ari_app.cli", "eval", "calls", "--calls", str(bad), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and proc.stdout == ""  # a clear error, no figures


OTHER_KBS = sorted((Path(__file__).parent / "data" / "other_kbs").glob("*/kb_articles.json"))


@pytest.mark.parametrize("articles", OTHER_KBS, ids=lambda p: p.parent.name)
def test_calls_on_another_kb_file_one_complete_case_and_keep_the_details(articles: Path) -> None:
    """A KB the product was not built on: every call still files exactly one complete case, and an
    email the caller gave is kept exactly."""
    kb = kb_from_articles(load_settings(None), str(articles))
    calls = read_jsonl(str(articles.parent / "calls.jsonl"), ("turns",))
    report = evaluate_calls(kb, calls, "Support")
    assert len(OTHER_KBS) == 2 and report["n"] == len(calls) >= 16
    for run in report["_runs"]:
        assert run["cases_filed"] == 1 and run["case_complete"], run["id"]
        if run["expect"].get("email"):
            assert run["email_ok"], (run["id"], run["email"])
