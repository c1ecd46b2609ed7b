"""Shared rules for reading details out of speech-to-text output: tokens, number words, spelling.

Owns the token stream that `spoken_email`, `spoken_name` and `spoken_phone` work on, the
conversion of number words to digits, the collapse of spelled letters ("s as in sam", "double s",
"capital j", NATO words) and a cheap approximate substring match used to apply corrections.

Facts it relies on (seen in Whisper and Vosk output): callers spell letter by letter and the STT
writes one letter per token ("p r a m a n", sometimes "J-O-H-N" or "J. O. H. N."); a comma or a
period is only a pause, so a comma between two letters or next to "dot"/"at" is not a break;
"oh" is zero only inside a run of digits ("two oh six"); numbers come as digit words ("one two
three"), as pairs ("twenty three", "nineteen eighty five") or as numerals ("206-555-0101").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# Boundary markers inside a token list (never produced by a word).
SOFT_BREAK = "<,>"  # comma, semicolon, colon, a spaced dash: a pause
HARD_BREAK = "<.>"  # end of a sentence
BREAKS = frozenset({SOFT_BREAK, HARD_BREAK})

DIGIT_WORDS: dict[str, int] = {
    "zero": 0,
    "oh": 0,
    "o": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
TEEN_WORDS: dict[str, int] = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS_WORDS: dict[str, int] = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
SCALE_WORDS = frozenset({"hundred", "thousand"})
# "oh" and "o" are zero only when a real digit word comes before them in the run.
_ZERO_LETTERS = frozenset({"oh", "o"})
NUMBER_WORDS = frozenset(DIGIT_WORDS) | frozenset(TEEN_WORDS) | frozenset(TENS_WORDS) | SCALE_WORDS

NATO_WORDS: dict[str, str] = {
    "alpha": "a",
    "alfa": "a",
    "bravo": "b",
    "charlie": "c",
    "delta": "d",
    "echo": "e",
    "foxtrot": "f",
    "golf": "g",
    "hotel": "h",
    "india": "i",
    "juliet": "j",
    "juliett": "j",
    "kilo": "k",
    "lima": "l",
    "mike": "m",
    "november": "n",
    "oscar": "o",
    "papa": "p",
    "quebec": "q",
    "romeo": "r",
    "sierra": "s",
    "tango": "t",
    "uniform": "u",
    "victor": "v",
    "whiskey": "w",
    "whisky": "w",
    "xray": "x",
    "yankee": "y",
    "zulu": "z",
}
# Letter names as STT sometimes writes them; used only next to a real spelled letter.
LETTER_NAMES: dict[str, str] = {
    "bee": "b",
    "see": "c",
    "sea": "c",
    "dee": "d",
    "ef": "f",
    "eff": "f",
    "gee": "g",
    "aitch": "h",
    "haitch": "h",
    "eye": "i",
    "el": "l",
    "ell": "l",
    "em": "m",
    "en": "n",
    "oh": "o",
    "pee": "p",
    "cue": "q",
    "queue": "q",
    "are": "r",
    "ar": "r",
    "ess": "s",
    "es": "s",
    "tee": "t",
    "you": "u",
    "vee": "v",
    "ex": "x",
    "why": "y",
    "zee": "z",
    "zed": "z",
}
_CASE_WORDS = frozenset({"capital", "uppercase", "upper", "lowercase", "lower", "small", "big", "cap"})

_TOKEN_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[@._+\-,;:!?&/]")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u2013": "-", "\u2014": "-"})


def normalise(text: str, *, keep_accents: bool = False) -> str:
    """Lower-case, unify quotes and dashes, optionally fold accents ("José" -> "jose")."""
    text = unicodedata.normalize("NFKC", text or "").translate(_QUOTES).lower()
    if not keep_accents:
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"\be-mail\b", "email", text)
    return text


def is_letter(token: str) -> bool:
    """A single spelled letter ("j"), after tokenising."""
    return len(token) == 1 and token.isalpha()


def tokenize(text: str, *, keep_accents: bool = False) -> list[str]:
    """Split STT text into words, symbols (@ . - _ +) and break markers.

    A "." or "-" between two characters with no space is a symbol ("gmail.com",
    "greenleaf-supply"), and so is a "." stuck to the word after it ("acme .com"); a "." after
    a single letter is the letter's own period ("J. O. H. N."); any other "." ends a sentence.
    Hyphenated single letters ("J-O-H-N") become letters.
    """
    norm = normalise(text, keep_accents=keep_accents)
    out: list[str] = []
    for m in _TOKEN_RE.finditer(norm):
        tok = m.group(0)
        start, end = m.span()
        before = norm[start - 1] if start > 0 else " "
        after = norm[end] if end < len(norm) else " "
        tight = before.isalnum() and after.isalnum()
        if tok == ".":
            if tight or (after.isalnum() and before.isspace()):
                out.append(".")  # "gmail.com", and "gmail .com" as speech-to-text sometimes writes it
            elif out and is_letter(out[-1]):
                continue  # "J." : the letter's own period
            else:
                out.append(HARD_BREAK)
        elif tok == "-":
            out.append("-" if tight else SOFT_BREAK)
        elif tok in ",;:":
            out.append(SOFT_BREAK)
        elif tok in "!?":
            out.append(HARD_BREAK)
        elif tok in "&/":
            out.append(SOFT_BREAK if not tight else tok)
        else:
            out.append(tok)
    return _unhyphen_letters(out)


def _unhyphen_letters(tokens: list[str]) -> list[str]:
    """["j", "-", "o", "-", "h", "-", "n"] -> ["j", "o", "h", "n"] (a spelled word, not dashes)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if is_letter(tokens[i]):
            j = i
            letters = [tokens[i]]
            while j + 2 < len(tokens) and tokens[j + 1] == "-" and is_letter(tokens[j + 2]):
                letters.append(tokens[j + 2])
                j += 2
            if len(letters) >= 2:
                out.extend(letters)
                i = j + 1
                continue
        out.append(tokens[i])
        i += 1
    return out


