"""Seeds a real call store with a small known history for the operations tests.

Six ended calls over three days and one call still in progress; the expected figures below
are counted by hand from this table, not computed by the code under test.
"""

from __future__ import annotations

from pathlib import Path

from ari_app.store import CallStore, TurnTiming
from nlu.case import CaseDraft, Topic, TranscriptTurn

# id, started_at, outcome, duration_s, tags, articles, phone, email, name
CALLS = [
    (
        "c1",
        "2025-03-01T09:05:00.000+00:00",
        "resolved",
        120.0,
        ["phone", "ai-resolved", "login", "password"],
        [(1001, "Reset your password")],
        "+12065550101",
        "jane.doe@example.com",
        "Jane Doe",
    ),
    (
        "c2",
        "2025-03-01T09:40:00.000+00:00",
        "resolved",
        90.0,
        ["phone", "ai-resolved", "login"],
        [(1001, "Reset your password")],
        "+13125550102",
        "",
        "",
    ),
    (
        "c3",
        "2025-03-01T14:10:00.000+00:00",
        "escalated",
        300.0,
        ["phone", "ai-escalated", "billing"],
        [],
        "+16175550103",
        "sam@copperline.example",
        "Sam Ortiz",
    ),
    (
        "c4",
        "2025-03-02T10:00:00.000+00:00",
        "escalated",
        240.0,
        ["phone", "ai-escalated", "billing"],
        [(1009, "Charged twice")],
        "+12065550101",
        "jane.doe@example.com",
        "Jane Doe",
    ),
    ("c5", "2025-03-02T16:30:00.000+00:00", "abandoned", 30.0, ["phone", "ai-abandoned"], [], "", "", ""),
    (
        "c6",
        "2025-03-03T09:20:00.000+00:00",
        "resolved",
        180.0,
        ["phone", "ai-resolved", "2fa", "login"],
        [(1004, "Sign in after losing your 2FA device")],
        "+14155550106",
        "li@example.org",
        "Li Wei",
    ),
]
IN_PROGRESS = ("c7", "2025-03-03T11:00:00.000+00:00", "+14155550107")
# ten agent turns with these latencies, spread over c1..c6 (two each on c1..c4, one on c5, c6)
LATENCIES = [400.0, 500.0, 600.0, 700.0, 800.0, 900.0, 1000.0, 1100.0, 1200.0, 1300.0]
LATENCY_CALLS = ["c1", "c1", "c2", "c2", "c3", "c3", "c4", "c4", "c5", "c6"]

EXPECTED = {
    "total_calls": 7,
    "ended_calls": 6,
    "in_progress": 1,
    "outcomes": {"resolved": 3, "escalated": 2, "abandoned": 1},
    "resolution_rate": 0.5,
    "escalation_rate": 0.3333,
    "abandonment_rate": 0.1667,
    "avg_handling_s": 160.0,  # (120+90+300+240+30+180)/6
    "median_handling_s": 150.0,  # between 120 and 180
    "by_day": {"2025-03-01": 3, "2025-03-02": 2, "2025-03-03": 2},
    "by_hour": {9: 3, 10: 1, 11: 1, 14: 1, 16: 1},
    "p50_ms": 850.0,
    "p95_ms": 1255.0,  # rank 0.95*9 = 8.55: 1200 + 0.55*100
    "top_article": ("1001", "Reset your password", 2),
    "top_tag": ("login", 3),
}


def draft(call_id: str, outcome: str, duration: float, tags, articles, phone, email, name) -> CaseDraft:
    return CaseDraft(
        call_id=call_id,
        subject=f"Phone call about {tags[-1]}",
        summary=f"{name or 'Caller'} called about {tags[-1]}; reach them at {email or phone}.",
        outcome=outcome,
        priority="normal",
        tags=tuple(tags),
        transcript=(TranscriptTurn(0.0, "caller", "hello"),),
        topics=(Topic(question="help"),),
        caller_phone=phone,
        caller_name=name,
        caller_email=email,
        email_confirmed=bool(email),
        email_uncertain=False,
        phone_confirmed=bool(phone),
        duration_s=duration,
        resolution_notes="notes",
        articles=tuple(articles),
    )


def seed(store: CallStore) -> None:
    lat = iter(zip(LATENCY_CALLS, LATENCIES, strict=True))
    pending = next(lat)
    for call_id, started, outcome, duration, tags, articles, phone, email, name in CALLS:
        store.start_call(call_id, phone)
        store.add_turn(call_id, 1.0, "caller", f"Hi, this is {name or 'me'}, my email is {email or 'none'}")
        while pending is not None and pending[0] == call_id:
            store.add_turn(
                call_id, 3.0, "agent", "Here is how to fix that.", TurnTiming(latency_ms=pending[1])
            )
            pending = next(lat, None)
        store.end_call(call_id, draft(call_id, outcome, duration, tags, articles, phone, email, name))
        _backdate(store, call_id, started)
    call_id, started, phone = IN_PROGRESS
    store.start_call(call_id, phone)
    store.add_turn(call_id, 1.0, "caller", "Hello? I have a question about invoices")
    _backdate(store, call_id, started)


def _backdate(store: CallStore, call_id: str, started: str) -> None:
    store.db.execute("UPDATE calls SET started_at=? WHERE call_id=?", (started, call_id))
    store.db.execute("UPDATE turns SET created_at=? WHERE call_id=?", (started, call_id))


def seeded_store(path: Path, cipher=None) -> CallStore:
    store = CallStore(path, cipher=cipher)
    seed(store)
    return store
