"""The local record of every call: calls, turns with timestamps and latencies, audit events.

SQLite in WAL mode (one file, `storage.database`), written turn by turn as the call happens,
so a crash mid-call still leaves the transcript; the case itself goes to the outbox
(`kayako_client.outbox`) before anything is sent to Kayako. All writes are short
transactions (< 1 ms on local disk); the app calls them from its event loop.

With a `FieldCipher` (see `ari_app.privacy.FieldCipher`) the transcript text, the caller's
name, email and phone and the call summary are stored encrypted and decrypted on read; values
written before encryption was turned on stay readable (no `enc:` prefix). Lookups by phone or
email go through `caller_phone_key` / `caller_email_key`: a keyed HMAC of the normalised value
when a cipher is set, the normalised value itself otherwise.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    caller_phone TEXT NOT NULL DEFAULT '',
    caller_name TEXT NOT NULL DEFAULT '',
    caller_email TEXT NOT NULL DEFAULT '',
    email_confirmed INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    subject TEXT,
    summary TEXT,
    priority TEXT,
    tags TEXT,
    articles TEXT,
    duration_s REAL,
    case_id INTEGER,
    case_state TEXT NOT NULL DEFAULT 'none'
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
    at_s REAL NOT NULL,
    speaker TEXT NOT NULL,
    text TEXT NOT NULL,
    latency_ms REAL,
    end_of_turn_ms REAL,
    stt_ms REAL,
    decide_ms REAL,
    tts_ms REAL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_call ON turns(call_id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    call_id TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS calls_started ON calls(started_at);
"""

# columns added after the first release: (table, column, declaration); added when missing
_MIGRATIONS = (
    ("calls", "caller_phone_key", "TEXT NOT NULL DEFAULT ''"),
    ("calls", "caller_email_key", "TEXT NOT NULL DEFAULT ''"),
    ("calls", "erased_at", "TEXT"),
)
_ENCRYPTED_CALL_FIELDS = ("caller_phone", "caller_name", "caller_email", "summary")


class FieldCipher(Protocol):
    """Encrypts single text fields at rest and gives stable lookup keys for identifiers."""

    def encrypt(self, text: str) -> str: ...

    def decrypt(self, token: str) -> str: ...

    def lookup_key(self, normalised: str) -> str: ...


