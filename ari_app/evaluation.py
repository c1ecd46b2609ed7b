"""Text-mode evaluation: labelled utterances and scripted calls through the real `Dialogue`.

Formats are those of shared/data/dev (README there): utterances have `text`, `expect`
(article id or null) and `kind` (answerable / unanswerable / human / smalltalk); calls have
`caller_number`, `turns` ("[silence]" for a silent turn) and `expect` (outcome, article,
email, name). Scripted time: an agent sentence takes ~0.4 s a word to speak, a caller turn
~0.35 s a word, plus a 0.5 s pause; the dialogue only needs the times to be ordered.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlu.case import CaseDraft
from nlu.case_composer import main_article_id
from nlu.dialogue import Dialogue, DialogueConfig, KnowledgeBase
from nlu.events import (
    CallerHungUp,
    CallerSaid,
    CallStarted,
    DialogueAction,
    FileCase,
    HangUp,
    Say,
    SilenceTimeout,
    Transfer,
)

SILENCE_TURN = "[silence]"


class EvalDataError(ValueError):
    """A data file line is not in the shared/data/dev format; the message names file and line."""


def read_jsonl(path: str | Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvalDataError(f"file not found: {p}") from None
    rows = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{p}:{i}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise EvalDataError(f"{p}:{i}: expected a JSON object")
        missing = [k for k in required if k not in row]
        if missing:
            raise EvalDataError(f"{p}:{i}: missing field(s) {', '.join(missing)}")
        rows.append(row)
    if not rows:
        raise EvalDataError(f"{p}: no records")
    return rows


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# ---------------------------------------------------------------------------- utterances
@dataclass(frozen=True)
class UtteranceResult:
    id: str
    kind: str
    expect: int | None
    decision: str  # "answer" | "clarify" | "escalate" | "smalltalk" | "other"
    article_id: int | None
    ms: float


def classify_first_turn(kb: KnowledgeBase, text: str, company: str) -> tuple[str, int | None, float]:
    """Feed one utterance as the caller's first turn; what did the agent do, and how fast."""
    d = Dialogue(kb, DialogueConfig(company=company))
    d.on(CallStarted(at=0.0, caller_number="+15555550100"))
    t0 = time.perf_counter()
    actions = d.on(CallerSaid(at=3.0, text=text))
    ms = (time.perf_counter() - t0) * 1000.0
    answered = [a.article_id for a in actions if isinstance(a, Say) and a.article_id is not None]
    if d.escalated:
        return "escalate", None, ms
    if answered:
        return "answer", answered[0], ms
    if d.state == "clarify":
        first = d._clarify[0].article_id if d._clarify else None
        return "clarify", first, ms
    if not any(isinstance(a, HangUp) for a in actions):
        return "smalltalk", None, ms
    return "other", None, ms


def evaluate_retrieval(
    kb: KnowledgeBase, utterances: Iterable[dict[str, Any]], company: str
) -> dict[str, Any]:
    results = []
    for u in utterances:
        decision, article, ms = classify_first_turn(kb, str(u["text"]), company)
        results.append(
            UtteranceResult(str(u.get("id", "")), str(u["kind"]), u.get("expect"), decision, article, ms)
        )
    answerable = [r for r in results if r.kind == "answerable"]
    to_escalate = [r for r in results if r.kind in ("unanswerable", "human")]
    small = [r for r in results if r.kind == "smalltalk"]
    wrong = [r for r in results if r.decision == "answer" and r.article_id != r.expect]
    clarified = [r for r in results if r.decision == "clarify"]

    def share(hits: int, total: int) -> float:
        return round(hits / total, 4) if total else 1.0

    return {
        "n": len(results),
        "answerable_top1": share(
            sum(r.decision in ("answer", "clarify") and r.article_id == r.expect for r in answerable),
            len(answerable),
        ),
        "escalation_correct": share(sum(r.decision == "escalate" for r in to_escalate), len(to_escalate)),
        "smalltalk_ok": share(sum(r.decision == "smalltalk" for r in small), len(small)),
        "wrong_answer_rate": share(len(wrong), len(results)),
        "clarify_rate": share(len(clarified), len(results)),
        "p50_ms": round(percentile([r.ms for r in results], 0.5), 2),
        "p95_ms": round(percentile([r.ms for r in results], 0.95), 2),
        "_results": results,
    }


