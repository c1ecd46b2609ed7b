"""Typed, frozen views of the ARI models and WebSocket events the application uses.

Owns: `Channel`, `Bridge`, `Playback`, `CallerId`, `DialplanLocation`, the event classes
(`StasisStart`, `StasisEnd`, `ChannelHangupRequest`, `ChannelDestroyed`, `ChannelDtmfReceived`,
`ChannelStateChange`, `Dial`, `ChannelVarset`, `PlaybackFinished`) and `UnknownEvent` for every
other type, and `parse_event(dict) -> AriEvent`.

Facts (events.json, Asterisk 22.10.1): every event carries `type`, `application`, `timestamp`
(and usually `asterisk_id`); the channel states are Down, Rsrved, OffHook, Dialing, Ring,
Ringing, Up, Busy, Dialing Offhook, Pre-ring, Unknown; `ChannelDestroyed.cause` is a Q.850 cause
(16 normal clearing, 17 user busy, 19 no answer). Parsing is lenient about extra fields (a newer
Asterisk may add some) and raises `MalformedEvent` when a required field is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

CAUSE_NORMAL_CLEARING = 16
CAUSE_USER_BUSY = 17
CAUSE_NO_ANSWER = 19


class MalformedEvent(ValueError):
    """An event of a known type lacks a required field or has the wrong shape."""


def _req(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise MalformedEvent(f"{where}: missing {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        raise MalformedEvent(f"{where}.{key}: unexpected {type(value).__name__}")
    return value


def _frozen_map(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        return MappingProxyType({})
    return MappingProxyType({str(k): str(v) for k, v in value.items()})


@dataclass(frozen=True)
class CallerId:
    name: str
    number: str

    @classmethod
    def from_json(cls, data: Any) -> CallerId:
        if not isinstance(data, Mapping):
            return cls("", "")
        return cls(str(data.get("name", "")), str(data.get("number", "")))


@dataclass(frozen=True)
class DialplanLocation:
    context: str
    exten: str
    priority: int
    app_name: str = ""
    app_data: str = ""

    @classmethod
    def from_json(cls, data: Any) -> DialplanLocation:
        if not isinstance(data, Mapping):
            return cls("", "", 0)
        return cls(
            str(data.get("context", "")),
            str(data.get("exten", "")),
            int(data.get("priority", 0) or 0),
            str(data.get("app_name", "")),
            str(data.get("app_data", "")),
        )


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    state: str
    caller: CallerId
    connected: CallerId
    dialplan: DialplanLocation
    creationtime: str
    language: str = "en"
    accountcode: str = ""
    protocol_id: str = ""
    channelvars: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_json(cls, data: Any) -> Channel:
        where = "Channel"
        if not isinstance(data, Mapping):
            raise MalformedEvent(f"{where}: expected an object")
        return cls(
            id=_req(data, "id", str, where),
            name=_req(data, "name", str, where),
            state=_req(data, "state", str, where),
            caller=CallerId.from_json(data.get("caller")),
            connected=CallerId.from_json(data.get("connected")),
            dialplan=DialplanLocation.from_json(data.get("dialplan")),
            creationtime=str(data.get("creationtime", "")),
            language=str(data.get("language", "")),
            accountcode=str(data.get("accountcode", "")),
            protocol_id=str(data.get("protocol_id", "")),
            channelvars=_frozen_map(data.get("channelvars")),
        )

    @property
    def is_external_media(self) -> bool:
        """externalMedia channels are named `UnicastRTP/<host:port>-<n>` by chan_rtp."""
        return self.name.startswith("UnicastRTP/")


@dataclass(frozen=True)
class Bridge:
    id: str
    technology: str
    bridge_type: str
    bridge_class: str
    creator: str
    name: str
    channels: tuple[str, ...]
    creationtime: str = ""

    @classmethod
    def from_json(cls, data: Any) -> Bridge:
        where = "Bridge"
        if not isinstance(data, Mapping):
            raise MalformedEvent(f"{where}: expected an object")
        return cls(
            id=_req(data, "id", str, where),
            technology=str(data.get("technology", "")),
            bridge_type=str(data.get("bridge_type", "")),
            bridge_class=str(data.get("bridge_class", "")),
            creator=str(data.get("creator", "")),
            name=str(data.get("name", "")),
            channels=tuple(str(c) for c in data.get("channels", []) or []),
            creationtime=str(data.get("creationtime", "")),
        )


@dataclass(frozen=True)
class Playback:
    id: str
    media_uri: str
    target_uri: str
    state: str

    @classmethod
    def from_json(cls, data: Any) -> Playback:
        where = "Playback"
        if not isinstance(data, Mapping):
            raise MalformedEvent(f"{where}: expected an object")
        return cls(
            id=_req(data, "id", str, where),
            media_uri=str(data.get("media_uri", "")),
            target_uri=str(data.get("target_uri", "")),
            state=str(data.get("state", "")),
        )

    @property
    def target_id(self) -> str:
        """`channel:<id>` or `bridge:<id>` -> `<id>`."""
        return self.target_uri.split(":", 1)[-1]


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AriEventBase:
    type: str
    application: str
    timestamp: str
    asterisk_id: str

    def channel_ids(self) -> tuple[str, ...]:
        """Ids of the channels (and bridges) this event is about, for routing."""
        return ()


@dataclass(frozen=True)
class ChannelEvent(AriEventBase):
    channel: Channel

    def channel_ids(self) -> tuple[str, ...]:
        return (self.channel.id,)


@dataclass(frozen=True)
class StasisStart(ChannelEvent):
    args: tuple[str, ...]
    replace_channel: Channel | None = None

    def channel_ids(self) -> tuple[str, ...]:
        if self.replace_channel is not None:
            return (self.channel.id, self.replace_channel.id)
        return (self.channel.id,)


@dataclass(frozen=True)
class StasisEnd(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelHangupRequest(ChannelEvent):
    cause: int | None = None
    soft: bool = False


@dataclass(frozen=True)
class ChannelDestroyed(ChannelEvent):
    cause: int
    cause_txt: str


@dataclass(frozen=True)
class ChannelDtmfReceived(ChannelEvent):
    digit: str
    duration_ms: int


@dataclass(frozen=True)
class ChannelStateChange(ChannelEvent):
    pass


@dataclass(frozen=True)
class Dial(AriEventBase):
    peer: Channel
    dialstatus: str
    caller: Channel | None = None
    dialstring: str = ""
    forward: str = ""

    def channel_ids(self) -> tuple[str, ...]:
        ids = [self.peer.id]
        if self.caller is not None:
            ids.append(self.caller.id)
        return tuple(ids)


@dataclass(frozen=True)
class ChannelVarset(AriEventBase):
    variable: str
    value: str
    channel: Channel | None = None

    def channel_ids(self) -> tuple[str, ...]:
        return (self.channel.id,) if self.channel is not None else ()


@dataclass(frozen=True)
class PlaybackFinished(AriEventBase):
    playback: Playback

    def channel_ids(self) -> tuple[str, ...]:
        return (self.playback.target_id, self.playback.id)


@dataclass(frozen=True)
class UnknownEvent(AriEventBase):
    """Any event type we do not model (or do not know yet); `raw` is the decoded JSON."""

    raw: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def channel_ids(self) -> tuple[str, ...]:
        ids: list[str] = []
        for key in ("channel", "peer", "caller", "replace_channel", "bridge"):
            value = self.raw.get(key)
            if isinstance(value, Mapping) and isinstance(value.get("id"), str):
                ids.append(value["id"])
        return tuple(ids)


AriEvent = (
    StasisStart
    | StasisEnd
    | ChannelHangupRequest
    | ChannelDestroyed
    | ChannelDtmfReceived
    | ChannelStateChange
    | Dial
    | ChannelVarset
    | PlaybackFinished
    | UnknownEvent
)


def _opt_channel(data: Mapping[str, Any], key: str) -> Channel | None:
    value = data.get(key)
    return Channel.from_json(value) if isinstance(value, Mapping) else None


def parse_event(data: Any) -> AriEvent:
    """Turn one decoded WebSocket message into a typed event.

    Raises MalformedEvent when the message is not an object with a string `type`, or when a
    modelled event lacks a required field. Unmodelled types become `UnknownEvent`.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
        raise MalformedEvent("event is not an object with a string 'type'")
    kind: str = data["type"]
    base = {
        "type": kind,
        "application": str(data.get("application", "")),
        "timestamp": str(data.get("timestamp", "")),
        "asterisk_id": str(data.get("asterisk_id", "")),
    }
    if kind == "StasisStart":
        args = _req(data, "args", list, kind)
        return StasisStart(
            **base,
            channel=Channel.from_json(_req(data, "channel", Mapping, kind)),
            args=tuple(str(a) for a in args),
            replace_channel=_opt_channel(data, "replace_channel"),
        )
    if kind in ("StasisEnd", "ChannelStateChange"):
        cls = StasisEnd if kind == "StasisEnd" else ChannelStateChange
        return cls(**base, channel=Channel.from_json(_req(data, "channel", Mapping, kind)))
    if kind == "ChannelHangupRequest":
        cause = data.get("cause")
        return ChannelHangupRequest(
            **base,
            channel=Channel.from_json(_req(data, "channel", Mapping, kind)),
            cause=cause if isinstance(cause, int) else None,
            soft=bool(data.get("soft", False)),
        )
    if kind == "ChannelDestroyed":
        return ChannelDestroyed(
            **base,
            channel=Channel.from_json(_req(data, "channel", Mapping, kind)),
            cause=_req(data, "cause", int, kind),
            cause_txt=str(data.get("cause_txt", "")),
        )
    if kind == "ChannelDtmfReceived":
        return ChannelDtmfReceived(
            **base,
            channel=Channel.from_json(_req(data, "channel", Mapping, kind)),
            digit=_req(data, "digit", str, kind),
            duration_ms=int(data.get("duration_ms", 0) or 0),
        )
    if kind == "Dial":
        return Dial(
            **base,
            peer=Channel.from_json(_req(data, "peer", Mapping, kind)),
            dialstatus=_req(data, "dialstatus", str, kind),
            caller=_opt_channel(data, "caller"),
            dialstring=str(data.get("dialstring", "")),
            forward=str(data.get("forward", "")),
        )
    if kind == "ChannelVarset":
        return ChannelVarset(
            **base,
            variable=_req(data, "variable", str, kind),
            value=str(data.get("value", "")),
            channel=_opt_channel(data, "channel"),
        )
    if kind == "PlaybackFinished":
        return PlaybackFinished(**base, playback=Playback.from_json(_req(data, "playback", Mapping, kind)))
    return UnknownEvent(**base, raw=MappingProxyType(dict(data)))