def normalise_phone(phone: str) -> str:
    """Digits only, last 10 kept: `+1 (206) 555-0101`, `2065550101` and `12065550101` match."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-10:]


def normalise_email(email: str) -> str:
    return email.strip().lower()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class TurnTiming:
    """Voice-to-voice latency of one agent reply and its parts, in milliseconds."""

    latency_ms: float | None = None  # last voiced caller frame received -> first agent frame sent
    end_of_turn_ms: float | None = None
    stt_ms: float | None = None
    decide_ms: float | None = None
    tts_ms: float | None = None


class CallStore:
    def __init__(self, path: str | Path, cipher: FieldCipher | None = None) -> None:
        self.path = str(path)
        self.cipher = cipher
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)
        for table, column, decl in _MIGRATIONS:
            have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    # ------------------------------------------------------------------ field protection
    def _enc(self, text: str | None) -> str | None:
        if text is None or text == "" or self.cipher is None:
            return text
        return self.cipher.encrypt(text)

    def _dec(self, text: str | None) -> str | None:
        if text is None or self.cipher is None or not text.startswith("enc:"):
            return text
        return self.cipher.decrypt(text)

    def phone_key(self, phone: str) -> str:
        """Lookup key of a phone number ('' for an empty or digit-less one)."""
        norm = normalise_phone(phone)
        if not norm:
            return ""
        return self.cipher.lookup_key("phone:" + norm) if self.cipher else norm

    def email_key(self, email: str) -> str:
        norm = normalise_email(email)
        if not norm:
            return ""
        return self.cipher.lookup_key("email:" + norm) if self.cipher else norm

    def _call_row(self, row: sqlite3.Row) -> dict[str, Any]:
        out = dict(row)
        for name in _ENCRYPTED_CALL_FIELDS:
            out[name] = self._dec(out.get(name))
        return out

    def _turn_row(self, row: sqlite3.Row) -> dict[str, Any]:
        out = dict(row)
        out["text"] = self._dec(out["text"])
        return out

    def close(self) -> None:
        self.db.close()

    def _exec(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.db.execute(sql, params)

    # ------------------------------------------------------------------ writes
    def start_call(self, call_id: str, caller_phone: str = "") -> None:
        self._exec(
            "INSERT OR IGNORE INTO calls(call_id, started_at, caller_phone, caller_phone_key) VALUES (?, ?, ?, ?)",
            (call_id, utc_now(), self._enc(caller_phone), self.phone_key(caller_phone)),
        )
        self.audit(call_id, "system", "call-started")

    def add_turn(
        self, call_id: str, at_s: float, speaker: str, text: str, timing: TurnTiming | None = None
    ) -> None:
        t = timing or TurnTiming()
        self._exec(
            "INSERT INTO turns(call_id, at_s, speaker, text, latency_ms, end_of_turn_ms, stt_ms, decide_ms, tts_ms,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                call_id,
                at_s,
                speaker,
                self._enc(text),
                t.latency_ms,
                t.end_of_turn_ms,
                t.stt_ms,
                t.decide_ms,
                t.tts_ms,
                utc_now(),
            ),
        )

    def set_turn_timing(self, call_id: str, timing: TurnTiming) -> None:
        """Attach timing to the latest agent turn of the call (known once its first frame is sent)."""
        self._exec(
            "UPDATE turns SET latency_ms=?, end_of_turn_ms=?, stt_ms=?, decide_ms=?, tts_ms=? WHERE id = ("
            "SELECT id FROM turns WHERE call_id=? AND speaker='agent' ORDER BY id DESC LIMIT 1)",
            (
                timing.latency_ms,
                timing.end_of_turn_ms,
                timing.stt_ms,
                timing.decide_ms,
                timing.tts_ms,
                call_id,
            ),
        )

    def end_call(self, call_id: str, case: Any) -> None:
        """Record the composed case (a nlu.case.CaseDraft) on the call row."""
        self._exec(
            "UPDATE calls SET ended_at=?, caller_phone=?, caller_name=?, caller_email=?, email_confirmed=?,"
            " outcome=?, subject=?, summary=?, priority=?, tags=?, articles=?, duration_s=?,"
            " caller_phone_key=?, caller_email_key=?,"
            " case_state=CASE WHEN case_state='none' THEN 'queued' ELSE case_state END WHERE call_id=?",
            (
                utc_now(),
                self._enc(case.caller_phone),
                self._enc(case.caller_name),
                self._enc(case.caller_email),
                int(case.email_confirmed),
                case.outcome,
                case.subject,
                self._enc(case.summary),
                case.priority,
                json.dumps(list(case.tags)),
                json.dumps([list(a) for a in case.articles]),
                case.duration_s,
                self.phone_key(case.caller_phone),
                self.email_key(case.caller_email),
                call_id,
            ),
        )
        self.audit(call_id, "system", "call-ended", f"outcome={case.outcome}")

    def set_case_id(self, call_id: str, case_id: int) -> None:
        self._exec("UPDATE calls SET case_id=?, case_state='delivered' WHERE call_id=?", (case_id, call_id))
        self.audit(call_id, "outbox", "case-delivered", f"case_id={case_id}")

    def set_case_state(self, call_id: str, state: str) -> None:
        self._exec("UPDATE calls SET case_state=? WHERE call_id=?", (state, call_id))

    def audit(self, call_id: str, actor: str, action: str, detail: str = "") -> None:
        self._exec(
            "INSERT INTO audit(ts, call_id, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
            (utc_now(), call_id, actor, action, detail),
        )

    # ------------------------------------------------------------------ reads
    def call(self, call_id: str) -> dict[str, Any] | None:
        row = self._exec("SELECT * FROM calls WHERE call_id=?", (call_id,)).fetchone()
        return self._call_row(row) if row else None

    def turns(self, call_id: str) -> list[dict[str, Any]]:
        rows = self._exec("SELECT * FROM turns WHERE call_id=? ORDER BY id", (call_id,)).fetchall()
        return [self._turn_row(r) for r in rows]

    def calls(self, since: str | None = None) -> list[dict[str, Any]]:
        if since:
            rows = self._exec(
                "SELECT * FROM calls WHERE started_at >= ? ORDER BY started_at", (since,)
            ).fetchall()
        else:
            rows = self._exec("SELECT * FROM calls ORDER BY started_at").fetchall()
        return [self._call_row(r) for r in rows]

    def audit_events(self, call_id: str | None = None) -> list[dict[str, Any]]:
        if call_id is None:
            rows = self._exec("SELECT * FROM audit ORDER BY id").fetchall()
        else:
            rows = self._exec("SELECT * FROM audit WHERE call_id=? ORDER BY id", (call_id,)).fetchall()
        return [dict(r) for r in rows]

    def latencies(self, since: str | None = None) -> list[float]:
        sql = "SELECT latency_ms FROM turns WHERE latency_ms IS NOT NULL"
        params: tuple[Any, ...] = ()
        if since:
            sql += " AND created_at >= ?"
            params = (since,)
        return [r[0] for r in self._exec(sql, params).fetchall()]

    # ------------------------------------------------------------------ privacy
    def calls_of_caller(self, phone: str | None = None, email: str | None = None) -> list[str]:
        """Call ids whose caller has this phone number or email (works when encrypted)."""
        wanted: list[tuple[str, set[str]]] = []
        if phone and normalise_phone(phone):
            norm = normalise_phone(phone)
            wanted.append(("caller_phone", {self.phone_key(phone), norm}))
        if email and normalise_email(email):
            norm = normalise_email(email)
            wanted.append(("caller_email", {self.email_key(email), norm}))
        found: list[str] = []
        rows = self._exec(
            "SELECT call_id, caller_phone, caller_email, caller_phone_key, caller_email_key FROM calls"
            " ORDER BY started_at"
        ).fetchall()
        for row in rows:
            for column, keys in wanted:
                key = row[column + "_key"]
                if key:
                    hit = key in keys
                else:  # a row written before lookup keys existed: compare the value itself
                    value = self._dec(row[column]) or ""
                    normed = normalise_phone(value) if column == "caller_phone" else normalise_email(value)
                    hit = bool(normed) and normed in keys
                if hit:
                    found.append(row["call_id"])
                    break
        return found

    def calls_started_before(self, cutoff: str, include_erased: bool = False) -> list[str]:
        sql = "SELECT call_id FROM calls WHERE started_at < ?"
        if not include_erased:
            sql += " AND erased_at IS NULL"
        return [r[0] for r in self._exec(sql + " ORDER BY started_at", (cutoff,)).fetchall()]

    def erase_calls(self, call_ids: list[str], *, details: bool = True) -> tuple[int, int]:
        """Blank the transcripts (and with `details`, the caller's name, email, phone and the
        summary) of these calls; timings, outcome, tags and articles stay for the analytics.
        Returns (calls touched, turns blanked)."""
        if not call_ids:
            return 0, 0
        now = utc_now()
        calls_n = turns_n = 0
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for call_id in call_ids:
                    cur = self.db.execute(
                        "UPDATE turns SET text='' WHERE call_id=? AND text != ''", (call_id,)
                    )
                    turns_n += cur.rowcount
                    if details:
                        cur = self.db.execute(
                            "UPDATE calls SET caller_phone='', caller_name='', caller_email='', summary='',"
                            " subject='', caller_phone_key='', caller_email_key='', erased_at=? WHERE call_id=?",
                            (now, call_id),
                        )
                    else:
                        cur = self.db.execute(
                            "UPDATE calls SET summary='', erased_at=? WHERE call_id=?", (now, call_id)
                        )
                    calls_n += cur.rowcount
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return calls_n, turns_n


def monotonic_ms() -> float:
    return time.monotonic() * 1000.0
