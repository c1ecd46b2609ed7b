"""`Dialogue`: one call's conversation as a pure state machine. Events in, actions out.

No I/O, no sleeping, no clock: every event carries `at` (seconds since the call started).
The knowledge base is reached through the small `KnowledgeBase` protocol (decide, spoken
answer, follow-up), so the same dialogue runs in the terminal (`chat`), in text evaluation,
and in a live call.

Flows (the product brief): greeting; KB answer -> "Does that solve your issue?" -> anything
else -> email -> goodbye (case resolved); follow-up questions answered from the same article;
clarification between two close articles; escalation on no answer, "that didn't help", a
request for a person, anger, a legal threat, DTMF 0 or an engine error -> name, email (and
phone when the caller id is withheld) -> transfer or goodbye (case escalated); small talk;
silence re-prompted twice then closed; topic changes; and exactly one case per call.

Callers often go on describing the problem after the agent said it would pass it on ("it's
under billing, I'm the owner..."): while the details are being captured after a no-answer
escalation, a turn that is not the detail asked for is searched again, alone and together with
the question; a confident answer from one of the articles ranked nearest to the question re-opens
the topic (the second look). A different article means a new question, and the first is not
dropped for it: asked as a question the KB answers outright, it is answered as an aside (a topic
of its own) and the detail asked for again.

Callers put things around the question that no article contains: an introduction ("hi, I'm Rosa
from Cedar Clinic, ...") is left out of the search; a first turn in another language gets one
prompt in English before anything is passed on; "am I talking to a robot?" is answered.

A call that ends while the caller is following an answer (they reported progress, gave no
verdict, said nothing against it) files that topic as resolved, tagged `unconfirmed`, so the
team can check; hanging up straight after the answer is abandoned.

Turns on a phone line are not always whole sentences: speech-to-text ends a turn at a pause, so
a turn that stops on "and", "but", "so", "um" (or is only "Well,") waits up to
`FRAGMENT_PATIENCE_S` for the rest and is read with it. A caller who says goodbye while a
detail is being taken is asked once more (for a case being passed on) and then let go, with the
case filed; one who only says what they will do next ("I'll try that tomorrow") is not asking a
new question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from nlu import intents
from nlu.case import CaseDraft, Topic, TranscriptTurn
from nlu.case_composer import compose_case
from nlu.events import (
    AgentFinishedSpeaking,
    BargeIn,
    CallerHungUp,
    CallerSaid,
    CallStarted,
    DialogueAction,
    DialogueEvent,
    DtmfDigit,
    EngineError,
    FileCase,
    HangUp,
    Say,
    SilenceTimeout,
    Transfer,
    TransferFailed,
)
from nlu.prompts import prompt
from nlu.spoken_email import apply_email_correction, parse_spoken_email, spell_for_readback
from nlu.spoken_name import extract_name, find_introduced_name, is_stt_loop, without_introduction
from nlu.spoken_phone import parse_spoken_phone, speak_phone
from nlu.spoken_text import COMMON_WORDS
from nlu.text_norm import stem

MAX_SILENT_REPROMPTS = 2
MAX_NAME_ASKS = 4
MAX_EMAIL_ASKS = 3
MAX_EMAIL_CONFIRM_FAILS = 2
MAX_TEXT_CHARS = 2000  # longer caller text is cut: STT of a 30 s turn is ~500 characters
PATIENCE_S = 8.0  # silence before a re-prompt; the voice layer scales it to its configured timeout
HOLD_PATIENCE_S = 30.0  # after "hold on", "let me check"
FRAGMENT_PATIENCE_S = 2.0  # how long an unfinished turn ("So, um") waits for the rest


class HitLike(Protocol):
    # read-only members: the index hands out frozen dataclasses
    @property
    def article_id(self) -> int: ...
    @property
    def title(self) -> str: ...


class RetrievalLike(Protocol):
    @property
    def decision(self) -> str: ...
    @property
    def best(self) -> HitLike | None: ...
    @property
    def alternatives(self) -> tuple[HitLike, ...]: ...
    @property
    def confidence(self) -> float: ...
    @property
    def clarify_question(self) -> str: ...
    @property
    def nearby(self) -> tuple[int, ...]: ...


class SpokenLike(Protocol):
    @property
    def article_id(self) -> int: ...
    @property
    def short(self) -> str: ...
    @property
    def steps(self) -> tuple[str, ...]: ...
    @property
    def rest(self) -> str: ...


class ArticleLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...


class KnowledgeBase(Protocol):
    """What the dialogue needs from the KB index (nlu.kb_index.KbIndex implements it)."""

    def decide(self, text: str) -> RetrievalLike: ...
    def spoken(self, article_id: int) -> SpokenLike | None: ...
    def article(self, article_id: int) -> ArticleLike | None: ...
    def answer_followup(self, article_id: int, question: str) -> str | None: ...


@dataclass(frozen=True)
class DialogueConfig:
    company: str = "Northwind Desk"
    agent_extension: str = ""  # empty: escalations end the call after the details are captured
    call_id: str = ""


@dataclass
class _TopicState:
    question: str
    article_id: int | None = None
    article_title: str = ""
    outcome: str = "open"
    related_category: str = ""  # category of the nearest article when nothing answered
    nearby: tuple[int, ...] = ()  # the articles ranked nearest to the question, answered or not
    working_on_it: bool = False  # after the answer the caller reported progress, not a verdict
    said_facts: set[str] = field(default_factory=set)
    said_words: str = ""  # everything the agent said from the article, normalised, for "said before"

    def heard(self, text: str) -> None:
        self.said_facts.add(_norm_fact(text))
        self.said_words += " " + " ".join(intents.words(text)) + " "

    def already_heard(self, text: str) -> bool:
        words = " ".join(intents.words(text))
        return _norm_fact(text) in self.said_facts or (bool(words) and f" {words} " in self.said_words)


@dataclass
class CallerDetails:
    name: str = ""
    email: str = ""
    email_confirmed: bool = False
    email_uncertain: bool = False
    phone: str = ""
    phone_confirmed: bool = False
    known_name: str = ""
    known_email: str = ""


class Dialogue:
    """One call's conversation. Feed events with `on(event)`; it returns the actions to take."""

    def __init__(self, kb: KnowledgeBase, config: DialogueConfig | None = None) -> None:
        self.kb = kb
        self.config = config or DialogueConfig()
        self.state = "new"
        self.details = CallerDetails()
        self.topics: list[_TopicState] = []
        self.transcript: list[TranscriptTurn] = []
        self.escalation_reason = ""
        self.escalated = False
        self.angry = False
        self.legal = False
        self.urgent = False
        self.case_filed = False
        self.resolved_unconfirmed = False  # resolved without the caller saying so (see _file)
        self.solved_by_caller = False  # after a no-answer escalation the caller solved it themselves
        self.ended = False
        self.started_at = 0.0
        self.last_at = 0.0
        self.patience_s = PATIENCE_S  # the voice layer's silence timeout; longer after "hold on"
        self.slow_speech = False  # after "slow down", every reply asks the voice layer for slower speech
        self._held_question = ""  # a question started just before "hold on one second"
        self._silences = 0
        self._asked_for_substance = False  # asked once what a content-free first turn was about
        self._name_asks = 0
        self._email_asks = 0
        self._email_fails = 0
        self._phone_asks = 0
        self._after_details = "anything_else"
        self._clarify: tuple[HitLike, ...] = ()
        self._clarify_question_text = ""
        self._last_agent_text = ""
        self._email_purpose = "escalation"
        self._escalation_kind = ""  # reason code of the first escalation ("no-answer", "person", ...)
        self._ruled_out: set[int] = set()  # clarify options the caller said neither of
        self._leaving_asked = False  # asked once more for a detail after the caller said goodbye
        self._fragment = ""  # an unfinished turn ("So, um") waiting for the rest of what is said

    # ------------------------------------------------------------------ public
    @property
    def company(self) -> str:
        return self.config.company

    def on(self, event: DialogueEvent) -> list[DialogueAction]:
        """Handle one event; never raises for any caller input."""
        if self.ended:
            return []
        self.last_at = max(self.last_at, event.at)
        if isinstance(event, CallStarted):
            return self._on_start(event)
        if isinstance(event, CallerSaid):
            self._silences = 0
            self.patience_s = PATIENCE_S
            text = (event.text or "").strip()[:MAX_TEXT_CHARS]
            text = re.sub(r"\[(?:inaudible|noise|silence|crosstalk)\]", " ", text, flags=re.I).strip()
            if text:
                self._record(event.at, "caller", text)
            if intents.wants_slower(text):
                self.slow_speech = True
            if self._fragment:  # the rest of an unfinished turn: one thing said in two goes
                text = f"{self._fragment} {text}".strip()
                self._fragment = ""
            elif _unfinished(text):
                self._fragment = text
                self.patience_s = FRAGMENT_PATIENCE_S
                return []
            return self._on_said(event.at, text, event.confidence)
        if isinstance(event, SilenceTimeout):
            if self._fragment:  # nothing more came: take it as it was said
                text, self._fragment = self._fragment, ""
                self.patience_s = PATIENCE_S
                return self._on_said(event.at, text, 1.0)
            return self._on_silence(event.at)
        if isinstance(event, DtmfDigit):
            self._record(event.at, "caller", f"[pressed {event.digit}]")
            if event.digit == "0":
                return self._escalate(event.at, "person", "caller pressed 0")
            return []
        if isinstance(event, BargeIn):
            if event.unsaid:
                self._record(event.at, "agent", f"[interrupted before: {event.unsaid[:200]}]")
            return []
        if isinstance(event, AgentFinishedSpeaking):
            return []
        if isinstance(event, EngineError):
            return self._on_engine_error(event)
        if isinstance(event, CallerHungUp):
            return self._finish(event.at, hang_up=False)
        if isinstance(event, TransferFailed):
            self._record(event.at, "agent", f"[transfer failed: {event.reason}]")
            failed: list[DialogueAction] = [self._say(event.at, "transfer_failed"), HangUp("transfer-failed")]
            return failed + self._end()
        return []

    def current_case(self, at: float | None = None) -> CaseDraft:
        """The case as it stands now (stored turn by turn; filed at the end)."""
        return compose_case(self, self.last_at if at is None else at)

    # ------------------------------------------------------------------ helpers
    def _record(self, at: float, speaker: str, text: str) -> None:
        self.transcript.append(TranscriptTurn(at=round(at - self.started_at, 2), speaker=speaker, text=text))

    def _say(self, at: float, prompt_id: str) -> Say:
        text = prompt(prompt_id, self.company)
        self._record(at, "agent", text)
        self._last_agent_text = text
        return Say(text=text, prompt_id=prompt_id, slow=self.slow_speech)

    def _say_text(self, at: float, text: str, article_id: int | None = None) -> Say:
        self._record(at, "agent", text)
        self._last_agent_text = text
        return Say(text=text, article_id=article_id, slow=self.slow_speech)

    @property
    def topic(self) -> _TopicState | None:
        return self.topics[-1] if self.topics else None

    # ------------------------------------------------------------------ events
    def _on_start(self, ev: CallStarted) -> list[DialogueAction]:
        self.started_at = ev.at
        self.details.phone = ev.caller_number or ""
        self.details.phone_confirmed = False
        self.details.known_name = ev.known_name or ""
        self.details.known_email = ev.known_email or ""
        self.state = "question"
        return [self._say(ev.at, "greeting")]

    def _on_said(self, at: float, text: str, confidence: float) -> list[DialogueAction]:
        if self.state == "new":
            self._on_start(CallStarted(at=at))
        if not self.details.name:
            introduced = find_introduced_name(text)
            if introduced:
                self.details.name = introduced
        if not self.details.email and self.state in ("question", "clarify", "answered", "anything_else"):
            offered = _offered_email(text)
            if offered:
                self.details.email = offered  # read back for confirmation when the details are taken
        if intents.is_angry(text):
            self.angry = True
        escalation = intents.wants_escalation(text)
        if escalation is not None and escalation.reason == "legal":
            self.legal = True
        if _sounds_urgent(text):
            self.urgent = True

        if not text or intents.is_gibberish(text):
            if self.state in ("question", "anything_else"):
                return [self._say(at, "not_caught_question")]
            return [self._say(at, "not_caught")]

        if (
            self.state in _DETAIL_STATES
            and (intents.leaving(text) or (self._leaving_asked and intents.yes_no(text) == "no"))
            and not self._gives_detail(text)
        ):
            return self._caller_leaving(at)

        handler = {
            "question": self._in_question,
            "clarify": self._in_clarify,
            "answered": self._in_answered,
            "anything_else": self._in_anything_else,
            "name": self._in_name,
            "email": self._in_email,
            "confirm_email": self._in_confirm_email,
            "phone": self._in_phone,
            "confirm_phone": self._in_confirm_phone,
            "confirm_known": self._in_confirm_known,
        }.get(self.state)
        if handler is None:
            return []
        return handler(at, text)

    def _on_silence(self, at: float) -> list[DialogueAction]:
        self._silences += 1
        self._record(at, "caller", "[silence]")
        if self._silences > MAX_SILENT_REPROMPTS:
            actions: list[DialogueAction] = [self._say(at, "silence_close")]
            return actions + self._finish(at, hang_up=True, reason="silence")
        if self.state in ("question",):
            return [self._say(at, "silence_question")]
        if self._last_agent_text:
            question = self._last_question()  # before "Are you still there?" becomes the last thing said
            return [self._say(at, "silence_1"), self._say_text(at, question)]
        return [self._say(at, "silence_1")]

    def _last_question(self) -> str:
        parts = re.split(r"(?<=[.!?])\s+", self._last_agent_text)
        questions = [p for p in parts if p.endswith("?")]
        return questions[-1] if questions else "How can I help you?"

    def _on_engine_error(self, ev: EngineError) -> list[DialogueAction]:
        self._record(ev.at, "agent", f"[{ev.what} engine error: {ev.detail[:200]}]")
        self.escalated = True
        self.escalation_reason = self.escalation_reason or f"speech engine failure ({ev.what})"
        if self.topic is None:
            self.topics.append(_TopicState(question="(call interrupted by a speech engine failure)"))
        if self.topic and self.topic.outcome == "open":
            self.topic.outcome = "escalated"
        actions: list[DialogueAction] = [self._say(ev.at, "engine_error")]
        if self.config.agent_extension:
            actions.append(self._say(ev.at, "transfer"))
            return actions + self._file_and_transfer(ev.at)
        actions.append(self._say(ev.at, "engine_error_close"))
        return actions + self._finish(ev.at, hang_up=True, reason="engine-error")

    # ------------------------------------------------------------------ states
    def _in_question(self, at: float, text: str) -> list[DialogueAction]:
        esc = intents.wants_escalation(text)
        if esc is not None:
            self._new_topic(text)
            return self._escalate(at, esc.reason, _escalation_words(esc.reason))
        if intents.holds_at_end(text) and intents.substance(text) >= 2:
            # "I was gonna ask about X, but hold on one second": wait, and keep X for when they are back
            self._held_question = text
            self.patience_s = HOLD_PATIENCE_S
            return [self._say(at, "hold_ok")]
        if self._held_question:
            held, self._held_question = self._held_question, ""
            back = len(intents.words(text)) <= 5 and not intents.looks_like_question(text)
            if back and self.kb.decide(text).decision == "escalate":
                text = held  # "okay, I'm back": the question they started before the hold
        talk = intents.smalltalk(text)
        if talk is not None:
            return self._smalltalk(at, talk, opening=True)
        if intents.nothing_else(text) and self.topics:
            return self._wrap_up(at)
        asks_again = intents.wants_repeat(text) or _JUST_WHAT.fullmatch(text.strip())
        if asks_again and intents.substance(text) <= 1:
            return [self._say(at, "not_caught_question")]  # "pardon?", "what?": ask again
        return self._answer_new_question(at, text, escalation=esc)

    def _answer_new_question(
        self, at: float, text: str, escalation: intents.Escalation | None = None
    ) -> list[DialogueAction]:
        if (
            escalation is None
            and not self.topics
            and not self._asked_for_substance
            and (intents.sounds_solved(text) or intents.yes_no(text) is not None)
            and not intents.looks_like_question(text)
            and intents.substance(text) <= 2
        ):
            # "that worked" as the first thing said (a line mix-up, a wrong call): nothing to answer
            self._asked_for_substance = True
            return [self._say(at, "ask_what_about")]
        result = self.kb.decide(_search_text(text))
        if escalation is None and result.decision == "escalate" and not self._asked_for_substance:
            if intents.substance(text) <= 1:
                # nothing to search for yet ("oh sorry, I was on mute"): ask what they need, once
                self._asked_for_substance = True
                return [self._say(at, "ask_what_about")]
            if intents.not_english(text):
                self._asked_for_substance = True
                return [self._say(at, "english_only")]
            rest = intents.checks_hearing(text)
            if rest is not None and not intents.looks_like_question(rest) and intents.substance(rest) <= 4:
                # "can you hear me okay, I'm in the warehouse and it's loud": no question in the rest
                return self._smalltalk(at, intents.SmallTalk("hearing_check"), opening=True)
        topic = self._new_topic(text)
        if escalation is not None:
            self._note_related(topic, result)
            return self._escalate(at, escalation.reason, _escalation_words(escalation.reason))
        return self._take_up(at, topic, result)

    def _note_related(self, topic: _TopicState, result: RetrievalLike) -> None:
        topic.nearby = tuple(result.nearby)
        if result.best is not None:
            art = self.kb.article(result.best.article_id)
            topic.related_category = art.category if art else ""

    def _take_up(self, at: float, topic: _TopicState, result: RetrievalLike) -> list[DialogueAction]:
        """Answer, clarify or escalate a new question, as the KB decided."""
        self._note_related(topic, result)
        if result.decision == "answer" and result.best is not None:
            return self._answer_with(at, topic, result.best.article_id)
        if result.decision == "clarify" and len(result.alternatives) >= 2:
            self._clarify = tuple(result.alternatives[:3])
            question = result.clarify_question or self._clarify_text(self._clarify)
            self._clarify_question_text = question
            self.state = "clarify"
            return [self._say_text(at, question)]
        topic.outcome = "unanswered"
        return self._escalate(at, "no-answer", "the knowledge base has no answer")

    def _clarify_text(self, hits: tuple[HitLike, ...]) -> str:
        titles = [h.title.rstrip(".") for h in hits[:2]]
        return f"Just to be sure I give you the right answer: is this about {titles[0].lower()}, or {titles[1].lower()}?"

    def _new_topic(self, text: str) -> _TopicState:
        topic = _TopicState(question=text)
        self.topics.append(topic)
        return topic

    def _attach_article(self, topic: _TopicState, article_id: int) -> None:
        art = self.kb.article(article_id)
        topic.article_id = article_id
        topic.article_title = art.title if art else ""
        topic.related_category = art.category if art else topic.related_category

    def _answer_with(self, at: float, topic: _TopicState, article_id: int) -> list[DialogueAction]:
        spoken = self.kb.spoken(article_id)
        self._attach_article(topic, article_id)
        self.state = "answered"
        if spoken is None or not spoken.short:
            topic.outcome = "unanswered"
            return self._escalate(at, "no-answer", "the article has no spoken answer")
        topic.heard(spoken.short)
        return [self._say_text(at, spoken.short, article_id=article_id), self._say(at, "did_that_solve")]

    def _in_clarify(self, at: float, text: str) -> list[DialogueAction]:
        esc = intents.wants_escalation(text)
        if esc is not None:
            return self._escalate(at, esc.reason, _escalation_words(esc.reason))
        topic = self.topic or self._new_topic(text)
        if (intents.looks_like_question(text) or intents.new_subject(text)) and intents.substance(text) >= 2:
            focus = _focus(text)
            result = self.kb.decide(focus)
            options = {h.article_id for h in self._clarify}
            if (
                result.decision == "answer"
                and result.best is not None
                and result.best.article_id not in options
            ):
                # "sorry, wrong thing: how do I download an invoice?": a new question, not an option
                topic.outcome = "abandoned"
                return self._take_up(at, self._new_topic(focus), result)
        rejects_both = bool(_NEITHER.search(text))
        done = intents.nothing_else(text)  # "great, thanks, that's all"
        sorted_out = intents.sounds_solved(text) and not intents.looks_like_question(text)
        redirect = intents.redirected(text)  # "it's the duties part I'm asking about"
        if rejects_both:
            choice = None
        elif redirect:
            choice = self._pick_clarified(redirect, closing=True, whole=True)
        else:
            choice = self._pick_clarified(text, closing=done or sorted_out)
        if choice is not None:
            topic.question = f"{topic.question} / {text}"
            return self._answer_with(at, topic, choice)
        if done:
            topic.outcome = "abandoned"
            return self._wrap_up(at)
        if sorted_out:
            topic.outcome = "resolved"  # sorted out while being asked which one it was
            self.state = "anything_else"
            return [self._say(at, "great_anything_else")]
        if rejects_both or redirect or intents.sounds_not_helped(text) or intents.yes_no(text) == "no":
            if redirect:
                topic.question = f"{topic.question} / {text}"
            topic.outcome = "unanswered"
            self._ruled_out.update(h.article_id for h in self._clarify)
            return self._escalate(at, "no-answer", "neither suggested article fits")
        if self._clarify_question_text.startswith("Sorry"):
            topic.outcome = "unanswered"
            return self._escalate(at, "no-answer", "could not tell which article the caller meant")
        self._clarify_question_text = f"Sorry, which one did you mean? {self._clarify_question_text}"
        return [self._say_text(at, self._clarify_question_text)]

    def _pick_clarified(self, text: str, closing: bool, whole: bool = False) -> int | None:
        """The option the caller picked; a closing remark picks only an option it names, and with
        `whole` only an option whose title and tags hold every word of `text`."""
        ws = set(intents.words(text))
        if not self._clarify:
            return None
        ordinals = {
            "first": 0,
            "former": 0,
            "one": 0,
            "second": 1,
            "latter": 1,
            "other": 1,
            "last": len(self._clarify) - 1,
        }
        for w, idx in ordinals.items():
            if w in ws and w != "one" and idx < len(self._clarify):
                return self._clarify[idx].article_id
        ids = {h.article_id for h in self._clarify}
        if not closing and intents.substance(text) >= 3:
            # a reply that describes the problem ("I'll do it on the security page with a code from
            # the old phone") picks the option it alone is clearly about, whatever words it shares
            # with the other option's title ("reset it")
            described = self.kb.decide(text)
            if (
                described.decision == "answer"
                and described.best is not None
                and described.best.article_id in ids
            ):
                return described.best.article_id
        scores: list[tuple[float, int]] = []
        common = _COMMON_WORDS
        titles = {h.article_id: set(intents.words(h.title)) - common for h in self._clarify}
        for hit in self._clarify:
            art = self.kb.article(hit.article_id)
            vocab = set(titles[hit.article_id])
            if art is not None:
                vocab |= set(intents.words(" ".join(art.tags))) - common
            if whole and not (ws - common) <= vocab:
                continue
            others = set().union(*(t for aid, t in titles.items() if aid != hit.article_id))
            own = titles[hit.article_id] - others  # words that tell this article from the others
            overlap = len(ws & vocab) + 2 * len(ws & own)
            scores.append((overlap, hit.article_id))
        scores.sort(reverse=True)
        if scores and scores[0][0] > 0 and (len(scores) == 1 or scores[0][0] > scores[1][0]):
            return scores[0][1]
        if closing:
            return None  # "great, thanks, that's all", "the email came, I'm in": no option named
        # let the index decide with the original question plus the answer
        topic = self.topic
        joined = f"{topic.question if topic else ''} {text}"
        result = self.kb.decide(joined)
        if result.best is not None and result.best.article_id in ids and result.decision != "escalate":
            own_words = ws - {"the", "a", "an", "my", "your", "it", "is", "yes", "yeah", "no", "um", "uh"}
            if own_words:
                return result.best.article_id
        if intents.yes_no(text) == "yes" and len(ws) <= 3:
            return self._clarify[0].article_id
        return None

    def _in_answered(self, at: float, text: str) -> list[DialogueAction]:
        topic = self.topic
        assert topic is not None and topic.article_id is not None
        esc = intents.wants_escalation(text)
        if esc is not None:
            return self._escalate(at, esc.reason, _escalation_words(esc.reason))
        if intents.sounds_not_helped(text):
            topic.outcome = "escalated"
            return self._escalate(at, "not-helped", "the caller said the answer did not help")
        subject = intents.redirected(text)
        if subject is not None:
            # "shopify's already hooked up, it's the etsy shop I need": the answer was about the
            # wrong thing; what they need is a new topic (answered, or passed on as unanswered)
            result = self.kb.decide(subject)
            if result.decision == "escalate" or (result.best and result.best.article_id != topic.article_id):
                if topic.outcome == "open":
                    topic.outcome = "abandoned"
                return self._take_up(at, self._new_topic(subject), result)
        question = intents.looks_like_question(text)
        solved = intents.sounds_solved(text)
        if solved and not question:
            topic.outcome = "resolved"
            if intents.nothing_else(text):
                return self._wrap_up(at)
            self.state = "anything_else"
            return [self._say(at, "great_anything_else")]
        if intents.wants_article_sent(text):
            return [self._point_to_article(at, topic.article_id)]
        step = intents.step_asked(text)
        if step is not None:
            spoken = self.kb.spoken(topic.article_id)
            steps = spoken.steps if spoken else ()
            if steps and (step == -1 or 1 <= step <= len(steps)):
                index = len(steps) - 1 if step == -1 else step - 1
                return [self._say_text(at, steps[index], article_id=topic.article_id)]
        if intents.wants_repeat(text):
            spoken = self.kb.spoken(topic.article_id)
            body = " ".join(spoken.steps) if spoken and spoken.steps else (spoken.short if spoken else "")
            return [self._say_text(at, body, article_id=topic.article_id), self._say(at, "did_that_solve")]
        if intents.wants_more(text) and not question:
            spoken = self.kb.spoken(topic.article_id)
            more = (spoken.rest or " ".join(spoken.steps)) if spoken else ""
            if more and not topic.already_heard(more):
                topic.heard(more)
                return [
                    self._say_text(at, more, article_id=topic.article_id),
                    self._say(at, "did_that_solve"),
                ]
        if intents.wants_hold(text) and not question:
            self.patience_s = HOLD_PATIENCE_S
            return [self._say(at, "hold_ok")]
        yn = intents.yes_no(text)
        short = len(intents.words(text)) <= 4
        if yn == "yes" and short and not question:
            topic.outcome = "resolved"
            self.state = "anything_else"
            return [self._say(at, "great_anything_else")]
        if yn == "no" and short and not question:
            topic.outcome = "escalated"
            return self._escalate(at, "not-helped", "the caller said the answer did not solve the issue")
        talk = intents.smalltalk(text)
        if talk is not None and not question:
            return self._smalltalk(at, talk, opening=False)

        # a follow-up about the same article, or a new question
        marker = intents.topic_change_marker(text)
        focus = _after_topic_change(text) if marker else text
        followup = self._followup(topic, focus, question)
        if followup is not None and question and topic.already_heard(followup):
            # "so admin center, workflows, macros. And can I make it for everybody?": the steps read
            # back matched; ask again with the question alone
            asked = re.findall(r"[^.!?]*\?", focus)
            if asked and asked[-1].strip() != focus.strip():
                followup = self._followup(topic, asked[-1].strip(), question) or followup
        if question:
            fresh = followup is not None and _norm_fact(followup) not in topic.said_facts
        else:
            fresh = followup is not None and not topic.already_heard(followup)
        if fresh and not question and not marker and (intents.found_it(text) or _narrates(topic, text)):
            fresh = False  # "settings, integrations, xero, I'm signing in now": progress, not a question
        if question or marker:
            result = self.kb.decide(focus)
            other = (
                result.decision in ("answer", "clarify")
                and result.best is not None
                and result.best.article_id != topic.article_id
            )
            if other and (not fresh or marker):
                if topic.outcome == "open":
                    topic.outcome = "abandoned" if marker else "answered"
                return self._take_up(at, self._new_topic(focus), result)
            if intents.new_subject(text) and intents.substance(focus) >= 2 and not fresh:
                # "never mind that, ..." and a question the KB cannot answer: a new topic,
                # passed on as such, not a follow-up the current article failed to answer
                if topic.outcome == "open":
                    topic.outcome = "abandoned"
                return self._take_up(at, self._new_topic(focus), result)
            if fresh:
                assert followup is not None
                topic.heard(followup)
                return [self._say_text(at, followup, article_id=topic.article_id)]
            if question:
                # the KB does not cover this follow-up: pass it on, keeping the article tried
                topic.outcome = "escalated"
                return self._escalate(
                    at, "no-answer", "a follow-up question the knowledge base does not answer"
                )
        if fresh:
            assert followup is not None
            topic.heard(followup)
            return [self._say_text(at, followup, article_id=topic.article_id)]
        if solved:
            topic.outcome = "resolved"
            self.state = "anything_else"
            return [self._say(at, "great_anything_else")]
        if topic.working_on_it:
            # a second report with no verdict: ask for one rather than wait on and on
            return [self._say(at, "did_that_solve")]
        topic.working_on_it = True
        return [self._say(at, "ack_progress")]

    def _point_to_article(self, at: float, article_id: int) -> Say:
        """No email leaves a call: the caller is told where the article is instead."""
        art = self.kb.article(article_id)
        title = art.title.rstrip(".") if art else "this topic"
        return self._say_text(
            at,
            f"I can't send emails from this call, but you'll find it in our help center, "
            f'in the article called "{title}".',
            article_id=article_id,
        )

    def _followup(self, topic: _TopicState, text: str, question: bool) -> str | None:
        """The article's answer to a follow-up; a question that names nothing itself ("and what
        happens if we go over?") is read together with the question the article answered."""
        assert topic.article_id is not None
        found = self.kb.answer_followup(topic.article_id, text)
        if found is None and question and intents.substance(text) <= 1:
            found = self.kb.answer_followup(topic.article_id, f"{topic.question} {text}")
        return found

    def _in_anything_else(self, at: float, text: str) -> list[DialogueAction]:
        esc = intents.wants_escalation(text)
        if esc is not None and not self.escalated:
            self._new_topic(text)
            return self._escalate(at, esc.reason, _escalation_words(esc.reason))
        if (
            intents.nothing_else(text)
            or intents.leaving(text)
            or (intents.sounds_solved(text) and not intents.looks_like_question(text))
        ):
            return self._wrap_up(at)
        talk = intents.smalltalk(text)
        if talk is not None:
            if talk.kind in ("thanks", "goodbye"):
                return self._wrap_up(at)
            return self._smalltalk(at, talk, opening=False)
        yn = intents.yes_no(text)
        if yn == "no":
            return self._wrap_up(at)
        if yn == "yes" and len(intents.words(text)) <= 3:
            self.state = "question"
            return [self._say(at, "what_else")]
        if esc is not None:  # already escalated once: the team has it
            return [self._say(at, "noted_for_team"), self._say(at, "anything_else")]
        last = self.topic
        if last is not None and last.article_id is not None and intents.wants_article_sent(text):
            return [self._point_to_article(at, last.article_id), self._say(at, "anything_else")]
        if last is not None and last.article_id is not None and intents.looks_like_question(text):
            # "and does it charge the new card right away?": more about the article just used
            followup = self._followup(last, text, question=True)
            if followup is not None and not last.already_heard(followup):
                result = self.kb.decide(text)
                elsewhere = (
                    result.decision == "answer"
                    and result.best is not None
                    and result.best.article_id != last.article_id
                )
                if not elsewhere:
                    last.heard(followup)
                    return [
                        self._say_text(at, followup, article_id=last.article_id),
                        self._say(at, "anything_else"),
                    ]
        if intents.announces_plan(text) and self.kb.decide(text).decision != "answer":
            # "okay, I'll try that tomorrow": the caller's next step, not a new question
            return [self._say(at, "sounds_good"), self._say(at, "anything_else")]
        return self._answer_new_question(at, text)

    def _smalltalk(self, at: float, talk: intents.SmallTalk, opening: bool) -> list[DialogueAction]:
        if talk.kind == "hold":
            self.patience_s = HOLD_PATIENCE_S
            return [self._say(at, "hold_ok")]
        if talk.kind == "hearing_check":
            return [self._say(at, "hearing_yes" if opening else "hearing_yes_midcall")]
        if talk.kind == "how_are_you":
            return [self._say(at, "how_are_you")]
        if talk.kind == "identity":
            return [self._say(at, "identity" if opening else "identity_midcall")]
        if talk.kind in ("thanks", "goodbye"):
            if opening and not self.topics:
                return [self._say(at, "you_are_welcome"), self._say(at, "anything_else")]
            return self._wrap_up(at)
        if talk.kind == "greeting":
            return [self._say(at, "greeting_back" if opening else "hearing_yes_midcall")]
        return [self._say(at, "not_caught_question" if opening else "not_caught")]

    # ------------------------------------------------------------------ escalation and details
    def _escalate(self, at: float, reason: str, detail: str) -> list[DialogueAction]:
        topic = self.topic or self._new_topic("(escalation requested)")
        if topic.outcome in ("open", "answered") or topic.outcome == "unanswered":
            topic.outcome = "escalated"
        if reason == "anger":
            self.angry = True
        if reason == "legal":
            self.legal = True
        if self.escalated:
            # already passing this on: the details are captured or being captured
            self.escalation_reason = f"{self.escalation_reason}; {detail}"
            if self.state in ("name", "email", "confirm_email", "phone", "confirm_phone", "confirm_known"):
                return self._reask(at)
            return [self._say(at, "noted_for_team")] + self._after_details_step(at)
        self.escalated = True
        self.escalation_reason = detail
        self._escalation_kind = reason
        pid = {"person": "escalate_person", "anger": "escalate_upset", "legal": "escalate_upset"}.get(
            reason, "escalate"
        )
        actions: list[DialogueAction] = [self._say(at, pid)]
        self._after_details = "transfer" if self.config.agent_extension else "anything_else"
        return actions + self._next_detail(at)

    def _next_detail(self, at: float) -> list[DialogueAction]:
        """Ask for the next missing caller detail, or move on when all are captured."""
        d = self.details
        if d.known_name and not d.name and d.known_email and not d.email:
            self.state = "confirm_known"
            spelled = spell_for_readback(d.known_email)
            return [
                self._say_text(
                    at, f"I have you as {d.known_name}, with the email {spelled}. Is that still right?"
                )
            ]
        if not d.name and self._name_asks < MAX_NAME_ASKS and self._email_purpose != "wrapup":
            self.state = "name"
            self._name_asks += 1
            return [self._say(at, "ask_name" if self._name_asks == 1 else "ask_name_again")]
        if not d.email_confirmed and not d.email_uncertain and self._email_asks < MAX_EMAIL_ASKS:
            if d.email:
                return self._read_back_email(at)
            self.state = "email"
            self._email_asks += 1
            pid = "ask_email" if self._email_asks == 1 else "ask_email_again"
            if self._email_purpose == "wrapup" and self._email_asks == 1:
                pid = "ask_email_wrapup"
            return [self._say(at, pid)]
        if not d.phone and not d.phone_confirmed and self._phone_asks < 2 and self.escalated:
            self.state = "phone"
            self._phone_asks += 1
            return [self._say(at, "ask_phone" if self._phone_asks == 1 else "ask_phone_again")]
        return self._after_details_step(at)

    def _after_details_step(self, at: float) -> list[DialogueAction]:
        if self._email_purpose == "wrapup":
            return self._goodbye(at)
        if self._after_details == "transfer":
            return [self._say(at, "transfer")] + self._file_and_transfer(at)
        self.state = "anything_else"
        return [self._say(at, "details_done"), self._say(at, "anything_else")]

    def _reask(self, at: float) -> list[DialogueAction]:
        if self.state == "name":
            if self._name_asks >= MAX_NAME_ASKS:
                return self._next_detail_after_name(at)
            self._name_asks += 1
            return [self._say(at, "ask_name_again")]
        if self.state == "email":
            if self._email_asks >= MAX_EMAIL_ASKS:
                return self._give_up_email(at)
            self._email_asks += 1
            return [self._say(at, "ask_email_again")]
        if self.state == "confirm_email":
            return [self._say(at, "confirm_yes_no")]
        if self.state == "phone":
            self._phone_asks += 1
            if self._phone_asks > 2:
                self.details.phone_confirmed = False
                return self._after_details_step(at)
            return [self._say(at, "ask_phone_again")]
        return [self._say(at, "confirm_yes_no")]

    def _is_topic_word(self, name: str) -> bool:
        """A one-word "name" that the titles or tags of the articles near the topic use."""
        topic = self.topic
        if topic is None or len(name.split()) != 1:
            return False
        vocab: set[str] = set()
        for article_id in (*topic.nearby, *([topic.article_id] if topic.article_id else [])):
            art = self.kb.article(article_id)
            if art is not None:
                vocab.update(intents.words(" ".join((art.title, *art.tags))))
        return name.lower() in vocab

    def _second_look(self, at: float, text: str) -> list[DialogueAction]:
        """Search again when, asked for a detail after a no-answer escalation, the caller says
        more about the problem; a confident answer takes the call off the escalation path."""
        topic = self.topic
        if (
            not self.escalated
            or self._escalation_kind != "no-answer"
            or self.angry
            or self.legal
            or topic is None
            or topic.article_id is not None
            or self._email_purpose == "wrapup"
            or intents.substance(text) < 2
            or intents.wants_escalation(text) is not None
            or intents.yes_no(text) == "no"  # "no, I don't mean exporting": not the article it names
            or _DISOWNS.search(text)
        ):
            return []
        for query in (text, f"{topic.question} {text}"):
            result = self.kb.decide(query)
            best = result.best
            if (
                result.decision == "answer"
                and best is not None
                and best.article_id in topic.nearby  # more about the same problem, not a new one
                and best.article_id not in self._ruled_out
            ):
                break
        else:
            return []
        self.escalated = False
        self.escalation_reason = ""
        self._escalation_kind = ""
        self._after_details = "anything_else"
        self._name_asks = 0
        self._email_asks = 0
        topic.question = f"{topic.question} / {text}"
        topic.outcome = "open"
        return [self._say(at, "found_after_all"), *self._answer_with(at, topic, best.article_id)]

    def _taken_back(self, at: float, text: str) -> list[DialogueAction]:
        """ "Wait, actually yes it did, I found it", said while the details are being taken after
        a bare "no" to "Does that solve your issue?": the topic is resolved after all. After a
        no-answer escalation only a plain report that the caller solved it themselves counts
        ("found it, turned it on, that's it"): a "thanks" there is for passing it on."""
        topic = self.topic
        if self._escalation_kind == "no-answer" and topic is not None and topic.article_id is None:
            solved = bool(_SOLVED_BY_CALLER.search(text)) and not _STILL_WRONG.search(text)
        elif self._escalation_kind == "not-helped" and topic is not None and topic.article_id is not None:
            solved = intents.sounds_solved(text) or bool(_TAKES_BACK.search(text))
        else:
            return []
        if (
            not solved
            or self._email_purpose == "wrapup"
            or intents.looks_like_question(text)
            or intents.sounds_not_helped(text)
        ):
            return []
        if topic.article_id is None:
            self.solved_by_caller = True
        self.escalated = False
        self.escalation_reason = ""
        self._escalation_kind = ""
        self._name_asks = 0
        self._email_asks = 0
        topic.outcome = "resolved"
        self.state = "anything_else"
        return [self._say(at, "great_anything_else")]

    def _aside_question(self, at: float, text: str, ask: str) -> list[DialogueAction]:
        """ "Oh, while I have you, how do I add a new agent?" asked while a detail is being
        taken: a question the KB answers outright is answered, listed as a topic of its own,
        and the detail is asked for again; the case being passed on stays as it was."""
        if (
            self._email_purpose == "wrapup"
            or not intents.looks_like_question(text)
            or intents.substance(text) < 2
            or intents.wants_escalation(text) is not None
            or (_REFERS_BACK.search(text) and not intents.new_subject(text))
        ):
            return []
        focus = _focus(text)
        result = self.kb.decide(focus)
        best = result.best
        pending = self.topic
        if result.decision != "answer" or best is None:
            return []
        if pending is not None and (
            best.article_id in pending.nearby or best.article_id == pending.article_id
        ):
            return []  # more about the problem being passed on: the second look's business
        spoken = self.kb.spoken(best.article_id)
        if spoken is None or not spoken.short:
            return []
        aside = _TopicState(question=focus, outcome="answered")
        self._attach_article(aside, best.article_id)
        aside.heard(spoken.short)
        # listed before the topic being passed on, which stays the call's current topic
        self.topics.insert(max(0, len(self.topics) - 1), aside)
        return [
            self._say_text(at, spoken.short, article_id=best.article_id),
            self._say(at, "back_to_case"),
            self._say(at, ask),
        ]

    def _next_detail_after_name(self, at: float) -> list[DialogueAction]:
        self._name_asks = MAX_NAME_ASKS
        return self._next_detail(at)

    def _in_confirm_known(self, at: float, text: str) -> list[DialogueAction]:
        d = self.details
        yn = intents.yes_no(text)
        if yn == "yes":
            d.name = d.known_name
            d.email = d.known_email
            d.email_confirmed = True
            return self._next_detail(at)
        # not right: ask afresh
        d.known_name = ""
        d.known_email = ""
        name = name_from_reply(text)
        if name:
            d.name = name
        return self._next_detail(at)

    def _in_name(self, at: float, text: str) -> list[DialogueAction]:
        d = self.details
        email = parse_spoken_email(text) if _mentions_email(text) else None
        if email is not None and email.valid:
            d.email = email.address
        name = name_from_reply(text)
        if name and self._is_topic_word(name):
            name = None  # "returns, portal settings, okay": the caller reads out the screen
        if name:
            d.name = name
            return self._next_detail(at)
        if _refuses(text):
            self._name_asks = MAX_NAME_ASKS
            return self._next_detail(at)
        if email is not None and email.valid and self._name_asks < MAX_NAME_ASKS:
            self._name_asks += 1  # the email came first: keep it, and ask for the name once more
            return [self._say(at, "email_first_ask_name")]
        second = (
            self._taken_back(at, text)
            or self._second_look(at, text)
            or self._aside_question(at, text, "ask_name")
        )
        if second:
            return second
        if self._name_asks >= MAX_NAME_ASKS:
            return self._next_detail(at)
        self._name_asks += 1
        esc = intents.wants_escalation(text)
        if esc is not None:
            self._escalation_kind = esc.reason  # they want a person: no more searching
        says_yes = intents.yes_no(text) == "yes"
        if esc is not None or (says_yes and len(intents.words(text)) <= 3):  # "yes please": pass it on
            return [self._say(at, "sure_noted"), self._say(at, "ask_name")]
        if says_yes or _tells_more(text):  # "Yes the emails match, I checked a few by hand"
            return [self._say(at, "noted_for_team"), self._say(at, "ask_name")]
        return [self._say(at, "ask_name_again")]

    def _in_email(self, at: float, text: str) -> list[DialogueAction]:
        d = self.details
        if not _mentions_email(text):
            name = name_from_reply(text)
            # the name, late ("It's Rebecca Stone."), or again: heard, not a failed address
            if name and len(intents.words(text)) <= 4 and d.name in ("", name):
                d.name = name
                return [
                    self._say(at, "thanks_short"),
                    self._say(at, "ask_email"),
                ]
        if _refuses(text) or _no_email(text):
            self._email_asks = MAX_EMAIL_ASKS
            d.email_confirmed = False
            return self._next_detail_after_email(at)
        parsed = parse_spoken_email(text)
        if parsed.valid:
            d.email = parsed.address
            return self._read_back_email(at)
        if not _mentions_email(text):
            second = (
                self._taken_back(at, text)
                or self._second_look(at, text)
                or self._aside_question(at, text, "ask_email")
            )
            if second:
                return second
        if parsed.address and len(parsed.address) > 3:
            d.email = d.email or parsed.address  # best guess so far
        if self._email_asks >= MAX_EMAIL_ASKS:
            return self._give_up_email(at)
        self._email_asks += 1
        return [self._say(at, "ask_email_again")]

    def _give_up_email(self, at: float) -> list[DialogueAction]:
        d = self.details
        if d.email:
            d.email_uncertain = True
            return [self._say(at, "email_uncertain")] + self._next_detail_after_email(at)
        return self._next_detail_after_email(at)

    def _next_detail_after_email(self, at: float) -> list[DialogueAction]:
        self._email_asks = MAX_EMAIL_ASKS
        return self._next_detail(at)

    def _read_back_email(self, at: float) -> list[DialogueAction]:
        self.state = "confirm_email"
        spelled = spell_for_readback(self.details.email)
        return [self._say(at, "read_back_intro"), self._say_text(at, f"{spelled}. Is that correct?")]

    def _in_confirm_email(self, at: float, text: str) -> list[DialogueAction]:
        d = self.details
        yn = intents.yes_no(text)
        corrected = None if yn == "yes" else apply_email_correction(d.email, text)
        if corrected is None and yn is None:
            parsed = parse_spoken_email(text)
            if parsed.valid and parsed.address != d.email:
                corrected = parsed.address  # the caller simply said the address again
        if corrected is None and yn is None:
            if intents.sounds_solved(text) or intents.norm(text) in (
                " it is ",
                " that is it ",
                " that's it ",
            ):
                yn = "yes"
            else:
                return [self._say(at, "confirm_yes_no")]
        if yn == "yes" and corrected is None:
            d.email_confirmed = True
            return self._next_detail(at)
        # a failed confirmation, with or without a correction
        self._email_fails += 1
        if corrected:
            d.email = corrected
        if self._email_fails >= MAX_EMAIL_CONFIRM_FAILS:
            d.email_uncertain = True
            return [self._say(at, "email_uncertain")] + self._next_detail_after_email(at)
        if corrected:
            return self._read_back_email(at)
        self.state = "email"
        return [self._say(at, "ask_email_part")]

    def _in_phone(self, at: float, text: str) -> list[DialogueAction]:
        number = parse_spoken_phone(text)
        if number:
            self.details.phone = number
            self.state = "confirm_phone"
            return [
                self._say(at, "read_back_intro"),
                self._say_text(at, f"{speak_phone(number)}. Is that right?"),
            ]
        if _refuses(text):
            self._phone_asks = 2
            return self._after_details_step(at)
        return self._reask(at)

    def _in_confirm_phone(self, at: float, text: str) -> list[DialogueAction]:
        yn = intents.yes_no(text)
        if yn == "yes":
            self.details.phone_confirmed = True
            return self._after_details_step(at)
        number = parse_spoken_phone(text)
        if number:
            self.details.phone = number
            return [
                self._say(at, "read_back_intro"),
                self._say_text(at, f"{speak_phone(number)}. Is that right?"),
            ]
        if yn == "no":
            self.details.phone = ""
            self.state = "phone"
            return self._reask(at)
        return [self._say(at, "confirm_yes_no")]

    def _gives_detail(self, text: str) -> bool:
        """Whether `text` holds what the current detail step asks for ("Jane Doe, bye")."""
        if self.state == "name":
            return bool(name_from_reply(intents.without_leaving(text))) or parse_spoken_email(text).valid
        if self.state == "email":
            return parse_spoken_email(text).valid
        if self.state == "phone":
            return bool(parse_spoken_phone(text))
        return intents.yes_no(text) is not None  # a read-back being confirmed or denied

    def _caller_leaving(self, at: float) -> list[DialogueAction]:
        """The caller says goodbye while a detail is being taken. For a case being passed on, the
        missing detail is asked for once more, saying why; otherwise, or the second time, the call
        ends with what was captured (an address not yet confirmed is kept, flagged)."""
        d = self.details
        ask = {"name": "ask_name", "email": "ask_email", "phone": "ask_phone"}.get(self.state)
        if self.escalated and ask is not None and not self._leaving_asked:
            self._leaving_asked = True
            return [self._say(at, "before_you_go"), self._say(at, ask)]
        if d.email and not d.email_confirmed:
            d.email_uncertain = True
        return self._goodbye(at)

    # ------------------------------------------------------------------ endings
    def _wrap_up(self, at: float) -> list[DialogueAction]:
        """Nothing else: make sure the email is captured and confirmed, then thank and end."""
        d = self.details
        if not self.escalated and not d.email_confirmed and self._email_asks == 0 and not d.email_uncertain:
            self._email_purpose = "wrapup"
            if d.known_email:
                d.email = d.known_email
                return self._read_back_email(at)
            return self._next_detail(at)
        return self._goodbye(at)

    def _goodbye(self, at: float) -> list[DialogueAction]:
        pid = "goodbye_escalated" if self.escalated else "goodbye"
        return [self._say(at, pid)] + self._finish(at, hang_up=True, reason="completed")

    def _file_and_transfer(self, at: float) -> list[DialogueAction]:
        case = self._file(at)
        actions: list[DialogueAction] = [case]
        actions.append(Transfer(extension=self.config.agent_extension, reason=self.escalation_reason))
        self.state = "transferring"
        return actions

    def _file(self, at: float) -> FileCase:
        self.case_filed = True
        for t in self.topics:
            if t.outcome == "open" and t.article_id is not None and t.working_on_it and not self.escalated:
                # answered, and the caller was following the steps when the call ended
                t.outcome = "resolved"
                self.resolved_unconfirmed = True
            elif t.outcome == "open":
                t.outcome = "abandoned"
        return FileCase(case=compose_case(self, at))

    def _finish(self, at: float, hang_up: bool, reason: str = "completed") -> list[DialogueAction]:
        actions: list[DialogueAction] = []
        if not self.case_filed:
            actions.append(self._file(at))
        if hang_up:
            actions.append(HangUp(reason))
        return actions + self._end()

    def _end(self) -> list[DialogueAction]:
        self.ended = True
        self.state = "ended"
        return []

    # used by the case composer
    def topic_records(self) -> list[Topic]:
        return [
            Topic(
                question=t.question, article_id=t.article_id, article_title=t.article_title, outcome=t.outcome
            )
            for t in self.topics
        ]


