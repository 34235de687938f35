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


async def test_the_local_first_screen_gives_each_columns_exact_count_totals_and_newest_cards(tmp_path: Path) -> None:
    from kanban_tui.backends.local import LocalBackend, create_workspace
    from kanban_tui.sync.board import Board

    path = tmp_path / "w.sqlite3"
    create_workspace(path, demo_size=2000)
    backend = LocalBackend(path)
    pipeline = (await backend.list_pipelines())[0]
    starts = await backend.first_screen(pipeline, 9)
    whole = Board(pipeline)
    async for page in backend.load_opportunities(pipeline):
        whole.add(page.opportunities)
    assert [s.status_id for s in starts] == [s.id for s in pipeline.statuses]
    for start in starts:
        summary = whole.summary(start.status_id)
        assert start.count == summary.count
        assert start.totals == summary.totals and list(start.totals) == list(summary.totals), "main currency first"
        assert start.weighted == summary.weighted and start.recurring == summary.annualized
        assert [o.id for o in start.cards] == whole.column_ids(start.status_id, 0, 9), "newest first, as the board"
