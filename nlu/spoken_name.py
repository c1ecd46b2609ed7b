"""Caller names heard over the phone: the answer to "may I have your name?", or an introduction.

Owns `extract_name` (a direct answer: "it's marcus bell", "Priya Raman, that's r a m a n.") and
`find_introduced_name` (a name inside a longer utterance, only after "this is", "my name is",
"I'm ... from"), and the title-casing of names ("O'Brien", "Mary-Jane", "van der Berg").

Facts it relies on: a caller who spells part of a name spells the word just said, so a spelled
run replaces the most similar word; Whisper capitalises names but not the words after "this
is"/"I'm" in "this is really hurting us", "I'm pretty sure", so in cased text an introduced name
must be capitalised; in lower-case text a list of common words and word endings guards instead.
"""

from __future__ import annotations

import re

from nlu.spoken_text import (
    BREAKS,
    COMMON_WORDS,
    collapse_spelling,
    edit_similarity,
    is_letter,
    tokenize,
    word_set,
)

MAX_CHARS = 2000
MAX_NAME_WORDS = 4
PARTICLES = frozenset(
    {"van", "der", "den", "de", "la", "le", "von", "del", "della", "da", "di", "du", "dos", "bin", "al"}
)
_FILLERS = word_set(
    """um uh er erm ah yeah yes yep sure so okay ok well hi hello hey oh it's its it is this my name name's
    i'm im am and the right alright sorry of course hmm actually call me that's thats"""
)
TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "doctor", "prof", "professor", "sir", "madam"})
_TERMINATORS = frozenset(
    {"from", "with", "at", "calling", "here", "speaking", "and", "over", "in", "of", "on"}
)
_REFUSAL = re.compile(
    r"\b(?:rather not|prefer not|don'?t want to|do not want to|not going to|won'?t|none of your|"
    r"why do you|not telling|no comment|skip (?:that|this)|not giving)\b"
)
_NON_NAME_ENDINGS = ("ous", "able", "ible", "ful", "less", "ness", "ment", "tion", "ally", "ated", "ying")
# after a lone first word, these continue a sentence: the word was a verb ("pass it on")
_CLAUSE_GOES_ON = frozenset(
    {"it", "them", "that", "this", "me", "you", "us", "him", "her", "on", "up", "out", "to", "for",
     "the", "a", "an", "my", "your", "our", "off", "over", "down", "back", "again", "along"}
)  # fmt: skip
_VERBS_AFTER_SUBJECT = frozenset(
    {"is", "was", "are", "isn't", "wasn't", "keeps", "does", "doesn't", "did", "didn't", "has",
     "hasn't", "won't", "can't", "will", "works", "worked", "stopped"}
)  # fmt: skip
_GREETINGS = frozenset(
    {"hi", "hello", "hey", "yeah", "yes", "oh", "okay", "ok", "so", "um", "uh", "morning", "afternoon"}
)


# "o apostrophe h a r a", "d apostrophe angelo": an apostrophe spelled out inside a name
_SPELLED_APOSTROPHE = re.compile(r"\b([a-z]) apostrophe ((?:[a-z] )*[a-z]+)\b", re.IGNORECASE)


def _tokens(text: str) -> list[str]:
    text = _SPELLED_APOSTROPHE.sub(lambda m: f"{m.group(1)}'{m.group(2).replace(' ', '')}", text[:MAX_CHARS])
    toks = collapse_spelling(tokenize(text, keep_accents=True))
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t == "-" and out and i + 1 < len(toks) and out[-1].isalpha() and toks[i + 1].isalpha():
            out[-1] = f"{out[-1]}-{toks[i + 1]}"  # "mary-jane"
            i += 2
            continue
        out.append(t)
        i += 1
    return out


def _name_like(word: str) -> bool:
    if not word or word in BREAKS or word in COMMON_WORDS:
        return False
    core = word.replace("'", "").replace("-", "")
    return core.isalpha() and (len(core) >= 2 or is_letter(word))


def _plausible_lowercase(word: str) -> bool:
    """A lower-case word that could be a name (guards against "ridiculous", "trying")."""
    if word.endswith("ing") and len(word) > 5:
        return False
    return not (len(word) > 5 and word.endswith(_NON_NAME_ENDINGS))


