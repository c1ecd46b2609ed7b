"""Plain frozen records that cross the kayako_client boundary.

They carry only what the rest of kayako-voice reads; everything else in a Kayako resource is
ignored, so unknown or extra fields in a reply never break parsing. Status "open" means a
case_status type of NEW, OPEN or PENDING (kayako-api.md §5.1 lists NEW, OPEN, PENDING,
COMPLETED, CLOSED, CUSTOM).
"""

from __future__ import annotations

from dataclasses import dataclass, field

OPEN_STATUS_TYPES = ("NEW", "OPEN", "PENDING")


@dataclass(frozen=True)
class KbArticleRecord:
    """One help-center article as plain text fields (same fields as the dev KB JSON)."""

    id: int
    title: str
    section: str
    category: str
    tags: tuple[str, ...]
    body_html: str
    status: str
    updated_at: str


@dataclass(frozen=True)
class ArticleHit:
    """One help-center search result."""

    article_id: int | None
    title: str
    contents_html: str
    link: str


@dataclass(frozen=True)
class KayakoUser:
    id: int
    full_name: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    role_type: str = ""


@dataclass(frozen=True)
class KayakoCase:
    id: int
    subject: str
    requester_id: int | None
    status: str  # label, e.g. "Open"
    status_type: str  # NEW | OPEN | PENDING | COMPLETED | CLOSED | CUSTOM
    priority: str
    type: str
    tags: tuple[str, ...]
    created_at: str
    updated_at: str
    field_values: dict[str, str] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status_type in OPEN_STATUS_TYPES


@dataclass(frozen=True)
class KayakoPost:
    id: int
    case_id: int
    contents: str
    channel: str  # NOTE | MAIL | ...
    created_at: str


@dataclass(frozen=True)
class NewCase:
    """What `create_case` sends; names (not ids) for priority, status and type."""

    requester_id: int
    subject: str
    contents_html: str
    tags: tuple[str, ...] = ()
    field_values: dict[str, str] = field(default_factory=dict)
    priority_name: str = ""
    status_name: str = ""
    type_name: str = ""


@dataclass(frozen=True)
class OutboundCase:
    """One call's case as handed to the outbox; composed by the caller, plain types only."""

    call_id: str
    subject: str
    contents_html: str
    tags: tuple[str, ...] = ()
    priority_name: str = "Normal"
    status_name: str = "Open"
    type_name: str = "Question"
    requester_name: str = ""
    requester_email: str = ""
    requester_phone: str = ""
    field_values: dict[str, str] = field(default_factory=dict)
    note_text: str = ""  # used when the call becomes a note on the caller's open case
    created_at: str = ""


@dataclass(frozen=True)
class CallerRecord:
    """Who is calling, as Kayako knows them."""

    user_id: int
    name: str
    email: str
    phone: str
    open_case_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    delivered: int
    dead: int
    oldest_pending_age_s: float | None
