"""Spoken-answer shaping on real dev articles and on hand-made HTML."""

import json
from pathlib import Path

import pytest

from nlu.kb import Article, articles_from_json, html_headings, html_to_text
from nlu.spoken_answer import SHORT_WORDS, make_spoken_answer

DEV = Path("/work/shared/data/dev/kb_articles.json")


def _art(body: str, title: str = "Do a thing") -> Article:
    return Article(id=1, title=title, section="S", category="C", tags=("x",), body_html=body)


@pytest.mark.skipif(not DEV.exists(), reason="dev data not present")
def test_every_dev_article_is_phone_ready() -> None:
    for article in articles_from_json(json.loads(DEV.read_text())):
        spoken = make_spoken_answer(article)
        for text in (spoken.short, spoken.rest, *spoken.steps, *spoken.facts):
            assert "http" not in text and "@" not in text and "<" not in text and "/hc/" not in text
        assert 0 < len(spoken.short.split()) <= SHORT_WORDS + 2
        assert spoken.facts


def test_numbered_steps_become_first_then_finally_in_order() -> None:
    body = "<p>Intro.</p><ol><li>Open the page.</li><li>Click Save.</li><li>Close it.</li></ol>"
    spoken = make_spoken_answer(_art(body))
    assert spoken.steps == ("Open the page.", "Click Save.", "Close it.")
    s = spoken.short
    assert s.index("First, open") < s.index("Then, click") < s.index("Finally, close")


def test_long_steps_are_cut_to_the_word_limit_and_announce_the_rest() -> None:
    step = "Click the very long button label that goes on and on and on for many words here."
    body = "<ol>" + "".join(f"<li>{step}</li>" for _ in range(6)) + "</ol>"
    spoken = make_spoken_answer(_art(body))
    assert len(spoken.short.split()) <= SHORT_WORDS
    assert "more steps" in spoken.short
    assert len(spoken.steps) == 6


def test_links_emails_menus_and_notes_are_spoken() -> None:
    body = (
        '<p>Go to <a href="https://app.example.com/billing">app.example.com/billing</a> or see '
        '<a href="/hc/articles/7">Billing basics</a>. Mail <a href="mailto:help@example.com">help@example.com</a>.</p>'
        '<p class="note"><strong>Note:</strong> Open <strong>Admin &gt; Billing</strong> first.</p>'
    )
    spoken = make_spoken_answer(_art(body))
    text = " ".join(spoken.facts)
    assert "the example dot com billing page" in text
    assert 'the article "Billing basics"' in text
    assert "help at example dot com" in text
    assert "Admin, then Billing" in text
    assert "Note:" not in text


def test_html_to_text_keeps_blocks_and_entities() -> None:
    assert html_to_text("<p>A &amp; B</p><ul><li>one</li><li>two</li></ul>") == "A & B\none\ntwo"


def test_articles_from_json_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="title"):
        articles_from_json([{"id": 1, "body_html": "x"}])
    with pytest.raises(ValueError, match="tags"):
        articles_from_json([{"id": 1, "title": "t", "body_html": "x", "tags": "nope"}])
    with pytest.raises(ValueError, match="duplicate"):
        articles_from_json(
            [{"id": 1, "title": "t", "body_html": "x"}, {"id": 1, "title": "u", "body_html": "y"}]
        )
    with pytest.raises(ValueError, match="list"):
        articles_from_json({"id": 1})  # type: ignore[arg-type]


def test_empty_body_still_gives_a_short_answer() -> None:
    spoken = make_spoken_answer(_art("", title="Empty page"))
    assert spoken.short == "Empty page."


def test_html_headings_in_order() -> None:
    body = "<p>Intro.</p><h3>The reset email didn't arrive</h3><p>x</p><h3> Locked <b>accounts</b> </h3>"
    assert html_headings(body) == ["The reset email didn't arrive", "Locked accounts"]
    assert html_headings("") == []
