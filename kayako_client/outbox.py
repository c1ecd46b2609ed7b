"""The durable case outbox: a call's case is in SQLite before Kayako ever sees it.

`enqueue` stores an `OutboundCase` (idempotent per call id); `run` / `deliver_due` deliver
due rows with retries whose `next_attempt_at` is stored, so backoff survives restarts.
Delivery: find the requester (email, else phone, else create one, possibly an "Unknown
caller" with only the phone identity), then either create a case (`channel: NOTE`) or, when
that caller has an open case created within `open_case_days`, add the call as a note and
tag it. Exactly once: the call is carried as tag `call-<id>`; before every write the row is
marked `write_in_flight`, cleared only when the outcome is known, so after a timeout, a
dropped connection, a crash or a cancelled task the next attempt first looks for the case
(the requester's cases by tag, or the open case's posts by marker) instead of writing again.
Rows older than `dead_after_s` that still fail (and rows Kayako refuses with a 400 field
error) become `dead`: logged at error level, counted in `stats()`, never deleted silently.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kayako_client.errors import FieldError, KayakoError, NotFound, RateLimited
from kayako_client.models import NewCase, OutboundCase, OutboxStats
from kayako_client.protocol import HelpdeskApi

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS case_outbox (
  call_id TEXT PRIMARY KEY,
  payload TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',          -- pending | delivered | dead
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at REAL NOT NULL,
  enqueued_at REAL NOT NULL,
  requester_id INTEGER,
  target_case_id INTEGER,                          -- the open case this call becomes a note on
  stage TEXT NOT NULL DEFAULT 'new',               -- new | noting | noted
  write_in_flight INTEGER NOT NULL DEFAULT 0,
  case_id INTEGER,
  last_error TEXT,
  delivered_at REAL,
  dead_at REAL
);
CREATE INDEX IF NOT EXISTS case_outbox_due ON case_outbox(state, next_attempt_at);
"""

DeliveredCallback = Callable[[str, int], Any]
_CASE_FIELDS = {f.name for f in fields(OutboundCase)}


@dataclass(frozen=True)
class OutboxOptions:
    open_case_days: int = 14  # 0: never add calls to an open case
    dead_after_s: float = 86400.0
    backoff_base_s: float = 5.0
    backoff_max_s: float = 600.0
    poll_interval_s: float = 1.0
    concurrency: int = 4
    batch_size: int = 100


def call_tag(call_id: str) -> str:
    return "call-" + (re.sub(r"[^a-z0-9]+", "-", call_id.lower()).strip("-") or "unknown")


