"""`kayako-voice chat`: type as the caller and talk to the real dialogue; at the end it prints
the case it would file. An empty line is silence; Ctrl-D hangs up; `/dtmf 0` presses a key."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict

from ari_app.knowledge import KnowledgeError, kb_from_articles
from nlu.dialogue import Dialogue, DialogueConfig
from nlu.events import (
    CallerHungUp,
    CallerSaid,
    CallStarted,
    DtmfDigit,
    FileCase,
    HangUp,
    Say,
    SilenceTimeout,
    Transfer,
)


def run(args: argparse.Namespace) -> int:
    settings = args.settings
    try:
        kb = kb_from_articles(settings, args.articles or settings.storage.articles)
    except KnowledgeError as exc:
        print(f"kayako-voice chat: {exc}", file=sys.stderr)
        return 2
    dialogue = Dialogue(
        kb,
        DialogueConfig(
            company=settings.company.name, agent_extension=settings.company.agent_extension, call_id="chat"
        ),
    )
    t0 = time.monotonic()
    case = None

    def show(actions: list) -> None:  # type: ignore[type-arg]
        nonlocal case
        for a in actions:
            if isinstance(a, Say):
                print(f"agent> {a.text}")
            elif isinstance(a, Transfer):
                print(f"[transfer to extension {a.extension}]")
            elif isinstance(a, HangUp):
                print(f"[agent hangs up: {a.reason}]")
            elif isinstance(a, FileCase):
                case = a.case

    show(dialogue.on(CallStarted(at=0.0, caller_number=args.caller)))
    interactive = sys.stdin.isatty()
    while not dialogue.ended:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            show(dialogue.on(CallerHungUp(at=time.monotonic() - t0)))
            break
        if not interactive:
            print(f"you> {line}")
        at = time.monotonic() - t0
        if line.startswith("/dtmf"):
            show(dialogue.on(DtmfDigit(at=at, digit=line.split()[-1][:1])))
        elif not line.strip():
            show(dialogue.on(SilenceTimeout(at=at)))
        else:
            show(dialogue.on(CallerSaid(at=at, text=line)))
    if case is not None:
        out = asdict(case)
        out["transcript"] = case.transcript_text().splitlines()
        print("\ncase that would be filed:")
        print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0