# ---------------------------------------------------------------------------- scripted calls
@dataclass
class CallRun:
    call_id: str
    cases: list[CaseDraft] = field(default_factory=list)
    replies: list[tuple[str, str]] = field(default_factory=list)  # (caller turn, agent reply)
    transferred: bool = False
    hung_up: bool = False
    article_id: int | None = None


def _speak_time(text: str, per_word: float) -> float:
    return 0.5 + per_word * max(1, len(text.split()))


def run_text_call(
    kb: KnowledgeBase,
    call: dict[str, Any],
    company: str,
    agent_extension: str = "",
    on_action: Callable[[DialogueAction], None] | None = None,
) -> CallRun:
    call_id = str(call.get("id", "call"))
    d = Dialogue(kb, DialogueConfig(company=company, agent_extension=agent_extension, call_id=call_id))
    run = CallRun(call_id)
    at = 0.0

    def take(actions: list[DialogueAction]) -> str:
        nonlocal at
        said = []
        for a in actions:
            if on_action is not None:
                on_action(a)
            if isinstance(a, Say):
                said.append(a.text)
                at += _speak_time(a.text, 0.4)
            elif isinstance(a, FileCase):
                run.cases.append(a.case)
            elif isinstance(a, Transfer):
                run.transferred = True
            elif isinstance(a, HangUp):
                run.hung_up = True
        return " ".join(said)

    run.replies.append(
        ("", take(d.on(CallStarted(at=at, caller_number=str(call.get("caller_number") or "")))))
    )
    for turn in call.get("turns", []):
        if d.ended:
            break
        turn = str(turn)
        if turn.strip().lower() == SILENCE_TURN:
            at += 8.0
            run.replies.append((turn, take(d.on(SilenceTimeout(at=at)))))
            continue
        at += _speak_time(turn, 0.35)
        run.replies.append((turn, take(d.on(CallerSaid(at=at, text=turn)))))
    if not d.ended:
        at += 2.0
        take(d.on(CallerHungUp(at=at)))
    run.article_id = main_article_id(d)
    return run


def score_call(
    call: dict[str, Any], call_id: str, cases: list[CaseDraft], article_id: int | None
) -> dict[str, Any]:
    """One scripted call scored against its `expect` (text and voice evaluations alike)."""
    expect = call.get("expect") or {}
    case = cases[0] if len(cases) == 1 else None
    exp_email = (expect.get("email") or "").lower()
    exp_name = (expect.get("name") or "").lower()
    return {
        "id": call_id,
        "outcome_ok": case is not None and case.outcome == expect.get("outcome"),
        "article_ok": article_id == expect.get("article"),
        "email_ok": case is not None and case.caller_email.lower() == exp_email,
        "name_ok": case is not None and case.caller_name.lower() == exp_name,
        "case_complete": case is not None and not case.missing_fields(),
        "cases_filed": len(cases),
        "outcome": case.outcome if case else None,
        "article": article_id,
        "email": case.caller_email if case else None,
        "name": case.caller_name if case else None,
        "expect": expect,
    }


def evaluate_calls(kb: KnowledgeBase, calls: Iterable[dict[str, Any]], company: str) -> dict[str, Any]:
    runs = []
    for call in calls:
        run = run_text_call(kb, call, company)
        runs.append(score_call(call, run.call_id, run.cases, run.article_id) | {"replies": run.replies})

    def share(key: str) -> float:
        return round(sum(bool(r[key]) for r in runs) / len(runs), 4) if runs else 0.0

    return {
        "n": len(runs),
        "outcome_accuracy": share("outcome_ok"),
        "article_accuracy": share("article_ok"),
        "email_exact": share("email_ok"),
        "name_exact": share("name_ok"),
        "case_complete": share("case_complete"),
        "_runs": runs,
    }
