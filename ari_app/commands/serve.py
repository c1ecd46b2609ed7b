"""`kayako-voice serve`: the production process.

Loads the models and the KB, registers the Stasis app with Asterisk, runs the case outbox
worker, the periodic KB sync (when kayako.url is set) and the /health + /ready endpoints.
SIGTERM/SIGINT: stop admitting calls (/ready turns 503), let live calls finish for up to
`ari.shutdown_grace_s`, hang up the rest (their cases are filed), then exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from ari_app.ari.errors import AriError
from ari_app.call_session import external_media_codec_problem
from ari_app.knowledge import KnowledgeError
from ari_app.logs import log_event
from ari_app.metrics import CallMetrics
from ari_app.runtime import build_runtime
from ari_app.stasis_app import StasisApp
from ari_app.web import start_web

log = logging.getLogger("kayako_voice.serve")


async def serve(args: argparse.Namespace) -> int:
    settings = args.settings
    try:
        runtime = build_runtime(settings)
    except (KnowledgeError, OSError, RuntimeError) as exc:
        print(f"kayako-voice serve: cannot start: {exc}", file=sys.stderr)
        return 1
    metrics = CallMetrics()
    app = StasisApp(runtime, metrics=metrics)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = None
    try:
        try:
            await app.start()
        except AriError as exc:
            print(
                f"kayako-voice serve: cannot reach Asterisk ARI at {settings.ari.url}: {exc}", file=sys.stderr
            )
            print("  run `kayako-voice doctor` to check the setup", file=sys.stderr)
            return 1
        problem = external_media_codec_problem(settings.media.codec)
        if problem:
            log.warning('%s; set media.codec = "ulaw"', problem)
        runtime.start_workers()
        runner = await start_web(app, settings.web.host, settings.web.port, metrics)
        log_event(log, "serving", app=settings.ari.app, web=f"{settings.web.host}:{settings.web.port}")
        await stop.wait()
        log_event(log, "signal received: graceful shutdown", grace_s=settings.ari.shutdown_grace_s)
        await app.shutdown()
    finally:
        if runner is not None:
            await runner.cleanup()
        await runtime.close()
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args))
