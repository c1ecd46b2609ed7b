"""Kayako API v1 client, KB sync, the durable case outbox and a Kayako-compatible server.

Public surface (the simulator lives in `kayako_client.simulator` and needs aiohttp):
`KayakoClient(ClientOptions(...))`, `HelpdeskApi` (the Protocol the rest depends on),
`CaseOutbox`, `fetch_published_articles`, `lookup_caller`, the records in `models` and the
errors in `errors`. Nothing here imports `ari_app`, `nlu` or `media`.
"""

from kayako_client.client import KayakoClient
from kayako_client.errors import (
    AuthError,
    BadReply,
    FieldError,
    KayakoError,
    NotFound,
    RateLimited,
    Unavailable,
)
from kayako_client.kb_fetch import KbFetch, fetch_published_articles
from kayako_client.lookup import lookup_caller
from kayako_client.models import (
    ArticleHit,
    CallerRecord,
    KayakoCase,
    KayakoPost,
    KayakoUser,
    KbArticleRecord,
    NewCase,
    OutboundCase,
    OutboxStats,
)
from kayako_client.outbox import CaseOutbox, OutboxOptions, call_tag
from kayako_client.protocol import HelpdeskApi
from kayako_client.transport import ClientOptions

__all__ = [
    "ArticleHit",
    "AuthError",
    "BadReply",
    "CallerRecord",
    "CaseOutbox",
    "ClientOptions",
    "FieldError",
    "HelpdeskApi",
    "KayakoCase",
    "KayakoClient",
    "KayakoError",
    "KayakoPost",
    "KayakoUser",
    "KbArticleRecord",
    "KbFetch",
    "NewCase",
    "NotFound",
    "OutboundCase",
    "OutboxOptions",
    "OutboxStats",
    "RateLimited",
    "Unavailable",
    "call_tag",
    "fetch_published_articles",
    "lookup_caller",
]
