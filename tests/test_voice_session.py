"""VoiceSession over real UDP on 127.0.0.1 with real models (Whisper tiny.en, Piper joe) and a
synthetic caller (flite). Models load once for the module.

Memory bounds for long silence and endless talking are covered by the media tests this session
builds on: tests/media/test_turns.py (max_turn_s cap, pre-roll ring only between turns) and
tests/media/test_rtp_endpoint.py (playout queue cap, jitter buffer depth).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from ari_app.caller_voice import CallerVoice
from ari_app.knowledge import kb_from_articles
from ari_app.settings import Settings, StorageSettings, TtsSettings
from ari_app.speech import load_speech_services
from ari_app.voice_eval import ScriptedCaller, run_voice_call
from ari_app.voice_session import SpeechServices, VoiceOptions, VoiceSession
from media.codecs import codec_for
from media.stt import SttError, Transcript
from media.turns import TurnSettings

ARTICLES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "dev" / "kb_articles.json"
TURNS = TurnSettings(end_of_turn_ms=450, min_end_of_turn_ms=250)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    cache = Path("var/cache/tts")  # shared on-disk prompt cache: warm once per machine
    settings = Settings(
        tts=TtsSettings(cache_dir=str(cache), warm_followups=False),
        storage=StorageSettings(articles=str(ARTICLES)),
    )
    kb = kb_from_articles(settings, ARTICLES)
    services = load_speech_services(settings, kb)
    yield settings, kb, services, CallerVoice()
    services.pool.shutdown()


def options(call_id: str, **kw: object) -> VoiceOptions:
    return VoiceOptions(call_id=call_id, turn=TURNS, **kw)  # type: ignore[arg-type]


async def _session_and_caller(services, kb, call_id: str) -> tuple[VoiceSession, ScriptedCaller]:  # type: ignore[no-untyped-def]
    """A started session and a scripted caller that the session has already heard from."""
    session = VoiceSession(services, kb, options(call_id))
    host, port = await session.start()
    peer = ScriptedCaller(codec_for(session.options.codec), (host, port))
    await peer.start()
    await asyncio.sleep(0.1)  # the endpoint learns the peer from its first packets
    return session, peer


async def test_kb_question_is_answered_and_hangup_files_one_case(world) -> None:  # type: ignore[no-untyped-def]
    _, kb, services, voice = world
    call = {"caller_number": "+15555550100", "turns": ["How do I download a PDF of my invoice?"]}
    run = await run_voice_call(services, kb, call, voice, options("t-answer"))
    assert run.agent_texts[0].startswith("Thank you for calling")
    assert run.caller_texts and "invoice" in run.caller_texts[0].lower()
    assert run.article_id == 1007
    spoken = kb.spoken(1007)
    assert spoken is not None and spoken.short in run.agent_texts
    assert run.agent_audio_s > 3.0  # greeting + answer really arrived over RTP
    assert len(run.cases) == 1
    assert run.latencies_ms and all(x > 0 for x in run.latencies_ms)
    assert run.ended_by == "caller"


async def test_after_slow_down_the_agent_speaks_the_same_words_slower(world) -> None:  # type: ignore[no-untyped-def]
    _, kb, services, voice = world
    assert services.slow_cache is not None
    call = {
        "caller_number": "+15555550104",
        "turns": ["How do I download a PDF of my invoice?", "Sorry, can you slow down please?"],
    }
    spoken = kb.spoken(1007)
    assert spoken is not None and spoken.steps
    first = services.tts.sentences(" ".join(spoken.steps))[0]
    services.slow_cache.path(services.slow_cache.key(first)).unlink(missing_ok=True)  # a warm disk cache
    run = await run_voice_call(services, kb, call, voice, options("t-slow"))
    assert len(run.cases) == 1
    assert any(t.startswith(first) for t in run.agent_texts[2:])
    slow_pcm = services.slow_cache.get(first)
    assert slow_pcm is not None, "the repeat after 'slow down' must come from the slower voice"
    # about 15 % longer; Piper varies durations from take to take (tests/media/test_tts.py checks
    # the pace asked for exactly), so the normal pace is the mean of three takes
    normal_bytes = sum(len(services.tts.synthesize(first)) for _ in range(3)) / 3
    assert len(slow_pcm) > normal_bytes * 1.05


async def test_barge_in_stops_output_at_the_next_slot(world) -> None:  # type: ignore[no-untyped-def]
    _, kb, services, voice = world
    session, peer = await _session_and_caller(services, kb, "t-barge")
    try:
        session.begin("+15555550101")
        deadline = time.monotonic() + 5
        while not session.endpoint.is_playing and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.8)
        assert session.endpoint.is_playing
        await peer.say(voice.speak("Sorry, hold on, I need to talk to a real person.").pcm, 0)
        await asyncio.sleep(0.3)
        assert session.barge_ins, "talking over the greeting must be detected"
        rec = session.barge_ins[0]
        assert rec.dropped_frames > 0
        assert rec.frames_after == 0  # nothing of the greeting was sent after detection
        greeting_heard = [t for t in peer.agent_voiced_at if t < peer.marks[0].speech_end]
        assert max(greeting_heard) - rec.detected_at <= 0.020 + 0.010  # one frame, loopback slack
        assert any("[interrupted before" in t.text for t in session.dialogue.transcript)
    finally:
        await session.close()
        await peer.close()


class _BrokenStream:
    def accept(self, pcm: bytes) -> str | None:
        return None

    def finish(self) -> Transcript:
        raise SttError("decoder crashed")


class _BrokenStt:
    name = "broken"

    def transcribe(self, pcm: bytes) -> Transcript:
        raise SttError("decoder crashed")

    def stream(self) -> _BrokenStream:
        return _BrokenStream()


async def test_stt_failure_apologises_and_files_the_case(world) -> None:  # type: ignore[no-untyped-def]
    _, kb, services, voice = world
    broken = SpeechServices(_BrokenStt(), services.tts, services.cache, services.pool)
    call = {"caller_number": "+15555550102", "turns": ["My invoices page is empty, can you help?"]}
    run = await run_voice_call(broken, kb, call, voice, options("t-stt-fail"))
    assert any("sorry" in t.lower() for t in run.agent_texts[1:])
    assert len(run.cases) == 1
    assert run.cases[0].outcome == "escalated"
    assert run.ended_by == "agent"


async def test_silence_reprompts_then_closes(world) -> None:  # type: ignore[no-untyped-def]
    _, kb, services, voice = world
    call = {"caller_number": "+15555550103", "turns": ["[silence]", "[silence]", "[silence]", "[silence]"]}
    run = await run_voice_call(services, kb, call, voice, options("t-silence", silence_timeout_s=1.0))
    assert len(run.agent_texts) >= 4  # greeting, two re-prompts, the closing line
    assert run.ended_by == "agent"
    assert len(run.cases) == 1


class _DeafToShortTurns:
    """The real engine, except that a turn under `min_s` decodes to nothing, as a lone short word
    ("No,") sometimes does with Whisper tiny.en."""

    name = "short-deaf"

    def __init__(self, real, min_s: float = 1.2, short_decode_s: float = 0.0) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.min_bytes = int(min_s * 16000) * 2
        self.short_decode_s = short_decode_s  # how long the short turn's decode takes
        self.decoded: list[int] = []  # audio length of every decode, in bytes

    def transcribe(self, pcm: bytes) -> Transcript:
        self.decoded.append(len(pcm))
        if len(pcm) < self.min_bytes:
            time.sleep(self.short_decode_s)
            return Transcript(text="", confidence=0.0, duration_s=len(pcm) / 32000, decode_ms=0.0)
        return self.real.transcribe(pcm)  # type: ignore[no-any-return]

    def stream(self) -> _WholeTurnStream:
        return _WholeTurnStream(self)


class _WholeTurnStream:
    def __init__(self, engine: _DeafToShortTurns) -> None:
        self.engine = engine
        self.audio = bytearray()

    def accept(self, pcm: bytes) -> str | None:
        self.audio += pcm
        return None

    def finish(self) -> Transcript:
        return self.engine.transcribe(bytes(self.audio))


async def _short_word_then_more(services, kb, voice, pause_s: float, call_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The caller says "No." then, after `pause_s`, the rest; returns the caller texts the session heard."""
    session, peer = await _session_and_caller(services, kb, call_id)
    try:
        session.begin("+15555550105")
        await peer.wait_agent(0.0, 20.0, 0.4)
        gap = bytes(int(pause_s * 16000) * 2)
        pcm = voice.speak("No.").pcm + gap + voice.speak("It still shows a blank page after the export.").pcm
        end = await peer.say(pcm, 0)
        await peer.wait_agent(end, 20.0, 0.4)
        return [r.caller_text for r in session.records if r.caller_text]
    finally:
        await session.close()
        await peer.close()


