"""RTP through the double: caller audio reaches a plain UDP socket acting as the app, and what
the app sends back is recorded on the SimCall (slin16 big-endian 16 kHz and ulaw 8 kHz)."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from ari_app.ari.client import AriClient
from ari_app.ari.double import AsteriskDouble, SimCall
from ari_app.ari.double.media_peer import FORMATS, build_rtp, decode_payload, encode_frame, parse_rtp

from .conftest import tone


class AppSocket(asyncio.DatagramProtocol):
    """The application's RTP socket: records (arrival, packet) and can send frames back."""

    def __init__(self) -> None:
        self.packets: list[tuple[float, bytes]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.arrived = asyncio.Event()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.packets.append((time.monotonic(), data))
        self.arrived.set()

    async def wait_packets(self, count: int, timeout: float = 2.0) -> None:
        async def _wait() -> None:
            while len(self.packets) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(_wait(), timeout)


async def open_app_socket() -> tuple[AppSocket, int]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(AppSocket, local_addr=("127.0.0.1", 0))
    return protocol, transport.get_extra_info("sockname")[1]


def snr_db(reference: np.ndarray, decoded: np.ndarray) -> float:
    n = min(len(reference), len(decoded))
    ref, out = reference[:n].astype(np.float64), decoded[:n].astype(np.float64)
    noise = np.sum((ref - out) ** 2) + 1e-9
    return 10 * np.log10(np.sum(ref**2) / noise)


async def bridge_call(
    double: AsteriskDouble, client: AriClient, fmt: str, **call_kwargs
) -> tuple[SimCall, AppSocket, tuple]:
    """What CallSession does: answer, externalMedia, wait for its StasisStart, bridge both."""
    started: asyncio.Queue = asyncio.Queue()
    client.on_stasis_start = started.put_nowait
    call = await double.place_call(**call_kwargs)
    cid = (await asyncio.wait_for(started.get(), 2)).channel.id
    await client.answer(cid)
    app_rtp, app_port = await open_app_socket()
    em_id = f"{cid}-media"
    ready = client.expect("StasisStart", em_id)
    await client.external_media(external_host=f"127.0.0.1:{app_port}", format=fmt, channel_id=em_id)
    await asyncio.wait_for(ready, 2)
    bridge = await client.create_bridge("mixing")
    await client.add_channel(bridge.id, [cid, em_id])
    host = await client.get_channel_var(em_id, "UNICASTRTP_LOCAL_ADDRESS")
    port = int(await client.get_channel_var(em_id, "UNICASTRTP_LOCAL_PORT") or 0)
    return call, app_rtp, (host, port)


@pytest.mark.parametrize("fmt", ["ulaw", "alaw"])
async def test_rtp_flows_both_ways(double: AsteriskDouble, client: AriClient, fmt: str) -> None:
    wire = FORMATS[fmt]
    speech = tone(0.4, 440.0)
    call, app_rtp, asterisk_addr = await bridge_call(double, client, fmt, audio=speech)

    # caller -> app: paced 20 ms RTP in the negotiated format, then silence
    await app_rtp.wait_packets(25, timeout=2.5)
    parsed = [parse_rtp(data) for _, data in app_rtp.packets[:25]]
    assert all(p is not None for p in parsed)
    pts, _, seqs, stamps, ssrcs, payloads = zip(*parsed, strict=True)  # type: ignore[misc]
    assert set(pts) == {wire.payload_type} and len(set(ssrcs)) == 1
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    assert all((b - a) % 2**32 == wire.samples_per_frame for a, b in zip(stamps, stamps[1:], strict=False))
    assert {len(p) for p in payloads} == {wire.samples_per_frame * (2 if fmt == "slin16" else 1)}
    heard = np.frombuffer(b"".join(decode_payload(p, wire) for p in payloads[:20]), dtype="<i2")
    reference = np.frombuffer(speech[: len(heard) * 2], dtype="<i2")
    if fmt == "slin16":
        assert np.array_equal(heard, reference)  # big-endian on the wire, exact
    else:
        assert snr_db(reference, heard) > 15.0

    # app -> caller: frames sent to UNICASTRTP_LOCAL_ADDRESS:PORT are recorded, decoded to 16 kHz
    reply = tone(0.2, 660.0)
    assert app_rtp.transport is not None
    for i in range(10):
        frame = reply[i * 640 : (i + 1) * 640]
        app_rtp.transport.sendto(
            build_rtp(wire.payload_type, 100 + i, i * wire.samples_per_frame, 42, encode_frame(frame, wire)),
            asterisk_addr,
        )
    await call.wait_received(0.2, timeout=2)
    assert [p.seq for p in call.received_packets] == list(range(100, 110))
    got = np.frombuffer(call.received_audio(), dtype="<i2")
    want = np.frombuffer(reply, dtype="<i2")
    if fmt == "slin16":
        assert np.array_equal(got, want)
    else:
        assert snr_db(want, got) > 15.0
    arrivals = [p.arrival_s for p in call.received_packets]
    assert arrivals == sorted(arrivals)
    assert double.violations == []


async def test_slin16_reaches_the_app_exactly_but_asterisk_drops_slin16_sent_back(
    double: AsteriskDouble, client: AriClient
) -> None:
    """As a real Asterisk 22.10.1 does: it sends slin16 as payload type 118, but an externalMedia
    channel has no SDP and takes only static payload types back, so the caller hears nothing."""
    wire = FORMATS["slin16"]
    speech = tone(0.4, 440.0)
    call, app_rtp, asterisk_addr = await bridge_call(double, client, "slin16", audio=speech)
    await app_rtp.wait_packets(25, timeout=2.5)
    parsed = [parse_rtp(data) for _, data in app_rtp.packets[:25]]
    assert all(p is not None and p[0] == 118 and len(p[5]) == 640 for p in parsed)
    heard = np.frombuffer(b"".join(decode_payload(p[5], wire) for p in parsed[:20]), dtype="<i2")  # type: ignore[index]
    assert np.array_equal(heard, np.frombuffer(speech[: len(heard) * 2], dtype="<i2"))  # big-endian, exact

    reply = tone(0.2, 660.0)
    assert app_rtp.transport is not None
    for i in range(10):
        frame = encode_frame(reply[i * 640 : (i + 1) * 640], wire)
        app_rtp.transport.sendto(build_rtp(118, 100 + i, i * 320, 42, frame), asterisk_addr)
    media = double.channels[f"{call.id}-media"].media
    assert media is not None
    for _ in range(100):
        if media.unknown_payload_packets == 10:
            break
        await asyncio.sleep(0.01)
    assert media.unknown_payload_packets == 10
    assert call.received_packets == [] and call.received_audio() == b""


async def test_caller_speaks_only_after_the_agent_finished(double: AsteriskDouble, client: AriClient) -> None:
    answer = tone(0.2, 300.0)

    async def script(call: SimCall) -> None:
        await call.wait_agent_quiet(quiet_s=0.2, timeout=3)
        await call.say(answer)

    call, app_rtp, asterisk_addr = await bridge_call(double, client, "ulaw", audio=script)
    greeting = tone(0.2, 500.0)
    assert app_rtp.transport is not None
    for i in range(10):
        app_rtp.transport.sendto(
            build_rtp(0, i, i * 160, 7, encode_frame(greeting[i * 640 : (i + 1) * 640], FORMATS["ulaw"])),
            asterisk_addr,
        )
        await asyncio.sleep(0.02)
    greeting_done = time.monotonic()
    await call.wait_received(0.2, timeout=2)

    def voiced(data: bytes) -> bool:
        parsed = parse_rtp(data)
        assert parsed is not None
        samples = np.frombuffer(decode_payload(parsed[5], FORMATS["ulaw"]), dtype="<i2").astype(float)
        return float(np.sqrt(np.mean(samples**2))) > 500

    async def first_voiced() -> float:
        while True:
            for arrival, data in app_rtp.packets:
                if voiced(data):
                    return arrival
            app_rtp.arrived.clear()
            await app_rtp.arrived.wait()

    spoke_at = await asyncio.wait_for(first_voiced(), 3)
    assert spoke_at >= greeting_done + 0.15  # silence packets only until the agent went quiet
    for _ in range(100):
        if call.speech_frames_sent == 10:
            break
        await asyncio.sleep(0.02)
    assert call.speech_frames_sent == 10 and not call.speaking


async def test_media_stops_when_the_channel_leaves_the_bridge(
    double: AsteriskDouble, client: AriClient
) -> None:
    call, app_rtp, _ = await bridge_call(double, client, "slin16")
    await app_rtp.wait_packets(3)
    await client.hangup(call.id)
    await asyncio.sleep(0.1)
    count = len(app_rtp.packets)
    await asyncio.sleep(0.1)
    assert len(app_rtp.packets) == count
    assert double.violations == []


def test_malformed_rtp_is_rejected_by_the_parser() -> None:
    assert parse_rtp(b"\x00" * 5) is None
    assert parse_rtp(b"\x40" + b"\x00" * 20) is None  # version 1
    packet = build_rtp(0, 1, 160, 9, b"\xff" * 160, marker=True)
    pt, marker, seq, ts, ssrc, payload = parse_rtp(packet)  # type: ignore[misc]
    assert (pt, marker, seq, ts, ssrc, len(payload)) == (0, True, 1, 160, 9, 160)