def collapse_spelling(tokens: Sequence[str]) -> list[str]:
    """Turn spelling aids into plain letter tokens.

    "s as in sam" / "m for mike" -> "s"/"m"; "capital j" -> "j"; "double s" -> "s", "s";
    "triple x" -> three letters; "double u" -> "w"; NATO words and letter names ("aitch", "zee")
    only where they stand next to another spelled letter, so a name like "Mike" survives.
    Digit words after "double"/"triple" are repeated too ("double five" -> "five", "five").
    """
    toks = list(tokens)
    out: list[str] = []
    i = 0
    n = len(toks)
    while i < n:
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < n else ""
        # "capital j", "upper case j", "lower case j"
        if t in _CASE_WORDS:
            k = i + 1
            if k < n and toks[k] == "case":
                k += 1
            if k < n and is_letter(toks[k]):
                i = k
                continue
        # "double s", "triple seven", "double u" -> w
        if t in ("double", "triple") and nxt:
            times = 2 if t == "double" else 3
            if t == "double" and nxt in ("u", "you"):
                out.append("w")
                i += 2
                continue
            if is_letter(nxt) or nxt in DIGIT_WORDS or nxt.isdigit():
                if nxt in _ZERO_LETTERS and _digitish_neighbour(toks, i, i + 1):
                    out.extend(["zero"] * times)  # "double o seven" -> 007
                elif nxt == "oh":
                    out.extend(["o"] * times)
                else:
                    out.extend([nxt] * times)
                i += 2
                continue
        # "s as in sam", "m for mike", "b like bravo"
        if is_letter(t) and nxt in ("as", "for", "like"):
            k = i + 1
            if nxt == "as" and k + 1 < n and toks[k + 1] == "in":
                k += 2
            else:
                k += 1
            if k < n and toks[k] == "the" and k + 1 < n and toks[k + 1] == "word":
                k += 2
            if k < n and toks[k] and toks[k][0] == t and toks[k].isalpha() and len(toks[k]) > 1:
                out.append(t)
                i = k + 1
                continue
        out.append(t)
        i += 1
    return _letters_by_neighbour(out)