@pytest.mark.parametrize("short_decode_s", [0.0, 0.8])  # decoded before / after the caller goes on
async def test_a_short_word_that_decodes_to_nothing_is_heard_with_what_follows(world, short_decode_s) -> None:  # type: ignore[no-untyped-def]
    _, kb, services, voice = world
    deaf = _DeafToShortTurns(services.stt, short_decode_s=short_decode_s)
    wrapped = SpeechServices(deaf, services.tts, services.cache, services.pool)
    heard = await _short_word_then_more(wrapped, kb, voice, 0.6, "t-carry")
    assert len(deaf.decoded) >= 2 and deaf.decoded[0] < deaf.min_bytes  # "No." was a turn of its own
    assert len(heard) == 1
    assert heard[0].lower().startswith("no"), heard
    assert "export" in heard[0].lower()


async def test_an_unheard_fragment_is_not_carried_past_a_long_pause(world) -> None:  # type: ignore[no-untyped-def]
    _, kb, services, voice = world
    deaf = _DeafToShortTurns(services.stt)
    wrapped = SpeechServices(deaf, services.tts, services.cache, services.pool)
    heard = await _short_word_then_more(wrapped, kb, voice, 2.5, "t-no-carry")
    assert len(heard) == 1
    assert not heard[0].lower().startswith("no"), heard
    assert "export" in heard[0].lower()


