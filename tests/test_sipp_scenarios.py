"""The SIPp scenarios in tests/sipp/: well formed, and real calls between them on loopback.

SIPp (Debian `sip-tester`, 3.6 or later) plays both ends on 127.0.0.1: `uas_agent.xml` takes
the call that `uac_inbound_call.xml` / `uac_load.xml` place. For the audio checks, the SDP of
a scenario copy points the peer's RTP at a UDP socket of this test, which checks that the
packets are G.711 mu-law (payload type 0), 160 bytes per 20 ms packet, and carry exactly the
bytes of the scenario's audio file in order. Every SIPp run is bounded by -timeout.
"""

from __future__ import annotations

import re
import shutil
import socket
import struct
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SIPP_DIR = Path(__file__).resolve().parent / "sipp"
SCENARIOS = ("uac_inbound_call.xml", "uas_agent.xml", "uac_load.xml")
SIPP = shutil.which("sipp")
needs_sipp = pytest.mark.skipif(SIPP is None, reason="sipp not installed (Debian package sip-tester)")

PACKET_BYTES = 160  # 20 ms of 8 kHz G.711
HOST = "127.0.0.1"


# --------------------------------------------------------------------------- static checks


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_is_well_formed(name):
    root = ET.parse(SIPP_DIR / name).getroot()
    assert root.tag == "scenario" and root.get("name")
    labels = {e.get("id") for e in root.iter("label")}
    for element in root.iter():
        target = element.get("next")
        if target:
            assert target in labels, f"{name}: next={target} has no <label>"
    streams = [e.get("rtp_stream") for e in root.iter("exec") if e.get("rtp_stream")]
    assert streams, f"{name}: no audio"
    for stream in streams:
        file_name, loops, payload_type = stream.split(",")
        assert (SIPP_DIR / file_name).is_file(), f"{name}: missing {file_name}"
        assert int(loops) >= 1 and payload_type == "0"
    if name.startswith("uac"):
        first = root.find("send")
        assert first is not None and "INVITE sip:[service]@" in (first.text or "")
        # the PBX may end the call: a BYE is accepted anywhere after the INVITE
        assert any(r.get("request") == "BYE" and r.get("optional") == "global" for r in root.iter("recv"))


@pytest.mark.parametrize("name", ["caller_ulaw.raw", "agent_ulaw.raw"])
def test_audio_files_are_raw_ulaw_speech(name):
    data = (SIPP_DIR / name).read_bytes()
    assert len(data) % PACKET_BYTES == 0
    seconds = len(data) / 8000
    assert 2.0 <= seconds <= 10.0
    # speech uses many mu-law codes; silence sits on 0xFF/0x7F and a few neighbours
    assert len(set(data)) > 100
    # the tail is padded with about a second of silence (end-of-turn for the agent)
    tail = data[-4000:]
    assert sum(1 for b in tail if b in (0xFF, 0x7F, 0xFE, 0x7E, 0xFD, 0x7D)) > 0.9 * len(tail)


# --------------------------------------------------------------------------- helpers


def _free_udp_port(even: bool = False, span: int = 1) -> int:
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
        if even and port % 2:
            continue
        if port + span >= 65535:
            continue
        ok = True
        for p in range(port, port + span):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind((HOST, p))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise RuntimeError("no free UDP port on 127.0.0.1")


@dataclass
class RtpTap:
    """A UDP socket that records every RTP packet sent to it."""

    sock: socket.socket
    packets: list[bytes] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def open(cls) -> RtpTap:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((HOST, 0))
        sock.settimeout(0.1)
        tap = cls(sock)
        threading.Thread(target=tap._run, daemon=True).start()
        return tap

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.packets.append(data)

    def close(self) -> None:
        self._stop.set()
        time.sleep(0.15)
        self.sock.close()


def _check_stream(packets: list[bytes], audio: bytes, min_packets: int) -> None:
    assert len(packets) >= min_packets, f"only {len(packets)} RTP packets"
    first_seq = first_ts = ssrc = None
    for i, pkt in enumerate(packets):
        assert len(pkt) == 12 + PACKET_BYTES
        b0, b1, seq, ts, pkt_ssrc = struct.unpack("!BBHII", pkt[:12])
        assert b0 >> 6 == 2 and b1 & 0x7F == 0, "RTP v2, payload type 0 (PCMU)"
        if i == 0:
            first_seq, first_ts, ssrc = seq, ts, pkt_ssrc
        assert pkt_ssrc == ssrc
        assert seq == (first_seq + i) & 0xFFFF, "no loss or reordering on loopback"
        assert ts == (first_ts + i * PACKET_BYTES) & 0xFFFFFFFF
        expected = audio[(i * PACKET_BYTES) % len(audio) :][:PACKET_BYTES]
        assert pkt[12:] == expected, f"packet {i} does not carry the file's bytes"


def _stage(tmp_path: Path, name: str, media_port: int | None = None, extra: str = "") -> Path:
    """Copy a scenario (and its audio) into tmp_path; optionally point its SDP media at a tap."""
    text = (SIPP_DIR / name).read_text(encoding="ISO-8859-1") if extra == "" else extra
    if media_port is not None:
        assert "m=audio [media_port]" in text
        text = text.replace("m=audio [media_port]", f"m=audio {media_port}")
    out = tmp_path / name
    out.write_text(text, encoding="ISO-8859-1")
    for raw in SIPP_DIR.glob("*.raw"):
        target = tmp_path / raw.name
        if not target.exists():
            shutil.copy(raw, target)
    return out


