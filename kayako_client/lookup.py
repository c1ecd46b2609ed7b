"""Who is calling: find the caller in Kayako by phone number, inside a hard time budget.

Runs while the greeting plays, so it must never hold the call up: bounded by `timeout_s`
(settings default 0.8 s), and any timeout or error is logged and turned into None.
Phone numbers match on their digits exactly (`/search?resources=USERS`, then the phone
identities are compared), so "+1 (555) 555-0101" finds "+15555550101".
"""

from __future__ import annotations

import asyncio
import logging

from kayako_client.models import CallerRecord
from kayako_client.protocol import HelpdeskApi

logger = logging.getLogger(__name__)


async def _lookup(client: HelpdeskApi, phone: str) -> CallerRecord | None:
    user = await client.find_user_by_phone(phone)
    if user is None:
        return None
    cases = await client.list_user_cases(user.id)
    return CallerRecord(
        user_id=user.id,
        name=user.full_name,
        email=user.emails[0] if user.emails else "",
        phone=phone,
        open_case_ids=tuple(c.id for c in cases if c.is_open),
    )


async def lookup_caller(client: HelpdeskApi, phone: str, timeout_s: float) -> CallerRecord | None:
    """The caller's Kayako record, or None (unknown, withheld number, timeout or error)."""
    if not phone or not phone.strip():
        return None
    try:
        return await asyncio.wait_for(_lookup(client, phone), timeout=timeout_s)
    except TimeoutError:
        logger.warning("caller lookup timed out", extra={"timeout_s": timeout_s})
    except Exception as exc:  # the call goes on without a caller record
        logger.warning("caller lookup failed", extra={"error": f"{type(exc).__name__}: {exc}"})
    return None
