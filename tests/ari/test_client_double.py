"""The client against the Asterisk double: every operation we use, spec-clean, and the errors."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from ari_app.ari.client import AriClient, pjsip_header_var
from ari_app.ari.double import AsteriskDouble
from ari_app.ari.errors import AriAuthError, AriError, BridgeGone, ChannelGone, ChannelNotInStasis
from ari_app.ari.models import (
    ChannelDestroyed,
    ChannelStateChange,
    ChannelVarset,
    PlaybackFinished,
    StasisEnd,
    StasisStart,
)

from .conftest import APP


async def next_of(queue: asyncio.Queue, kind: type, timeout: float = 2.0):
    while True:
        item = await asyncio.wait_for(queue.get(), timeout)
        if isinstance(item, kind):
            return item


async def test_caller_channel_operations(double: AsteriskDouble, client: AriClient) -> None:
    starts: asyncio.Queue = asyncio.Queue()
    client.on_stasis_start = starts.put_nowait
    call = await double.place_call("+15550100", "Ada")
    start = await asyncio.wait_for(starts.get(), 2)
    cid = start.channel.id
    assert cid == call.id and start.channel.state == "Ring" and start.channel.name.startswith("PJSIP/trunk-")
    assert start.channel.caller.number == "+15550100" and start.channel.caller.name == "Ada"
    events: asyncio.Queue = asyncio.Queue()
    client.subscribe(cid, events)

    await client.ring(cid)
    await client.answer(cid)
    assert (await next_of(events, ChannelStateChange)).channel.state == "Up"
    assert call.answered and call.rings == 1
    assert (await client.get_channel(cid)).state == "Up"
    assert [c.id for c in await client.list_channels()] == [cid]

    await client.set_channel_var(cid, "KAYAKO_CASE_ID", "4711")
    varset = await next_of(events, ChannelVarset)
    assert (varset.variable, varset.value) == ("KAYAKO_CASE_ID", "4711")
    assert await client.get_channel_var(cid, "KAYAKO_CASE_ID") == "4711"
    assert await client.get_channel_var(cid, "CALLERID(num)") == "+15550100"
    assert await client.get_channel_var(cid, "NOT_SET") is None

    playback = await client.play(cid, "sound:hello-world")
    assert playback.target_id == cid
    finished = await next_of(events, PlaybackFinished)
    assert finished.playback.id == playback.id and finished.playback.state == "done"
    assert call.played == ["sound:hello-world"]

    await client.hangup(cid, reason="normal")
    assert isinstance(await next_of(events, StasisEnd), StasisEnd)
    destroyed = await next_of(events, ChannelDestroyed)
    assert destroyed.cause == 16 and call.gone
    with pytest.raises(ChannelGone):
        await client.answer(cid)
    with pytest.raises(ChannelGone):
        await client.get_channel_var(cid, "KAYAKO_CASE_ID")
    assert double.violations == []


async def test_bridge_operations_and_external_media_ordering(
    double: AsteriskDouble, client: AriClient
) -> None:
    new: asyncio.Queue = asyncio.Queue()
    client.on_stasis_start = new.put_nowait
    call = await double.place_call()
    cid = (await asyncio.wait_for(new.get(), 2)).channel.id
    await client.answer(cid)
    bridge = await client.create_bridge("mixing", name="call-1")
    assert bridge.bridge_type == "mixing" and bridge.channels == ()

    em_id = "em-" + cid
    client.subscribe(em_id, asyncio.Queue())
    ready = client.expect("StasisStart", em_id)
    em = await client.external_media(external_host="127.0.0.1:40000", format="slin16", channel_id=em_id)
    assert em.id == em_id and em.name.startswith("UnicastRTP/127.0.0.1:40000-")
    # Asterisk 22: the channel is not in Stasis until its own StasisStart arrives
    with pytest.raises(ChannelNotInStasis) as info:
        await client.add_channel(bridge.id, [cid, em_id])
    assert info.value.status == 422 and "Channel not in Stasis application" in info.value.message
    await asyncio.wait_for(ready, 2)
    assert new.empty()  # the externalMedia StasisStart was ours, not a new call
    await client.add_channel(bridge.id, [cid, em_id])
    assert set((await client.get_bridge(bridge.id)).channels) == {cid, em_id}
    assert await client.get_channel_var(em_id, "UNICASTRTP_LOCAL_ADDRESS") == "127.0.0.1"
    port = int(await client.get_channel_var(em_id, "UNICASTRTP_LOCAL_PORT") or 0)
    assert port > 0 and call.bridged

    await client.remove_channel(bridge.id, em_id)
    assert (await client.get_bridge(bridge.id)).channels == (cid,)
    with pytest.raises(AriError) as info:
        await client.remove_channel(bridge.id, em_id)
    assert info.value.status == 422
    await client.destroy_bridge(bridge.id)
    with pytest.raises(BridgeGone):
        await client.get_bridge(bridge.id)
    with pytest.raises(ChannelGone):  # Asterisk: 400 "Channel not found" on addChannel
        other = await client.create_bridge()
        await client.add_channel(other.id, "no-such-channel")
    await client.hangup(em_id)
    assert double.violations == []


async def test_originate_to_agent_records_variables_and_sip_header(
    double: AsteriskDouble, client: AriClient
) -> None:
    call = await double.place_call()
    await asyncio.sleep(0.05)
    agent_events: asyncio.Queue = asyncio.Queue()
    client.subscribe("agent-1", agent_events)
    channel = await client.originate(
        "PJSIP/agent100",
        app_args=["transfer", call.id],
        caller_id='"Kayako" <+15550100>',
        timeout_s=20,
        channel_id="agent-1",
        variables={pjsip_header_var("X-Kayako-Case-Id"): "4711", "KAYAKO_CASE_ID": "4711"},
    )
    assert channel.id == "agent-1" and channel.name.startswith("PJSIP/agent100-")
    leg = await double.next_agent_leg()
    assert leg.endpoint == "PJSIP/agent100" and leg.sip_headers == {"X-Kayako-Case-Id": "4711"}
    assert leg.originate_variables["KAYAKO_CASE_ID"] == "4711"
    assert (leg.channel.caller_name, leg.channel.caller_number) == ("Kayako", "+15550100")
    await leg.answer()
    start = await next_of(agent_events, StasisStart)
    assert start.args == ("transfer", call.id) and start.channel.state == "Up"
    assert double.violations == []


@pytest.mark.parametrize(
    ("outcome", "cause", "status"), [("busy", 17, "BUSY"), ("no_answer", 19, "NOANSWER")]
)
async def test_originate_busy_or_no_answer(
    double: AsteriskDouble, client: AriClient, outcome, cause, status
) -> None:
    events: asyncio.Queue = asyncio.Queue()
    client.subscribe("agent-2", events)
    await client.originate("PJSIP/agent100", channel_id="agent-2")
    leg = await double.next_agent_leg()
    await getattr(leg, outcome)()
    seen = [await asyncio.wait_for(events.get(), 2) for _ in range(3)]
    assert [e.type for e in seen] == ["Dial", "Dial", "ChannelDestroyed"]
    assert seen[0].dialstatus == "" and seen[1].dialstatus == status and seen[2].cause == cause
    assert double.violations == []


async def test_originate_times_out_without_decision(double: AsteriskDouble, client: AriClient) -> None:
    events: asyncio.Queue = asyncio.Queue()
    client.subscribe("agent-3", events)
    await client.originate("PJSIP/agent100", channel_id="agent-3", timeout_s=1)
    destroyed = await next_of(events, ChannelDestroyed, timeout=3)
    assert destroyed.cause == 19


async def test_continue_in_dialplan_and_redirect(double: AsteriskDouble, client: AriClient) -> None:
    first = await double.place_call()
    second = await double.place_call()
    events: asyncio.Queue = asyncio.Queue()
    client.subscribe(first.id, events)
    await client.continue_in_dialplan(first.id, context="kayako-overflow", extension="s", priority=1)
    assert isinstance(await next_of(events, StasisEnd), StasisEnd)
    assert first.continued_to is not None and first.continued_to.context == "kayako-overflow"
    assert not first.gone and not first.in_stasis
    with pytest.raises(ChannelNotInStasis):
        await client.answer(first.id)
    await client.redirect(second.id, "PJSIP/agent100")
    assert second.redirected_to == "PJSIP/agent100" and not second.gone
    assert double.violations == []


async def test_applications_and_asterisk_info(double: AsteriskDouble, client: AriClient) -> None:
    app = await client.get_application()
    assert app["name"] == APP
    info = await client.asterisk_info()
    assert info["system"]["version"] == "22.10.1"
    assert (await client.ping())["ping"] == "pong"
    await client.close()
    await asyncio.sleep(0.05)
    other = AriClient(double.base_url, double.username, double.password, "other-app")
    with pytest.raises(AriError) as err:
        await other.get_application(APP)
    assert err.value.status == 404
    await other.close()
    assert double.violations == []


async def test_bad_credentials_and_api_key(double: AsteriskDouble) -> None:
    bad = AriClient(double.base_url, double.username, "wrong", APP)
    with pytest.raises(AriAuthError):
        await bad.connect(timeout_s=1)
    await bad.close()
    async with aiohttp.ClientSession() as http:
        url = f"{double.url}/asterisk/ping"
        async with http.get(url, params={"api_key": f"{double.username}:{double.password}"}) as response:
            assert response.status == 200
        async with http.get(url) as response:
            assert response.status == 401


async def test_invalid_request_fails_and_is_recorded(double: AsteriskDouble) -> None:
    # a client without spec checking sends what it is told; the double must refuse it
    careless = AriClient(double.base_url, double.username, double.password, APP)
    with pytest.raises(AriError) as err:
        await careless.request("DELETE", "/channels/x", params={"reason": "hungup"})
    assert err.value.status == 400 and "'hungup' is not one of" in err.value.message
    with pytest.raises(AriError):
        await careless.request("POST", "/channels/externalMedia", params={"app": APP})
    with pytest.raises(AriError):
        await careless.request("POST", "/bridges/b/addChannels", params={"channel": "x"})
    await careless.close()
    assert len(double.violations) == 3
    assert "missing required query parameter 'format'" in double.violations[1]
    assert "no such path" in double.violations[2]
    double.violations.clear()


async def test_client_side_spec_check_stops_bad_requests_before_sending(
    double: AsteriskDouble, client: AriClient
) -> None:
    sent = len(double.requests)
    with pytest.raises(ValueError, match="unknown query parameter"):
        await client.request("POST", "/channels/x/answer", params={"now": "1"})
    assert len(double.requests) == sent


async def test_injected_server_errors_carry_asterisk_message(
    double: AsteriskDouble, client: AriClient
) -> None:
    double.fail_next("POST", r"/bridges", 500, "Internal Server Error: bridge allocation failed")
    with pytest.raises(AriError) as err:
        await client.create_bridge()
    assert err.value.status == 500 and err.value.message == "Internal Server Error: bridge allocation failed"
    assert (await client.create_bridge()).bridge_type == "mixing"  # only the next one fails


async def test_a_bug_in_the_double_fails_loudly(double: AsteriskDouble, client: AriClient) -> None:
    async def broken_list(_ctx):
        return [{"id": 1}]  # not a Channel

    double._handlers["channels.list"] = broken_list
    with pytest.raises(AriError) as err:
        await client.list_channels()
    assert err.value.status == 500 and "double bug" in err.value.message
    assert double.errors and "missing required field 'name'" in double.errors[0]
    double.errors.clear()


async def test_place_call_needs_a_registered_app(double: AsteriskDouble) -> None:
    with pytest.raises(RuntimeError, match="not registered"):
        await double.place_call()


async def test_script_entry_point_prints_its_url() -> None:
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ari_app.ari.double", "--port", "0", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 4)).decode()
        url = line.split(" on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/ari")
        params = {"api_key": "kayako-voice:kayako-voice"}
        async with (
            aiohttp.ClientSession() as http,
            http.get(url + "/asterisk/ping", params=params) as response,
        ):
            assert response.status == 200
    finally:
        proc.terminate()
        await proc.wait()