# ---------------------------------------------------------------------- small pure helpers
_COMMON_WORDS = {
    "the",
    "a",
    "an",
    "your",
    "my",
    "to",
    "of",
    "or",
    "and",
    "in",
    "on",
    "for",
    "it",
    "is",
    "i",
    "how",
    "do",
    "what",
    "with",
    "you",
    "can",
    "about",
    "this",
    "that",
}


_DISOWNS = re.compile(
    r"\b(?:(?:don't|do not|didn't|did not|not) (?:mean|talking about|asking about)"
    r"|(?:i|we) (?:already )?know (?:that|about that|all that|about it)(?: part| bit| already)?)\b",
    re.I,
)
_NEITHER = re.compile(r"\b(?:neither|none of (?:them|those|these|it)|not either|nor)\b", re.I)

_MARKER = re.compile(
    r"\b(?:never ?mind|another question|different question|other question|something else|one more thing|"
    r"another thing|separate question|on another note|actually)\b",
    re.I,
)


def _focus(text: str) -> str:
    """What to search for: the part after a topic-change phrase when there is one."""
    return _after_topic_change(text) if intents.topic_change_marker(text) else text


_SET_ASIDE = re.compile(
    r"\b(?:forget|scratch) (?:about )?(?:the|that|this|it|my|our)\b[^,.;!?]*[,.;!?]", re.I
)


