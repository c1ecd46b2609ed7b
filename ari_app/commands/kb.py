"""`kayako-voice kb import|sync`: fill the local KB index (storage.kb_index) that calls answer
from. Import reads a JSON file; sync pulls published articles through the Kayako API, full the
first time and then incrementally by `updated_at`, and removes what Kayako no longer publishes.
Spoken answers and vectors are computed here, once, not per call."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from ari_app.kb_sync import sync_kb
from ari_app.knowledge import KnowledgeError, make_embedder, read_articles
from nlu.kb_index import KbIndex


def run_import(args: argparse.Namespace) -> int:
    settings = args.settings
    try:
        articles = read_articles(args.articles)
    except KnowledgeError as exc:
        print(f"kayako-voice kb import: {exc}", file=sys.stderr)
        return 2
    Path(settings.storage.kb_index).parent.mkdir(parents=True, exist_ok=True)
    index = KbIndex(settings.storage.kb_index, embedder=make_embedder(settings))
    index.replace_all(articles)
    index.close()
    print(f"imported {len(articles)} published articles into {settings.storage.kb_index}")
    return 0


def run_sync(args: argparse.Namespace) -> int:
    settings = args.settings
    if not settings.kayako.url:
        print(
            "kayako-voice kb sync: kayako.url is empty; set it (or KAYAKO_VOICE_KAYAKO_URL)", file=sys.stderr
        )
        return 2
    try:
        result = asyncio.run(sync_kb(settings, full=args.full, progress=sys.stderr.isatty() or True))
    except KnowledgeError as exc:
        print(f"kayako-voice kb sync: {exc}", file=sys.stderr)
        return 1
    print(
        f"synced from {settings.kayako.url}: {result.fetched} fetched, {result.upserted} updated, "
        f"{result.deleted} removed; index now holds {result.total} articles ({settings.storage.kb_index})"
    )
    return 0
