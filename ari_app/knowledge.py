"""Opening the knowledge base the dialogue answers from: a JSON import or the synced index.

The embedding model (all-MiniLM-L6-v2, ~90 MB, ~1.5 s to load on 2 cores) is loaded once per
process and shared by every call; KB vectors and spoken answers are computed at import/sync,
never per call.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

from ari_app.logs import log_event
from ari_app.settings import Settings
from nlu.embedder import SentenceEmbedder
from nlu.kb import Article, articles_from_json
from nlu.kb_index import KbIndex

log = logging.getLogger("kayako_voice.kb")


class KnowledgeError(ValueError):
    """The articles file cannot be read or is not in the expected format."""


def read_articles(path: str | Path) -> list[Article]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KnowledgeError(f"articles file not found: {p}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KnowledgeError(f"articles file {p} is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise KnowledgeError(f"articles file {p}: expected a JSON list of articles")
    try:
        articles = articles_from_json(data)
    except ValueError as exc:
        raise KnowledgeError(f"articles file {p}: {exc}") from None
    return [a for a in articles if a.status.upper() == "PUBLISHED"]


@lru_cache(maxsize=4)
def shared_embedder(model_dir: str = "", threads: int = 1) -> SentenceEmbedder:
    return SentenceEmbedder(model_dir, threads=threads)


def make_embedder(settings: Settings) -> SentenceEmbedder | None:
    if not settings.nlu.use_embeddings:
        return None
    try:
        return shared_embedder(settings.nlu.embedding_model_dir, settings.nlu.embedding_threads)
    except Exception as exc:  # the model is optional: BM25 alone still answers
        log_event(log, "embedding model unavailable; using BM25 only", logging.WARNING, error=str(exc))
        return None


def kb_from_articles(settings: Settings, articles_path: str | Path, db_path: str = ":memory:") -> KbIndex:
    """A fresh index holding the published articles of a JSON file."""
    articles = read_articles(articles_path)
    index = KbIndex(db_path, embedder=make_embedder(settings))
    index.replace_all(articles)
    log_event(log, "kb imported", articles=len(articles), source=str(articles_path))
    return index


def open_synced_kb(settings: Settings, db_path: str | None = None) -> KbIndex:
    path = db_path or settings.storage.kb_index
    if not Path(path).exists():
        raise KnowledgeError(
            f"no KB index at {path}: run `kayako-voice kb sync` or `kayako-voice kb import` first"
        )
    return KbIndex(path, embedder=make_embedder(settings))
