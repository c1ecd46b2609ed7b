"""VAD on real synthesized speech (espeak-ng), silence and white noise."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from media.vad import SileroVad, WebRtcVad, make_vad, speech_probs

FRAME = 640

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture(scope="module")
def speech() -> bytes:
    from media.tts_cli import EspeakNgTts

    pcm = EspeakNgTts().synthesize("Hello, I would like to check the status of my support ticket, please.")
    return pcm[: len(pcm) // FRAME * FRAME]


SILENCE = bytes(2 * 16000 * 2)
NOISE = (np.random.default_rng(7).normal(0, 0.1, 2 * 16000) * 32767).astype("<i2").tobytes()


def speech_share(vad, pcm: bytes) -> float:
    probs = [vad.speech_prob(pcm[i : i + FRAME]) for i in range(0, len(pcm) - FRAME + 1, FRAME)]
    return float(np.mean(np.array(probs) >= 0.5))


def test_silero_tells_speech_from_silence_and_noise(speech: bytes) -> None:
    assert speech_share(SileroVad(), speech) > 0.6
    assert speech_share(SileroVad(), SILENCE) == 0.0
    assert speech_share(SileroVad(), NOISE) < 0.05


def test_silero_state_is_per_instance(speech: bytes) -> None:
    a, b = SileroVad(), SileroVad()
    # interleaving two streams must give each the same answers as running it alone
    single = SileroVad()
    alone = [single.speech_prob(speech[i : i + FRAME]) for i in range(0, 40 * FRAME, FRAME)]
    mixed = []
    for i in range(0, 40 * FRAME, FRAME):
        mixed.append(a.speech_prob(speech[i : i + FRAME]))
        b.speech_prob(NOISE[i : i + FRAME])
    assert np.allclose(alone, mixed, atol=1e-5)


def test_batched_probs_match_streaming(speech: bytes) -> None:
    samples = np.frombuffer(speech, dtype="<i2").astype(np.float32) / 32768
    batched = speech_probs(samples)
    assert batched.size == -(-samples.size // 512)
    assert abs(float(np.mean(batched >= 0.5)) - speech_share(SileroVad(), speech)) < 0.05


def test_webrtc_tells_speech_from_silence(speech: bytes) -> None:
    # webrtcvad calls loud white noise speech (a known limit of its GMM); Silero is the default
    assert speech_share(WebRtcVad(), speech) > 0.6
    assert speech_share(WebRtcVad(), SILENCE) == 0.0


def test_bad_frames_and_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="640 bytes"):
        SileroVad().speech_prob(b"\x00" * 320)
    with pytest.raises(ValueError, match="640 bytes"):
        WebRtcVad().speech_prob(b"\x00" * 641)
    with pytest.raises(ValueError, match="unknown VAD"):
        make_vad("energy")
    assert isinstance(make_vad("webrtc"), WebRtcVad)