def _collect(tokens: list[str], start: int) -> tuple[list[str], int]:
    """Name words from `start`: words, initials and spelled runs, up to a break or a common word."""
    words: list[str] = []
    spelled: set[int] = set()  # indexes into words of spelled runs
    i = start
    while i < len(tokens) and tokens[i] in TITLES:  # "Dr. Smith": the title is not part of the name
        i += 2 if i + 1 < len(tokens) and tokens[i + 1] in BREAKS else 1
    while i < len(tokens) and len(words) < MAX_NAME_WORDS:
        t = tokens[i]
        if is_letter(t):
            j = i
            while j < len(tokens) and is_letter(tokens[j]):
                j += 1
            if j - i >= 2:
                spelled.add(len(words))
                words.append("".join(tokens[i:j]))
            elif t == "o" and j < len(tokens) and _name_like(tokens[j]) and tokens[j] not in PARTICLES:
                words.append(f"o'{tokens[j]}")  # "o brien" -> O'Brien
                j += 1
            else:
                words.append(t)
            i = j
            continue
        if t in PARTICLES and words and i + 1 < len(tokens) and _name_like(tokens[i + 1]):
            words.append(t)
            i += 1
            continue
        if not _name_like(t) or t in words:
            break  # a word said again starts a spelling ("siobhan murphy siobhan is s i o b h a n")
        words.append(t)
        i += 1
    return _merge_spelled(words, spelled), i


def _merge_spelled(words: list[str], spelled: set[int]) -> list[str]:
    """ "doil" next to its spelling "d o y l e": keep one word, the spelled one."""
    out: list[str] = []
    out_spelled: list[bool] = []
    for k, w in enumerate(words):
        is_run = k in spelled
        if (
            out
            and out_spelled[-1] != is_run
            and min(len(w), len(out[-1])) >= 3
            and edit_similarity(out[-1], w) >= 0.5
        ):
            if is_run:
                out[-1] = w
            out_spelled[-1] = True
            continue
        out.append(w)
        out_spelled.append(is_run)
    return out


def _apply_spellings(words: list[str], tokens: list[str], start: int, stop: int | None = None) -> list[str]:
    """Spelled runs after the name ("that's r a m a n", "Siobhan is s i o b h a n") fix a word."""
    words = list(words)
    i = start
    end = len(tokens) if stop is None else stop
    while i < end:
        if not is_letter(tokens[i]):
            i += 1
            continue
        j = i
        while j < end and is_letter(tokens[j]):
            j += 1
        run = "".join(tokens[i:j])
        if len(run) >= 2:
            target = _target_before(tokens, i, words)
            if target is None:
                scored = [(edit_similarity(w, run), k) for k, w in enumerate(words) if len(w) > 1]
                best = max(scored, default=(0.0, -1))
                target = best[1] if best[0] >= 0.45 else None
            if target is not None:
                words[target] = run
            elif len(words) == 1 and len(run) >= 3:
                words.append(run)  # "Tom, o k a f o r": the surname, spelled
        i = j
    return words


def _target_before(tokens: list[str], run_start: int, words: list[str]) -> int | None:
    """ "<word> is <spelling>": the word the caller named."""
    k = run_start - 1
    while k >= 0 and tokens[k] in ("is", "spelled", "spelt", "that's", "as", "it's"):
        k -= 1
    if k < run_start - 1 and k >= 0 and tokens[k] in words:
        return words.index(tokens[k])
    return None


def _title(word: str) -> str:
    if "-" in word:
        return "-".join(_title(p) for p in word.split("-"))
    if "'" in word:
        head, _, tail = word.partition("'")
        return f"{head.capitalize()}'{tail.capitalize()}" if len(head) == 1 else word.capitalize()
    if word.startswith("mc") and len(word) > 3:
        return "Mc" + word[2:].capitalize()
    return word[:1].upper() + word[1:]


def _format(words: list[str]) -> str | None:
    words = [w for w in words if w]
    while words and words[-1] in PARTICLES:
        words.pop()
    if not words or all(len(w) == 1 for w in words):
        return None
    out = [w if (i and w in PARTICLES) else _title(w) for i, w in enumerate(words)]
    return " ".join(out)


def _after(tokens: list[str], phrase: tuple[str, ...]) -> int | None:
    for i in range(len(tokens) - len(phrase) + 1):
        if tuple(tokens[i : i + len(phrase)]) == phrase:
            return i + len(phrase)
    return None


