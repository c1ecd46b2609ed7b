"""Typed errors for everything that can go wrong talking to Kayako.

Kayako v1 reports failures as `{"status": N, "errors": [{"code", "parameter", "message"}]}`
(kayako-api.md §4.1); each error here carries that code and parameter plus the HTTP status.
`maybe_committed` is True when a write may have reached Kayako although no usable reply came
back (timeout after sending, dropped connection, truncated body): the caller must look for
the result before writing again.
"""

from __future__ import annotations


class KayakoError(Exception):
    """Any failure reported by, or on the way to, a Kayako instance."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        parameter: str = "",
        status: int | None = None,
        maybe_committed: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.parameter = parameter
        self.status = status
        self.maybe_committed = maybe_committed

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"code={self.code}")
        if self.parameter:
            parts.append(f"parameter={self.parameter}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        return " ".join(parts)


class AuthError(KayakoError):
    """Credentials refused (401 AUTHENTICATION_FAILED) or a session that cannot be re-made."""


class NotFound(KayakoError):
    """404: the resource does not exist (or is not visible to this agent)."""


class RateLimited(KayakoError):
    """429 that outlasted the client's waiting budget; `retry_after` is Kayako's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class FieldError(KayakoError):
    """400 validation error (FIELD_REQUIRED, FIELD_INVALID, FIELD_DUPLICATE, ...); will not fix itself."""


class BadReply(KayakoError):
    """A reply that is not a Kayako JSON envelope: HTML error page, truncated or malformed JSON."""


class Unavailable(KayakoError):
    """Kayako could not be reached or answered 5xx after every allowed attempt."""
