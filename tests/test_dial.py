"""`kayako-voice dial`: URI checks, the far-end voice tracker, and real calls over loopback.

The call tests run the real command in a subprocess (pjsua2 allows one library per process)
against SIPp's built-in UAS with `-rtp_echo` on 127.0.0.1: our synthesized turn comes back as
the "agent's" reply, so its transcription must contain the words we said.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from ari_app.cli import main
from ari_app.softphone import (
    FRAME_BYTES,
    SipUriError,
    VoiceActivity,
    frame_dbfs,
    parse_sip_uri,
)

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SIPP = shutil.which("sipp")
HAS_PJSUA2 = importlib.util.find_spec("pjsua2") is not None
needs_phone = pytest.mark.skipif(
    not HAS_PJSUA2 or SIPP is None,
    reason=(
        "pjsua2 is not importable (pip install pjsua2-python)"
        if not HAS_PJSUA2
        else "sipp not installed (Debian package sip-tester)"
    ),
)
needs_pjsua2 = pytest.mark.skipif(
    not HAS_PJSUA2, reason="pjsua2 is not importable (pip install pjsua2-python)"
)


# --------------------------------------------------------------------------- URIs


@pytest.mark.parametrize(
    ("text", "user", "host", "port"),
    [
        ("sip:100@127.0.0.1:5080", "100", "127.0.0.1", 5080),
        ("sip:100@pbx.example.com", "100", "pbx.example.com", 0),
        ("SIP:agent100@[::1]:5070;transport=udp", "agent100", "[::1]", 5070),
        ("  sip:pbx.local  ", "", "pbx.local", 0),
    ],
)
def test_parse_sip_uri_accepts_what_admins_type(text, user, host, port):
    target = parse_sip_uri(text)
    assert (target.user, target.host, target.port) == (user, host, port)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("100@127.0.0.1", "must start with 'sip:'"),
        ("tel:+15550100", "must start with 'sip:'"),
        ("sips:100@pbx.example", "TLS"),
        ("sip:100@", "sip:EXT@HOST"),
        ("sip:100@pbx example", "sip:EXT@HOST"),
        ("sip:100@300.1.1.1", "not an IPv4 address"),
        ("sip:100@127.0.0.1:0", "outside 1-65535"),
        ("sip:100@127.0.0.1:70000", "outside 1-65535"),
        ("sip:100@[1::2::3]", "not an IPv6 address"),
    ],
)
def test_parse_sip_uri_refuses_with_a_reason(text, why):
    with pytest.raises(SipUriError, match=re.escape(why)):
        parse_sip_uri(text)


def test_loopback_targets_are_recognised():
    assert parse_sip_uri("sip:1@127.0.0.1").is_loopback
    assert parse_sip_uri("sip:1@localhost").is_loopback
    assert parse_sip_uri("sip:1@[::1]").is_loopback
    assert not parse_sip_uri("sip:1@192.0.2.10").is_loopback


# --------------------------------------------------------------------------- far-end voice


def _frame(dbfs: float) -> bytes:
    if dbfs <= -120:
        return bytes(FRAME_BYTES)
    amplitude = 32768 * 10 ** (dbfs / 20) * np.sqrt(2)
    t = np.arange(FRAME_BYTES // 2) / 16000
    return (amplitude * np.sin(2 * np.pi * 400 * t)).astype("<i2").tobytes()


def test_frame_dbfs_measures_rms():
    assert frame_dbfs(bytes(FRAME_BYTES)) == -120.0
    assert frame_dbfs(_frame(-20.0)) == pytest.approx(-20.0, abs=0.2)
    assert frame_dbfs(b"") == -120.0


def test_voice_activity_needs_two_frames_and_tracks_quiet():
    act = VoiceActivity(floor_dbfs=-40.0)
    t = 100.0
    # one loud frame alone (a click) is not speech
    for level in (-120, -10, -120, -55):
        t += 0.02
        act.feed(t, _frame(level))
    assert act.first_voiced is None and act.quiet_for(t) is None
    onset = t  # the next frame starts here
    for _ in range(10):
        t += 0.02
        act.feed(t, _frame(-25))
    assert act.first_voiced == pytest.approx(onset)
    assert act.last_voiced == pytest.approx(t)
    for _ in range(40):  # 0.8 s of comfort noise
        t += 0.02
        act.feed(t, _frame(-60))
    assert act.quiet_for(t) == pytest.approx(0.8)
    assert act.first_voiced_after(onset + 0.05) == pytest.approx(onset + 0.06)
    assert act.first_voiced_after(t) is None


# --------------------------------------------------------------------------- bad input, in process


def test_dial_refuses_a_malformed_uri_with_exit_2(capsys):
    assert main(["dial", "100@127.0.0.1", "--say", "hello"]) == 2
    err = capsys.readouterr().err
    assert "not a SIP URI" in err and "sip:" in err


def test_dial_refuses_a_turn_without_words(capsys):
    assert main(["dial", "sip:100@127.0.0.1:5060", "--say", " ... "]) == 2
    assert "no words to speak" in capsys.readouterr().err


def test_dial_refuses_a_bad_timeout(capsys):
    assert main(["dial", "sip:100@127.0.0.1:5060", "--timeout", "0"]) == 2
    assert "--timeout" in capsys.readouterr().err


# --------------------------------------------------------------------------- real calls on loopback


def _free_udp_port(span: int = 1) -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
        if port % 2 or port + span > 65535:
            continue
        try:
            socks = []
            for p in range(port, port + span):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((HOST, p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port range")


def _dial(*args: str, timeout: float = 50) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "ari_app.cli", "--log-level", "WARNING", "dial", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@needs_phone
def test_dial_talks_to_an_echoing_uas_and_hangs_up_cleanly(tmp_path):
    sip_port = _free_udp_port()
    uas = subprocess.Popen(
        [
            str(SIPP), "-sn", "uas", "-rtp_echo", "-i", HOST, "-p", str(sip_port),
            "-mi", HOST, "-mp", str(_free_udp_port(span=4)), "-m", "1", "-nostdin",
            "-timeout", "40s", "-timeout_error",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.3)
        said = "hello can you hear me"
        run = _dial(
            f"sip:100@{HOST}:{sip_port}", "--say", said, "--timeout", "5",
            "--json", "--wav-out", str(tmp_path / "wav"),
        )  # fmt: skip
        uas_rc = uas.wait(timeout=15)  # SIPp's UAS ends after our BYE, 0 when the call completed
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["ended_by"] == "us"
    assert report["greeting"] is None and report["greeting_after_s"] is None  # an echo says nothing first
    (turn,) = report["turns"]
    assert turn["said"] == said and turn["replied"]
    heard = {w.strip(".,?!").lower() for w in turn["reply"].split()}
    assert len(heard & set(said.split())) >= 3, turn["reply"]
    assert turn["overlapped"]  # an echo speaks while we do
    assert turn["response_s"] is not None and turn["response_s"] < 0.5
    assert uas_rc == 0
    with wave.open(str(tmp_path / "wav" / "turn1_agent.wav")) as w:
        assert w.getframerate() == 16000
        agent = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert np.abs(agent).max() > 3000  # the echoed speech was recorded
    assert (tmp_path / "wav" / "turn1_caller.wav").is_file()


@needs_pjsua2
def test_dial_to_a_port_nobody_answers_fails_within_the_timeout():
    port = _free_udp_port()  # closed again: nothing listens there
    started = time.monotonic()
    run = _dial(f"sip:100@{HOST}:{port}", "--say", "hello", "--timeout", "2", timeout=30)
    elapsed = time.monotonic() - started
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"sip:100@{HOST}:{port} did not answer within 2 s" in run.stderr
    assert run.stdout == ""
    assert elapsed < 2 + 8  # the timeout, plus start-up and pjsua's ~1 s shutdown: it exits


@needs_phone
def test_dial_hears_the_greeting_and_reports_a_turn_without_reply(tmp_path):
    """uas_agent.xml greets (agent_ulaw.raw) and then stays silent: exit 3, greeting transcribed."""
    for name in ("uas_agent.xml", "agent_ulaw.raw"):
        shutil.copy(REPO / "tests" / "sipp" / name, tmp_path / name)
    sip_port = _free_udp_port()
    uas = subprocess.Popen(
        [
            str(SIPP), "-sf", "uas_agent.xml", "-i", HOST, "-p", str(sip_port),
            "-mi", HOST, "-mp", str(_free_udp_port(span=4)), "-m", "1", "-nostdin",
            "-timeout", "40s", "-timeout_error",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.3)
        run = _dial(f"sip:agent100@{HOST}:{sip_port}", "--say", "hi there", "--timeout", "2")
        uas_rc = uas.wait(timeout=15)
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()
    assert run.returncode == 3, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    greeting = next(line for line in lines if line.startswith("Agent greeting:")).lower()
    assert "support team" in greeting and "help" in greeting, run.stdout
    assert "s after the answer)" in greeting
    assert '  we said:    "hi there"' in lines
    assert "  agent said: (no reply within the timeout)" in lines
    assert "no reply within --timeout" in run.stderr
    assert lines[-1] == "We hung up."
    assert uas_rc == 0


_HANGS_UP = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answers, then hangs up after 1 s">
  <recv request="INVITE">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="caller"/>
      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="callee"/>
      <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" check_it="true" assign_to="contact"/>
    </action>
  </recv>
  <send retrans="500"><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:100@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]></send>
  <recv request="ACK"/>
  <pause milliseconds="1000"/>
  <send retrans="500"><![CDATA[

      BYE [$contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$callee];tag=[pid]SIPpTag01[call_number]
      To: [$caller]
      [last_Call-ID:]
      CSeq: 2 BYE
      Contact: <sip:100@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <recv response="200"/>
</scenario>
"""


@needs_phone
def test_dial_reports_a_far_end_that_hangs_up_mid_script(tmp_path):
    (tmp_path / "hangs_up.xml").write_text(_HANGS_UP, encoding="ISO-8859-1")
    sip_port = _free_udp_port()
    uas = subprocess.Popen(
        [
            str(SIPP), "-sf", "hangs_up.xml", "-i", HOST, "-p", str(sip_port),
            "-mi", HOST, "-mp", str(_free_udp_port(span=4)), "-m", "1", "-nostdin",
            "-timeout", "30s", "-timeout_error",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.3)
        run = _dial(
            f"sip:100@{HOST}:{sip_port}", "--say", "first", "--say", "second", "--timeout", "5", timeout=30
        )
        uas_rc = uas.wait(timeout=15)
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"sip:100@{HOST}:{sip_port} hung up" in run.stderr and "before turn 1 of 2" in run.stderr
    assert uas_rc == 0  # our 200 OK to its BYE arrived
