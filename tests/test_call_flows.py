"""Whole calls through the Stasis app: the Asterisk double (ARI spec-checked, real RTP), the
Kayako-compatible server, the real Dialogue and KB, the real outbox and call store.

Speech is a stand-in where it is not under test: the caller's audio is real synthesized speech
(espeak-ng) so the real VAD and turn detector run; `ScriptedStt` maps each known utterance back
to its text by its voiced length; `ToneTts` answers with 100 ms tones. Every test checks that
the double saw no request outside the ARI spec and that exactly one case reached Kayako.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ari_app.ari.double import AsteriskDouble
from ari_app.ari.errors import AriError
from ari_app.ari.spec import AriSpec
from ari_app.knowledge import kb_from_articles
from ari_app.runtime import Runtime, build_runtime
from ari_app.settings import SHARED_DEV_DATA, Settings
from ari_app.stasis_app import StasisApp
from ari_app.voice_session import InferencePool, SpeechServices
from kayako_client import KayakoClient, OutboxOptions
from kayako_client.simulator import SimulatorHandle, start_simulator
from kayako_client.transport import ClientOptions
from media.audio_cache import AudioCache
from media.stt import SttError, Transcript
from media.tts import split_sentences

ARTICLES = str(SHARED_DEV_DATA / "kb_articles.json")
QUESTION = "Hi, I forgot my password and I can't log in to my account."
HUMAN = "I want to talk to a human please"
NAME = "My name is Dana Whitfield"
EMAIL = "sure, my email is dana at example dot com"
HELPED = "yes that worked"
NOTHING = "no thanks"
YES = "yes"
PHRASES = [QUESTION, HUMAN, NAME, EMAIL, HELPED, NOTHING]
CRASH = "please hold on a moment while I check my billing settings and the invoice page"  # the text ScriptedStt refuses to decode (engine failure)


def voiced_ms(pcm: bytes) -> float:
    x = np.frombuffer(pcm[: len(pcm) // 640 * 640], dtype="<i2").astype(np.float32).reshape(-1, 320)
    return float((np.sqrt((x**2).mean(axis=1)) > 300).sum() * 20)


class ScriptedStt:
    """Knows the test utterances; returns the one whose voiced length is nearest."""

    name = "scripted"

    def __init__(self, table: dict[str, bytes], fail_on: str = "") -> None:
        self.table = [(voiced_ms(pcm), text) for text, pcm in table.items()]
        self.fail_on = fail_on
        self.heard: list[str] = []

    def transcribe(self, pcm: bytes) -> Transcript:
        ms = voiced_ms(pcm)
        if ms < 60:
            return Transcript("", 0.0, len(pcm) / 32000, 0.0)
        text = min(self.table, key=lambda item: abs(item[0] - ms))[1]
        if text == self.fail_on:
            raise SttError("decoder crashed (test)")
        self.heard.append(text)
        return Transcript(text, 0.95, len(pcm) / 32000, 1.0)

    def stream(self) -> Any:
        stt = self

        class Stream:
            def __init__(self) -> None:
                self.buf = bytearray()

            def accept(self, pcm: bytes) -> str | None:
                self.buf += pcm
                return None

            def finish(self) -> Transcript:
                return stt.transcribe(bytes(self.buf))

        return Stream()


class ToneTts:
    name = "tone"
    voice = "tone"
    rate = 1.0

    def synthesize(self, text: str) -> bytes:
        t = np.arange(1600) / 16000
        return (np.sin(2 * np.pi * 440 * t) * 6000).astype("<i2").tobytes()

    def sentences(self, text: str) -> list[str]:
        return split_sentences(text)


@pytest.fixture(scope="module")
def caller_audio() -> dict[str, bytes]:
    from ari_app.caller_voice import CallerVoice, make_caller_engine

    voice = CallerVoice(make_caller_engine("espeak-ng"))
    audio = {text: voice.speak(text).pcm for text in [*PHRASES, YES, CRASH]}
    lengths = sorted(voiced_ms(p) for p in audio.values())
    assert all(b - a >= 100 for a, b in zip(lengths, lengths[1:], strict=False)), lengths
    return audio


@pytest.fixture(scope="module")
def kb() -> Any:
    settings = Settings()
    settings = dataclasses.replace(settings, nlu=dataclasses.replace(settings.nlu, use_embeddings=False))
    return kb_from_articles(settings, ARTICLES)


@pytest.fixture(scope="module")
def spec() -> AriSpec:
    return AriSpec()


@dataclasses.dataclass
class Rig:
    double: AsteriskDouble
    sim: SimulatorHandle
    runtime: Runtime
    app: StasisApp
    stt: ScriptedStt
    audio: dict[str, bytes] = dataclasses.field(repr=False)
    kayako: KayakoClient = dataclasses.field(repr=False)

    async def cases(self) -> list[Any]:
        return await self.kayako.list_cases()

    async def one_case(self, timeout: float = 6.0) -> Any:
        deadline = time.monotonic() + timeout
        cases: list[Any] = []
        while time.monotonic() < deadline:
            cases = await self.cases()
            if cases:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a duplicate would show up now
        cases = await self.cases()
        assert len(cases) == 1, f"expected exactly one case in Kayako, got {len(cases)}"
        return cases[0]

    async def wait_ended(self, n: int = 1, timeout: float = 8.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.app.ended) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert len(self.app.ended) >= n, f"{len(self.app.ended)} call(s) ended, expected {n}"

    def script(self, *texts: str, hangup: bool = False) -> Callable[[Any], Awaitable[None]]:
        async def run(call: Any) -> None:
            since = 0.0
            for text in texts:
                await agent_turn(call, since)
                await call.say(self.audio[text])
                since = time.monotonic()
            if hangup:
                await agent_turn(call, since)
                await call.hangup()

        return run


async def agent_turn(call: Any, since: float, quiet_s: float = 0.25, timeout: float = 10.0) -> None:
    """Wait until the agent has spoken after `since` (time.monotonic) and then gone quiet."""
    deadline = time.monotonic() + timeout
    while not any(p.arrival_s > since and voiced_ms(p.pcm16k) > 0 for p in call.received_packets[-200:]):
        assert time.monotonic() < deadline, "the agent did not answer"
        await asyncio.sleep(0.02)
    await call.wait_agent_quiet(quiet_s, timeout=timeout)


def make_settings(double: AsteriskDouble, sim: SimulatorHandle, tmp: Path, **ari: Any) -> Settings:
    s = Settings()
    low = random.randrange(30000, 60000, 100)
    return dataclasses.replace(
        s,
        company=dataclasses.replace(s.company, agent_extension="100"),
        ari=dataclasses.replace(
            s.ari,
            url=double.base_url,
            username=double.username,
            password=double.password,
            agent_endpoint="PJSIP/agent100",
            transfer_timeout_s=1.5,
            **ari,
        ),
        kayako=dataclasses.replace(s.kayako, url=sim.url, caller_lookup_timeout_s=0.5),
        # whole scripted phrases must stay one turn each (ScriptedStt maps a turn to its phrase)
        media=dataclasses.replace(
            s.media, rtp_port_min=low, rtp_port_max=low + 99, end_of_turn_ms=600, min_end_of_turn_ms=300
        ),
        storage=dataclasses.replace(s.storage, database=str(tmp / "kv.db"), kb_index=str(tmp / "none.db")),
    )


@pytest.fixture
async def rig_factory(
    spec: AriSpec, kb: Any, caller_audio: dict[str, bytes], tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    made: list[Rig] = []

    async def make(fail_on: str = "", metrics: Any = None, **ari: Any) -> Rig:
        double = AsteriskDouble(spec=spec, restart_down_s=0.2)
        await double.start()
        sim = await start_simulator(ARTICLES)
        settings = make_settings(double, sim, tmp_path, **ari)
        stt = ScriptedStt(caller_audio, fail_on=fail_on)
        tts = ToneTts()
        services = SpeechServices(
            stt=stt,  # type: ignore[arg-type]
            tts=tts,  # type: ignore[arg-type]
            cache=AudioCache(str(tmp_path / "tts"), tts),  # type: ignore[arg-type]
            pool=InferencePool(2),
        )
        runtime = build_runtime(
            settings,
            services=services,
            kb=kb,
            outbox=OutboxOptions(poll_interval_s=0.05, backoff_base_s=0.1, backoff_max_s=0.5),
        )
        runtime.start_workers()
        app = StasisApp(runtime, busy_sound_s=0.05, metrics=metrics)
        await app.start()
        kayako = KayakoClient(ClientOptions(sim.url, sim.agent_email, sim.agent_password))
        rig = Rig(double, sim, runtime, app, stt, caller_audio, kayako)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        await rig.app.shutdown(grace_s=0.5)
        await rig.runtime.close()
        await rig.kayako.aclose()
        await rig.double.stop()
        await rig.sim.stop()
        assert rig.double.errors == []


async def test_resolved_call(rig_factory: Callable[..., Awaitable[Rig]]) -> None:
    rig = await rig_factory()
    call = await rig.double.place_call(
        "+12065550101", audio=rig.script(QUESTION, HELPED, NOTHING, EMAIL, YES)
    )
    await rig.wait_ended(timeout=15.0)
    case = await rig.one_case()
    assert case.status == "Completed"
    assert "phone" in case.tags
    posts = await rig.kayako.get_case_posts(case.id)
    body = posts[0].contents
    assert "Reset your password" in body and "confirmed by the caller" in body
    assert "I forgot my password and I can" in body and "dana@example.com" in body
    assert call.gone and call.answered
    session = rig.app.ended[0]
    assert session.end_reason.startswith("caller-")
    assert rig.double.bridges == {}, "bridge left behind"
    assert not any(c.kind == "external_media" for c in rig.double.channels.values())
    timings = [t for t in rig.runtime.store.turns(session.call_id) if t["latency_ms"] is not None]
    assert len(timings) >= 4
    assert rig.double.violations == []


async def test_transfer_answered_bridges_agent_with_case_id(
    rig_factory: Callable[..., Awaitable[Rig]],
) -> None:
    rig = await rig_factory()
    call = await rig.double.place_call("+13125550102", audio=rig.script(HUMAN, NAME, EMAIL, YES))
    leg = await rig.double.next_agent_leg(timeout=15.0)
    case = await rig.one_case()
    assert leg.sip_headers.get("X-Kayako-Case-Id") == str(case.id)
    assert call.variables.get("KAYAKO_CASE_ID") == str(case.id)
    await leg.answer()
    deadline = time.monotonic() + 3
    while not (leg.channel.bridge_id and leg.channel.bridge_id == call.channel.bridge_id):
        assert time.monotonic() < deadline, "agent leg never joined the caller's bridge"
        await asyncio.sleep(0.02)
    assert not any(c.kind == "external_media" for c in rig.double.channels.values())
    assert not call.redirected_to
    await call.hangup()
    await rig.wait_ended()
    await leg.wait_gone()
    assert case.status == "Open"
    assert (await rig.one_case()).id == case.id
    assert rig.double.violations == []


async def test_transfer_not_answered_ends_call_with_case(rig_factory: Callable[..., Awaitable[Rig]]) -> None:
    rig = await rig_factory()
    call = await rig.double.place_call("+13125550103", audio=rig.script(HUMAN, NAME, EMAIL, YES))
    leg = await rig.double.next_agent_leg(timeout=15.0)
    await leg.busy()
    await call.wait_gone(timeout=10.0)  # the caller hears the case is logged, then the call ends
    await rig.wait_ended()
    case = await rig.one_case()
    assert case.status == "Open"
    assert rig.double.violations == []


async def test_caller_hangs_up_mid_answer(rig_factory: Callable[..., Awaitable[Rig]]) -> None:
    rig = await rig_factory()

    async def script(call: Any) -> None:
        await call.wait_agent_quiet(0.25, timeout=10.0)
        await call.say(rig.audio[QUESTION])
        since = time.monotonic()
        while not any(p.arrival_s > since and voiced_ms(p.pcm16k) for p in call.received_packets[-50:]):
            await asyncio.sleep(0.01)  # the answer has started
        await call.hangup()

    await rig.double.place_call("+16175550103", audio=script)
    await rig.wait_ended()
    case = await rig.one_case()
    posts = await rig.kayako.get_case_posts(case.id)
    assert "I forgot my password" in posts[0].contents
    assert rig.double.violations == []


async def test_dtmf_zero_escalates(rig_factory: Callable[..., Awaitable[Rig]]) -> None:
    rig = await rig_factory()

    async def script(call: Any) -> None:
        await call.wait_agent_quiet(0.25, timeout=10.0)
        await call.press("0")
        await call.wait_agent_quiet(0.25, timeout=10.0)
        await call.hangup()

    await rig.double.place_call("+16175550104", audio=script)
    await rig.wait_ended()
    case = await rig.one_case()
    posts = await rig.kayako.get_case_posts(case.id)
    assert "[pressed 0]" in posts[0].contents
    assert case.status == "Open"
    assert rig.double.violations == []


async def test_admission_refused_above_max_calls(rig_factory: Callable[..., Awaitable[Rig]]) -> None:
    rig = await rig_factory(max_calls=1, overflow_action="overflow")
    first = await rig.double.place_call("+12065550105", audio=rig.script(QUESTION, hangup=True))
    await asyncio.sleep(0.1)
    second = await rig.double.place_call("+12065550106")
    await second.wait_gone(timeout=3.0) if second.gone else None
    deadline = time.monotonic() + 3
    while second.continued_to is None:
        assert time.monotonic() < deadline, "refused call was not sent to the overflow"
        await asyncio.sleep(0.02)
    assert second.continued_to.context == "kayako-overflow"
    assert any(m.startswith("sound:") for m in second.played)
    assert rig.app.refused == [second.id]
    await rig.wait_ended(timeout=12.0)
    assert first.gone
    await rig.one_case()
    assert rig.double.violations == []


async def test_websocket_drop_mid_call(rig_factory: Callable[..., Awaitable[Rig]]) -> None:
    rig = await rig_factory()

    async def script(call: Any) -> None:
        await call.wait_agent_quiet(0.25, timeout=10.0)
        await rig.double.drop_websocket()
        await call.say(rig.audio[QUESTION])
        await call.wait_agent_quiet(0.25, timeout=10.0)
        assert await rig.runtime.ari.wait_connected(3.0)
        await call.hangup()

    await rig.double.place_call("+12065550107", audio=script)
    await rig.wait_ended(timeout=12.0)
    assert rig.runtime.ari.connections >= 2
    assert rig.app.ended[0].end_reason.startswith("caller-")
    await rig.one_case()
    assert rig.double.violations == []


async def test_asterisk_restart_closes_stale_sessions(rig_factory: Callable[..., Awaitable[Rig]]) -> None:
    rig = await rig_factory()
    await rig.double.place_call("+12065550108")
    deadline = time.monotonic() + 5
    while not (rig.app.sessions and next(iter(rig.app.sessions.values())).voice):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)
    await rig.double.restart()
    await rig.wait_ended(timeout=8.0)
    assert rig.app.ended[0].end_reason == "channel-gone-after-reconnect"
    assert rig.app.sessions == {}
    await rig.one_case()
    assert rig.double.violations == []


async def test_speech_engine_failure_apologises_and_files(rig_factory: Callable[..., Awaitable[Rig]]) -> None:
    rig = await rig_factory(fail_on=CRASH)

    async def script(call: Any) -> None:
        await call.wait_agent_quiet(0.25, timeout=10.0)
        greeting = len(call.received_packets)
        await call.say(rig.audio[CRASH])
        await call.wait_agent_quiet(0.25, timeout=10.0)
        assert len(call.received_packets) > greeting + 3  # an apology was spoken
        await call.hangup()

    await rig.double.place_call("+12065550109", audio=script)
    await rig.wait_ended(timeout=12.0)
    case = await rig.one_case()
    assert case.status == "Open"
    assert rig.double.violations == []


async def test_spec_validation_catches_a_wrong_request(rig_factory: Callable[..., Awaitable[Rig]]) -> None:
    """The safety net under every other test: a request outside the ARI spec is refused and recorded."""
    rig = await rig_factory()
    with pytest.raises(AriError):
        await rig.runtime.ari.request("POST", "/bridges", params={"type": "mixing", "colour": "blue"})
    assert rig.double.violations, "a request outside the spec went unnoticed"
    rig.double.violations.clear()


async def test_serve_web_surface_counts_the_call(rig_factory: Callable[..., Awaitable[Rig]]) -> None:
    """/health, /ready, /metrics and the dashboard are mounted; a finished call shows in metrics."""
    from aiohttp.test_utils import TestClient, TestServer

    from ari_app.metrics import CallMetrics
    from ari_app.web import build_web

    metrics = CallMetrics()
    rig = await rig_factory(metrics=metrics)
    await rig.double.place_call("+12065550101", audio=rig.script(QUESTION, HELPED, NOTHING, EMAIL, YES))
    await rig.wait_ended(timeout=15.0)
    await rig.one_case()
    client = TestClient(TestServer(build_web(rig.app, metrics)))
    await client.start_server()
    try:
        health = await (await client.get("/health")).json()
        assert health["calls_ended"] == 1 and health["ari_connected"] is True
        assert (await client.get("/ready")).status == 200
        text = await (await client.get("/metrics")).text()
        (ended,) = rig.app.ended
        assert ended.voice is not None and ended.voice.case is not None
        assert f'kayako_voice_calls_total{{outcome="{ended.voice.case.outcome}"}} 1.0' in text
        assert "kayako_voice_turn_latency_seconds_count" in text
        assert (await client.get("/dashboard")).status == 200
        assert (await client.get("/api/report")).status == 401  # no token configured: refused
    finally:
        await client.close()
