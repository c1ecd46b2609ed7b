"""The local KB index in SQLite: articles, FTS5 (BM25), precomputed sentence vectors, spoken answers.

Owns storage and scoring features; the answer/clarify/escalate rule lives in `nlu.retrieval`.
Relies on: SQLite >= 3.9 with FTS5 (3.40 here); a KB of tens to a few thousand articles, so all
vectors (one per title line and per article sentence, ~20 per article, 384 floats) sit in one
numpy matrix and a query is one matrix-vector product. Measured on the dev KB (32 articles, 2-core
VM): decide() p50/p95 in nlu/calibrate.py's docstring. Text on both sides goes through
`nlu.text_norm`, so STT spellings ("pass word", "s s o") meet the KB's own spelling.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from nlu.embedder import SentenceEmbedder
from nlu.kb import Article, html_headings, html_to_text
from nlu.retrieval import Candidate, Retrieval, Thresholds, decide
from nlu.spoken_answer import SpokenAnswer, make_spoken_answer
from nlu.text_norm import STOPWORDS, QueryNormaliser, stem, tokenize

log = logging.getLogger(__name__)

# column weights for bm25(): title, body, section, tags
_BM25_WEIGHTS = (4.0, 1.0, 1.0, 3.0)
_MAX_QUERY_CHARS = 600  # a caller turn longer than this is cut: STT turns are ~10 to 60 words
_MAX_QUERY_TERMS = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kb_articles (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL, section TEXT NOT NULL, category TEXT NOT NULL,
    tags TEXT NOT NULL, body_html TEXT NOT NULL, status TEXT NOT NULL, updated_at TEXT NOT NULL,
    body_text TEXT NOT NULL, spoken TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5(title, body, section, tags, tokenize='porter unicode61');
CREATE TABLE IF NOT EXISTS kb_vectors (
    article_id INTEGER NOT NULL, idx INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
    vec BLOB NOT NULL, PRIMARY KEY (article_id, idx)
);
CREATE TABLE IF NOT EXISTS kb_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Hit:
    article_id: int
    title: str
    score: float
    bm25: float
    cosine: float


def _norm_text(text: str) -> str:
    return " ".join(tokenize(text))


def _article_text(article: Article) -> str:
    return " ".join((article.title, article.section, " ".join(article.tags), html_to_text(article.body_html)))


_LINES_VERSION = "2"  # bump when _embed_lines changes: stored vectors are then rebuilt


def _embed_lines(article: Article, spoken: SpokenAnswer) -> list[tuple[str, str]]:
    """(kind, text) lines to embed: title-like lines (title with tags, each tag, each heading in the
    title's context; an article scores the best of them) then each fact sentence, in `facts` order."""
    lines = [("title", f"{article.title}. {', '.join(article.tags)}")]
    lines.extend(("title", tag) for tag in dict.fromkeys(article.tags))
    lines.extend(("title", f"{article.title}: {h}") for h in dict.fromkeys(html_headings(article.body_html)))
    lines.extend(("fact", fact) for fact in spoken.facts)
    return lines


# contractions as tokens ("i've" -> "ive"): the embedder's vocabulary splits them, so they would
# count as rare words; they are function words
_CONTRACTIONS = frozenset(
    [
        "ive",
        "youve",
        "weve",
        "theyve",
        "im",
        "youre",
        "were",
        "theyre",
        "dont",
        "doesnt",
        "didnt",
        "cant",
        "wont",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "hasnt",
        "havent",
        "hadnt",
        "shouldnt",
        "wouldnt",
        "couldnt",
        "youd",
        "theyd",
        "youll",
        "theyll",
        "shes",
        "hes",
        "thats",
        "theres",
        "whats",
        "lets",
        "wanna",
        "gonna",
        "gotta",
        "kinda",
        "sorta",
        "aint",
    ]
)


class KbIndex:
    """Articles + FTS5 + vectors in one SQLite file; `decide` is the per-turn entry point."""

    def __init__(
        self,
        db_path: str = ":memory:",
        embedder: SentenceEmbedder | None = None,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.embedder = embedder
        self.thresholds = thresholds or (Thresholds() if embedder is not None else Thresholds.bm25_only())
        self._db = sqlite3.connect(db_path, check_same_thread=False)
        self._db.executescript(_SCHEMA)
        self._model_key = (
            f"{embedder.model_dir}|int8={embedder.quantized}|lines={_LINES_VERSION}"
            if embedder is not None
            else ""
        )
        self._rarity: dict[str, float] = {}
        if embedder is not None and self.meta("embedding_model") not in (None, self._model_key):
            log.info("kb index: embedding model changed, re-embedding all articles")
            self._db.execute("DELETE FROM kb_vectors")
        self._load()
        if embedder is not None:
            missing = self._db.execute(
                "SELECT id FROM kb_articles WHERE id NOT IN (SELECT DISTINCT article_id FROM kb_vectors)"
            ).fetchall()
            if missing:
                arts = [a for a in (self.article(r[0]) for r in missing) if a is not None]
                self._embed(arts)
                self._db.commit()
                self._load()

    # ------------------------------------------------------------------ storage
    def _embed(self, articles: list[Article]) -> None:
        if self.embedder is None or not articles:
            return
        rows: list[tuple[int, int, str, str]] = []
        for article in articles:
            spoken = self.spoken(article.id) or make_spoken_answer(article)
            for idx, (kind, text) in enumerate(_embed_lines(article, spoken)):
                rows.append((article.id, idx, kind, text))
        vectors = self.embedder.encode([r[3] for r in rows])
        self._db.executemany("DELETE FROM kb_vectors WHERE article_id = ?", [(a.id,) for a in articles])
        self._db.executemany(
            "INSERT INTO kb_vectors (article_id, idx, kind, text, vec) VALUES (?, ?, ?, ?, ?)",
            [(*r, vectors[i].astype(np.float32).tobytes()) for i, r in enumerate(rows)],
        )
        self._db.execute(
            "INSERT OR REPLACE INTO kb_meta (key, value) VALUES ('embedding_model', ?)", (self._model_key,)
        )

    def upsert(self, articles: Iterable[Article]) -> int:
        """Insert or update articles (spoken answers and vectors included); non-published ones are removed."""
        live: list[Article] = []
        gone: list[int] = []
        for article in articles:
            if article.status.upper() == "PUBLISHED":
                live.append(article)
            else:
                gone.append(article.id)
        with self._db:
            for article in live:
                spoken = make_spoken_answer(article)
                self._db.execute("DELETE FROM kb_fts WHERE rowid = ?", (article.id,))
                self._db.execute(
                    "INSERT OR REPLACE INTO kb_articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article.id, article.title, article.section, article.category,
                        json.dumps(list(article.tags)), article.body_html, article.status,
                        article.updated_at, html_to_text(article.body_html), json.dumps(asdict(spoken)),
                    ),
                )  # fmt: skip
                self._db.execute(
                    "INSERT INTO kb_fts (rowid, title, body, section, tags) VALUES (?, ?, ?, ?, ?)",
                    (
                        article.id,
                        _norm_text(article.title),
                        _norm_text(html_to_text(article.body_html)),
                        _norm_text(article.section + " " + article.category),
                        _norm_text(" ".join(article.tags)),
                    ),
                )
            self._embed(live)
        removed = self.delete(gone) if gone else 0
        self._load()
        return len(live) + removed

    def delete(self, article_ids: Iterable[int]) -> int:
        ids = [(int(i),) for i in article_ids]
        with self._db:
            before = self._db.total_changes
            self._db.executemany("DELETE FROM kb_articles WHERE id = ?", ids)
            count = self._db.total_changes - before
            self._db.executemany("DELETE FROM kb_fts WHERE rowid = ?", ids)
            self._db.executemany("DELETE FROM kb_vectors WHERE article_id = ?", ids)
        self._load()
        return count

    def replace_all(self, articles: Iterable[Article]) -> None:
        articles = list(articles)
        keep = {a.id for a in articles if a.status.upper() == "PUBLISHED"}
        stale = [i for i in self._ids() if i not in keep]
        if stale:
            self.delete(stale)
        self.upsert(articles)

    def _ids(self) -> list[int]:
        return [r[0] for r in self._db.execute("SELECT id FROM kb_articles ORDER BY id")]

    def _row_to_article(self, row: tuple) -> Article:
        return Article(
            id=row[0], title=row[1], section=row[2], category=row[3], tags=tuple(json.loads(row[4])),
            body_html=row[5], status=row[6], updated_at=row[7],
        )  # fmt: skip

    def article(self, article_id: int) -> Article | None:
        row = self._db.execute(
            "SELECT id, title, section, category, tags, body_html, status, updated_at FROM kb_articles WHERE id = ?",
            (article_id,),
        ).fetchone()
        return self._row_to_article(row) if row else None

    def articles(self) -> list[Article]:
        rows = self._db.execute(
            "SELECT id, title, section, category, tags, body_html, status, updated_at FROM kb_articles ORDER BY id"
        ).fetchall()
        return [self._row_to_article(r) for r in rows]

    def spoken(self, article_id: int) -> SpokenAnswer | None:
        row = self._db.execute("SELECT spoken FROM kb_articles WHERE id = ?", (article_id,)).fetchone()
        if not row:
            return None
        data = json.loads(row[0])
        return SpokenAnswer(
            article_id=data["article_id"], short=data["short"], steps=tuple(data["steps"]),
            rest=data["rest"], facts=tuple(data["facts"]),
        )  # fmt: skip

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM kb_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO kb_meta (key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ in-memory caches
    def _load(self) -> None:
        """Cache titles, vocabulary (for query repair), document frequencies and the vector matrix."""
        rows = self._db.execute(
            "SELECT id, title, section, category, tags, body_text FROM kb_articles"
        ).fetchall()
        self._titles = {r[0]: r[1] for r in rows}
        texts = [" ".join((r[1], r[2], r[3], " ".join(json.loads(r[4])), r[5])) for r in rows]
        self._normaliser = QueryNormaliser.from_texts(texts)
        self._article_stems: dict[int, frozenset[str]] = {}
        df: dict[str, int] = {}
        for r, text in zip(rows, texts, strict=True):
            stems = frozenset(stem(t) for t in tokenize(text))
            self._article_stems[r[0]] = stems
            for s in stems:
                df[s] = df.get(s, 0) + 1
        self._df = df
        self._n_articles = len(rows)
        vec_rows = self._db.execute(
            "SELECT article_id, kind, vec FROM kb_vectors ORDER BY article_id, idx"
        ).fetchall()
        live = set(self._titles)
        vec_rows = [v for v in vec_rows if v[0] in live]
        if vec_rows:
            self._vec_ids = np.array([v[0] for v in vec_rows], dtype=np.int64)
            self._vec_is_title = np.array([v[1] == "title" for v in vec_rows])
            self._vectors = np.vstack([np.frombuffer(v[2], dtype=np.float32) for v in vec_rows])
        else:
            self._vec_ids = np.zeros(0, dtype=np.int64)
            self._vec_is_title = np.zeros(0, dtype=bool)
            self._vectors = np.zeros((0, 1), dtype=np.float32)
        self._fact_rows: dict[int, np.ndarray] = {}
        for aid in live:
            self._fact_rows[aid] = np.nonzero((self._vec_ids == aid) & ~self._vec_is_title)[0]
        self._article_order = np.array(sorted(live), dtype=np.int64)
        self._vec_slot = np.searchsorted(self._article_order, self._vec_ids)

    # ------------------------------------------------------------------ scoring
    def query_tokens(self, text: str) -> list[str]:
        return self._normaliser.normalise((text or "")[:_MAX_QUERY_CHARS])

    def _bm25(self, tokens: list[str]) -> dict[int, float]:
        terms = list(dict.fromkeys(t for t in tokens if t not in STOPWORDS and re.fullmatch(r"[a-z0-9]+", t)))
        if not terms:
            return {}
        match = " OR ".join(f'"{t}"' for t in terms[:_MAX_QUERY_TERMS])
        try:
            rows = self._db.execute(
                "SELECT rowid, -bm25(kb_fts, ?, ?, ?, ?) FROM kb_fts WHERE kb_fts MATCH ? ORDER BY 2 DESC LIMIT 20",
                (*_BM25_WEIGHTS, match),
            ).fetchall()
        except sqlite3.OperationalError as exc:  # never expected: terms are plain alphanumerics
            log.warning("kb index: fts query failed", extra={"error": str(exc)})
            return {}
        return {int(r[0]): float(r[1]) for r in rows}

    def _cosines(self, text: str) -> tuple[dict[int, float], dict[int, float]]:
        """Per article: the best title-like line cosine and the best fact sentence cosine."""
        if self.embedder is None or not len(self._vec_ids):
            return {}, {}
        query = self.embedder.encode([text])[0]
        sims = self._vectors @ query
        n = len(self._article_order)
        title = np.full(n, -2.0, dtype=np.float32)
        fact = np.full(n, -2.0, dtype=np.float32)
        np.maximum.at(title, self._vec_slot[self._vec_is_title], sims[self._vec_is_title])
        np.maximum.at(fact, self._vec_slot[~self._vec_is_title], sims[~self._vec_is_title])
        title = np.where(title < -1.5, fact, title)  # an article with no sentences or no title line
        fact = np.where(fact < -1.5, title, fact)
        ids = self._article_order.tolist()
        return dict(zip(ids, title.tolist(), strict=True)), dict(zip(ids, fact.tolist(), strict=True))

    def _word_rarity(self, word: str) -> float:
        """0 for a common English word, 1 for one the embedder's vocabulary has to split (brands, jargon).

        Between WordPiece ranks 2,000 and 30,000 it rises with the log of the rank.
        """
        cached = self._rarity.get(word)
        if cached is not None:
            return cached
        rank = self.embedder.word_rank(word) if self.embedder is not None else None
        if rank is None:
            value = 1.0
        else:
            value = min(1.0, max(0.0, (math.log(rank) - math.log(2000)) / (math.log(30000) - math.log(2000))))
        if len(self._rarity) < 50_000:
            self._rarity[word] = value
        return value

    def _unknown(self, tokens: list[str]) -> float:
        """Summed rarity of the query's content words that no article uses (e.g. another product's name)."""
        if self.embedder is None:
            return 0.0
        content = {
            t for t in tokens if t not in STOPWORDS and len(t) > 2 and t.isalpha() and t not in _CONTRACTIONS
        }
        return sum(self._word_rarity(t) for t in content if stem(t) not in self._df)

    def _coverage(self, tokens: list[str], article_id: int) -> tuple[float, float]:
        """Share of the query's content words (IDF-weighted) the article contains, and the weight missing."""
        content = {stem(t) for t in tokens if t not in STOPWORDS and len(t) > 1}
        if not content:
            return 1.0, 0.0
        stems = self._article_stems.get(article_id, frozenset())
        n = max(self._n_articles, 1)
        total = missing = 0.0
        for s in content:
            weight = math.log(1.0 + n / (1.0 + self._df.get(s, 0)))
            total += weight
            if s not in stems:
                missing += weight
        return (1.0 - missing / total if total else 1.0), missing

    def candidates(self, text: str, k: int = 5) -> list[Candidate]:
        """Fused ranking (reciprocal rank of BM25 and cosine) with the features the decision needs."""
        tokens = self.query_tokens(text)
        bm25 = self._bm25(tokens)
        title_cos, fact_cos = self._cosines(" ".join(tokens)) if tokens else ({}, {})
        cosines = {
            aid: (self.thresholds.title_weight * t + self.thresholds.fact_weight * fact_cos[aid])
            / (self.thresholds.title_weight + self.thresholds.fact_weight)
            for aid, t in title_cos.items()
        }
        unknown = self._unknown(tokens)
        ids = set(bm25) | set(sorted(cosines, key=cosines.get, reverse=True)[:20])  # type: ignore[arg-type]
        if not ids:
            return []
        bm_rank = {aid: i for i, aid in enumerate(sorted(bm25, key=bm25.get, reverse=True))}  # type: ignore[arg-type]
        cos_rank = {aid: i for i, aid in enumerate(sorted(cosines, key=cosines.get, reverse=True))}  # type: ignore[arg-type]
        top_bm25 = max(bm25.values(), default=0.0)
        out: list[Candidate] = []
        for aid in ids:
            rrf = 1.0 / (self.thresholds.rrf_k + bm_rank.get(aid, 50)) + (
                1.0 / (self.thresholds.rrf_k + cos_rank.get(aid, 50)) if cosines else 0.0
            )
            cover, missing = self._coverage(tokens, aid)
            out.append(
                Candidate(
                    article_id=aid,
                    title=self._titles.get(aid, ""),
                    rrf=rrf,
                    bm25=bm25.get(aid, 0.0),
                    bm25_rel=bm25.get(aid, 0.0) / top_bm25 if top_bm25 > 0 else 0.0,
                    cosine=cosines.get(aid, 0.0),
                    bm25_rank=bm_rank.get(aid, 99),
                    cosine_rank=cos_rank.get(aid, 99) if cosines else 99,
                    coverage=cover,
                    missing=missing,
                    title_cosine=title_cos.get(aid, 0.0) if cosines else None,
                    fact_cosine=fact_cos.get(aid, 0.0) if cosines else None,
                    unknown=unknown,
                )
            )
        out.sort(key=lambda c: (-self.thresholds.score(c), -c.rrf))
        return out[: max(k, 2)]

    def search(self, text: str, k: int = 5) -> list[Hit]:
        return [self._hit(c) for c in self.candidates(text, k)[:k]]

    def _hit(self, c: Candidate) -> Hit:
        return Hit(
            article_id=c.article_id,
            title=c.title,
            score=self.thresholds.score(c),
            bm25=c.bm25,
            cosine=c.cosine,
        )

    def decide(self, text: str) -> Retrieval:
        return decide(self.candidates(text, 5), self.thresholds, self._hit, query=text)

    # ------------------------------------------------------------------ follow-ups
    def answer_followup(self, article_id: int, question: str) -> str | None:
        """The best one or two fact sentences of the article for a follow-up question, or None."""
        spoken = self.spoken(article_id)
        if spoken is None or not spoken.facts:
            return None
        tokens = self.query_tokens(question)
        content = {stem(t) for t in tokens if t not in STOPWORDS and len(t) > 1}
        if not content:
            return None
        n = max(self._n_articles, 1)
        idf = {s: math.log(1.0 + n / (1.0 + self._df.get(s, 0))) for s in content}
        total = sum(idf.values())
        lexical = []
        for fact in spoken.facts:
            fact_stems = {stem(t) for t in tokenize(fact)}
            lexical.append(sum(w for s, w in idf.items() if s in fact_stems) / total)
        lexical_arr = np.array(lexical, dtype=np.float32)
        rows = self._fact_rows.get(article_id)
        if self.embedder is not None and rows is not None and len(rows) == len(spoken.facts):
            query = self.embedder.encode([" ".join(tokens)])[0]
            cos = self._vectors[rows] @ query
            score = (
                self.thresholds.followup_cosine_weight * cos
                + (1 - self.thresholds.followup_cosine_weight) * lexical_arr
            )
            floor = self.thresholds.followup_min
        else:
            score = lexical_arr
            floor = self.thresholds.followup_min_lexical
        if float(score.max()) < floor:
            return None
        # the short answer was already spoken: a different sentence that answers nearly as well wins
        in_short = np.array([fact in spoken.short for fact in spoken.facts])
        score = np.where(in_short, score - self.thresholds.followup_short_penalty, score)
        order = np.argsort(-score)
        best = int(order[0])
        chosen = [best]
        if len(order) > 1:
            second = int(order[1])
            if (
                float(score[second]) >= floor
                and float(score[second]) >= score[best] - self.thresholds.followup_second_gap
            ):
                chosen.append(second)
        return " ".join(spoken.facts[i] for i in sorted(chosen))