def _digitish_neighbour(toks: Sequence[str], i: int, j: int) -> bool:
    before = toks[i - 1] if i > 0 else ""
    after = toks[j + 1] if j + 1 < len(toks) else ""
    return any(w in NUMBER_WORDS and w not in _ZERO_LETTERS or w.isdigit() for w in (before, after))


def _letters_by_neighbour(tokens: list[str]) -> list[str]:
    """NATO words / letter names become letters when a neighbour is (or becomes) a letter."""
    out = list(tokens)
    changed = True
    while changed:
        changed = False
        for i, t in enumerate(out):
            letter = NATO_WORDS.get(t) or LETTER_NAMES.get(t)
            if not letter:
                continue
            before = out[i - 1] if i > 0 else ""
            after = out[i + 1] if i + 1 < len(out) else ""
            nato_run = t in NATO_WORDS and (before in NATO_WORDS or after in NATO_WORDS)
            if is_letter(before) or is_letter(after) or nato_run:
                out[i] = letter
                changed = True
    return out


# ----------------------------------------------------------------------------- numbers
def _under_100(words: Sequence[str], i: int) -> tuple[int, int] | None:
    """Parse "seven" / "fourteen" / "twenty" / "twenty three" at i; (value, next index)."""
    if i >= len(words):
        return None
    w = words[i]
    if w in TENS_WORDS:
        value = TENS_WORDS[w]
        if i + 1 < len(words) and words[i + 1] in DIGIT_WORDS and DIGIT_WORDS[words[i + 1]] > 0:
            return value + DIGIT_WORDS[words[i + 1]], i + 2
        return value, i + 1
    if w in TEEN_WORDS:
        return TEEN_WORDS[w], i + 1
    if w in DIGIT_WORDS:
        return DIGIT_WORDS[w], i + 1
    return None


def words_to_digits(words: str | Sequence[str]) -> str:
    """Digits for a run of number words, the way a caller reads out a number.

    Groups are written one after another, so "four twenty nine" -> "429", "nineteen eighty five"
    -> "1985", "two oh six" -> "206", "one hundred five" -> "105", "two thousand twenty four" ->
    "2024", "double five" -> "55". Numerals pass through ("2 0 6" -> "206").
    Raises ValueError on a word that is not part of a number.
    """
    seq = words.split() if isinstance(words, str) else list(words)
    seq = [w for w in seq if w != "and"] if any(w in SCALE_WORDS for w in seq) else seq
    out: list[str] = []
    i = 0
    while i < len(seq):
        w = seq[i]
        if w.isdigit():
            out.append(w)
            i += 1
            continue
        if w in ("double", "triple") and i + 1 < len(seq):
            rest = words_to_digits([seq[i + 1]])
            out.append(rest * (2 if w == "double" else 3))
            i += 2
            continue
        if w == "hundred":
            out.append("100")
            i += 1
            continue
        if w == "thousand":
            out.append("1000")
            i += 1
            continue
        head = _under_100(seq, i)
        if head is None:
            raise ValueError(f"not a number word: {w!r}")
        value, i = head
        width_one = w in DIGIT_WORDS
        if i < len(seq) and seq[i] == "hundred":
            value *= 100
            i += 1
            tail = _under_100(seq, i)
            # "eight hundred five five five": a digit followed by more digits starts a new group
            if tail is not None and tail[1] == i + 1 and seq[i] in DIGIT_WORDS and i + 1 < len(seq):
                tail = None
            if tail is not None:
                value += tail[0]
                i = tail[1]
            out.append(str(value))
            continue
        if i < len(seq) and seq[i] == "thousand":
            value *= 1000
            i += 1
            sub = _under_100(seq, i)
            if sub is not None:
                j = sub[1]
                if j < len(seq) and seq[j] == "hundred":
                    value += sub[0] * 100
                    i = j + 1
                    sub = _under_100(seq, i)
                if sub is not None:
                    value += sub[0]
                    i = sub[1]
            out.append(str(value))
            continue
        out.append(str(value) if not width_one else str(value)[-1])
    return "".join(out)


