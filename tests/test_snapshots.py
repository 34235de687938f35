"""Screenshots of the board, compared with reviewed SVGs in __snapshots__/.

Regenerate with `pytest tests/test_snapshots.py --snapshot-update` only after opening
the new SVGs (or snapshot_report.html) and checking them by eye.
"""

from __future__ import annotations

from kanban_tui.app import KanbanApp
from kanban_tui.backends.local import LocalBackend

from .helpers import settle


def test_board_120x36(snap_compare, backend: LocalBackend) -> None:  # type: ignore[no-untyped-def]
    """The demo board: seven columns in order (Lead … ✓ Won, ✗ Lost), headers with count and
    totals, focus (▶) on the first Lead card, the sync line saying 'synced just now', the footer keys."""
    assert snap_compare(KanbanApp(backend, poll_interval=3600), terminal_size=(120, 36), run_before=settle)


def test_board_80x24(snap_compare, backend: LocalBackend) -> None:  # type: ignore[no-untyped-def]
    """An SSH-sized terminal: the board scrolls sideways (first four columns visible), after moving
    the focused card one column right it is focused (▶) at the top of Qualified."""

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("shift+right")
        await settle(pilot)

    assert snap_compare(KanbanApp(backend, poll_interval=3600), terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare, backend: LocalBackend) -> None:  # type: ignore[no-untyped-def]
    """`?` over the board: every key with its description, and what the marks on cards mean."""

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("question_mark")

    assert snap_compare(KanbanApp(backend, poll_interval=3600), terminal_size=(120, 36), run_before=run_before)