def _after_topic_change(text: str) -> str:
    """The part of an utterance after its last topic-change phrase ("never mind that. Is there…"),
    or after the clause that sets the old subject aside ("forget the accounting thing for now, ...")."""
    set_aside = list(_SET_ASIDE.finditer(text))
    if set_aside:
        tail = text[set_aside[-1].end() :].strip()
        if len(intents.words(tail)) >= 3:
            return tail
    parts = _MARKER.split(text)
    tail = parts[-1].strip(" ,.;:-")
    pieces = re.split(r"(?<=[.!?])\s+", tail, maxsplit=1)
    if len(pieces) == 2 and len(pieces[0].split()) <= 5:
        tail = pieces[1]
    return tail if len(intents.words(tail)) >= 3 else text


# "it already says approved though, does that matter?": about the problem at hand, not an aside
_REFERS_BACK = re.compile(
    r"\b(?:does|would|will|is|was|can|could|should) (?:that|it|this)\b|\bthough\b"
    r"|\b(?:that|it|this) (?:matter|change|help|make a difference)\b",
    re.I,
)


def _narrates(topic: _TopicState, text: str) -> bool:
    """The caller reads back the steps they are following: most of their content words are words
    the agent just said about this topic."""
    content = {stem(w) for w in intents.content_words(text) if w not in ("okay", "now", "then")}
    if len(content) < 2:
        return False
    said = {stem(w) for w in topic.said_words.split()}
    return len(content & said) >= 0.6 * len(content)


