"""What the app writes to a terminal, with Textual's useless cursor moves and repeated styles taken out, shows the
same (issue 25)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from kanban_tui.wire import compact, compacting

_TOKEN = re.compile(
    r"\x1b\[(\d+);(\d+)H|\x1b\[([0-9;]*)m|\x1b\[(K)|\x1b\[([su])|(\x1b\[[0-?]*[ -/]*[@-~])|(\r)|(\n)|([^\x1b\r\n])"
)

Look = tuple[frozenset[str], str, str]
"""Attributes on, foreground, background ("": the terminal's default)."""
PLAIN: Look = (frozenset(), "", "")
_OFF = {"22": {"1", "2"}, "23": {"3"}, "24": {"4", "21"}, "25": {"5", "6"}, "27": {"7"}, "28": {"8"}, "29": {"9"},
        "54": {"51", "52"}, "55": {"53"}}


def sgr(look: Look, params: str) -> Look:
    """A terminal's reading of `ESC[{params}m`: the codes left to right, each changing what it names."""
    flags, fg, bg = look
    codes = params.split(";")
    while codes:
        code = codes.pop(0)
        if code in ("", "0"):
            flags, fg, bg = frozenset(), "", ""
        elif code in ("38", "48"):
            kind = codes.pop(0)
            colour = kind + ":" + ":".join(codes.pop(0) for _ in range(1 if kind == "5" else 3))
            fg, bg = (colour, bg) if code == "38" else (fg, colour)
        elif code in ("39", "49"):
            fg, bg = ("", bg) if code == "39" else (fg, "")
        elif code in _OFF:
            flags -= _OFF[code]
        elif 30 <= int(code) <= 37 or 90 <= int(code) <= 97:
            fg = "5:" + str(int(code) - 30 if int(code) < 90 else int(code) - 82)  # the same colour as 38;5;n
        elif 40 <= int(code) <= 47 or 100 <= int(code) <= 107:
            bg = "5:" + str(int(code) - 40 if int(code) < 100 else int(code) - 92)
        else:
            flags |= {code}
    return flags, fg, bg


def screen(data: str, rows: int = 6, cols: int = 12, start: str = "") -> list[list[tuple[str, Look]]]:
    """The cells (character, its look) a terminal shows after `data`, in the look `ESC[{start}m` at first: absolute
    moves, CR, LF (at the bottom it scrolls), SGR, the cursor saved and restored with its look (`CSI s` / `CSI u`,
    as xterm does), erase to the end of the line (the new cells in the background in force, as terminals do), text
    (cut at the right edge)."""
    grid = [[(" ", PLAIN)] * cols for _ in range(rows)]
    y = x = 0
    look = sgr(PLAIN, start)
    saved = (y, x, look)
    for move_y, move_x, params, erase, save, _other, cr, lf, char in _TOKEN.findall(data):
        if save == "s":
            saved = (y, x, look)
        elif save == "u":
            y, x, look = saved
        elif move_y:
            y, x = int(move_y) - 1, int(move_x) - 1
        elif cr:
            x = 0
        elif lf and y < rows - 1:
            y += 1
        elif lf:  # at the bottom: the screen scrolls up, a new line in the background in force
            grid = [*grid[1:], [(" ", (frozenset(), "", look[2]))] * cols]
        elif erase:
            grid[y][x:] = [(" ", (frozenset(), "", look[2]))] * (cols - x)
        elif char:
            if x < cols:
                grid[y][x] = (char, look)
            x += 1
        elif not _other:
            look = sgr(look, params)
    return grid


def line(y: int, text: str, bar_x: int) -> str:
    """One line of a partial repaint as Textual writes it: its move, its segments, the move to the scrollbar's
    chop (nothing written there), then a line feed."""
    return f"\x1b[{y};1H\x1b[38;5;69;48;5;234m▌\x1b[0m\x1b[38;5;253m{text}\x1b[0m\x1b[{y};{bar_x}H\n"


def card_line(y: int, x: int, text: str, bold: bool = False) -> str:
    """A card line as Textual writes it (the 256-colour board): the gutter in the column's colour, the text."""
    b = "1;" if bold else ""
    return f"\x1b[{y};{x}H\x1b[38;5;69;48;5;234m▌\x1b[0m\x1b[{b}38;5;253;48;5;234m{text}\x1b[0m"


def test_the_moves_before_an_absolute_move_go_and_the_screen_is_the_same() -> None:
    data = line(2, "Acme", 7) + line(3, "$4,000", 9) + "\x1b[4;1H\x1b[1mBeta\x1b[0m\n\x1b[5;2Hx\n" + "tail"
    compacted = compact(data)
    assert screen(compacted) == screen(data)
    assert "\x1b[2;7H" not in compacted and "\x1b[3;9H" not in compacted
    assert compacted.count("\n") == 1  # the last one is followed by text, not a move: kept (it moves the cursor)


def test_the_model_terminal_sees_a_line_feed_dropped_wrongly() -> None:
    data = line(2, "Acme", 7) + "\x1b[3;2Hx\nyz"
    assert screen(data.replace("x\nyz", "xyz")) != screen(data)  # the test can fail: a needed line feed matters


def test_the_model_terminal_sees_a_style_carried_wrongly() -> None:
    """The test can fail: a reset dropped where the next text needs it, or a style left in force over an erase."""
    data = "\x1b[1;2H\x1b[1;38;5;69mAb\x1b[0m\x1b[2;1Hcd"
    assert screen(data.replace("\x1b[0m", "")) != screen(data)
    erase = "\x1b[1;1H\x1b[48;5;17mx\x1b[0m\x1b[K"
    assert screen(erase.replace("\x1b[0m\x1b[K", "\x1b[K\x1b[0m")) != screen(erase)
    assert screen("\x1b[3mx", start="1") != screen("\x1b[3mx")  # the look a write starts in counts


def test_card_lines_write_each_change_of_style_once_and_the_screen_is_the_same() -> None:
    """Each line sets the gutter's colour and the text's, and resets after each: here the background is set once,
    the text's colour as a change, and no reset but where an attribute goes (the bold name line)."""
    data = "".join(card_line(y, 1, f"line {y} text", bold=y % 4 == 1) for y in range(1, 6)) + "\x1b[6;3H"
    compacted = compact(data)
    assert screen(compacted, cols=16) == screen(data, cols=16)
    assert compacted.count("48;5;234") < data.count("48;5;234") and compacted.count("\x1b[0m") < 5
    assert len(compacted) <= len(data) * 0.75, (len(compacted), len(data))
    # the look is the terminal's own again at the end of the write (Textual's other writes assume it)
    assert compacted.endswith("\x1b[6;3H\x1b[0m") or compacted.endswith("\x1b[0m\x1b[6;3H")


def test_a_segment_in_the_style_in_force_writes_no_sgr() -> None:
    data = "\x1b[1;1H\x1b[0m\x1b[48;5;234m \x1b[0m\x1b[48;5;234m  \x1b[0m\x1b[48;5;234m \x1b[0m"
    compacted = compact(data)
    assert compacted == "\x1b[1;1H\x1b[0;48;5;234m    \x1b[0m" and screen(compacted) == screen(data)


def test_the_look_in_force_is_written_before_anything_else_the_terminal_reads() -> None:
    """A pending style crosses absolute cursor moves only: an erase, a line feed, any other sequence sees the look
    the data as it came put the terminal in."""
    data = "\x1b[1;1H\x1b[48;5;17mab\x1b[0m\x1b[K\x1b[2;1H\x1b[48;5;17mc\x1b[0m\n\x1b[?25lx"
    compacted = compact(data)
    assert screen(compacted) == screen(data)
    assert "\x1b[0m\x1b[K" in compacted


def test_what_the_write_starts_in_is_not_assumed() -> None:
    """Until a reset, the write's SGRs go as they came; the first style after it is written whole."""
    data = "\x1b[1;1H\x1b[3mab\x1b[0m\x1b[38;5;1mc\x1b[0m"
    compacted = compact(data)
    for start in ("", "1", "48;5;17", "4;38;5;2"):
        assert screen(compacted, start=start) == screen(data, start=start)
    assert compacted == "\x1b[1;1H\x1b[3mab\x1b[0;38;5;1mc\x1b[0m"


def test_text_without_the_patterns_is_left_as_written() -> None:
    for data in ("", "plain", "\x1b[2;1Habc", "a\r\nb", "\x1bPtmux;\x1b\x1b]52;c;eA==\x07\x1b\\",
                 "\x1b[1mab\x1b[0m\x1b7\x1b[1mc\x1b[0m",  # an escape not followed: written as it came
                 "\x1b[21mab\x1b[0m\x1b[21mc\x1b[0m",  # double underline (bold off to some terminals): as it came
                 "\x1b[4:3mab\x1b[0m\x1b[4:3mc\x1b[0m", "\x1b[38;5mab\x1b[0m"):
        assert compact(data) == data


def test_a_link_is_read_past_not_into() -> None:
    """A hyperlink (OSC 8, as Textual writes a linked segment) is a sequence of its own: no SGR goes inside it."""
    data = ("\x1b[1;1H\x1b[38;5;69mab\x1b[0m\x1b]8;id=1;https://example.com/x;y\x1b\\\x1b[38;5;69mc\x1b[0m"
            "\x1b]8;;\x1b\\")
    compacted = compact(data)
    assert "\x1b]8;id=1;https://example.com/x;y\x1b\\" in compacted and "\x1b]8;;\x1b\\" in compacted
    assert screen(re.sub(r"\x1b\][^\x1b]*\x1b\\", "", compacted)) == screen(re.sub(r"\x1b\][^\x1b]*\x1b\\", "", data))


_LOOKS = st.sampled_from(["", "0", "1", "3", "1;3", "7", "38;5;69", "38;5;253;48;5;234", "1;38;5;253;48;5;234",
                          "48;5;234", "3;38;5;214;48;5;58", "31", "41;97", "39", "49", "38;2;10;20;30",
                          "1;38;2;10;20;30;48;2;1;2;3", "2;9", "53", "0;1;38;5;1"])
_PIECES = st.one_of(
    st.builds(lambda s, t: f"\x1b[{s}m{t}\x1b[0m", _LOOKS, st.text("ab █", max_size=3)),  # a segment
    st.builds(lambda s: f"\x1b[{s}m", _LOOKS),  # an SGR alone
    st.builds(lambda y, x: f"\x1b[{y};{x}H", st.integers(1, 5), st.integers(1, 12)),
    st.sampled_from(["\n", "\r", "\x1b[K", "\x1b[?25l", "\x1b[?2026h", "\x1b[2C", "\x1b[s", "\x1b[u", "x", "é"]),
)


@given(st.lists(st.lists(_PIECES, max_size=14), min_size=1, max_size=3), st.sampled_from(["", "1", "48;5;17"]))
def test_any_writes_show_the_same_compacted(writes: list[list[str]], start: str) -> None:
    """Writes of segments, moves, line feeds, erases: each compacted apart (as the driver does), the same cells."""
    data = ["\x1b[1;1H" + "".join(pieces) for pieces in writes]
    assert screen("".join(compact(d) for d in data), start=start) == screen("".join(data), start=start)


def test_the_driver_writes_compacted_data() -> None:
    written: list[str] = []

    class Recording:
        def write(self, data: str) -> None:
            written.append(data)

    driver = compacting(Recording)()
    driver.write(line(2, "Acme", 7) + "\x1b[3;1Hb")
    assert written == ["\x1b[2;1H\x1b[38;5;69;48;5;234m▌\x1b[0;38;5;253mAcme\x1b[3;1H\x1b[0mb"]
    assert isinstance(driver, Recording)


def test_the_app_runs_on_a_compacting_driver() -> None:
    from textual.driver import Driver

    from kanban_tui.app import KanbanApp

    driver_class = KanbanApp.__new__(KanbanApp).get_driver_class()  # (no app built: its backend aside)
    assert issubclass(driver_class, Driver) and driver_class.__name__.startswith("Compacting")
