"""The least a first frame of the board can cost with Textual: a bare app that reads one workspace's columns and
first cards with `sqlite3` and draws them as plain `Static`s under the board's stylesheet.

    python -m benchmarks.bare_board WORKSPACE      (started by `benchmarks.first_frame --bare-board`)

No dealboard module is imported (no pydantic, no models, no session, no stores, no CRM registry): what it costs over
the floor (a bare Textual app with one `Static`) is what Textual charges for seven columns of text, their CSS and
one SQL read. The real app's first frame cannot be cheaper than this while it is drawn by Textual; the distance
from this to the app is what dealboard's own code costs (its imports, its start, the frames before the first one
with cards). Not a board: no keys, no virtual lists, no money formatting beyond the digits.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

STYLES = Path(__file__).resolve().parent.parent / "styles" / "app.tcss"
PER_COLUMN = 12


def read(workspace: str) -> list[tuple[str, int, list[tuple[str, int | None, str, str | None]]]]:
    with sqlite3.connect(f"file:{workspace}?mode=ro", uri=True) as db:
        statuses = db.execute("SELECT id, label FROM statuses ORDER BY position").fetchall()
        counts = dict(db.execute("SELECT status_id, count(*) FROM opportunities GROUP BY status_id").fetchall())
        return [(label, counts.get(sid, 0), db.execute(
            "SELECT name, value, currency, owner FROM opportunities WHERE status_id = ? ORDER BY updated DESC, id"
            " LIMIT ?", (sid, PER_COLUMN)).fetchall()) for sid, label in statuses]


class BareBoard(App[None]):
    CSS_PATH = STYLES
    CSS = "#bare > Vertical { width: 1fr; margin-right: 1; }"

    def __init__(self, columns: list[tuple[str, int, list[tuple[str, int | None, str, str | None]]]]) -> None:
        super().__init__()
        self.columns = columns

    def compose(self) -> ComposeResult:
        with Horizontal(id="bare"):
            for label, count, cards in self.columns:
                with Vertical():
                    yield Static(f"{label} {count:,}")
                    for name, value, currency, owner in cards:
                        yield Static(f"{name}\n{currency} {value or 0:,}  {owner or ''}\n")


if __name__ == "__main__":
    BareBoard(read(sys.argv[1])).run()
