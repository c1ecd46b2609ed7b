"""Case composition: subject, summary, tags, priority and completeness, from real dialogues."""

from test_dialogue import TinyKb  # the small fixed KB of the dialogue tests

from nlu.case_composer import issue_phrase, slug
from nlu.dialogue import Dialogue, DialogueConfig
from nlu.events import CallerHungUp, CallerSaid, CallStarted, FileCase


def run(*turns, caller="+13125550102"):
    d = Dialogue(TinyKb(), DialogueConfig(company="Acme", call_id="call-7"))
    actions = d.on(CallStarted(at=0.0, caller_number=caller))
    t = 0.0
    for text in turns:
        t += 4.0
        actions += d.on(CallerSaid(at=t, text=text))
    actions += d.on(CallerHungUp(at=t + 2.0))
    cases = [a.case for a in actions if isinstance(a, FileCase)]
    assert len(cases) == 1
    return cases[0]


def test_subject_is_the_article_title_when_answered():
    case = run("hi, I forgot my password", "yes thanks")
    assert case.subject == "Phone: Reset your password"
    assert case.call_id == "call-7" and case.caller_phone == "+13125550102"
    assert case.duration_s == 10.0


def test_subject_is_the_callers_words_when_nothing_answered():
    case = run("um hi so can you integrate with hubspot our crm please")
    assert case.subject.startswith("Phone: Can you integrate with hubspot")
    assert case.outcome == "escalated"
    assert "no knowledge-base answer" in case.summary


def test_tags_are_slugged_unique_and_start_with_phone():
    case = run("I forgot my password", "yes thanks")
    assert case.tags[:2] == ("phone", "ai-resolved")
    assert len(case.tags) == len(set(case.tags))
    assert "accounts-login" in case.tags  # the article's category, slugged
    assert all(t == slug(t) for t in case.tags)


def test_priority_follows_anger_legal_and_urgency():
    assert run("I forgot my password").priority == "normal"
    assert run("nobody can log in right now, I forgot my password").priority == "high"
    assert run("our lawyers will hear about this").priority == "urgent"


def test_every_composed_case_is_complete():
    for turns in [(), ("I forgot my password",), ("talk to a person",), ("???",), ("hold on",)]:
        assert run(*turns).missing_fields() == []


def test_resolution_notes_name_the_article_and_the_outcome():
    assert "#1" in run("I forgot my password", "yes").resolution_notes
    assert "Escalated" in run("get me a human").resolution_notes
    assert "ended before" in run("hold on").resolution_notes


def test_issue_phrase_drops_fillers_and_caps_length():
    assert issue_phrase("um hi yeah so my invoices are wrong") == "My invoices are wrong"
    long = issue_phrase(" ".join(["word"] * 30))
    assert long.endswith("…") and len(long.split()) == 9
    assert issue_phrase("") == "Phone call"