def is_number_token(token: str) -> bool:
    return token.isdigit() or token in NUMBER_WORDS


def replace_number_runs(tokens: Sequence[str], *, leading_oh_is_zero: bool = False) -> list[str]:
    """Replace each run of number words/numerals with one digit-string token.

    "oh"/"o" count as zero only after a real digit in the same run (or anywhere in the run when
    `leading_oh_is_zero`, for phone numbers, where the run must still hold a real digit word).
    A lone "o" between letters stays a letter.
    """
    out: list[str] = []
    i = 0
    n = len(tokens)
    while i < n:
        t = tokens[i]
        starts = (t.isdigit() or (t in NUMBER_WORDS and t not in _ZERO_LETTERS)) or (
            leading_oh_is_zero and t in _ZERO_LETTERS and _run_has_real_digit(tokens, i)
        )
        if not starts:
            out.append(t)
            i += 1
            continue
        j = i
        run: list[str] = []
        while j < n:
            w = tokens[j]
            if w.isdigit() or (w in NUMBER_WORDS and w not in _ZERO_LETTERS):
                run.append(w)
            elif (
                w in _ZERO_LETTERS
                and (run or leading_oh_is_zero)
                and (w == "oh" or _next_is_number(tokens, j))
            ):
                run.append("oh")  # "o" only between digits
            elif w == "and" and "hundred" in run and _next_is_number(tokens, j):
                pass  # "one hundred and five"
            else:
                break
            j += 1
        try:
            out.append(words_to_digits(run))
        except ValueError:
            out.extend(run)
        i = j
    return out


def _next_is_number(tokens: Sequence[str], j: int) -> bool:
    return j + 1 < len(tokens) and is_number_token(tokens[j + 1])


def _run_has_real_digit(tokens: Sequence[str], i: int) -> bool:
    j = i
    while j < len(tokens) and (is_number_token(tokens[j])):
        if tokens[j] not in _ZERO_LETTERS:
            return True
        j += 1
    return False


# ----------------------------------------------------------------------------- matching
def best_substring(pattern: str, text: str) -> tuple[int, int, int]:
    """Where `pattern` best fits inside `text`: (edit distance, start, end).

    Approximate substring match (free start and end in `text`; substitutions, insertions,
    deletions and swaps of two neighbouring letters cost 1), O(len(pattern) * len(text)).
    """
    m, n = len(pattern), len(text)
    if m == 0:
        return 0, 0, 0
    if n == 0:
        return m, 0, 0
    prev = [0] * (n + 1)
    prev_start = list(range(n + 1))
    older: list[int] = []
    older_start: list[int] = []
    for i in range(1, m + 1):
        cur = [i] + [0] * n
        cur_start = [0] * (n + 1)
        pc = pattern[i - 1]
        for j in range(1, n + 1):
            sub = prev[j - 1] + (pc != text[j - 1])
            dele = prev[j] + 1
            ins = cur[j - 1] + 1
            best = sub
            start = prev_start[j - 1]
            if dele < best:
                best, start = dele, prev_start[j]
            if ins < best:
                best, start = ins, cur_start[j - 1]
            if i > 1 and j > 1 and pc == text[j - 2] and pattern[i - 2] == text[j - 1] and pc != text[j - 1]:
                swap = older[j - 2] + 1  # transposition: "gmial" for "gmail"
                if swap < best:
                    best, start = swap, older_start[j - 2]
            cur[j] = best
            cur_start[j] = start
        older, older_start = prev, prev_start
        prev, prev_start = cur, cur_start
    best_end = min(range(n + 1), key=lambda j: (prev[j], -(j - prev_start[j])))
    return prev[best_end], prev_start[best_end], best_end


def substring_similarity(pattern: str, text: str) -> tuple[float, int, int]:
    """1.0 when `pattern` occurs in `text` exactly; (similarity, start, end) of the best fit."""
    dist, start, end = best_substring(pattern, text)
    span = max(len(pattern), end - start, 1)
    return 1.0 - dist / span, start, end


