"""CaseDraft -> OutboundCase: what an agent reads in Kayako, and the Kayako names used."""

from __future__ import annotations

import dataclasses

import pytest

from ari_app.case_delivery import contents_html, outbound_case, status_name
from nlu.case import CaseDraft, Topic, TranscriptTurn


def draft(**changes: object) -> CaseDraft:
    base = CaseDraft(
        call_id="1700000000.7",
        subject="Phone: cannot log in",
        summary="Caller forgot the password; reset link found in junk folder.",
        outcome="resolved",
        priority="high",
        tags=("phone", "ai-resolved", "accounts-login"),
        transcript=(
            TranscriptTurn(0.0, "agent", "Thank you for calling."),
            TranscriptTurn(65.2, "caller", "I can't log in <script>alert(1)</script>"),
        ),
        topics=(Topic("I can't log in", 1001, "Reset your password", "resolved"),),
        caller_phone="+12065550101",
        caller_name="Dana Whitfield",
        caller_email="dana@example.com",
        email_confirmed=True,
        email_uncertain=False,
        phone_confirmed=True,
        duration_s=71.4,
        resolution_notes="Resolved with #1001.",
        articles=((1001, "Reset your password"),),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_resolved_case_fields() -> None:
    case = outbound_case(draft(), "Northwind Desk")
    assert case.call_id == "1700000000.7"
    assert case.status_name == "Completed"
    assert case.priority_name == "High"
    assert case.type_name == "Question"
    assert case.tags == ("phone", "ai-resolved", "accounts-login")
    assert (case.requester_name, case.requester_email, case.requester_phone) == (
        "Dana Whitfield",
        "dana@example.com",
        "+12065550101",
    )
    assert case.field_values["call_outcome"] == "resolved"
    body = case.contents_html
    assert "[01:05]" in body and "[00:00]" in body
    assert "Reset your password" in body and "#1001" in body
    assert "dana@example.com (confirmed by the caller)" in body
    assert "<script>" not in body and "&lt;script&gt;" in body


@pytest.mark.parametrize("outcome", ["escalated", "abandoned"])
def test_unresolved_stays_open(outcome: str) -> None:
    case = outbound_case(draft(outcome=outcome))
    assert case.status_name == "Open" == status_name(outcome)


def test_uncertain_email_is_flagged() -> None:
    body = contents_html(draft(email_confirmed=False, email_uncertain=True))
    assert "UNCERTAIN" in body
    assert "Email: not given" in contents_html(draft(caller_email="", email_confirmed=False))


def test_empty_subject_and_transcript_still_make_a_valid_case() -> None:
    case = outbound_case(draft(subject="  ", transcript=(), topics=(), articles=()))
    assert case.subject == "Phone call 1700000000.7"
    assert "(no speech)" in case.contents_html
    assert "withheld" in outbound_case(draft(caller_phone="")).contents_html
