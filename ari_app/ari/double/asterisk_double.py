"""`AsteriskDouble`: an Asterisk 22 ARI server for tests (aiohttp on 127.0.0.1, random port).

Owns: the ARI REST operations kayako-voice uses, the event WebSocket, simulated calls and agent
legs, the externalMedia RTP peers, and fault injection. Every request is validated against the
ARI spec (`../shared/asterisk-ari-spec`): a request that does not match gets 400 with the list
of problems and is recorded in `double.violations` (tests assert `violations == []`). Every
event and every REST reply body is validated before it leaves: a mismatch is a bug in the
double, recorded in `double.errors` and raised (events) or answered with 500 (replies).

Asterisk 22 behaviour reproduced (each seen on a real Asterisk 22 or read from res/ari):
- an inbound call is `PJSIP/trunk-0000000N` in state Ring; StasisStart carries the dialplan args;
- answer moves Ring -> Up with ChannelStateChange;
- externalMedia replies with a `UnicastRTP/<external_host>-0x...` channel and sends its
  StasisStart shortly AFTER the REST reply; adding it to a bridge earlier gives 422
  "Channel not in Stasis application"; UNICASTRTP_LOCAL_ADDRESS/PORT are channel variables;
- hang-up by the app: (ChannelLeftBridge), StasisEnd, ChannelDestroyed; continueInDialplan:
  StasisEnd and the channel lives on outside the app; redirect: no event at all;
- originate: Dial(dialstatus "") at once, then the test answers (ChannelStateChange Up, Dial
  ANSWER, StasisStart) or fails it (Dial BUSY/NOANSWER, ChannelDestroyed 17/19), or the
  originate `timeout` expires (no answer);
- events for an app go only to its connected WebSockets; events sent while none is connected
  are lost (the app reconciles with GET /channels after reconnecting);
- `GET /applications/{name}` is 404 unless a WebSocket for it is connected.

Typical test::

    async with AsteriskDouble() as double:
        client = AriClient(double.base_url, double.username, double.password, "kayako-voice")
        await client.connect()
        call = await double.place_call("+15550100", audio=[(hello_pcm, 0.5)])
        ...
        assert double.violations == [] and double.errors == []
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import re
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, web

from ari_app.ari.double.media_peer import FORMATS, MediaPeer
from ari_app.ari.double.sim_call import HANGUP_ORDER, AgentLeg, AudioScript, Continued, SimCall, SimChannel
from ari_app.ari.spec import AriSpec, SpecViolation, format_ari_date

logger = logging.getLogger(__name__)

ASTERISK_VERSION = "22.10.1"
HANGUP_REASON_CAUSE = {
    "normal": 16,
    "busy": 17,
    "congestion": 34,
    "no_answer": 19,
    "timeout": 18,
    "rejected": 21,
    "unallocated": 1,
    "normal_unspecified": 31,
    "number_incomplete": 28,
    "codec_mismatch": 58,
    "interworking": 127,
    "failure": 38,
    "answered_elsewhere": 26,
}
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    28: "Invalid number format (incomplete number)",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    58: "Bearer capability not available",
    127: "Interworking, unspecified",
}


class DoubleBug(AssertionError):
    """The double produced something the ARI spec does not allow (a bug in the double)."""


class AriReply(Exception):
    """An ARI error reply, as Asterisk would send it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Fault:
    method: str
    path_pattern: re.Pattern[str]
    status: int
    message: str
    remaining: int


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # relative to /ari
    query: tuple[tuple[str, str], ...]
    body: Any
    status: int


@dataclass
class SimBridge:
    id: str
    name: str
    bridge_type: str
    creationtime: str
    app: str
    channels: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "technology": "simple_bridge" if len(self.channels) <= 2 else "softmix",
            "bridge_type": self.bridge_type,
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            "channels": list(self.channels),
            "creationtime": self.creationtime,
            "video_mode": "none",
        }


@dataclass
class _Ctx:
    op: str
    path_params: Mapping[str, str]
    params: dict[str, str]
    body: Any

    def p(self, name: str, default: str | None = None) -> str | None:
        return self.params.get(name, default)


def _now() -> str:
    return format_ari_date(datetime.now(UTC))


