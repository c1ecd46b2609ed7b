"""The Asterisk side of kayako-voice: a thin asyncio ARI client (`AriClient`), typed events
(`models`), errors, the spec checker (`spec`, tests and debugging only) and, in `double/`, an
Asterisk 22 ARI test double. The Stasis app and CallSession build on `AriClient`."""

from ari_app.ari.client import AriClient, pjsip_header_var
from ari_app.ari.errors import (
    AriAuthError,
    AriError,
    AriUnavailable,
    BridgeGone,
    ChannelGone,
    ChannelNotInStasis,
)

__all__ = [
    "AriAuthError",
    "AriClient",
    "AriError",
    "AriUnavailable",
    "BridgeGone",
    "ChannelGone",
    "ChannelNotInStasis",
    "pjsip_header_var",
]
