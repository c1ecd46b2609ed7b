"""The simulator's data: a small Kayako instance in SQLite (file or ":memory:").

Seeded from a KB JSON list in shared/data/dev format (`id, title, section, category, tags,
body_html, status`); sections and categories are created from their names, and every
title/contents string becomes a `locale_field` row as in real Kayako (kayako-api.md §5.1).
Default lookups follow a fresh Kayako: statuses New/Open/Pending/Completed/Closed,
priorities Low..Urgent (levels 1-4), types Question/Task/Problem/Incident, role 4 Customer.
All access is synchronous and short; the aiohttp handlers call it directly.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS locale_fields (id INTEGER PRIMARY KEY, locale TEXT, translation TEXT,
  created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS categories (id INTEGER PRIMARY KEY, name TEXT UNIQUE, title_field INTEGER,
  created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS sections (id INTEGER PRIMARY KEY, name TEXT, category_id INTEGER,
  title_field INTEGER, created_at TEXT, updated_at TEXT, UNIQUE(name, category_id));
CREATE TABLE IF NOT EXISTS articles (id INTEGER PRIMARY KEY, section_id INTEGER, title_field INTEGER,
  contents_field INTEGER, tags TEXT, status TEXT, created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS roles (id INTEGER PRIMARY KEY, title TEXT, type TEXT);
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, full_name TEXT, role_id INTEGER,
  password TEXT, created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS identities (id INTEGER PRIMARY KEY, user_id INTEGER, kind TEXT, value TEXT,
  is_primary INTEGER, created_at TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS identities_email ON identities(value) WHERE kind = 'email';
CREATE TABLE IF NOT EXISTS statuses (id INTEGER PRIMARY KEY, label TEXT, type TEXT, sort_order INTEGER);
CREATE TABLE IF NOT EXISTS priorities (id INTEGER PRIMARY KEY, label TEXT, level INTEGER);
CREATE TABLE IF NOT EXISTS types (id INTEGER PRIMARY KEY, label TEXT, type TEXT);
CREATE TABLE IF NOT EXISTS cases (id INTEGER PRIMARY KEY, subject TEXT, requester_id INTEGER,
  creator_id INTEGER, status_id INTEGER, priority_id INTEGER, type_id INTEGER, state TEXT, tags TEXT,
  field_values TEXT, channel TEXT, created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, case_id INTEGER, channel TEXT, contents TEXT,
  creator_id INTEGER, created_at TEXT);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user_id INTEGER, csrf TEXT, created_at TEXT);
"""

STATUSES = [
    (1, "New", "NEW"),
    (2, "Open", "OPEN"),
    (3, "Pending", "PENDING"),
    (4, "Completed", "COMPLETED"),
    (5, "Closed", "CLOSED"),
]
PRIORITIES = [(1, "Low", 1), (2, "Normal", 2), (3, "High", 3), (4, "Urgent", 4)]
TYPES = [
    (1, "Question", "QUESTION"),
    (2, "Task", "TASK"),
    (3, "Problem", "PROBLEM"),
    (4, "Incident", "INCIDENT"),
]
ROLES = [
    (1, "Administrator", "ADMIN"),
    (2, "Agent", "AGENT"),
    (3, "Collaborator", "COLLABORATOR"),
    (4, "Customer", "CUSTOMER"),
]


def iso(dt: datetime | None = None) -> str:
    return (dt or datetime.now(UTC)).replace(microsecond=0).isoformat()