class AsteriskDouble:
    def __init__(
        self,
        *,
        username: str = "kayako-voice",
        password: str = "kayako-voice",
        host: str = "127.0.0.1",
        port: int = 0,
        spec: AriSpec | None = None,
        external_media_stasis_delay_s: float = 0.03,
        playback_duration_s: float = 0.05,
        restart_down_s: float = 0.3,
    ) -> None:
        self.username = username
        self.password = password
        self.host = host
        self.port = port
        self.spec = spec or AriSpec()
        self.external_media_stasis_delay_s = external_media_stasis_delay_s
        self.playback_duration_s = playback_duration_s
        self.restart_down_s = restart_down_s
        self.asterisk_id = "00:00:5e:00:53:22"
        self.violations: list[str] = []
        self.errors: list[str] = []
        self.unimplemented: list[str] = []
        self.requests: list[RecordedRequest] = []
        self.events_sent: list[dict[str, Any]] = []
        self.channels: dict[str, SimChannel] = {}
        self.bridges: dict[str, SimBridge] = {}
        self.calls: list[SimCall] = []
        self.agent_legs: list[AgentLeg] = []
        self.redirects: list[tuple[str, str]] = []
        # what a dialled agent does unless the test decides: "manual" | "answer" | "busy" | "no_answer"
        self.originate_policy = "manual"
        self.originate_delay_s = 0.05
        self._agent_waiters: list[asyncio.Future[AgentLeg]] = []
        self._faults: list[Fault] = []
        self._duplicate_next = 0
        self._sockets: dict[str, list[web.WebSocketResponse]] = {}
        self._counter = 0
        self._epoch = int(time.time())
        self._startup = _now()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.restarts = 0
        self._handlers: dict[str, Callable[[_Ctx], Awaitable[Any]]] = {
            "channels.list": self._channels_list,
            "channels.get": self._channels_get,
            "channels.answer": self._channels_answer,
            "channels.ring": self._channels_ring,
            "channels.hangup": self._channels_hangup,
            "channels.getChannelVar": self._channels_get_var,
            "channels.setChannelVar": self._channels_set_var,
            "channels.externalMedia": self._channels_external_media,
            "channels.originate": self._channels_originate,
            "channels.continueInDialplan": self._channels_continue,
            "channels.redirect": self._channels_redirect,
            "channels.play": self._channels_play,
            "bridges.list": self._bridges_list,
            "bridges.create": self._bridges_create,
            "bridges.get": self._bridges_get,
            "bridges.destroy": self._bridges_destroy,
            "bridges.addChannel": self._bridges_add,
            "bridges.removeChannel": self._bridges_remove,
            "applications.list": self._applications_list,
            "applications.get": self._applications_get,
            "asterisk.getInfo": self._asterisk_info,
            "asterisk.ping": self._asterisk_ping,
        }

    # ---- lifecycle ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + "/ari"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/ari/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self.port)
        await self._site.start()
        if self.port == 0:
            self.port = self._site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        await self._close_sockets()
        await self._teardown_calls()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> AsteriskDouble:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.errors.append(f"background task failed: {exc!r}")
            logger.error("double task failed", exc_info=exc)

    # ---- fault injection ------------------------------------------------------------------

    def fail_next(
        self, method: str, path_pattern: str, status: int, message: str = "injected failure", count: int = 1
    ) -> None:
        """The next `count` requests matching METHOD and the regex (path relative to /ari) fail."""
        self._faults.append(Fault(method.upper(), re.compile(path_pattern), status, message, count))

    def duplicate_next_events(self, count: int) -> None:
        """Send each of the next `count` events twice (Asterisk can repeat after a hiccup)."""
        self._duplicate_next += count

    async def drop_websocket(self) -> None:
        """Close every event WebSocket (as a network drop would); channels stay as they are."""
        await self._close_sockets()

    async def restart(self, down_s: float | None = None) -> None:
        """Asterisk restarts: WebSockets close, all channels and bridges vanish without events,
        the port refuses connections for `down_s`, then Asterisk is back with no channels."""
        await self._close_sockets()
        if self._site is not None:
            await self._site.stop()
        if self._runner is not None and self._runner.server is not None:
            for proto in list(self._runner.server.connections):
                proto.force_close()
        await self._teardown_calls()
        await asyncio.sleep(self.restart_down_s if down_s is None else down_s)
        self._epoch = int(time.time()) + 1000 * (self.restarts + 1)
        self._startup = _now()
        self.restarts += 1
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self.host, self.port)
        await self._site.start()

    async def inject_event(
        self, event: Mapping[str, Any], *, app: str = "kayako-voice", validate: bool = True
    ) -> None:
        """Send an arbitrary event (validate=False for types the spec does not know)."""
        await self._emit(app, dict(event), validate=validate)

    # ---- calls ----------------------------------------------------------------------------

    def _new_id(self) -> str:
        self._counter += 1
        return f"{self._epoch}.{self._counter}"

    def app_registered(self, app: str) -> bool:
        return bool(self._sockets.get(app))

    async def wait_app(self, app: str = "kayako-voice", timeout: float = 3.0) -> None:
        async def _wait() -> None:
            while not self.app_registered(app):
                await asyncio.sleep(0.01)

        await asyncio.wait_for(_wait(), timeout)

    async def place_call(
        self,
        caller_number: str = "+15550100",
        caller_name: str = "",
        audio: AudioScript = None,
        *,
        app: str = "kayako-voice",
        args: tuple[str, ...] = (),
        dialed: str = "s",
    ) -> SimCall:
        """An inbound call reaches `Stasis(app,args)`: a PJSIP channel in state Ring + StasisStart.

        `audio`: 16 kHz LE PCM bytes, a list of (pcm, pause_after_s), or `async def script(call)`;
        it starts once the caller is bridged with an externalMedia channel.
        """
        if not self.app_registered(app):
            raise RuntimeError(f"Stasis application {app!r} is not registered (no WebSocket connected)")
        channel_id = self._new_id()
        channel = SimChannel(
            id=channel_id,
            name=f"PJSIP/trunk-{self._counter:08x}",
            kind="caller",
            app=app,
            state="Ring",
            caller_name=caller_name,
            caller_number=caller_number,
            creationtime=_now(),
            exten=dialed,
            app_data=",".join((app, *args)),
            protocol_id=f"{uuid.uuid4()}@127.0.0.1",
        )
        call = SimCall(self, channel, audio)
        channel.sim = call
        self.channels[channel_id] = channel
        self.calls.append(call)
        channel.in_stasis = True
        channel.subscribed = True
        channel.stasis_args = list(args)
        await self._emit_channel_event("StasisStart", channel, args=list(args))
        return call

    async def next_agent_leg(self, timeout: float = 3.0) -> AgentLeg:
        """The next channel the app originates (already-created, undecided ones first)."""
        for leg in self.agent_legs:
            if leg.outcome is None and not leg.claimed:
                leg.claimed = True
                return leg
        future: asyncio.Future[AgentLeg] = asyncio.get_running_loop().create_future()
        self._agent_waiters.append(future)
        leg = await asyncio.wait_for(future, timeout)
        leg.claimed = True
        return leg

    # ---- events ---------------------------------------------------------------------------

    async def _emit(self, app: str, event: dict[str, Any], *, validate: bool = True) -> None:
        event.setdefault("application", app)
        event.setdefault("timestamp", _now())
        event.setdefault("asterisk_id", self.asterisk_id)
        if validate:
            try:
                self.spec.validate_event(event)
            except SpecViolation as exc:
                self.errors.append(str(exc))
                raise DoubleBug(str(exc)) from exc
        self.events_sent.append(event)
        text = json.dumps(event)
        copies = 1
        if self._duplicate_next > 0:
            self._duplicate_next -= 1
            copies = 2
        for ws in list(self._sockets.get(app, [])):
            for _ in range(copies):
                try:
                    await ws.send_str(text)
                except (ConnectionError, RuntimeError) as exc:
                    logger.info("event not delivered, websocket closing: %s", exc)

    async def _emit_channel_event(self, kind: str, channel: SimChannel, **fields: Any) -> None:
        if not channel.subscribed:
            return
        await self._emit(channel.app, {"type": kind, "channel": channel.to_json(), **fields})

    async def _far_end_hangup(
        self, call: SimCall, cause: int, order: tuple[str, ...], duplicate: bool
    ) -> None:
        channel = call.channel
        if call.gone:
            return
        if duplicate:
            self._duplicate_next += len(order) + 1
        snapshot = channel.to_json()
        was_in_stasis = channel.in_stasis
        events: dict[str, dict[str, Any]] = {
            "ChannelHangupRequest": {"type": "ChannelHangupRequest", "cause": cause, "channel": snapshot},
            "StasisEnd": {"type": "StasisEnd", "channel": snapshot},
            "ChannelDestroyed": {
                "type": "ChannelDestroyed",
                "cause": cause,
                "cause_txt": CAUSE_TEXT.get(cause, "Unknown"),
                "channel": snapshot,
            },
        }
        sends: list[dict[str, Any]] = []
        for name in order:
            if name == "StasisEnd" and order == HANGUP_ORDER and channel.bridge_id is not None:
                sends.append(self._left_bridge_event(channel))
            if name == "StasisEnd" and not was_in_stasis:
                continue
            sends.append(dict(events[name]))
        await self._destroy_channel(channel, cause, emit=False)
        if channel.subscribed:
            for event in sends:
                await self._emit(channel.app, event)

    def _left_bridge_event(self, channel: SimChannel) -> dict[str, Any]:
        bridge = self.bridges.get(channel.bridge_id or "")
        if bridge is None:
            raise DoubleBug(f"channel {channel.id} points at a missing bridge")
        after = [c for c in bridge.channels if c != channel.id]
        data = bridge.to_json()
        data["channels"] = after
        return {"type": "ChannelLeftBridge", "bridge": data, "channel": channel.to_json()}

    async def _leave_bridge(self, channel: SimChannel, emit: bool = True) -> None:
        if channel.bridge_id is None:
            return
        bridge = self.bridges.get(channel.bridge_id)
        event = self._left_bridge_event(channel) if (emit and bridge is not None) else None
        if bridge is not None:
            bridge.channels = [c for c in bridge.channels if c != channel.id]
        channel.bridge_id = None
        if channel.media is not None:
            channel.media.stop_sending()
        if bridge is not None:
            self._update_media(bridge)
        if event is not None and channel.subscribed:
            await self._emit(channel.app, event)

    async def _destroy_channel(self, channel: SimChannel, cause: int, emit: bool = True) -> None:
        """Remove a channel; with emit, send the app-hangup sequence (StasisEnd, ChannelDestroyed)."""
        if channel.id not in self.channels:
            return
        await self._leave_bridge(channel, emit=emit)
        del self.channels[channel.id]
        if emit and channel.subscribed:
            if channel.in_stasis:
                await self._emit_channel_event("StasisEnd", channel)
            await self._emit_channel_event(
                "ChannelDestroyed", channel, cause=cause, cause_txt=CAUSE_TEXT.get(cause, "Unknown")
            )
        channel.in_stasis = False
        if channel.media is not None:
            await channel.media.close()
        if channel.sim is not None:
            channel.sim._mark_gone(cause)

    async def _teardown_calls(self) -> None:
        for channel in list(self.channels.values()):
            if channel.media is not None:
                await channel.media.close()
            if channel.sim is not None:
                channel.sim._mark_gone(None)
                await channel.sim.aclose()
        self.channels.clear()
        self.bridges.clear()

    def _update_media(self, bridge: SimBridge) -> None:
        """Start/stop RTP for externalMedia channels according to who shares the bridge."""
        members = [self.channels[c] for c in bridge.channels if c in self.channels]
        parties = [c for c in members if c.kind != "external_media" and c.sim is not None]
        active = bridge.bridge_type == "mixing"
        for member in members:
            if member.media is None:
                continue
            if active and parties:
                sim = parties[0].sim
                assert sim is not None
                if member.media.sink is not sim._on_packet:
                    member.media.stop_sending()
                    member.media.start_sending(sim.next_frame, sim._on_packet)
                sim._media_started()
            else:
                member.media.stop_sending()

    # ---- WebSocket ------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        apps = [a for a in ",".join(request.query.getall("app", [])).split(",") if a]
        ws = web.WebSocketResponse(protocols=("ari",))
        await ws.prepare(request)
        for app in apps:
            self._sockets.setdefault(app, []).append(ws)
        try:
            async for _ in ws:
                pass  # ARI ignores messages from the client
        finally:
            for app in apps:
                sockets = [s for s in self._sockets.get(app, []) if s is not ws]
                if sockets:
                    self._sockets[app] = sockets
                else:
                    self._sockets.pop(app, None)
        return ws

    async def _close_sockets(self) -> None:
        sockets = {id(ws): ws for group in self._sockets.values() for ws in group}
        self._sockets.clear()
        for ws in sockets.values():
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"asterisk going away")

    # ---- REST dispatch --------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        expected = f"{self.username}:{self.password}"
        if request.query.get("api_key") == expected:
            return True
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                return base64.b64decode(header[6:]).decode() == expected
            except (ValueError, UnicodeDecodeError):
                return False
        return False

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        rel = request.path[len("/ari") :] or "/"
        pairs = tuple(request.query.items())
        if not self._authorized(request):
            self.requests.append(RecordedRequest(request.method, rel, pairs, None, 401))
            return web.json_response(
                {"message": "Authentication required"},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
            )
        body: Any = None
        raw = await request.read()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                message = f"{request.method} /ari{rel}: request body is not JSON"
                self.violations.append(message)
                return self._reply(request, rel, pairs, None, 400, {"message": message})
        try:
            match = self.spec.validate_request(request.method, rel, pairs, body)
        except SpecViolation as exc:
            self.violations.append(str(exc))
            return self._reply(request, rel, pairs, body, 400, {"message": str(exc)})
        op = match.operation
        if op.name == "events.eventWebsocket":
            if request.headers.get("Upgrade", "").lower() != "websocket":
                return self._reply(request, rel, pairs, body, 400, {"message": "WebSocket upgrade required"})
            self.requests.append(RecordedRequest(request.method, rel, pairs, body, 101))
            return await self._websocket(request)
        for fault in self._faults:
            if fault.remaining > 0 and fault.method == request.method and fault.path_pattern.fullmatch(rel):
                fault.remaining -= 1
                return self._reply(request, rel, pairs, body, fault.status, {"message": fault.message})
        handler = self._handlers.get(op.name)
        if handler is None:
            self.unimplemented.append(op.name)
            return self._reply(
                request,
                rel,
                pairs,
                body,
                501,
                {"message": f"{op.name} is not implemented by the Asterisk double"},
            )
        params = {k: v for k, v in pairs if k != "api_key"}
        body_params = op.params("body")
        if isinstance(body, Mapping):
            for key, value in body.items():
                if key not in body_params:
                    params[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        ctx = _Ctx(op.name, match.path_params, params, body)
        try:
            result = await handler(ctx)
        except AriReply as reply:
            return self._reply(request, rel, pairs, body, reply.status, {"message": reply.message})
        except DoubleBug as exc:
            return self._reply(request, rel, pairs, body, 500, {"message": f"double bug: {exc}"})
        except Exception as exc:  # a bug in the double: loud, recorded, 500
            self.errors.append(f"{op.name}: {exc!r}\n{traceback.format_exc()}")
            logger.exception("double handler failed")
            return self._reply(request, rel, pairs, body, 500, {"message": f"double bug: {exc!r}"})
        if result is None:
            return self._reply(request, rel, pairs, body, 204, None)
        try:
            self.spec.validate_model(op.response_class, result)
        except SpecViolation as exc:
            self.errors.append(f"reply of {op.name}: {exc}")
            return self._reply(request, rel, pairs, body, 500, {"message": f"double bug: {exc}"})
        return self._reply(request, rel, pairs, body, 200, result)

    def _reply(
        self, request: web.Request, rel: str, pairs: Any, body: Any, status: int, data: Any
    ) -> web.Response:
        self.requests.append(RecordedRequest(request.method, rel, pairs, body, status))
        if data is None:
            return web.Response(status=status)
        return web.json_response(data, status=status)

    # ---- helpers for handlers -------------------------------------------------------------

    def _channel(self, ctx: _Ctx, *, stasis: bool = False, key: str = "channelId") -> SimChannel:
        channel = self.channels.get(ctx.path_params[key])
        if channel is None:
            raise AriReply(404, "Channel not found")
        if stasis and not channel.in_stasis:
            raise AriReply(409, "Channel not in Stasis application")
        return channel

    def _bridge(self, ctx: _Ctx) -> SimBridge:
        bridge = self.bridges.get(ctx.path_params["bridgeId"])
        if bridge is None:
            raise AriReply(404, "Bridge not found")
        return bridge

    # ---- channels -------------------------------------------------------------------------

    async def _channels_list(self, ctx: _Ctx) -> Any:
        return [c.to_json() for c in self.channels.values()]

    async def _channels_get(self, ctx: _Ctx) -> Any:
        return self._channel(ctx).to_json()

    async def _channels_answer(self, ctx: _Ctx) -> Any:
        channel = self._channel(ctx, stasis=True)
        if channel.state != "Up":
            channel.state = "Up"
            await self._emit_channel_event("ChannelStateChange", channel)
        return None

    async def _channels_ring(self, ctx: _Ctx) -> Any:
        channel = self._channel(ctx, stasis=True)
        if channel.sim is not None:
            channel.sim.rings += 1
        return None

    async def _channels_hangup(self, ctx: _Ctx) -> Any:
        channel = self._channel(ctx)
        cause = HANGUP_REASON_CAUSE[ctx.p("reason", "normal") or "normal"]
        code = ctx.p("reason_code") or ""
        if code:
            if not code.isdigit():
                raise AriReply(400, "Invalid reason for hangup provided")
            cause = int(code)
        await self._destroy_channel(channel, cause)
        return None

    async def _channels_get_var(self, ctx: _Ctx) -> Any:
        channel = self._channel(ctx)
        name = ctx.p("variable") or ""
        special = {
            "CALLERID(num)": channel.caller_number,
            "CALLERID(name)": channel.caller_name,
            "CHANNEL(name)": channel.name,
            "UNIQUEID": channel.id,
        }
        if name in special:
            return {"value": special[name]}
        if name not in channel.variables:
            raise AriReply(404, "Provided variable was not found")
        return {"value": channel.variables[name]}

    async def _channels_set_var(self, ctx: _Ctx) -> Any:
        channel = self._channel(ctx)
        name = ctx.p("variable") or ""
        value = ctx.p("value", "") or ""
        channel.variables[name] = value
        await self._emit_channel_event("ChannelVarset", channel, variable=name, value=value)
        return None

    async def _channels_external_media(self, ctx: _Ctx) -> Any:
        app = ctx.p("app") or ""
        fmt_name = ctx.p("format") or ""
        if (ctx.p("encapsulation", "rtp"), ctx.p("transport", "udp")) != ("rtp", "udp"):
            raise AriReply(501, "the Asterisk double supports encapsulation=rtp, transport=udp only")
        if fmt_name not in FORMATS:
            raise AriReply(400, f"Invalid format: {fmt_name}")
        host_port = ctx.p("external_host") or ""
        host, _, port_text = host_port.rpartition(":")
        if not host or not port_text.isdigit():
            raise AriReply(400, "external_host must be provided as host:port")
        channel_id = ctx.p("channelId") or self._new_id()
        if channel_id in self.channels:
            raise AriReply(409, "Channel with given unique ID already exists")
        media = MediaPeer(FORMATS[fmt_name], (host, int(port_text)), host=self.host)
        await media.open()
        channel = SimChannel(
            id=channel_id,
            name=f"UnicastRTP/{host_port}-0x{uuid.uuid4().hex[:12]}",
            kind="external_media",
            app=app,
            state="Down",
            caller_name="",
            caller_number="",
            creationtime=_now(),
            context="default",
            exten="s",
            app_name="",
            media=media,
            media_format=fmt_name,
        )
        channel.variables["UNICASTRTP_LOCAL_ADDRESS"] = self.host
        channel.variables["UNICASTRTP_LOCAL_PORT"] = str(media.port)
        if isinstance(ctx.body, Mapping) and isinstance(ctx.body.get("variables"), Mapping):
            channel.variables.update({str(k): str(v) for k, v in ctx.body["variables"].items()})
        self.channels[channel_id] = channel
        self._spawn(self._enter_stasis_later(channel, self.external_media_stasis_delay_s))
        return channel.to_json()

    async def _enter_stasis_later(
        self, channel: SimChannel, delay: float, args: list[str] | None = None
    ) -> None:
        await asyncio.sleep(delay)
        if channel.id not in self.channels:
            return
        channel.in_stasis = True
        channel.subscribed = True
        channel.app_name = "Stasis"
        channel.app_data = channel.app
        await self._emit_channel_event("StasisStart", channel, args=list(args or []))

    async def _channels_originate(self, ctx: _Ctx) -> Any:
        endpoint = ctx.p("endpoint") or ""
        app = ctx.p("app")
        if not app:
            raise AriReply(400, "the Asterisk double originates into a Stasis app only (give app)")
        tech, _, resource = endpoint.partition("/")
        if not tech or not resource:
            raise AriReply(400, "Invalid endpoint")
        channel_id = ctx.p("channelId") or self._new_id()
        if channel_id in self.channels:
            raise AriReply(409, "Channel with given unique ID already exists")
        caller_name, caller_number = _parse_caller_id(ctx.p("callerId") or "")
        variables: dict[str, str] = {}
        if isinstance(ctx.body, Mapping) and isinstance(ctx.body.get("variables"), Mapping):
            variables = {str(k): str(v) for k, v in ctx.body["variables"].items()}
        app_args = [a for a in (ctx.p("appArgs") or "").split(",") if a]
        channel = SimChannel(
            id=channel_id,
            name=f"{endpoint}-{self._counter + 1:08x}",
            kind="originated",
            app=app,
            state="Down",
            caller_name=caller_name,
            caller_number=caller_number,
            creationtime=_now(),
            context="default",
            exten="s",
            app_name="AppDial2",
            app_data="(Outgoing Line)",
            variables=dict(variables),
            subscribed=True,
        )
        self._counter += 1
        timeout_s = int(ctx.p("timeout", "30") or 30)
        leg = AgentLeg(self, channel, endpoint, variables, app_args, timeout_s)
        channel.sim = leg
        self.channels[channel_id] = channel
        self.agent_legs.append(leg)
        self._spawn(self._dial_started(leg, resource))
        return channel.to_json()

    async def _dial_started(self, leg: AgentLeg, dialstring: str) -> None:
        await asyncio.sleep(0)
        await self._emit(
            leg.channel.app,
            {"type": "Dial", "peer": leg.channel.to_json(), "dialstring": dialstring, "dialstatus": ""},
        )
        for future in self._agent_waiters:
            if not future.done() and not leg.claimed:
                leg.claimed = True
                future.set_result(leg)
                break
        self._agent_waiters = [f for f in self._agent_waiters if not f.done()]
        if leg.timeout_s > 0:
            leg._timeout_task = self._spawn(self._originate_timeout(leg))
        if self.originate_policy != "manual":
            await asyncio.sleep(self.originate_delay_s)
            action = {"answer": leg.answer, "busy": leg.busy, "no_answer": leg.no_answer}[
                self.originate_policy
            ]
            await action()

    async def _originate_timeout(self, leg: AgentLeg) -> None:
        await asyncio.sleep(leg.timeout_s)
        await leg.no_answer()

    async def _agent_answer(self, leg: AgentLeg) -> None:
        channel = leg.channel
        if channel.id not in self.channels:
            return
        channel.state = "Up"
        await self._emit_channel_event("ChannelStateChange", channel)
        await self._emit(channel.app, {"type": "Dial", "peer": channel.to_json(), "dialstatus": "ANSWER"})
        channel.in_stasis = True
        channel.app_name = "Stasis"
        channel.app_data = ",".join((channel.app, *leg.app_args))
        await self._emit_channel_event("StasisStart", channel, args=list(leg.app_args))

    async def _agent_fail(self, leg: AgentLeg, dialstatus: str, cause: int) -> None:
        channel = leg.channel
        if channel.id not in self.channels:
            return
        await self._emit(channel.app, {"type": "Dial", "peer": channel.to_json(), "dialstatus": dialstatus})
        await self._destroy_channel(channel, cause)

    async def _channels_continue(self, ctx: _Ctx) -> Any:
        channel = self._channel(ctx, stasis=True)
        await self._leave_bridge(channel)
        target = Continued(
            context=ctx.p("context") or channel.context,
            extension=ctx.p("extension") or channel.exten,
            priority=int(ctx.p("priority") or 1),
        )
        channel.context, channel.exten, channel.priority = target.context, target.extension, target.priority
        await self._emit_channel_event("StasisEnd", channel)
        channel.in_stasis = False
        channel.subscribed = False
        if channel.sim is not None:
            channel.sim.continued_to = target
        return None

    async def _channels_redirect(self, ctx: _Ctx) -> Any:
        channel = self._channel(ctx, stasis=True)
        endpoint = ctx.p("endpoint") or ""
        self.redirects.append((channel.id, endpoint))
        if channel.sim is not None:
            channel.sim.redirected_to = endpoint
        return None

    async def _channels_play(self, ctx: _Ctx) -> Any:
        channel = self._channel(ctx, stasis=True)
        media = (ctx.p("media") or "").split(",")
        playback_id = ctx.p("playbackId") or str(uuid.uuid4())
        playback = {
            "id": playback_id,
            "media_uri": media[0],
            "target_uri": f"channel:{channel.id}",
            "language": "en",
            "state": "queued",
        }
        if len(media) > 1:
            playback["next_media_uri"] = media[1]
        if channel.sim is not None:
            channel.sim.played.extend(media)
        self._spawn(self._run_playback(channel, dict(playback), media))
        return playback

    async def _run_playback(self, channel: SimChannel, playback: dict[str, Any], media: list[str]) -> None:
        await asyncio.sleep(0)
        playback["state"] = "playing"
        playback.pop("next_media_uri", None)
        await self._emit(channel.app, {"type": "PlaybackStarted", "playback": dict(playback)})
        await asyncio.sleep(self.playback_duration_s * len(media))
        if channel.id not in self.channels:
            return
        playback["state"] = "done"
        playback["media_uri"] = media[-1]
        await self._emit(channel.app, {"type": "PlaybackFinished", "playback": dict(playback)})

    # ---- bridges --------------------------------------------------------------------------

    async def _bridges_list(self, ctx: _Ctx) -> Any:
        return [b.to_json() for b in self.bridges.values()]

    async def _bridges_create(self, ctx: _Ctx) -> Any:
        types = (ctx.p("type") or "mixing").split(",")
        known = {"mixing", "holding", "dtmf_events", "proxy_media", "video_sfu", "video_single", "sdp_label"}
        bad = [t for t in types if t not in known]
        if bad:
            raise AriReply(400, f"Invalid bridge type: {', '.join(bad)}")
        bridge_id = ctx.p("bridgeId") or str(uuid.uuid4())
        if bridge_id in self.bridges:
            raise AriReply(409, "Bridge with the same bridgeId already exists")
        bridge = SimBridge(
            id=bridge_id,
            name=ctx.p("name") or "",
            bridge_type="holding" if "holding" in types else "mixing",
            creationtime=_now(),
            app="",
        )
        self.bridges[bridge_id] = bridge
        return bridge.to_json()

    async def _bridges_get(self, ctx: _Ctx) -> Any:
        return self._bridge(ctx).to_json()

    async def _bridges_destroy(self, ctx: _Ctx) -> Any:
        bridge = self._bridge(ctx)
        for channel_id in list(bridge.channels):
            channel = self.channels.get(channel_id)
            if channel is not None:
                await self._leave_bridge(channel)
        del self.bridges[bridge.id]
        # the app that put channels into the bridge is subscribed to it; an empty bridge was
        # created by whichever app is connected (ARI bridge create names no app)
        apps = {bridge.app} if bridge.app else set(self._sockets)
        for app in apps:
            await self._emit(app, {"type": "BridgeDestroyed", "bridge": bridge.to_json()})
        return None

    async def _bridges_add(self, ctx: _Ctx) -> Any:
        bridge = self._bridge(ctx)
        ids = [c for c in (ctx.p("channel") or "").split(",") if c]
        channels = []
        for channel_id in ids:
            channel = self.channels.get(channel_id)
            if channel is None:
                raise AriReply(400, "Channel not found")
            if not channel.in_stasis:
                raise AriReply(422, "Channel not in Stasis application")
            channels.append(channel)
        for channel in channels:
            if channel.bridge_id == bridge.id:
                continue
            if channel.bridge_id is not None:
                await self._leave_bridge(channel)
            bridge.channels.append(channel.id)
            channel.bridge_id = bridge.id
            bridge.app = bridge.app or channel.app
            await self._emit(
                channel.app,
                {"type": "ChannelEnteredBridge", "bridge": bridge.to_json(), "channel": channel.to_json()},
            )
        self._update_media(bridge)
        return None

    async def _bridges_remove(self, ctx: _Ctx) -> Any:
        bridge = self._bridge(ctx)
        ids = [c for c in (ctx.p("channel") or "").split(",") if c]
        for channel_id in ids:
            channel = self.channels.get(channel_id)
            if channel is None:
                raise AriReply(400, "Channel not found")
            if channel_id not in bridge.channels:
                raise AriReply(422, "Channel not in this bridge")
        for channel_id in ids:
            await self._leave_bridge(self.channels[channel_id])
        return None

    # ---- applications and asterisk --------------------------------------------------------

    def _application(self, app: str) -> dict[str, Any]:
        return {
            "name": app,
            "channel_ids": [c.id for c in self.channels.values() if c.app == app and c.in_stasis],
            "bridge_ids": [b.id for b in self.bridges.values() if b.app == app],
            "endpoint_ids": [],
            "device_names": [],
            "events_allowed": [],
            "events_disallowed": [],
        }

    async def _applications_list(self, ctx: _Ctx) -> Any:
        return [self._application(app) for app in sorted(self._sockets)]

    async def _applications_get(self, ctx: _Ctx) -> Any:
        app = ctx.path_params["applicationName"]
        if not self.app_registered(app):
            raise AriReply(404, "Application does not exist.")
        return self._application(app)

    async def _asterisk_info(self, ctx: _Ctx) -> Any:
        info = {
            "build": {
                "os": "Linux",
                "kernel": "6.1.0",
                "options": "",
                "machine": "x86_64",
                "date": "2026-01-01 00:00:00 UTC",
                "user": "asterisk-double",
            },
            "system": {"version": ASTERISK_VERSION, "entity_id": self.asterisk_id},
            "config": {
                "name": "asterisk-double",
                "default_language": "en",
                "setid": {"user": "asterisk", "group": "asterisk"},
            },
            "status": {"startup_time": self._startup, "last_reload_time": self._startup},
        }
        only = [o for o in (ctx.p("only") or "").split(",") if o]
        return {k: v for k, v in info.items() if not only or k in only}

    async def _asterisk_ping(self, ctx: _Ctx) -> Any:
        return {"asterisk_id": self.asterisk_id, "ping": "pong", "timestamp": _now()}


def _parse_caller_id(text: str) -> tuple[str, str]:
    """`"Name" <number>` -> (name, number); a bare number -> ("", number)."""
    match = re.match(r'^\s*"?([^"<]*)"?\s*<([^>]*)>\s*$', text)
    if match:
        return match.group(1).strip(), match.group(2).strip()
    return "", text.strip()


async def _serve(port: int, username: str, password: str) -> None:
    double = AsteriskDouble(port=port, username=username, password=password)
    await double.start()
    print(f"Asterisk ARI double listening on {double.url} (user {username!r})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await double.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ari_app.ari.double", description="Run the Asterisk ARI test double."
    )
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--username", default="kayako-voice")
    parser.add_argument("--password", default="kayako-voice")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.username, args.password))
