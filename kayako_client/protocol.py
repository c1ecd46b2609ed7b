"""The helpdesk operations kayako-voice needs, as a Protocol.

`KayakoClient` (API v1) implements it; a Kayako Classic (v4 XML) adapter could implement the
same methods later. The outbox, caller lookup and KB fetch depend only on this interface.
"""

from __future__ import annotations

from typing import Protocol

from kayako_client.models import (
    ArticleHit,
    KayakoCase,
    KayakoPost,
    KayakoUser,
    KbArticleRecord,
    NewCase,
)


class HelpdeskApi(Protocol):
    async def list_articles(self, *, published_only: bool = True) -> list[KbArticleRecord]: ...

    async def list_article_stamps(self) -> list[tuple[int, str, str]]:
        """(id, status, updated_at) of every article, cheaply."""
        ...

    async def get_article(self, article_id: int) -> KbArticleRecord: ...

    async def search_articles(self, query: str, limit: int = 10) -> list[ArticleHit]: ...

    async def find_user_by_email(self, email: str) -> KayakoUser | None: ...

    async def find_user_by_phone(self, phone: str) -> KayakoUser | None: ...

    async def create_user(self, full_name: str, email: str = "", phone: str = "") -> KayakoUser: ...

    async def create_case(self, case: NewCase) -> KayakoCase: ...

    async def add_note(self, case_id: int, contents_html: str) -> KayakoPost: ...

    async def update_case(
        self,
        case_id: int,
        *,
        status_name: str | None = None,
        tags: tuple[str, ...] | None = None,
        add_tags: tuple[str, ...] = (),
    ) -> KayakoCase: ...

    async def list_user_cases(self, user_id: int) -> list[KayakoCase]: ...

    async def get_case(self, case_id: int) -> KayakoCase: ...

    async def get_case_posts(self, case_id: int) -> list[KayakoPost]: ...

    async def aclose(self) -> None: ...