class _FirstTurnSays:
    """The real engine, except that the first turn decodes to `text` whatever was said."""

    name = "first-turn"

    def __init__(self, real, text: str) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.text = text
        self.turns = 0

    def transcribe(self, pcm: bytes) -> Transcript:
        self.turns += 1
        if self.turns == 1:
            return Transcript(text=self.text, confidence=0.9, duration_s=len(pcm) / 32000, decode_ms=0.0)
        return self.real.transcribe(pcm)  # type: ignore[no-any-return]

    def stream(self) -> _WholeTurnStream:
        return _WholeTurnStream(self)  # type: ignore[arg-type]


async def _caller_says(
    services, kb, pcm: bytes, call_id: str, silence_timeout_s: float = 8.0
) -> VoiceSession:  # type: ignore[no-untyped-def]
    """The session after the caller said `pcm` and the agent answered; closed."""
    session = VoiceSession(services, kb, options(call_id, silence_timeout_s=silence_timeout_s))
    host, port = await session.start()
    peer = ScriptedCaller(codec_for(session.options.codec), (host, port))
    await peer.start()
    await asyncio.sleep(0.1)
    try:
        session.begin("+15555550106")
        await peer.wait_agent(0.0, 20.0, 0.4)
        end = await peer.say(pcm, 0)
        assert await peer.wait_agent(end, 20.0, 0.4)
        return session
    finally:
        await session.close()
        await peer.close()


async def test_an_unfinished_turn_is_answered_with_the_rest(world) -> None:  # type: ignore[no-untyped-def]
    _, kb, services, voice = world
    wrapped = SpeechServices(
        _FirstTurnSays(services.stt, "Okay so"), services.tts, services.cache, services.pool
    )
    pcm = (
        voice.speak("Okay so.").pcm
        + bytes(16000 * 2)
        + voice.speak("How do I download a PDF of my invoice?").pcm
    )
    session = await _caller_says(wrapped, kb, pcm, "t-fragment")
    spoken = kb.spoken(1007)
    assert spoken is not None
    heard = [r for r in session.records if r.caller_text]
    assert [r.caller_text for r in heard][0] == "Okay so" and len(heard) == 2
    assert heard[0].agent_text == ""  # nothing was said to "Okay so" alone
    assert spoken.short in heard[1].agent_text
    assert heard[1].timing.latency_ms is not None  # the answer is timed from the rest's last frame


async def test_an_unfinished_turn_answered_after_the_silence_is_not_timed_as_a_reply(world) -> None:  # type: ignore[no-untyped-def]
    _, kb, services, voice = world
    wrapped = SpeechServices(_FirstTurnSays(services.stt, "Hmm"), services.tts, services.cache, services.pool)
    session = await _caller_says(
        wrapped, kb, voice.speak("Hmm.").pcm, "t-fragment-alone", silence_timeout_s=2.0
    )
    (rec,) = [r for r in session.records if r.caller_text]
    assert rec.caller_text == "Hmm"
    assert rec.agent_text  # answered once the 0.5 s wait for the rest ran out
    assert rec.timing.latency_ms is None
