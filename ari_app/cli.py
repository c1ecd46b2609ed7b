"""The `kayako-voice` command: one entry point, one subcommand per job.

Each subcommand's work lives in its own module under `ari_app.commands`, imported only when
that subcommand runs, so `kayako-voice --help` starts fast and a missing optional engine only
affects the command that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from ari_app.logs import setup_logging
from ari_app.settings import SHARED_DEV_DATA, SettingsError, load_settings

DEV_ARTICLES = str(SHARED_DEV_DATA / "kb_articles.json")
DEV_UTTERANCES = str(SHARED_DEV_DATA / "utterances.jsonl")
DEV_CALLS = str(SHARED_DEV_DATA / "calls.jsonl")

DESCRIPTION = """\
kayako-voice: an on-premises AI phone agent for Kayako helpdesks.

Asterisk hands each call to this app over ARI; it listens, answers from the Kayako knowledge
base by voice, confirms the caller's name and email, and files a Kayako case with the full
transcript, or transfers the caller to a live agent with the case already open.

Settings come from --config FILE (TOML) and KAYAKO_VOICE_<SECTION>_<KEY> environment
variables; see README.md, "Configuration".
"""


def _handler(module: str, func: str = "run") -> Callable[[argparse.Namespace], int]:
    def call(args: argparse.Namespace) -> int:
        mod = importlib.import_module(f"ari_app.commands.{module}")
        return int(getattr(mod, func)(args) or 0)

    return call


class _Subparsers:
    """add_subparsers that gives every subcommand (and nested one) the common options."""

    def __init__(self, action: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
        self._action = action
        self._common = common

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser:
        p = self._action.add_parser(name, parents=[self._common], **kwargs)  # type: ignore[arg-type]
        original = p.add_subparsers
        common = self._common

        def add_subparsers(**kw: object) -> _Subparsers:
            return _Subparsers(original(**kw), common)  # type: ignore[arg-type]

        p.add_subparsers = add_subparsers  # type: ignore[method-assign,assignment]
        return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kayako-voice", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (default: embedded defaults)")
    parser.add_argument(
        "--log-level", metavar="LEVEL", help="override log.level (DEBUG, INFO, WARNING, ERROR)"
    )
    # the same two options are accepted after the subcommand too (`kayako-voice serve --config F`)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="TOML settings file")
    common.add_argument("--log-level", metavar="LEVEL", default=argparse.SUPPRESS, help="override log.level")
    sub = _Subparsers(parser.add_subparsers(dest="command", metavar="COMMAND"), common)

    p = sub.add_parser("serve", help="run the production process: Stasis app, media, outbox, KB sync, health")
    p.set_defaults(func=_handler("serve"))

    p = sub.add_parser(
        "demo",
        help="the embedded default: Kayako-compatible server + Asterisk test double + scripted calls, no PBX needed",
    )
    p.add_argument("--calls", default=DEV_CALLS, help="scripted calls file (JSONL, shared/data/dev format)")
    p.add_argument(
        "--articles", default=DEV_ARTICLES, help="KB articles JSON to seed the Kayako-compatible server"
    )
    p.add_argument("--only", action="append", metavar="CALL_ID", help="run only this call id (repeatable)")
    p.add_argument("--count", type=int, default=1, help="how many scripted calls to place (default 1)")
    p.add_argument("--out", default="out/demo", help="folder for one WAV per conversation")
    p.set_defaults(func=_handler("demo"))

    p = sub.add_parser(
        "doctor", help="check ARI, Stasis app, RTP ports, models and Kayako; say how to fix what fails"
    )
    p.set_defaults(func=_handler("doctor"))

    p = sub.add_parser(
        "chat", help="type as the caller and talk to the real dialogue; prints the case at the end"
    )
    p.add_argument("--articles", default=None, help="KB articles JSON (default: storage.articles)")
    p.add_argument("--caller", default="+15555550100", help="caller number (empty for withheld)")
    p.set_defaults(func=_handler("chat"))

    p = sub.add_parser("eval", help="measure retrieval, whole calls or speech-to-text on labelled data")
    esub = p.add_subparsers(dest="eval_command", metavar="WHAT")
    e = esub.add_parser("retrieval", help="per-utterance decisions: answerable_top1, escalation_correct, ...")
    e.add_argument("--articles", default=DEV_ARTICLES)
    e.add_argument("--utterances", default=DEV_UTTERANCES)
    e.add_argument(
        "--index", default=None, help="use an existing synced index (SQLite) instead of --articles"
    )
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=_handler("eval_retrieval"))
    e = esub.add_parser("calls", help="scripted calls in text mode (or --voice over real RTP)")
    e.add_argument("--articles", default=DEV_ARTICLES)
    e.add_argument("--calls", default=DEV_CALLS)
    e.add_argument("--voice", action="store_true", help="synthesize caller turns and run them over real RTP")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--details", action="store_true", help="include per-call results")
    e.set_defaults(func=_handler("eval_calls"))
    e = esub.add_parser("stt", help="WER and real-time factor of the configured STT engine")
    e.add_argument("--wav-dir", required=True)
    e.add_argument("--transcripts", required=True, help="file of 'name: text' lines")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_handler("eval_stt"))

    p = sub.add_parser("kb", help="the local knowledge-base index")
    ksub = p.add_subparsers(dest="kb_command", metavar="WHAT")
    k = ksub.add_parser(
        "import", help="import articles from a JSON file (shared/data/dev format) into the index"
    )
    k.add_argument("--articles", default=DEV_ARTICLES)
    k.set_defaults(func=_handler("kb", "run_import"))
    k = ksub.add_parser("sync", help="pull every published article from Kayako into the index (incremental)")
    k.add_argument("--full", action="store_true", help="ignore updated_at and pull everything")
    k.set_defaults(func=_handler("kb", "run_sync"))

    p = sub.add_parser("kayako-sim", help="run the Kayako-compatible server (for demos and tests)")
    p.add_argument("--articles", default=DEV_ARTICLES, help=f"KB JSON to seed (default: {DEV_ARTICLES})")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8890, help="listen port (default 8890)")
    p.add_argument(
        "--agent-email",
        default="agent@northwind.example",
        help="agent login (default agent@northwind.example)",
    )
    p.add_argument("--agent-password", default="northwind", help="agent password (default northwind)")
    p.add_argument("--database", default=":memory:", help="SQLite file for its data (default: in memory)")
    p.set_defaults(func=_handler("kayako_sim"))

    p = sub.add_parser("report", help="call analytics: volume, resolution, escalation, latency, outbox")
    p.add_argument("--since", default=None, help="ISO date")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_handler("report"))

    p = sub.add_parser("privacy", help="erase a caller's local data")
    psub = p.add_subparsers(dest="privacy_command", metavar="WHAT")
    f = psub.add_parser("forget", help="erase local transcripts and details of one caller")
    f.add_argument("--phone", default=None)
    f.add_argument("--email", default=None)
    f.set_defaults(func=_handler("privacy"))

    p = sub.add_parser("bench", help="benchmarks")
    bsub = p.add_subparsers(dest="bench_command", metavar="WHAT")
    b = bsub.add_parser("load", help="N concurrent scripted calls through the whole pipeline")
    b.add_argument("--calls", type=int, default=10)
    b.add_argument("--json", action="store_true")
    b.add_argument("--calls-file", default=DEV_CALLS, help="scripted calls (JSONL), cycled through")
    b.add_argument("--articles", default=DEV_ARTICLES, help="KB articles JSON to seed Kayako")
    b.add_argument("--turns", type=int, default=3, help="caller turns per call (default 3)")
    b.add_argument("--ramp-s", type=float, default=0.2, help="seconds between call starts")
    b.add_argument("--max-calls", type=int, default=None, help="admission limit (default ari.max_calls)")
    b.add_argument("--details", action="store_true", help="add refusals, loop lag, outcomes to the JSON")
    b.add_argument(
        "--slow-callback-ms", type=float, default=None, help="asyncio debug: list slower callbacks"
    )
    b.set_defaults(func=_handler("bench_load"))

    p = sub.add_parser("dial", help="test softphone: call a SIP URI, speak turns, print the agent's replies")
    p.add_argument("uri", help="whom to call: sip:EXT@HOST[:PORT]")
    p.add_argument("--say", action="append", default=[], help="one caller turn, spoken in order (repeatable)")
    p.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the answer and each reply"
    )
    p.add_argument("--wav-out", metavar="DIR", default=None, help="write each turn's audio (both sides) here")
    p.add_argument("--local-port", type=int, default=0, help="local SIP UDP port (default: any free one)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=_handler("dial"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        # a group without its subcommand: show that group's help
        parser.parse_args([*(argv or sys.argv[1:]), "--help"])
        return 2
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"kayako-voice: {exc}", file=sys.stderr)
        return 2
    setup_logging(args.log_level or settings.log.level)
    args.settings = settings
    try:
        return args.func(args)
    except SettingsError as exc:
        print(f"kayako-voice: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