# A turn that stops on one of these words is unfinished: the caller paused mid-sentence ("so um",
# "it worked but"), or only began ("Well,", "Actually,", "Hmm"). "So" ends a thought after a
# verb of opinion ("I think so", "I don't think so").
_CONTINUES = frozenset({"and", "but", "because", "cause", "or", "so", "um", "umm", "uh", "erm", "er"})
_OPENERS = frozenset(
    {"well", "actually", "hmm", "hm", "so", "and", "but", "um", "uh", "oh", "okay", "ok", "yeah"}
)
_SO_ENDS = re.compile(
    r"\b(?:think|thought|hope|guess|say|said|suppose|believe|afraid|do|did|is that|why|even) so\W*$", re.I
)


def _unfinished(text: str) -> bool:
    ws = intents.words(text)
    if not ws:
        return False
    if ws[-1] in _CONTINUES:
        return not (ws[-1] == "so" and _SO_ENDS.search(text))
    return ws[-1] in ("well", "actually", "hmm", "hm") and all(w in _OPENERS for w in ws)


_DETAIL_STATES = ("name", "email", "confirm_email", "phone", "confirm_phone", "confirm_known")
_NAME_TALK = re.compile(r"(?i)\b(?:name|spell(?:ed|t|s|ing)?|surname|called)\b")


