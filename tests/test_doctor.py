"""`kayako-voice doctor` against the ARI double and the Kayako-compatible server: all OK when
the setup is right; FAIL with a fix for wrong credentials, an unregistered app, a busy RTP
port and an unreachable Kayako; exit status 1 on any failure."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
from pathlib import Path

from ari_app.ari.client import AriClient
from ari_app.ari.double import AsteriskDouble
from ari_app.commands.doctor import check_codec, diagnose, report
from ari_app.settings import SHARED_DEV_DATA, Settings
from kayako_client.simulator import start_simulator

REPO = Path(__file__).resolve().parent.parent


def settings_for(double: AsteriskDouble, kayako_url: str, port: int, **ari: str) -> Settings:
    s = Settings()
    return dataclasses.replace(
        s,
        ari=dataclasses.replace(
            s.ari, **{"url": double.base_url, "username": double.username, "password": double.password, **ari}
        ),
        kayako=dataclasses.replace(s.kayako, url=kayako_url),
        media=dataclasses.replace(s.media, rtp_port_min=port, rtp_port_max=port + 40),
    )


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_all_ok_when_serving() -> None:
    sim = await start_simulator(str(SHARED_DEV_DATA / "kb_articles.json"))
    async with AsteriskDouble() as double:
        client = AriClient(double.base_url, double.username, double.password, "kayako-voice")
        await client.connect()  # what `serve` does: the app is registered
        try:
            checks = await diagnose(settings_for(double, sim.url, free_udp_port()))
        finally:
            await client.close()
            await sim.stop()
        assert double.violations == []
    text = report(checks)
    assert all(c.ok for c in checks), text
    assert "[OK] Stasis app 'kayako-voice' registered" in text
    assert "Kayako reachable and logged in" in text


async def test_failures_name_the_fix() -> None:
    sim = await start_simulator(None, agent_password="other")
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    port = busy.getsockname()[1]
    try:
        async with AsteriskDouble() as double:
            checks = await diagnose(settings_for(double, sim.url, port))
            text = report(checks)
            assert "[FAIL] Stasis app 'kayako-voice' registered" in text and "kayako-voice serve" in text
            assert f"[FAIL] RTP ports {port}-" in text
            assert "[FAIL] Kayako login" in text and "kayako.password" in text
            bad = await diagnose(settings_for(double, sim.url, free_udp_port(), password="wrong"))
            assert "[FAIL] ARI credentials" in report(bad) and "ari.conf" in report(bad)
            assert double.violations == []
    finally:
        busy.close()
        await sim.stop()


def test_exit_status_one_when_asterisk_is_down(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    port = min(free_udp_port(), 65000)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "KAYAKO_VOICE_ARI_URL": f"http://127.0.0.1:{dead}",
        "KAYAKO_VOICE_KAYAKO_URL": f"http://127.0.0.1:{dead}",
        "KAYAKO_VOICE_MEDIA_RTP_PORT_MIN": str(port),
        "KAYAKO_VOICE_MEDIA_RTP_PORT_MAX": str(port + 30),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "ari_app.cli", "doctor"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[FAIL] ARI reachable" in proc.stdout and "http.conf" in proc.stdout
    assert "[FAIL] Kayako reachable" in proc.stdout


def test_codec_check_refuses_slin16_and_names_the_fix() -> None:
    """Asterisk 22 drops slin16 RTP sent to an externalMedia channel (the caller hears nothing)."""
    s = Settings()
    ok = check_codec(s)
    assert ok.ok and s.media.codec == "ulaw"
    assert check_codec(dataclasses.replace(s, media=dataclasses.replace(s.media, codec="alaw"))).ok
    bad = check_codec(dataclasses.replace(s, media=dataclasses.replace(s.media, codec="slin16")))
    assert not bad.ok and "hear nothing" in bad.detail and 'media.codec = "ulaw"' in bad.fix
    assert "[FAIL] media codec slin16" in report([bad])
