"""Spoken email addresses: parse STT text, validate, read back, apply corrections."""

from __future__ import annotations

import time

import pytest

from nlu.spoken_email import (
    EmailParse,
    apply_email_correction,
    is_valid_email,
    parse_spoken_email,
    spell_for_readback,
)

# Patterns from scripted support calls (the brief's examples).
BRIEF_CASES = [
    (
        "marcus dot bell at trailhead logistics dot com and trailhead logistics is all one word",
        "marcus.bell@trailheadlogistics.com",
    ),
    ("P r a m a n at oakridge dental dot com, oakridge dental all one word.", "praman@oakridgedental.com"),
    ("email is t okafor at greenleaf dash supply dot com", "tokafor@greenleaf-supply.com"),
    ("Lucia dot Fernandez at brightwater dot i o. B r i g h t water.", "lucia.fernandez@brightwater.io"),
    (
        "it's support admin as one word at harborview hotels also one word dot com",
        "supportadmin@harborviewhotels.com",
    ),
    ("A Khan at meridian health dot org, meridian health together no space.", "akhan@meridianhealth.org"),
    (
        "j underscore mills at northpoint legal dot com northpoint legal is one word",
        "j_mills@northpointlegal.com",
    ),
    ("R Stone at stonefield dot com.", "rstone@stonefield.com"),
    ("Derek at Hansen plumbing dot com, all one word, Hansen is h a n s e n.", "derek@hansenplumbing.com"),
    (
        "Siobhan dot Murphy at kessler g m b h dot d e, kessler g m b h all together.",
        "siobhan.murphy@kesslergmbh.de",
    ),
    ("j o h n dot smith at gmail dot com", "john.smith@gmail.com"),
    ("john underscore doe at northwind dash corp dot io", "john_doe@northwind-corp.io"),
]

