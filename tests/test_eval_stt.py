"""`kayako-voice eval stt` on telephone-quality WAVs made with flite + sox (8 kHz mu-law)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ari_app.cli import main

pytestmark = pytest.mark.skipif(
    shutil.which("flite") is None or shutil.which("sox") is None, reason="flite and sox needed"
)

UTTERANCES = {
    "u1": "I need help resetting my password.",
    "u2": "Yes, that is correct.",
    "u3": "Can I talk to a real person please?",
}


def telephone_wav(text: str, out: Path) -> None:
    """flite's awb voice (not the agent's Piper voice) -> 8 kHz mu-law, 300-3400 Hz, back to 16-bit."""
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["flite", "-voice", "awb", "-t", text, "-o", str(raw)], check=True, timeout=30)
    subprocess.run(
        [
            "sox",
            str(raw),
            "-r",
            "8000",
            "-c",
            "1",
            "-e",
            "u-law",
            str(out.with_suffix(".ulaw.wav")),
            "sinc",
            "300-3400",
        ],
        check=True,
        timeout=30,
    )
    subprocess.run(
        ["sox", str(out.with_suffix(".ulaw.wav")), "-e", "signed-integer", "-b", "16", str(out)],
        check=True,
        timeout=30,
    )
    raw.unlink()
    out.with_suffix(".ulaw.wav").unlink()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    wav_dir = tmp_path_factory.mktemp("wavs")
    for name, text in UTTERANCES.items():
        telephone_wav(text, wav_dir / f"{name}.wav")
    transcripts = wav_dir.parent / "transcripts.txt"
    transcripts.write_text(
        "# name: text\n" + "".join(f"{n}: {t}\n" for n, t in UTTERANCES.items()), encoding="utf-8"
    )
    return wav_dir, transcripts


def test_eval_stt_reports_n_wer_rtf(corpus: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    wav_dir, transcripts = corpus
    code = main(["eval", "stt", "--wav-dir", str(wav_dir), "--transcripts", str(transcripts), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"n", "wer", "rtf"}
    assert report["n"] == 3
    assert 0.0 <= report["wer"] < 0.5
    assert 0.0 < report["rtf"] < 5.0


def test_missing_wav_is_a_clear_error(
    corpus: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav_dir, _ = corpus
    transcripts = tmp_path / "t.txt"
    transcripts.write_text("u1: hello\nghost: nobody recorded this\n", encoding="utf-8")
    code = main(["eval", "stt", "--wav-dir", str(wav_dir), "--transcripts", str(transcripts), "--json"])
    assert code == 2
    assert "ghost" in capsys.readouterr().err


def test_malformed_transcript_line_names_the_line(
    corpus: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav_dir, _ = corpus
    transcripts = tmp_path / "t.txt"
    transcripts.write_text("u1: hello\nthis line has no separator\n", encoding="utf-8")
    code = main(["eval", "stt", "--wav-dir", str(wav_dir), "--transcripts", str(transcripts)])
    assert code == 2
    assert "t.txt:2" in capsys.readouterr().err


def test_non_wav_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.wav").write_bytes(b"not a wav at all")
    transcripts = tmp_path / "t.txt"
    transcripts.write_text("bad: hello\n", encoding="utf-8")
    code = main(["eval", "stt", "--wav-dir", str(tmp_path), "--transcripts", str(transcripts)])
    assert code == 2
    assert "not a readable WAV" in capsys.readouterr().err
