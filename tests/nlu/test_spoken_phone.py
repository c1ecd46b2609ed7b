"""Phone numbers: spoken digits to E.164, and the grouped read-back."""

from __future__ import annotations

import pytest

from nlu.spoken_phone import parse_spoken_phone, speak_phone
from nlu.spoken_text import replace_number_runs, words_to_digits


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("two oh six five five five oh one oh one", "+12065550101"),
        ("206-555-0101", "+12065550101"),
        ("(206) 555-0101", "+12065550101"),
        ("my number is 206 555 0101 thanks", "+12065550101"),
        ("two oh six, double five five, oh one oh one", "+12065550101"),
        ("two oh six. five five five. oh one oh one.", "+12065550101"),
        ("area code two oh six, then five five five, oh one oh one", "+12065550101"),
        ("one two oh six five five five oh one oh one", "+12065550101"),
        ("1-206-555-0101", "+12065550101"),
        ("one eight hundred five five five oh one nine nine", "+18005550199"),
        ("two oh six five five five zero one zero one", "+12065550101"),
        ("it's two zero six, five fifty five, oh one oh one", "+12065550101"),
        ("206 555 0101 extension 42", "+12065550101"),
        ("plus four four twenty seven nine four six oh nine five eight", "+44279460958"),
        ("plus four four two oh seven nine four six oh nine five eight", "+442079460958"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 (206) 555-0101", "+12065550101"),
        ("my cell is 206.555.0101", "+12065550101"),
        ("oh oh four four two oh seven nine four six oh nine five eight", "+442079460958"),
        ("oh one one four four two oh seven nine four six oh nine five eight", "+442079460958"),
        ("triple five two three four five six seven eight", "+15552345678"),
    ],
)
def test_parse_spoken_phone_us_default(text: str, expected: str) -> None:
    assert parse_spoken_phone(text) == expected


def test_parse_spoken_phone_other_default_country() -> None:
    assert parse_spoken_phone("oh two oh seven nine four six oh nine five eight", "44") == "+442079460958"
    assert parse_spoken_phone("020 7946 0958", default_country="+44") == "+442079460958"
    assert parse_spoken_phone("plus one two oh six five five five oh one oh one", "44") == "+12065550101"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I don't want to give my number",
        "call me at 3 pm",
        "five five five oh one oh one",  # seven digits: no area code
        "oh one two three four five six seven eight nine",  # area code cannot start with 0
        "one two three",
        "plus one two three",
        "9" * 30,
        "oh oh oh",
        "triple five one two three four five six seven",  # exchange cannot start with 1
    ],
)
def test_parse_spoken_phone_rejects_unclear_numbers(text: str) -> None:
    assert parse_spoken_phone(text) is None


@pytest.mark.parametrize("bad", [None, 2065550101])
def test_parse_spoken_phone_non_text(bad: object) -> None:
    assert parse_spoken_phone(bad) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "spoken"),
    [
        ("+12065550101", "2 0 6, 5 5 5, 0 1 0 1"),
        ("2065550101", "2 0 6, 5 5 5, 0 1 0 1"),
        ("+442079460958", "plus 4 4, 2 0 7, 9 4 6, 0 9 5 8"),
        ("+33123456789", "plus 3 3, 1 2 3, 4 5 6, 7 8 9"),
        ("+3531234567", "plus 3 5 3, 1 2 3, 4 5 6 7"),
        ("", ""),
        ("no digits", ""),
    ],
)
def test_speak_phone(number: str, spoken: str) -> None:
    assert speak_phone(number) == spoken


def test_speak_then_parse_round_trip() -> None:
    for number in ["+12065550101", "+18005550199"]:
        assert parse_spoken_phone(speak_phone(number)) == number


@pytest.mark.parametrize(
    ("words", "digits"),
    [
        ("two oh six", "206"),
        ("twenty three", "23"),
        ("four twenty nine", "429"),
        ("nineteen eighty five", "1985"),
        ("one hundred five", "105"),
        ("one hundred and five", "105"),
        ("three hundred twelve", "312"),
        ("eight hundred five five five", "800555"),
        ("two thousand twenty four", "2024"),
        ("two thousand", "2000"),
        ("double five", "55"),
        ("triple seven", "777"),
        ("2 0 6", "206"),
        ("ninety", "90"),
    ],
)
def test_words_to_digits(words: str, digits: str) -> None:
    assert words_to_digits(words) == digits


def test_words_to_digits_rejects_other_words() -> None:
    with pytest.raises(ValueError, match="banana"):
        words_to_digits("two banana")


def test_oh_is_zero_only_inside_a_digit_run() -> None:
    assert replace_number_runs(["oh", "two", "oh", "six"]) == ["oh", "206"]
    assert replace_number_runs(["j", "o", "h", "n"]) == ["j", "o", "h", "n"]
    assert replace_number_runs(["oh", "two", "oh", "six"], leading_oh_is_zero=True) == ["0206"]


def test_random_word_salad_gives_e164_or_none() -> None:
    import random

    words = [
        "plus",
        "+",
        "oh",
        "zero",
        "one",
        "two",
        "five",
        "nine",
        "twenty",
        "hundred",
        "double",
        "triple",
        "-",
        ".",
        ",",
        "(",
        ")",
        "206",
        "555",
        "0101",
        "00",
        "x",
        "and",
    ]
    rng = random.Random(5)
    for _ in range(1500):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 20)))
        number = parse_spoken_phone(text)
        assert number is None or (number[0] == "+" and number[1:].isdigit() and 9 <= len(number) <= 16), text
        if number:
            assert speak_phone(number)
