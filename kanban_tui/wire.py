"""Fewer bytes on the wire for the same screen: what Textual writes, without what the terminal would not show.

Two steps, each leaving every cell the terminal shows as it was (character and look), checked by
`tests/test_wire_compact.py`, which plays data through a model terminal before and after:

1. **Useless cursor moves.** A partial repaint (Textual's `ChopsUpdate`) writes each line as `ESC[r;cH` + the
   line's segments, then, before the next line, `ESC[r;c'H` (the cursor to where the line's scrollbar chop starts,
   nothing written there) and a line feed (`\\n`, sent by the tty as `\\r\\n`), then the next line's own
   `ESC[r;cH`. That absolute move makes the move and the line feed before it useless: ~12 bytes a line (issue 25).
   Dropped, and only them: a line feed (with at most one absolute move just before it) directly followed by an
   absolute move.
2. **Repeated styles.** Textual writes every segment as `ESC[S m` text `ESC[0m`: a card line of two segments
   sets its background twice and resets twice, and the next line sets it again. Here each SGR is followed as a
   terminal follows it (which style is in force), and only the change is written, where text is written: a
   segment in the style already in force writes no SGR; one that only adds attributes or changes a colour writes
   those codes alone (`ESC[38;5;253m`); one that drops an attribute writes a reset and the style in one SGR
   (`ESC[0;S m`), as short as the two. ~25 bytes a card line. Only codes Textual itself writes are written
   (attributes on, colours, `39`/`49` for the default colours, `0`): no "attribute off" code, which not every
   terminal takes. The pending style is carried across absolute cursor moves only (they do not depend on it);
   before any other control or escape sequence the terminal is in the style it would have been in, and at the end
   of each write too (as Textual leaves it). What a write starts in is taken as unknown: its first style is
   written whole. Data with an SGR code or an escape sequence this does not know is written as it came.
"""

from __future__ import annotations

import re
from typing import Any

_MOVE = r"\x1b\[\d+;\d+H"
_USELESS = re.compile(rf"(?:{_MOVE})?\r?\n(?={_MOVE})")

_TOKENS = re.compile(
    r"\x1b\[([0-9;]*)m"  # 1: SGR
    r"|(\x1b\[\d*(?:;\d*)?H)"  # 2: absolute cursor move
    r"|(\x1b\[[0-?]*[ -/]*[A-GJKX]|[\r\n])"  # 3: other moves, erases, CR, LF: they leave the style in force
    r"|([^\x00-\x1f\x7f-\x9f]+)"  # 4: text
    r"|(\x1b\[[0-?]*[ -/]*[@-ln-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|[\x00-\x1a\x1c-\x1f\x7f-\x9f])"  # 5: other
    r"|(\x1b)"  # 6: any other escape (an SGR not read here among them): the data is written as it came
)
_FLAGS = frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "9", "51", "52", "53"})
"""Attributes Textual writes (Rich's style map, less `21`: double underline to some terminals, bold off to others)."""
_FG = frozenset({*map(str, range(30, 38)), *map(str, range(90, 98))})
_BG = frozenset({*map(str, range(40, 48)), *map(str, range(100, 108))})

Look = tuple[frozenset[str], str | None, str | None]
"""The style in force: attributes on, foreground, background (`None`: the terminal's default)."""
PLAIN: Look = (frozenset(), None, None)


class _Unknown(ValueError):
    """An SGR code not followed here."""


def _apply(look: Look | None, params: str) -> Look | None:
    """The style in force after `ESC[{params}m` in `look` (None: not known, and still not known unless reset)."""
    codes = params.split(";")
    flags, fg, bg = look if look is not None else PLAIN
    known = look is not None
    i = 0
    while i < len(codes):
        code = codes[i]
        if code in ("", "0"):
            flags, fg, bg, known = frozenset(), None, None, True
        elif code in _FLAGS:
            flags |= {code}
        elif code in ("38", "48"):
            take = {"5": 3, "2": 5}.get(codes[i + 1] if i + 1 < len(codes) else "")
            if take is None or i + take > len(codes) or not all(codes[i + 2:i + take]):
                raise _Unknown(params)
            colour = ";".join(codes[i:i + take])
            fg, bg = (colour, bg) if code == "38" else (fg, colour)
            i += take - 1
        elif code in ("39", "49"):
            fg, bg = (None, bg) if code == "39" else (fg, None)
        elif code in _FG:
            fg = code
        elif code in _BG:
            bg = code
        else:
            raise _Unknown(params)
        i += 1
    return (flags, fg, bg) if known else None


def _codes(flags: frozenset[str], fg: str | None, bg: str | None) -> list[str]:
    return [*sorted(flags, key=int), *([fg] if fg else []), *([bg] if bg else [])]


def _change(now: Look | None, to: Look) -> str:
    """The shortest SGR that takes the terminal from `now` (None: not known) to `to`, with the codes Textual writes."""
    flags, fg, bg = to
    whole = "\x1b[" + ";".join(["0", *_codes(flags, fg, bg)]) + "m"
    if now is None or not now[0] <= flags:  # not known, or an attribute to drop: a reset first
        return whole
    codes = _codes(flags - now[0], None, None)
    if fg != now[1]:
        codes.append(fg or "39")
    if bg != now[2]:
        codes.append(bg or "49")
    step = "\x1b[" + ";".join(codes) + "m"
    return step if len(step) < len(whole) else whole


_STEPS: dict[tuple[Look | None, str], Look | None] = {}
_CHANGES: dict[tuple[Look | None, Look], str] = {}
"""`_apply` and `_change` as they answered before: a frame has a few dozen distinct styles and thousands of SGRs."""


def _restyle(data: str) -> str:
    """`data` writing only the changes of style where text is written (see the module's docstring)."""
    if len(_STEPS) > 4096 or len(_CHANGES) > 4096:
        _STEPS.clear()
        _CHANGES.clear()
    out: list[str] = []
    write = out.append
    now: Look | None = None  # the style the terminal is in, as written so far (None: not known)
    want: Look | None = None  # the style `data` as it came would have put it in
    for sgr, move, keeps, text, other, escape in _TOKENS.findall(data):
        if text or keeps or other:
            if want != now and want is not None:
                change = _CHANGES.get((now, want))
                if change is None:
                    change = _CHANGES[now, want] = _change(now, want)
                write(change)
                now = want
            write(text or keeps or other)
            if other:  # (a mode, a saved cursor restored with its look, a link, ...): what is in force, not known
                now = want = None
        elif move:
            write(move)
        elif escape:
            return data
        else:
            try:
                after = _STEPS[want, sgr]
            except KeyError:
                try:
                    after = _STEPS[want, sgr] = _apply(want, sgr)
                except _Unknown:
                    return data
            if want is None and after is None:  # not known yet: written as it came (once a reset makes it
                write(f"\x1b[{sgr}m")  # known, the style is written whole where text needs it)
            want = after
    if want != now and want is not None:
        write(_change(now, want))
    return "".join(out)


def compact(data: str) -> str:
    """`data` without the cursor moves and line feeds that the next absolute cursor move makes useless, and with
    only the changes of style written."""
    if "\n\x1b[" in data:
        data = _USELESS.sub("", data)
    if "m" in data and "\x1b[" in data:
        data = _restyle(data)
    return data


def compacting(driver_class: type[Any]) -> type[Any]:
    """`driver_class` writing `compact(data)`."""

    class Compacting(driver_class):
        def write(self, data: str) -> None:
            super().write(compact(data))

    Compacting.__name__ = Compacting.__qualname__ = f"Compacting{driver_class.__name__}"
    return Compacting
