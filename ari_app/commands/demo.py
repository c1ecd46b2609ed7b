"""`kayako-voice demo`: the whole product on one machine, no PBX and no Kayako needed.

Starts the Kayako-compatible server seeded with the dev KB, the Asterisk 22 test double (real
ARI REST + WebSocket, real RTP), and the real app against both (Whisper tiny.en, Piper, the
MiniLM KB, the outbox); then places scripted calls whose caller turns are synthesized with a
voice unlike the agent's. Prints every turn with its voice-to-voice latency, then the case as
Kayako holds it, and writes one stereo WAV per call (left: caller, right: agent) under --out.
Facts: models load in ~3 s with a warm prompt cache (var/cache/tts; the demo warms prompts and
short answers only, not every follow-up sentence as `serve` does); a scripted call lasts
about as long as its audio (real-time RTP), 20-40 s for the dev calls.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import logging
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from ari_app.evaluation import SILENCE_TURN, EvalDataError, read_jsonl
from ari_app.knowledge import KnowledgeError, kb_from_articles
from ari_app.runtime import build_runtime
from ari_app.settings import Settings
from ari_app.stasis_app import StasisApp
from ari_app.store import TurnTiming

SAMPLE_RATE = 16000
VOICED_RMS = 500.0
CALL_LIMIT_S = 90.0


def demo_settings(
    base: Settings, ari_url: str, user: str, password: str, kayako_url: str, work: Path
) -> Settings:
    return dataclasses.replace(
        base,
        company=dataclasses.replace(base.company, agent_extension=base.company.agent_extension or "100"),
        ari=dataclasses.replace(
            base.ari,
            url=ari_url,
            username=user,
            password=password,
            agent_endpoint=base.ari.agent_endpoint or "PJSIP/agent100",
            transfer_timeout_s=5.0,
        ),
        kayako=dataclasses.replace(
            base.kayako, url=kayako_url, email="agent@northwind.example", password="northwind"
        ),
        storage=dataclasses.replace(
            base.storage, database=str(work / "demo.db"), kb_index=str(work / "no-index.db")
        ),
        # a first demo should start in seconds: follow-up sentences are synthesized when first
        # said instead of all ~500 ahead (`serve` and the voice evaluation warm them)
        tts=dataclasses.replace(base.tts, warm_followups=False),
    )


def demo_kb(settings: Settings, articles: str) -> Any:
    """The KB index for these articles, built once and kept under var/cache (import is slow)."""
    from ari_app.knowledge import make_embedder
    from nlu.kb_index import KbIndex

    try:
        digest = hashlib.sha1(Path(articles).read_bytes()).hexdigest()[:16]
    except OSError as exc:
        raise KnowledgeError(f"articles file {articles}: {exc.strerror}") from None
    flavour = "vec" if settings.nlu.use_embeddings else "bm25"
    path = Path(settings.stt.cache_dir) / f"demo-kb-{digest}-{flavour}.db"
    if path.exists():
        return KbIndex(str(path), embedder=make_embedder(settings))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    kb_from_articles(settings, articles, str(partial)).close()
    partial.rename(path)
    return KbIndex(str(path), embedder=make_embedder(settings))


class Recorder:
    """The caller's and the agent's audio on one timeline, for the WAV."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.caller: list[tuple[float, bytes]] = []

    def said(self, pcm: bytes) -> None:
        self.caller.append((time.monotonic() - self.t0, pcm))

    def wav(self, path: Path, agent_packets: list[Any]) -> None:
        agent = [(p.arrival_s - self.t0, p.pcm16k) for p in agent_packets]
        end = max([t + len(b) / 32000 for t, b in self.caller + agent] + [0.0])
        n = int(end * SAMPLE_RATE) + 1
        left = np.zeros(n, dtype=np.int16)
        right = np.zeros(n, dtype=np.int16)
        for track, parts in ((left, self.caller), (right, agent)):
            for at, pcm in parts:
                x = np.frombuffer(pcm, dtype="<i2")
                i = max(0, int(at * SAMPLE_RATE))
                track[i : i + x.size] = x[: max(0, n - i)]
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(np.column_stack([left, right]).astype("<i2").tobytes())


def _voiced_since(call: Any, since: float) -> bool:
    for p in call.received_packets[-100:]:
        if p.arrival_s > since and p.pcm16k:
            x = np.frombuffer(p.pcm16k, dtype="<i2").astype(np.float64)
            if float(np.sqrt(np.mean(x * x))) >= VOICED_RMS:
                return True
    return False


