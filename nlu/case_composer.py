"""Compose the `CaseDraft` from a dialogue's state: subject, summary, outcome, tags, priority.

Tags follow what a triage team filters on: `phone`, then `ai-resolved` / `ai-escalated` /
`ai-abandoned`, then the topic tags of the articles used (or, when nothing answered, the
category of the nearest article), then intent tags (`human-request`, `complaint`, `legal`,
`urgent`). Priority: urgent for legal threats, high for anger or urgency, normal otherwise.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from nlu import intents
from nlu.case import CaseDraft, Topic

if TYPE_CHECKING:
    from nlu.dialogue import Dialogue

_SUBJECT_WORDS = 9
_STOP = {
    "hi",
    "hello",
    "hey",
    "um",
    "uh",
    "yeah",
    "so",
    "okay",
    "ok",
    "like",
    "well",
    "i",
    "im",
    "i'm",
    "just",
    "really",
    "actually",
    "basically",
    "please",
    "thanks",
    "this",
    "is",
    "from",
    "calling",
    "about",
    "wanted",
    "to",
    "ask",
    "quick",
    "question",
    "hmm",
    "oh",
    "yes",
    "sorry",
    "good",
    "morning",
    "afternoon",
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def issue_phrase(question: str) -> str:
    """The caller's issue in a few words, from what they said."""
    ws = [w for w in intents.words(question) if w not in _STOP]
    if not ws:
        return "Phone call"
    phrase = " ".join(ws[:_SUBJECT_WORDS])
    return phrase[0].upper() + phrase[1:] + ("…" if len(ws) > _SUBJECT_WORDS else "")


def compose_case(d: Dialogue, at: float) -> CaseDraft:
    topics = d.topic_records() or [Topic(question="(the caller did not state an issue)", outcome="abandoned")]
    if d.escalated:
        outcome = "escalated"
    elif any(t.outcome == "resolved" for t in topics):
        outcome = "resolved"
    else:
        outcome = "abandoned"

    main = _main_topic(d)
    if main is not None and main.article_title:
        subject = main.article_title
    elif main is not None:
        subject = issue_phrase(main.question)
    else:
        subject = "Phone call"
    subject = f"Phone: {subject}"[:120]

    tags: list[str] = ["phone", f"ai-{outcome}"]
    if outcome == "resolved" and d.resolved_unconfirmed:
        tags.append("unconfirmed")
    if outcome == "resolved" and d.solved_by_caller:
        tags.append("caller-solved")
    articles: list[tuple[int, str]] = []
    for topic in d.topics:
        if topic.article_id is not None:
            art = d.kb.article(topic.article_id)
            if (topic.article_id, topic.article_title) not in articles:
                articles.append((topic.article_id, topic.article_title))
            if art is not None:
                tags.extend(slug(tag) for tag in art.tags)
                tags.append(slug(art.category))
        elif topic.related_category:
            tags.append(slug(topic.related_category))
    reason = d.escalation_reason
    if "person" in reason or "pressed 0" in reason:
        tags.append("human-request")
    if d.angry:
        tags.append("complaint")
    if d.legal:
        tags.append("legal")
    if d.urgent:
        tags.append("urgent")
    if d.details.email_uncertain:
        tags.append("email-unconfirmed")
    seen: set[str] = set()
    tags = [t for t in tags if t and not (t in seen or seen.add(t))]  # type: ignore[func-returns-value]

    priority = "urgent" if d.legal else "high" if (d.angry or d.urgent) else "normal"

    summary_lines = []
    for i, t in enumerate(topics, 1):
        what = issue_phrase(t.question)
        if t.article_id is not None:
            summary_lines.append(
                f'{i}. {what}: answered from article #{t.article_id} "{t.article_title}" ({t.outcome}).'
            )
        else:
            summary_lines.append(f"{i}. {what}: no knowledge-base answer ({t.outcome}).")
    if not summary_lines:
        summary_lines.append("The caller did not raise an issue.")
    if d.escalated:
        summary_lines.append(f"Escalated: {reason}.")

    if outcome == "resolved" and d.solved_by_caller and not articles:
        notes = (
            "The knowledge base had no answer; while the details were being taken for the team, "
            "the caller said they had solved it themselves."
        )
    elif outcome == "resolved":
        used = ", ".join(f'#{a} "{t}"' for a, t in articles) or "the knowledge base"
        notes = f"Resolved by the AI phone agent using {used}; " + (
            "the caller was following the answer when the call ended and did not say whether it worked."
            if d.resolved_unconfirmed
            else "the caller confirmed the issue was solved."
        )
    elif outcome == "escalated":
        tried = ", ".join(f'#{a} "{t}"' for a, t in articles)
        notes = f"Escalated to the support team: {reason}." + (f" Articles tried: {tried}." if tried else "")
    else:
        notes = "The call ended before an issue was resolved or escalated."

    details = d.details
    return CaseDraft(
        call_id=d.config.call_id,
        subject=subject,
        summary=" ".join(summary_lines),
        outcome=outcome,
        priority=priority,
        tags=tuple(tags),
        transcript=tuple(d.transcript),
        topics=tuple(topics),
        caller_phone=details.phone,
        caller_name=details.name,
        caller_email=details.email,
        email_confirmed=details.email_confirmed,
        email_uncertain=details.email_uncertain,
        phone_confirmed=details.phone_confirmed or bool(details.phone),
        duration_s=round(max(0.0, at - d.started_at), 2),
        resolution_notes=notes,
        escalation_reason=reason,
        articles=tuple(articles),
    )


def _main_topic(d: Dialogue):  # type: ignore[no-untyped-def]
    """The topic that decided the call: the last one with an article that resolved or escalated,
    else the last escalated one, else the first."""
    if not d.topics:
        return None
    for t in reversed(d.topics):
        if t.article_id is not None and t.outcome in ("resolved", "escalated"):
            return t
    for t in reversed(d.topics):
        if t.outcome in ("escalated", "unanswered"):
            return t
    return d.topics[0]


def main_article_id(d: Dialogue) -> int | None:
    t = _main_topic(d)
    return t.article_id if t is not None else None
