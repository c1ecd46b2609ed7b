"""What `load_speech_services` synthesizes ahead: prompts, short answers and, with
`tts.warm_followups`, every follow-up text, so a follow-up answer starts from the cache."""

from __future__ import annotations

import json
from pathlib import Path

from ari_app.speech import kb_followup_texts
from ari_app.voice_session import SpeechServices
from media.audio_cache import AudioCache
from media.tts import make_tts
from nlu.kb import articles_from_json
from nlu.kb_index import KbIndex

ARTICLES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "dev" / "kb_articles.json"


def _index(ids: set[int]) -> KbIndex:
    data = [a for a in json.loads(ARTICLES.read_text()) if a["id"] in ids]
    index = KbIndex(":memory:")  # BM25 only: the spoken answers do not need the embedder
    index.upsert(articles_from_json(data))
    return index


def test_followup_texts_are_every_fact_steps_and_rest_once() -> None:
    index = _index({1001, 1024})
    texts = kb_followup_texts(index)
    for aid in (1001, 1024):
        spoken = index.spoken(aid)
        assert spoken is not None and spoken.facts
        assert set(spoken.facts) <= set(texts)
        if spoken.steps:
            assert " ".join(spoken.steps) in texts
        if spoken.rest:
            assert spoken.rest in texts
    assert len(texts) == len(set(texts))
    assert all(t.strip() for t in texts)


def test_a_warmed_followup_is_served_from_the_cache(tmp_path: Path) -> None:
    index = _index({1024})
    fact = kb_followup_texts(index)[0]
    tts = make_tts("flite")
    services = SpeechServices(stt=None, tts=tts, cache=AudioCache(str(tmp_path), tts), pool=None)  # type: ignore[arg-type]
    sentences = tts.sentences(fact)
    assert all(services.cache.get(s) is None for s in sentences)
    assert services.warm_prompts("Northwind Desk", [fact]) >= len(sentences)
    assert all(services.cache.get(s) is not None for s in sentences)
    assert services.warm_prompts("Northwind Desk", [fact]) == 0  # already on disk


def test_followups_warmed_on_disk_do_not_fill_the_memory_cache(tmp_path: Path) -> None:
    index = _index({1024})
    fact = kb_followup_texts(index)[0]
    tts = make_tts("flite")
    cache = AudioCache(str(tmp_path), tts)
    services = SpeechServices(stt=None, tts=tts, cache=cache, pool=None)  # type: ignore[arg-type]
    sentences = tts.sentences(fact)
    assert services.warm_prompts("Northwind Desk", [], on_disk=[fact]) > len(sentences)
    keys = [cache.key(s) for s in sentences]
    assert all(cache.path(k).is_file() for k in keys)
    assert not any(k in cache._memory for k in keys)  # the prompts keep the memory
    assert all(cache.get(s) is not None for s in sentences)  # read from disk when first said
    assert services.warm_prompts("Northwind Desk", [], on_disk=[fact]) == 0