# Further patterns written for this module: spelling aids, numbers, STT quirks, preambles.
MORE_CASES = [
    # a word spelled after a pause confirms the last word; the whole reading is the address
    ("john dot smith, s m i t h, at gmail dot com", "john.smith@gmail.com"),
    (
        "hannah dot mbeki, m b e k i, at northgate crafts dot co dot uk, northgate crafts is one word",
        "hannah.mbeki@northgatecrafts.co.uk",
    ),
    ("anna dot lee, that's l e e, at gmail dot com", "anna.lee@gmail.com"),
    ("it's colm dot ohara, no apostrophe, at tidewater tees dot com", "colm.ohara@tidewatertees.com"),
    ("i solberg, that's s as in sam, o l b e r g, at northfork farms dot com", "isolberg@northforkfarms.com"),
    # the local part said before a remark about it
    (
        "it's ximena dot abernathy, the whole last name, and then at blueherondental all one word dot com",
        "ximena.abernathy@blueherondental.com",
    ),
    ("s as in sam m for mike i t h at outlook dot com", "smith@outlook.com"),
    ("b as in bravo o b at acme dot com", "bob@acme.com"),
    ("capital j capital d at example dot org", "jd@example.org"),
    ("k e double s l e r at hot mail dot com", "kessler@hotmail.com"),
    ("m a double t at acme dot com", "matt@acme.com"),
    ("john twenty three at gmail dot com", "john23@gmail.com"),
    ("user one two three at example dot net", "user123@example.net"),
    ("room two oh six at hotel dot com", "room206@hotel.com"),
    ("nineteen eighty five fan at yahoo dot com", "1985fan@yahoo.com"),
    ("jane double o seven at spy dot co dot uk", "jane007@spy.co.uk"),
    ("anna hyphen marie at example dot com", "anna-marie@example.com"),
    ("anna minus marie at example dot com", "anna-marie@example.com"),
    ("mary under score jones at example dot com", "mary_jones@example.com"),
    ("first period last at company dot com", "first.last@company.com"),
    ("first point last at company dot com", "first.last@company.com"),
    ("john plus billing at gmail dot com", "john+billing@gmail.com"),
    ("alex at sign example dot com", "alex@example.com"),
    ("ravi at the rate gmail dot com", "ravi@gmail.com"),
    ("ravi at the rate of yahoo dot co dot in", "ravi@yahoo.co.in"),
    ("it's john.smith@gmail.com", "john.smith@gmail.com"),
    ("Yeah it's John.Smith@Gmail.com.", "john.smith@gmail.com"),
    ("my email is dave at gmail.com", "dave@gmail.com"),
    ("dave at g mail dot com", "dave@gmail.com"),
    ("dave at out look dot com", "dave@outlook.com"),
    ("bob at acme dot co dot uk", "bob@acme.co.uk"),
    ("um so yeah my email is uh tina at acme dot com thanks", "tina@acme.com"),
    ("hi there, the email address is lee at acme dot com, thank you", "lee@acme.com"),
    ("sure, that's pat at acme dot org", "pat@acme.org"),
    ("okay it's n o r a at example dot com", "nora@example.com"),
    ("J-O-H-N at example dot com", "john@example.com"),
    ("J. O. H. N. at example dot com", "john@example.com"),
    ("j, o, h, n at example dot com", "john@example.com"),
    ("marcus dot bell, at trailhead logistics, dot com", "marcus.bell@trailheadlogistics.com"),
    # "point" in a name that speech-to-text split is a word, not a dot
    (
        "j underscore mills at north point legal dot com north point legal is one word",
        "j_mills@northpointlegal.com",
    ),
    (
        "J. underscore mills at north point legal.com north point legal is one word.",
        "j_mills@northpointlegal.com",
    ),
    ("sam at west point dot edu", "sam@westpoint.edu"),
    ("anna at gmail point com", "anna@gmail.com"),  # a caller who says "point" for the dot
    ("rebecca at stone field .com", "rebecca@stonefield.com"),  # speech-to-text's "name .com"
    ("bob at acme .com", "bob@acme.com"),
    ("you can reach me at sam at acme dot com", "sam@acme.com"),
    ("i'm at work but it's sam at acme dot com", "sam@acme.com"),
    ("team lead at big river co dot com", "teamlead@bigriverco.com"),
    ("sales at acme dot c o", "sales@acme.co"),
    ("info at acme dot eye oh", "info@acme.io"),
    ("ops at acme dot com. o p s.", "ops@acme.com"),
    ("nina at hanson dental dot com, hanson is h a n s e n", "nina@hansendental.com"),
    ("carl at brite water dot com, b r i g h t water", "carl@brightwater.com"),
    ("josé at café dot com", "jose@cafe.com"),
    ("john at gmail dot com, sorry, jon at gmail dot com", "jon@gmail.com"),
    ("d e v at acme dot dev", "dev@acme.dev"),
    ("alpha bravo charlie at example dot com", "abc@example.com"),
    ("lisa at example dot com all lower case", "lisa@example.com"),
    ("tom at acme dot com dot au", "tom@acme.com.au"),
    ("hello at acme dot com", "hello@acme.com"),
    ("email's john at acme dot com", "john@acme.com"),
    ("It is Sarah.Connor at Sky Net dot com.", "sarah.connor@skynet.com"),
    ("my work email is a dot b at c dot io but you can also use my gmail", "a.b@c.io"),
    ("how do i get emails that go to support at our company dot com", "support@ourcompany.com"),
    ("john, two three, at gmail dot com", "john23@gmail.com"),
    ("anna, that's two n's, at gmail dot com", "anna@gmail.com"),
    ("ana, with two n's, at gmail dot com", "anna@gmail.com"),
    ("j two at gmail dot com", "j2@gmail.com"),
    # a spelling that starts with "i" keeps it (the pronoun "I" is dropped only before words)
    ("i as in india, v as in victor, a n, dot petrov at kolt dot io", "ivan.petrov@kolt.io"),
    ("i v a n at kolt dot io", "ivan@kolt.io"),
    ("i said ivan at kolt dot io", "ivan@kolt.io"),
]


@pytest.mark.parametrize(("text", "expected"), BRIEF_CASES + MORE_CASES)
def test_parse_reads_spoken_address(text: str, expected: str) -> None:
    result = parse_spoken_email(text)
    assert result == EmailParse(expected, True, "")


