"""`kayako-voice privacy forget --phone N | --email E`: erase one caller's local data.

Works on `storage.database` with the configured encryption key (lookups use the keyed HMAC
columns, so encrypted rows are found). Prints what was erased as one JSON object; the audit
table keeps an entry with the identifier masked.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ari_app.privacy import ForgetRequestError, forget_caller, open_store


def run(args: argparse.Namespace) -> int:
    if getattr(args, "privacy_command", None) != "forget":
        print(
            "kayako-voice privacy: say what to do, e.g. `privacy forget --phone +12065550101`",
            file=sys.stderr,
        )
        return 2
    settings = args.settings
    database = settings.storage.database
    if database != ":memory:" and not Path(database).exists():
        print(f"kayako-voice privacy: no call database at {database} (storage.database)", file=sys.stderr)
        return 1
    store = open_store(settings)
    try:
        result = forget_caller(store, phone=args.phone, email=args.email, actor="cli")
    except ForgetRequestError as exc:
        print(f"kayako-voice privacy forget: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(json.dumps({"forgotten": result.to_dict()}))
    if result.outbox_waiting:
        print(
            f"note: {result.outbox_waiting} case(s) of this caller are still waiting for Kayako;"
            " they keep their details until delivered (Kayako is the system of record)",
            file=sys.stderr,
        )
    return 0