def _tells_more(text: str) -> bool:
    """Asked for a name, the caller says more about the problem ("I usually have it open on my
    work computer all day"): several content words and no attempt at a name."""
    return intents.substance(text) >= 3 and not _NAME_TALK.search(text)


def _norm_fact(text: str) -> str:
    return " ".join(intents.words(text))[:200]


def _escalation_words(reason: str) -> str:
    return {
        "person": "the caller asked for a person",
        "anger": "the caller is upset and asked for a person",
        "legal": "the caller mentioned legal action",
        "no-answer": "the knowledge base has no answer",
    }.get(reason, reason)


_URGENT = (
    " urgent ",
    " asap ",
    " emergency ",
    " right now ",
    " nobody can ",
    " no one can ",
    " can't work ",
    " hurting us ",
    " losing ",
    " down for everyone ",
    " all our ",
    " outage ",
)


def _sounds_urgent(text: str) -> bool:
    n = intents.norm(text)
    return any(p in n for p in _URGENT)


# after a bare "no" to "Does that solve your issue?"
_TAKES_BACK = re.compile(
    r"(?i)\b(?:yes|yeah|actually|oh) it did\b|\bit did (?:work|help|actually)\b|\bfound it\b"
)
# the caller solved it while their details were being taken for the team ("found it, turned it
# on", "never mind, I figured it out", "it's working now")
_SOLVED_BY_CALLER = re.compile(
    r"(?i)\b(?:found it(?! (?:odd|strange|weird|hard|difficult|confusing|annoying|funny))|figured it out|"
    r"sorted it(?: out)?|fixed it|got it working|(?:it's|it is|that's|that is) (?:working|fixed|sorted) now|"
    r"(?:it|that) (?:works|worked) now|works now|working now)\b"
)
_STILL_WRONG = re.compile(r"(?i)\b(?:still|not|no longer|but)\b|n't\b")
_JUST_WHAT = re.compile(r"(?i)(?:what|sorry|huh|eh|excuse me)\W*")
_EMAIL_OFFERED = re.compile(
    r"(?i)\b(?:my|our) (?:work |business |company )?e-?mail(?: address)?(?: is|'s)\s+|"
    r"\b(?:e-?mail|reach|contact) (?:me|us) at\s+"
)
_ADDRESS_END = re.compile(
    r"(?i)(?:\bdot\s+|\.)(?:com|org|net|io|co|edu|gov|us|uk|de|fr|ca|au|info|biz)\b(?:(?:\s+dot\s+|\.)[a-z]{2,3}\b)?"
)


