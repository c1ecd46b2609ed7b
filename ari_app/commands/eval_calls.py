"""`kayako-voice eval calls`: scripted calls through the real dialogue, in text mode or with
`--voice` over real RTP (synthesized caller audio, real STT/TTS)."""

from __future__ import annotations

import argparse
import json
import sys

from ari_app.evaluation import EvalDataError, evaluate_calls, read_jsonl
from ari_app.knowledge import KnowledgeError, kb_from_articles


def run(args: argparse.Namespace) -> int:
    settings = args.settings
    try:
        calls = read_jsonl(args.calls, ("turns",))
        kb = kb_from_articles(settings, args.articles)
    except (EvalDataError, KnowledgeError) as exc:
        print(f"kayako-voice eval calls: {exc}", file=sys.stderr)
        return 2
    if args.voice:
        from ari_app.voice_eval import evaluate_calls_voice

        report = evaluate_calls_voice(settings, kb, calls)
    else:
        report = evaluate_calls(kb, calls, settings.company.name)
    runs = report.pop("_runs")
    if args.details:
        report["calls"] = runs
    if args.json:
        print(json.dumps(report, default=str))
        return 0
    for r in runs:
        flags = " ".join(
            k for k in ("outcome_ok", "article_ok", "email_ok", "name_ok", "case_complete") if not r[k]
        )
        print(
            f"{r['id']}: outcome={r['outcome']} article={r['article']} email={r['email']!r} name={r['name']!r}"
            + (f"  MISSED: {flags}" if flags else "")
        )
    print(json.dumps(report, indent=2, default=str))
    return 0
