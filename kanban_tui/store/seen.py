"""What the user last saw of each board: per card its status, value and name.

At the next start the board marks the cards that differ (new, moved, re-valued) and says how
many, and which are gone. One SQLite file in the user state dir (0600: it holds CRM data),
rows keyed by backend identity (never a secret), pipeline id and card id. Like the
preferences, a convenience: a file that cannot be read is as if nothing was kept (no marks),
never an error. Plain, synchronous SQLite: callers run it in a worker (or at quit).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

from ..text import safe_text
from . import connect_private, damaged, move_aside

SCHEMA = """
CREATE TABLE IF NOT EXISTS boards (
    identity TEXT NOT NULL, pipeline_id TEXT NOT NULL, saved_at TEXT NOT NULL,
    PRIMARY KEY (identity, pipeline_id));
CREATE TABLE IF NOT EXISTS cards (
    identity TEXT NOT NULL, pipeline_id TEXT NOT NULL, id TEXT NOT NULL,
    status_id TEXT NOT NULL, value INTEGER, name TEXT NOT NULL,
    PRIMARY KEY (identity, pipeline_id, id));
"""

Seen = tuple[str, int | None, str]


def _text(raw: bytes) -> str | bytes:
    """TEXT as read: a value that is not UTF-8 (garbage on disk) stays bytes, and its card is passed over."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


class SeenStore:
    """What the user last saw of the boards of one backend identity."""

    def __init__(self, path: Path, identity: str) -> None:
        self.path = Path(path)
        self.identity = identity

    def _connect(self) -> sqlite3.Connection:
        return connect_private(self.path, SCHEMA)

    def prepare(self) -> list[str]:
        """At start: a damaged file is moved aside (kept) and said; the marks start afresh."""
        why = damaged(self.path, "cards")
        if why is None:
            return []
        aside = move_aside(self.path)
        return [f"What you last saw of your boards ({self.path}) was damaged ({why}): kept as {aside.name};"
                " changes are marked again from this session on"]

    def load(self, pipeline_id: str) -> dict[str, Seen] | None:
        """What the user last saw of this board; None when nothing was kept (or it cannot be read)."""
        if not self.path.exists():
            return None
        try:
            with closing(self._connect()) as conn:
                if conn.execute("SELECT 1 FROM boards WHERE identity = ? AND pipeline_id = ?",
                                (self.identity, pipeline_id)).fetchone() is None:
                    return None
                conn.text_factory = _text
                cursor = conn.execute("SELECT id, status_id, value, name FROM cards WHERE identity = ? AND"
                                      " pipeline_id = ?", (self.identity, pipeline_id))
                seen: dict[str, Seen] = {}
                while (row := cursor.fetchone()) is not None:  # one by one: a damaged card is passed over
                    card, status, value, name = row
                    if (isinstance(card, str) and isinstance(status, str) and isinstance(name, str)
                            and (value is None or type(value) is int)):
                        seen[card] = (status, value, safe_text(name))  # a gone card's name is said: disk text
        except (sqlite3.Error, OSError):
            return None
        return seen

    def saved_at(self, pipeline_id: str) -> str | None:
        """When what the user last saw of this board was kept (ISO time); None when nothing was (or unreadable)."""
        if not self.path.exists():
            return None
        try:
            with closing(self._connect()) as conn:
                row = conn.execute("SELECT saved_at FROM boards WHERE identity = ? AND pipeline_id = ?",
                                   (self.identity, pipeline_id)).fetchone()
        except (sqlite3.Error, OSError):
            return None
        return None if row is None else row[0]

    def keep(self, pipeline_id: str, cards: Mapping[str, Seen]) -> str | None:
        """Keep what the user saw of these cards (their own move settled), the rest as kept; nothing where
        nothing is kept of this board yet (its first record is the whole board). None, or why it could not."""
        if not self.path.exists():
            return None
        try:
            with closing(self._connect()) as conn, conn:
                if conn.execute("SELECT 1 FROM boards WHERE identity = ? AND pipeline_id = ?",
                                (self.identity, pipeline_id)).fetchone() is None:
                    return None
                conn.executemany(
                    "INSERT OR REPLACE INTO cards VALUES (?, ?, ?, ?, ?, ?)",
                    ((self.identity, pipeline_id, card, s[0], s[1], s[2]) for card, s in cards.items()),
                )
        except (sqlite3.Error, OSError) as exc:
            return f"could not keep what you saw of the board in {self.path}: {exc}"
        return None

    def save(self, pipeline_id: str, seen: Mapping[str, Seen], saved_at: str) -> str | None:
        """Keep what the user saw of this board (replacing what was kept); None, or why it could not."""
        try:
            with closing(self._connect()) as conn, conn:
                conn.execute("DELETE FROM cards WHERE identity = ? AND pipeline_id = ?", (self.identity, pipeline_id))
                conn.executemany(
                    "INSERT INTO cards VALUES (?, ?, ?, ?, ?, ?)",
                    ((self.identity, pipeline_id, card, s[0], s[1], s[2]) for card, s in seen.items()),
                )
                conn.execute("INSERT OR REPLACE INTO boards VALUES (?, ?, ?)", (self.identity, pipeline_id, saved_at))
        except (sqlite3.Error, OSError) as exc:
            return f"could not keep what you saw of the board in {self.path}: {exc}"
        return None