def _offered_email(text: str) -> str:
    """The caller's address when they give it unasked ("my email is sam dot ortiz at acme dot
    com"); "" otherwise. An address they ask about ("emails to support at our company dot com")
    has no "my email is" before it and is not taken."""
    cue = _EMAIL_OFFERED.search(text or "")
    if cue is None or not _mentions_email(text[cue.end() :]):
        return ""
    parsed = parse_spoken_email(text[cue.end() :])
    return parsed.address if parsed.valid else ""


def _search_text(text: str) -> str:
    """What a new question is searched with: without an opening introduction and without an
    address the caller gave (both are words no help article uses)."""
    text = without_introduction(text)
    cue = _EMAIL_OFFERED.search(text)
    if cue is not None:
        end = _ADDRESS_END.search(text, cue.end())
        rest = text[end.end() :] if end is not None else ""
        text = f"{text[: cue.start()]} {rest.lstrip(' ,.;')}".strip()
    return text


def _mentions_email(text: str) -> bool:
    n = intents.norm(text)
    return (" at " in n or "@" in text) and (" dot " in n or "." in text)


def _refuses(text: str) -> bool:
    """The caller declines to give the detail asked for ("I'd rather not say"); "I'd rather talk
    to someone" asks for a person instead and is not a refusal."""
    n = intents.norm(text)
    if " i'd rather " in n and " rather not " not in n and intents.wants_escalation(text) is not None:
        return False
    return any(
        p in n
        for p in (
            " rather not ",
            " prefer not ",
            " don't want to give ",
            " not giving ",
            " no thanks ",
            " skip ",
            " don't want to say ",
            " i'd rather ",
            " none of your ",
        )
    )


