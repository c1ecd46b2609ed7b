"""TurnDetector timelines with exact timings (scripted VAD probabilities, real frame levels)."""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest

from media.turns import (
    BargeInDetected,
    SpeechStarted,
    TurnDetector,
    TurnEnded,
    TurnSettings,
    frame_dbfs,
)

FRAME = 640


class ScriptedVad:
    """Returns the next scripted probability for each frame (a fake of the VAD, not of the detector)."""

    def __init__(self) -> None:
        self.probs: list[float] = []

    def speech_prob(self, frame: bytes) -> float:
        return self.probs.pop(0)


def tone(dbfs: float, index: int = 0) -> bytes:
    """A 20 ms 300 Hz tone at an RMS level; `index` nudges one sample so frames are distinguishable."""
    amp = 32768 * 10 ** (dbfs / 20) * math.sqrt(2)
    t = np.arange(320) / 16000
    x = np.round(amp * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    x[0] = index % 30000
    return x.astype("<i2").tobytes()


SILENCE = bytes(FRAME)


class Timeline:
    """Feeds segments of frames at 20 ms steps from t=0 and records (event, frame time)."""

    def __init__(self, settings: TurnSettings | None = None) -> None:
        self.vad = ScriptedVad()
        self.det = TurnDetector(settings or TurnSettings(), self.vad)
        self.t = 0.0
        self.k = 0
        self.events: list[object] = []
        self.frames: dict[int, bytes] = {}
        self.max_buffer = 0

    def add(
        self,
        ms: int,
        prob: float,
        dbfs: float | None = -20.0,
        agent: bool = False,
        agent_dbfs: float | None = None,
    ) -> None:
        for _ in range(ms // 20):
            frame = SILENCE if dbfs is None else tone(dbfs, self.k + 1)
            self.frames[self.k] = frame
            if agent_dbfs is not None:
                self.det.agent_output(tone(agent_dbfs))
            self.vad.probs.append(prob)
            self.events += self.det.feed(frame, round(self.k * 0.02, 6), agent)
            self.max_buffer = max(self.max_buffer, len(self.det.speech_so_far()))
            self.k += 1

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def test_frame_level_helper() -> None:
    assert frame_dbfs(SILENCE) == -120.0
    assert abs(frame_dbfs(tone(-20)) + 20) < 0.2


def test_short_clear_answer_with_preroll_and_shortest_end() -> None:
    tl = Timeline()
    tl.add(1000, 0.0, None)  # frames 0..49 silent
    tl.add(400, 0.9)  # frames 50..69 speech ("yes")
    tl.add(1000, 0.0, None)
    assert tl.of(SpeechStarted) == [SpeechStarted(at=1.0)]
    ended = tl.of(TurnEnded)
    assert len(ended) == 1
    end = ended[0]
    assert end.reason == "silence"
    assert end.last_voiced_at == pytest.approx(1.38)
    assert end.at == pytest.approx(1.38 + 0.30)  # short and clear: min_end_of_turn_ms
    # 300 ms pre-roll + 400 ms speech + 200 ms tail
    assert len(end.audio) == (15 + 20 + 10) * FRAME
    assert end.audio[: 15 * FRAME] == SILENCE * 15
    assert end.audio[15 * FRAME : 16 * FRAME] == tl.frames[50]
    assert end.audio[34 * FRAME : 35 * FRAME] == tl.frames[69]
    assert tl.det.speech_so_far() == b""


def test_speech_so_far_during_the_turn() -> None:
    tl = Timeline()
    tl.add(500, 0.0, None)
    tl.add(200, 0.9)
    so_far = tl.det.speech_so_far()
    assert len(so_far) == (15 + 10) * FRAME
    assert so_far[-FRAME:] == tl.frames[tl.k - 1]


@pytest.mark.parametrize(
    ("speech_ms", "prob", "end_ms"),
    [
        (3200, 0.9, 600),  # long: full end_of_turn_ms
        (1900, 0.9, 450),  # 300 + (1900 - 800) / 2200 * 300 -> frame at 460 ms
        (600, 0.6, 600),  # short but unclear: full wait
    ],
)
def test_adaptive_end_of_turn(speech_ms: int, prob: float, end_ms: int) -> None:
    tl = Timeline()
    tl.add(400, 0.0, None)
    tl.add(speech_ms, prob)
    tl.add(1000, 0.0, None)
    (end,) = tl.of(TurnEnded)
    last = 0.4 + speech_ms / 1000 - 0.02
    assert end.last_voiced_at == pytest.approx(last)
    # the turn ends on the first frame at or after the required silence
    assert end.at == pytest.approx(last + math.ceil(end_ms / 20) * 0.02)


def test_pause_shorter_than_end_silence_keeps_one_turn() -> None:
    tl = Timeline()
    tl.add(300, 0.0, None)
    tl.add(1000, 0.9)
    tl.add(200, 0.1, None)  # breath
    tl.add(1000, 0.9)
    tl.add(1000, 0.0, None)
    assert len(tl.of(SpeechStarted)) == 1
    assert len(tl.of(TurnEnded)) == 1


def test_single_noise_frame_does_not_open_a_turn() -> None:
    tl = Timeline()
    tl.add(400, 0.0, None)
    tl.add(40, 0.95)  # shorter than start_ms (60 ms)
    tl.add(1000, 0.0, None)
    assert tl.events == []


def test_endless_talking_is_cut_at_max_length_with_bounded_memory() -> None:
    tl = Timeline(TurnSettings(max_turn_s=5.0))
    tl.add(400, 0.0, None)
    tl.add(12_000, 0.9)
    ended = tl.of(TurnEnded)
    assert [e.reason for e in ended] == ["max_length", "max_length"]
    assert all(len(e.audio) == 5 * 16000 * 2 for e in ended)
    # first turn: audio from 0.1 s (pre-roll) to 5.1 s
    assert ended[0].at == pytest.approx(5.08)
    assert tl.max_buffer <= 5 * 16000 * 2
    # the caller still talks: a new turn opens right after each cut
    assert len(tl.of(SpeechStarted)) == 3


def test_endless_silence_keeps_only_the_preroll_ring() -> None:
    tl = Timeline()
    tl.add(60_000, 0.0, None)
    assert tl.events == []
    assert tl.max_buffer == 0
    assert len(tl.det._ring) <= tl.det._ring.maxlen < 40


def test_barge_in_after_200_ms_of_sustained_speech_while_agent_speaks() -> None:
    tl = Timeline()
    tl.add(1000, 0.0, None, agent=True, agent_dbfs=-20)
    tl.add(600, 0.9, -22, agent=True, agent_dbfs=-20)  # frames 50.. caller talks over
    barge = tl.of(BargeInDetected)
    assert barge == [BargeInDetected(at=pytest.approx(1.18))]  # 10th frame = 200 ms
    assert tl.events.index(barge[0]) < tl.events.index(tl.of(SpeechStarted)[0])
    assert tl.of(SpeechStarted) == [SpeechStarted(at=1.0)]
    # the agent stops; the caller's turn continues and ends normally, pre-roll included
    tl.add(400, 0.9, -22)
    tl.add(1000, 0.0, None)
    (end,) = tl.of(TurnEnded)
    assert end.audio[15 * FRAME : 16 * FRAME] == tl.frames[50]


def test_short_dropout_inside_barge_in_is_tolerated() -> None:
    tl = Timeline()
    tl.add(400, 0.0, None, agent=True, agent_dbfs=-20)
    tl.add(120, 0.9, -20, agent=True, agent_dbfs=-20)  # 6 frames
    tl.add(20, 0.1, -20, agent=True, agent_dbfs=-20)  # one-frame dip
    tl.add(200, 0.9, -20, agent=True, agent_dbfs=-20)
    (barge,) = tl.of(BargeInDetected)
    assert barge.at == pytest.approx(0.4 + 0.14 + 3 * 0.02)  # 10th qualifying frame


def test_no_barge_in_on_clicks_while_agent_speaks() -> None:
    tl = Timeline()
    tl.add(400, 0.0, None, agent=True, agent_dbfs=-20)
    for _ in range(10):
        tl.add(100, 0.95, -10, agent=True, agent_dbfs=-20)  # loud 100 ms click
        tl.add(100, 0.0, None, agent=True, agent_dbfs=-20)
    assert tl.events == []


def test_no_barge_in_on_the_agents_own_echo() -> None:
    tl = Timeline()
    # echo: speech-like (VAD says speech) but 20 dB under the agent's level
    tl.add(3000, 0.95, -40, agent=True, agent_dbfs=-20)
    assert tl.events == []
    # the same caller level does count once the agent has been quiet for the echo tail
    tl.add(1000, 0.0, None)
    tl.add(400, 0.95, -40)
    assert len(tl.of(SpeechStarted)) == 1


def test_barge_in_fires_once_per_agent_utterance() -> None:
    tl = Timeline()
    tl.add(200, 0.0, None, agent=True, agent_dbfs=-20)
    tl.add(2000, 0.9, -15, agent=True, agent_dbfs=-20)
    assert len(tl.of(BargeInDetected)) == 1


def test_no_turn_opens_on_speech_during_agent_speech_without_barge_in() -> None:
    tl = Timeline()
    tl.add(200, 0.0, None, agent=True, agent_dbfs=-20)
    tl.add(140, 0.9, -15, agent=True, agent_dbfs=-20)  # under barge_in_ms
    tl.add(600, 0.0, None, agent=True, agent_dbfs=-20)
    assert tl.events == []


def test_bad_frame_and_settings_get_clear_errors() -> None:
    det = TurnDetector(TurnSettings(), ScriptedVad())
    with pytest.raises(ValueError, match="640 bytes"):
        det.feed(b"\x00" * 100, 0.0, False)
    with pytest.raises(ValueError, match="min_end_of_turn_ms"):
        TurnSettings(min_end_of_turn_ms=700, end_of_turn_ms=600)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng (Debian package) not installed")
def test_real_speech_through_silero_makes_one_turn() -> None:
    from media.tts_cli import EspeakNgTts
    from media.vad import SileroVad

    speech = EspeakNgTts().synthesize("Hello, I need help with my invoice please.")
    pcm = bytes(16000) + speech + bytes(32000)  # 0.5 s silence, speech, 1 s silence
    pcm = pcm[: len(pcm) // FRAME * FRAME]
    det = TurnDetector(TurnSettings(), SileroVad())
    events = []
    for k in range(len(pcm) // FRAME):
        events += det.feed(pcm[k * FRAME : (k + 1) * FRAME], k * 0.02, False)
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    ends = [e for e in events if isinstance(e, TurnEnded)]
    assert len(starts) >= 1 and len(ends) == len(starts)
    assert 0.4 <= starts[0].at <= 0.8
    speech_s = len(speech) / 32000
    assert ends[-1].last_voiced_at == pytest.approx(0.5 + speech_s, abs=0.3)
    assert subprocess  # espeak-ng ran through EspeakNgTts


def test_no_frame_is_lost_between_a_short_turn_and_speech_right_after_it() -> None:
    tl = Timeline()
    tl.add(400, 0.0, None)
    tl.add(300, 0.9)  # "No," (frames 20..34): short and clear, so it ends after 300 ms
    tl.add(320, 0.0, -40.0)  # the pause: quiet, not silent (frames 35..50)
    tl.add(1000, 0.9)  # "still blank ..." (frames 51..100)
    tl.add(1000, 0.0, None)
    first, second = tl.of(TurnEnded)
    assert first.at == pytest.approx(0.68 + 0.30)  # ended while the pause still ran
    # the frames between the first turn's 200 ms tail and the second turn's onset are the second
    # turn's pre-roll: the two turns together hold every frame from the first pre-roll on
    start = 20 - 15
    n_first = len(first.audio) // FRAME
    n_second_pre = len(second.audio) // FRAME - (101 - 51) - 10  # minus speech and its tail
    assert first.audio == b"".join(tl.frames[k] for k in range(start, start + n_first))
    assert second.audio.startswith(b"".join(tl.frames[k] for k in range(start + n_first, 51)))
    assert n_second_pre == 51 - (start + n_first)
