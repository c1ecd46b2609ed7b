"""Normalisation of caller and article text for retrieval, robust to speech-to-text errors.

Owns: tokenising, number words to digits ("four twenty nine" -> "429"), spelled letter runs
("s s o" -> "sso"), and joins/sound-alikes that are accepted only when the result exists in the
knowledge base's own vocabulary ("pass word" -> "password", "see sat" -> "csat", "too factor" ->
"2 factor" because "2 factor" is a KB bigram, "lay bell" -> "label" because two words the KB
never uses sound like one it does). No phrase list: every rule is general and checked
against the KB, so an unseen KB brings its own vocabulary. Relies on the fact that STT splits or
mishears words but keeps their sound, so the KB form is one join or one homophone away.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000}

# Words that sound like a single letter or a number; used only when the KB confirms the result.
SOUND_ALIKES = {
    "see": "c", "sea": "c", "bee": "b", "dee": "d", "gee": "g", "jay": "j", "kay": "k", "el": "l",
    "em": "m", "en": "n", "pea": "p", "pee": "p", "cue": "q", "are": "r", "ess": "s", "tea": "t",
    "tee": "t", "you": "u", "vee": "v", "ex": "x", "why": "y", "zee": "z", "eye": "i",
    "too": "2", "to": "2", "for": "4", "fore": "4", "won": "1", "ate": "8",
}  # fmt: skip

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "cannot",
        "could",
        "couldn",
        "did",
        "didn",
        "do",
        "does",
        "doesn",
        "doing",
        "don",
        "down",
        "during",
        "each",
        "either",
        "else",
        "even",
        "ever",
        "every",
        "few",
        "for",
        "from",
        "further",
        "get",
        "gets",
        "getting",
        "got",
        "had",
        "hadn",
        "has",
        "hasn",
        "have",
        "haven",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "isn",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "lets",
        "like",
        "ll",
        "me",
        "might",
        "more",
        "most",
        "must",
        "mustn",
        "my",
        "myself",
        "need",
        "needs",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "re",
        "same",
        "say",
        "says",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "thing",
        "things",
        "to",
        "too",
        "under",
        "until",
        "up",
        "upon",
        "us",
        "ve",
        "very",
        "was",
        "wasn",
        "way",
        "we",
        "were",
        "weren",
        "what",
        "when",
        "where",
        "whether",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "won",
        "would",
        "wouldn",
        "yet",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "d",
        "m",
        "um",
        "uh",
        "uhm",
        "er",
        "hmm",
        "oh",
        "okay",
        "ok",
        "yeah",
        "yes",
        "yep",
        "hi",
        "hey",
        "hello",
        "so",
        "well",
        "really",
        "actually",
        "basically",
        "literally",
        "honestly",
        "please",
        "thanks",
        "thank",
        "guys",
        "gonna",
        "wanna",
        "gotta",
        "kinda",
        "sorta",
        "maybe",
        "sure",
        "right",
        "something",
        "anything",
        "anyone",
        "somebody",
        "someone",
        "anybody",
        "everything",
        "everybody",
        "everyone",
        "one",
        "ones",
        "kind",
        "sort",
        "lot",
        "lots",
        "bit",
        "tell",
        "know",
        "think",
        "want",
        "wanted",
        "trying",
        "try",
        "tried",
        "see",
        "go",
        "going",
        "come",
        "mean",
        "mine",
        "make",
        "made",
        "use",
        "using",
        "used",
        "still",
        "already",
        "always",
        "never",
        "again",
        "today",
        "yesterday",
        "week",
        "month",
        "time",
        "times",
        "day",
        "days",
    ]
)

_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


# "is there a way" / "any way to get it back": a determiner and a noun are two words even when
# the KB happens to use the joined word ("away", "anyway")
_DETERMINERS = frozenset({"a", "an", "any", "the", "some", "every", "no"})

_SOUND_RULES = (
    (re.compile(r"ph"), "f"),
    (re.compile(r"ck"), "k"),
    (re.compile(r"c(?=[eiy])"), "s"),
    (re.compile(r"[cq]"), "k"),
    (re.compile(r"x"), "ks"),
    (re.compile(r"z"), "s"),
    (re.compile(r"(?<=.)[aeiouyhw]"), ""),
    (re.compile(r"^[aeiouy]"), "a"),
    (re.compile(r"(.)\1+"), r"\1"),
)


def sound_key(word: str) -> str:
    """A rough consonant skeleton: words that sound alike share it ("lay bell" -> "laybell" -> "lbl",
    "label" -> "lbl"). Used only to confirm a join against the KB's own words."""
    key = word.lower()
    for pattern, repl in _SOUND_RULES:
        key = pattern.sub(repl, key)
    return key


def fold(text: str) -> str:
    """Lower-case, strip accents, unify apostrophes; drops characters outside Latin/digits safely."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("\u2019", "'").replace("\u2018", "'").lower()


def raw_tokens(text: str) -> list[str]:
    """Word tokens: lower-case alphanumerics; possessive 's dropped, other apostrophes removed."""
    out: list[str] = []
    for tok in _TOKEN_RE.findall(fold(text)):
        if tok.endswith("'s"):
            tok = tok[:-2]
        out.append(tok.replace("'", ""))
    return [t for t in out if t]


def _number_value(words: list[str]) -> str:
    """Digits for one run of number words: groups are concatenated the way people say them."""
    groups: list[int] = []
    current: int | None = None
    for w in words:
        if w in _SCALES:
            current = (current or 1) * _SCALES[w]
        elif w in _TENS:
            if current is not None and current % 100 == 0 and current >= 100:
                current += _TENS[w]
            else:
                if current is not None:
                    groups.append(current)
                current = _TENS[w]
        else:
            unit = _UNITS[w]
            if (
                current is not None
                and current >= 20
                and current % 10 == 0
                and current % 100 != 0
                or current is not None
                and current >= 100
                and current % 100 == 0
            ):
                current += unit
            else:
                if current is not None:
                    groups.append(current)
                current = unit
    if current is not None:
        groups.append(current)
    return "".join(str(g) for g in groups)


