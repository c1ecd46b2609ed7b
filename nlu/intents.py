"""Caller intents that a rule decides better than a model: yes/no, small talk, a request for a
person, anger or a legal threat, "that solved it", "that didn't help", "nothing else",
"repeat that", "hold on", and a change of topic.

The input is speech-to-text output: lower or mixed case, little punctuation, fillers ("um",
"uh", "like"), run-on sentences. Rules work on word sequences with word boundaries, so "no"
never matches inside "know" and "agent" in "one of my agents" is not a request for a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.text_norm import STOPWORDS

_WORD = re.compile(r"[a-z0-9']+")
_FILLERS = {
    "um",
    "uh",
    "erm",
    "er",
    "hmm",
    "mm",
    "ah",
    "oh",
    "like",
    "so",
    "well",
    "okay",
    "ok",
    "yeah",
    "hi",
}


def words(text: str) -> list[str]:
    t = text.lower().replace("’", "'").replace("‘", "'")
    return _WORD.findall(t)


def norm(text: str) -> str:
    """Lower-case words separated by single spaces, padded with spaces for phrase search."""
    return " " + " ".join(words(text)) + " "


def _has(n: str, phrases: tuple[str, ...]) -> bool:
    return any(f" {p} " in n for p in phrases)


def _rx(n: str, patterns: tuple[re.Pattern[str], ...]) -> bool:
    return any(p.search(n) for p in patterns)


# --------------------------------------------------------------------------- person / anger / legal
_PERSON_NOUN = r"(?:a |an |the |some |your |real |actual |live )*(?:person|human|humans|agent|someone|somebody|representative|rep|manager|supervisor|operator|staff|team member|people|human being|real person|live agent|actual person|someone senior|somebody senior)"
_PERSON_PATTERNS = (
    re.compile(rf" (?:talk|speak|speaking|talking) (?:to|with) {_PERSON_NOUN} "),
    re.compile(r" (?:put|transfer|connect|pass) me (?:through |over )?(?:to|with) "),
    re.compile(r" (?:transfer|connect) me "),
    re.compile(
        r" (?:get|give|find) me (?:a |an |the |your )?(?:person|human|agent|manager|supervisor|someone|somebody|representative|operator) "
    ),
    re.compile(
        r" (?:have|get|can|could|would|will|need|want) (?:\w+ ){0,2}(?:someone|somebody|a person|a human|an agent|a manager|your team|someone senior|somebody senior)\b"
    ),
    re.compile(
        r" (?:someone|somebody)(?: \w+){0,3} (?:call|ring|email|contact|get back to|get in touch|be in touch|reach out to|reach me|look into|look at|help) "
    ),
    re.compile(r" call me back "),
    # "can you just unlock it for her": an action on the account, which the agent cannot do
    re.compile(
        r" (?:can|could|would|will) you (?:just |please )?(?:unlock|refund|credit|waive|restore|recover|reactivate|"
        r"fix|delete) (?:\w+ ){0,4}for (?:me|her|him|us|them) "
    ),
    # "please have billing look at it": a team named instead of a person
    re.compile(
        r" (?:have|get|ask) (?:your |the |a |an |someone from |somebody from )?(?:billing|support|tech support|"
        r"technical support|finance|accounts|accounting|sales|engineering|engineers?|developers?|specialists?|"
        r"technicians?|it)(?: team| department| people| guys| folks)? (?:to )?(?:look|check|call|contact|email|"
        r"review|reach|get back|fix|sort|handle|investigate) "
    ),
    re.compile(r" (?:is there|there is) (?:like )?(?:a |an )?(?:human|person|real person|agent|someone) "),
    re.compile(
        r" (?:want|need|like) (?:a |an )?(?:human|person|real person|agent|manager|supervisor|representative) "
    ),
    re.compile(r" (?:escalate|escalated|escalation) "),
    # asked for ("please open a ticket", "can you create a case"), not described ("every time I
    # open a ticket with an attachment")
    re.compile(
        r"(?:^ (?:(?:yes|yeah|yep|okay|ok|so|then|um|uh|sure|fine|alright) )*|(?:can|could|would|will) you "
        r"(?:just |please )?|please |(?:i|we) (?:want|need|would like|'d like|d like) (?:you )?to |(?:want|need) "
        r"you to |go ahead and |just |let's |lets )(?:open|create|file|raise|log|make|submit|put in) "
        r"(?:a |an |the )?(?:support |new )?(?:ticket|case|complaint|request) "
    ),
    re.compile(r" (?:a |the )?ticket(?:'s| is) fine "),
    re.compile(r" (?:formal complaint|file a complaint|make a complaint) "),
    re.compile(r" (?:representative|operator|agent) (?:representative|operator|agent) "),
    # the whole turn is the request: "operator", "a human please", "customer service"
    re.compile(
        r"^ (?:(?:um|uh|hi|hello|yeah|yes|okay|ok) )*(?:an? |the |a real |a live )?(?:operator|representative|agent|"
        r"human|person|customer service|customer support)(?: please)?(?: now)? $"
    ),
    re.compile(r" not (?:\w+ ){0,4}(?:to|with) a (?:robot|machine|bot|computer) "),
    re.compile(
        r" (?:data protection officer|account manager|legal department|billing department|your billing team) "
    ),
)
_ANGER = (
    "furious",
    "angry",
    "livid",
    "outraged",
    "ridiculous",
    "unacceptable",
    "disgusting",
    "pathetic",
    "useless",
    "terrible service",
    "awful service",
    "fed up",
    "sick of",
    "sick and tired",
    "waste of time",
    "fraud",
    "scam",
    "rip off",
    "ripoff",
    "third time",
    "fourth time",
    "right now",
    "posting about this",
    "reporting you",
    "report you",
    "cancelling and",
    "canceling and",
    "not explaining",
    "damn",
    "hell",
    "crap",
    "bloody",
    "wtf",
    "this is really hurting",
    "really hurting us",
    "losing customers",
)
_LEGAL = (
    "lawyer",
    "lawyers",
    "attorney",
    "attorneys",
    "legal action",
    "sue",
    "suing",
    "lawsuit",
    "in court",
    "to court",
    "breach of contract",
    "small claims",
    "solicitor",
    "solicitors",
)
# "our legal team needs a signed DPA" is a request; these make the legal team a threat
_LEGAL_THREAT = (
    re.compile(r" (?:hear|hearing) from (?:our|my) legal "),
    re.compile(r" (?:get|getting|bring|bringing) (?:our|my) legal (?:team|department|people) involved "),
    re.compile(r" (?:involve|involving) (?:our|my) legal "),
    re.compile(
        r" (?:our|my) legal (?:team|department|people) (?:will|is going to|are going to) (?:contact|be in touch|call|sue) "
    ),
    re.compile(r" (?:passing|pass|handing|hand|sending|send) (?:this|it) (?:on |over )?to (?:our|my) legal "),
)


@dataclass(frozen=True)
class Escalation:
    reason: str  # "person" | "anger" | "legal"


def wants_escalation(text: str) -> Escalation | None:
    """A request for a person, anger, or a legal threat; None otherwise. Legal wins over anger."""
    n = norm(text)
    if _has(n, _LEGAL) or _rx(n, _LEGAL_THREAT):
        return Escalation("legal")
    angry = _has(n, _ANGER)
    asked = _IDENTITY_ASKED.sub("", n)  # "am I talking to a real person?" asks, it does not request
    person = _rx(asked, _PERSON_PATTERNS)
    if angry and person:
        return Escalation("anger")
    if person:
        return Escalation("person")
    if angry and _has(
        n,
        (
            "furious",
            "fraud",
            "scam",
            "outraged",
            "livid",
            "fed up",
            "sick of",
            "third time",
            "reporting you",
            "report you",
            "posting about this",
        ),
    ):
        return Escalation("anger")
    return None


def is_angry(text: str) -> bool:
    n = norm(text)
    return _has(n, _ANGER) or _has(n, _LEGAL) or _rx(n, _LEGAL_THREAT)


# --------------------------------------------------------------------------- yes / no
_YES = (
    "yes",
    "yeah",
    "yep",
    "yup",
    "ya",
    "yah",
    "correct",
    "that's correct",
    "that is correct",
    "right",
    "that's right",
    "that is right",
    "sure",
    "exactly",
    "absolutely",
    "definitely",
    "affirmative",
    "of course",
    "uh huh",
    "mhm",
    "that's it",
    "yes it is",
    "it is",
    "sounds good",
    "perfect",
    "spot on",
    "you got it",
    "that's the one",
    "please do",
    "yes please",
    "go ahead",
    "okay",
    "ok",
    "alright",
    "all right",
    "correct now",
    "that's fine",
    "fine",
    "good",
)
_NO = (
    "no",
    "nope",
    "nah",
    "not really",
    "not quite",
    "incorrect",
    "wrong",
    "that's wrong",
    "that's not right",
    "that is not right",
    "not right",
    "negative",
    "not correct",
    "that's not it",
    "no it's not",
    "no it isn't",
    "isn't",
    "not that",
)


def yes_no(text: str) -> str | None:
    """'yes', 'no' or None, from the start of the answer (callers lead with it)."""
    if norm(text).startswith((" uh huh ", " mm hmm ", " mhm ")):
        return "yes"
    ws = [w for w in words(text) if w not in {"um", "uh", "erm", "er", "hmm", "oh", "well", "so", "ah"}]
    if not ws:
        return None
    head = " " + " ".join(ws[:4]) + " "
    first = ws[0]
    if first in {"no", "nope", "nah", "incorrect", "wrong", "negative"}:
        return "no"
    if _has(
        head,
        (
            "not really",
            "not quite",
            "that's not",
            "that is not",
            "not right",
            "not correct",
            "it's not",
            "it isn't",
        ),
    ):
        return "no"
    if first in {
        "yes",
        "yeah",
        "yep",
        "yup",
        "ya",
        "yah",
        "correct",
        "right",
        "exactly",
        "absolutely",
        "sure",
        "definitely",
        "perfect",
        "affirmative",
        "mhm",
    }:
        return "yes"
    if _has(
        head,
        (
            "that's right",
            "that is right",
            "that's correct",
            "that is correct",
            "uh huh",
            "of course",
            "sounds good",
            "that's it",
            "you got it",
            "spot on",
            "correct now",
            "that's the one",
        ),
    ):
        return "yes"
    if len(ws) <= 3 and first in {"okay", "ok", "alright", "fine", "good", "great"}:
        return "yes"
    return None


# --------------------------------------------------------------------------- solved / not helped
_SOLVED = (
    "thank you",
    "thanks",
    "that worked",
    "it worked",
    "that works",
    "it works",
    "works now",
    "working now",
    "that fixed it",
    "fixed it",
    "that's fixed",
    "that did it",
    "that did the trick",
    "that solved it",
    "solved",
    "i'm in",
    "im in",
    "we're in",
    "i got in",
    "makes sense",
    "that makes sense",
    "clears it up",
    "cleared it up",
    "that answers it",
    "answers my question",
    "exactly what i needed",
    "exactly what we needed",
    "all i needed",
    "that's all i needed",
    "that helps",
    "that helped",
    "helpful",
    "perfect",
    "awesome",
    "great",
    "brilliant",
    "excellent",
    "wonderful",
    "fantastic",
    "got it",
    "running clean",
    "we're back",
    "it's gone",
    "banner's gone",
    "that's it",
    "that was it",
    "sorted",
    "all good",
    "all set",
)
_NOT_HELPED = (
    "didn't help",
    "did not help",
    "doesn't help",
    "does not help",
    "didn't work",
    "did not work",
    "doesn't work",
    "does not work",
    "not working",
    "still not",
    "still the same",
    "still failing",
    "still broken",
    "still blank",
    "still doesn't",
    "still does not",
    "still can't",
    "still cannot",
    "still isn't",
    "still empty",
    "still getting",
    "still happening",
    "same error",
    "same problem",
    "no luck",
    "no change",
    "tried that",
    "tried it",
    "tried all",
    "already tried",
    "already did",
    "already done",
    "already checked",
    "already uploaded",
    "gone through all",
    "done all of that",
    "that's not it",
    "not what i asked",
    "not what i meant",
    "don't mean",
    "didn't mean",
    "not my question",
    "that's not my",
    "i don't want an article",
    "not helpful",
    "that doesn't answer",
    "doesn't answer",
    "broken on your side",
    "on your end",
    "something's broken",
    "something is broken",
    "nothing shows up",
    "nothing in there",
    "still nothing",
    "nothing happened",
    "nothing happens",
    "nothing's happening",
    "nothing is happening",
    "still the same thing",
    "same thing happens",
)


def sounds_solved(text: str) -> bool:
    n = norm(text)
    if sounds_not_helped(text):
        return False
    if _has(n, ("not working", "doesn't work", "didn't work", "can't", "cannot", "won't", "isn't", "still")):
        return False
    return _has(n, _SOLVED)


def sounds_not_helped(text: str) -> bool:
    return _has(norm(text), _NOT_HELPED)


# --------------------------------------------------------------------------- small talk
_GREETING = (
    "hi",
    "hello",
    "hey",
    "hiya",
    "good morning",
    "good afternoon",
    "good evening",
    "hi there",
    "hello there",
    "howdy",
)
_HEARING = (
    "can you hear me",
    "are you there",
    "you there",
    "is anyone there",
    "is somebody there",
    "hello hello",
    "can you hear",
    "do you hear me",
    "is this working",
    "anybody there",
    "anyone there",
)
_HOLD = (
    "hold on",
    "hang on",
    "one sec",
    "one second",
    "a sec",
    "a second",
    "just a sec",
    "just a second",
    "one moment",
    "a moment",
    "just a minute",
    "a minute",
    "give me a second",
    "give me a sec",
    "bear with me",
    "wait",
    "let me grab",
    "let me check",
    "let me look",
    "let me find",
    "let me pull",
    "let me see",
    "pull over",
    "sorry my",
    "i'm driving",
    "just a moment",
    "hold please",
    "one minute",
)
_THANKS = ("thanks", "thank you", "cheers", "thanks so much", "thank you so much", "much appreciated")
_BYE = (
    "bye",
    "goodbye",
    "good bye",
    "bye bye",
    "see you",
    "have a good day",
    "have a nice day",
    "take care",
    "talk later",
)
_HOW_ARE_YOU = ("how are you", "how's it going", "how are you doing", "how you doing")
_IDENTITY_WORDS = frozenset(
    {"robot", "bot", "machine", "computer", "recording", "ai", "real", "person", "human", "automated", "or"}
)
# "am I talking to a robot?": a question about the agent, not a request for a person
_IDENTITY = tuple(
    f"{lead} {what}"
    for lead in ("are you", "am i talking to", "am i speaking to", "am i speaking with", "is this", "is that")
    for what in (
        "a robot", "a bot", "a machine", "a computer", "a recording", "an ai", "ai", "a real person",
        "a person", "a human", "human", "real", "automated", "a chatbot",
    )
)  # fmt: skip
# each phrase with the space before it; the space after it stays, so words keep one space between
_IDENTITY_ASKED = re.compile(" (?:" + "|".join(re.escape(p) for p in _IDENTITY) + ")(?= )")
_REPEAT = (
    "say that again",
    "repeat that",
    "repeat the",
    "can you repeat",
    "could you repeat",
    "come again",
    "pardon",
    "didn't catch",
    "did not catch",
    "didn't get that",
    "one more time",
    "say it again",
    "go over that again",
    "go through that again",
    "sorry what",
    "what was that",
    "repeat",
    "the steps again",
    "read that again",
    "slow down",
    "slower",
    "too fast",
)
_MORE = (
    "tell me more",
    "more detail",
    "more details",
    "what else",
    "go on",
    "and then",
    "what's next",
    "what next",
    "next step",
    "then what",
    "what do i do next",
    "keep going",
)
_DONE = (
    "that's all",
    "that is all",
    "that's it",
    "that's everything",
    "nothing else",
    "no that's it",
    "no that's all",
    "nope that's it",
    "i'm good",
    "i'm all good",
    "we're good",
    "no thanks",
    "no thank you",
    "that'll be all",
    "that will be all",
    "all set",
    "no more",
    "nothing more",
    "i think that's it",
    "that's about it",
)
_TOPIC_CHANGE = (
    "another question",
    "different question",
    "other question",
    "something else",
    "one more thing",
    "another thing",
    "also wanted",
    "also have",
    "never mind",
    "nevermind",
    "forget the",
    "forget that",
    "forget about",
    "scratch that",
    "actually",
    "while i have you",
    "separate question",
    "unrelated",
    "on another note",
    "something different",
    "instead",
)


@dataclass(frozen=True)
class SmallTalk:
    kind: str  # "greeting" | "hearing_check" | "hold" | "thanks" | "goodbye" | "how_are_you" | "identity" | "filler"


def _content_words(text: str, phrase_sets: tuple[tuple[str, ...], ...]) -> list[str]:
    n = norm(text)
    for phrases in phrase_sets:
        for p in sorted(phrases, key=len, reverse=True):
            n = n.replace(f" {p} ", " ")
            n = n.replace(f" {p} ", " ")
    extra = {
        "sorry",
        "yes",
        "please",
        "just",
        "me",
        "i'm",
        "im",
        "calling",
        "about",
        "a",
        "the",
        "my",
        "let",
        "so",
        "much",
        "you",
        "too",
        "again",
        "there",
        "it",
        "is",
        "are",
        "and",
        "going",
        "crazy",
        "dog",
        "grab",
        "laptop",
        "second",
        "sec",
        "minute",
        "moment",
        "to",
        "for",
        "with",
        "on",
        "mute",
        "was",
        "i",
        "morning",
        "afternoon",
        "evening",
        "good",
        "great",
        "fine",
        "alright",
        "all",
        "right",
        "this",
    }
    return [w for w in n.split() if w not in _FILLERS and w not in extra]


def smalltalk(text: str) -> SmallTalk | None:
    """Small talk that carries no question: greetings, hearing checks, hold requests, thanks, goodbyes."""
    n = norm(text)
    ws = words(text)
    if not ws:
        return None
    sets = (_HEARING, _HOLD, _HOW_ARE_YOU, _THANKS, _BYE, _GREETING, _IDENTITY)
    leftover = _content_words(text, sets)
    has_content = len(leftover) > 1 or (len(leftover) == 1 and len(ws) <= 2 and leftover[0] not in _FILLERS)
    short_hold = _has(n, _HOLD) and len(leftover) <= 4 and not _looks_like_question(text)
    if _has(n, _IDENTITY) and all(w in _IDENTITY_WORDS for w in leftover):
        return SmallTalk("identity")  # "is this a real person or a bot?"
    if has_content and not short_hold:
        return None  # more than a word of real content: a question, not small talk
    if _has(n, _IDENTITY):
        return SmallTalk("identity")
    if _has(n, _HEARING):
        return SmallTalk("hearing_check")
    if _has(n, _HOLD):
        return SmallTalk("hold")
    if _has(n, _BYE):
        return SmallTalk("goodbye")
    if _has(n, _THANKS):
        return SmallTalk("thanks")
    if _has(n, _HOW_ARE_YOU):
        return SmallTalk("how_are_you")
    if _has(n, _GREETING):
        return SmallTalk("greeting")
    if all(w in _FILLERS or w in {"sorry", "mm", "hmm"} for w in ws) and not {
        "yes",
        "yep",
        "yup",
        "correct",
        "right",
        "sure",
    } & set(ws):
        return SmallTalk("filler")
    return None


_REDIRECT = (
    re.compile(
        r" (?:it's|it is|its) (?:about |for )?(?:the|my|our|their) (?P<s>(?:[\w']+ ){1,5}?)(?:that )?"
        r"(?:(?:i|we) (?:need|want|mean|meant)|(?:i'm|i am|i was|we're|we are) (?:asking|talking) about) "
    ),
    re.compile(
        r" (?:i'm|i am|i was|we're|we are) (?:asking|talking) about (?:the |my |our )(?P<s>(?:[\w']+ ){1,5})$"
    ),
)


def redirected(text: str) -> str | None:
    """ "shopify's already hooked up, it's the etsy shop I need": what the caller needs instead of
    what the agent answered, or None."""
    n = norm(text)
    for pattern in _REDIRECT:
        m = pattern.search(n)
        if m and substance(m.group("s")) >= 1:
            return m.group("s").strip()
    return None


_FOUND_IT = ("there it is", "found it", "i see it", "here it is", "i've got it up", "got it up")


def found_it(text: str) -> bool:
    """ "yep, there it is": what the caller was looking for has appeared (progress, not a question)."""
    return _has(norm(text), _FOUND_IT)


def checks_hearing(text: str) -> str | None:
    """ "can you hear me okay, I'm in the warehouse": the text besides the hearing check, or None when
    the caller does not ask whether they are heard."""
    n = norm(text)
    for phrase in sorted(_HEARING, key=len, reverse=True):
        if f" {phrase} " in n:
            return " ".join(n.replace(f" {phrase} ", " ").split())
    return None


_HOLD_TAIL = frozenset(
    ["one", "a", "sec", "second", "minute", "moment", "please", "for", "me", "just", "real", "quick"]
)


def holds_at_end(text: str) -> bool:
    """ "I was gonna ask about connecting our accounting stuff, but hold on one second": the caller
    steps away at the end of the turn, whatever came before."""
    ws = norm(text).split()
    for phrase in (
        "hold on",
        "hang on",
        "bear with me",
        "give me a second",
        "give me a sec",
        "one sec",
        "one second",
    ):
        p = phrase.split()
        for i in range(len(ws) - len(p), -1, -1):
            if ws[i : i + len(p)] == p:
                return all(w in _HOLD_TAIL for w in ws[i + len(p) :])
    return False


def wants_hold(text: str) -> bool:
    n = norm(text)
    return _has(n, _HOLD) and not _looks_like_question(text)


def wants_repeat(text: str) -> bool:
    return _has(norm(text), _REPEAT)


_SLOWER = re.compile(
    r"\b(?:slow(?:er)? down|(?:speak|talk|go|say it|read it|read that)(?: a (?:bit|little))? (?:more )?slow(?:er|ly)"
    r"|(?:way |a (?:bit|little) |much )?too (?:fast|quick(?:ly)?)|so fast|slower please|more slowly)\b"
)


def wants_slower(text: str) -> bool:
    """The caller asks the agent to speak more slowly ("slow down", "you're talking too fast")."""
    return bool(_SLOWER.search(norm(text)))


_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "6th": 6,
    "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6,
}  # fmt: skip
_STEP_ASKED = re.compile(
    r"\b(?:(?P<ord>first|second|third|fourth|fifth|sixth|1st|2nd|3rd|4th|5th|6th|last) step"
    r"|step (?:number )?(?P<num>one|two|three|four|five|six|[1-6]))\b"
)


def step_asked(text: str) -> int | None:
    """Which step of the steps the caller asks about: "what was the second step" -> 2,
    "step three again?" -> 3, "the last step" -> -1; None when no step is named."""
    m = _STEP_ASKED.search(norm(text))
    if m is None:
        return None
    word = m.group("ord") or m.group("num")
    return -1 if word == "last" else _ORDINALS[word]


_SEND_ARTICLE = re.compile(
    r"\b(?:e-?mail|send|text|forward) (?:me|us) (?:a |the )?(?:link|article|steps|instructions|page|that|this|it)\b"
)


def wants_article_sent(text: str) -> bool:
    """ "Can you email me that article?", "send me the link": the caller wants the answer in writing."""
    return bool(_SEND_ARTICLE.search(norm(text)))


def wants_more(text: str) -> bool:
    return _has(norm(text), _MORE)


# what may follow "that's all" when it closes the call ("that's all, thanks", "that's all I needed"),
# unlike "that's all filled in" or "that's it, the second step"
_DONE_FOLLOWERS = frozenset(
    {
        "thanks",
        "thank",
        "bye",
        "goodbye",
        "cheers",
        "for",
        "i",
        "we",
        "then",
        "really",
        "from",
        "have",
        "ok",
        "okay",
    }
)


def _says_done(n: str) -> bool:
    for phrase in _DONE:
        start = n.find(f" {phrase} ")
        while start >= 0:
            after = n[start + len(phrase) + 2 :].split()
            if not after or after[0] in _DONE_FOLLOWERS or after[0] in _FILLERS:
                return True
            start = n.find(f" {phrase} ", start + 1)
    return False


def nothing_else(text: str) -> bool:
    n = norm(text)
    if _says_done(n) or _has(n, _BYE):
        return True
    ws = [w for w in words(text) if w not in _FILLERS]
    return bool(ws) and ws[0] in {"no", "nope", "nah"} and len(ws) <= 4 and not _looks_like_question(text)


# the caller is about to hang up: "I have to go", "gotta run", "I'll call back later"
_GOING = re.compile(
    r" (?:(?:i|we)(?:'ve| have)? (?:got|have|need) to|(?:i|we) (?:gotta|must)|gotta) (?:go|run|head off|hop off)(?= )(?! (?:to|into|in|through|over|and|back|check|look|find|see|get) )"
    r"| (?:i|we)(?:'ll| will) (?:call|ring|phone) (?:you )?back(?= )"
    r"| (?:i|we)(?:'ll| will) (?:call|ring|try)(?: you| it)?(?: again)? (?:later|another day|another time|tomorrow)(?= )"
)


def leaving(text: str) -> bool:
    """The caller is ending the call: a goodbye ("bye", "talk later"), "I have to go", "I'll call
    back later"; not a question ("can I call back later?")."""
    n = norm(text)
    return (_has(n, _BYE) or _GOING.search(n) is not None) and not _looks_like_question(text)


