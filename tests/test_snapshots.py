"""Screenshots of the board, compared with reviewed SVGs in __snapshots__/.

Regenerate with `pytest tests/test_snapshots.py --snapshot-update` only after opening
the new SVGs (or snapshot_report.html) and checking them by eye.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kanban_tui import factory
from kanban_tui.backends.local import LocalBackend
from kanban_tui.store.seen import SeenStore

from .helpers import MakeApp, settle


def test_board_120x36(snap_compare, backend: LocalBackend, make_app: MakeApp) -> None:
    """The demo board: seven columns in order (Lead … ✓ Won, ✗ Lost), headers with count and
    totals, focus (▶) on the first Lead card, the sync line saying 'synced just now', the footer keys."""
    assert snap_compare(make_app(backend), terminal_size=(120, 36), run_before=settle)


def test_board_80x24(snap_compare, backend: LocalBackend, make_app: MakeApp) -> None:
    """An SSH-sized terminal: the board scrolls sideways (first four columns visible), after moving
    the focused card one column right it is focused (▶) at the top of Qualified."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("shift+right")
        await settle(pilot)

    assert snap_compare(make_app(backend), terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare, backend: LocalBackend, make_app: MakeApp) -> None:
    """`?` over the board: every key with its description, and what the marks on cards mean."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")

    assert snap_compare(make_app(backend), terminal_size=(120, 36), run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
def test_filtered_board(snap_compare, backend: LocalBackend, size: tuple[int, int], make_app: MakeApp) -> None:
    """`f` to the first owner listed (Lee Chen), then `/` `in` ⏎: the title says `owner: Lee Chen · / in`,
    each header `N of M` with the matches' totals (nothing cut: the label gives way), the status line
    `N of 64 deals`, columns without a match say `no match`."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("f", "down", "enter")
        await settle(pilot)
        await pilot.press("slash", "i", "n", "enter")
        await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app(backend), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
def test_change_marks(snap_compare, workspace: Path, state_dir: Path, size: tuple[int, int],
                      make_app: MakeApp) -> None:
    """What the user saw last time differs for four cards: the top Lead card was in Qualified (moved),
    the top Qualified card had another value (re-valued), the top Demo card was not there (new), one card
    is gone; the toast says `1 new, 1 moved, 1 re-valued, 1 gone (Gone Ltd) · c steps through them`. Each
    marked card ends its name line in `◆` (its word too where the whole name fits beside it: here it does
    not, and the name keeps its letters)."""
    backend = LocalBackend(workspace)
    with closing(sqlite3.connect(workspace)) as conn:
        rows = conn.execute("SELECT id, status_id, value, name FROM opportunities ORDER BY updated DESC").fetchall()
    seen = {r[0]: (r[1], r[2], r[3]) for r in rows}
    top = {status: next(r[0] for r in rows if r[1] == status) for status in ("st_lead", "st_qualified", "st_demo")}
    seen[top["st_lead"]] = ("st_qualified", *seen[top["st_lead"]][1:])
    seen[top["st_qualified"]] = (seen[top["st_qualified"]][0], 1, seen[top["st_qualified"]][2])
    del seen[top["st_demo"]]
    seen["gone1"] = ("st_lead", 100, "Gone Ltd")
    store = SeenStore(state_dir / factory.SEEN, backend.identity)  # what the user saw when they last looked
    store.save("pipe_sales", seen, "2026-11-22T09:00:00+00:00")

    app = make_app(backend)
    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_pipeline_picture_80x24(snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                request: pytest.FixtureRequest, make_app: MakeApp) -> None:
    """`P` at 80x24: per status (✓ Won, ✗ Lost with their glyphs) a bar of deals with the count and a bar of
    value in the main currency with `+N cur`; below, won and lost per week side by side over 12 weeks
    (`-11w` … `now`), the dates from a fixed now (the demo data and the weeks both hang on it)."""
    from kanban_tui.backends import local
    from kanban_tui.backends.demo_data import DEMO_PIPELINE, demo_opportunities

    now = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)  # a Wednesday
    monkeypatch.setattr(local, "_now", lambda: now)
    monkeypatch.setenv("TZ", "UTC")  # weeks are local: the same Mondays on every machine
    time.tzset()
    request.addfinalizer(time.tzset)  # after monkeypatch has put TZ back
    path = tmp_path / "workspace.sqlite3"
    local.create_workspace(path, demo_size=None)
    with closing(sqlite3.connect(path)) as conn, conn:
        local.write_pipeline(conn, DEMO_PIPELINE)
        local.insert_opportunities(conn, demo_opportunities(64, now=now))

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)

    assert snap_compare(make_app(LocalBackend(path)), terminal_size=(80, 24),
                        run_before=run_before)


def test_marked_cards_80x24(snap_compare, backend: LocalBackend, make_app: MakeApp) -> None:
    """`space` on three cards (the first two of Lead, the first of Qualified), the focus back on the first Lead
    card: each marked card starts its name line with `●` (the name gives way to it, cut with `…`), the
    unmarked ones do not; the status line says `64 deals · 3 marked · ✓ synced just now`."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("space", "j", "space", "2", "space", "1", "k")
        await settle(pilot)

    assert snap_compare(make_app(backend), terminal_size=(80, 24), run_before=run_before)