@pytest.mark.parametrize(
    ("text", "address", "problem"),
    [
        ("john at gmail", "john@gmail", "no top-level domain"),
        ("at gmail dot com", "@gmail.com", "no local part"),
        ("john smith dot com", "johnsmith.com", "no @"),
    ],
)
def test_parse_partial_address_is_reported_not_valid(text: str, address: str, problem: str) -> None:
    assert parse_spoken_email(text) == EmailParse(address, False, problem)


def test_dropped_at_before_well_known_provider_is_restored() -> None:
    assert parse_spoken_email("john smith gmail dot com").address == "johnsmith@gmail.com"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "I don't have email",
        "we don't really use email here",
        "no email sorry",
        "uh what",
        "la la la la",
        "我的邮箱是",
        "¿qué?",
        "!!! ??? ...",
        "one two three",
        "I'm at home at the moment",
        "our contract says ninety nine point nine uptime",
        "he's pulling the tickets one at a time",
        "i'm leaving the company at the end of the month",
        "our customers keep seeing via northwind desk dot com next to our name",
    ],
)
def test_nothing_email_like_gives_empty_invalid_result(text: str) -> None:
    result = parse_spoken_email(text)
    assert result.address == ""
    assert result.valid is False
    assert result.problem


def test_no_email_is_named_as_the_reason() -> None:
    assert parse_spoken_email("sorry I don't have an email").problem == "caller has no email"


@pytest.mark.parametrize("bad", [None, 42, b"john at acme dot com"])
def test_non_text_input_does_not_raise(bad: object) -> None:
    result = parse_spoken_email(bad)  # type: ignore[arg-type]
    assert result.address == "" and not result.valid


def test_very_long_text_is_bounded_and_does_not_raise() -> None:
    noise = "blah " * 2000
    started = time.perf_counter()
    result = parse_spoken_email(noise + " it's kim at acme dot com")
    elapsed = time.perf_counter() - started
    assert result.address == "kim@acme.com"
    assert elapsed < 1.0  # generous: this is a guard against a quadratic blow-up, not a benchmark
    assert parse_spoken_email("dot " * 3000).valid is False
    assert parse_spoken_email("at " * 3000).valid is False


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("a@b.co", True),
        ("first.last+tag@sub.example.org", True),
        ("j_mills@northpoint-legal.com", True),
        ("UPPER@EXAMPLE.COM", True),
        ("no-at-sign.example.com", False),
        ("two@@example.com", False),
        ("a@b@c.com", False),
        ("@example.com", False),
        ("john@", False),
        ("john@gmail", False),
        ("john@gmail.c", False),
        ("john@gmail.c0m", False),
        (".john@example.com", False),
        ("john.@example.com", False),
        ("jo..hn@example.com", False),
        ("john@-acme.com", False),
        ("john@acme-.com", False),
        ("john@acme..com", False),
        ("jo hn@example.com", False),
        ("x" * 65 + "@example.com", False),
        ("", False),
    ],
)
def test_is_valid_email(address: str, ok: bool) -> None:
    assert is_valid_email(address) is ok


def test_is_valid_email_rejects_non_strings() -> None:
    assert is_valid_email(None) is False  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- read-back
@pytest.mark.parametrize(
    ("address", "spoken"),
    [
        (
            "marcus.bell@trailheadlogistics.com",
            "m a r c u s, dot, b e l l, at, t r a i l h e a d l o g i s t i c s, dot com",
        ),
        ("john23@gmail.com", "j o h n, 2 3, at, gmail dot com"),
        ("j_mills@outlook.com", "j, underscore, m i l l s, at, outlook dot com"),
        (
            "lucia.fernandez@brightwater.io",
            "l u c i a, dot, f e r n a n d e z, at, b r i g h t w a t e r, dot i o",
        ),
        ("bob@acme.co.uk", "b o b, at, a c m e, dot c o dot u k"),
        ("tokafor@greenleaf-supply.com", "t o k a f o r, at, g r e e n l e a f, dash, s u p p l y, dot com"),
        ("ann@acme.info", "a n n, at, a c m e, dot info"),
        ("x@mail.acme.org", "x, at, mail, dot, a c m e, dot org"),
        ("", ""),
    ],
)
def test_spell_for_readback(address: str, spoken: str) -> None:
    assert spell_for_readback(address) == spoken


