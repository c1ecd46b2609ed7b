"""`AriClient`: a thin asyncio client for Asterisk ARI (REST over aiohttp + one event WebSocket).

Owns: the HTTP session, the typed REST helpers the call flow uses, the event WebSocket with
reconnect (exponential backoff, capped, jittered) and the per-channel event routing.

How the Stasis app / CallSession uses it::

    client = AriClient("http://127.0.0.1:8088", "user", "secret", "kayako-voice")
    client.on_stasis_start = app.on_new_channel      # StasisStart nobody expected: a new call
    client.on_reconnect = app.reconcile              # after a reconnect: GET /channels, compare
                                                     # (awaited before further events are read)
    await client.connect()                           # REST check + WebSocket up, or AriError

    # in CallSession, for the caller's channel `cid`:
    client.subscribe(cid, session.events)            # asyncio.Queue[AriEvent]
    await client.answer(cid)
    em_id = new_channel_id()
    client.subscribe(em_id, session.events)
    ready = client.expect("StasisStart", em_id)      # register BEFORE the request
    await client.external_media(external_host=f"{host}:{port}", format="slin16", channel_id=em_id)
    await asyncio.wait_for(ready, 2.0)               # only now may it join a bridge
    bridge = await client.create_bridge("mixing")
    await client.add_channel(bridge.id, [cid, em_id])
    rtp_host = await client.get_channel_var(em_id, "UNICASTRTP_LOCAL_ADDRESS")
    # live-agent transfer: subscribe the agent leg's id first, or its StasisStart looks like a
    # new call; Dial events (BUSY/NOANSWER) and ChannelDestroyed (17/19) come to the same sink
    client.subscribe(agent_id, session.events)
    await client.originate("PJSIP/agent100", channel_id=agent_id, app_args=["transfer", cid],
                           variables={pjsip_header_var("X-Kayako-Case-Id"): case_id})
    ...
    await client.hangup(em_id); await client.destroy_bridge(bridge.id)  # ChannelGone is fine
    client.unsubscribe(cid); client.unsubscribe(em_id)
    await client.close()

Facts (Asterisk 22): REST lives under `<base>/ari/`, events at `ws(s)://<host>/ari/events?app=`;
Basic auth works for both (also `api_key=user:pass`); an externalMedia channel may join a bridge
only after its own StasisStart (422 otherwise, seen on a real Asterisk 22); after a WebSocket
drop the channels stay in Stasis but events sent meanwhile are lost, hence `on_reconnect`.
Validation against the spec is optional (`spec=AriSpec()`), for tests and debugging only:
the client itself never needs the spec files.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp

from ari_app.ari.errors import (
    AriAuthError,
    AriError,
    AriUnavailable,
    BridgeGone,
    ChannelGone,
    ChannelNotInStasis,
)
from ari_app.ari.models import AriEvent, Bridge, Channel, MalformedEvent, Playback, StasisStart, parse_event
from ari_app.ari.router import EventRouter, EventSink
from ari_app.ari.spec import AriSpec
from ari_app.logs import log_event

logger = logging.getLogger(__name__)

ReconnectCallback = Callable[[], Awaitable[None] | None]


def pjsip_header_var(header: str) -> str:
    """The originate variable that adds a SIP header on the outgoing INVITE (chan_pjsip)."""
    return f"PJSIP_HEADER(add,{header})"


def _q(value: str) -> str:
    return quote(value, safe="")


def _bool(value: bool) -> str:
    return "true" if value else "false"


class AriClient:
    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        session: aiohttp.ClientSession | None = None,
        spec: AriSpec | None = None,
        request_timeout_s: float = 10.0,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
        heartbeat_s: float = 15.0,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"ARI base_url must be http(s)://host[:port], got {base_url!r}")
        path = parts.path[:-4] if parts.path.endswith("/ari") else parts.path
        self.rest_url = urlunsplit((parts.scheme, parts.netloc, path + "/ari", "", ""))
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        self.events_url = urlunsplit((ws_scheme, parts.netloc, path + "/ari/events", "", ""))
        self.app = app
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self._session = session
        self._own_session = session is None
        self._spec = spec
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._heartbeat = heartbeat_s
        self.router = EventRouter()
        self.on_reconnect: ReconnectCallback | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self.connections = 0  # successful WebSocket connections so far
        self.events_received = 0
        self.spec_warnings: list[str] = []

    # ---- event routing --------------------------------------------------------------------

    @property
    def on_stasis_start(self) -> Callable[[StasisStart], Any] | None:
        return self.router.on_stasis_start

    @on_stasis_start.setter
    def on_stasis_start(self, callback: Callable[[StasisStart], Any] | None) -> None:
        self.router.on_stasis_start = callback

    def subscribe(self, channel_id: str, sink: EventSink) -> None:
        self.router.subscribe(channel_id, sink)

    def unsubscribe(self, channel_id: str, sink: EventSink | None = None) -> None:
        self.router.unsubscribe(channel_id, sink)

    def expect(self, event_type: str, channel_id: str) -> asyncio.Future[AriEvent]:
        return self.router.expect(event_type, channel_id)

    # ---- lifecycle ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def connect(self, timeout_s: float = 10.0) -> None:
        """Open the event WebSocket (and keep it open until close()).

        Raises AriAuthError on bad credentials, AriUnavailable if no connection within timeout_s.
        """
        if self._loop_task is None:
            await self.ping()  # fail fast with a clear error (auth, wrong URL)
            self._closing = False
            self._loop_task = asyncio.create_task(self._event_loop(), name=f"ari-events-{self.app}")
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            raise AriUnavailable(0, "GET", self.events_url, f"no WebSocket within {timeout_s}s") from None

    async def wait_connected(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop reconnecting, close the WebSocket and (if we made it) the HTTP session."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        self.router.cancel_all()
        self._connected.clear()
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AriClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _backoff(self, attempt: int) -> float:
        capped = min(self._backoff_max, self._backoff_initial * (2**attempt))
        return capped * random.uniform(0.5, 1.0)

    async def _event_loop(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                ws = await self._http().ws_connect(
                    self.events_url,
                    params={"app": self.app, "subscribeAll": "false"},
                    headers=self._headers,
                    heartbeat=self._heartbeat,
                )
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                delay = self._backoff(attempt)
                attempt += 1
                log_event(
                    logger,
                    "ari websocket connect failed",
                    logging.WARNING,
                    error=str(exc),
                    retry_in_s=round(delay, 3),
                )
                await asyncio.sleep(delay)
                continue
            attempt = 0
            self._ws = ws
            self.connections += 1
            self._connected.set()
            log_event(logger, "ari websocket connected", app=self.app, connections=self.connections)
            if self.connections > 1:
                await self._fire_reconnect()
            try:
                await self._read(ws)
            finally:
                self._connected.clear()
                self._ws = None
                if not ws.closed:
                    await ws.close()
            if not self._closing:
                delay = self._backoff(attempt)
                attempt += 1
                log_event(
                    logger, "ari websocket lost, reconnecting", logging.WARNING, retry_in_s=round(delay, 3)
                )
                await asyncio.sleep(delay)

    async def _fire_reconnect(self) -> None:
        callback = self.on_reconnect
        if callback is None:
            return
        try:
            result = callback()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                await result
        except Exception:
            logger.exception("on_reconnect callback failed")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self._handle_text(message.data)
            elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                break

    def _handle_text(self, text: str) -> None:
        self.events_received += 1
        try:
            data = json.loads(text)
        except ValueError:
            log_event(logger, "ari event is not JSON, ignored", logging.WARNING, text=text[:200])
            return
        if self._spec is not None:
            try:
                self._spec.validate_event(data)
            except ValueError as exc:
                self.spec_warnings.append(str(exc))
                log_event(logger, "ari event does not match the spec", logging.WARNING, error=str(exc))
        try:
            event = parse_event(data)
        except MalformedEvent as exc:
            log_event(logger, "malformed ari event, ignored", logging.WARNING, error=str(exc))
            return
        self.router.dispatch(event)

    # ---- REST -----------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """One ARI call; `path` is relative to /ari. Returns decoded JSON (None for 204)."""
        query = {k: v for k, v in (params or {}).items()}
        if self._spec is not None:
            self._spec.validate_request(method, path, {k: [v] for k, v in query.items()}, body)
        url = self.rest_url + path
        try:
            async with self._http().request(
                method, url, params=query, json=body, headers=self._headers, timeout=self._timeout
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise AriUnavailable(0, method, path, f"{type(exc).__name__}: {exc}") from exc
        data: Any = None
        if text:
            try:
                data = json.loads(text)
            except ValueError:
                data = None
        if status >= 400:
            message = (
                data.get("message")
                if isinstance(data, dict) and isinstance(data.get("message"), str)
                else text
            )
            raise _error_for(status, method, path, message or f"HTTP {status}")
        return data

    # channels

    async def list_channels(self) -> list[Channel]:
        return [Channel.from_json(c) for c in await self.request("GET", "/channels") or []]

    async def get_channel(self, channel_id: str) -> Channel:
        return Channel.from_json(await self.request("GET", f"/channels/{_q(channel_id)}"))

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{_q(channel_id)}/answer")

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{_q(channel_id)}/ring")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{_q(channel_id)}", params={"reason": reason})

    async def get_channel_var(self, channel_id: str, variable: str) -> str | None:
        """The variable's value, or None when the channel has no such variable."""
        try:
            data = await self.request(
                "GET", f"/channels/{_q(channel_id)}/variable", params={"variable": variable}
            )
        except ChannelGone as exc:
            if "variable" in exc.message.lower():
                return None
            raise
        return str(data.get("value", "")) if isinstance(data, dict) else None

    async def set_channel_var(self, channel_id: str, variable: str, value: str) -> None:
        await self.request(
            "POST", f"/channels/{_q(channel_id)}/variable", params={"variable": variable, "value": value}
        )

    async def external_media(
        self,
        *,
        external_host: str,
        format: str = "slin16",
        app: str | None = None,
        channel_id: str | None = None,
        encapsulation: str = "rtp",
        transport: str = "udp",
        direction: str = "both",
        variables: Mapping[str, str] | None = None,
    ) -> Channel:
        """Create a UnicastRTP channel that sends the bridge's audio to `external_host` (host:port)."""
        params = {
            "app": app or self.app,
            "external_host": external_host,
            "format": format,
            "encapsulation": encapsulation,
            "transport": transport,
            "direction": direction,
        }
        if channel_id:
            params["channelId"] = channel_id
        body = {"variables": dict(variables)} if variables else None
        return Channel.from_json(
            await self.request("POST", "/channels/externalMedia", params=params, body=body)
        )

    async def originate(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: Sequence[str] | str | None = None,
        caller_id: str | None = None,
        timeout_s: int = 30,
        channel_id: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Channel:
        """Dial `endpoint` (e.g. "PJSIP/agent100"); when answered it enters `app` (StasisStart).

        Put `pjsip_header_var("X-Kayako-Case-Id"): case_id` in `variables` to send a SIP header.
        """
        params = {"endpoint": endpoint, "app": app or self.app, "timeout": str(int(timeout_s))}
        if app_args is not None:
            params["appArgs"] = app_args if isinstance(app_args, str) else ",".join(app_args)
        if caller_id:
            params["callerId"] = caller_id
        if channel_id:
            params["channelId"] = channel_id
        body = {"variables": dict(variables)} if variables else None
        return Channel.from_json(await self.request("POST", "/channels", params=params, body=body))

    async def continue_in_dialplan(
        self,
        channel_id: str,
        *,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None:
        params: dict[str, str] = {}
        if context:
            params["context"] = context
        if extension:
            params["extension"] = extension
        if priority is not None:
            params["priority"] = str(priority)
        await self.request("POST", f"/channels/{_q(channel_id)}/continue", params=params)

    async def redirect(self, channel_id: str, endpoint: str) -> None:
        """Redirect the channel (SIP 302/REFER); Asterisk sends no event and keeps the leg."""
        await self.request("POST", f"/channels/{_q(channel_id)}/redirect", params={"endpoint": endpoint})

    async def play(
        self, channel_id: str, media: str | Sequence[str], *, playback_id: str | None = None
    ) -> Playback:
        """Play `sound:<name>` (or several media URIs in turn) on the channel."""
        params = {"media": media if isinstance(media, str) else ",".join(media)}
        if playback_id:
            params["playbackId"] = playback_id
        return Playback.from_json(
            await self.request("POST", f"/channels/{_q(channel_id)}/play", params=params)
        )

    # bridges

    async def create_bridge(
        self, type: str = "mixing", *, bridge_id: str | None = None, name: str | None = None
    ) -> Bridge:
        params = {"type": type}
        if bridge_id:
            params["bridgeId"] = bridge_id
        if name:
            params["name"] = name
        return Bridge.from_json(await self.request("POST", "/bridges", params=params))

    async def get_bridge(self, bridge_id: str) -> Bridge:
        return Bridge.from_json(await self.request("GET", f"/bridges/{_q(bridge_id)}"))

    async def add_channel(self, bridge_id: str, channel_ids: str | Sequence[str]) -> None:
        ids = channel_ids if isinstance(channel_ids, str) else ",".join(channel_ids)
        await self.request("POST", f"/bridges/{_q(bridge_id)}/addChannel", params={"channel": ids})

    async def remove_channel(self, bridge_id: str, channel_ids: str | Sequence[str]) -> None:
        ids = channel_ids if isinstance(channel_ids, str) else ",".join(channel_ids)
        await self.request("POST", f"/bridges/{_q(bridge_id)}/removeChannel", params={"channel": ids})

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{_q(bridge_id)}")

    # applications and asterisk

    async def get_application(self, name: str | None = None) -> dict[str, Any]:
        return dict(await self.request("GET", f"/applications/{_q(name or self.app)}"))

    async def asterisk_info(self) -> dict[str, Any]:
        return dict(await self.request("GET", "/asterisk/info"))

    async def ping(self) -> dict[str, Any]:
        return dict(await self.request("GET", "/asterisk/ping"))


def _error_for(status: int, method: str, path: str, message: str) -> AriError:
    lowered = message.lower()
    if status == 401:
        return AriAuthError(status, method, path, message)
    if path.startswith("/channels/") and (status == 404 or "channel not found" in lowered):
        return ChannelGone(status, method, path, message)
    if path.startswith("/bridges/"):
        if status == 400 and "channel not found" in lowered:
            return ChannelGone(status, method, path, message)
        if status == 404:
            return BridgeGone(status, method, path, message)
    if "not in stasis" in lowered or "not in a stasis" in lowered:
        return ChannelNotInStasis(status, method, path, message)
    return AriError(status, method, path, message)
