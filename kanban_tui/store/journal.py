"""The move journal: every move is on disk before it is sent, until the CRM confirms it.

A small SQLite file in the user state dir. A move is recorded when the user makes it and
deleted when the CRM confirms or definitively refuses it; whatever is left at the next start
(the app was killed, the CRM unreachable) is sent again, in the order it was made. Rows are
keyed by the backend's `identity` (never a secret), so a move made on one CRM account is
never replayed on another. Plain, synchronous SQLite: callers run it in a worker thread.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS moves (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    identity TEXT NOT NULL,
    pipeline_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    opportunity_name TEXT NOT NULL DEFAULT '',
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    made_at TEXT NOT NULL,
    base_updated TEXT NOT NULL,
    lost_reason TEXT
);
"""


@dataclass(frozen=True)
class JournaledMove:
    """A move as the journal keeps it."""

    id: int
    pipeline_id: str
    opportunity_id: str
    opportunity_name: str
    from_status: str
    to_status: str
    made_at: datetime
    base_updated: datetime
    lost_reason: str | None = None


class MoveJournal:
    """Moves not yet confirmed by the CRM, for one backend identity."""

    def __init__(self, path: Path, identity: str) -> None:
        self.path = Path(path)
        self.identity = identity

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=5)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # on disk when record() returns, even on power loss
        conn.executescript(SCHEMA)
        return conn

    def record(
        self,
        *,
        pipeline_id: str,
        opportunity_id: str,
        opportunity_name: str,
        from_status: str,
        to_status: str,
        made_at: datetime,
        base_updated: datetime,
        lost_reason: str | None = None,
    ) -> int:
        """Write a move down before it is sent; return its journal id."""
        with closing(self._connect()) as conn, conn:
            cursor = conn.execute(
                "INSERT INTO moves (identity, pipeline_id, opportunity_id, opportunity_name, from_status, to_status,"
                " made_at, base_updated, lost_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.identity, pipeline_id, opportunity_id, opportunity_name, from_status, to_status,
                 made_at.isoformat(), base_updated.isoformat(), lost_reason),
            )
            return int(cursor.lastrowid or 0)

    def forget(self, journal_id: int) -> None:
        """The CRM confirmed the move, or refused it for good: it is no longer owed."""
        with closing(self._connect()) as conn, conn:
            conn.execute("DELETE FROM moves WHERE id = ?", (journal_id,))

    def pending(self, pipeline_id: str | None = None) -> list[JournaledMove]:
        """Moves still owed to this CRM account (optionally one pipeline's), oldest first."""
        if not self.path.exists():
            return []
        query = "SELECT * FROM moves WHERE identity = ?"
        args: list[str] = [self.identity]
        if pipeline_id is not None:
            query += " AND pipeline_id = ?"
            args.append(pipeline_id)
        with closing(self._connect()) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(query + " ORDER BY id", args).fetchall()
        return [
            JournaledMove(
                id=r["id"], pipeline_id=r["pipeline_id"], opportunity_id=r["opportunity_id"],
                opportunity_name=r["opportunity_name"], from_status=r["from_status"], to_status=r["to_status"],
                made_at=datetime.fromisoformat(r["made_at"]), base_updated=datetime.fromisoformat(r["base_updated"]),
                lost_reason=r["lost_reason"],
            )
            for r in rows
        ]
