"""Fewer bytes on the wire for the same screen: the redundant cursor moves taken out of what Textual writes.

A partial repaint (Textual's `ChopsUpdate`) writes each line as `ESC[r;cH` + the line's segments, then, before the
next line, `ESC[r;c'H` (the cursor to where the line's scrollbar chop starts, nothing written there) and a line
feed (`\\n`, sent by the tty as `\\r\\n`), then the next line's own `ESC[r;cH`. That absolute move makes the move
and the line feed before it useless: ~12 bytes a line on the wire (issue 25). `compact` drops them, and only
them: a line feed (with at most one absolute move just before it) directly followed by an absolute move. What the
terminal shows is the same (`tests/test_wire_compact.py` plays both through a model terminal); a write boundary
leaves both as written.
"""

from __future__ import annotations

import re
from typing import Any

_MOVE = r"\x1b\[\d+;\d+H"
_USELESS = re.compile(rf"(?:{_MOVE})?\r?\n(?={_MOVE})")


def compact(data: str) -> str:
    """`data` without the cursor moves and line feeds that the next absolute cursor move makes useless."""
    if "\n\x1b[" not in data:
        return data
    return _USELESS.sub("", data)


def compacting(driver_class: type[Any]) -> type[Any]:
    """`driver_class` writing `compact(data)`."""

    class Compacting(driver_class):
        def write(self, data: str) -> None:
            super().write(compact(data))

    Compacting.__name__ = Compacting.__qualname__ = f"Compacting{driver_class.__name__}"
    return Compacting