def without_leaving(text: str) -> str:
    """The words of `text` without its goodbye phrases ("gotta run, talk later" -> "")."""
    n = _GOING.sub(" ", norm(text))
    for phrase in sorted(_BYE, key=len, reverse=True):
        n = n.replace(f" {phrase} ", " ")
    return n.strip()


# the caller says what they will do next: "okay I'll try that tomorrow", "we'll get IT to do it"
_PLAN = re.compile(
    r"^(?:(?:ok|okay|alright|all right|right|great|perfect|sure|cool|got it|thanks|thank you|so|well|yeah|yes) )*"
    r"(?:i|we)(?:'ll| will| am going to|'m going to|'re going to| are going to|'m gonna| gonna) (?!be )"
)
_ASKS = re.compile(
    r"\b(?:need|needs|want|wants|how|why|what|help|problem|issue|question|not|never|but|still|"
    r"can't|won't|doesn't|don't|isn't|didn't|wasn't|wrong|broken|errors?|fail\w*|missing|stuck|locked|charged)\b"
)


def announces_plan(text: str) -> bool:
    """The caller only says what they will do next ("alright, I'll get our IT person to put them
    in"): no request, no problem, not a question."""
    n = " ".join(words(text))
    return bool(_PLAN.match(n)) and not _ASKS.search(n) and not _looks_like_question(text)


