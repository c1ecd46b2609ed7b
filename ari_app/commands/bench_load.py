"""`kayako-voice bench load`: N overlapping scripted calls through the whole product, measured.

Synthesizes the callers' turns (flite, telephone band) from the dev calls file, loads the real
models (Whisper tiny.en, Piper, the MiniLM KB) and runs `ari_app.load_bench.run_load`; prints
one JSON object (`--json`) or a one-line summary. Fact: a call of 3 turns lasts about 20-30 s
(real-time RTP both ways), so a run takes that plus the ramp, whatever N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys

from ari_app.evaluation import SILENCE_TURN, EvalDataError, read_jsonl
from ari_app.load_bench import CallScript, LoadBenchError, LoadOptions, run_load


def caller_scripts(calls_file: str, turns_per_call: int) -> list[CallScript]:
    from ari_app.caller_voice import CallerVoice

    voice = CallerVoice()
    scripts = []
    for spec in read_jsonl(calls_file, ("id", "turns")):
        texts = [t for t in spec["turns"] if isinstance(t, str) and t != SILENCE_TURN][:turns_per_call]
        if texts:
            pcm = tuple(voice.speak(t).pcm for t in texts)
            scripts.append(CallScript(spec["id"], spec.get("caller_number", ""), pcm))
    return scripts


async def _bench(args: argparse.Namespace) -> int:
    from ari_app.commands.demo import demo_kb

    settings = args.settings
    try:
        scripts = caller_scripts(args.calls_file, args.turns)
        kb = demo_kb(settings, args.articles)
        result = await run_load(
            settings,
            scripts[: args.calls] if args.calls < len(scripts) else scripts,
            LoadOptions(
                calls=args.calls,
                ramp_s=args.ramp_s,
                max_calls=args.max_calls,
                slow_callback_ms=args.slow_callback_ms,
            ),
            articles=args.articles,
            kb=kb,
        )
    except (EvalDataError, LoadBenchError) as exc:
        print(f"kayako-voice bench load: {exc}", file=sys.stderr)
        return 2
    out = result.to_dict(details=args.details)
    if args.details:
        out["load_average"] = list(os.getloadavg())
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"{result.calls} calls, {result.completed} completed, {result.refused} refused; "
            f"latency p50 {result.latency_p50_ms} ms, p95 {result.latency_p95_ms} ms over {result.turns} turns; "
            f"late frames {result.late_frames}; lost cases {result.lost_cases}; "
            f"CPU {result.cpu_percent}%; peak RSS {result.rss_mb} MB; "
            f"loop lag max {result.loop_lag_max_ms} ms"
        )
    return 0 if result.completed == result.calls - result.refused and result.lost_cases == 0 else 1


def run(args: argparse.Namespace) -> int:
    logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    return asyncio.run(_bench(args))
