"""Structured logs: one JSON object per line on stderr, `call_id` on every call line.

Caller emails and phone numbers are masked before a line is written (DESIGN.md, "Failure
and bad input"): `j***@example.com`, `+1206***0101`. Use `log_event(logger, "msg", call_id=...,
key=value)`; extra keys become JSON fields.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PHONE = re.compile(r"(?<![\w.:])\+?\(?\d[\d ()-]{5,}\d(?![\w:]|\.\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def mask(text: str) -> str:
    """Mask email addresses and phone numbers in free text."""
    text = _EMAIL.sub(r"\1***@\2", text)
    return _PHONE.sub(_mask_phone, text)


def _mask_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if len(digits) < 7 or len(digits) > 15 or _DATE.search(match.group(0)):
        return match.group(0)  # a short number (a port, a count) is not a phone number
    return ("+" if match.group(0).startswith("+") else "") + "***" + digits[-4:]


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = _mask_value(value)
        if record.exc_info:
            out["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(out, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of each line (it may be replaced later)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def setup_logging(level: str = "INFO", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "aiohttp.access", "faster_whisper", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured line; pass call_id=... for anything about a call."""
    logger.log(level, msg, extra=fields)


def now_ms() -> float:
    return time.perf_counter() * 1000.0