def _no_email(text: str) -> bool:
    n = intents.norm(text)
    return any(
        p in n for p in (" don't have an email ", " don't have email ", " no email ", " don't use email ")
    )


_CONTRACTION_TAILS = ("s", "ve", "re", "ll", "m", "d", "t")
_ADDRESS_WORDS = frozenset({"dot", "at", "underscore", "dash", "hyphen", "com"})  # an email read out


def name_from_reply(text: str) -> str | None:
    """A caller's name from their answer to "may I have your name?", or None.

    The extractor is generous; here a candidate is refused when a part of it is a common
    English word or a contraction ("we've", "a ticket's", "perfect"), or when a long reply
    mentions it without an introduction ("my name is", "it's", "this is"): callers who keep
    describing their issue are not naming themselves.
    """
    candidate = extract_name(text)
    if not candidate:
        return None
    for part in candidate.lower().split():
        base, _, tail = part.partition("'")
        if (
            part in COMMON_WORDS
            or base in COMMON_WORDS
            or tail in _CONTRACTION_TAILS
            or part in _ADDRESS_WORDS
        ):
            return None
        if len(base) < 2 and len(tail) < 3:  # "O'Hara" and "D'Angelo" are names; "a" is not
            return None
        if is_stt_loop(part):
            return None
    long_reply = sum(1 for w in intents.words(text) if len(w) > 1) > 7
    if long_reply and find_introduced_name(text) != candidate and not _name_then_email(text, candidate):
        return None
    return candidate


