"""Caller names: direct answers to "may I have your name?" and introductions in longer speech."""

from __future__ import annotations

import pytest

from nlu.spoken_name import extract_name, find_introduced_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it's marcus bell", "Marcus Bell"),
        ("Priya Raman, that's r a m a n.", "Priya Raman"),
        ("my name's tom okafor", "Tom Okafor"),
        ("Lucia Fernandez.", "Lucia Fernandez"),
        ("kevin doyle d o y l e", "Kevin Doyle"),
        ("Sure, it's Aisha Khan, k h a n.", "Aisha Khan"),
        ("My name is Siobhan Murphy, Siobhan is s i o b h a n.", "Siobhan Murphy"),
        ("jordan mills", "Jordan Mills"),
        ("hi this is dana whitfield from copperline i got a new phone", "Dana Whitfield"),
        ("It's Rebecca Stone.", "Rebecca Stone"),
        ("Derek Hansen.", "Derek Hansen"),
        # a spelled run fixes the word STT misheard
        ("kevin doil d o y l e", "Kevin Doyle"),
        ("my name is brian, b r y a n", "Bryan"),
        ("it's catherine smith, catherine is k a t h r y n", "Kathryn Smith"),
        ("j o h n smith", "John Smith"),
        ("tom, o k a f o r", "Tom Okafor"),
        ("first name john last name smith", "John Smith"),
        ("my first name is priya and my last name is raman r a m a n", "Priya Raman"),
        ("last name is okafor", "Okafor"),
        ("my surname is o'neill", "O'Neill"),
        ("um yeah it's sam", "Sam"),
        ("yes, this is helen park", "Helen Park"),
        ("i'm greg from finance", "Greg"),
        ("call me liz", "Liz"),
        ("Patrick O'Brien", "Patrick O'Brien"),
        ("patrick o brien", "Patrick O'Brien"),
        ("mary-jane watson", "Mary-Jane Watson"),
        ("it's anna van der berg", "Anna van der Berg"),
        ("sean mcdonald", "Sean McDonald"),
        ("José García", "José García"),
        ("it's rebecca stone thanks", "Rebecca Stone"),
        ("s i o b h a n murphy", "Siobhan Murphy"),
        ("d as in delta a n a whitfield", "Dana Whitfield"),
        ("Dr. Smith", "Smith"),
        ("it's doctor maya patel", "Maya Patel"),
        ("it's john, john smith", "John Smith"),
        # STT turns without punctuation: a word said again starts a spelling, not a third name word
        ("my name is siobhan murphy siobhan is s i o b h a n", "Siobhan Murphy"),
        ("my name is tom okafor okafor is o k a f o r", "Tom Okafor"),
        ("kevin doyle doyle d o y l e", "Kevin Doyle"),
        ("shobon murphy shobon is s i o b h a n", "Siobhan Murphy"),
        ("sam is s a m", "Sam"),
        ("it's colm o'hara, c o l m, o apostrophe h a r a", "Colm O'Hara"),
        ("maria d apostrophe angelo", "Maria D'Angelo"),
        ("oluwaseun adeyemi. o l u w a s e u n. last name a d e y e m i", "Oluwaseun Adeyemi"),
        ("john, last name smith", "John Smith"),
    ],
)
def test_extract_name(text: str, expected: str) -> None:
    assert extract_name(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "i'd rather not say",
        "why do you need that",
        "none of your business",
        "um yeah",
        "yes",
        "I don't know",
        "12345",
        "...",
        "the",
        "j",
        # a pleased or closing remark is not a name
        "perfect that's exactly what we needed thanks",
        "awesome thanks so much",
        "cool cool",
        # a verb and its object, or a subject and its verb, said instead of a name
        "okay, pass it on",
        "send it over",
        "my password is fine by the way",
    ],
)
def test_extract_name_refusal_or_garbage_is_none(text: str) -> None:
    assert extract_name(text) is None


@pytest.mark.parametrize("bad", [None, 3.5, ["tom"]])
def test_extract_name_non_text_is_none(bad: object) -> None:
    assert extract_name(bad) is None  # type: ignore[arg-type]


def test_extract_name_handles_very_long_text() -> None:
    assert extract_name("my name is ada lovelace " + "and so on " * 2000) == "Ada Lovelace"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi this is dana whitfield from copperline i got a new phone over the weekend", "Dana Whitfield"),
        ("Hi, this is Dana Whitfield from Copperline.", "Dana Whitfield"),
        ("my name is tom and i need help with billing", "Tom"),
        ("hi it's marcus from trailhead", "Marcus"),
        ("Hi, I'm Marcus Bell from Trailhead.", "Marcus Bell"),
        ("I'm Priya.", "Priya"),
        ("hey dana here from copperline", "Dana"),
        ("Good morning, Helen Park speaking, I have a billing question", "Helen Park"),
        ("hello my name's siobhan murphy and we'd like invoices in euros", "Siobhan Murphy"),
        ("this is kevin d o y l e from harborview", "Kevin Doyle"),
        ("Hi, this is Dr. Maya Patel from Lakeside Clinic", "Maya Patel"),
        ("yeah this is Grace Hopper", "Grace Hopper"),
    ],
)
def test_find_introduced_name(text: str, expected: str) -> None:
    assert find_introduced_name(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "yeah please get somebody on it this is really hurting us",
        "I'm pretty sure it was Tuesday",
        "yes it's turned on and the delay is one hour",
        "um hi i'm the account owner on our northwind account",
        "this is urgent",
        "This is ridiculous, I want a refund",
        "i'm calling about my invoice",
        "this is so frustrating",
        "i'm stuck",
        "this is taking forever",
        "this is a test",
        "it's not working",
        "I'm not sure",
        "i'm locked out of my account",
        "this is unacceptable",
        "i'm having trouble logging in",
        "we connected Salesforce last week but the sidebar is empty",
        "no sorry it's lincoln valley schools with an s at the end all one word",
        "My name is Tan Okeffffffff",  # a speech-to-text loop: asked for again later
        "",
    ],
)
def test_find_introduced_name_ignores_non_introductions(text: str) -> None:
    assert find_introduced_name(text) is None


def test_random_word_salad_never_raises_and_names_are_title_cased() -> None:
    import random

    words = [
        "this",
        "is",
        "i'm",
        "my",
        "name",
        "it's",
        "j",
        "o",
        "h",
        "n",
        "smith",
        "van",
        "der",
        "o'brien",
        "-",
        ",",
        ".",
        "really",
        "the",
        "from",
        "x",
        "9",
        "é",
        "double",
    ]
    rng = random.Random(11)
    for _ in range(1500):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 15)))
        for found in (extract_name(text), find_introduced_name(text)):
            assert found is None or (found[0].isupper() and found.strip() == found), text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "hi I'm Rosa Alvarez from Cedar Clinic, our SPF record keeps failing verification",
            "our SPF record keeps failing verification",
        ),
        (
            "hi this is dana whitfield from copperline i got a new phone and can't get the code",
            "i got a new phone and can't get the code",
        ),
        ("Hi, this is Tom. How do I reset my password?", "How do I reset my password?"),
        # not an introduction, or nothing after it: unchanged
        ("this is really hurting us, the inbox is broken", "this is really hurting us, the inbox is broken"),
        ("I'm pretty sure I forgot my password", "I'm pretty sure I forgot my password"),
        ("hi it's marcus bell", "hi it's marcus bell"),
    ],
)
def test_without_introduction(text: str, expected: str) -> None:
    from nlu.spoken_name import without_introduction

    assert without_introduction(text) == expected