def topic_change_marker(text: str) -> bool:
    return _has(norm(text), _TOPIC_CHANGE)


# the caller sets the current subject aside ("actually" or "instead" may still be about it)
_NEW_SUBJECT = tuple(p for p in _TOPIC_CHANGE if p not in ("actually", "also wanted", "also have", "instead"))


def new_subject(text: str) -> bool:
    """ "never mind that", "another question", "while I have you": what follows is a new subject."""
    return _has(norm(text), _NEW_SUBJECT)


_QUESTION_STARTS = (
    "how",
    "what",
    "where",
    "when",
    "why",
    "which",
    "who",
    "can",
    "could",
    "would",
    "will",
    "is",
    "are",
    "do",
    "does",
    "did",
    "should",
    "may",
    "has",
    "have",
    "am",
    "whats",
    "what's",
    "wheres",
    "where's",
    "hows",
    "how's",
)


_SUBJECTS = frozenset({"i", "you", "we", "they", "he", "she", "it", "that", "this", "there"})


def _declarative_before(head: str, phrase: str) -> bool:
    """ "you are there", "it is it": a subject before the verb makes a statement, not a question."""
    before = head.split(f" {phrase} ", 1)[0].split()
    return bool(before) and before[-1] in _SUBJECTS


# words a caller puts in front of a question: "wait, what was the second step"
_LEAD_INS = frozenset({"wait", "sorry", "okay", "ok", "so", "right", "alright", "hang", "hold", "on", "well"})