def _sipp(scenario: Path, port: int, media_port: int, *args: str) -> list[str]:
    return [
        str(SIPP),
        "-sf",
        scenario.name,
        "-i",
        HOST,
        "-p",
        str(port),
        "-mi",
        HOST,
        "-mp",
        str(media_port),
        "-nostdin",
        "-trace_err",
        "-timeout",
        "20s",
        "-timeout_error",
        *args,
    ]


def _successful_calls(screen: str) -> int:
    found = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", screen)
    assert found, screen[-2000:]
    return int(found[-1])


@dataclass
class CallRun:
    uas_rc: int
    uac_rc: int
    uas_out: str
    uac_out: str
    uac_seconds: float


def _call(
    tmp_path: Path,
    uas: Path,
    uac: Path,
    uac_args: list[str],
    uas_args: list[str],
) -> CallRun:
    uas_port = _free_udp_port()
    uas_cmd = _sipp(uas, uas_port, _free_udp_port(even=True, span=4), *uas_args)
    uas_log = (tmp_path / "uas.out").open("w")
    server = subprocess.Popen(uas_cmd, cwd=tmp_path, stdout=uas_log, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.4)  # let the UAS bind before the first INVITE (retransmits would cover it anyway)
        uac_cmd = _sipp(uac, _free_udp_port(), _free_udp_port(even=True, span=4), *uac_args)
        started = time.monotonic()
        client = subprocess.run(
            [*uac_cmd, f"{HOST}:{uas_port}"], cwd=tmp_path, capture_output=True, text=True, timeout=25
        )
        uac_seconds = time.monotonic() - started
        uas_rc = server.wait(timeout=25)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        uas_log.close()
    uas_out = (tmp_path / "uas.out").read_text(errors="replace")
    return CallRun(uas_rc, client.returncode, uas_out, client.stdout + client.stderr, uac_seconds)


# --------------------------------------------------------------------------- calls on loopback


@needs_sipp
def test_inbound_call_to_agent_end_to_end_with_audio_both_ways(tmp_path):
    caller_tap, agent_tap = RtpTap.open(), RtpTap.open()
    try:
        # the agent's SDP sends the caller's RTP to caller_tap, and vice versa
        uas = _stage(tmp_path, "uas_agent.xml", media_port=caller_tap.port)
        uac = _stage(tmp_path, "uac_inbound_call.xml", media_port=agent_tap.port)
        run = _call(tmp_path, uas, uac, ["-s", "100", "-m", "1", "-d", "1500"], ["-m", "1", "-trace_logs"])
        time.sleep(0.1)
    finally:
        caller_tap.close()
        agent_tap.close()
    assert run.uac_rc == 0, run.uac_out[-3000:]
    assert run.uas_rc == 0, run.uas_out[-3000:]
    assert _successful_calls(run.uac_out) == 1
    assert _successful_calls(run.uas_out) == 1
    # 1.5 s on the line at 50 packets/s: at least 40 packets each way, byte-exact
    _check_stream(caller_tap.packets, (SIPP_DIR / "caller_ulaw.raw").read_bytes(), 40)
    _check_stream(agent_tap.packets, (SIPP_DIR / "agent_ulaw.raw").read_bytes(), 40)
    # the agent logged the case header lookup for the call (empty here: no PBX in between)
    logs = list(tmp_path.glob("uas_agent_*_logs.log"))
    assert logs and "X-Kayako-Case-Id:" in logs[0].read_text()


HANGUP_UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="PBX that hangs up first">
  <recv request="INVITE" crlf="true">
    <action><ereg regexp=".*" search_in="hdr" header="From:" assign_to="caller"/></action>
  </recv>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]PBX[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:pbx@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=pbx 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv request="ACK">
    <action><ereg regexp=".*" search_in="hdr" header="To:" assign_to="pbx"/></action>
  </recv>
  <pause milliseconds="500"/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$pbx]
      To: [$caller]
      Call-ID: [call_id]
      CSeq: 1 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


@needs_sipp
def test_caller_accepts_the_pbx_hanging_up_first(tmp_path):
    uas = _stage(tmp_path, "pbx_hangup.xml", extra=HANGUP_UAS)
    uac = _stage(tmp_path, "uac_inbound_call.xml")
    run = _call(tmp_path, uas, uac, ["-s", "100", "-m", "1", "-d", "15000"], ["-m", "1"])
    assert run.uas_rc == 0, run.uas_out[-3000:]  # our BYE got its 200 OK
    assert run.uac_rc == 0, run.uac_out[-3000:]  # and the caller counts it a good call
    assert _successful_calls(run.uac_out) == 1
    assert run.uac_seconds < 10, "the caller hung up on its own instead of taking the PBX's BYE"


@needs_sipp
def test_load_scenario_with_rate_and_concurrency_limit(tmp_path):
    uas = _stage(tmp_path, "uas_agent.xml")
    uac = _stage(tmp_path, "uac_load.xml")
    run = _call(
        tmp_path,
        uas,
        uac,
        ["-s", "100", "-r", "10", "-l", "3", "-m", "6", "-d", "300"],
        ["-m", "6"],
    )
    assert run.uac_rc == 0, run.uac_out[-3000:]
    assert run.uas_rc == 0, run.uas_out[-3000:]
    assert _successful_calls(run.uac_out) == 6
    assert _successful_calls(run.uas_out) == 6
