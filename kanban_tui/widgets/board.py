"""The board's columns: one `StatusColumn` per status, side by side, and where the focus is.

`BoardView` draws what the board model (`sync.board.Board`) holds and keeps the focus: which column
is active, each column's cursor (by card id, so that it stays on its deal when the board changes
under it), scrolling sideways, and how many columns are out of sight on each side (`edge`, which the
screen shows in its title row). It decides nothing about the board: the screen tells it what to
draw (`build`, `show`, `redraw`, `draw_later` for a load's later pages) and which columns are hidden.
"""

from __future__ import annotations

from textual import on
from textual.containers import HorizontalScroll
from textual.message import Message
from textual.reactive import var
from textual.timer import Timer
from textual.widgets import Static

from ..sync.board import Board
from ..text import esc
from .column import CardList, StatusColumn

MIN_COLUMN_WIDTH = 16
"""Narrowest a column gets (a card line then holds ~14 characters); below that the board scrolls."""
LOAD_REDRAW_EVERY = 0.25
"""Seconds between redraws while a load's later pages arrive."""


class BoardView(HorizontalScroll):
    """The columns of one board, and the focus among them."""

    edge: var[str] = var("")
    """`← 1 more · 2 more →`: the columns out of sight on each side ("" when every shown column is in view)."""

    class Picked(Message):
        """The user put the focus on a card with the mouse."""

    class LoadDrawn(Message):
        """The load's later pages, held back a moment, are drawn now (the screen shows its progress)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.board: Board | None = None
        self.columns: list[StatusColumn] = []
        self.active = 0
        """Index of the column holding the focus."""
        self.hidden: frozenset[str] = frozenset()
        """Status ids of the columns not shown (`x`), as the session last said."""
        self.load_dirty: set[str] = set()
        """Columns that pages changed since the board was last drawn during a load."""
        self.load_flush: Timer | None = None
        self.user_focus = False
        """The user has moved the focus on this board (a key, a click): a load's pages keep it on its card. Until
        then the focus stays on its row (the first card) while cards arrive above it: the column stays at its top."""

    def on_mount(self) -> None:
        self.watch(self, "scroll_x", self.show_edge, init=False)

    # -- building and drawing ------------------------------------------------------------------

    def build(self, board: Board | None, hidden: frozenset[str], crm: str) -> None:
        """A new board (another pipeline, or the saved copy replaced): columns built anew."""
        self.cancel_load_redraw()
        for column in self.columns:
            column.remove()
        self.query("#no-statuses").remove()
        self.active = 0
        self.columns = []
        self.board = board
        if board is None:
            return
        pipeline = board.pipeline
        self.columns = [StatusColumn(board, status) for status in pipeline.statuses]
        self.mount_all(self.columns)
        if not pipeline.statuses:  # a CRM's new pipeline, or every stage deleted: said, not a blank screen
            self.mount(Static(f"{esc(pipeline.name)} has no statuses in {esc(crm)}: no deals to show."
                              " p switches pipeline.", id="no-statuses"))
        self.show(hidden)

    def show(self, hidden: frozenset[str]) -> None:
        """Hide the columns the user hid (`x`), share the width among the others, keep the focus on one shown."""
        self.hidden = hidden
        for column in self.columns:
            column.display = column.status.id not in hidden
        self.size_columns()
        self.refresh_headers()
        shown = self.shown_columns()
        if shown and self.active not in shown:
            self.activate(min(shown, key=lambda i: (abs(i - self.active), i < self.active)), force=True)
        elif shown:
            self.columns[self.active].set_active(True)
        self.call_after_refresh(self.show_edge)

    def fit(self) -> None:
        """The terminal was resized: the columns share its width again."""
        self.size_columns()
        self.call_after_refresh(self.show_edge)
        self.refresh_headers()

    def size_columns(self) -> None:
        """Share the width between the shown columns; below MIN_COLUMN_WIDTH each, the board scrolls sideways."""
        shown = [self.columns[i] for i in self.shown_columns()]
        count = len(shown)
        if not count:
            return
        screen = self.screen.size.width
        room = screen - (count - 1)  # one cell between columns
        width, extra = divmod(room, count)
        if width < MIN_COLUMN_WIDTH:  # sideways: as many whole columns as fit share the width, none cut at the edge
            fit = max(1, (screen + 1) // (MIN_COLUMN_WIDTH + 1))
            width, extra = max(MIN_COLUMN_WIDTH, (screen - (fit - 1)) // fit), 0
        for i, column in enumerate(shown):
            column.styles.width = width + (1 if i < extra else 0)
            column.styles.margin = (0, 1 if i < count - 1 else 0, 0, 0)
        self.show_edge()

    def show_edge(self, *_: object) -> None:
        """Count the columns out of sight, on each side, into `edge`."""
        # from the widths size_columns gave (not from the layout, which may not have run yet)
        left_edge, right_edge = self.scroll_x, self.scroll_x + (self.size.width or self.screen.size.width)
        left = right = x = 0
        for i in self.shown_columns():
            width = self.columns[i].styles.width
            cells = int(width.value) if width is not None else MIN_COLUMN_WIDTH
            if x < left_edge:
                left += 1
            elif x + cells > right_edge:
                right += 1
            x += cells + 1
        parts = ([f"← {left} more"] if left else []) + ([f"{right} more →"] if right else [])
        self.edge = " · ".join(parts)

    def redraw(self, status_ids: set[str], keep: str | None = None, *, rows: bool = False) -> None:
        """Redraw the columns whose content changed, keeping the focus on card `keep` (by id); `rows`: every
        column's cursor stays on its row rather than on its card (a load before the user moved the focus)."""
        for column in self.columns:
            if column.status.id in status_ids:
                column.refresh_header()
                if rows:
                    column.cards.cards_changed(None)
                else:
                    column.cards.cards_changed(keep if column.cards.active else column.cards.cursor_card)
        self.header_height()

    def refresh_headers(self) -> None:
        """Every header drawn again for its width (after a resize)."""
        for column in self.columns:
            column.refresh_header()
        self.header_height()

    def header_height(self) -> None:
        """Every header as tall as the tallest needs (a fourth line for a `+N cur` note at a narrow width), so
        that the cards start on one line across the board."""
        tall = any(self.columns[i].header.lines > 3 for i in self.shown_columns())
        self.set_class(tall, "-tall")

    # -- a load's later pages: drawn a few times a second, not once each ---------------------------

    def draw_later(self, status_ids: set[str]) -> None:
        """Columns a load's page changed: drawn with the next ones, LOAD_REDRAW_EVERY from the first (a frame
        costs the same for 100 new cards as for 10,000)."""
        self.load_dirty |= status_ids
        if self.load_flush is None:
            self.load_flush = self.set_timer(LOAD_REDRAW_EVERY, self._load_timer_fired, name="load-flush")

    def draw_now(self, status_ids: set[str], keep: str | None) -> None:
        """These columns now, with those held back (the focus kept on card `keep`)."""
        self.redraw(status_ids | self.load_dirty, keep=keep)
        self.load_dirty = set()

    def flush_load(self) -> None:
        """Draw what the pages held back changed, now."""
        self.cancel_load_redraw(keep_dirty=True)
        if self.load_dirty:
            # the focus the user gave stays on its card, by id; one the user has not given stays on its row
            self.redraw(self.load_dirty, keep=self.focused_id() if self.user_focus else None, rows=not self.user_focus)
            self.load_dirty = set()

    def cancel_load_redraw(self, *, keep_dirty: bool = False) -> None:
        if self.load_flush is not None:
            self.load_flush.stop()
            self.load_flush = None
        if not keep_dirty:
            self.load_dirty = set()

    def _load_timer_fired(self) -> None:
        self.flush_load()
        self.post_message(self.LoadDrawn())

    # -- the focus -------------------------------------------------------------------------------

    @property
    def active_column(self) -> StatusColumn | None:
        return self.columns[self.active] if self.columns else None

    def focused_id(self) -> str | None:
        column = self.active_column
        return column.cards.cursor_card if column else None

    def shown_columns(self) -> list[int]:
        """Indexes of the columns shown (not hidden with `x`), in board order."""
        hidden = self.hidden
        return [i for i, column in enumerate(self.columns) if column.status.id not in hidden]

    def activate(self, index: int, *, force: bool = False) -> None:
        """Put the focus on column `index` (a hidden one only when `force`d), its cursor in view."""
        if not self.columns:
            return
        index = max(0, min(index, len(self.columns) - 1))
        if self.columns[index].status.id in self.hidden and not force:
            return
        if index != self.active:
            self.columns[self.active].set_active(False)
        self.active = index
        column = self.columns[index]
        column.set_active(True)
        column.cards.scroll_to_cursor()  # its cursor, kept while the column was not the focus's, in view
        self.scroll_to_widget(column, animate=False, immediate=True)

    def focus_first_card(self) -> None:
        shown = self.shown_columns()
        if shown:
            self.activate(shown[0])
            self.columns[shown[0]].cards.set_cursor(0)

    def focus_card(self, opportunity_id: str) -> None:
        """Put the focus on a card, wherever it is now."""
        board = self.board
        if board is None or opportunity_id not in board:
            return
        status_id = board.shown_status(opportunity_id)
        if status_id in self.hidden:  # in a hidden column (moved there with m): the focus stays
            return
        for i, column in enumerate(self.columns):
            if column.status.id == status_id:
                self.activate(i)
                column.cards.set_cursor(board.index_of(opportunity_id) or 0)

    def step_column(self, delta: int) -> None:
        """The next shown column that way (none: the focus stays)."""
        later = [i for i in self.shown_columns() if (i - self.active) * delta > 0]
        if later:
            self.activate(min(later, key=lambda i: abs(i - self.active)))

    def jump_column(self, number: int) -> None:
        """The column in place `number` (from 1) of those shown."""
        shown = self.shown_columns()
        if number <= len(shown):
            self.activate(shown[number - 1])

    def step_card(self, delta: int, *, pages: bool = False) -> None:
        """`delta` cards (or screens of cards) down the focused column."""
        if column := self.active_column:
            column.cards.set_cursor(column.cards.cursor + delta * (column.cards.page_cards if pages else 1))

    def to_end(self, direction: int) -> None:
        """The focused column's first (`direction` < 0) or last card."""
        if column := self.active_column:
            column.cards.set_cursor(0 if direction < 0 else column.cards.count - 1)

    def first_match(self) -> None:
        """Focus the first card shown, from the focused column on."""
        board = self.board
        if board is None or not self.columns:
            return
        count = len(self.columns)
        for step in range(count):
            index = (self.active + step) % count
            if board.column_len(self.columns[index].status.id) and self.columns[index].status.id not in self.hidden:
                self.activate(index)
                self.columns[index].cards.set_cursor(0)
                return

    def next_match(self, delta: int) -> bool:
        """The next / previous card shown, across the shown columns (wrapping); False: none to go to."""
        if not self.columns:
            return False
        column = self.columns[self.active]
        target = column.cards.cursor + delta
        if 0 <= target < column.cards.count and column.cards.cursor_card is not None:
            column.cards.set_cursor(target)
            return True
        count = len(self.columns)
        for step in range(1, count + 1):
            index = (self.active + delta * step) % count
            cards = self.columns[index].cards
            if cards.count and self.columns[index].status.id not in self.hidden:
                self.activate(index)
                cards.set_cursor(0 if delta > 0 else cards.count - 1)
                return True
        return False

    def others_to_top(self) -> None:
        """Every column but the focused one from its top (after a new order)."""
        for i, column in enumerate(self.columns):
            if i != self.active:
                column.cards.set_cursor(0)
                column.cards.scroll_to(y=0, animate=False, immediate=True)

    def next_change(self, board: Board) -> tuple[str, int] | None:
        """The next card marked as changed, shown, after the focused one (wrapping), and how many others are
        marked and shown; None: no other card marked is shown."""
        marked = [(i, board.index_of(card) or 0, card)
                  for card in board.changed()
                  for i, column in enumerate(self.columns)
                  if column.status.id == board.shown_status(card) and column.status.id not in self.hidden]
        focused = self.focused_id()
        others = [m for m in marked if m[2] != focused]
        if not others or not self.columns:
            return None
        here = (self.active, self.columns[self.active].cards.cursor)
        after = [m for m in others if (m[0], m[1]) > here]
        return (after[0] if after else others[0])[2], len(others) - 1

    @on(CardList.Clicked)
    def _card_clicked(self, message: CardList.Clicked) -> None:
        message.stop()
        for i, column in enumerate(self.columns):
            if column.cards is message.card_list:
                self.activate(i)
                column.cards.set_cursor(message.index)
        self.post_message(self.Picked())