def _skip_fillers(tokens: list[str], i: int) -> int:
    while i < len(tokens) and (tokens[i] in _FILLERS or tokens[i] in BREAKS):
        i += 1
    return i


def extract_name(text: str) -> str | None:
    """The caller's name from their answer to "may I have your name?", title-cased, or None."""
    if not isinstance(text, str) or not text.strip():
        return None
    lowered = text.lower().replace("\u2019", "'")
    if _REFUSAL.search(lowered):
        return None
    tokens = _tokens(text)
    first_at = _after(tokens, ("first", "name")) or _after(tokens, ("given", "name"))
    last_at = (
        _after(tokens, ("last", "name")) or _after(tokens, ("surname",)) or _after(tokens, ("family", "name"))
    )
    if first_at is None and last_at is not None:
        # "oluwaseun adeyemi. o l u w a s e u n. last name a d e y e m i", "john, last name smith":
        # the name said first, before the surname is spelled or given
        opening, opening_end = _collect(tokens, _skip_fillers(tokens, 0))
        surname, surname_end = _collect(tokens, _skip_fillers(tokens, last_at))
        surname = _apply_spellings(surname, tokens, surname_end)
        if opening and surname and opening_end <= last_at - 2:
            if surname[-1] in opening:
                return _format(opening[:MAX_NAME_WORDS])
            if len(opening) == 1:
                return _format([*opening, *surname][:MAX_NAME_WORDS])
    if first_at is not None or last_at is not None:
        parts: list[str] = []
        for at, other in ((first_at, last_at), (last_at, first_at)):
            if at is None:
                continue
            words, end = _collect(tokens, _skip_fillers(tokens, at))
            stop = other - 2 if other is not None and other > at else None
            parts.extend(_apply_spellings(words, tokens, end, stop))
        return _format(parts[:MAX_NAME_WORDS])
    introduced = _introduced(tokens, text, strict=False)
    if introduced is not None:
        words, end = introduced
    else:
        words, end = _collect(tokens, _skip_fillers(tokens, 0))
        nxt = tokens[end] if len(words) == 1 and end < len(tokens) else ""
        if nxt in _CLAUSE_GOES_ON:
            return None  # "okay, pass it on", "check that": a verb and its object, not a name
        if nxt in _VERBS_AFTER_SUBJECT and not any(is_letter(t) for t in tokens[end + 1 : end + 3]):
            return None  # "my password is fine": a subject and its verb ("sam is s a m" spells)
    if not words:
        return None
    if end < len(tokens) and tokens[end] in BREAKS:
        again, again_end = _collect(tokens, _skip_fillers(tokens, end))
        if len(again) > len(words) and again[: len(words)] == words:
            words, end = again, again_end  # "it's john, john smith"
    return _format(_apply_spellings(words, tokens, end))


def _capitalised_words(text: str) -> set[str] | None:
    """Words written with a capital in the original text, or None when the text is not cased."""
    letters = [c for c in text if c.isalpha()]
    if not letters or not any(c.isupper() for c in letters) or all(c.isupper() for c in letters):
        return None
    caps = {
        m.group(0).lower() for m in re.finditer(r"\b[^\W\d_][\w'\u2019-]*", text) if m.group(0)[0].isupper()
    }
    return {c.replace("\u2019", "'") for c in caps}


_STRONG_CUES = (
    ("my", "name", "is"),
    ("my", "name's"),
    ("name's",),
    ("the", "name", "is"),
    ("this", "is"),
    ("call", "me"),
)
_WEAK_CUES = (("i'm",), ("i", "am"), ("im",), ("it's",), ("it", "is"))


def _introduced(tokens: list[str], text: str, *, strict: bool) -> tuple[list[str], int] | None:
    caps = _capitalised_words(text) if strict else None
    for cues, weak in ((_STRONG_CUES, False), (_WEAK_CUES, True)):
        for i in range(len(tokens)):
            for cue in cues:
                if tuple(tokens[i : i + len(cue)]) != cue:
                    continue
                start = i + len(cue)
                words, end = _collect(tokens, start)
                if not words or not _acceptable(words, caps, strict):
                    continue
                nxt = tokens[end] if end < len(tokens) else ""
                if strict and weak and nxt not in _TERMINATORS and nxt not in BREAKS and nxt:
                    continue
                if len(words) == 1 and (nxt in _CLAUSE_GOES_ON or nxt in _VERBS_AFTER_SUBJECT):
                    continue  # "yes it's turned on": a verb, not a name
                prev = tokens[i - 1] if i > 0 else ""
                if (
                    strict
                    and cue[0] in ("it's", "it")
                    and prev
                    and prev not in BREAKS
                    and prev not in _GREETINGS
                ):
                    continue  # "no sorry it's lincoln valley schools": not an introduction
                if strict and weak and not nxt and caps is None and len(words) < 2:
                    continue
                return words, end
    if strict:
        return _name_here(tokens, caps)
    return None