class SimStore:
    """SQLite-backed state of one simulated Kayako instance."""

    def __init__(self, database: str = ":memory:") -> None:
        if database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(SCHEMA)
        if not self.db.execute("SELECT 1 FROM statuses").fetchone():
            self.db.executemany("INSERT INTO statuses VALUES (?,?,?,?)", [(*s, s[0]) for s in STATUSES])
            self.db.executemany("INSERT INTO priorities VALUES (?,?,?)", PRIORITIES)
            self.db.executemany("INSERT INTO types VALUES (?,?,?)", TYPES)
            self.db.executemany("INSERT INTO roles VALUES (?,?,?)", ROLES)

    # -- generic ---------------------------------------------------------------------------

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        return self.db.execute(sql, args).fetchone()

    def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self.db.execute(sql, args).fetchall()

    def insert(self, sql: str, *args: Any) -> int:
        cur = self.db.execute(sql, args)
        return int(cur.lastrowid or 0)

    # -- agents and sessions -----------------------------------------------------------------

    def ensure_agent(self, email: str, password: str) -> int:
        row = self.one("SELECT user_id FROM identities WHERE kind='email' AND value=?", email.lower())
        if row:
            self.db.execute("UPDATE users SET password=? WHERE id=?", (password, row["user_id"]))
            return int(row["user_id"])
        now = iso()
        user_id = self.insert(
            "INSERT INTO users (full_name, role_id, password, created_at, updated_at) VALUES (?,?,?,?,?)",
            "Simulated Agent",
            2,
            password,
            now,
            now,
        )
        self.insert(
            "INSERT INTO identities (user_id, kind, value, is_primary, created_at) VALUES (?,?,?,?,?)",
            user_id,
            "email",
            email.lower(),
            1,
            now,
        )
        return user_id

    def check_password(self, email: str, password: str) -> int | None:
        row = self.one(
            "SELECT u.id, u.password FROM users u JOIN identities i ON i.user_id = u.id "
            "WHERE i.kind='email' AND i.value=? AND u.role_id IN (1, 2)",
            email.lower(),
        )
        if row and row["password"] is not None and secrets.compare_digest(str(row["password"]), password):
            return int(row["id"])
        return None

    def new_session(self, user_id: int, csrf: bool) -> tuple[str, str | None]:
        session_id = secrets.token_urlsafe(24)
        token = secrets.token_urlsafe(16) if csrf else None
        self.insert("INSERT INTO sessions VALUES (?,?,?,?)", session_id, user_id, token, iso())
        return session_id, token

    def session(self, session_id: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM sessions WHERE id=?", session_id)

    def drop_sessions(self) -> int:
        return self.db.execute("DELETE FROM sessions").rowcount

    # -- knowledge base ---------------------------------------------------------------------

    def locale_field(self, text: str, when: str) -> int:
        return self.insert(
            "INSERT INTO locale_fields (locale, translation, created_at, updated_at) VALUES ('en-us',?,?,?)",
            text,
            when,
            when,
        )

    def _category(self, name: str, when: str) -> int:
        row = self.one("SELECT id FROM categories WHERE name=?", name)
        if row:
            return int(row["id"])
        return self.insert(
            "INSERT INTO categories (name, title_field, created_at, updated_at) VALUES (?,?,?,?)",
            name,
            self.locale_field(name, when),
            when,
            when,
        )

    def _section(self, name: str, category: str, when: str) -> int:
        cat_id = self._category(category or "General", when)
        row = self.one("SELECT id FROM sections WHERE name=? AND category_id=?", name, cat_id)
        if row:
            return int(row["id"])
        return self.insert(
            "INSERT INTO sections (name, category_id, title_field, created_at, updated_at) VALUES (?,?,?,?,?)",
            name,
            cat_id,
            self.locale_field(name, when),
            when,
            when,
        )

    def seed_articles(self, articles_path: str | None) -> int:
        if not articles_path or self.one("SELECT 1 FROM articles"):
            return 0
        items = json.loads(Path(articles_path).read_text(encoding="utf-8"))
        if not isinstance(items, list):
            raise ValueError(f"{articles_path}: expected a JSON list of articles")
        start = datetime.now(UTC) - timedelta(days=1)
        for n, item in enumerate(items):  # one minute apart, like articles edited over time
            self.put_article(item, when=str(item.get("updated_at") or iso(start + timedelta(minutes=n))))
        return len(items)

    def put_article(self, item: dict[str, Any], when: str | None = None) -> int:
        """Create or update an article from a dev-KB-format dict; returns its id."""
        when = when or iso()
        existing = self.one("SELECT * FROM articles WHERE id=?", item["id"]) if item.get("id") else None
        if existing:
            title = item.get("title")
            if title is not None:
                self.db.execute(
                    "UPDATE locale_fields SET translation=?, updated_at=? WHERE id=?",
                    (title, when, existing["title_field"]),
                )
            if item.get("body_html") is not None:
                self.db.execute(
                    "UPDATE locale_fields SET translation=?, updated_at=? WHERE id=?",
                    (item["body_html"], when, existing["contents_field"]),
                )
            section_id = existing["section_id"]
            if item.get("section") or item.get("category"):
                old = self.one(
                    "SELECT s.name AS s, c.name AS c FROM sections s JOIN categories c ON c.id=s.category_id WHERE s.id=?",
                    section_id,
                )
                section_id = self._section(
                    item.get("section") or (old["s"] if old else "General"),
                    item.get("category") or (old["c"] if old else "General"),
                    when,
                )
            tags = json.dumps(item["tags"]) if item.get("tags") is not None else existing["tags"]
            status = item.get("status") or existing["status"]
            self.db.execute(
                "UPDATE articles SET section_id=?, tags=?, status=?, updated_at=? WHERE id=?",
                (section_id, tags, status, when, existing["id"]),
            )
            return int(existing["id"])
        for key in ("title", "body_html"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise ValueError(f"article {item.get('id')}: '{key}' must be a non-empty string")
        section_id = self._section(item.get("section") or "General", item.get("category") or "General", when)
        return self.insert(
            "INSERT INTO articles (id, section_id, title_field, contents_field, tags, status, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?)",
            item.get("id"),
            section_id,
            self.locale_field(item["title"], when),
            self.locale_field(item["body_html"], when),
            json.dumps(list(item.get("tags") or [])),
            item.get("status") or "PUBLISHED",
            when,
            when,
        )

    def delete_article(self, article_id: int) -> bool:
        return self.db.execute("DELETE FROM articles WHERE id=?", (article_id,)).rowcount > 0

    # -- users ----------------------------------------------------------------------------------

    def create_user(self, full_name: str, role_id: int, email: str = "", phone: str = "") -> int:
        now = iso()
        user_id = self.insert(
            "INSERT INTO users (full_name, role_id, created_at, updated_at) VALUES (?,?,?,?)",
            full_name,
            role_id,
            now,
            now,
        )
        if email:
            self.add_identity(user_id, "email", email, True)
        if phone:
            self.add_identity(user_id, "phone", phone, True)
        return user_id

    def add_identity(self, user_id: int, kind: str, value: str, primary: bool) -> int:
        value = value.strip().lower() if kind == "email" else value.strip()
        return self.insert(
            "INSERT INTO identities (user_id, kind, value, is_primary, created_at) VALUES (?,?,?,?,?)",
            user_id,
            kind,
            value,
            int(primary),
            iso(),
        )

    def email_taken(self, email: str) -> bool:
        return (
            self.one("SELECT 1 FROM identities WHERE kind='email' AND value=?", email.strip().lower())
            is not None
        )

    # -- cases ----------------------------------------------------------------------------------

    def create_case(self, fields: dict[str, Any], creator_id: int) -> int:
        now = iso()
        case_id = self.insert(
            "INSERT INTO cases (subject, requester_id, creator_id, status_id, priority_id, type_id, state, tags,"
            " field_values, channel, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            fields["subject"],
            fields["requester_id"],
            creator_id,
            fields.get("status_id") or 1,
            fields.get("priority_id"),
            fields.get("type_id"),
            "ACTIVE",
            json.dumps(fields.get("tags") or []),
            json.dumps(fields.get("field_values") or {}),
            fields["channel"],
            now,
            now,
        )
        self.add_post(case_id, fields["channel"], fields["contents"], creator_id)
        return case_id

    def add_post(self, case_id: int, channel: str, contents: str, creator_id: int) -> int:
        post_id = self.insert(
            "INSERT INTO posts (case_id, channel, contents, creator_id, created_at) VALUES (?,?,?,?,?)",
            case_id,
            channel,
            contents,
            creator_id,
            iso(),
        )
        self.db.execute("UPDATE cases SET updated_at=? WHERE id=?", (iso(), case_id))
        return post_id

    def update_case(self, case_id: int, changes: dict[str, Any]) -> None:
        allowed = (
            "subject",
            "requester_id",
            "status_id",
            "priority_id",
            "type_id",
            "tags",
            "field_values",
            "created_at",
        )
        for key in allowed:
            if key in changes:
                value = changes[key]
                if key in ("tags", "field_values"):
                    value = json.dumps(value)
                self.db.execute(f"UPDATE cases SET {key}=? WHERE id=?", (value, case_id))
        self.db.execute("UPDATE cases SET updated_at=? WHERE id=?", (iso(), case_id))

    def case_tags(self, case_id: int) -> list[str]:
        row = self.one("SELECT tags FROM cases WHERE id=?", case_id)
        return list(json.loads(row["tags"])) if row else []

    def stats(self) -> dict[str, int]:
        return {
            "cases": int(self.one("SELECT COUNT(*) AS n FROM cases")["n"]),  # type: ignore[index]
            "posts": int(self.one("SELECT COUNT(*) AS n FROM posts")["n"]),  # type: ignore[index]
            "users": int(self.one("SELECT COUNT(*) AS n FROM users")["n"]),  # type: ignore[index]
            "articles": int(self.one("SELECT COUNT(*) AS n FROM articles")["n"]),  # type: ignore[index]
        }
