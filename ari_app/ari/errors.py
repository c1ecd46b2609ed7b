"""Errors raised by the ARI client, one class per thing the call flow reacts to differently.

Facts (Asterisk 22 res/ari): error replies are JSON `{"message": "..."}`; a channel that no
longer exists gives 404 "Channel not found" (400 "Channel not found" on bridge addChannel);
adding a channel to a bridge before its StasisStart gives 422 "Channel not in Stasis
application"; bad credentials give 401.
"""

from __future__ import annotations


class AriError(Exception):
    """An ARI request failed: HTTP status (0 when Asterisk could not be reached), method, path and
    Asterisk's own `message` when it sent one."""

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.message = message
        super().__init__(f"ARI {method} {path} -> {status}: {message}")


class ChannelGone(AriError):
    """The channel no longer exists (hung up, destroyed, or Asterisk restarted)."""


class BridgeGone(AriError):
    """The bridge no longer exists."""


class ChannelNotInStasis(AriError):
    """The channel exists but is not (yet, or no longer) in our Stasis application."""


class AriAuthError(AriError):
    """Asterisk refused the ARI username/password (401)."""


class AriUnavailable(AriError):
    """Asterisk could not be reached, or did not answer in time (status 0)."""
