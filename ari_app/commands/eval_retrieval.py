"""`kayako-voice eval retrieval`: each labelled utterance as a caller's first turn, through the
real dialogue and KB index; prints the figures (JSON keys fixed by the issue)."""

from __future__ import annotations

import argparse
import json
import sys

from ari_app.evaluation import EvalDataError, evaluate_retrieval, read_jsonl
from ari_app.knowledge import KnowledgeError, kb_from_articles, open_synced_kb


def run(args: argparse.Namespace) -> int:
    settings = args.settings
    try:
        utterances = read_jsonl(args.utterances, ("text", "kind"))
        kb = open_synced_kb(settings, args.index) if args.index else kb_from_articles(settings, args.articles)
    except (EvalDataError, KnowledgeError) as exc:
        print(f"kayako-voice eval retrieval: {exc}", file=sys.stderr)
        return 2
    report = evaluate_retrieval(kb, utterances, settings.company.name)
    results = report.pop("_results")
    if args.json:
        print(json.dumps(report))
        return 0
    for r in results:
        mark = "ok " if _correct(r) else "BAD"
        print(
            f"{mark} {r.id:8} {r.kind:12} expect={r.expect!s:5} got={r.decision}:{r.article_id} ({r.ms:.1f} ms)"
        )
    print(json.dumps(report, indent=2))
    return 0


def _correct(r) -> bool:  # type: ignore[no-untyped-def]
    if r.kind == "answerable":
        return r.article_id == r.expect and r.decision in ("answer", "clarify")
    if r.kind in ("unanswerable", "human"):
        return r.decision == "escalate"
    return r.decision == "smalltalk"
