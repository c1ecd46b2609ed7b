"""Word error rate: how far a transcript is from the reference, in words.

Owns text normalisation for scoring and the word-level edit distance. WER = (substitutions +
deletions + insertions) / reference words, summed over a corpus before dividing (so long
utterances weigh more, as in the usual corpus WER).

Normalisation (both sides alike), as Whisper's own English normaliser does for scoring:
- lower case, punctuation dropped (apostrophes kept inside words), hyphens and slashes split
  words;
- spoken numbers written as digits the way Whisper writes them ("four twenty nine" -> "429");
- hesitations ("um", "uh") dropped;
- contractions written out ("I'm" -> "i am", "can't" -> "can not", "'s" -> "is", or "has"
  before "been");
- colloquial or British spellings written one way ("wanna" -> "want to", "ok" -> "okay",
  "cancelling" -> "canceling");
- email addresses and domains written out the way they are said ("a.khan@x.org" -> "a dot
  khan at x dot org"), spelled letter runs joined ("s s o" -> "sso"), also where Whisper
  hyphenates them inside an address ("p-r-a-m-a-n-oakridge.com": no "dash" was said);
- a word pair written together on the other side merged ("in voices" / "invoices"): the dev
  transcripts are written to look like speech-to-text output, and a correct "invoices" is not
  an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _number_words(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    tens, ones = divmod(n, 10)
    return [_TENS[tens - 2]] + ([_ONES[ones]] if ones else [])


_NUMBER_WORDS = (
    {w: i for i, w in enumerate(_ONES)} | {w: 20 + 10 * i for i, w in enumerate(_TENS)} | {"oh": 0}
)


def _numbers_to_digits(words: list[str]) -> list[str]:
    """Runs of spoken numbers become digits, the way they are usually read: "four twenty nine"
    -> "429", "ninety nine" -> "99", "five" -> "5" ("oh" counts only inside a run)."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run and run != ["oh"]:
            out.append("".join(run))
        elif run:
            out.append("oh")
        run.clear()

    i = 0
    while i < len(words):
        w = words[i]
        if w in _NUMBER_WORDS and (w != "oh" or run):
            value = _NUMBER_WORDS[w]
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if value >= 20 and nxt in _ONES[1:10]:
                value += _ONES.index(nxt)
                i += 1
            run.append(str(value))
        else:
            flush()
            out.append(w)
        i += 1
    flush()
    return out


def _join_letters(words: list[str]) -> list[str]:
    """A spelled run of single letters ("g d p r", "s s o") is one token, as a written acronym."""
    out: list[str] = []
    run: list[str] = []
    for w in [*words, ""]:
        if len(w) == 1 and w.isalpha():
            run.append(w)
            continue
        if len(run) >= 2:
            out.append("".join(run))
        else:
            out.extend(run)
        run = []
        if w:
            out.append(w)
    return out


# hesitations are not words (Whisper, like most transcribers, leaves them out)
_FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "erm", "hmm", "mm", "mmm", "mhm"})
# one word, two spellings: colloquial and irregular contractions, British/American doubled
# consonants (regular contractions: `_written_out`)
_SAME_WORDS = {
    "won't": ("will", "not"),
    "can't": ("can", "not"),
    "let's": ("let", "us"),
    "y'all": ("you", "all"),
    "ma'am": ("madam",),
    "ok": ("okay",),
    "alright": ("all", "right"),
    "wanna": ("want", "to"),
    "gonna": ("going", "to"),
    "gotta": ("got", "to"),
    "kinda": ("kind", "of"),
    "sorta": ("sort", "of"),
    "cancelling": ("canceling",),
    "cancelled": ("canceled",),
    "travelling": ("traveling",),
    "labelled": ("labeled",),
    "labelling": ("labeling",),
}


