"""The local workspace's "fake": a real SQLite workspace in a temp dir, written by another
connection as a teammate's process would. For tests/test_contract.py."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime
from typing import Any

from .base import ContractFake


class Contract(ContractFake):
    """A workspace the registry's factory creates (and seeds with the 64-card demo pipeline)."""

    has_key = False

    @property
    def path(self):
        return self.tmp_path / "contract-workspace.sqlite3"

    def settings(self) -> dict[str, Any]:
        return {"path": self.path}

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with closing(sqlite3.connect(self.path)) as conn, conn:
            conn.execute(sql, params)

    def teammate_move(self, card_id: str, status_id: str) -> None:
        self._write("UPDATE opportunities SET status_id = ?, updated = ? WHERE id = ?",
                    (status_id, datetime.now(UTC).isoformat(), card_id))

    def delete(self, card_id: str) -> None:
        self._write("DELETE FROM opportunities WHERE id = ?", (card_id,))

    def status_of(self, card_id: str) -> str | None:
        with closing(sqlite3.connect(self.path)) as conn:
            row = conn.execute("SELECT status_id FROM opportunities WHERE id = ?", (card_id,)).fetchone()
        return None if row is None else row[0]

    # -- what the write contract reads back (issue 23): in `models` terms, whatever the CRM --------------------

    def field_of(self, card_id: str, name: str) -> object:
        """The deal's `EDIT_FIELDS` field as the workspace holds it (the owner by id: its name here)."""
        from kanban_tui.models import Period

        with closing(sqlite3.connect(self.path)) as conn:
            value = conn.execute(f"SELECT {name} FROM opportunities WHERE id = ?", (card_id,)).fetchone()[0]
        if name == "close_date" and value is not None:
            return date.fromisoformat(value)
        return Period(value) if name == "period" else value

    def note_texts(self, card_id: str) -> list[str]:
        """The deal's notes, newest first."""
        with closing(sqlite3.connect(self.path)) as conn:
            rows = conn.execute("SELECT text FROM notes WHERE opportunity_id = ? ORDER BY at DESC, rowid DESC",
                                (card_id,)).fetchall()
        return [r[0] for r in rows]

    def named(self, name: str) -> list[str]:
        """The ids of the deals called `name` (a new deal made once: one id)."""
        with closing(sqlite3.connect(self.path)) as conn:
            return [r[0] for r in conn.execute("SELECT id FROM opportunities WHERE name = ? ORDER BY id", (name,))]