def _looks_like_question(text: str) -> bool:
    if "?" in text:
        return True
    ws = [w for w in words(text) if w not in _FILLERS and w not in {"and", "but", "then", "also", "um"}]
    while len(ws) > 1 and ws[0] in _LEAD_INS:
        ws = ws[1:]
    if not ws:
        return False
    if ws[0] in _QUESTION_STARTS:
        return True
    head = " " + " ".join(ws[:3]) + " "
    starts = (
        "is it",
        "can i",
        "can we",
        "can you",
        "do i",
        "do we",
        "does it",
        "will it",
        "is there",
        "are there",
        "could i",
        "could we",
        "should i",
        "should we",
    )
    if any(f" {p} " in head and not _declarative_before(head, p) for p in starts):
        return True
    n = " " + " ".join(ws) + " "
    anywhere = (
        "how do i",
        "how do we",
        "how can i",
        "how can we",
        "is there a way",
        "is there any",
        "what about",
        "what happens",
        "how long",
        "how many",
        "how much",
        "i want to know",
        "i need to know",
        "wondering",
        "any way to",
        "anyway to",
        "do i need",
        "do we need",
        "can it",
    )
    return _has(n, anywhere)


_NO_SUBSTANCE = frozenset(
    {
        "sorry",
        "mute",
        "unmute",
        "muted",
        "hear",
        "hello",
        "thanks",
        "thank",
        "okay",
        "yeah",
        "yes",
        "sure",
        "just",
        "moment",
        "second",
        "sec",
    }
)


