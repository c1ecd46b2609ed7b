"""`kayako-voice kayako-sim` runs in the foreground, prints URL and login, stops on SIGINT."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kayako_sim_subcommand() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ari_app.cli", "kayako-sim", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert f"http://127.0.0.1:{port}/api/v1" in first
        assert "agent@northwind.example / northwind" in proc.stdout.readline()  # type: ignore[union-attr]
        r = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/articles", auth=("agent@northwind.example", "northwind")
        )
        assert r.status_code == 200 and r.json()["total_count"] == 32
    finally:
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0


def test_kayako_sim_bad_articles_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "kb.json"
    bad.write_text('{"not": "a list"}')
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ari_app.cli",
            "kayako-sim",
            "--port",
            str(_free_port()),
            "--articles",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "expected a JSON list" in out.stdout
