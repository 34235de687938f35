"""What a key writes to the terminal: only the lines that changed, and never a screen that differs from a full repaint.

`Wire` keeps a grid of the cells written so far, applying each update the app hands its driver (full frames,
regions and the chops of partial repaints) as a terminal would. After each key the grid must equal a full repaint of
the screen as it is now (so a partial repaint that left a stale line fails), and the keys must write only the lines
they change (so a key that repainted the whole column fails).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.segment import ControlType, Segment

from kanban_tui.backends.local import LocalBackend
from kanban_tui.widgets.column import CardList

from .helpers import MakeApp, board_screen, settle

SIZE = (120, 36)


class Wire:
    """The cells a terminal would show, from the updates the app writes; and the lines each update touched."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.grid: list[list[tuple[str, str | None]]] = [[(" ", None)] * SIZE[0] for _ in range(SIZE[1])]
        self.touched: set[int] = set()
        self.bytes = 0
        self.writes: list[str] = []
        """What the app handed its driver to write, update by update."""
        original = app._display

        def display(screen: Any, update: Any) -> None:
            original(screen, update)
            if update is not None:
                self.writes.append(update.render_segments(app.console))
                self.bytes += len(self.writes[-1])
                self.apply(update, self.grid, self.touched)

        app._display = display

    def apply(self, update: Any, grid: list[list[tuple[str, str | None]]], touched: set[int]) -> None:
        console: Console = self.app.console
        x = y = 0
        for segment in update.__rich_console__(console, console.options):
            if not isinstance(segment, Segment):
                continue
            if segment.control:
                for control in segment.control:
                    if control[0] == ControlType.CURSOR_MOVE_TO:
                        x, y = int(control[1]), int(control[2])  # type: ignore[misc]
                continue
            if segment.text == "\n":
                x, y = 0, y + 1
                continue
            for char in segment.text:
                if 0 <= y < len(grid) and 0 <= x < len(grid[y]):
                    grid[y][x] = (char, str(segment.style) if segment.style else None)
                    touched.add(y)
                x += 1

    def full(self) -> list[list[tuple[str, str | None]]]:
        """The screen as a full repaint draws it now, every line rendered again."""
        grid: list[list[tuple[str, str | None]]] = [[(" ", None)] * SIZE[0] for _ in range(SIZE[1])]
        for widget in self.app.screen.walk_children(with_self=True):  # every line rendered anew, none from a cache
            widget._styles_cache.clear()  # noqa: SLF001
        self.apply(self.app.screen._compositor.render_update(full=True), grid, set())  # noqa: SLF001
        return grid


def text(grid: list[list[tuple[str, str | None]]]) -> list[str]:
    return ["".join(c for c, _ in row) for row in grid]


async def press(pilot: Any, wire: Wire, key: str) -> tuple[set[int], int]:
    """The lines `key` wrote to, and its bytes; then the grid checked against a full repaint."""
    await settle(pilot)
    wire.touched, wire.bytes = set(), 0
    await pilot.press(key)
    await settle(pilot)
    full = wire.full()
    assert text(wire.grid) == text(full), f"the terminal shows a stale screen after {key}"
    assert wire.grid == full, f"the terminal shows stale styles after {key}"
    return wire.touched, wire.bytes


async def test_every_key_leaves_the_terminal_as_a_full_repaint_would(backend: LocalBackend,
                                                                     make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        wire = Wire(app)
        await settle(pilot)
        app.screen.refresh()  # the whole screen once, from the grid's start
        await settle(pilot)
        keys = ["down", "down", "up", "right", "down", "left", "greater_than_sign", "down", "less_than_sign",
                "end", "up", "home", "space", "down", "space", "escape", "slash", "a", "c", "backspace", "escape",
                "right", "right", "greater_than_sign", "left", "j", "k"]
        for key in keys:
            await press(pilot, wire, key)


async def test_a_focus_change_writes_the_two_cards_lines_alone(backend: LocalBackend, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        wire = Wire(app)
        await settle(pilot)
        cards = board_screen(app).columns[0].cards
        top = cards.region.y
        assert isinstance(cards, CardList)
        lines, _ = await press(pilot, wire, "down")
        # the first card's three lines (the cursor leaves it) and the second's (it arrives)
        assert lines == {top, top + 1, top + 2, top + 4, top + 5, top + 6}
        lines, _ = await press(pilot, wire, "right")
        header = board_screen(app).columns[1].header.region
        # the two columns' cursor cards and their headers (the active one's underline), nothing else
        assert lines <= {top, top + 1, top + 2, top + 4, top + 5, top + 6} | set(range(header.y, header.bottom))


async def test_a_search_keystroke_that_changes_no_column_writes_the_search_line_alone(
        big_workspace: Path, make_app: MakeApp) -> None:
    """`acm` → `acme` (and a backspace back) leave every column's matches as they were (2,000 cards: the columns
    scroll): the title (its words) and the search line are the lines that change. Input's own watcher made a
    layout of the screen on every keystroke (its virtual size is the text's width), and that layout repainted every
    card list's scrollbar (29 lines, ~3.8 KB)."""
    app = make_app(LocalBackend(big_workspace))
    async with app.run_test(size=SIZE) as pilot:
        wire = Wire(app)
        await settle(pilot)
        for key in ("slash", "a", "c", "m"):
            await press(pilot, wire, key)
        search = board_screen(app).query_one("#search").region
        for key in ("e", "backspace"):
            lines, _ = await press(pilot, wire, key)
            assert lines == {0, search.y}, f"{key} wrote lines {sorted(lines)}"


async def test_what_the_driver_writes_compacted_shows_the_same_cells(backend: LocalBackend, make_app: MakeApp) -> None:
    """The app's own writes (the board, a focus change, a column change, a move and its answer, a search), each
    compacted as the app's driver does (`kanban_tui.wire`), show the same cells in a model terminal as written;
    and a move writes far fewer bytes (its repeated styles: 0.48 of them here, 0.79 with the cursor moves alone)."""
    from kanban_tui.wire import compact

    from .test_wire_compact import screen

    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        wire = Wire(app)
        writes = wire.writes
        await settle(pilot)
        writes.clear()
        app.screen.refresh()  # the whole screen once
        await settle(pilot)
        sent, compacted = "".join(writes), "".join(compact(w) for w in writes)
        for key in ("down", "right", "greater_than_sign", "less_than_sign", "slash", "a", "escape"):
            writes.clear()
            await press(pilot, wire, key)
            assert writes, key
            sent += "".join(writes)
            compacted += "".join(compact(w) for w in writes)
            assert screen(compacted, SIZE[1], SIZE[0]) == screen(sent, SIZE[1], SIZE[0]), f"{key}: not the same cells"
            if key == "greater_than_sign":
                move, move_compacted = sum(map(len, writes)), sum(len(compact(w)) for w in writes)
                assert move_compacted <= 0.6 * move, (move_compacted, move)