async def _agent_turn(call: Any, since: float, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not _voiced_since(call, since):
        if call.gone or time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    try:
        await call.wait_agent_quiet(0.35, timeout=timeout)
    except TimeoutError:
        return False
    return not call.gone


def _print_turn(call_id: str, speaker: str, at: float, text: str, timing: TurnTiming | None) -> None:
    if speaker == "timing" and timing is not None:
        print(
            f"    ... voice-to-voice {timing.latency_ms:.0f} ms (end of turn {timing.end_of_turn_ms:.0f}, "
            f"stt {timing.stt_ms:.0f}, decide {timing.decide_ms:.1f}, tts {timing.tts_ms:.0f})",
            flush=True,
        )
    elif speaker in ("caller", "agent"):
        print(f"  [{at:5.1f}s] {speaker:6s} {text}", flush=True)


async def _demo(args: argparse.Namespace) -> int:
    from ari_app.ari.double import AsteriskDouble
    from ari_app.caller_voice import CallerVoice
    from kayako_client import KayakoClient
    from kayako_client.simulator import start_simulator
    from kayako_client.transport import ClientOptions

    try:
        calls = read_jsonl(args.calls, ("id", "turns"))
    except EvalDataError as exc:
        print(f"kayako-voice demo: {exc}", file=sys.stderr)
        return 2
    if args.only:
        calls = [c for c in calls if c["id"] in set(args.only)]
        missing = set(args.only) - {c["id"] for c in calls}
        if missing:
            print(
                f"kayako-voice demo: no call with id {', '.join(sorted(missing))} in {args.calls}",
                file=sys.stderr,
            )
            return 2
    calls = calls[: max(0, args.count)]
    if not calls:
        print("kayako-voice demo: no calls to place", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    sim = await start_simulator(args.articles)
    double = AsteriskDouble()
    await double.start()
    double.originate_policy = "answer"
    work = Path(tempfile.mkdtemp(prefix="kayako-voice-demo-"))
    settings = demo_settings(args.settings, double.base_url, double.username, double.password, sim.url, work)
    print(f"Kayako-compatible server at {sim.url}, Asterisk double at {double.base_url}", flush=True)
    try:
        kb = demo_kb(settings, args.articles)
    except KnowledgeError as exc:
        print(f"kayako-voice demo: {exc}", file=sys.stderr)
        return 2
    runtime = build_runtime(settings, kb=kb)
    print(f"models loaded in {time.monotonic() - started:.1f}s", flush=True)
    runtime.start_workers()
    app = StasisApp(runtime, on_turn=_print_turn)
    await app.start()
    voice = CallerVoice()
    kayako = KayakoClient(ClientOptions(sim.url, sim.agent_email, sim.agent_password))
    latencies: list[float] = []
    failures = 0
    try:
        for spec in calls:
            turns = [t for t in spec["turns"] if isinstance(t, str)]
            speech = {t: voice.speak(t).pcm for t in turns if t != SILENCE_TURN}
            recorder = Recorder()

            async def script(
                call: Any,
                turns: list[str] = turns,
                speech: dict[str, bytes] = speech,
                recorder: Recorder = recorder,
            ) -> None:
                since = 0.0
                for text in turns:
                    if not await _agent_turn(call, since):
                        return
                    if text == SILENCE_TURN:
                        await asyncio.sleep(1.0)
                        since = time.monotonic()
                        continue
                    recorder.said(speech[text])
                    await call.say(speech[text])
                    since = time.monotonic()
                if await _agent_turn(call, since) and not call.gone:
                    await call.hangup()

            print(f"\n=== call {spec['id']} from {spec.get('caller_number', '')} ===", flush=True)
            ended_before = len(app.ended)
            call = await double.place_call(spec.get("caller_number", ""), audio=script)
            deadline = time.monotonic() + CALL_LIMIT_S
            while len(app.ended) == ended_before and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if len(app.ended) == ended_before:
                print("  call did not end in time; hanging up", flush=True)
                await call.hangup()
                await asyncio.sleep(0.5)
            session = app.ended[-1] if len(app.ended) > ended_before else None
            wav = out / f"{spec['id']}.wav"
            recorder.wav(wav, call.received_packets)
            print(f"  conversation audio: {wav}", flush=True)
            if session is None:
                failures += 1
                continue
            latencies += [
                t["latency_ms"] for t in runtime.store.turns(session.call_id) if t["latency_ms"] is not None
            ]
            case_id = None
            if runtime.outbox is not None and session.case_filed:
                case_id = await runtime.outbox.deliver_now(session.call_id, 10.0)
            if case_id is None:
                print("  no case reached Kayako", flush=True)
                failures += 1
                continue
            case = await kayako.get_case(case_id)
            posts = await kayako.get_case_posts(case_id)
            print(f"  Kayako case #{case.id}: {case.subject!r}", flush=True)
            print(
                f"    status {case.status}, priority {case.priority}, type {case.type}, tags {', '.join(case.tags)}"
            )
            if posts:
                print("    " + posts[0].contents.replace("\n", "\n    ")[:3000], flush=True)
    finally:
        await app.shutdown(grace_s=1.0)
        await runtime.close()
        await kayako.aclose()
        await double.stop()
        await sim.stop()
    if latencies:
        lat = np.array(latencies)
        print(
            f"\nvoice-to-voice latency over {lat.size} turns: p50 {np.percentile(lat, 50):.0f} ms, "
            f"p95 {np.percentile(lat, 95):.0f} ms"
        )
    print(
        f"demo finished in {time.monotonic() - started:.1f}s; violations of the ARI spec: {len(double.violations)}"
    )
    return 1 if failures or double.violations else 0


def run(args: argparse.Namespace) -> int:
    logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    return asyncio.run(_demo(args))
