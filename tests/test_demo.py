"""`kayako-voice demo --count 1` end to end as a user runs it: real models, the ARI double, the
Kayako-compatible server; a case must arrive and the conversation WAV must be written."""

from __future__ import annotations

import re
import subprocess
import sys
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_demo_one_call(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "ari_app.cli", "demo", "--count", "1", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=170,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"Kayako case #\d+", proc.stdout), proc.stdout[-2000:]
    assert "violations of the ARI spec: 0" in proc.stdout
    assert "voice-to-voice" in proc.stdout
    wavs = list(out.glob("*.wav"))
    assert len(wavs) == 1
    with wave.open(str(wavs[0])) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 16000
        assert w.getnframes() > 16000 * 5  # several seconds of conversation


def test_demo_does_not_warm_every_followup_sentence(tmp_path: Path) -> None:
    from ari_app.commands.demo import demo_settings
    from ari_app.settings import Settings

    base = Settings()
    assert base.tts.warm_followups  # serve and the voice evaluation warm them
    demo = demo_settings(base, "http://127.0.0.1:1", "u", "p", "http://127.0.0.1:2", tmp_path)
    assert not demo.tts.warm_followups  # the README's first command starts in seconds