def content_words(text: str) -> set[str]:
    """The words that carry content (not fillers, function words or apologies)."""
    return {
        w
        for w in words(text)
        if len(w) > 2 and w not in _FILLERS and w not in STOPWORDS and w not in _NO_SUBSTANCE
    }


def substance(text: str) -> int:
    """How many words carry content: "oh sorry sorry I was on mute" has none, "invoices" one, "the
    billing page shows an error" three."""
    return len(content_words(text))


def looks_like_question(text: str) -> bool:
    """The caller asks something (question words, '?', "is there a way", "I want to know")."""
    return _looks_like_question(text)


_ENGLISH_FUNCTION_WORDS = frozenset(
    [
        "a", "an", "the", "i", "you", "we", "it", "my", "our", "your", "me", "is", "are", "was", "be",
        "to", "of", "in", "on", "for", "with", "and", "or", "but", "not", "can", "how", "do", "does", "what",
        "why", "where", "this", "that", "have", "has", "get", "help", "hi", "hello", "yes", "no", "please",
    ]
)  # fmt: skip


def not_english(text: str) -> bool:
    """Three or more words and not one English function word ("hola, necesito ayuda con mi
    contraseña"): the caller is speaking another language, or STT heard noise as words."""
    ws = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", (text or "").lower())  # letters of any alphabet
    return len(ws) >= 3 and not any(w in _ENGLISH_FUNCTION_WORDS for w in ws)


def is_gibberish(text: str) -> bool:
    """Nothing usable: empty, symbols only, or no alphabetic word of two or more letters."""
    ws = words(text)
    return not any(len(w) >= 2 and re.search(r"[a-z]", w) for w in ws)
