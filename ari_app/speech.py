"""Loading the process's speech models once: STT, TTS, the audio cache and the inference pool.

Owns `load_speech_services(settings, kb=None)`: the `SpeechServices` every call shares, with
every fixed prompt and (given a KB index) every article's spoken short answer synthesized
ahead of time, so the usual reply starts from the cache.

Facts it relies on:
- Whisper tiny.en (int8) loads in ~1 s and Piper joe-medium in ~0.5 s; both are loaded once.
- Piper synthesizes at roughly 5-10x real time on one core: a 40-prompt + 32-answer warm-up
  takes about a minute the first time and nothing afterwards (the cache is on disk); with
  `tts.warm_followups` every fact sentence too (dev KB: ~400 sentences, a few minutes once).
- The Whisper stream pre-decodes once the caller has paused `STT_PAUSE_MS` (150 ms): end of
  turn comes at 250 ms of silence at the earliest, so the pre-decode is usually done by then.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from ari_app.logs import log_event
from ari_app.settings import Settings
from ari_app.voice_session import InferencePool, SpeechServices
from media.audio_cache import AudioCache
from media.stt import SttEngine, make_stt
from media.stt_whisper import FasterWhisperStt
from media.tts import SLOW_RATE_FACTOR, at_rate, make_tts

log = logging.getLogger("kayako_voice.speech")

STT_PAUSE_MS = 150
# periodic pre-decodes re-decode the whole turn so far on the engine's one background thread;
# `bench load` at 4 calls: step 0.8 s -> 75 decodes (20.7 s CPU), STT p95 1253 ms, turn p95
# 2006 ms; pause-only (10 s) -> 14 decodes (4.6 s), STT p95 451 ms, turn p95 1144 ms
STT_STEP_S = 4.0


class SpokenAnswers(Protocol):
    """What warming needs from the KB index (nlu.kb_index.KbIndex has it)."""

    def articles(self) -> list: ...  # type: ignore[type-arg]

    def spoken(self, article_id: int): ...  # type: ignore[no-untyped-def]


def kb_short_answers(kb: SpokenAnswers) -> list[str]:
    """Every article's spoken short answer (what the dialogue says first)."""
    texts = []
    for article in kb.articles():
        spoken = kb.spoken(article.id)
        if spoken is not None and spoken.short:
            texts.append(spoken.short)
    return texts


def kb_followup_texts(kb: SpokenAnswers) -> list[str]:
    """What the dialogue says after the short answer: each fact sentence (follow-up answers are one
    or two of them), the steps (on "repeat") and the rest of the article (on "tell me more")."""
    texts: list[str] = []
    for article in kb.articles():
        spoken = kb.spoken(article.id)
        if spoken is None:
            continue
        texts.extend(spoken.facts)
        if spoken.steps:
            texts.append(" ".join(spoken.steps))
        if spoken.rest:
            texts.append(spoken.rest)
    return list(dict.fromkeys(t for t in texts if t))


def configured_stt(settings: Settings) -> SttEngine:
    """The STT engine the `stt` settings name (raises media.stt.SttError when it cannot load)."""
    s = settings.stt
    return make_stt(
        s.engine,
        s.model,
        s.vosk_model_dir,
        threads=s.threads,
        cache_dir=s.cache_dir,
        beam_size=s.beam_size,
        workers=s.workers,
    )


def load_speech_services(
    settings: Settings, kb: SpokenAnswers | None = None, workers: int = 2, warm: bool = True
) -> SpeechServices:
    started = time.perf_counter()
    stt = configured_stt(settings)
    if isinstance(stt, FasterWhisperStt):
        stt.pause_ms = STT_PAUSE_MS
        stt.step_s = STT_STEP_S
    tts = make_tts(
        settings.tts.engine,
        settings.tts.voice,
        settings.tts.rate,
        settings.tts.coqui_model_dir,
        settings.tts.style,
    )
    cache = AudioCache(settings.tts.cache_dir, tts)
    slow = at_rate(tts, tts.rate * SLOW_RATE_FACTOR)
    slow_cache = AudioCache(settings.tts.cache_dir, slow) if slow is not None else None
    services = SpeechServices(
        stt=stt, tts=tts, cache=cache, pool=InferencePool(workers), slow_cache=slow_cache
    )
    loaded_ms = (time.perf_counter() - started) * 1000
    synthesized = 0
    if warm:
        extra = kb_short_answers(kb) if kb is not None else []
        followups = kb_followup_texts(kb) if kb is not None and settings.tts.warm_followups else []
        synthesized = services.warm_prompts(settings.company.name, extra, on_disk=followups)
    log_event(
        log,
        "speech services ready",
        stt=getattr(stt, "model", stt.name),
        tts=f"{tts.name}/{tts.voice}",
        load_ms=round(loaded_ms),
        warmed=synthesized,
        total_ms=round((time.perf_counter() - started) * 1000),
    )
    return services
