"""RtpEndpoint over real UDP sockets on 127.0.0.1: decoding, reordering and concealment,
drops that are counted and never raised, symmetric RTP, pacing, playout events, flush,
bounded memory."""

import asyncio
import logging
import time

import numpy as np
import pytest

from media.codecs import codec_for, ulaw_encode
from media.frames import FRAME_BYTES
from media.rtp import RtpPacket, build_rtp, parse_rtp
from media.rtp_endpoint import PlayoutQueueFull, RtpEndpoint

PEER_SSRC = 0x11223344


class Peer(asyncio.DatagramProtocol):
    """Plays Asterisk: a UDP socket that sends RTP to the endpoint and records what comes back."""

    def __init__(self) -> None:
        self.received: list[tuple[float, bytes]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data, addr) -> None:
        self.received.append((time.monotonic(), data))

    @property
    def address(self) -> tuple[str, int]:
        return self.transport.get_extra_info("sockname")[:2]

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        self.transport.sendto(data, to)

    def packets(self) -> list[RtpPacket]:
        return [parse_rtp(d) for _, d in self.received]


@pytest.fixture
async def peer():
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
    yield protocol
    protocol.transport.close()


async def wait_for(predicate, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def tone(freq: float, n: int, amp: float = 8000.0) -> np.ndarray:
    return np.round(amp * np.sin(2 * np.pi * freq * np.arange(n) / 16000)).astype("<i2")


def level_frame(value: int) -> bytes:
    return np.full(320, value, dtype="<i2").tobytes()


def slin_packet(seq: int, frame: bytes, ssrc: int = PEER_SSRC, pt: int = 118) -> bytes:
    wire = np.frombuffer(frame, dtype="<i2").astype(">i2").tobytes()
    return build_rtp(RtpPacket(pt, seq & 0xFFFF, seq * 320, ssrc, wire))


async def started(codec_name: str = "slin16", **kwargs) -> tuple[RtpEndpoint, list]:
    frames: list[tuple[bytes, float]] = []
    endpoint = RtpEndpoint(codec_for(codec_name), on_frame=lambda f, t: frames.append((f, t)), **kwargs)
    await endpoint.start()
    return endpoint, frames


async def test_slin16_packets_decode_to_the_exact_pcm(peer):
    endpoint, frames = await started("slin16")
    signal = tone(440, 320 * 8)
    try:
        for i in range(8):
            peer.send(
                slin_packet(1000 + i, signal[i * 320 : (i + 1) * 320].tobytes()), endpoint.local_address
            )
            await asyncio.sleep(0.02)
        await wait_for(lambda: len(frames) == 8)
        assert b"".join(f for f, _ in frames) == signal.tobytes()
        times = [t for _, t in frames]
        assert times == sorted(times)
        assert endpoint.remote_address == peer.address  # learned from the first packet
        assert endpoint.stats.lost == 0 and endpoint.stats.dropped_malformed == 0
    finally:
        await endpoint.close()


async def test_ulaw_packets_decode_to_a_16k_tone(peer):
    endpoint, frames = await started("ulaw")
    t = np.arange(160 * 25) / 8000
    signal8k = np.round(8000 * np.sin(2 * np.pi * 1000 * t)).astype("<i2")
    try:
        for i in range(25):
            payload = ulaw_encode(signal8k[i * 160 : (i + 1) * 160].tobytes())
            peer.send(build_rtp(RtpPacket(0, i, i * 160, PEER_SSRC, payload)), endpoint.local_address)
            await asyncio.sleep(0.02)
        await wait_for(lambda: len(frames) == 25)
        assert all(len(f) == FRAME_BYTES for f, _ in frames)
        y = np.frombuffer(b"".join(f for f, _ in frames[5:]), dtype="<i2").astype(float)
        spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
        assert abs(np.argmax(spectrum) * 16000 / y.size - 1000) < 15
        assert abs(np.sqrt(np.mean(y**2)) - 8000 / np.sqrt(2)) < 400
    finally:
        await endpoint.close()


async def test_reordered_and_lost_packets_over_udp(peer):
    endpoint, frames = await started("slin16")
    try:
        order = [0, 1, 3, 2, 4, 6, 7, 8, 9, 10]  # 2 and 3 swapped, 5 lost
        for seq in order:
            peer.send(slin_packet(seq, level_frame(100 * (seq + 1))), endpoint.local_address)
            await asyncio.sleep(0.01)
        await wait_for(lambda: len(frames) == 11)
        levels = [np.frombuffer(f, dtype="<i2") for f, _ in frames]
        assert [int(x[0]) for x in levels[:5]] == [100, 200, 300, 400, 500]
        concealed = levels[5]
        assert concealed[0] == 500 and 200 < concealed[-1] < 300  # last frame repeated, fading
        assert [int(x[0]) for x in levels[6:]] == [700, 800, 900, 1000, 1100]
        assert endpoint.stats.reordered == 1
        assert endpoint.stats.lost == 1 and endpoint.stats.concealed == 1
    finally:
        await endpoint.close()


async def test_bad_packets_are_counted_and_dropped_never_raised(peer, caplog):
    endpoint, frames = await started("slin16", max_packet_bytes=1500)
    to = endpoint.local_address
    try:
        peer.send(slin_packet(0, level_frame(1)), to)  # locks SSRC
        await wait_for(lambda: len(frames) == 1)
        with caplog.at_level(logging.WARNING, logger="media.rtp_endpoint"):
            peer.send(b"\x00garbage", to)  # too short
            peer.send(bytes([0x40]) + bytes(20), to)  # version 1
            peer.send(bytes([0x8F, 118]) + bytes(20), to)  # 15 CSRCs that are not there
            peer.send(slin_packet(1, level_frame(2), pt=0), to)  # wrong payload type
            peer.send(slin_packet(1, level_frame(3), ssrc=0x99), to)  # another source
            peer.send(slin_packet(1, level_frame(4)) + bytes(1000), to)  # 1652 bytes > 1500
            odd = build_rtp(RtpPacket(118, 1, 320, PEER_SSRC, b"\x01\x02\x03"))
            peer.send(odd, to)  # slin16 payload that is not whole samples
            peer.send(slin_packet(2, level_frame(5)), to)
            await wait_for(lambda: endpoint.stats.packets_in == 9)
        s = endpoint.stats
        assert s.dropped_malformed == 4
        assert s.dropped_wrong_payload == 1
        assert s.dropped_foreign_ssrc == 1
        assert s.dropped_oversize == 1
        assert [int(np.frombuffer(f, dtype="<i2")[0]) for f, _ in frames] == [1, 5]
        reasons = {r.reason for r in caplog.records if hasattr(r, "reason")}
        assert {"malformed", "wrong_payload", "foreign_ssrc", "oversize", "bad_payload"} <= reasons
        assert all(getattr(r, "call_id", None) is not None for r in caplog.records)
    finally:
        await endpoint.close()


def test_new_ssrc_is_taken_over_only_after_a_gap():
    endpoint = RtpEndpoint(codec_for("slin16"))
    peer_a, peer_b = ("127.0.0.1", 4000), ("127.0.0.1", 5000)
    endpoint.receive_datagram(slin_packet(0, level_frame(1), ssrc=0xA), peer_a, now=10.0)
    endpoint.receive_datagram(slin_packet(1, level_frame(1), ssrc=0xA), peer_a, now=10.02)
    endpoint.receive_datagram(slin_packet(900, level_frame(1), ssrc=0xB), peer_b, now=10.5)
    assert endpoint.stats.dropped_foreign_ssrc == 1
    assert endpoint.remote_address == peer_a
    endpoint.receive_datagram(slin_packet(901, level_frame(1), ssrc=0xB), peer_b, now=11.5)
    assert endpoint.stats.ssrc_changes == 1
    assert endpoint.remote_address == peer_b
    endpoint.receive_datagram(slin_packet(2, level_frame(1), ssrc=0xA), peer_a, now=11.52)
    assert endpoint.stats.dropped_foreign_ssrc == 2


async def test_symmetric_rtp_sends_nothing_until_the_peer_is_known(peer):
    endpoint, _ = await started("ulaw")
    try:
        endpoint.play(tone(1000, 3200).tobytes(), tag="greeting")  # queued before the peer is known
        await asyncio.sleep(0.1)
        assert endpoint.stats.packets_out == 0 and endpoint.queued_ms == 200
        payload = ulaw_encode(bytes(320))
        peer.send(build_rtp(RtpPacket(0, 7, 0, PEER_SSRC, payload)), endpoint.local_address)
        await wait_for(lambda: len(peer.received) >= 12)
        packets = peer.packets()
        assert all(p.payload_type == 0 and len(p.payload) == 160 for p in packets)
        assert packets[0].marker  # the greeting starts a talk spurt
    finally:
        await endpoint.close()


async def test_outgoing_packets_are_paced_numbered_and_carry_the_audio(peer):
    events = []
    endpoint = RtpEndpoint(
        codec_for("slin16"), remote=peer.address, comfort_noise=False, on_playout=events.append
    )
    await endpoint.start()
    try:
        await wait_for(lambda: len(peer.received) >= 3)  # digital silence while idle
        speech = tone(500, 320 * 10 + 100)  # 10 frames and a bit: padded to 11
        endpoint.play(speech.tobytes(), tag="answer-1")
        assert endpoint.is_playing and endpoint.queued_ms == 220
        await wait_for(lambda: any(e.kind == "finished" for e in events))
        await wait_for(lambda: len(peer.received) >= 30)
    finally:
        await endpoint.close()
    packets = peer.packets()
    seqs = [p.sequence for p in packets]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    stamps = [p.timestamp for p in packets]
    steps = [(b - a) & 0xFFFFFFFF for a, b in zip(stamps, stamps[1:], strict=False)]
    audio = [i for i, p in enumerate(packets) if p.payload != bytes(640)]
    # one frame per step, except into the reply's first packet, sent before its slot was due
    assert all(step % 320 == 0 and step > 0 for i, step in enumerate(steps, 1) if i != audio[0])
    assert 0 <= steps[audio[0] - 1] <= 320
    assert {p.ssrc for p in packets} == {endpoint.ssrc}
    assert len(audio) == 11 and audio == list(range(audio[0], audio[0] + 11))
    sent = b"".join(np.frombuffer(packets[i].payload, dtype=">i2").astype("<i2").tobytes() for i in audio)
    assert sent[: len(speech.tobytes())] == speech.tobytes()
    assert sent[len(speech.tobytes()) :] == bytes(11 * 640 - len(speech.tobytes()))
    assert [p.marker for p in packets].count(True) == 1 and packets[audio[0]].marker
    assert [e.kind for e in events] == ["started", "finished"]
    assert {e.tag for e in events} == {"answer-1"}
    assert 0.12 < events[1].at - events[0].at < 2.0  # 11 frames paced, not sent in one burst
    assert not endpoint.is_playing
    assert endpoint.stats.comfort_frames == len(packets) - 11


async def test_a_reply_starts_at_once_and_timestamps_keep_to_real_time(peer):
    """A reply queued between two slots goes out at once, not up to 20 ms later; the packets
    after it keep 20 ms, and over several replies the timestamps follow the wall clock."""
    events = []
    endpoint = RtpEndpoint(
        codec_for("slin16"), remote=peer.address, comfort_noise=False, on_playout=events.append
    )
    await endpoint.start()
    queued_at = []
    try:
        await wait_for(lambda: len(peer.received) >= 3)
        for i in range(5):
            seen = len(peer.received)
            await wait_for(lambda seen=seen: len(peer.received) > seen)  # a slot was just sent
            await asyncio.sleep(0.006)  # the next one is ~14 ms off
            queued_at.append(time.monotonic())
            endpoint.play(tone(500, 320 * 3).tobytes(), tag=f"reply-{i}")
            await wait_for(lambda i=i: any(e.kind == "finished" and e.tag == f"reply-{i}" for e in events))
            await asyncio.sleep(0.05)
    finally:
        await endpoint.close()
    started = [e.at for e in events if e.kind == "started"]
    assert len(started) == 5
    assert all(s - q < 0.008 for s, q in zip(started, queued_at, strict=True))  # not at the next slot
    packets = peer.packets()
    arrivals = [t for t, _ in peer.received]
    firsts = [i for i, p in enumerate(packets) if p.marker]
    for i in firsts:  # the reply's next packets come 20 ms apart, from its first
        assert 0.012 < arrivals[i + 1] - arrivals[i] < 0.03
    # timestamp against arrival: no drift ahead of real time, whatever the five early starts
    offsets = [
        (p.timestamp - packets[0].timestamp) / 16000 - (t - arrivals[0])
        for p, t in zip(packets, arrivals, strict=True)
    ]
    assert max(offsets) - min(offsets) < 0.02


async def test_flush_stops_the_audio_within_one_frame(peer):
    events = []
    endpoint = RtpEndpoint(codec_for("slin16"), remote=peer.address, on_playout=events.append)
    await endpoint.start()
    try:
        endpoint.play(tone(700, 16000).tobytes(), tag="long")  # 1 s
        endpoint.play(tone(700, 3200).tobytes(), tag="next")
        await wait_for(lambda: any(e.kind == "started" for e in events))
        await asyncio.sleep(0.1)
        flushed_at = time.monotonic()
        dropped = endpoint.flush()
        assert dropped > 35 and not endpoint.is_playing
        await asyncio.sleep(0.15)
    finally:
        await endpoint.close()
    loud_after = [
        t
        for t, d in peer.received
        if t > flushed_at and np.abs(np.frombuffer(parse_rtp(d).payload, dtype=">i2")).max() > 1000
    ]
    assert len(loud_after) <= 1  # at most the packet already on the wire
    tail = [np.frombuffer(parse_rtp(d).payload, dtype=">i2") for _, d in peer.received[-3:]]
    assert all(0 < np.abs(x).max() < 100 for x in tail)  # comfort noise: quiet, not digital zero
    assert [(e.kind, e.tag) for e in events] == [
        ("started", "long"),
        ("flushed", "long"),
        ("flushed", "next"),
    ]
    assert endpoint.flush() == 0


async def test_close_flushes_queued_audio_and_callbacks_errors_are_contained(peer, caplog):
    events = []

    def bad_on_frame(frame, at):
        raise RuntimeError("consumer bug")

    endpoint = RtpEndpoint(
        codec_for("slin16"), on_frame=bad_on_frame, on_playout=events.append, call_id="c-42"
    )
    await endpoint.start()
    endpoint.play(tone(300, 640).tobytes(), tag="t")
    with caplog.at_level(logging.ERROR, logger="media.rtp_endpoint"):
        peer.send(slin_packet(0, level_frame(1)), endpoint.local_address)
        peer.send(slin_packet(1, level_frame(1)), endpoint.local_address)
        await wait_for(lambda: endpoint.stats.packets_in == 2)
    await endpoint.close()
    assert any(getattr(r, "call_id", "") == "c-42" and r.exc_info for r in caplog.records)
    assert events[-1].kind == "flushed"
    await endpoint.close()  # idempotent


def test_ten_minutes_of_input_keep_buffers_small():
    frames = []
    endpoint = RtpEndpoint(codec_for("ulaw"), on_frame=lambda f, t: frames.append(len(f)))
    payload = ulaw_encode(bytes(320))
    order = list(range(30000))
    for i in range(10, len(order) - 2, 50):
        order[i], order[i + 1] = order[i + 1], order[i]
    addr = ("127.0.0.1", 4000)
    lost = {n for n in range(len(order)) if n % 997 == 500}  # lose a packet now and then
    swapped_and_kept = sum(1 for i in range(10, len(order) - 2, 50) if i not in lost and i + 1 not in lost)
    now = 0.0
    for n, seq in enumerate(order):
        if n in lost:
            continue
        now += 0.02
        data = build_rtp(RtpPacket(0, seq & 0xFFFF, seq * 160 & 0xFFFFFFFF, PEER_SSRC, payload))
        endpoint.receive_datagram(data, addr, now=now)
        assert endpoint.jitter_buffered <= 4
    assert len(endpoint._inbound) < FRAME_BYTES
    s = endpoint.stats
    assert s.packets_in == 30000 - len(lost) and s.lost == len(lost) == s.concealed
    assert s.reordered == swapped_and_kept
    assert len(frames) >= 29990 and set(frames) == {FRAME_BYTES}


def test_playout_queue_is_capped():
    endpoint = RtpEndpoint(codec_for("slin16"), max_queue_s=1.0)
    endpoint.play(bytes(640 * 40))
    with pytest.raises(PlayoutQueueFull):
        endpoint.play(bytes(640 * 11))
    assert endpoint.queued_ms == 800  # nothing of the refused audio was queued
    endpoint.play(bytes(640 * 10))
    with pytest.raises(ValueError):
        endpoint.play(b"\x01")  # not whole samples
    endpoint.play(b"")  # nothing to do
    assert endpoint.queued_ms == 1000