@pytest.mark.parametrize(
    "address",
    [
        "marcus.bell@trailheadlogistics.com",
        "john23@gmail.com",
        "j_mills@northpoint-legal.com",
        "lucia.fernandez@brightwater.io",
        "bob@acme.co.uk",
        "a.b-c_d+e@mail.example.org",
        "x1y2@outlook.com",
    ],
)
def test_readback_text_parses_back_to_the_same_address(address: str) -> None:
    assert parse_spoken_email(spell_for_readback(address)).address == address


def test_readback_of_a_parse_spells_every_character_of_the_local_part() -> None:
    parsed = parse_spoken_email("p r a m a n at oakridge dental dot com")
    spoken = spell_for_readback(parsed.address)
    assert spoken.startswith("p r a m a n, at, ")
    assert spoken.endswith("dot com")


# ----------------------------------------------------------------------------- corrections
CORRECTIONS = [
    (
        "hpark@lincolnvalleyschool.org",
        "no sorry it's lincoln valley schools with an s at the end all one word dot org",
        "hpark@lincolnvalleyschools.org",
    ),
    (  # speech-to-text writes "an" as "and": still a remark about the last letter, not "@theend"
        "hpark@lincolnvalleyschool.org",
        "no sorry it's lincoln valley schools with and s at the end all one word dot org",
        "hpark@lincolnvalleyschools.org",
    ),
    (  # "with an" run together ("within"), or the article left out
        "hpark@lincolnvalleyschool.org",
        "no sorry it's lincoln valley schools within s at the end all one word dot org",
        "hpark@lincolnvalleyschools.org",
    ),
    (
        "hpark@lincolnvalleyschool.org",
        "lincoln valley schools with s at the end dot org",
        "hpark@lincolnvalleyschools.org",
    ),
    ("john.smyth@gmail.com", "no, it's s m i t h", "john.smith@gmail.com"),
    ("siobhan.murphy@keslergmbh.de", "No, kessler is k e double s l e r.", "siobhan.murphy@kesslergmbh.de"),
    ("john.smyth@gmail.com", "no it's jane at acme dot com", "jane@acme.com"),
    ("john@acme.com", "the domain is acme dot io", "john@acme.io"),
    ("john@acme.com", "it's dot net not dot com", "john@acme.net"),
    ("jon@gmail.com", "not dot com, dot net", "jon@gmail.net"),
    ("john@acme.com", "dot co dot uk", "john@acme.co.uk"),
    ("john.smith@acme.com", "smith with a y", "john.smyth@acme.com"),
    ("j.mils@acme.com", "with two l's", "j.mills@acme.com"),
    ("j.mils@acme.com", "mills with two l's", "j.mills@acme.com"),
    ("eric@acme.com", "eric with a k", "erik@acme.com"),
    ("marcus.bel@acme.com", "no it's marcus dot bell", "marcus.bell@acme.com"),
    ("john@acme.com", "the username is j smith", "jsmith@acme.com"),
    ("john@acme.com", "at acme corp dot com", "john@acmecorp.com"),
    ("jon@gmial.com", "gmail", "jon@gmail.com"),
    ("jon@gmail.com", "no it's j o h n", "john@gmail.com"),
    ("derek@hanson.com", "hansen is h a n s e n", "derek@hansen.com"),
    ("kim@acme.com", "it's kim at acme dot co", "kim@acme.co"),
    ("ana@oakridge.com", "oakridge dental dot com", "ana@oakridgedental.com"),
    ("mat@acme.com", "m a double t", "matt@acme.com"),
    ("john@acme.com", "the part before the at is john twenty three", "john23@acme.com"),
    ("sara@acme.com", "no, sarah with an h at the end", "sarah@acme.com"),
    ("pat@acme.org", "it's dot com instead of dot org", "pat@acme.com"),
    ("john@gmail.com", "no it is j o n", "jon@gmail.com"),
    ("katherine.lee@acme.com", "k a t h r y n", "kathryn.lee@acme.com"),
    ("ann.lee@acme.com", "anne with an e at the end", "anne.lee@acme.com"),
    ("marc@acme.com", "mark with a k", "mark@acme.com"),
    ("j_mils@acme.com", "j underscore mills", "j_mills@acme.com"),
    # the surname after an initial: the initial stays; "two d's" confirms, it adds nothing
    ("ohaddad@sunline.co.uk", "no, haddad is h a d d a d, two d's", "ohaddad@sunline.co.uk"),
    ("ohadad@sunline.co.uk", "no, hadad is h a d d a d, two d's", "ohaddad@sunline.co.uk"),
]


