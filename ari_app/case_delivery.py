"""From a call's `CaseDraft` (nlu) to the `OutboundCase` the Kayako outbox delivers.

Owns the case body an agent reads in Kayako: summary, caller details (with whether the email
was confirmed, or kept as an uncertain best guess), topics, articles used and the full
transcript with a `[mm:ss]` stamp per turn; plus the Kayako names for priority, status and
type. Facts: a fresh Kayako has statuses New/Open/Pending/Completed/Closed, priorities
Low/Normal/High/Urgent and types Question/Task/Problem/Incident (kayako-api.md); a resolved
call is "Completed", anything else stays "Open" for a human. Everything caller-supplied is
HTML-escaped: a transcript is untrusted text.
"""

from __future__ import annotations

from html import escape as _escape

from kayako_client.models import OutboundCase
from nlu.case import CaseDraft

PRIORITY_NAMES = {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}
TYPE_BY_OUTCOME = {"resolved": "Question", "escalated": "Problem", "abandoned": "Question"}
MAX_SUBJECT = 250


def escape(text: str) -> str:
    """HTML-escape untrusted text; quotes stay as they are (they are safe outside attributes)."""
    return _escape(text, quote=False)


def status_name(outcome: str) -> str:
    return "Completed" if outcome == "resolved" else "Open"


def _stamp(seconds: float) -> str:
    m, s = divmod(max(0, int(seconds)), 60)
    return f"{m:02d}:{s:02d}"


def _email_line(draft: CaseDraft) -> str:
    if not draft.caller_email:
        return "not given"
    if draft.email_confirmed:
        flag = "confirmed by the caller"
    elif draft.email_uncertain:
        flag = "UNCERTAIN: not confirmed after two read-backs, best guess kept"
    else:
        flag = "not confirmed"
    return f"{escape(draft.caller_email)} ({flag})"


def contents_html(draft: CaseDraft, company: str = "") -> str:
    """The first post of the case: what an agent needs to pick the call up."""
    parts: list[str] = []
    intro = f"Phone call handled by the {escape(company)} voice agent" if company else "Phone call"
    parts.append(f"<p><strong>{intro}</strong>, outcome: {escape(draft.outcome)}.</p>")
    parts.append(f"<p>{escape(draft.summary)}</p>")
    if draft.escalation_reason:
        parts.append(f"<p>Escalation reason: {escape(draft.escalation_reason)}</p>")
    parts.append("<h3>Caller</h3><ul>")
    parts.append(f"<li>Name: {escape(draft.caller_name) or 'not given'}</li>")
    parts.append(f"<li>Email: {_email_line(draft)}</li>")
    phone = escape(draft.caller_phone) or "withheld"
    parts.append(f"<li>Phone: {phone}{' (confirmed)' if draft.phone_confirmed else ''}</li>")
    parts.append(f"<li>Call duration: {draft.duration_s:.0f} s</li></ul>")
    if draft.topics:
        parts.append("<h3>Topics</h3><ol>")
        for topic in draft.topics:
            article = (
                f" (article {topic.article_id}: {escape(topic.article_title)})" if topic.article_id else ""
            )
            parts.append(f"<li>{escape(topic.question)}{article}: {escape(topic.outcome)}</li>")
        parts.append("</ol>")
    if draft.articles:
        parts.append("<h3>Articles used</h3><ul>")
        parts.extend(f"<li>#{aid} {escape(title)}</li>" for aid, title in draft.articles)
        parts.append("</ul>")
    if draft.resolution_notes:
        parts.append(f"<p>Resolution notes: {escape(draft.resolution_notes)}</p>")
    parts.append("<h3>Transcript</h3><p>")
    lines = [
        f"[{_stamp(t.at)}] <strong>{escape(t.speaker.title())}</strong>: {escape(t.text)}"
        for t in draft.transcript
    ]
    parts.append("<br>\n".join(lines) if lines else "(no speech)")
    parts.append("</p>")
    return "\n".join(parts)


def outbound_case(draft: CaseDraft, company: str = "") -> OutboundCase:
    """Map one call's draft to the outbox record (plain types only)."""
    subject = " ".join(draft.subject.split())[:MAX_SUBJECT] or f"Phone call {draft.call_id}"
    return OutboundCase(
        call_id=draft.call_id,
        subject=subject,
        contents_html=contents_html(draft, company),
        tags=tuple(draft.tags),
        priority_name=PRIORITY_NAMES.get(draft.priority, "Normal"),
        status_name=status_name(draft.outcome),
        type_name=TYPE_BY_OUTCOME.get(draft.outcome, "Question"),
        requester_name=draft.caller_name,
        requester_email=draft.caller_email,
        requester_phone=draft.caller_phone,
        field_values={
            "call_outcome": draft.outcome,
            "call_duration_s": f"{draft.duration_s:.0f}",
            "email_confirmed": "yes" if draft.email_confirmed else "no",
        },
        note_text=contents_html(draft, company),
    )