_NAME_LEADS = frozenset(
    {"it's", "its", "this", "is", "i'm", "im", "yes", "yeah", "sure", "um", "uh", "okay", "ok", "so"}
)


def _name_then_email(text: str, name: str) -> bool:
    """ "John Smith, john dot smith at gmail dot com", "Maria Lopez-Whitaker. Lopez Whitaker, with a
    hyphen in between": the reply opens with the name and goes on to the email address, or only
    spells the name."""
    ws = intents.words(text)
    start = 0
    while start < len(ws) and ws[start] in _NAME_LEADS:
        start += 1
    parts = intents.words(name)
    if ws[start : start + len(parts)] != parts:
        return False
    rest = ws[start + len(parts) :]
    spelling = all(w in parts or len(w) == 1 or w in _SPELLING_TALK for w in rest)
    return spelling or _mentions_email(" ".join(rest))


# how callers spell out a name: "Lopez Whitaker, with a hyphen in between", "that's k h a n"
_SPELLING_TALK = frozenset(
    [
        "with",
        "a",
        "an",
        "hyphen",
        "dash",
        "in",
        "between",
        "that's",
        "thats",
        "is",
        "spelled",
        "spelt",
        "last",
        "first",
        "name",
        "my",
        "and",
        "as",
        "one",
        "word",
        "apostrophe",
        "capital",
        "double",
        "the",
        "no",
        "space",
        "it's",
        "its",
        "like",
    ]
)
