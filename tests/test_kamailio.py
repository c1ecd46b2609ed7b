"""Kamailio's dispatcher in front of several kayako-voice nodes: config check and real scale-out.

`kamailio -c` validates asterisk-config/kamailio/kamailio.cfg (and must reject a broken copy).
Then a real Kamailio on 127.0.0.1 balances calls over two SIPp UAS stand-ins for the
Asterisk + kayako-voice nodes (tests/sipp/uas_agent.xml, which also answers OPTIONS):
  1. calls are spread over both nodes (round-robin);
  2. a killed node is found by OPTIONS probing alone (ping every 1 s, 2 misses), after which
     new calls go only to the live node, with no failover attempt;
  3. a restarted node comes back into rotation after 2 good pings;
  4. a node killed between pings is failed over: the INVITE times out (tm fr_timer, 2 s), the
     node is marked down and ds_next_dst() sends the call to the other node, which answers.
All on loopback; every process is bounded by timeouts and killed by its own pid.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KAMAILIO_DIR = ROOT / "asterisk-config" / "kamailio"
CFG = KAMAILIO_DIR / "kamailio.cfg"
SIPP_DIR = ROOT / "tests" / "sipp"
KAMAILIO = shutil.which("kamailio")
KAMCMD = shutil.which("kamcmd")
SIPP = shutil.which("sipp")
HOST = "127.0.0.1"

needs_kamailio = pytest.mark.skipif(
    KAMAILIO is None, reason="kamailio not installed (apt-get install --no-install-recommends kamailio)"
)
needs_scale_out_tools = pytest.mark.skipif(
    KAMAILIO is None or KAMCMD is None or SIPP is None,
    reason="needs kamailio + kamcmd (Debian kamailio) and sipp (Debian sip-tester)",
)


# --------------------------------------------------------------------------- static


def _destinations(text: str) -> list[tuple[int, str, int]]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        assert len(parts) >= 2, f"bad dispatcher.list line: {line!r}"
        flags = int(parts[2]) if len(parts) > 2 else 0
        rows.append((int(parts[0]), parts[1], flags))
    return rows


def test_dispatcher_list_has_two_nodes_in_the_kayako_set():
    rows = _destinations((KAMAILIO_DIR / "dispatcher.list").read_text())
    define = re.search(r"^#!define KAYAKO_SET (\d+)$", CFG.read_text(), re.M)
    assert define
    nodes = [uri for setid, uri, _ in rows if setid == int(define.group(1))]
    assert len(nodes) >= 2 and len(set(nodes)) == len(nodes)
    for uri in nodes:
        assert re.fullmatch(r"sip:[0-9A-Za-z.\-]+:\d{1,5}(;[^ ]*)?", uri), uri


def test_config_has_probing_and_failover():
    text = CFG.read_text()
    for param in ("ds_ping_interval", "ds_probing_mode", "ds_probing_threshold", "ds_ping_reply_codes"):
        assert f'modparam("dispatcher", "{param}"' in text, param
    assert re.search(r'modparam\("dispatcher", "flags", 2\)', text), "failover needs dispatcher flag 2"
    failure = re.search(r"failure_route\[NODE_FAILED\] \{(.*?)\n\}", text, re.S)
    assert failure and "ds_next_dst()" in failure.group(1) and 'ds_mark_dst("ip")' in failure.group(1)
    assert 't_on_failure("NODE_FAILED")' in text
    # a silent node must never count as alive: tm's own 408 is not an accepted ping reply
    codes = re.search(r'"ds_ping_reply_codes", "([^"]+)"', text)
    assert codes and "408" not in codes.group(1) and "class=4" not in codes.group(1)


# --------------------------------------------------------------------------- kamailio -c


def _check(cfg: Path, ds_list: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(KAMAILIO), "-c", "-f", str(cfg), "-A", f'DS_LIST="{ds_list}"'],
        capture_output=True,
        text=True,
        timeout=30,
    )


@needs_kamailio
def test_kamailio_accepts_the_config():
    result = _check(CFG, KAMAILIO_DIR / "dispatcher.list")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "config file ok" in result.stdout + result.stderr


@needs_kamailio
def test_kamailio_check_rejects_a_broken_config(tmp_path):
    broken = tmp_path / "kamailio.cfg"
    broken.write_text(CFG.read_text().replace("ds_next_dst()", "ds_next_destination()"))
    result = _check(broken, KAMAILIO_DIR / "dispatcher.list")
    assert result.returncode != 0


# --------------------------------------------------------------------------- scale-out


def _free_udp_port(avoid: set[int]) -> int:
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
        if port % 2 == 0 and not {port, port + 1, port + 2, port + 3} & avoid and port < 65000:
            avoid.update(range(port, port + 4))
            return port
    raise RuntimeError("no free UDP port on 127.0.0.1")


class StandIn:
    """One SIPp UAS playing an Asterisk + kayako-voice node; counts the calls it answered."""

    def __init__(self, workdir: Path, port: int, media_port: int) -> None:
        self.workdir, self.port, self.media_port = workdir, port, media_port
        self.proc: subprocess.Popen | None = None
        self.log_names: set[str] = set()  # SIPp names its log after its pid: one per start

    def start(self) -> None:
        log = (self.workdir / f"standin-{self.port}.out").open("a")
        self.proc = subprocess.Popen(
            [str(SIPP), "-sf", "uas_agent.xml", "-i", HOST, "-p", str(self.port), "-mi", HOST]
            + ["-mp", str(self.media_port), "-nostdin", "-trace_logs", "-timeout", "60s"],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.log_names.add(f"uas_agent_{self.proc.pid}_logs.log")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def calls(self) -> int:
        logs = (self.workdir / name for name in self.log_names)
        return sum(p.read_text().count("agent call") for p in logs if p.exists())


def _place_calls(workdir: Path, proxy_port: int, count: int, avoid: set[int]) -> tuple[int, float, str]:
    started = time.monotonic()
    result = subprocess.run(
        [str(SIPP), "-sf", "uac_load.xml", "-s", "100", "-i", HOST, "-p", str(_free_udp_port(avoid))]
        + ["-mi", HOST, "-mp", str(_free_udp_port(avoid)), "-r", "10", "-l", str(count), "-m", str(count)]
        + ["-d", "200", "-nostdin", "-timeout", "20s", "-timeout_error", f"{HOST}:{proxy_port}"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.returncode, time.monotonic() - started, result.stdout[-3000:] + result.stderr[-2000:]


def _node_flags(ctl: str) -> dict[str, str]:
    out = subprocess.run(
        [str(KAMCMD), "-s", ctl, "dispatcher.list"], capture_output=True, text=True, timeout=10
    ).stdout
    return dict(re.findall(r"URI: (\S+)\s+FLAGS: (\S+)", out))


def _wait_for_flag(ctl: str, uri: str, first_letter: str, within_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        if _node_flags(ctl).get(uri, "").startswith(first_letter):
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{uri} never became {first_letter}: {_node_flags(ctl)}")


@needs_scale_out_tools
def test_calls_spread_over_nodes_and_fail_over(tmp_path):
    for item in ("uas_agent.xml", "uac_load.xml", "caller_ulaw.raw", "agent_ulaw.raw"):
        shutil.copy(SIPP_DIR / item, tmp_path / item)
    avoid: set[int] = set()
    node_a = StandIn(tmp_path, _free_udp_port(avoid), _free_udp_port(avoid))
    node_b = StandIn(tmp_path, _free_udp_port(avoid), _free_udp_port(avoid))
    uri_a, uri_b = f"sip:{HOST}:{node_a.port}", f"sip:{HOST}:{node_b.port}"
    ds_list = tmp_path / "dispatcher.list"
    ds_list.write_text(f"1 {uri_a} 0 0 duid=node-a\n1 {uri_b} 0 0 duid=node-b\n")
    proxy_port = _free_udp_port(avoid)
    ctl = f"unix:{tmp_path}/kamailio_ctl"
    kam_log = tmp_path / "kamailio.log"

    nodes = (node_a, node_b)
    for node in nodes:
        node.start()
    with kam_log.open("w") as log:
        proxy = subprocess.Popen(
            [str(KAMAILIO), "-f", str(CFG), "-DD", "-E", "-n", "1", "-m", "32", "-M", "4"]
            + ["-Y", str(tmp_path), "-P", str(tmp_path / "kamailio.pid")]
            + ["-A", f'DS_LIST="{ds_list}"', "-A", f"LISTEN=udp:{HOST}:{proxy_port}"]
            + ["-A", f'CTL_SOCKET="{ctl}"', "-A", "DS_PING_INTERVAL=1"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_flag(ctl, uri_a, "A", 5)
        _wait_for_flag(ctl, uri_b, "A", 5)

        # 1. spread: round-robin over both nodes
        rc, _, out = _place_calls(tmp_path, proxy_port, 4, avoid)
        assert rc == 0, out
        assert node_a.calls() >= 1 and node_b.calls() >= 1, (node_a.calls(), node_b.calls())
        assert node_a.calls() + node_b.calls() == 4

        # 2. OPTIONS probing alone takes a dead node out (no call has touched it yet)
        node_b.kill()
        detected = _wait_for_flag(ctl, uri_b, "I", 8)
        assert detected < 6, "2 missed pings at 1 s should take about 2-3 s"
        a_before, failovers_before = node_a.calls(), kam_log.read_text().count("retried on")
        rc, seconds, out = _place_calls(tmp_path, proxy_port, 2, avoid)
        assert rc == 0, out
        assert node_a.calls() == a_before + 2
        assert kam_log.read_text().count("retried on") == failovers_before, "no failover needed"
        assert seconds < 2.0, "calls must not wait for the dead node's 2 s timeout"

        # 3. the node comes back after 2 good pings and takes calls again
        node_b.start()
        _wait_for_flag(ctl, uri_b, "A", 8)
        b_before = node_b.calls()
        rc, _, out = _place_calls(tmp_path, proxy_port, 4, avoid)
        assert rc == 0, out
        assert node_b.calls() > b_before

        # 4. a node that dies between pings: the INVITE times out and fails over
        node_b.kill()
        a_before = node_a.calls()
        rc, seconds, out = _place_calls(tmp_path, proxy_port, 2, avoid)
        assert rc == 0, out  # every call answered, by node A
        assert node_a.calls() == a_before + 2
        log_text = kam_log.read_text()
        assert f"node {uri_b} failed" in log_text and f"retried on {uri_a}" in log_text
        assert seconds >= 1.8, "the first call waited for fr_timer (2 s) before failing over"
    finally:
        if proxy.poll() is None:
            proxy.send_signal(signal.SIGTERM)
            try:
                proxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proxy.kill()
                proxy.wait()
        for node in nodes:
            node.kill()
