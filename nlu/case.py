"""What a Kayako case needs, composed from one call.

A call ends with exactly one `CaseDraft`: it carries the full transcript with a timestamp per
turn, the caller's details (and whether the email was confirmed), every topic discussed, the
articles used, the outcome and the triage tags. `kayako_client` turns it into a Kayako case
(or a note on the caller's open case); it never reaches Kayako before it is in SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OUTCOMES = ("resolved", "escalated", "abandoned")
PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True)
class TranscriptTurn:
    at: float  # seconds since the call started
    speaker: str  # "caller" | "agent"
    text: str


@dataclass(frozen=True)
class Topic:
    """One question the caller raised, and how it went."""

    question: str
    article_id: int | None = None
    article_title: str = ""
    outcome: str = "open"  # "open" | "resolved" | "escalated" | "unanswered"


@dataclass(frozen=True)
class CaseDraft:
    call_id: str
    subject: str
    summary: str
    outcome: str  # one of OUTCOMES
    priority: str  # one of PRIORITIES
    tags: tuple[str, ...]
    transcript: tuple[TranscriptTurn, ...]
    topics: tuple[Topic, ...]
    caller_phone: str
    caller_name: str
    caller_email: str
    email_confirmed: bool
    email_uncertain: bool  # two failed confirmations: best guess kept, flagged
    phone_confirmed: bool
    duration_s: float
    resolution_notes: str
    escalation_reason: str = ""
    articles: tuple[tuple[int, str], ...] = field(default=())  # (id, title) used in the call

    def missing_fields(self) -> list[str]:
        """Fields a complete case must carry; empty list means complete."""
        missing = []
        for name in ("call_id", "subject", "summary", "outcome", "priority", "resolution_notes"):
            if not getattr(self, name):
                missing.append(name)
        if self.outcome not in OUTCOMES:
            missing.append("outcome")
        if self.priority not in PRIORITIES:
            missing.append("priority")
        if not self.transcript:
            missing.append("transcript")
        if not self.tags or "phone" not in self.tags:
            missing.append("tags")
        if not self.topics:
            missing.append("topics")
        if self.duration_s < 0:
            missing.append("duration_s")
        return missing

    def transcript_text(self) -> str:
        lines = []
        for turn in self.transcript:
            m, s = divmod(int(turn.at), 60)
            lines.append(f"[{m:02d}:{s:02d}] {turn.speaker.title()}: {turn.text}")
        return "\n".join(lines)
