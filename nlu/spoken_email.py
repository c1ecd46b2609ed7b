"""Email addresses heard over the phone: parse, validate, read back, correct.

Owns the reading of an email address out of one speech-to-text utterance ("marcus dot bell at
trailhead logistics dot com, trailhead logistics is all one word"), the read-back the agent
speaks to confirm it, and the caller's correction after that read-back.

Facts it relies on (from scripted support calls and Whisper output): callers say the words of a
domain or local part separately ("trailhead logistics") and mean them joined, so words join by
default and only "dot"/"dash"/"underscore" separate; after the top-level domain a caller adds
remarks ("all one word", a spelled confirmation "B r i g h t water"), which are used to fix a
part of the address and never glued on; the top-level domain is one word or a short spelled run
("dot i o"). The parser reads 10,000 characters in a few milliseconds and never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nlu.spoken_text import (
    BREAKS,
    HARD_BREAK,
    LETTER_NAMES,
    SOFT_BREAK,
    collapse_spelling,
    drop_soft_breaks_between_letters,
    edit_similarity,
    is_letter,
    replace_number_runs,
    substring_similarity,
    tokenize,
    word_set,
)

MAX_CHARS = 4000  # an address is said in far fewer; beyond this only the tail is read

COMMON_TLDS = frozenset({"com", "org", "net", "edu", "gov"})
KNOWN_TLDS = COMMON_TLDS | word_set(
    """mil int io co ai app dev biz info me us uk de ca au fr es it nl be ch at se no dk fi ie in jp cn
    nz za br mx ar pl pt ru tv xyz online tech store shop site cloud email health law legal ly gg eu
    asia agency studio design media news blog club live life world today digital solutions services
    group company global network systems consulting ac cz sk hu ro bg gr tr il ae sa sg hk tw kr my ph
    th vn id pk ng ke eg ma cl pe ve uy is lu li lt lv ee si hr rs ua by kz nu ws fm cc"""
)
SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu"})  # "co.uk", "com.au"
TLD_MISHEARD = {"come": "com", "calm": "com", "comb": "com", "con": "com", "nett": "net"}
WELL_KNOWN_DOMAINS = word_set(
    """gmail googlemail yahoo hotmail outlook live msn icloud me mac aol protonmail proton comcast
    verizon att gmx zoho yandex fastmail hey mail"""
)

_SEP_WORDS = {
    "dot": ".",
    "period": ".",
    "point": ".",
    "fullstop": ".",
    "dash": "-",
    "hyphen": "-",
    "minus": "-",
    "underscore": "_",
    "underbar": "_",
    "atsign": "@",
    "plus": "+",
}
SEPARATORS = frozenset({".", "-", "_", "+"})
_AT = frozenset({"@", "at"})
_PHRASES = [
    (re.compile(r"\bat (?:the )?rate(?: of)?\b"), " atsign "),
    (re.compile(r"\bat (?:the )?(?:sign|symbol|mark)\b"), " atsign "),
    (re.compile(r"\bunder (?:score|bar)\b"), " underscore "),
    (re.compile(r"\bfull stop\b"), " fullstop "),
    (re.compile(r"\b(?:is |are |it's |its )?(?:all |also |as |just |in )?(?:one|1) word\b"), " "),
    (re.compile(r"\b(?:is |are )?(?:all )?(?:together|altogether|joined(?: up)?)\b"), " "),
    (re.compile(r"\b(?:with )?(?:no|without(?: any)?) (?:spaces?|gaps?)(?: in between)?\b"), " "),
    # an address has no apostrophe: "colm dot ohara, no apostrophe" says how it is written
    (re.compile(r"\b(?:with )?(?:no|without(?: an?| the)?) apostrophes?\b"), " "),
    (re.compile(r"\b(?:all )?(?:in )?(?:lower ?case|small letters)\b"), " "),
    (re.compile(r"\b(?:um+|uh+|erm?|ah+|hmm+|uh-huh)\b"), " "),
    (re.compile(r"\bthank you\b"), " thanks "),
]
# Hints about one letter of the word just said ("schools with an s at the end").
_HINTS = [
    # "with and s at the end", "within s at the end": speech-to-text often writes "an" as "and",
    # or runs "with an" together; any single letter said to go at the end is this hint
    (
        "end",
        re.compile(
            r"\b(?:(?:with(?:in)? )?(?:an?|and|one) |with(?:in)? |plus )?([a-z])(?:'s)? (?:at|on) the end\b"
        ),
    ),
    (
        "double",
        re.compile(
            r"\b(?:with (?:two|2|a double|double) ([a-z])(?:'s|s)?|(?:(?:that's|thats|it's|its) )?(?:two|2) ([a-z])'s)\b"
        ),
    ),
    ("single", re.compile(r"\bwith (?:only |just )?(?:one|1|a single) ([a-z])\b")),
    ("drop", re.compile(r"\b(?:without (?:an?|the) ([a-z])|no ([a-z]) at the end)\b")),
    ("has", re.compile(r"\bwith (?:an?|the) ([a-z])\b")),
]
_CONFUSABLE = {
    "y": ("ie", "ey", "i", "e"),
    "i": ("y", "e"),
    "k": ("ck", "c", "q"),
    "c": ("k", "s"),
    "s": ("z", "c"),
    "z": ("s",),
    "f": ("ph",),
    "e": ("a", "i"),
    "a": ("e",),
    "o": ("a", "u"),
    "u": ("o",),
}
# Words that end the local part when scanning back from "at": what comes before is a preamble.
_LOCAL_STOPS = word_set(
    """is was it's its that's thats be mean meant email emails email's address address's try use to that the an of for from
    are and or but if do does did how what why when where which who can could would should will we you
    they he she my our your their me us like get go goes send sent reach write"""
)
_NOT_A_DOMAIN = word_set(
    """a an the my his her their our your all least once home work night first last this that it some any
    one time noon lunch school desk moment"""
)
_FILLERS = word_set(
    """um uh yeah yep yes sure so okay ok well oh and like just hi hello hey there right alright actually
    basically sorry no nope the my email address mail it's its that's thats this please thanks cheers
    bye now then wait correction not quite i said meant mean should be it is was okay great
    perfect"""
)
_CORRECTION_CUES = frozenset({"sorry", "no", "mean", "actually", "correction", "wait", "oops", "rather"})
_NO_EMAIL = re.compile(
    r"\b(?:(?:don'?t|do not|doesn'?t|does not|never|haven'?t|have not|can'?t|cannot) (?:really )?"
    r"(?:have|use|got|remember|know)(?: got)?(?: an?| any| my| our| the)? ?(?:email|mail)|no email)\b"
)


@dataclass(frozen=True)
class EmailParse:
    address: str  # lower-case best reading, "" if nothing email-like was heard
    valid: bool  # passes is_valid_email
    problem: str = ""  # short reason when not valid, e.g. "no domain", "no @"


_LOCAL_RE = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


def is_valid_email(address: str) -> bool:
    """Practical check: local@domain.tld, dot-atom local part, LDH labels, alphabetic TLD >= 2."""
    if not isinstance(address, str) or len(address) > 254 or address.count("@") != 1:
        return False
    local, domain = address.lower().split("@")
    if not (0 < len(local) <= 64) or not _LOCAL_RE.match(local):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not all(0 < len(lb) <= 63 and _LABEL_RE.match(lb) for lb in labels):
        return False
    tld = labels[-1]
    return len(tld) >= 2 and tld.isalpha() and tld.isascii()


def _problem(address: str) -> str:
    if not address:
        return "nothing email-like heard"
    if "@" not in address:
        return "no @"
    local, _, domain = address.partition("@")
    if not local:
        return "no local part"
    if not domain:
        return "no domain"
    if "." not in domain:
        return "no top-level domain"
    tld = domain.rsplit(".", 1)[1]
    if len(tld) < 2 or not tld.isalpha():
        return "bad top-level domain"
    return "invalid characters"


# ----------------------------------------------------------------------------- tokens
@dataclass
class _Hint:
    kind: str  # end | double | single | drop | has
    letter: str


@dataclass
class _Prepared:
    tokens: list[str]
    hints: dict[str, _Hint] = field(default_factory=dict)


def _prepare(text: str) -> _Prepared:
    raw = (text or "")[-MAX_CHARS:]
    norm = raw.lower().replace("\u2019", "'")
    hints: dict[str, _Hint] = {}
    for kind, pattern in _HINTS:

        def mark(m: re.Match[str], kind: str = kind) -> str:
            key = f"hintmark{len(hints)}"
            letter = next(g for g in m.groups() if g)
            hints[key] = _Hint(kind, letter)
            return f" {key} "

        norm = pattern.sub(mark, norm)
    for pattern, repl in _PHRASES:
        norm = pattern.sub(repl, norm)
    toks = collapse_spelling(_tld_letter_names(tokenize(norm)))
    toks = replace_number_runs(toks)
    toks = _separators(toks)
    toks = _drop_weak_breaks(drop_soft_breaks_between_letters(toks))
    return _Prepared(_apply_hints(toks, hints), hints)


def _separators(tokens: list[str]) -> list[str]:
    """Spoken separators as symbols. "point" is a dot in the local part ("first point last at
    ..."); after "at" it is a dot only before a top-level domain and for a caller who does not
    say "dot" there ("gmail point com"); otherwise it is part of a name that speech-to-text
    split ("north point legal dot com" is northpointlegal.com)."""
    at = next((i for i, t in enumerate(tokens) if t in ("at", "@", "atsign")), len(tokens))
    says_dot = any(t in ("dot", "period", "fullstop", ".") for t in tokens[at:])
    out = []
    for i, t in enumerate(tokens):
        if t == "point" and i > at:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            out.append("." if not says_dot and (nxt in KNOWN_TLDS or nxt in TLD_MISHEARD) else t)
        else:
            out.append(_SEP_WORDS.get(t, t))
    return out


def _tld_letter_names(tokens: list[str]) -> list[str]:
    """ "dot eye oh" -> "dot i o": letter names right after "dot", up to a break."""
    out = list(tokens)
    for i, t in enumerate(out):
        if _SEP_WORDS.get(t) != ".":
            continue
        j = i + 1
        while j < len(out) and j - i <= 3 and out[j] in LETTER_NAMES:
            j += 1
        if j - i >= 3 and (j == len(out) or out[j] in BREAKS):
            out[i + 1 : j] = [LETTER_NAMES[w] for w in out[i + 1 : j]]
    return out


def _drop_weak_breaks(tokens: list[str]) -> list[str]:
    """A pause next to a separator ("bell, at trailhead", "logistics, dot com") is not a break."""
    out: list[str] = []
    for i, t in enumerate(tokens):
        if t in BREAKS:
            nxt = next((x for x in tokens[i + 1 :] if x not in BREAKS), "")
            prev = out[-1] if out else ""
            if prev in SEPARATORS or prev in _AT or nxt in SEPARATORS or nxt in _AT:
                continue
            if out and out[-1] in BREAKS:
                if t == HARD_BREAK:
                    out[-1] = HARD_BREAK
                continue
        out.append(t)
    return out


def _apply_hints(tokens: list[str], hints: dict[str, _Hint]) -> list[str]:
    """Apply each hint to the word (or spelled run) just before it; leave unattached hints."""
    out: list[str] = []
    for t in tokens:
        hint = hints.get(t)
        if hint is None:
            out.append(t)
            continue
        if len(out) >= 2 and out[-1] in BREAKS and (is_letter(out[-2]) or out[-2].isalnum()):
            out.pop()  # "anna, with two n's": the pause does not detach the hint from the word
        if out and is_letter(out[-1]):
            j = len(out)
            while j > 0 and is_letter(out[j - 1]):
                j -= 1
            word = "".join(out[j:])
            del out[j:]
            out.extend(_hinted(word, hint))
        elif out and out[-1].isalnum() and out[-1] not in BREAKS:
            out[-1] = _hinted(out[-1], hint)
        else:
            out.append(t)  # nothing to attach to: kept for the caller of _prepare
    return out


def _hinted(word: str, hint: _Hint) -> str:
    x = hint.letter
    if hint.kind == "end":
        return word if word.endswith(x) else word + x
    if hint.kind == "double":
        if x + x in word or word.count(x) != 1:
            return word
        return word.replace(x, x + x)
    if hint.kind == "single":
        return word.replace(x + x, x, 1)
    if hint.kind == "drop":
        if word.endswith(x):
            return word[:-1]
        return word.replace(x, "") if word.count(x) == 1 else word
    if x in word:
        return word
    for alt in _CONFUSABLE.get(x, ()):
        if word.count(alt) == 1:
            return word.replace(alt, x)
    return word


# ----------------------------------------------------------------------------- address model
@dataclass
class _Address:
    local: str
    labels: list[str]  # domain labels; empty when no "@" was heard
    has_at: bool = True

    def text(self) -> str:
        domain = ".".join(lb for lb in self.labels if lb)
        if not self.has_at:
            return ".".join(x for x in (self.local, domain) if x)
        return f"{self.local}@{domain}" if (self.local or domain) else ""


def _join(tokens: list[str]) -> str:
    """Join one label's tokens: words glued, a spelled copy of a neighbouring word kept once."""
    pieces: list[tuple[str, bool]] = []  # (text, is_spelled_run)
    for t in tokens:
        if t in BREAKS or t in _AT or t.startswith("hintmark"):
            continue
        if is_letter(t) and pieces and pieces[-1][1]:
            pieces[-1] = (pieces[-1][0] + t, True)
        else:
            pieces.append((t, is_letter(t)))
    kept: list[str] = []
    i = 0
    while i < len(pieces):
        text, spelled = pieces[i]
        if i + 1 < len(pieces):
            nxt, nxt_spelled = pieces[i + 1]
            if spelled != nxt_spelled and min(len(text), len(nxt)) >= 3 and edit_similarity(text, nxt) >= 0.6:
                kept.append(text if spelled else nxt)  # "hansen h a n s e n": keep the spelling
                i += 2
                continue
        kept.append(text)
        i += 1
    joined = "".join(kept)
    return re.sub(r"[^a-z0-9._+-]", "", joined)


def _split_labels(tokens: list[str]) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    for t in tokens:
        if t == ".":
            groups.append([])
        else:
            groups[-1].append(t)
    return groups


def _take_tld(group: list[str]) -> tuple[str, list[str]]:
    """The top-level domain at the head of the last label group, and the rest (remarks)."""
    words = [t for t in group if t not in BREAKS]
    if not words:
        return "", []
    if is_letter(words[0]):
        j = 0
        while j < len(words) and is_letter(words[j]):
            j += 1
        letters = "".join(words[:j])
        tld = next((letters[:k] for k in range(min(len(letters), 6), 1, -1) if letters[:k] in KNOWN_TLDS), "")
        if not tld:
            tld = letters if len(letters) <= 4 else letters[:2]
        rest = list(letters[len(tld) :]) + words[j:]
        return tld, rest
    tld = TLD_MISHEARD.get(words[0], words[0])
    return tld, words[1:]


@dataclass
class _Found:
    address: _Address
    remarks: list[str]  # tokens heard after the address


def _choose_at(tokens: list[str]) -> int | None:
    candidates = [i for i, t in enumerate(tokens) if t in _AT]
    if not candidates:
        return None

    def dotted(c: int) -> bool:
        for k in range(c + 1, len(tokens)):
            t = tokens[k]
            if t in BREAKS or t in _AT:
                return False
            if t == "." and k > c + 1:
                return True
        return False

    with_dot = [c for c in candidates if dotted(c)]
    typed = [c for c in with_dot if tokens[c] == "@"]
    if typed:
        return typed[0]
    if with_dot:
        return with_dot[0]
    for c in reversed(candidates):
        before = tokens[c - 1] if c > 0 else HARD_BREAK
        domain = []
        for t in tokens[c + 1 :]:
            if t in BREAKS or t in _AT:
                break
            domain.append(t)
        # "john at gmail" is an address missing its ending; "at the end of the month" is not one
        if before not in BREAKS and 0 < len(domain) <= 2 and domain[0] not in _NOT_A_DOMAIN:
            return c
    return None


def _strip_fillers(tokens: list[str], *, keep_dot: bool = False) -> list[str]:
    toks = list(tokens)
    while toks and (
        (
            toks[0] in _FILLERS
            and not (len(toks[0]) == 1 and len(toks) > 1 and len(toks[1]) == 1 and toks[1].isalpha())
        )
        or toks[0] in BREAKS
        or (toks[0] in SEPARATORS and not (keep_dot and toks[0] == "."))
    ):
        toks.pop(0)
    while toks and (toks[-1] in SEPARATORS or toks[-1] in BREAKS):
        toks.pop()
    return toks


def _local_start(tokens: list[str], i: int) -> int:
    """Index of the pause, "at" or lead word ("is", "my", ...) at or before `i` that the local part
    said up to `i` starts after (-1: the start of the text)."""
    while i >= 0 and tokens[i] not in BREAKS and tokens[i] not in _AT and tokens[i] not in _LOCAL_STOPS:
        i -= 1
    return i


def _find_address(tokens: list[str]) -> _Found | None:
    at = _choose_at(tokens)
    if at is None:
        return _find_without_at(tokens)
    k = _local_start(tokens, at - 1)
    said = [t for t in tokens[k + 1 : at] if t not in BREAKS]
    local_tokens = _with_spelled_confirmation(tokens, k, _strip_fillers(said))
    if not local_tokens and said and all(t in _CONNECTIVES for t in said):
        local_tokens = _earlier_local(tokens, k)
    if not local_tokens and said and said[-1].isalnum():
        local_tokens = said[-1:]  # "hello at acme dot com": the filler is the local part
    end = at + 1
    while end < len(tokens) and tokens[end] not in BREAKS and tokens[end] not in _AT:
        end += 1
    domain_tokens = [t for t in tokens[at + 1 : end] if t not in ("thanks", "please", "cheers")]
    while domain_tokens and domain_tokens[0] in SEPARATORS:
        domain_tokens.pop(0)
    groups = _split_labels(domain_tokens)
    remarks: list[str] = []
    labels = [_join(g) for g in groups[:-1]]
    if len(groups) > 1:
        tld, rest = _take_tld(groups[-1])
        labels.append(tld)
        remarks = rest
        if tld in SECOND_LEVEL and rest and len(rest[0]) == 2 and rest[0] in KNOWN_TLDS:
            labels.append(rest[0])  # "dot co uk"
            remarks = rest[1:]
    else:
        labels = [_join(groups[0])]
    labels = [lb for lb in labels if lb]
    local = _join(local_tokens).strip(".")
    remarks = remarks + [HARD_BREAK] + tokens[end:]
    return _Found(_Address(local, labels), remarks)


_CONNECTIVES = frozenset({"and", "then", "so", "plus", "after", "that"})


def _earlier_local(tokens: list[str], k: int) -> list[str]:
    """ "it's ximena dot abernathy, the whole last name, and then at blueheron dot com": the local
    part was said before a remark; the nearest earlier stretch with a dot, underscore or dash."""
    end = k
    for _ in range(3):
        while end >= 0 and (tokens[end] in BREAKS or tokens[end] in _CONNECTIVES):
            end -= 1
        start = end
        while start >= 0 and tokens[start] not in BREAKS and tokens[start] not in _AT:
            start -= 1
        segment = tokens[start + 1 : end + 1]
        stops = [i for i, t in enumerate(segment) if t in _LOCAL_STOPS]
        if stops:
            segment = segment[stops[-1] + 1 :]
        segment = _strip_fillers(segment)
        if any(t in (".", "_", "-") for t in segment[1:-1]):
            return segment
        end = start
    return []


_SPELLING_LEADS = frozenset({"that's", "thats", "it's", "its", "is", "spelled", "spelt"})


def _with_spelled_confirmation(tokens: list[str], k: int, local_tokens: list[str]) -> list[str]:
    """ "hannah dot mbeki, m b e k i, at ...": a word spelled after a pause only confirms the last
    word before the pause; the local part is the whole reading ("hannah.mbeki"), not the spelling."""
    if not local_tokens or not (len(local_tokens) == 1 or all(is_letter(t) for t in local_tokens)):
        return local_tokens
    j, paused = k, False
    while j >= 0 and (tokens[j] in BREAKS or tokens[j] in _SPELLING_LEADS):
        paused = paused or tokens[j] in BREAKS
        j -= 1
    if not paused:
        return local_tokens
    start = _local_start(tokens, j)
    raw = [t for t in tokens[start + 1 : j + 1] if t not in BREAKS]
    if not raw or raw[-1] != "".join(local_tokens):
        return local_tokens
    before = _strip_fillers(raw)
    if len(before) == 1 and len(raw) >= 2 and is_letter(raw[-2]):
        before = raw[-2:]  # "i solberg, that's s o l b e r g": the initial is no filler here
    return before if len(before) > 1 else local_tokens


def _find_without_at(tokens: list[str]) -> _Found | None:
    """No "at" heard: "john smith gmail dot com" keeps a well-known provider; else the reading."""
    for i, t in enumerate(tokens):
        if t == "." and i > 0 and i + 1 < len(tokens) and tokens[i + 1] not in BREAKS:
            start = i - 1
            while start >= 0 and tokens[start] not in BREAKS and tokens[start] not in _LOCAL_STOPS:
                start -= 1
            words = _strip_fillers(tokens[start + 1 : i])
            if not words:
                continue
            tld, rest = _take_tld(tokens[i + 1 :])
            if not (tld.isalpha() and len(tld) >= 2) or len(words) > 3:
                continue  # "ninety nine point nine", or a sentence that mentions a website
            if words[-1] in WELL_KNOWN_DOMAINS and len(words) > 1:
                local = _join(words[:-1])
                if local:
                    return _Found(_Address(local, [words[-1], tld]), rest)
            return _Found(_Address(_join(words), [tld], has_at=False), rest)
    return None


# ----------------------------------------------------------------------------- locate + replace
@dataclass(frozen=True)
class _Spot:
    similarity: float
    part: int  # -1: local part, else index into labels
    start: int
    end: int


def _part_text(addr: _Address, part: int) -> str:
    return addr.local if part < 0 else addr.labels[part]


def _locate(addr: _Address, fragment: str, *, include_tld: bool = True) -> _Spot | None:
    """The stretch of the address `fragment` is most similar to.

    Without a separator in the fragment the search stays inside one segment ("smyth" in
    "john.smyth"); a fit that covers most of its segment takes the whole segment, so "j o n"
    replaces "john" rather than "joh", while "kessler" in "keslergmbh" replaces only "kesler".
    """
    parts = [-1] + list(range(len(addr.labels) - (0 if include_tld else 1)))
    split = not any(c in fragment for c in "._+-")
    best: _Spot | None = None
    best_key = (-1.0, -1.0)
    for p in parts:
        text = _part_text(addr, p)
        spans = [m.span() for m in re.finditer(r"[^._+-]+", text)] if split else [(0, len(text))]
        for seg_start, seg_end in spans:
            segment = text[seg_start:seg_end]
            sim, start, end = substring_similarity(fragment, segment)
            coverage = (end - start) / max(1, len(segment))
            exact = sim >= 1.0 and end - start == len(fragment)  # "haddad" in "ohaddad": keep the "o"
            if not exact and (coverage >= 0.75 or len(segment) - (end - start) <= 1):
                start, end, coverage = 0, len(segment), 1.0
            key = (round(sim, 3), coverage)
            if key > best_key:
                best_key = key
                best = _Spot(sim, p, seg_start + start, seg_start + end)
    return best


def _replace(addr: _Address, spot: _Spot, new: str) -> _Address:
    text = _part_text(addr, spot.part)
    changed = text[: spot.start] + new + text[spot.end :]
    if spot.part < 0:
        return _Address(changed, list(addr.labels), addr.has_at)
    labels = list(addr.labels)
    labels[spot.part] = changed
    return _Address(addr.local, labels, addr.has_at)


def _clauses(tokens: list[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for t in tokens:
        if t in BREAKS:
            if out[-1]:
                out.append([])
        else:
            out[-1].append(t)
    return [c for c in out if c]


def _has_spelling(tokens: list[str]) -> bool:
    return sum(1 for t in tokens if is_letter(t)) >= 2


def _clarify(addr: _Address, clause: list[str], threshold: float) -> _Address:
    """Apply "hansen is h a n s e n" or a spelled re-statement ("b r i g h t water")."""
    words = _strip_fillers(clause)
    for cue in ("is", "are", "spelled", "spelt", "that's", "as"):
        if cue in words:
            k = words.index(cue)
            target, spelled = _strip_fillers(words[:k]), _strip_fillers(words[k + 1 :])
            if target and spelled and _has_spelling(spelled):
                spot = _locate(addr, _join(target))
                new = _join(spelled)
                if spot and new and spot.similarity >= threshold:
                    return _replace(addr, spot, new)
                words = spelled
            break
    if not _has_spelling(words) or any(t in SEPARATORS or t in _AT for t in words):
        return addr
    fragment = _join(words)
    if len(fragment) < 3:
        return addr
    spot = _locate(addr, fragment)
    if spot and spot.similarity >= threshold:
        return _replace(addr, spot, fragment)
    return addr


def _apply_remarks(addr: _Address, remarks: list[str]) -> _Address:
    cue_before = False
    for clause in _clauses(remarks):
        if all(t in _CORRECTION_CUES or t in _FILLERS for t in clause):
            cue_before = cue_before or any(t in _CORRECTION_CUES for t in clause)
            continue
        cued, cue_before = cue_before, False
        if any(t in _AT for t in clause):
            if cued or any(t in _CORRECTION_CUES for t in clause[:3]):
                found = _find_address(clause)
                if found and found.address.local and len(found.address.labels) >= 2:
                    addr = found.address
            continue
        addr = _clarify(addr, clause, threshold=0.6)
    return addr


# ----------------------------------------------------------------------------- public API
def parse_spoken_email(text: str) -> EmailParse:
    """Best reading of an email address in one utterance; never raises."""
    if not isinstance(text, str) or not text.strip():
        return EmailParse("", False, "nothing heard")
    prepared = _prepare(text)
    found = _find_address(prepared.tokens)
    if found is None or not (found.address.local or found.address.labels):
        if _NO_EMAIL.search(text.lower().replace("\u2019", "'")):
            return EmailParse("", False, "caller has no email")
        return EmailParse("", False, "nothing email-like heard")
    addr = _apply_remarks(found.address, found.remarks)
    address = addr.text().lower()
    if not re.search(r"[a-z0-9]", address):
        return EmailParse("", False, "nothing email-like heard")
    if is_valid_email(address):
        return EmailParse(address, True, "")
    return EmailParse(address, False, _problem(address))


_DOMAIN_CUES = (("domain",), ("after", "the", "@"), ("after", "the", "at"), ("website",))
_LOCAL_CUES = (
    ("username",),
    ("user", "name"),
    ("first", "part"),
    ("before", "the", "@"),
    ("before", "the", "at"),
    ("local", "part"),
)


def _find_cue(tokens: list[str], cues: tuple[tuple[str, ...], ...]) -> int | None:
    for cue in cues:
        for i in range(len(tokens) - len(cue) + 1):
            if tuple(tokens[i : i + len(cue)]) == cue:
                return i + len(cue)
    return None


def _to_address(current: str) -> _Address | None:
    current = (current or "").strip().lower()
    if current.count("@") != 1:
        return None
    local, domain = current.split("@")
    return _Address(local, [lb for lb in domain.split(".") if lb])


def _replace_domain(addr: _Address, fragment_tokens: list[str]) -> _Address | None:
    groups = [g for g in _split_labels(_strip_fillers(fragment_tokens))]
    groups = [g for g in groups if g]
    if not groups:
        return None
    if len(groups) == 1:
        label = _join(groups[0])
        if not label:
            return None
        keep = addr.labels[-1:] if len(addr.labels) >= 2 else []
        return _Address(addr.local, [label, *keep])
    labels = [_join(g) for g in groups[:-1]]
    tld, _ = _take_tld(groups[-1])
    return _Address(addr.local, [*labels, tld])


def _tld_suffix_len(labels: list[str]) -> int:
    n = 0
    for lb in reversed(labels[1:]):
        if lb in KNOWN_TLDS:
            n += 1
        else:
            break
    return max(n, 1)


def _replace_suffix(addr: _Address, new_labels: list[str]) -> _Address:
    labels = list(addr.labels)
    cut = _tld_suffix_len(labels) if all(lb in KNOWN_TLDS for lb in new_labels) else len(new_labels)
    cut = min(cut, len(labels) - 1) if len(labels) > 1 else 0
    head = labels[: len(labels) - cut] if cut else labels
    return _Address(addr.local, [*head, *new_labels])


def _dotted_labels(tokens: list[str]) -> list[str]:
    groups = _split_labels(tokens)
    labels = [_join(g) for g in groups[:-1]]
    tld, _ = _take_tld(groups[-1]) if groups[-1] else ("", [])
    return [*labels, tld]


def _apply_fragment(addr: _Address, tokens: list[str], hints: list[_Hint]) -> _Address | None:
    """Apply one cleaned correction fragment to the part it is most similar to."""
    tokens = _strip_fillers(tokens, keep_dot=True)
    if not tokens:
        return _apply_global_hints(addr, hints)
    if any(t in _AT for t in tokens):
        at = next(i for i, t in enumerate(tokens) if t in _AT)
        local_t, domain_t = _strip_fillers(tokens[:at]), _strip_fillers(tokens[at + 1 :])
        result = addr
        if local_t:
            result = _Address(_join(local_t).strip("."), list(result.labels))
        if domain_t:
            replaced = _replace_domain(result, domain_t)
            if replaced is None:
                return None
            result = replaced
        return result if (local_t or domain_t) else None
    if "." in tokens:
        if tokens[0] == ".":
            new_labels = [lb for lb in _dotted_labels(tokens[1:]) if lb]
            return _replace_suffix(addr, new_labels) if new_labels else None
        labels = _dotted_labels(tokens)
        if labels[-1] in KNOWN_TLDS or (addr.labels and labels[-1] == addr.labels[-1]):
            k = len(labels)
            if k >= len(addr.labels):
                return _Address(addr.local, labels)
            return _Address(addr.local, addr.labels[: len(addr.labels) - k] + labels)
        as_local = _join(tokens)
        if edit_similarity(as_local, addr.local) >= 0.5:
            return _Address(as_local, list(addr.labels))
        return None
    fragment = _join(tokens)
    if len(fragment) < 3:
        return _apply_global_hints(addr, hints) if hints else None
    spot = _locate(addr, fragment)
    threshold = 0.55 if _has_spelling(tokens) else 0.65
    if spot is None or spot.similarity < threshold:
        return None
    return _replace(addr, spot, fragment)


def _apply_global_hints(addr: _Address, hints: list[_Hint]) -> _Address | None:
    """ "with two l's" alone: apply where exactly one word of the address would change."""
    if not hints:
        return None
    result = addr
    for hint in hints:
        options: list[tuple[int, int, int, str]] = []
        parts = [-1] + [i for i, lb in enumerate(result.labels[:-1]) if lb not in WELL_KNOWN_DOMAINS]
        for p in parts:
            text = _part_text(result, p)
            for m in re.finditer(r"[a-z]+", text):
                new = _hinted(m.group(0), hint)
                if new != m.group(0) and hint.kind not in ("end", "drop"):
                    options.append((p, m.start(), m.end(), new))
        if len(options) != 1:
            return None
        p, start, end, new = options[0]
        result = _replace(result, _Spot(1.0, p, start, end), new)
    return result


def _split_not(tokens: list[str]) -> tuple[list[str], list[str]] | None:
    """(new, old) from "dot net not dot com", "not smith, smyth", "x instead of y"."""
    if "instead" in tokens:
        k = tokens.index("instead")
        old = tokens[k + 2 :] if k + 1 < len(tokens) and tokens[k + 1] == "of" else tokens[k + 1 :]
        return tokens[:k], old
    if "not" not in tokens:
        return None
    k = tokens.index("not")
    before = _strip_fillers(tokens[:k], keep_dot=True)
    after = tokens[k + 1 :]
    if before:
        old = after
        for i, t in enumerate(after):
            if t in BREAKS:
                old = after[:i]
                break
        return before, _strip_fillers(old, keep_dot=True)
    for stop in (HARD_BREAK, SOFT_BREAK, "but", "it's", "its"):
        if stop in after:
            i = after.index(stop)
            return _strip_fillers(after[i + 1 :], keep_dot=True), _strip_fillers(after[:i], keep_dot=True)
    dots = [i for i, t in enumerate(after) if t == "." and i > 0]
    if after and after[0] == "." and dots:
        # "not dot com dot net": the old suffix is the first dotted label
        return after[dots[0] :], after[: dots[0]]
    return None


def apply_email_correction(current: str, text: str) -> str | None:
    """The corrected address after the caller's correction, or None when nothing usable was said."""
    if not isinstance(text, str) or not text.strip():
        return None
    prepared = _prepare(text)
    tokens = prepared.tokens
    loose_hints = [prepared.hints[t] for t in tokens if t in prepared.hints]
    tokens = [t for t in tokens if t not in prepared.hints]
    found = _find_address(tokens)
    if found and found.address.local and len(found.address.labels) >= 2 and found.address.has_at:
        whole = _apply_remarks(found.address, found.remarks).text()
        return whole if is_valid_email(whole) else None
    addr = _to_address(current)
    if addr is None:
        return None
    result = _correct(addr, tokens, loose_hints)
    if result is None:
        return None
    address = result.text().lower()
    return address if is_valid_email(address) else None


def _correct(addr: _Address, tokens: list[str], hints: list[_Hint]) -> _Address | None:
    cue_end = _find_cue(tokens, _DOMAIN_CUES)
    if cue_end is not None:
        return _replace_domain(addr, [t for t in tokens[cue_end:] if t not in BREAKS])
    cue_end = _find_cue(tokens, _LOCAL_CUES)
    if cue_end is not None:
        local = _join(_strip_fillers([t for t in tokens[cue_end:] if t not in BREAKS])).strip(".")
        return _Address(local, list(addr.labels)) if local else None
    pair = _split_not(tokens)
    if pair is not None:
        new, old = pair
        if new:
            if old and old[0] == "." and new[0] == ".":
                olds = [lb for lb in _dotted_labels(old[1:]) if lb]
                if olds and addr.labels[-len(olds) :] == olds:
                    news = [lb for lb in _dotted_labels(new[1:]) if lb]
                    return _Address(addr.local, addr.labels[: -len(olds)] + news) if news else None
            if old and "." not in old and "." not in new:
                spot = _locate(addr, _join(old))
                if spot and spot.similarity >= 0.6:
                    return _replace(addr, spot, _join(new))
            return _apply_fragment(addr, new, hints)
    result: _Address | None = None
    for clause in _clauses(tokens):
        words = _strip_fillers(clause, keep_dot=True)
        if not words:
            continue
        clarified = _clarify_strict(result or addr, words)
        if clarified is not None:
            result = clarified
            continue
        applied = _apply_fragment(result or addr, words, hints)
        if applied is not None:
            result = applied
    if result is None and hints:
        result = _apply_global_hints(addr, hints)
    return result


def _clarify_strict(addr: _Address, words: list[str]) -> _Address | None:
    """ "kessler is k e double s l e r": the word names the spot, the spelling replaces it."""
    for cue in ("is", "are", "spelled", "spelt", "should"):
        if cue in words:
            k = words.index(cue)
            target = _strip_fillers(words[:k])
            new = _strip_fillers(words[k + 1 :])
            if not target or not new or any(t in _AT or t in SEPARATORS for t in target + new):
                return None
            spot = _locate(addr, _join(target))
            if spot and spot.similarity >= 0.6:
                return _replace(addr, spot, _join(new))
            return None
    return None


# ----------------------------------------------------------------------------- read-back
_SEP_SPOKEN = {".": "dot", "_": "underscore", "-": "dash", "+": "plus"}


def _spell(chunk: str) -> str:
    return " ".join(chunk)


def _spell_local(local: str) -> list[str]:
    out: list[str] = []
    for m in re.finditer(r"[a-z]+|[0-9]+|[._+-]|[^a-z0-9._+-]+", local):
        piece = m.group(0)
        if piece in _SEP_SPOKEN:
            out.append(_SEP_SPOKEN[piece])
        else:
            out.append(_spell(piece))
    return out


def spell_for_readback(address: str) -> str:
    """What the agent says to confirm an address, with commas for pauses.

    "marcus.bell@trailheadlogistics.com" -> "m a r c u s, dot, b e l l, at,
    t r a i l h e a d l o g i s t i c s, dot com"; "jo23@gmail.com" -> "j o, 2 3, at, gmail dot com".
    """
    address = (address or "").strip().lower()
    if not address:
        return ""
    local, at, domain = address.partition("@")
    parts = _spell_local(local)
    if not at:
        return ", ".join(parts)
    parts.append("at")
    labels = [lb for lb in domain.split(".") if lb]
    if not labels:
        return ", ".join(parts)
    tld_start = len(labels) - _tld_suffix_len(labels) if len(labels) > 1 else len(labels)
    names, tlds = labels[:tld_start], labels[tld_start:]
    spoken_tld = " ".join(
        f"dot {lb}" if lb in COMMON_TLDS or len(lb) > 3 else f"dot {_spell(lb)}" for lb in tlds
    )
    if names and all(lb in WELL_KNOWN_DOMAINS for lb in names):
        parts.append(" dot ".join(names) + (f" {spoken_tld}" if spoken_tld else ""))
        return ", ".join(parts)
    for i, lb in enumerate(names):
        if i:
            parts.append("dot")
        if lb in WELL_KNOWN_DOMAINS:
            parts.append(lb)
        else:
            parts.extend(_spell_local(lb))
    if spoken_tld:
        parts.append(spoken_tld)
    return ", ".join(parts)
