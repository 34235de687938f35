"""A search keystroke at scale (issue 25): one frame shows the typed letter with the matches, and the card lists
draw each line of that frame once.

Counts, not times: frames the app hands its driver, lines the card lists render.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kanban_tui.backends.local import LocalBackend, create_workspace
from kanban_tui.widgets.column import CardList

from .helpers import MakeApp, board_screen, settle

SIZE = (120, 36)


class Frames:
    """The frames the app writes (`App._display` with an update), and the widgets each repainted."""

    def __init__(self, app: Any) -> None:
        self.painted: list[set[Any]] = []
        original = app._display

        def display(screen: Any, update: Any) -> None:
            original(screen, update)
            if update is not None:
                self.painted.append(set(screen._dirty_widgets))  # noqa: SLF001

        app._display = display


async def test_a_search_keystroke_draws_the_letter_and_the_matches_in_one_frame(
        tmp_path: Path, make_app: MakeApp) -> None:
    """The first frame after each keystroke of `acme` (and the backspaces) shows the search line with every card
    list the keystroke changed (and their headers). The screen drew the search line alone first, and the columns
    in a second frame one frame period (1/60 s) or more later: the card lists asked for their repaint after the
    screen's frame had begun. (A keystroke that shows or hides a column's scrollbar makes a layout, whose
    scrollbars Textual repaints in frames of their own after it.)"""
    path = tmp_path / "workspace.sqlite3"
    create_workspace(path, demo_size=2000)
    app = make_app(LocalBackend(path))
    async with app.run_test(size=SIZE) as pilot:
        frames = Frames(app)
        await settle(pilot)
        screen = board_screen(app)
        screen.search_line.cursor_blink = False  # its blinks are frames of their own
        changed: list[set[CardList]] = []
        apply = screen.apply_search

        def applied(text: str) -> None:
            apply(text)
            changed.append({cards for cards in screen.query(CardList) if cards._repaint_required})  # noqa: SLF001

        screen.apply_search = applied  # type: ignore[method-assign]
        await pilot.press("slash")
        await settle(pilot)
        heavy = 0
        for key in ("a", "c", "m", "e", "backspace", "backspace", "backspace", "backspace"):
            frames.painted.clear()
            changed.clear()
            await pilot.press(key)
            await settle(pilot)
            assert frames.painted and changed, f"{key}: not drawn"
            first = frames.painted[0]
            assert screen.search_line in first, f"{key}: the first frame drew {first}"
            assert changed[-1] <= first, f"{key}: the first frame drew {first}, not every card list that changed"
            if changed[-1]:
                heavy += 1
                assert {c.header for c in screen.columns if c.cards in changed[-1]} <= first
        assert heavy >= 4  # the keystrokes that narrow or widen the matches (`c`, `m`, and back)
