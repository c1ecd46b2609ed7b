"""Typed events and per-channel routing: right subscriber, new calls, unknown events ignored."""

from __future__ import annotations

import asyncio

import pytest

from ari_app.ari.models import (
    ChannelDestroyed,
    ChannelDtmfReceived,
    Dial,
    MalformedEvent,
    PlaybackFinished,
    StasisStart,
    UnknownEvent,
    parse_event,
)
from ari_app.ari.router import EventRouter

from .test_spec import channel_json, event


def chan(cid: str) -> dict:
    return {**channel_json(), "id": cid}


def test_parse_known_events() -> None:
    start = parse_event(event("StasisStart", args=["inbound"], channel=chan("c1")))
    assert (
        isinstance(start, StasisStart)
        and start.args == ("inbound",)
        and start.channel.caller.number == "+15550100"
    )
    gone = parse_event(event("ChannelDestroyed", cause=17, cause_txt="User busy", channel=chan("c1")))
    assert isinstance(gone, ChannelDestroyed) and gone.cause == 17
    dtmf = parse_event(event("ChannelDtmfReceived", digit="0", duration_ms=100, channel=chan("c1")))
    assert isinstance(dtmf, ChannelDtmfReceived) and dtmf.digit == "0"
    dial = parse_event(event("Dial", peer=chan("a1"), caller=chan("c1"), dialstatus="BUSY"))
    assert isinstance(dial, Dial) and dial.channel_ids() == ("a1", "c1")
    pb = parse_event(
        event(
            "PlaybackFinished",
            playback={"id": "p1", "media_uri": "sound:x", "target_uri": "channel:c1", "state": "done"},
        )
    )
    assert isinstance(pb, PlaybackFinished) and "c1" in pb.channel_ids()


def test_unknown_and_malformed_events() -> None:
    unknown = parse_event(event("FutureThing", channel=chan("c1"), whatever=[1]))
    assert isinstance(unknown, UnknownEvent) and unknown.raw["whatever"] == [1]
    with pytest.raises(MalformedEvent, match="missing 'args'"):
        parse_event(event("StasisStart", channel=chan("c1")))
    with pytest.raises(MalformedEvent):
        parse_event(["not", "an", "object"])
    with pytest.raises(MalformedEvent, match="Channel: missing 'id'"):
        parse_event(event("StasisEnd", channel={"name": "x"}))


async def test_routing_to_the_right_subscriber() -> None:
    router = EventRouter()
    q1: asyncio.Queue = asyncio.Queue()
    q2: asyncio.Queue = asyncio.Queue()
    new_calls: list[str] = []
    router.on_stasis_start = lambda e: new_calls.append(e.channel.id)
    router.subscribe("c1", q1)
    router.subscribe("c2", q2)
    router.dispatch(parse_event(event("StasisStart", args=[], channel=chan("c3"))))
    router.dispatch(parse_event(event("ChannelDtmfReceived", digit="5", duration_ms=90, channel=chan("c2"))))
    router.dispatch(parse_event(event("StasisEnd", channel=chan("c1"))))
    assert new_calls == ["c3"]
    assert q1.get_nowait().type == "StasisEnd" and q1.empty()
    assert q2.get_nowait().digit == "5" and q2.empty()
    # a Dial naming both of one session's channels reaches that session once
    router.subscribe("a1", q1)
    router.dispatch(parse_event(event("Dial", peer=chan("a1"), caller=chan("c1"), dialstatus="ANSWER")))
    assert q1.qsize() == 1
    router.unsubscribe("c1")
    router.unsubscribe("a1", q1)
    router.dispatch(parse_event(event("StasisEnd", channel=chan("c1"))))
    assert q1.qsize() == 1 and router.unrouted == 1


async def test_expectation_takes_the_stasis_start_of_a_channel_we_created() -> None:
    router = EventRouter()
    new_calls: list[str] = []
    router.on_stasis_start = lambda e: new_calls.append(e.channel.id)
    ready = router.expect("StasisStart", "em1")
    router.dispatch(parse_event(event("StasisEnd", channel=chan("em1"))))
    assert not ready.done()
    router.dispatch(parse_event(event("StasisStart", args=[], channel=chan("em1"))))
    assert (await asyncio.wait_for(ready, 1)).channel.id == "em1"
    assert new_calls == []


async def test_failing_callbacks_and_unknown_events_never_break_routing() -> None:
    router = EventRouter()
    seen: list[str] = []

    def broken(_event) -> None:
        raise RuntimeError("boom")

    async def async_sink(e) -> None:
        seen.append(e.type)

    router.subscribe("c1", broken)
    router.subscribe("c1", async_sink)
    router.dispatch(parse_event(event("FutureThing", channel=chan("c1"))))
    router.dispatch(parse_event(event("StasisEnd", channel=chan("c1"))))
    await asyncio.sleep(0.01)
    assert seen == ["StasisEnd"]
