"""Caller privacy: encryption at rest, "forget this caller", and the retention purge.

- Encryption: `FernetFieldCipher` (cryptography's Fernet: AES-128-CBC + HMAC-SHA256) encrypts
  transcript text and caller details field by field; the key is `storage.encryption_key` (or
  `storage.encryption_key_file`, read by the settings loader), a 32-byte url-safe base64 key as
  `kayako-voice`'s `generate_key()` prints. Lookups by phone or email use HMAC-SHA256 with a
  key derived from the same secret, so `forget` finds a caller without decrypting every row.
- Forget: blanks the transcripts, names, emails, phones, subjects and summaries of every call
  of one caller, and the copies of delivered cases in the outbox; outcome, timings, tags and
  articles stay for the analytics. Cases still waiting for Kayako are left alone (Kayako is the
  system of record; they are counted so the operator knows). One audit entry per request,
  with the identifier masked.
- Retention: calls that started more than `storage.retention_days` ago are erased the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken

from ari_app.logs import log_event, mask
from ari_app.settings import Settings, SettingsError
from ari_app.store import CallStore, normalise_email, normalise_phone

log = logging.getLogger(__name__)

_PREFIX = "enc:v1:"
_OUTBOX_ERASED = {
    "subject": "[erased]",
    "contents_html": "<p>[erased]</p>",
    "requester_name": "",
    "requester_email": "",
    "requester_phone": "",
    "note_text": "",
    "field_values": {},
}


class EncryptionKeyError(ValueError):
    """The encryption key is malformed, or does not open data written with another key."""


class ForgetRequestError(ValueError):
    """A forget request without a usable phone number or email."""


def generate_key() -> str:
    """A fresh key for `storage.encryption_key`."""
    return Fernet.generate_key().decode("ascii")


class FernetFieldCipher:
    """Per-field encryption with Fernet; values carry an `enc:v1:` prefix."""

    def __init__(self, key: str | bytes) -> None:
        raw = key.encode("ascii") if isinstance(key, str) else key
        try:
            self._fernet = Fernet(raw.strip())
        except (ValueError, TypeError) as exc:
            raise EncryptionKeyError(
                "storage.encryption_key must be 32 bytes of url-safe base64 (44 characters);"
                " make one with: python -c 'from ari_app.privacy import generate_key; print(generate_key())'"
            ) from exc
        secret = base64.urlsafe_b64decode(raw.strip())
        self._lookup = hmac.new(secret, b"kayako-voice lookup key v1", hashlib.sha256).digest()

    def encrypt(self, text: str) -> str:
        return _PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        if not token.startswith(_PREFIX):
            return token
        try:
            return self._fernet.decrypt(token[len(_PREFIX) :].encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise EncryptionKeyError(
                "stored data does not open with storage.encryption_key (was the key changed?)"
            ) from exc

    def lookup_key(self, normalised: str) -> str:
        return "h1:" + hmac.new(self._lookup, normalised.encode("utf-8"), hashlib.sha256).hexdigest()


def cipher_from_settings(settings: Settings) -> FernetFieldCipher | None:
    key = settings.storage.encryption_key.strip()
    if not key:
        return None
    try:
        return FernetFieldCipher(key)
    except EncryptionKeyError as exc:
        raise SettingsError(f"setting storage.encryption_key: {exc}") from None


def open_store(settings: Settings) -> CallStore:
    """The call store with encryption as configured."""
    return CallStore(settings.storage.database, cipher=cipher_from_settings(settings))


@dataclass(frozen=True)
class ErasureResult:
    call_ids: tuple[str, ...]
    calls: int  # call rows erased
    turns: int  # transcript turns blanked
    outbox_erased: int  # delivered outbox copies blanked
    outbox_waiting: int  # cases of these calls still waiting for (or dead before) Kayako

    def to_dict(self) -> dict[str, object]:
        return {
            "calls": self.calls,
            "turns": self.turns,
            "outbox_erased": self.outbox_erased,
            "outbox_waiting": self.outbox_waiting,
            "call_ids": list(self.call_ids),
        }


def _erase_outbox(store: CallStore, call_ids: list[str]) -> tuple[int, int]:
    """Blank the payloads of delivered outbox rows of these calls (same SQLite file)."""
    have = store._exec("SELECT name FROM sqlite_master WHERE type='table' AND name='case_outbox'").fetchone()
    if not have or not call_ids:
        return 0, 0
    erased = waiting = 0
    for call_id in call_ids:
        row = store._exec("SELECT state, payload FROM case_outbox WHERE call_id=?", (call_id,)).fetchone()
        if row is None:
            continue
        if row["state"] != "delivered":
            waiting += 1
            continue
        try:
            payload = json.loads(row["payload"])
        except json.JSONDecodeError:
            log_event(log, "outbox payload unreadable; replacing it", logging.WARNING, call_id=call_id)
            payload = {"call_id": call_id}
        if all(payload.get(k) == v for k, v in _OUTBOX_ERASED.items()):
            continue
        payload.update(_OUTBOX_ERASED)
        store._exec("UPDATE case_outbox SET payload=? WHERE call_id=?", (json.dumps(payload), call_id))
        erased += 1
    return erased, waiting


def _masked_phone(phone: str) -> str:
    """Only the last 4 digits, whatever the formatting (`logs.mask` needs an unbroken number)."""
    digits = normalise_phone(phone)
    return "***" + digits[-4:]


def forget_caller(
    store: CallStore, phone: str | None = None, email: str | None = None, actor: str = "cli"
) -> ErasureResult:
    """Erase everything stored locally about one caller (by phone number and/or email)."""
    phone = (phone or "").strip()
    email = (email or "").strip()
    if not phone and not email:
        raise ForgetRequestError("give a phone number or an email address")
    if phone and not normalise_phone(phone):
        raise ForgetRequestError(f"not a phone number: {mask(phone)!r}")
    if email and ("@" not in email or not normalise_email(email).split("@")[-1]):
        raise ForgetRequestError(f"not an email address: {mask(email)!r}")
    call_ids = store.calls_of_caller(phone=phone or None, email=email or None)
    calls, turns = store.erase_calls(call_ids)
    outbox_erased, waiting = _erase_outbox(store, call_ids)
    who = " ".join(
        part for part in (_masked_phone(phone) if phone else "", mask(email) if email else "") if part
    )
    detail = f"who={who} calls={calls} turns={turns} outbox_erased={outbox_erased} outbox_waiting={waiting}"
    store.audit("", actor, "caller-forgotten", detail)
    log_event(log, "caller forgotten", actor=actor, who=who, calls=calls, turns=turns)
    return ErasureResult(tuple(call_ids), calls, turns, outbox_erased, waiting)


def purge_expired(
    store: CallStore, retention_days: int, actor: str = "system", now: datetime | None = None
) -> ErasureResult:
    """Erase transcripts and caller details of calls older than `retention_days` (0: keep all)."""
    if retention_days < 0:
        raise ValueError("retention_days must not be negative")
    if retention_days == 0:
        return ErasureResult((), 0, 0, 0, 0)
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=retention_days)).isoformat(timespec="milliseconds")
    call_ids = store.calls_started_before(cutoff)
    calls, turns = store.erase_calls(call_ids)
    outbox_erased, waiting = _erase_outbox(store, call_ids)
    store.audit(
        "",
        actor,
        "retention-purge",
        f"before={cutoff} calls={calls} turns={turns} outbox_erased={outbox_erased} outbox_waiting={waiting}",
    )
    log_event(log, "retention purge", actor=actor, before=cutoff, calls=calls, turns=turns)
    return ErasureResult(tuple(call_ids), calls, turns, outbox_erased, waiting)
