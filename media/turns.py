"""Turn-taking: when the caller starts and stops talking, and when they talk over the agent.

Owns `TurnDetector`, a pure state machine fed one 20 ms frame at a time with the frame's time
(the caller passes the clock; no I/O, no sleeping). It emits `SpeechStarted`, `BargeInDetected`
and `TurnEnded` events.

Numbers it relies on (DESIGN.md, "Speed"):
- 300 ms of pre-roll is kept before the first voiced frame so the first word is not clipped
  (the VAD needs a few frames to become confident; word onsets are quiet). The frames a turn
  leaves out after its tail can be the next turn's pre-roll, so a caller who goes on right
  after a turn ended ("No, ... still blank") loses no audio between the two turns.
- End of turn after an adaptive silence: `min_end_of_turn_ms` (300 ms) after a short, clear
  utterance ("yes", "no", a number), growing linearly with the voiced length up to
  `end_of_turn_ms` (600 ms) for utterances of `long_turn_ms` and more, where callers pause
  mid-sentence. An unclear short utterance (mean speech probability under `clear_prob`) gets
  the full wait.
- Barge-in only after `barge_in_ms` (200 ms) of sustained speech while the agent speaks, with
  at most `barge_gap_ms` of dropout: a 100 ms click never qualifies.
- Echo: without an echo canceller the agent's own voice comes back from the far end. It *is*
  speech to a VAD, so level is what separates it: network hybrids return it at least 6 dB
  down and typically 11-20 dB (ITU-T G.168), handsets far lower. While the agent speaks (and
  for `echo_tail_ms` after its last frame) a caller frame only counts when it is louder than
  the agent's recent peak level (see `agent_output`) minus `echo_return_loss_db`.
- Memory is bounded: a turn holds at most `max_turn_s` of audio (then `TurnEnded` with reason
  "max_length"); between turns only the pre-roll ring is kept.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from media.vad import FRAME_BYTES, Vad, check_frame

_EPS = 1e-6


@dataclass(frozen=True)
class SpeechStarted:
    at: float  # time of the first voiced frame of the turn (emitted once the turn is confirmed)


@dataclass(frozen=True)
class BargeInDetected:
    at: float  # time of the frame that completed barge_in_ms of sustained caller speech


@dataclass(frozen=True)
class TurnEnded:
    at: float
    audio: bytes  # pre-roll + speech + at most tail_ms of trailing silence, 16 kHz int16
    last_voiced_at: float
    reason: str  # "silence" | "max_length"


TurnEvent = SpeechStarted | BargeInDetected | TurnEnded


@dataclass(frozen=True)
class TurnSettings:
    preroll_ms: int = 300
    end_of_turn_ms: int = 600
    min_end_of_turn_ms: int = 300
    max_turn_s: float = 30.0
    barge_in_ms: int = 200
    speech_threshold: float = 0.5
    # inside a turn a frame keeps the turn alive down to this probability (hysteresis)
    continue_threshold: float = 0.35
    # consecutive speech that opens a turn while the agent is silent
    start_ms: int = 60
    # voiced length at or under which a clear utterance gets min_end_of_turn_ms
    short_turn_ms: int = 800
    # voiced length at or over which the full end_of_turn_ms applies
    long_turn_ms: int = 3000
    clear_prob: float = 0.8
    tail_ms: int = 200
    barge_gap_ms: int = 40
    echo_return_loss_db: float = 15.0
    echo_tail_ms: int = 400
    # a caller frame quieter than this never barges in
    min_barge_dbfs: float = -50.0
    frame_ms: int = 20

    def __post_init__(self) -> None:
        if not 0 <= self.preroll_ms <= 2000:
            raise ValueError("preroll_ms must be between 0 and 2000")
        if not 0 < self.min_end_of_turn_ms <= self.end_of_turn_ms:
            raise ValueError("need 0 < min_end_of_turn_ms <= end_of_turn_ms")
        if not 0 < self.short_turn_ms < self.long_turn_ms:
            raise ValueError("need 0 < short_turn_ms < long_turn_ms")
        if self.max_turn_s * 1000 <= self.preroll_ms + self.start_ms:
            raise ValueError("max_turn_s must be longer than preroll_ms + start_ms")
        if not 0 < self.continue_threshold <= self.speech_threshold <= 1:
            raise ValueError("need 0 < continue_threshold <= speech_threshold <= 1")
        if self.barge_in_ms < self.frame_ms or self.start_ms < self.frame_ms:
            raise ValueError("barge_in_ms and start_ms must be at least one frame")
        if self.frame_ms != 20:
            raise ValueError("frame_ms must be 20 (the internal frame size)")


def frame_dbfs(frame: bytes) -> float:
    """RMS level of an int16 frame in dBFS (-120 for digital silence)."""
    samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return -120.0
    rms = math.sqrt(float(np.mean(samples * samples))) / 32768.0
    return 20 * math.log10(rms) if rms > 1e-6 else -120.0


class TurnDetector:
    """Caller turns from 20 ms frames; see the module docstring for the rules and numbers."""

    def __init__(self, settings: TurnSettings, vad: Vad) -> None:
        self.settings = settings
        self._vad = vad
        s = settings
        self._frame_s = s.frame_ms / 1000
        self._preroll_s = s.preroll_ms / 1000
        ring_frames = (s.preroll_ms + max(s.start_ms, s.barge_in_ms + s.barge_gap_ms)) // s.frame_ms + 2
        self._ring: deque[tuple[float, bytes, float]] = deque(maxlen=ring_frames)
        self._agent_levels: deque[float] = deque(maxlen=max(1, s.echo_tail_ms // s.frame_ms))
        self._agent_pending = -math.inf
        self._max_bytes = int(s.max_turn_s * 16000) * 2
        self._reset_turn()
        self._run_frames = 0
        self._run_onset = 0.0
        self._barge_frames = 0
        self._barge_gap = 0
        self._barge_onset = 0.0
        self._barge_fired = False

    # -- inputs ---------------------------------------------------------------------------

    def agent_output(self, frame: bytes) -> None:
        """Tell the detector the level of a frame the agent just sent (for the echo floor)."""
        self._agent_pending = max(self._agent_pending, frame_dbfs(frame))

    def feed(self, frame: bytes, at: float, agent_speaking: bool) -> list[TurnEvent]:
        check_frame(frame)
        prob = self._vad.speech_prob(frame)
        level = frame_dbfs(frame)
        self._agent_levels.append(self._agent_pending)
        self._agent_pending = -math.inf
        floor = self._echo_floor()
        loud_enough = level >= floor
        events: list[TurnEvent] = []

        self._ring.append((at, frame, prob))  # in a turn too: its trimmed tail may pre-roll the next

        was_in_turn = self._in_turn
        if agent_speaking:
            self._run_frames = 0
            self._track_barge_in(prob, loud_enough, level, at, events)
        else:
            self._barge_frames = 0
            self._barge_gap = 0
            self._barge_fired = False
            if not self._in_turn:
                if prob >= self.settings.speech_threshold and loud_enough:
                    if self._run_frames == 0:
                        self._run_onset = at
                    self._run_frames += 1
                    if self._run_frames * self.settings.frame_ms >= self.settings.start_ms:
                        self._open_turn(self._run_onset)
                        events.append(SpeechStarted(at=self._run_onset))
                else:
                    self._run_frames = 0
                return events  # a turn opened on this frame already holds it (from the ring)

        if was_in_turn:
            self._append(frame)
            voiced = prob >= self.settings.continue_threshold and (loud_enough or not agent_speaking)
            if voiced:
                self._last_voiced_at = at
                self._voiced_frames += 1
                self._prob_sum += prob

        if self._in_turn:
            if at - self._turn_start + self._frame_s >= self.settings.max_turn_s - _EPS:
                events.append(self._close(at, "max_length"))
            elif at - self._last_voiced_at >= self.end_silence_s() - _EPS:
                events.append(self._close(at, "silence"))
        return events

    # -- queries --------------------------------------------------------------------------

    @property
    def in_turn(self) -> bool:
        return self._in_turn

    def speech_so_far(self) -> bytes:
        """Audio of the unfinished turn, pre-roll included (empty between turns)."""
        return bytes(self._audio) if self._in_turn else b""

    def end_silence_s(self) -> float:
        """Silence that ends the current turn, from its voiced length and clarity."""
        s = self.settings
        voiced_ms = (self._last_voiced_at - self._onset + self._frame_s) * 1000
        clear = self._voiced_frames > 0 and self._prob_sum / self._voiced_frames >= s.clear_prob
        if not clear or voiced_ms >= s.long_turn_ms:
            return s.end_of_turn_ms / 1000
        if voiced_ms <= s.short_turn_ms:
            return s.min_end_of_turn_ms / 1000
        share = (voiced_ms - s.short_turn_ms) / (s.long_turn_ms - s.short_turn_ms)
        return (s.min_end_of_turn_ms + share * (s.end_of_turn_ms - s.min_end_of_turn_ms)) / 1000

    # -- internals ------------------------------------------------------------------------

    def _echo_floor(self) -> float:
        recent = max(self._agent_levels, default=-math.inf)
        if recent == -math.inf:
            return -math.inf
        return max(recent - self.settings.echo_return_loss_db, self.settings.min_barge_dbfs)

    def _track_barge_in(
        self, prob: float, loud_enough: bool, level: float, at: float, events: list[TurnEvent]
    ) -> None:
        s = self.settings
        qualifies = prob >= s.speech_threshold and loud_enough and level >= s.min_barge_dbfs
        if qualifies:
            if self._barge_frames == 0:
                self._barge_onset = at
            self._barge_frames += 1
            self._barge_gap = 0
        elif self._barge_frames:
            self._barge_gap += 1
            if self._barge_gap * s.frame_ms > s.barge_gap_ms:
                self._barge_frames = 0
                self._barge_gap = 0
        if self._barge_fired or self._barge_frames * s.frame_ms < s.barge_in_ms:
            return
        self._barge_fired = True
        events.append(BargeInDetected(at=at))
        if not self._in_turn:
            self._open_turn(self._barge_onset)
            events.append(SpeechStarted(at=self._barge_onset))

    def _open_turn(self, onset: float) -> None:
        self._in_turn = True
        self._onset = onset
        self._last_voiced_at = onset
        start = onset - self._preroll_s - _EPS
        frames = [(t, f, p) for t, f, p in self._ring if t >= start]
        self._ring.clear()
        self._turn_start = frames[0][0] if frames else onset
        for t, f, p in frames:
            self._append(f)
            if t >= onset - _EPS and p >= self.settings.continue_threshold:
                self._voiced_frames += 1
                self._prob_sum += p
                self._last_voiced_at = t

    def _append(self, frame: bytes) -> None:
        if len(self._audio) + FRAME_BYTES <= self._max_bytes:
            self._audio += frame

    def _close(self, at: float, reason: str) -> TurnEnded:
        audio = bytes(self._audio)
        kept_until = at + self._frame_s
        if reason == "silence":
            keep_s = self._last_voiced_at + self._frame_s + self.settings.tail_ms / 1000 - self._turn_start
            keep = max(int(round(keep_s * 1000 / self.settings.frame_ms)), 0)
            audio = audio[: keep * FRAME_BYTES]
            kept_until = self._turn_start + keep * self._frame_s
        event = TurnEnded(at=at, audio=audio, last_voiced_at=self._last_voiced_at, reason=reason)
        self._reset_turn()
        self._run_frames = 0
        # frames after the kept tail belong to no turn yet: the next turn's pre-roll may take them
        # (a caller who goes on at once starts a word there, before the VAD is confident)
        unused = [f for f in self._ring if f[0] >= kept_until - _EPS]
        self._ring.clear()
        self._ring.extend(unused)
        return event

    def _reset_turn(self) -> None:
        self._in_turn = False
        self._audio = bytearray()
        self._onset = 0.0
        self._turn_start = 0.0
        self._last_voiced_at = 0.0
        self._voiced_frames = 0
        self._prob_sum = 0.0
