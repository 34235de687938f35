"""What the app writes to a terminal, with Textual's useless cursor moves taken out, shows the same (issue 25)."""

from __future__ import annotations

import re

from kanban_tui.wire import compact, compacting

_TOKEN = re.compile(r"\x1b\[(\d+);(\d+)H|\x1b\[([0-9;]*)m|(\r)|(\n)|([^\x1b\r\n])")


def screen(data: str, rows: int = 6, cols: int = 12) -> list[list[tuple[str, str]]]:
    """The cells (character, SGR in force) a terminal shows after `data`: absolute moves, CR, LF, SGR, text."""
    grid = [[(" ", "")] * cols for _ in range(rows)]
    y = x = 0
    sgr = ""
    for move_y, move_x, params, cr, lf, char in _TOKEN.findall(data):
        if move_y:
            y, x = int(move_y) - 1, int(move_x) - 1
        elif cr:
            x = 0
        elif lf:
            assert y < rows - 1, "a line feed at the bottom would scroll the screen"
            y += 1
        elif char:
            grid[y][x] = (char, sgr)
            x += 1
        else:
            sgr = "" if params in ("", "0") else sgr + ";" + params
    return grid


def line(y: int, text: str, bar_x: int) -> str:
    """One line of a partial repaint as Textual writes it: its move, its segments, the move to the scrollbar's
    chop (nothing written there), then a line feed."""
    return f"\x1b[{y};1H\x1b[38;5;69;48;5;234m▌\x1b[0m\x1b[38;5;253m{text}\x1b[0m\x1b[{y};{bar_x}H\n"


def test_the_moves_before_an_absolute_move_go_and_the_screen_is_the_same() -> None:
    data = line(2, "Acme", 7) + line(3, "$4,000", 9) + "\x1b[4;1H\x1b[1mBeta\x1b[0m\n\x1b[5;2Hx\n" + "tail"
    compacted = compact(data)
    assert screen(compacted) == screen(data)
    assert "\x1b[2;7H" not in compacted and "\x1b[3;9H" not in compacted
    assert compacted.count("\n") == 1  # the last one is followed by text, not a move: kept (it moves the cursor)
    assert len(data) - len(compacted) == 2 * len("\x1b[2;7H\n") + len("\n")


def test_the_model_terminal_sees_a_line_feed_dropped_wrongly() -> None:
    data = line(2, "Acme", 7) + "\x1b[3;2Hx\nyz"
    assert screen(data.replace("x\nyz", "xyz")) != screen(data)  # the test can fail: a needed line feed matters


def test_text_without_the_pattern_is_left_as_written() -> None:
    for data in ("", "plain", "\x1b[2;1Habc", "a\r\nb", "\x1bPtmux;\x1b\x1b]52;c;eA==\x07\x1b\\"):
        assert compact(data) == data


def test_the_driver_writes_compacted_data() -> None:
    written: list[str] = []

    class Recording:
        def write(self, data: str) -> None:
            written.append(data)

    driver = compacting(Recording)()
    driver.write(line(2, "Acme", 7) + "\x1b[3;1Hb")
    assert written == ["\x1b[2;1H\x1b[38;5;69;48;5;234m▌\x1b[0m\x1b[38;5;253mAcme\x1b[0m\x1b[3;1Hb"]
    assert isinstance(driver, Recording)


def test_the_app_runs_on_a_compacting_driver() -> None:
    from textual.driver import Driver

    from kanban_tui.app import KanbanApp

    driver_class = KanbanApp.__new__(KanbanApp).get_driver_class()  # (no app built: its backend aside)
    assert issubclass(driver_class, Driver) and driver_class.__name__.startswith("Compacting")
