"""The load benchmark end to end, small: two overlapping scripted calls through the Asterisk
double (real RTP), the Stasis app, the real dialogue, outbox and Kayako-compatible server.

Speech is the stand-in of test_call_flows (ScriptedStt maps each caller utterance back to its
text; ToneTts answers with tones); the caller audio is real espeak-ng speech so the real VAD
and turn detector run. Behaviour only: every key present, both calls complete, every case
reaches Kayako exactly once; numbers are the benchmark command's job.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
from test_call_flows import ARTICLES, HELPED, NOTHING, QUESTION, ScriptedStt, ToneTts

from ari_app.knowledge import kb_from_articles
from ari_app.load_bench import RESULT_KEYS, CallScript, LoadBenchError, LoadOptions, run_load
from ari_app.settings import Settings
from ari_app.voice_session import InferencePool, SpeechServices
from media.audio_cache import AudioCache

TURNS = [QUESTION, HELPED, NOTHING]


@pytest.fixture(scope="module")
def caller_audio() -> dict[str, bytes]:
    from ari_app.caller_voice import CallerVoice, make_caller_engine

    voice = CallerVoice(make_caller_engine("espeak-ng"))
    return {text: voice.speak(text).pcm for text in TURNS}


def _settings() -> Settings:
    s = Settings()
    return dataclasses.replace(s, nlu=dataclasses.replace(s.nlu, use_embeddings=False))


def _services(audio: dict[str, bytes], tmp: Path) -> SpeechServices:
    tts = ToneTts()
    return SpeechServices(
        stt=ScriptedStt(audio),  # type: ignore[arg-type]
        tts=tts,  # type: ignore[arg-type]
        cache=AudioCache(str(tmp / "tts"), tts),  # type: ignore[arg-type]
        pool=InferencePool(2),
    )


async def test_two_overlapping_calls(caller_audio: dict[str, bytes], tmp_path: Path) -> None:
    settings = _settings()
    kb = kb_from_articles(settings, ARTICLES)
    script = CallScript("password", "+12065550101", tuple(caller_audio[t] for t in TURNS))
    started = time.monotonic()
    result = await run_load(
        settings,
        [script],
        LoadOptions(calls=2, ramp_s=0.2, reply_timeout_s=10.0, call_limit_s=40.0, case_wait_s=8.0),
        articles=ARTICLES,
        services=_services(caller_audio, tmp_path),
        kb=kb,
        work_dir=tmp_path,
    )
    assert time.monotonic() - started < 60
    out = result.to_dict()
    assert tuple(out) == RESULT_KEYS
    assert out["calls"] == 2
    assert out["completed"] == 2, result.outcomes
    assert out["lost_cases"] == 0
    assert result.refused == 0
    assert result.turns >= 4  # both calls: at least two replies each were timed
    assert out["latency_p50_ms"] is not None and out["latency_p95_ms"] >= out["latency_p50_ms"]
    assert out["rss_mb"] > 0 and out["cpu_percent"] > 0


async def test_calls_above_the_limit_are_refused(caller_audio: dict[str, bytes], tmp_path: Path) -> None:
    settings = _settings()
    kb = kb_from_articles(settings, ARTICLES)
    script = CallScript("password", "+12065550101", (caller_audio[QUESTION],))
    result = await run_load(
        settings,
        [script],
        LoadOptions(
            calls=3, ramp_s=0.1, max_calls=1, reply_timeout_s=10.0, call_limit_s=30.0, case_wait_s=8.0
        ),
        articles=ARTICLES,
        services=_services(caller_audio, tmp_path),
        kb=kb,
        work_dir=tmp_path,
    )
    assert result.refused == 2
    assert result.outcomes.get("refused") == 2
    assert result.completed == 1
    assert result.lost_cases == 0  # the admitted call's case arrived once; refused calls file none


@pytest.mark.parametrize(
    "options, scripts",
    [
        (LoadOptions(calls=0), [CallScript("a", "", (b"\0\0",))]),
        (LoadOptions(calls=1), []),
        (LoadOptions(calls=1), [CallScript("a", "", ())]),
        (LoadOptions(calls=1, ramp_s=-1), [CallScript("a", "", (b"\0\0",))]),
    ],
)
async def test_bad_options_are_refused_before_anything_starts(options: LoadOptions, scripts: Any) -> None:
    with pytest.raises(LoadBenchError):
        await run_load(_settings(), scripts, options, articles=ARTICLES)
