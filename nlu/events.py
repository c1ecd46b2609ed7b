"""Events into the dialogue and actions out of it: the whole contract of `nlu.Dialogue`.

Time is passed in as `at` (seconds since the call started, a float) on every event, so the
dialogue has no clock of its own and a test can replay a call with exact timings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nlu.case import CaseDraft


# ----------------------------------------------------------------------------- events
@dataclass(frozen=True)
class CallStarted:
    at: float
    caller_number: str = ""  # E.164 or "" when the caller id is withheld
    known_name: str = ""  # from the caller lookup in Kayako, to be confirmed rather than asked
    known_email: str = ""
    call_id: str = ""


@dataclass(frozen=True)
class CallerSaid:
    at: float
    text: str
    confidence: float = 1.0  # STT confidence 0..1


@dataclass(frozen=True)
class SilenceTimeout:
    at: float


@dataclass(frozen=True)
class DtmfDigit:
    at: float
    digit: str


@dataclass(frozen=True)
class AgentFinishedSpeaking:
    at: float


@dataclass(frozen=True)
class BargeIn:
    """The caller spoke over the agent; `unsaid` is the agent text that was cut off."""

    at: float
    unsaid: str = ""


@dataclass(frozen=True)
class EngineError:
    at: float
    what: str  # "stt" | "tts" | "kb" | ...
    detail: str = ""


@dataclass(frozen=True)
class CallerHungUp:
    at: float


@dataclass(frozen=True)
class TransferFailed:
    """The live agent did not answer or was busy."""

    at: float
    reason: str = "no-answer"


DialogueEvent = (
    CallStarted
    | CallerSaid
    | SilenceTimeout
    | DtmfDigit
    | AgentFinishedSpeaking
    | BargeIn
    | EngineError
    | CallerHungUp
    | TransferFailed
)


# ---------------------------------------------------------------------------- actions
@dataclass(frozen=True)
class Say:
    """Speak `text`. `prompt_id` names a fixed prompt whose audio is cached ahead of time."""

    text: str
    prompt_id: str = ""
    article_id: int | None = None  # set when the text is an article's precomputed spoken answer
    slow: bool = False  # the caller asked the agent to speak more slowly (kept for the rest of the call)


@dataclass(frozen=True)
class Transfer:
    """Hand the caller to a live agent; the case is filed (FileCase) just before this."""

    extension: str
    reason: str = ""


@dataclass(frozen=True)
class HangUp:
    reason: str = "completed"


@dataclass(frozen=True)
class FileCase:
    case: CaseDraft = field(compare=False)


DialogueAction = Say | Transfer | HangUp | FileCase