@pytest.mark.parametrize(("current", "text", "expected"), CORRECTIONS)
def test_apply_email_correction(current: str, text: str, expected: str) -> None:
    assert apply_email_correction(current, text) == expected


@pytest.mark.parametrize(
    ("current", "text"),
    [
        ("john@acme.com", "yes that's right"),
        ("john@acme.com", "no"),
        ("john@acme.com", ""),
        ("john@acme.com", "uh hold on"),
        ("john@acme.com", "with two l's"),  # no "l" in the address to double
        ("john.will@acme.com", "with a double z"),
        ("bill.lowell@acme.com", "with two l's"),  # which l? not clear
        ("not an address", "it's smith"),
    ],
)
def test_correction_without_usable_content_is_none(current: str, text: str) -> None:
    assert apply_email_correction(current, text) is None


def test_correction_on_a_garbage_current_still_takes_a_whole_new_address() -> None:
    assert apply_email_correction("", "it's amy at acme dot com") == "amy@acme.com"


def test_correction_never_raises_on_odd_input() -> None:
    for text in ["at at at", "dot dot dot", "not not", "instead of", "x" * 10000, "@@@", "domain is"]:
        result = apply_email_correction("john@acme.com", text)
        assert result is None or is_valid_email(result)


def test_parse_then_correct_round_trip_from_a_call() -> None:
    first = parse_spoken_email("h park at lincoln valley school dot org")
    assert first.address == "hpark@lincolnvalleyschool.org"
    fixed = apply_email_correction(first.address, "no it's lincoln valley schools, with an s")
    assert fixed == "hpark@lincolnvalleyschools.org"


_FUZZ_WORDS = [
    "at",
    "dot",
    "dash",
    "underscore",
    "double",
    "capital",
    "as",
    "in",
    "for",
    "sam",
    "o",
    "oh",
    "one",
    "twenty",
    "hundred",
    "not",
    "instead",
    "of",
    "with",
    "a",
    "two",
    "l's",
    "s",
    "the",
    "end",
    "domain",
    "is",
    "username",
    "before",
    "@",
    ".",
    "-",
    "_",
    ",",
    "?",
    "!",
    "it's",
    "my",
    "no",
    "sorry",
    "plus",
    "+",
    "0",
    "9",
    "999",
    "é",
    "中",
    "all",
    "word",
    "together",
    "no",
    "spaces",
    "john",
    "gmail",
    "com",
    "co",
    "uk",
    "io",
    "j",
    "x",
    "y",
    "e-mail",
]


def test_random_word_salad_keeps_the_contract() -> None:
    import random

    rng = random.Random(7)
    for _ in range(1500):
        text = " ".join(rng.choice(_FUZZ_WORDS) for _ in range(rng.randint(0, 20)))
        if rng.random() < 0.3:
            text = text.replace(" ", "", rng.randint(1, 4))
        parsed = parse_spoken_email(text)
        assert parsed.valid == is_valid_email(parsed.address), text
        assert (parsed.problem == "") == parsed.valid, text
        assert parsed.address == parsed.address.lower()
        assert isinstance(spell_for_readback(parsed.address), str)
        corrected = apply_email_correction("john.smith@acme.com", text)
        assert corrected is None or is_valid_email(corrected), text