def numbers_to_digits(tokens: list[str]) -> list[str]:
    """Replace runs of number words with digits ("ninety nine" -> "99", "three sixty five" -> "365")."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if (tok in _UNITS and tok != "oh") or tok in _TENS or (tok in _SCALES and out and out[-1] == "a"):
            j = i
            run: list[str] = []
            while j < len(tokens) and (tokens[j] in _UNITS or tokens[j] in _TENS or tokens[j] in _SCALES):
                if tokens[j] == "oh" and not run:
                    break
                run.append(tokens[j])
                j += 1
            if out and out[-1] == "a" and run and run[0] in _SCALES:
                out.pop()
            out.append(_number_value(run))
            i = j
            continue
        out.append(tok)
        i += 1
    return out


def tokenize(text: str) -> list[str]:
    """Tokens for indexing article text: folded words with number words as digits."""
    return numbers_to_digits(raw_tokens(text))


def stem(word: str) -> str:
    """A light suffix stripper, enough to match plural/verb forms for coverage checks."""
    for suffix, min_len in (("ies", 5), ("ing", 6), ("ed", 5), ("es", 5), ("s", 4), ("ly", 6)):
        if word.endswith(suffix) and len(word) >= min_len and not word.endswith("ss"):
            word = word[:-3] + "y" if suffix == "ies" else word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


class QueryNormaliser:
    """Turns caller text into KB-consistent tokens, using the KB vocabulary to confirm repairs."""

    def __init__(self, vocabulary: Iterable[str], bigrams: Iterable[tuple[str, str]]) -> None:
        self.vocabulary = frozenset(vocabulary)
        self.stems = frozenset(stem(w) for w in self.vocabulary)
        self.bigrams = frozenset(bigrams)
        by_sound: dict[str, set[str]] = {}
        for w in self.vocabulary:
            if len(w) >= 5 and w.isalpha() and w not in STOPWORDS:
                by_sound.setdefault(sound_key(w), set()).add(w)
        # a sound matches a KB word only when exactly one KB word (up to its inflections) has it
        self._by_sound = {
            k: min(ws, key=len) for k, ws in by_sound.items() if len({stem(w) for w in ws}) == 1
        }

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> QueryNormaliser:
        vocab: set[str] = set()
        bigrams: set[tuple[str, str]] = set()
        for text in texts:
            toks = tokenize(text)
            vocab.update(toks)
            bigrams.update(zip(toks, toks[1:], strict=False))
        return cls(vocab, bigrams)

    def _known(self, word: str) -> bool:
        """In the KB's vocabulary, or another form of a KB word ("web hook" -> "webhook" when the KB
        only says "webhooks")."""
        return word in self.vocabulary or stem(word) in self.stems

    def _letter_runs(self, tokens: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(tokens):
            if len(tokens[i]) == 1 and tokens[i].isalpha():
                j = i
                while j < len(tokens) and len(tokens[j]) == 1 and tokens[j].isalpha():
                    j += 1
                run = tokens[i:j]
                # "a"/"i" are also words: trim them at the edges unless the whole run is a KB word
                lo, hi = 0, len(run)
                if "".join(run) not in self.vocabulary:
                    while lo < hi and run[lo] in ("a", "i") and hi - lo > 2:
                        lo += 1
                out.extend(run[:lo])
                if hi - lo >= 2:
                    out.append("".join(run[lo:hi]))
                else:
                    out.extend(run[lo:hi])
                i = j
                continue
            out.append(tokens[i])
            i += 1
        return out

    def _repair(self, tokens: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(tokens):
            a = tokens[i]
            b = tokens[i + 1] if i + 1 < len(tokens) else ""
            if b and a not in _DETERMINERS:
                if (a, b) not in self.bigrams:
                    c = tokens[i + 2] if i + 2 < len(tokens) else ""
                    if c and self._known(a + b + c) and not self._known(a):
                        out.append(a + b + c)
                        i += 3
                        continue
                    if self._known(a + b) and len(a + b) >= 4:
                        out.append(a + b)
                        i += 2
                        continue
                    heard = self._sounds_like(a, b)
                    if heard:
                        out.append(heard)
                        i += 2
                        continue
                alike = SOUND_ALIKES.get(a)
                if alike and (a, b) not in self.bigrams:
                    if self._known(alike + b) and len(alike + b) >= 3:
                        out.append(alike + b)
                        i += 2
                        continue
                    if (alike, b) in self.bigrams and b not in STOPWORDS:
                        out.append(alike)
                        i += 1
                        continue
            out.append(a)
            i += 1
        return out

    def _sounds_like(self, a: str, b: str) -> str | None:
        """The KB word that two words not in the KB say together ("lay bell" -> "label"), or None."""
        if not (a.isalpha() and b.isalpha()) or a in STOPWORDS or b in STOPWORDS:
            return None
        if self._known(a) or self._known(b):
            return None
        joined = a + b
        key = sound_key(joined)
        word = self._by_sound.get(key) if len(key) >= 3 else None
        if word is None or abs(len(word) - len(joined)) > 2:
            return None
        return word

    def normalise(self, text: str) -> list[str]:
        """Caller text -> tokens in the KB's spelling."""
        tokens = numbers_to_digits(raw_tokens(text))
        tokens = self._letter_runs(tokens)
        return self._repair(tokens)

    def content_words(self, tokens: list[str]) -> list[str]:
        return [t for t in tokens if t not in STOPWORDS and len(t) > 1]
