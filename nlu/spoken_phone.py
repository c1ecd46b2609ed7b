"""Phone numbers heard over the phone: parse to E.164 and say back in digit groups.

Owns reading a phone number out of one utterance ("two oh six five five five oh one oh one",
"206-555-0101", "double five", "plus four four ...") and the grouped read-back
("2 0 6, 5 5 5, 0 1 0 1").

Facts it relies on: E.164 numbers have at most 15 digits after "+"; a North American (+1)
number is 10 digits, its area code and exchange never start with 0 or 1; elsewhere a national
number starts with a trunk "0" that E.164 drops; callers pause between digit groups, which STT
writes as commas, dashes or periods, and in phone numbers "oh" is always zero.
"""

from __future__ import annotations

from nlu.spoken_text import BREAKS, collapse_spelling, replace_number_runs, tokenize, word_set

_GAP_WORDS = frozenset(
    {
        "-",
        ".",
        "dash",
        "hyphen",
        "uh",
        "um",
        "er",
        "and",
        "then",
        "space",
        "area",
        "code",
        "number",
        "is",
        "it's",
    }
)
_STOP_WORDS = frozenset({"extension", "ext", "x"})
_ONE_DIGIT_CODES = frozenset({"1", "7"})
_TWO_DIGIT_CODES = word_set(
    """20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65
    66 81 82 84 86 90 91 92 93 94 95 98"""
)
_GROUPS = {
    5: [2, 3],
    6: [3, 3],
    7: [3, 4],
    8: [4, 4],
    9: [3, 3, 3],
    10: [3, 3, 4],
    11: [3, 4, 4],
    12: [4, 4, 4],
}


def _candidates(tokens: list[str]) -> list[tuple[bool, str]]:
    """Each stretch of digits that reads as one number: (said "plus" first, digits)."""
    found: list[tuple[bool, str]] = []
    digits = ""
    plus = False
    pending_plus = False
    gap = 0
    for t in tokens:
        if t in _STOP_WORDS:
            break
        if t.isdigit():
            if not digits:
                plus = pending_plus
            digits += t
            gap = 0
            continue
        if t in ("+", "plus"):
            if digits:
                found.append((plus, digits))
                digits = ""
            pending_plus = True
            continue
        if digits and (t in _GAP_WORDS or t in BREAKS) and gap < 2:
            gap += 1
            continue
        if t in _GAP_WORDS or t in BREAKS:
            continue
        if digits:
            found.append((plus, digits))
            digits = ""
        pending_plus = False
        gap = 0
    if digits:
        found.append((plus, digits))
    return found


def parse_spoken_phone(text: str, default_country: str = "1") -> str | None:
    """E.164 ("+12065550101") for the number said in `text`, or None when none is clear."""
    if not isinstance(text, str) or not text.strip():
        return None
    country = "".join(c for c in str(default_country) if c.isdigit()) or "1"
    tokens = replace_number_runs(collapse_spelling(tokenize(text[-2000:])), leading_oh_is_zero=True)
    candidates = _candidates(tokens)
    if not candidates:
        return None
    plus, digits = max(candidates, key=lambda c: len(c[1]))
    if plus:
        return _e164(digits)
    if digits.startswith("00"):
        return _e164(digits[2:])
    if country == "1":
        if digits.startswith("011"):
            return _e164(digits[3:])
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) != 10 or digits[0] in "01" or digits[3] in "01":
            return None
        return "+1" + digits
    if digits.startswith("0"):
        return _e164(country + digits[1:], min_len=8)
    if digits.startswith(country) and len(digits) >= 10:
        return _e164(digits)
    return _e164(country + digits, min_len=8)


def _e164(digits: str, min_len: int = 8) -> str | None:
    if not digits.isdigit() or digits[0] == "0" or not (min_len <= len(digits) <= 15):
        return None
    if digits.startswith("1") and len(digits) != 11:
        return None
    return "+" + digits


def _group(digits: str) -> list[str]:
    sizes = _GROUPS.get(len(digits))
    if sizes is None:
        if len(digits) <= 4:
            return [digits] if digits else []
        sizes = [3] * (len(digits) // 3) + ([len(digits) % 3] if len(digits) % 3 else [])
    out: list[str] = []
    i = 0
    for size in sizes:
        out.append(digits[i : i + size])
        i += size
    return out


def _country_code(digits: str) -> str:
    if digits[:1] in _ONE_DIGIT_CODES:
        return digits[:1]
    if digits[:2] in _TWO_DIGIT_CODES:
        return digits[:2]
    return digits[:3]


def speak_phone(number: str) -> str:
    """Read-back text: "+12065550101" -> "2 0 6, 5 5 5, 0 1 0 1"; others start "plus 4 4, ..."."""
    raw = (number or "").strip()
    digits = "".join(c for c in raw if c.isdigit())
    if not digits:
        return ""
    international = raw.startswith("+")
    if international and digits.startswith("1") and len(digits) == 11:
        digits, international = digits[1:], False
    if not international:
        return ", ".join(" ".join(g) for g in _group(digits))
    code = _country_code(digits)
    groups = [" ".join(code)] + [" ".join(g) for g in _group(digits[len(code) :])]
    return "plus " + ", ".join(groups)