def edit_similarity(a: str, b: str) -> float:
    """1 - Levenshtein(a, b) / longer length (plain edits, no transpositions)."""
    if not a and not b:
        return 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j - 1] + (ca != cb), prev[j] + 1, cur[j - 1] + 1)
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))


def letter_runs(tokens: Sequence[str]) -> list[tuple[int, int]]:
    """(start, end) of each run of at least two spelled letters."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        if is_letter(tokens[i]):
            j = i
            while j < len(tokens) and is_letter(tokens[j]):
                j += 1
            if j - i >= 2:
                runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def _spelling_unit(token: str) -> bool:
    return is_letter(token) or token.isdigit()


def drop_soft_breaks_between_letters(tokens: Sequence[str]) -> list[str]:
    """ "j, o, h, n" -> "j o h n", "john, 2 3": a pause inside a spelling or before digits is not a break."""
    out: list[str] = []
    for i, t in enumerate(tokens):
        if t == SOFT_BREAK and out and i + 1 < len(tokens):
            before, after = out[-1], tokens[i + 1]
            both_spelled = _spelling_unit(before) and _spelling_unit(after)
            digits_next_to_word = (before.isdigit() and after.isalnum()) or (
                after.isdigit() and before.isalnum()
            )
            if both_spelled or digits_next_to_word:
                continue
        out.append(t)
    return out


# Words that are almost never a person's name: a guard against "this is really hurting us",
# "I'm pretty sure", "I'm the owner". Most names that are also words (Grace, Mark, Bill) are left out.
def word_set(text: str) -> frozenset[str]:
    """A frozenset of the whitespace-separated words in `text` (for long word lists)."""
    return frozenset(text.split())


COMMON_WORDS = word_set(
    """
a about above across actually after again against ago all almost already also although always am an and
another any anybody anyone anything anyway anywhere are aren't around as ask asked asking at away back bad
basically be because been before behind being below best better between big bit both broken busy but by
call called calling calls can can't cannot case cause certain certainly change changed charged check
checked checking clear close closed come comes coming completely confused contact correct could couldn't
currently customer customers day days definitely did didn't different do does doesn't doing don't done
down during each early easy either else email emails end enough error especially even ever every
everyone everything exactly fact fairly far fast few fine finally first fix fixed following for found
free frustrated from full fully get gets getting give given go goes going gone good got great had
hadn't happy hard has hasn't have haven't having he he's hear heard hello help helping her here hers
hey hi him his hold honestly hope hoping how however hurting i i'd i'll i'm i've if im in indeed
instead into is isn't issue it it's its itself just keep kind kinda know known last late later least
less let let's like likely line little locked logged long look looking lot lots love made main make
making many may maybe me mean meant might mine more most mostly much must my myself name need needed
needing needs never new next nice no nobody none nope nor not nothing now number of off often oh ok
okay old on once one only open or other our ours out over own owner part past perhaps person phone
please pleased possible pretty probably problem problems quick quickly quite rather re ready real
really recently regarding right same say saying says second see seems seriously she should shouldn't
since so some somebody someone something sometimes soon sorry speaking still stuck such super supposed
sure surely system take talk talking team tell than thank thanks that that's the their them then
there there's these they they're thing things think this those though through thus time to today
together told too totally tried trouble true truly try trying twice two uh um under unfortunately
until up upset urgent us use used user using usually very wait waiting want wanted wanting wants was
wasn't way we we're well went were what what's when where whether which while who whoever whole why
will with without won't wondering work working works would wouldn't wrong yeah yep yes yet you you're
your yours yourself hmm er erm ah huh okay alright account admin manager calling support billing
urgently annoyed angry serious fed curious interested afraid glad new here's ticket tickets invoice
again also email address spell spelled spelt letter letters word words rather prefer say tell
terrible awful crazy insane weird strange important critical slow sick tired available unable
perfect awesome excellent wonderful brilliant fantastic amazing lovely cool gotcha cheers wow oops
whoops ugh yay bye goodbye moment minute sec
absolutely literally simply quite somewhat nearly almost apparently obviously clearly
"""
)
