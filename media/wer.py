"""Word error rate: how far a transcript is from the reference, in words.

Owns text normalisation for scoring and the word-level edit distance. WER = (substitutions +
deletions + insertions) / reference words, summed over a corpus before dividing (so long
utterances weigh more, as in the usual corpus WER).

Normalisation: lower case, punctuation dropped (apostrophes kept inside words), hyphens and
slashes split words, and numbers 0-99 written as words, because Whisper writes "5" where the
reference says "five".
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


def normalize_words(text: str) -> list[str]:
    text = text.lower().replace("-", " ").replace("/", " ")
    text = re.sub(r"[^\w\s']", " ", text)
    words: list[str] = []
    for word in text.split():
        word = word.strip("'")
        if not word:
            continue
        if word.isdigit() and len(word) <= 2:
            words += _number_words(int(word))
        else:
            words.append(word)
    return words


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1]


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> float:
    """WER over (reference, hypothesis) pairs: total edits / total reference words."""
    edits = words = 0
    for reference, hypothesis in pairs:
        ref, hyp = normalize_words(reference), normalize_words(hypothesis)
        edits += edit_distance(ref, hyp)
        words += len(ref)
    return edits / words if words else 0.0