def _norm_tags(tags: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for tag in tags:
        t = re.sub(r"\s+", "-", str(tag).strip().lower())
        if t and t not in out:
            out.append(t)
    return tuple(out)


def _parse_time(stamp: str) -> float | None:
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


class CaseOutbox:
    """Cases waiting for Kayako, stored in the SQLite file at `path`."""

    def __init__(
        self,
        path: str | Path,
        client: HelpdeskApi,
        options: OutboxOptions | None = None,
        on_delivered: DeliveredCallback | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.options = options or OutboxOptions()
        self.on_delivered = on_delivered
        self._clock = clock
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 5000")
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(SCHEMA)
        self._inflight: dict[str, asyncio.Task[int | None]] = {}
        self._caller_locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._wake: asyncio.Event | None = None

    def close(self) -> None:
        self._db.close()

    # -- storing ------------------------------------------------------------------------------

    def enqueue(self, case: OutboundCase) -> None:
        """Store the case for delivery; a second enqueue of the same call id changes nothing."""
        for name in ("call_id", "subject", "contents_html"):
            value = getattr(case, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"OutboundCase.{name} must be a non-empty string")
        payload = asdict(case)
        payload["tags"] = list(case.tags)
        now = self._clock()
        cur = self._db.execute(
            "INSERT OR IGNORE INTO case_outbox (call_id, payload, next_attempt_at, enqueued_at) VALUES (?,?,?,?)",
            (case.call_id, json.dumps(payload, ensure_ascii=False), now, now),
        )
        if cur.rowcount:
            logger.info("case queued for Kayako", extra={"call_id": case.call_id})
        if self._wake is not None:
            self._wake.set()

    def _row(self, call_id: str) -> sqlite3.Row | None:
        return self._db.execute("SELECT * FROM case_outbox WHERE call_id=?", (call_id,)).fetchone()

    def _set(self, call_id: str, **values: Any) -> None:
        keys = ", ".join(f"{k}=?" for k in values)
        self._db.execute(f"UPDATE case_outbox SET {keys} WHERE call_id=?", (*values.values(), call_id))

    def state(self, call_id: str) -> tuple[str, int | None] | None:
        """(state, Kayako case id) of one call's case, or None if it was never queued."""
        row = self._row(call_id)
        return (row["state"], row["case_id"]) if row else None

    def stats(self) -> OutboxStats:
        counts = {
            r["state"]: r["n"]
            for r in self._db.execute("SELECT state, COUNT(*) AS n FROM case_outbox GROUP BY state")
        }
        oldest = self._db.execute(
            "SELECT MIN(enqueued_at) AS t FROM case_outbox WHERE state='pending'"
        ).fetchone()["t"]
        return OutboxStats(
            pending=counts.get("pending", 0),
            delivered=counts.get("delivered", 0),
            dead=counts.get("dead", 0),
            oldest_pending_age_s=None if oldest is None else max(0.0, self._clock() - oldest),
        )

    def dead_cases(self) -> list[tuple[str, str]]:
        """(call_id, last_error) of every dead case, oldest first."""
        rows = self._db.execute(
            "SELECT call_id, last_error FROM case_outbox WHERE state='dead' ORDER BY enqueued_at"
        )
        return [(r["call_id"], r["last_error"] or "") for r in rows]

    def requeue(self, call_id: str) -> bool:
        """Give a dead case another life (for an operator, after fixing the cause)."""
        now = self._clock()
        cur = self._db.execute(
            "UPDATE case_outbox SET state='pending', attempts=0, next_attempt_at=?, enqueued_at=?, dead_at=NULL "
            "WHERE call_id=? AND state='dead'",
            (now, now, call_id),
        )
        return cur.rowcount > 0

    # -- delivering ---------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Deliver every row that is due now; returns how many were delivered in this pass."""
        rows = self._db.execute(
            "SELECT call_id FROM case_outbox WHERE state='pending' AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at LIMIT ?",
            (self._clock(), self.options.batch_size),
        ).fetchall()
        todo = [r["call_id"] for r in rows if r["call_id"] not in self._inflight]
        if not todo:
            return 0
        gate = asyncio.Semaphore(max(1, self.options.concurrency))

        async def one(call_id: str) -> int | None:
            async with gate:
                return await self._start(call_id)

        results = await asyncio.gather(*(one(c) for c in todo))
        return sum(1 for r in results if r is not None)

    async def deliver_now(self, call_id: str, timeout_s: float) -> int | None:
        """Deliver this call's case at once (transfer time); its Kayako case id, or None.

        On timeout the delivery goes on in the background and the row stays queued.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        for _ in range(2):  # an attempt already running may fail: then one fresh attempt
            row = self._row(call_id)
            if row is None:
                return None
            if row["state"] != "pending":
                return row["case_id"] if row["state"] == "delivered" else None
            task = self._inflight.get(call_id) or self._task(call_id)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                result = await asyncio.wait_for(asyncio.shield(task), remaining)
            except TimeoutError:
                logger.warning("case not delivered in time for transfer", extra={"call_id": call_id})
                return None
            if result is not None:
                return result
        return None

    async def run(self, stop_event: asyncio.Event) -> None:
        """Deliver due cases until `stop_event` is set."""
        self._wake = asyncio.Event()
        while not stop_event.is_set():
            try:
                await self.deliver_due()
            except Exception:  # a broken pass must not end the worker
                logger.exception("outbox pass failed")
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop_event.wait()), asyncio.ensure_future(self._wake.wait())]
            _, pending = await asyncio.wait(
                waiters, timeout=self.options.poll_interval_s, return_when=asyncio.FIRST_COMPLETED
            )
            for w in pending:
                w.cancel()
        for task in list(self._inflight.values()):
            task.cancel()  # rows keep write_in_flight: the next start looks before writing
        await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    def _task(self, call_id: str) -> asyncio.Task[int | None]:
        task = asyncio.get_running_loop().create_task(self._deliver_one(call_id))
        self._inflight[call_id] = task
        task.add_done_callback(lambda _t: self._inflight.pop(call_id, None))
        return task

    async def _start(self, call_id: str) -> int | None:
        task = self._inflight.get(call_id) or self._task(call_id)
        return await asyncio.shield(task)

    async def _deliver_one(self, call_id: str) -> int | None:
        row = self._row(call_id)
        if row is None or row["state"] != "pending":
            return row["case_id"] if row is not None else None
        data = json.loads(row["payload"])
        data["tags"] = tuple(data.get("tags") or ())
        case = OutboundCase(**{k: v for k, v in data.items() if k in _CASE_FIELDS})
        key = (case.requester_email or "").strip().lower() or re.sub(r"\D", "", case.requester_phone or "")
        key = key or f"call:{call_id}"
        entry = self._caller_locks.setdefault(key, (asyncio.Lock(), [0]))
        entry[1][0] += 1
        try:
            async with entry[0]:  # one caller's calls in order: the second may become a note on the first
                try:
                    case_id = await self._attempt(call_id, case)
                except Exception as exc:
                    self._failed(call_id, exc)
                    return None
        finally:
            entry[1][0] -= 1
            if entry[1][0] == 0:
                self._caller_locks.pop(key, None)  # memory stays bounded by calls in flight
        now = self._clock()
        self._set(
            call_id, state="delivered", case_id=case_id, delivered_at=now, write_in_flight=0, last_error=None
        )
        logger.info("case delivered to Kayako", extra={"call_id": call_id, "case_id": case_id})
        if row["attempts"]:  # Kayako is back after failures: the others need not sit out their backoff
            self._db.execute(
                "UPDATE case_outbox SET next_attempt_at=? WHERE state='pending' AND next_attempt_at > ?",
                (now, now),
            )
            if self._wake is not None:
                self._wake.set()
        if self.on_delivered is not None:
            try:
                result = self.on_delivered(call_id, case_id)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("on_delivered callback failed", extra={"call_id": call_id})
        return case_id

    async def _attempt(self, call_id: str, case: OutboundCase) -> int:
        row = self._row(call_id)
        assert row is not None
        tag = call_tag(call_id)
        requester_id = row["requester_id"]
        if requester_id is None:
            requester_id = await self._requester(case)
            self._set(call_id, requester_id=requester_id)
        stage = row["stage"]
        target = row["target_case_id"]
        if row["write_in_flight"]:
            if stage == "noting" and target is not None:
                posts = await self.client.get_case_posts(target)
                if any(tag in p.contents for p in posts):
                    stage = "noted"
                    self._set(call_id, stage=stage)
            else:
                for existing in await self.client.list_user_cases(requester_id):
                    if tag in existing.tags:
                        logger.info(
                            "case found after an unclear reply; not creating again",
                            extra={"call_id": call_id},
                        )
                        return existing.id
            self._set(call_id, write_in_flight=0)
        tags = _norm_tags((*case.tags, tag))
        if stage != "noted":
            if target is None and (case.requester_email or case.requester_phone):
                target = await self._open_case(requester_id)
                if target is not None:
                    self._set(call_id, target_case_id=target, stage="noting")
            if target is None:
                self._set(call_id, write_in_flight=1)
                created = await self.client.create_case(
                    NewCase(
                        requester_id=requester_id,
                        subject=case.subject,
                        contents_html=case.contents_html,
                        tags=tags,
                        field_values=dict(case.field_values),
                        priority_name=case.priority_name,
                        status_name=case.status_name,
                        type_name=case.type_name,
                    )
                )
                return created.id
            note = (case.note_text or case.contents_html) + f"<p>Call reference: {tag}</p>"
            self._set(call_id, write_in_flight=1)
            await self.client.add_note(target, note)
            self._set(call_id, stage="noted", write_in_flight=0)
        assert target is not None
        await self.client.update_case(target, add_tags=tags)  # adding tags twice is harmless
        return target

    async def _requester(self, case: OutboundCase) -> int:
        if case.requester_email:
            user = await self.client.find_user_by_email(case.requester_email)
            if user is not None:
                return user.id
        if case.requester_phone:
            user = await self.client.find_user_by_phone(case.requester_phone)
            if user is not None:
                return user.id
        name = case.requester_name.strip() or (
            f"Unknown caller {case.requester_phone}" if case.requester_phone else "Unknown caller"
        )
        try:
            created = await self.client.create_user(name, case.requester_email, case.requester_phone)
        except FieldError as exc:
            if exc.parameter != "email" or not case.requester_email:
                raise
            logger.warning(
                "Kayako refused the caller's email; filing under the phone number",
                extra={"call_id": case.call_id, "error": str(exc)},
            )
            created = await self.client.create_user(name, "", case.requester_phone)
        return created.id

    async def _open_case(self, requester_id: int) -> int | None:
        if self.options.open_case_days <= 0:
            return None
        cutoff = self._clock() - self.options.open_case_days * 86400
        best: tuple[float, int] | None = None
        for c in await self.client.list_user_cases(requester_id):
            created = _parse_time(c.created_at)
            if (
                c.is_open
                and created is not None
                and created >= cutoff
                and (best is None or created > best[0])
            ):
                best = (created, c.id)
        return best[1] if best else None

    def _failed(self, call_id: str, exc: BaseException) -> None:
        row = self._row(call_id)
        if row is None:
            return
        now = self._clock()
        attempts = row["attempts"] + 1
        error = f"{type(exc).__name__}: {exc}"
        updates: dict[str, Any] = {"attempts": attempts, "last_error": error[:1000]}
        if isinstance(exc, KayakoError) and not exc.maybe_committed:
            updates["write_in_flight"] = 0  # the write surely did not happen
        if isinstance(exc, NotFound) and row["target_case_id"] is not None and row["stage"] == "noting":
            updates.update(target_case_id=None, stage="new")  # the open case vanished: file a new one
        permanent = isinstance(exc, FieldError)
        if permanent or now - row["enqueued_at"] >= self.options.dead_after_s:
            updates.update(state="dead", dead_at=now)
            self._set(call_id, **updates)
            logger.error(
                "case marked dead; it will not be retried",
                extra={"call_id": call_id, "attempts": attempts, "error": error, "permanent": permanent},
            )
            return
        ceiling = min(self.options.backoff_max_s, self.options.backoff_base_s * 2 ** (attempts - 1))
        delay = random.uniform(ceiling / 2, ceiling)
        if isinstance(exc, RateLimited):
            delay = max(delay, exc.retry_after)
        updates["next_attempt_at"] = now + delay
        self._set(call_id, **updates)
        logger.warning(
            "case delivery failed; will retry",
            extra={"call_id": call_id, "attempts": attempts, "retry_in_s": round(delay, 2), "error": error},
        )

    def purge_delivered(self, older_than_s: float) -> int:
        """Forget delivered rows older than this (the case lives in Kayako)."""
        cur = self._db.execute(
            "DELETE FROM case_outbox WHERE state='delivered' AND delivered_at < ?",
            (self._clock() - older_than_s,),
        )
        return cur.rowcount
