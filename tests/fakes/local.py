"""The local workspace's "fake": a real SQLite workspace in a temp dir, written by another
connection as a teammate's process would. For tests/test_contract.py."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
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