_ADDRESS = re.compile(r"\S*(?:@\S+|[a-z0-9]\.(?:com|org|net|io|de|co|uk|edu|gov|us|ca)\b)\S*")
_WORD_DOT = re.compile(
    r"(?<=[a-z0-9]{2})\.(?=[a-z])|(?<=[a-z0-9])\.(?=[a-z]{2})"
)  # "lucia.fernandes", not "u.s."
_SPOKEN_SYMBOLS = {"@": " at ", ".": " dot ", "-": " dash ", "_": " underscore "}


# Whisper writes spelled letters with hyphens ("H-O-N-S-E-N"); two or more in a row are a
# spelling, not a hyphen the caller said ("p-r-a-m-a-n-oakridge.com")
_SPELLED_HYPHENS = re.compile(r"\b(?:[a-z0-9]-){2,}")


def _spoken_address(match: re.Match[str]) -> str:
    """An email address or domain written out ("t.okafor@greenleaf-supply.com") in the words a
    caller says for it ("t dot okafor at greenleaf dash supply dot com")."""
    word = match.group(0).rstrip(".,;:!?")
    tail = match.group(0)[len(word) :]
    word = _SPELLED_HYPHENS.sub(lambda m: m.group(0).replace("-", " "), word)
    return "".join(_SPOKEN_SYMBOLS.get(ch, ch) for ch in word) + tail


# regular contractions written out, as Whisper's English normaliser does before scoring: "I'm"
# and "I am" are the same words ("'s" and "'d" are read as "is" and "would", on both sides alike,
# except "'s been" / "'d been" and the like, which are "has" / "had")
_CONTRACTION_ENDINGS = (("n't", "not"), ("'re", "are"), ("'ve", "have"), ("'m", "am"), ("'ll", "will"))
_PERFECT = frozenset({"been", "gone", "got", "gotten", "done"})


def _written_out(word: str, following: str) -> tuple[str, ...]:
    for ending, full in _CONTRACTION_ENDINGS:
        if word.endswith(ending) and len(word) > len(ending):
            return word[: -len(ending)], full
    perfect = following in _PERFECT
    if word.endswith("'s") and len(word) > 2:
        return word[:-2], "has" if perfect else "is"
    if word.endswith("'d") and len(word) > 2:
        return word[:-2], "had" if perfect else "would"
    return (word,)


def _expand_contractions(words: list[str]) -> list[str]:
    out: list[str] = []
    for i, word in enumerate(words):
        out.extend(_written_out(word, words[i + 1] if i + 1 < len(words) else ""))
    return out


def normalize_words(text: str) -> list[str]:
    text = text.replace("\u2019", "'")
    text = _ADDRESS.sub(_spoken_address, text.lower()).replace("_", " underscore ")
    text = _WORD_DOT.sub(" dot ", text)
    text = text.replace("-", " ").replace("/", " ")
    text = re.sub(r"[^\w\s']", " ", text)
    words: list[str] = []
    for raw in text.split():
        w = raw.strip("'")
        if w and w not in _FILLERS:
            words.extend(_SAME_WORDS.get(w, (w,)))
    return _join_letters(_numbers_to_digits(_expand_contractions(words)))


def _merge_compounds(ref: list[str], hyp: list[str]) -> tuple[list[str], list[str]]:
    """Words written apart on one side and together on the other ("in voices" / "invoices",
    "pass word" / "password") are the same words: merge the split pair."""

    def merge(words: list[str], joined: set[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(words):
            if i + 1 < len(words) and words[i] + words[i + 1] in joined:
                out.append(words[i] + words[i + 1])
                i += 2
            else:
                out.append(words[i])
                i += 1
        return out

    return merge(ref, set(hyp)), merge(hyp, set(ref))


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1]


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = _merge_compounds(normalize_words(reference), normalize_words(hypothesis))
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> float:
    """WER over (reference, hypothesis) pairs: total edits / total reference words."""
    edits = words = 0
    for reference, hypothesis in pairs:
        ref, hyp = _merge_compounds(normalize_words(reference), normalize_words(hypothesis))
        edits += edit_distance(ref, hyp)
        words += len(ref)
    return edits / words if words else 0.0
