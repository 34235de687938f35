"""Screenshots of acting on a deal (issue 23), compared with reviewed SVGs in __snapshots__/: the edit form at
120x36 (its 80x24 one is in test_forms.py) and a deal's details with its notes at 80x24 and 120x36. Regenerate with
`--snapshot-update` only after opening the new SVGs and checking them by eye."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from kanban_tui.models import Note, Status
from kanban_tui.screens.detail import DetailScreen

from .test_forms import DEAL, Host, edit_form

NOTES = [
    Note(when=datetime(2026, 11, 30, 16, 5, tzinfo=UTC), author="Lee Chen",
         text="Called Maria: budget approved for Q1.\nWants a demo for the ops team next week."),
    Note(when=datetime(2026, 11, 21, 9, 40, tzinfo=UTC), author="Ann",
         text="Sent the renewal quote (12.5k, annual). " + "They compare us with two other vendors; " * 4),
    Note(when=datetime(2026, 11, 2, 11, 0, tzinfo=UTC), author=None, text="First call \x1b[2J[/] from the web form."),
]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Notes are dated in local time: the screenshots are taken in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def test_the_edit_form_120x36(snap_compare) -> None:
    """`e` on Acme at 120x36: the form centred, the value focused and selected, every field with its hint."""
    assert snap_compare(Host(edit_form()), terminal_size=(120, 36))


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
def test_the_details_with_notes(snap_compare, size: tuple[int, int]) -> None:
    """⏎ on Acme: its fields (the close date among them), then its latest notes newest first, each with date and
    author (`author unknown` where none), a few lines each, the long one cut after a whole word with `…`, an escape
    shown as text, nothing else cut."""
    screen = DetailScreen(DEAL, Status(id="s1", label="Qualified"), crm="Close", notes_of="the deal")

    async def run_before(pilot) -> None:
        await pilot.pause()
        screen.show_notes(NOTES, None)
        await pilot.pause()

    assert snap_compare(Host(screen), terminal_size=size, run_before=run_before)
