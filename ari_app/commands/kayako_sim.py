"""`kayako-voice kayako-sim`: run the Kayako-compatible server in the foreground until Ctrl-C.

Seeds the KB from --articles (shared/data/dev format) and prints the URL and the agent
login so a demo or a manual test can point `kayako.url` at it. Faults are set at run time
with `POST /_sim/faults` (see kayako_client/simulator/faults.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from kayako_client.simulator import start_simulator


async def _serve(args: argparse.Namespace) -> None:
    handle = await start_simulator(
        args.articles,
        host=args.host,
        port=args.port,
        agent_email=args.agent_email,
        agent_password=args.agent_password,
        database=args.database,
    )
    stats = handle.store.stats()
    print(f"Kayako-compatible server listening on {handle.url}/api/v1", flush=True)
    print(f"agent login: {args.agent_email} / {args.agent_password}", flush=True)
    print(f"articles: {stats['articles']}  database: {args.database}", flush=True)
    print(f"faults: POST {handle.url}/_sim/faults (JSON); Ctrl-C to stop", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await handle.stop()


def run(args: argparse.Namespace) -> int:
    try:
        asyncio.run(_serve(args))
    except OSError as exc:
        print(f"kayako-voice kayako-sim: cannot listen on {args.host}:{args.port}: {exc}")
        return 1
    except (ValueError, FileNotFoundError) as exc:
        print(f"kayako-voice kayako-sim: bad --articles file: {exc}")
        return 2
    return 0
