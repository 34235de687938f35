"""Issue 15: the saved board opens first, then only what changed (warm start); a cold start shows
every column's first screen before the rest (progressive)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from kanban_tui.backends.demo_data import DEMO_PIPELINE, demo_opportunities
from kanban_tui.store.board_copy import BoardCopy


def test_the_saved_board_keeps_its_cursor_and_an_older_copy_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "last-board.sqlite3"
    with closing(sqlite3.connect(path)) as conn, conn:  # a copy written by the version before cursors
        conn.execute("CREATE TABLE boards (identity TEXT NOT NULL, pipeline_id TEXT NOT NULL, pipeline_name TEXT NOT"
                     " NULL, saved_at TEXT NOT NULL, pipeline TEXT NOT NULL, opportunities TEXT NOT NULL,"
                     " PRIMARY KEY (identity, pipeline_id))")
        conn.execute("INSERT INTO boards VALUES ('acct', 'pipe_sales', 'Sales', ?, ?, '[]')",
                     (datetime.now(UTC).isoformat(), DEMO_PIPELINE.model_dump_json()))
    copy = BoardCopy(path, "acct")
    old = copy.load("Sales")
    assert old is not None and old.cursor is None and old.opportunities == []
    cards = demo_opportunities(5)
    assert copy.save(DEMO_PIPELINE, cards, datetime.now(UTC), cursor="2026-11-23T09:00:00+00:00") is None
    saved = copy.load("pipe_sales")
    assert saved is not None and saved.cursor == "2026-11-23T09:00:00+00:00" and saved.opportunities == cards