def _acceptable(words: list[str], caps: set[str] | None, strict: bool) -> bool:
    if not strict:
        return True
    first = words[0]
    if len(first) < 2:
        return False
    if caps is not None:
        return all(w in caps or w in PARTICLES or len(w) == 1 for w in words)
    return all(_plausible_lowercase(w) for w in words)


def _name_here(tokens: list[str], caps: set[str] | None) -> tuple[list[str], int] | None:
    """ "hi, Dana here from Copperline", "Dana speaking"."""
    for i, t in enumerate(tokens):
        if t not in ("here", "speaking") or i == 0:
            continue
        k = i
        while k > 0 and i - k < 2 and _name_like(tokens[k - 1]):
            k -= 1
        if k == i or (k > 0 and tokens[k - 1] not in BREAKS and tokens[k - 1] not in _GREETINGS):
            continue
        words = tokens[k:i]
        if _acceptable(words, caps, True):
            return words, i
    return None


def find_introduced_name(text: str) -> str | None:
    """A name the caller introduces inside a longer utterance ("hi this is dana whitfield from
    copperline ..."); None for "this is really hurting us", "I'm pretty sure", "I'm the owner"."""
    if not isinstance(text, str) or not text.strip():
        return None
    tokens = _tokens(text)
    found = _introduced(tokens, text, strict=True)
    if found is None:
        return None
    words, end = found
    name = _format(_apply_spellings(words, tokens, end))
    return None if name is None or is_stt_loop(name) else name


def is_stt_loop(name: str) -> bool:
    """A letter three times in a row ("Okeffffff"): a speech-to-text loop, no name has it."""
    return re.search(r"([a-z])\1\1", name.lower()) is not None


_INTRO_LEAD = re.compile(
    r"^\W*(?:(?:hi|hello|hey|yeah|yes|yep|um+|uh+|so|okay|ok|good (?:morning|afternoon|evening))\b\W*)*"
    r"(?:this is|my name is|my name's|i'm|i am|it's)\s+",
    re.IGNORECASE,
)
_ORG_LEAD = re.compile(r"^\W*(?:from|at|with|over at|here at|calling from)\s+", re.IGNORECASE)
_ORG_STOP = word_set(
    """i i'm i've we we're we've our my and so but um uh calling here the is was are have has had
    can can't could need needs want wanted just also who where when your a an"""
)
_MAX_ORG_WORDS = 4


def without_introduction(text: str) -> str:
    """The caller's words after an opening self-introduction: "hi I'm Rosa Alvarez from Cedar
    Clinic, our SPF record keeps failing" -> "our SPF record keeps failing". Names and company
    names are words no help article uses; searched with them, the question scores lower.
    The text is returned unchanged when it does not open with an introduction."""
    if not isinstance(text, str):
        return ""
    lead = _INTRO_LEAD.match(text)
    name = find_introduced_name(text) if lead else None
    if lead is None or name is None:
        return text
    rest = text[lead.end() :]
    for word in name.lower().split():
        m = re.match(rf"\W*{re.escape(word)}\b", rest, re.IGNORECASE)
        if m is None:
            return text  # the name was spelled or heard differently: leave the text alone
        rest = rest[m.end() :]
    org = _ORG_LEAD.match(rest)
    if org is not None:
        tail = rest[org.end() :]
        for taken, m in enumerate(re.finditer(r"[\w'&-]+|[,.;:!?]", tail)):
            piece = m.group(0)
            if piece in ",.;:!?" or piece.lower() in _ORG_STOP or taken == _MAX_ORG_WORDS:
                tail = tail[m.start() :]
                break
        else:
            tail = ""
        rest = tail
    rest = rest.lstrip(" ,.;:!?-")
    return rest if len(re.findall(r"[a-z]{3,}", rest.lower())) >= 2 else text
