"""The voice evaluation's parts that need no speech models: the synthetic caller's audio
(flite, telephone band, pauses, "[inaudible]"), the scripted RTP peer's pacing over real UDP,
and the per-call scoring. The full loop with models is in tests/test_voice_session.py."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from ari_app.caller_voice import CallerVoice, CallerVoiceError, reference_text, trim_silence
from ari_app.voice_eval import ScriptedCaller, VoiceCallRun, _row
from media.codecs import codec_for
from media.rtp import parse_rtp
from nlu.case import CaseDraft


@pytest.fixture(scope="module")
def voice() -> CallerVoice:
    return CallerVoice(seed=3)


def test_reference_drops_inaudible() -> None:
    assert reference_text("my email is [inaudible] at example dot com") == "my email is at example dot com"


def test_caller_audio_is_telephone_band_with_pauses(voice: CallerVoice) -> None:
    u = voice.speak("Hi there, I forgot my password. Can you help?")
    samples = np.frombuffer(u.pcm, dtype="<i2").astype(np.float64)
    assert samples.size > 16000  # more than a second of speech
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / 16000)
    assert spectrum[freqs > 4100].sum() < 0.01 * spectrum.sum()  # nothing above the 8 kHz line's band
    # at least one pause of 100+ ms between phrases
    frames = samples[: samples.size // 320 * 320].reshape(-1, 320)
    quiet = np.sqrt((frames**2).mean(axis=1)) < 30
    runs, run = [], 0
    for q in quiet:
        run = run + 1 if q else 0
        runs.append(run)
    assert max(runs) >= 5


def test_inaudible_is_noise_not_words(voice: CallerVoice) -> None:
    plain = voice.speak("my name is dana")
    garbled = voice.speak("my name is [inaudible] dana")
    assert garbled.reference == "my name is dana"
    assert len(garbled.pcm) > len(plain.pcm) + 0.3 * 32000


def test_nothing_to_say_is_a_clear_error(voice: CallerVoice) -> None:
    with pytest.raises(CallerVoiceError):
        voice.speak("   ... ")


def test_trim_silence() -> None:
    tone = (np.sin(np.arange(1600) / 3) * 8000).astype("<i2").tobytes()
    padded = bytes(3200) + tone + bytes(3200)
    trimmed = trim_silence(padded)
    assert len(tone) <= len(trimmed) < len(padded) - 4000
    assert trim_silence(bytes(640)) == b""


async def test_scripted_caller_sends_paced_rtp() -> None:
    received: list[tuple[float, bytes]] = []

    class Sink(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            received.append((time.monotonic(), data))

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Sink, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    peer = ScriptedCaller(codec_for("ulaw"), ("127.0.0.1", port))
    await peer.start()
    try:
        tone = (np.sin(np.arange(8000) / 4) * 10000).astype("<i2").tobytes()  # 0.5 s
        end = await peer.say(tone, 0)
        await asyncio.sleep(0.1)
    finally:
        await peer.close()
        transport.close()
    packets = [parse_rtp(d) for _, d in received]
    assert len(packets) >= 25
    seqs = [p.sequence for p in packets]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    assert all(p.payload_type == 0 and len(p.payload) == 160 for p in packets)
    span = received[-1][0] - received[0][0]
    assert span == pytest.approx((len(packets) - 1) * 0.02, abs=0.1)
    assert peer.marks and peer.marks[0].speech_end == end


def test_row_scores_like_text_mode() -> None:
    case = CaseDraft(
        call_id="c1",
        subject="s",
        summary="s",
        outcome="resolved",
        priority="normal",
        tags=(),
        transcript=(),
        topics=(),
        caller_phone="+15555550100",
        caller_name="Dana Whitfield",
        caller_email="",
        email_confirmed=False,
        email_uncertain=False,
        phone_confirmed=False,
        duration_s=30.0,
        resolution_notes="n",
    )
    run = VoiceCallRun(call_id="c1", cases=[case], article_id=1004, latencies_ms=[500.0])
    call = {"expect": {"outcome": "resolved", "article": 1004, "email": None, "name": "Dana Whitfield"}}
    row = _row(call, run)
    assert row["outcome_ok"] and row["article_ok"] and row["email_ok"] and row["name_ok"]
    run.cases.append(case)  # two cases for one call is a failure, never a success
    assert not _row(call, run)["outcome_ok"]
