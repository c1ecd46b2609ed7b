"""Events over the WebSocket: hang-up orders, DTMF, odd sequences, unknown types, reconnects."""

from __future__ import annotations

import asyncio

import pytest

from ari_app.ari.client import AriClient
from ari_app.ari.double import AsteriskDouble, DoubleBug
from ari_app.ari.errors import ChannelGone

from .conftest import APP


async def drain(queue: asyncio.Queue, count: int, timeout: float = 2.0) -> list:
    return [await asyncio.wait_for(queue.get(), timeout) for _ in range(count)]


async def started_call(double: AsteriskDouble, client: AriClient, **kwargs) -> tuple:
    started: asyncio.Queue = asyncio.Queue()
    client.on_stasis_start = started.put_nowait
    call = await double.place_call(**kwargs)
    start = await asyncio.wait_for(started.get(), 2)
    events: asyncio.Queue = asyncio.Queue()
    client.subscribe(start.channel.id, events)
    return call, events


async def test_dtmf_and_caller_hangup_in_asterisk_order(double: AsteriskDouble, client: AriClient) -> None:
    call, events = await started_call(double, client)
    await call.press("0")
    dtmf = (await drain(events, 1))[0]
    assert dtmf.type == "ChannelDtmfReceived" and dtmf.digit == "0" and dtmf.channel.id == call.id
    await call.hangup()
    assert [e.type for e in await drain(events, 3)] == [
        "ChannelHangupRequest",
        "StasisEnd",
        "ChannelDestroyed",
    ]
    assert events.empty() and call.gone
    with pytest.raises(ValueError):
        await call.press("x")


async def test_two_calls_route_to_their_own_subscribers(double: AsteriskDouble, client: AriClient) -> None:
    first, q1 = await started_call(double, client, caller_number="+15550101")
    second, q2 = await started_call(double, client, caller_number="+15550102")
    await second.press("7")
    await first.press("3")
    assert (await drain(q1, 1))[0].digit == "3"
    assert (await drain(q2, 1))[0].digit == "7"
    assert q1.empty() and q2.empty()


async def test_vanished_channel_gives_channel_gone(double: AsteriskDouble, client: AriClient) -> None:
    call, events = await started_call(double, client)
    await call.vanish()
    assert [e.type for e in await drain(events, 1)] == ["ChannelDestroyed"]
    with pytest.raises(ChannelGone) as err:
        await client.hangup(call.id)
    assert err.value.status == 404


async def test_unusual_order_duplicates_and_unknown_events(double: AsteriskDouble, client: AriClient) -> None:
    call, events = await started_call(double, client)
    await double.inject_event(
        {"type": "FutureThing", "channel": {"id": call.id}, "novel": True}, validate=False
    )
    await double.inject_event({"type": "ChannelTalkingStarted", "channel": call.channel.to_json()})
    await call.hangup(order=("ChannelDestroyed", "StasisEnd"), duplicate=True)
    got = await drain(events, 4)
    assert [e.type for e in got] == ["ChannelDestroyed", "ChannelDestroyed", "StasisEnd", "StasisEnd"]
    assert client.connected  # nothing above broke the event loop
    assert any("FutureThing" in w for w in client.spec_warnings)  # it did arrive, and was logged
    with pytest.raises(DoubleBug):  # the double refuses to send an event the spec does not know
        await double.inject_event({"type": "FutureThing"})
    double.errors.clear()


async def test_malformed_messages_are_ignored(double: AsteriskDouble, client: AriClient) -> None:
    call, events = await started_call(double, client)
    for ws in double._sockets[APP]:
        await ws.send_str("not json")
        await ws.send_str('{"type": "StasisEnd", "application": "kayako-voice"}')
    await call.press("1")
    assert (await drain(events, 1))[0].type == "ChannelDtmfReceived"
    assert client.connected


async def test_reconnect_after_websocket_drop(double: AsteriskDouble, client: AriClient) -> None:
    reconnected = asyncio.Event()
    client.on_reconnect = reconnected.set
    call, events = await started_call(double, client)
    await double.drop_websocket()
    await asyncio.wait_for(reconnected.wait(), 3)
    await double.wait_app(APP)
    assert client.connections == 2
    # the call survived the drop and its events still reach the same subscriber
    assert [c.id for c in await client.list_channels()] == [call.id]
    await call.press("9")
    assert (await drain(events, 1))[0].digit == "9"


async def test_reconnect_after_asterisk_restart(double: AsteriskDouble, client: AriClient) -> None:
    reconciled: list[list[str]] = []

    async def reconcile() -> None:
        reconciled.append([c.id for c in await client.list_channels()])

    client.on_reconnect = reconcile
    call, _ = await started_call(double, client)
    await double.restart(down_s=0.3)
    assert call.gone and double.restarts == 1
    await asyncio.wait_for(client.wait_connected(3), 3)
    for _ in range(100):
        if reconciled:
            break
        await asyncio.sleep(0.02)
    assert reconciled == [[]]  # after a restart Asterisk has no channels
    assert client.connections == 2
    new_call = await double.place_call()
    assert new_call.id != call.id


async def test_connect_retries_until_asterisk_is_up(spec) -> None:
    double = AsteriskDouble(spec=spec)
    await double.start()
    port = double.port
    await double.stop()
    client = AriClient(
        f"http://127.0.0.1:{port}", "kayako-voice", "kayako-voice", APP, backoff_initial_s=0.05
    )
    with pytest.raises(Exception, match="Cannot connect|refused|connect"):
        await client.connect(timeout_s=0.5)
    await client.close()
