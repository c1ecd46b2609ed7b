"""TTS engines produce 16 kHz speech of plausible length; rate, styles, splitting and fallback."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from media.tts import SLOW_RATE_FACTOR, STYLES, TtsError, at_rate, make_tts, split_sentences

SENTENCE = "Thanks for calling Northwind Desk. How can I help you today?"  # 11 words
NEEDS_FLITE = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")
NEEDS_ESPEAK = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture(scope="module")
def piper():
    return make_tts("piper", strict=True)


def check_speech(pcm: bytes, words: int) -> float:
    assert len(pcm) % 2 == 0 and pcm
    seconds = len(pcm) / 32000
    # 11 words: conversational speech runs at ~2-4 words per second
    assert words / 5.0 < seconds < words / 1.5 + 1.0
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    assert np.sqrt(np.mean(x * x)) > 300  # not silence
    assert np.max(np.abs(x)) < 32767  # headroom kept
    return seconds


def test_piper_speaks_at_16k_and_rate_changes_duration(piper) -> None:
    assert (piper.name, piper.voice) == ("piper", "en_US-joe-medium")
    normal = check_speech(piper.synthesize(SENTENCE), 11)
    fast = len(make_tts("piper", rate=1.5, strict=True).synthesize(SENTENCE)) / 32000
    assert fast < normal * 0.85


def test_a_slower_twin_shares_the_loaded_voice_and_speaks_slower(piper) -> None:
    slow = at_rate(piper, piper.rate * SLOW_RATE_FACTOR)
    assert slow is not None and slow is not piper
    assert slow._voice is piper._voice  # no second model in memory
    assert (slow.rate, piper.rate) == (pytest.approx(0.8), 1.0)
    # the pace Piper is asked for, exactly: 1 / 0.8 of the normal phoneme lengths
    assert slow._config().length_scale == pytest.approx(piper._config().length_scale / 0.8)
    # what comes out is about 15 % longer (Piper's durations scale less than length_scale, and vary
    # a few per cent from take to take; measured 1.11-1.20 over means of three takes)
    normal_s = sum(len(piper.synthesize(SENTENCE)) for _ in range(3)) / 3 / 32000
    slow_s = sum(len(slow.synthesize(SENTENCE)) for _ in range(3)) / 3 / 32000
    assert slow_s > normal_s * 1.05


def test_an_engine_that_fixes_its_rate_at_load_has_no_slower_twin() -> None:
    class FixedRate:
        name, voice, rate = "fixed", "v", 1.0

    assert at_rate(FixedRate(), 0.8) is None  # type: ignore[arg-type]


def test_piper_streams_by_sentence(piper) -> None:
    chunks = list(piper.stream(SENTENCE))
    assert len(chunks) == 2 and all(chunks)


def test_piper_output_is_resampled_from_22k(piper) -> None:
    text = "One two three four five six seven eight nine ten."
    raw = sum(len(c.audio_float_array) for c in piper._voice.synthesize(text, piper._config()))
    assert piper._sample_rate == 22050
    pcm = piper.synthesize(text)
    # Piper varies durations a little from run to run; a 22.05 kHz mix-up would be 38 % off
    assert len(pcm) / 32000 == pytest.approx(raw / 22050, rel=0.12)


@NEEDS_FLITE
def test_flite_speaks_and_rate_changes_duration() -> None:
    engine = make_tts("flite", strict=True)
    assert engine.name == "flite"
    normal = check_speech(engine.synthesize(SENTENCE), 11)
    slow = len(make_tts("flite", rate=0.7, strict=True).synthesize(SENTENCE)) / 32000
    assert slow > normal * 1.2


@NEEDS_ESPEAK
def test_espeak_ng_speaks_and_rate_changes_duration() -> None:
    engine = make_tts("espeak-ng", strict=True)
    normal = check_speech(engine.synthesize(SENTENCE), 11)
    fast = len(make_tts("espeak-ng", rate=1.5, strict=True).synthesize(SENTENCE)) / 32000
    assert fast < normal * 0.8


@NEEDS_ESPEAK
def test_text_starting_with_dash_is_spoken_not_parsed_as_option() -> None:
    pcm = make_tts("espeak-ng", strict=True).synthesize("-v is not an option here")
    assert len(pcm) > 16000


@NEEDS_ESPEAK
def test_styles_change_rate_minimally() -> None:
    assert set(STYLES) == {"friendly", "formal", "brief"}
    friendly = len(make_tts("espeak-ng", style="friendly", strict=True).synthesize(SENTENCE))
    brief = len(make_tts("espeak-ng", style="brief", strict=True).synthesize(SENTENCE))
    formal = len(make_tts("espeak-ng", style="formal", strict=True).synthesize(SENTENCE))
    assert brief < friendly < formal
    assert formal < friendly * 1.15


def test_empty_text_and_bad_settings_get_clear_errors(piper) -> None:
    with pytest.raises(TtsError, match="nothing to say"):
        piper.synthesize("  ... ")
    with pytest.raises(TtsError, match="rate"):
        make_tts("piper", rate=3.0)
    with pytest.raises(TtsError, match="unknown TTS engine"):
        make_tts("festival")
    with pytest.raises(TtsError, match="unknown TTS style"):
        make_tts("piper", style="shouty")


def test_missing_piper_voice_falls_back_unless_strict(tmp_path: Path) -> None:
    with pytest.raises(TtsError, match="cannot load"):
        make_tts("piper", voice=str(tmp_path / "nope.onnx"), strict=True)
    engine = make_tts("piper", voice=str(tmp_path / "nope.onnx"))
    assert engine.name in ("flite", "espeak-ng")


def test_coqui_without_model_dir_falls_back_or_fails_strict() -> None:
    with pytest.raises(TtsError, match="coqui_model_dir"):
        make_tts("coqui", strict=True)
    assert make_tts("coqui").name == "piper"


def test_sentence_splitting() -> None:
    assert split_sentences("Hello there. How are you?  Fine!") == ["Hello there.", "How are you?", "Fine!"]
    assert split_sentences("Call Dr. Smith at 3.5 p.m. today. Thanks.") == [
        "Call Dr. Smith at 3.5 p.m. today.",
        "Thanks.",
    ]
    long = "First, " + ", ".join(["this is a rather long clause"] * 8) + "."
    parts = split_sentences(long)
    assert len(parts) > 1 and all(len(p) <= 170 for p in parts)
    assert split_sentences(" ... ") == []


def _coqui_importable() -> str:
    if importlib.util.find_spec("TTS") is None:
        return "coqui-tts is not installed"
    probe = subprocess.run(
        [sys.executable, "-c", "import TTS.api"], capture_output=True, text=True, timeout=120
    )
    if probe.returncode != 0:
        lines = [ln for ln in probe.stderr.splitlines() if "requires" in ln or "Error" in ln]
        return "coqui-tts cannot import here: " + (lines[-1].strip() if lines else "import failed")[:200]
    return ""


_COQUI_SKIP = _coqui_importable()


@pytest.mark.slow
@pytest.mark.skipif(bool(_COQUI_SKIP), reason=_COQUI_SKIP or "ok")
def test_coqui_loads_an_operator_model_dir(tmp_path: Path) -> None:
    import torch
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    # a tiny untrained VITS written the way an operator's model dir looks: config.json + model.pth
    args = VitsArgs(
        hidden_channels=16,
        hidden_channels_ffn_text_encoder=32,
        num_heads_text_encoder=2,
        num_layers_text_encoder=1,
        num_layers_flow=1,
        num_layers_posterior_encoder=1,
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3]],
        upsample_rates_decoder=[8, 8, 4],
        upsample_initial_channel_decoder=32,
        upsample_kernel_sizes_decoder=[16, 16, 8],
    )
    config = VitsConfig(
        model_args=args,
        use_phonemes=False,
        text_cleaner="basic_cleaners",
        characters=CharactersConfig(
            characters_class="TTS.tts.models.vits.VitsCharacters",
            pad="_",
            eos="",
            bos="",
            blank=None,
            characters="abcdefghijklmnopqrstuvwxyz",
            punctuations=" .,!?'",
        ),
    )
    config.audio.sample_rate = 22050
    torch.save({"model": Vits.init_from_config(config).state_dict()}, tmp_path / "model.pth")
    config.save_json(str(tmp_path / "config.json"))
    engine = make_tts("coqui", coqui_model_dir=str(tmp_path), strict=True)
    assert engine.name == "coqui"
    assert len(engine.synthesize("hello there.")) > 0
