"""The board's top row: the title (CRM, pipeline, owner filter, search, order), the load's progress bar,
and how many columns are out of sight (`← 1 more · 2 more →`), drawn from the session's `Snapshot`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from ..sync import Phase, Snapshot
from ..sync.board import SORT_NAMES, Board
from ..text import esc


class TitleRow(Horizontal):
    """One line above the columns."""

    def __init__(self, crm: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.crm = crm
        self._title: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"dealboard · {self.crm}", id="title")
        # on the title row: showing and hiding it reflows that row, not the columns
        yield ProgressBar(id="progress", show_eta=False)
        yield Static("", id="edge")  # `← 1 · 2 more →`: columns off-screen

    def show(self, snapshot: Snapshot, board: Board | None) -> None:
        """The progress bar while a load is out, and the title."""
        progress = self.query_one("#progress", ProgressBar)
        loading = snapshot.phase is Phase.LOADING and snapshot.busy
        progress.display = loading
        if loading:
            progress.update(total=snapshot.total, progress=snapshot.loaded)
        if board is None:
            return
        search = f" · / {esc(board.query)}" if board.query else ""
        mine = f" · owner: {esc(snapshot.owner)}" if snapshot.owner is not None else ""
        order = f" · by {SORT_NAMES[board.sort]}" if board.sort != "updated" else ""
        title = f"dealboard · {esc(self.crm)} · [b]{esc(board.pipeline.name)}[/b]{mine}{search}{order}"
        if title != self._title:  # drawn from the session's state after every update
            self._title = title
            self.query_one("#title", Static).update(title, layout=False)  # a fixed box: no screen-wide layout per key

    def show_edge(self, text: str) -> None:
        """`← 1 more · 2 more →`, or nothing when every column shown is in view."""
        edge = self.query_one("#edge", Static)
        edge.update(text)
        edge.display = bool(text)
