"""The board: columns of cards and keyboard focus, drawn from a `BoardSession`.

A thin adapter. Keys become the session's intents (`move`, `undo`, `refresh`, answers to
its questions); the session answers with an `Update` (columns to redraw, where the focus
goes, notices, a question, jobs); each job runs in a worker that posts what it yields back
as a message, which goes to the session again. Every sync decision is the session's: this
screen holds only what is drawn (columns, focus, the load's redraw throttle).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, HorizontalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, ProgressBar, Static

from .. import links
from ..keys import BOARD_BINDINGS
from ..models import StatusKind
from ..sync import BoardSession, Conflict, Phase, PipelineChoice, Update
from ..sync.board import SORT_NAMES, SORTS
from ..sync.protocol import Event, Job, Load
from ..text import esc, safe_text
from ..widgets.column import CARD_HEIGHT, KIND_GLYPH, CardList, StatusColumn
from ..widgets.status_bar import SyncStatus
from .confirm import ConfirmMove
from .conflict import ResolveConflict
from .detail import DetailScreen
from .picker import ALL_OWNERS, ME, LostReasonPicker, OwnerPicker, PipelinePicker, StatusPicker

MIN_COLUMN_WIDTH = 16
"""Narrowest a column gets (a card line then holds ~14 characters); below that the board scrolls."""
LOAD_REDRAW_EVERY = 0.25
"""Seconds between redraws while a load's later pages arrive."""


class BoardScreen(Screen[None]):
    """One pipeline of one backend, as a kanban board."""

    BINDINGS = BOARD_BINDINGS

    @dataclass
    class SessionEvent(Message):
        """What a job's I/O yielded, for the session."""

        event: Event

    def __init__(self, session: BoardSession, *, confirm_final_moves: bool = True) -> None:
        super().__init__()
        self.session = session
        self.backend = session.backend
        self.confirm_final_moves = confirm_final_moves
        self.columns: list[StatusColumn] = []
        self.active = 0
        self.load_dirty: set[str] = set()
        """Columns that pages changed since the board was last drawn during a load."""
        self.load_flush: Timer | None = None
        self.looking_at: str | None = None
        """The card the user put the focus on (a key, a click): when the user's focus leaves it, its change
        mark goes. None while the focus is one the user did not give (see `track_focus`)."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield Static(f"dealboard · {self.backend.name}", id="title")
            # on the title row: showing and hiding it reflows that row, not the columns
            yield ProgressBar(id="progress", show_eta=False)
            yield Static("", id="edge")  # `← 1 · 2 more →`: columns off-screen
        yield HorizontalScroll(id="board")
        search = Input(id="search", placeholder="search: every word, in name, contact, owner or note · ⏎ keep · esc clear")
        search.display = False
        yield search
        yield SyncStatus(id="sync-status")
        yield Footer(show_command_palette=False)  # ctrl+p is in the help; the footer keeps room for ? Help at 80

    def on_mount(self) -> None:
        # a cold start asks for each column's first screen: as many cards as this terminal shows, and one more
        self.session.screenful = max(4, self.app.size.height // CARD_HEIGHT + 1)
        self.apply(self.session.start())
        self.set_interval(1.0, self.tick, name="tick")
        self.watch(self.query_one("#board", HorizontalScroll), "scroll_x", self.show_edge, init=False)

    # -- the session's side ---------------------------------------------------------------

    # a description of its own: without one Textual repr()s the arguments, and a Resume or SaveCopy job carries
    # every card (~5 MB of text, 0.1 s at 10,000 cards and 3.5 s at 50,000, found by the warm-start profile)
    @work(group="io", exit_on_error=False, description="session job")
    async def run_job(self, job: Job) -> None:
        """A job's I/O; everything it yields goes back to the session as a message."""
        loading = isinstance(job, Load)
        if loading:
            gc.disable()  # see `collect_after_load`
        try:
            async for event in self.session.runner.run(job):
                self.post_message(self.SessionEvent(event))
        finally:
            if loading:
                # queued behind the messages posted above: runs once they have been handled
                self.call_later(collect_after_load)

    @on(SessionEvent)
    def _session_event(self, message: SessionEvent) -> None:
        self.apply(self.session.handle(message.event))

    def tick(self) -> None:
        """Every second: whatever is due (a poll, a retry), and the status line's clock."""
        self.apply(self.session.tick())

    def apply(self, update: Update, focused: str | None = None, *, user: bool = False) -> None:
        """Do what the session said: redraw, focus, notices, a question, jobs. `user`: the update answers the
        user's key (a move, an undo, a filter), so where the focus goes is the user's doing."""
        focused = focused or self.focused_id()
        if update.rebuild:
            self.build_columns()
        elif update.columns:
            self.show_columns()
        loading = self.session.phase is Phase.LOADING and not update.first_cards
        if update.redraw:
            if loading and not update.focus:
                # later pages are drawn a few times a second, not once each: a frame costs
                # the same for 100 new cards as for 10,000
                self.load_dirty |= update.redraw
                if self.load_flush is None:
                    self.load_flush = self.set_timer(LOAD_REDRAW_EVERY, self.flush_load, name="load-flush")
            else:
                self.redraw(update.redraw | self.load_dirty, keep=focused)
                self.load_dirty = set()
        if update.first_cards:
            self.flush_load()
            if self.focused_id() is None or self.focused_id() not in (self.session.board or ()):
                self.focus_first_card()
            elif focused:
                self.focus_card(focused)
        if update.focus is not None:
            self.focus_card(update.focus)
        elif update.follow is not None and update.follow == focused:
            self.focus_card(focused)  # the user is still on that card: follow it back
        elif update.rebuild and focused is not None:
            self.focus_card(focused)  # the columns were built anew (the stages changed): the same card, by id
        if update.progress:
            if not loading or self.load_flush is None:  # while pages arrive, with the throttled redraw
                self.show_progress()
            if self.session.phase is not Phase.LOADING:
                self.flush_load()
                keep_out_of_gc()
        for notice in update.notices:
            # plain text (a deal's name may hold `[/]`): never read as markup; made safe here, where every
            # notice is shown, whatever it names (an id, a CRM's words)
            self.notify(safe_text(notice.text, multiline=True), title=safe_text(notice.title),
                        severity=notice.severity, timeout=notice.timeout, markup=False)  # type: ignore[arg-type]
        if update.ask is not None:
            self.ask(update.ask)
        runner = self.session.runner
        for job in update.jobs:  # in order: a journal write is applied at once, before the send that follows it
            if runner.immediate(job):
                runner.write(job)  # type: ignore[arg-type]
            else:
                self.run_job(job)
        self.update_status()
        self.track_focus(user=user)

    def ask(self, question: PipelineChoice | Conflict) -> None:
        session = self.session
        if isinstance(question, PipelineChoice):
            pipelines = question.pipelines

            def chosen(pipeline_id: str | None) -> None:
                self.apply(session.choose_pipeline(pipeline_id, pipelines), user=True)

            self.app.push_screen(PipelinePicker(self.backend.name, pipelines, question.current), chosen)
            return

        def decided(keep: bool | None) -> None:
            self.apply(session.resolve_conflict(question.card, bool(keep)), user=True)

        self.app.push_screen(ResolveConflict(question.name, self.backend.name, question.theirs, question.mine), decided)

    # -- drawing --------------------------------------------------------------------------

    def build_columns(self) -> None:
        """A new board (another pipeline, or the saved copy replaced): columns built anew."""
        board, pipeline = self.session.board, self.session.pipeline
        if self.load_flush is not None:
            self.load_flush.stop()
            self.load_flush = None
        self.load_dirty = set()
        for column in self.columns:
            column.remove()
        self.query("#no-statuses").remove()
        self.active = 0
        self.columns = []
        if board is None or pipeline is None:
            return
        self.show_title()
        self.columns = [StatusColumn(board, status) for status in pipeline.statuses]
        self.query_one("#board", HorizontalScroll).mount_all(self.columns)
        if not pipeline.statuses:  # a CRM's new pipeline, or every stage deleted: said, not a blank screen
            self.query_one("#board", HorizontalScroll).mount(Static(
                f"{esc(pipeline.name)} has no statuses in {esc(self.backend.name)}: no deals to show."
                " p switches pipeline.", id="no-statuses"))
        self.looking_at = None
        self.show_columns()

    def show_columns(self) -> None:
        """Hide the columns the user hid (`x`), share the width among the others, keep the focus on one shown."""
        hidden = self.session.hidden
        for column in self.columns:
            column.display = column.status.id not in hidden
        self.size_columns()
        self.refresh_headers()
        shown = self.visible()
        if shown and self.active not in shown:
            self.activate(min(shown, key=lambda i: (abs(i - self.active), i < self.active)), force=True)
        elif shown:
            self.columns[self.active].set_active(True)
        self.call_after_refresh(self.show_edge)

    def show_title(self) -> None:
        pipeline, board = self.session.pipeline, self.session.board
        if pipeline is None:
            return
        search = f" · / {esc(board.query)}" if board is not None and board.query else ""
        owner = self.session.owner_label
        mine = f" · owner: {esc(owner)}" if owner is not None else ""
        order = f" · by {SORT_NAMES[board.sort]}" if board is not None and board.sort != "updated" else ""
        title = f"dealboard · {esc(self.backend.name)} · [b]{esc(pipeline.name)}[/b]{mine}{search}{order}"
        if title != getattr(self, "_title", None):  # drawn from the session's state after every update
            self._title = title
            self.query_one("#title", Static).update(title, layout=False)  # a fixed box: no screen-wide layout per key

    def flush_load(self) -> None:
        """Draw what the pages loaded so far changed, and the progress bar."""
        if self.load_flush is not None:
            self.load_flush.stop()
            self.load_flush = None
        if self.load_dirty:
            self.redraw(self.load_dirty, keep=self.focused_id())  # the focus stays on its card, by id
            self.load_dirty = set()
        self.show_progress()
        self.update_status()

    def show_progress(self) -> None:
        session = self.session
        progress = self.query_one("#progress", ProgressBar)
        loading = session.phase is Phase.LOADING and session.busy
        progress.display = loading
        if loading:
            progress.update(total=session.total, progress=session.loaded)

    def on_resize(self) -> None:
        self.size_columns()
        self.call_after_refresh(self.show_edge)
        self.refresh_headers()

    def size_columns(self) -> None:
        """Share the width between the shown columns; below MIN_COLUMN_WIDTH each, the board scrolls sideways."""
        shown = [self.columns[i] for i in self.visible()]
        count = len(shown)
        if not count:
            return
        room = self.size.width - (count - 1)  # one cell between columns
        width, extra = divmod(room, count)
        if width < MIN_COLUMN_WIDTH:
            width, extra = MIN_COLUMN_WIDTH, 0
        for i, column in enumerate(shown):
            column.styles.width = width + (1 if i < extra else 0)
            column.styles.margin = (0, 1 if i < count - 1 else 0, 0, 0)
        self.show_edge()

    def show_edge(self, *_: object) -> None:
        """Say at the edge how many columns are out of sight, on each side (`← 1 · 2 more →`)."""
        board = self.query_one("#board", HorizontalScroll)
        # from the widths size_columns gave (not from the layout, which may not have run yet)
        left_edge, right_edge = board.scroll_x, board.scroll_x + (board.size.width or self.size.width)
        left = right = x = 0
        for i in self.visible():
            width = self.columns[i].styles.width
            cells = int(width.value) if width is not None else MIN_COLUMN_WIDTH
            if x < left_edge:
                left += 1
            elif x + cells > right_edge:
                right += 1
            x += cells + 1
        parts = ([f"← {left} more"] if left else []) + ([f"{right} more →"] if right else [])
        text = " · ".join(parts)
        edge = self.query_one("#edge", Static)
        if str(edge.renderable if hasattr(edge, "renderable") else "") != text:
            edge.update(text)
        edge.display = bool(text)

    def redraw(self, status_ids: set[str], keep: str | None = None) -> None:
        """Redraw the columns whose content changed, keeping the focus on card `keep` (by id)."""
        for column in self.columns:
            if column.status.id in status_ids:
                column.refresh_header()
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
        tall = any(self.columns[i].header.lines > 3 for i in self.visible())
        self.query_one("#board", HorizontalScroll).set_class(tall, "-tall")

    def update_status(self) -> None:
        self.show_progress()
        self.show_title()
        self.query_one(SyncStatus).show(self.session.snapshot())

    # -- focus ----------------------------------------------------------------------------

    @property
    def active_column(self) -> StatusColumn | None:
        return self.columns[self.active] if self.columns else None

    def focused_id(self) -> str | None:
        column = self.active_column
        return column.cards.cursor_card if column else None

    def visible(self) -> list[int]:
        """Indexes of the columns shown (not hidden with `x`), in board order."""
        hidden = self.session.hidden
        return [i for i, column in enumerate(self.columns) if column.status.id not in hidden]

    def focus_first_card(self) -> None:
        shown = self.visible()
        if shown:
            self.activate(shown[0])
            self.columns[shown[0]].cards.set_cursor(0)

    def activate(self, index: int, *, force: bool = False) -> None:
        if not self.columns:
            return
        index = max(0, min(index, len(self.columns) - 1))
        if self.columns[index].status.id in self.session.hidden and not force:
            return
        if index != self.active:
            self.columns[self.active].set_active(False)
        self.active = index
        column = self.columns[index]
        column.set_active(True)
        column.cards.scroll_to_cursor()  # its cursor, kept while the column was not the focus's, in view
        self.query_one("#board", HorizontalScroll).scroll_to_widget(column, animate=False, immediate=True)

    def track_focus(self, *, user: bool = True) -> None:
        """Where the focus is now; `user`: the user put it there (a key, a click).

        Only a focus the user gave consumes a change mark: when it leaves a card the user had put it on,
        that card has been seen. A focus the user did not give (the first card at start, the row a poll
        or a load left it on when its card moved away) consumes nothing, neither the card it lands on nor
        the one it left: the user saw neither change.
        """
        now = self.focused_id()
        if now == self.looking_at:
            return
        before, self.looking_at = self.looking_at, now if user else None
        if before is not None and user:
            update = self.session.look(before)
            if update.redraw:
                self.redraw(update.redraw, keep=now)

    def focus_card(self, opportunity_id: str) -> None:
        """Put the focus on a card, wherever it is now."""
        board = self.session.board
        if board is None or opportunity_id not in board:
            return
        status_id = board.shown_status(opportunity_id)
        if status_id in self.session.hidden:  # in a hidden column (moved there with m): the focus stays
            return
        for i, column in enumerate(self.columns):
            if column.status.id == status_id:
                self.activate(i)
                column.cards.set_cursor(board.index_of(opportunity_id) or 0)

    def action_focus_column(self, delta: int) -> None:
        shown = self.visible()
        later = [i for i in shown if (i - self.active) * delta > 0]
        if later:
            self.activate(min(later, key=lambda i: abs(i - self.active)))
        self.track_focus()

    def action_jump_column(self, number: int) -> None:
        """`1`–`9`: the column in that place (of those shown)."""
        shown = self.visible()
        if number <= len(shown):
            self.activate(shown[number - 1])
        self.track_focus()

    def action_focus_card(self, delta: int) -> None:
        if column := self.active_column:
            column.cards.set_cursor(column.cards.cursor + delta)
        self.track_focus()

    def action_focus_page(self, delta: int) -> None:
        if column := self.active_column:
            column.cards.set_cursor(column.cards.cursor + delta * column.cards.page_cards)
        self.track_focus()

    def action_focus_end(self, direction: int) -> None:
        if column := self.active_column:
            column.cards.set_cursor(0 if direction < 0 else column.cards.count - 1)
        self.track_focus()

    @on(CardList.Clicked)
    def _card_clicked(self, message: CardList.Clicked) -> None:
        for i, column in enumerate(self.columns):
            if column.cards is message.card_list:
                self.activate(i)
                column.cards.set_cursor(message.index)
        self.track_focus()

    # -- moves: keys become intents ---------------------------------------------------------

    def action_move_card(self, delta: int) -> None:
        """Move the focused card to the next / previous status that accepts cards."""
        card, pipeline = self.focused_id(), self.session.pipeline
        if card is None or pipeline is None:
            return
        statuses, hidden = pipeline.statuses, self.session.hidden
        index = self.active + delta
        while 0 <= index < len(statuses) and (not statuses[index].can_move_to or statuses[index].id in hidden):
            index += delta
        if 0 <= index < len(statuses):
            self.move(card, statuses[index].id)
        else:
            self.notify("No status that way.", timeout=2)

    def action_pick_status(self) -> None:
        card, board, pipeline = self.focused_id(), self.session.board, self.session.pipeline
        if card is None or board is None or pipeline is None:
            return
        current = board.shown_status(card)
        choices = [s for s in pipeline.statuses if s.can_move_to and s.id != current]

        def picked(status_id: str | None) -> None:
            if status_id is not None:
                self.move(card, status_id)

        self.app.push_screen(StatusPicker(board.opportunity(card).name, choices), picked)

    def move(self, card: str, status_id: str) -> None:
        """Move a card, asking first where the move ends the deal (and the settings say so)."""
        session, board, pipeline = self.session, self.session.board, self.session.pipeline
        if board is None or pipeline is None or card not in board or board.shown_status(card) == status_id:
            return
        if (why := session.can_move(card)) is not None:
            self.notify(why, severity="warning", timeout=8, markup=False)
            return
        status = board.status(status_id)
        name = board.opportunity(card).name
        if status.kind is StatusKind.LOST and pipeline.lost_reasons:
            # a lost reason is asked for, and is the confirmation
            def reason_picked(reason: str | None) -> None:
                if reason is not None and session.board is board:
                    self.apply(session.move(card, status_id, lost_reason=reason), user=True)

            self.app.push_screen(LostReasonPicker(name, status.label, pipeline.lost_reasons), reason_picked)
            return
        if not (self.confirm_final_moves and status.kind.is_final):
            self.apply(session.move(card, status_id), user=True)
            return

        def confirmed(yes: bool | None) -> None:
            if yes and session.board is board:
                self.apply(session.move(card, status_id), user=True)

        label = f"{KIND_GLYPH[status.kind]}{status.label}"
        outcome = "won" if status.kind is StatusKind.WON else "lost"
        detail = f"This marks the deal {outcome} in {self.backend.name}"
        if status.kind is StatusKind.WON and board.opportunity(card).date_won is None and self.backend.records_won_date:
            detail += f", and {self.backend.name} records today as its won date"
        self.app.push_screen(ConfirmMove(name, label, detail + "."), confirmed)

    def action_undo(self) -> None:
        self.apply(self.session.undo(), user=True)

    # -- the search ---------------------------------------------------------------------------

    def action_search(self) -> None:
        """`/`: type words; the board shows only the cards holding all of them."""
        if self.session.board is None:
            return
        search = self.query_one("#search", Input)
        search.display = True
        # at once, not after a refresh (`focus()` is deferred): what is typed right after `/` is the search,
        # never board keys (typed fast in tmux, "Juniper" opened the pipeline picker with its `p`)
        self.set_focus(search)
        self.session.board.prepare_search()

    def on_key(self, event: events.Key) -> None:
        """Type-ahead after `/`: tmux sends `/acme` in one write, and Textual routes every key to the widget
        focused when it arrives, before any binding runs; so the search key opens the search here, as its
        key comes by, and the letters behind it go into the search (they went nowhere, or to board keys)."""
        search = self.query_one("#search", Input)
        if self.focused is search and search.display:
            if event.is_printable and event.character is not None:
                event.stop()
                event.prevent_default()
                search.insert_text_at_cursor(event.character)
            return
        if event.key in self.search_keys and self.session.board is not None:
            event.stop()
            event.prevent_default()
            self.action_search()

    @property
    def search_keys(self) -> set[str]:
        """The keys bound to the search, as the `[keys]` table may have remapped them."""
        keys = getattr(self, "_search_keys", None)
        if keys is None:
            bindings = self._bindings.copy()
            if self.app._keymap:
                bindings.apply_keymap(self.app._keymap)
            keys = self._search_keys = {key for key, bound in bindings.key_to_bindings.items()
                                        if any(b.action == "search" for b in bound)}
        return keys

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        if event.value != event.input.value:  # typed ahead: a later change is on its way, draw only that one
            return
        self.apply_search(event.value)

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        """⏎: keep the search, back to the board (n / N go from match to match)."""
        search = self.query_one("#search", Input)
        search.display = bool(search.value.strip())
        self.set_focus(None)
        if not search.value.strip():
            self.apply_search("")

    def apply_search(self, text: str) -> None:
        board = self.session.board
        if board is None:
            return
        focused, before = self.focused_id(), board.query
        touched = board.set_query(text)  # only the columns whose cards shown changed (typing on may narrow none)
        if board.query == before:
            return
        if touched:
            self.redraw(touched, keep=focused)
        if focused is None or board.index_of(focused) is None:
            self.first_match()
        self.show_title()
        self.update_status()

    def first_match(self) -> None:
        """Focus the first card shown, from the focused column on."""
        board = self.session.board
        if board is None or not self.columns:
            return
        count = len(self.columns)
        for step in range(count):
            index = (self.active + step) % count
            if board.column_len(self.columns[index].status.id) and self.columns[index].status.id not in self.session.hidden:
                self.activate(index)
                self.columns[index].cards.set_cursor(0)
                return

    def action_next_match(self, delta: int) -> None:
        """`n` / `N`: the next / previous card the search shows, across columns (wrapping)."""
        board = self.session.board
        if board is None or not self.columns:
            return
        if not board.filtering:
            self.notify("No search: press / first.", timeout=2)
            return
        if not board.shown_count():
            self.notify("No deal matches.", timeout=2)
            return
        column = self.columns[self.active]
        target = column.cards.cursor + delta
        if 0 <= target < column.cards.count and column.cards.cursor_card is not None:
            column.cards.set_cursor(target)
            self.track_focus()
            return
        count = len(self.columns)
        for step in range(1, count + 1):
            index = (self.active + delta * step) % count
            cards = self.columns[index].cards
            if cards.count and self.columns[index].status.id not in self.session.hidden:
                self.activate(index)
                cards.set_cursor(0 if delta > 0 else cards.count - 1)
                self.track_focus()
                return

    def action_cycle_sort(self) -> None:
        """`s`: the next order within columns (last updated, value, expected value, days in status, stalled
        first); the focus stays on its card."""
        board = self.session.board
        if board is None:
            return
        focused = self.focused_id()
        order = SORTS[(SORTS.index(board.sort) + 1) % len(SORTS)]
        self.apply(self.session.set_sort(order), focused=focused, user=True)
        for i, column in enumerate(self.columns):  # the other columns from their new top
            if i != self.active:
                column.cards.set_cursor(0)
                column.cards.scroll_to(y=0, animate=False, immediate=True)
        if focused is not None:
            self.focus_card(focused)
        self.show_title()
        self.notify(f"Sorted by {SORT_NAMES[order]}", timeout=2)

    def action_clear_search(self) -> None:
        """esc: every card again (the search, then the owner filter), the focus kept on its card."""
        search = self.query_one("#search", Input)
        board = self.session.board
        if not search.value and not search.display and board is not None and board.owner is not None:
            self.set_owner(None)
            return
        if search.value:
            search.value = ""  # Input.Changed clears the board's search
        else:
            self.apply_search("")
        search.display = False
        self.set_focus(None)

    # -- the owner filter ----------------------------------------------------------------------

    def action_filter_owner(self) -> None:
        """`f`: show one owner's cards: me first, then everyone, then each owner by card count."""
        board = self.session.board
        if board is None:
            return
        me = self.session.me
        current = ME if self.session.owner_label == "me" else ALL_OWNERS if board.owner is None else "=" + board.owner

        def picked(choice: str | None) -> None:
            if choice is None:
                return
            if choice == ME:
                if not me:
                    crm = self.session.backend.name
                    self.notify(f"{crm} does not say who you are: set me = \"Your Name\" in its table of the"
                                " config (as cards name you)", severity="warning", timeout=10, markup=False)
                    return
                self.set_owner(me, is_me=True)
            else:
                self.set_owner(None if choice == ALL_OWNERS else choice[1:])

        self.app.push_screen(OwnerPicker(board.owners(), me, current), picked)

    def set_owner(self, owner: str | None, *, is_me: bool = False) -> None:
        focused = self.focused_id()
        update = self.session.set_owner(owner, is_me=is_me)
        self.apply(update, focused=focused, user=True)
        board = self.session.board
        if board is not None and (focused is None or board.index_of(focused) is None):
            self.first_match()
        self.show_title()
        self.track_focus()
        label = self.session.owner_label
        whose = "your" if label == "me" else "everyone's" if label is None else f"{label}'s"
        self.notify(f"Showing {whose} deals" + (" (esc: everyone's)" if label is not None else ""), timeout=3,
                    markup=False)

    # -- columns -------------------------------------------------------------------------------

    def action_hide_column(self) -> None:
        """`x`: hide the focused column (remembered); X shows them all again."""
        column = self.active_column
        if column is None:
            return
        if len(self.visible()) <= 1:
            self.notify("The last column shown stays.", timeout=2)
            return
        self.apply(self.session.set_hidden(self.session.hidden | {column.status.id}), user=True)
        self.notify(f"Hid {column.status.label} (X shows every column)", timeout=3, markup=False)
        self.track_focus()

    def action_show_columns(self) -> None:
        if not self.session.hidden:
            self.notify("Every column is shown.", timeout=2)
            return
        n = len(self.session.hidden)
        self.apply(self.session.set_hidden(set()), user=True)
        self.notify(f"Showing every column ({n} were hidden)", timeout=3)

    # -- changes since the user last looked ------------------------------------------------------

    def action_next_change(self, delta: int = 1) -> None:
        """`c`: the next card marked as changed (new, moved, re-valued), across columns, wrapping."""
        board = self.session.board
        if board is None or not self.columns:
            return
        hidden = self.session.hidden
        marked = [(i, board.index_of(card) or 0, card)
                  for card in board.changed()
                  for i, column in enumerate(self.columns)
                  if column.status.id == board.shown_status(card) and column.status.id not in hidden]
        here = (self.active, self.columns[self.active].cards.cursor)
        others = [m for m in marked if m[2] != self.focused_id()]
        if not others:
            out_of_sight = sum(1 for c in board.card_ids() if board.change(c) is not None and c != self.focused_id()) \
                - len(others)
            if out_of_sight > 0:  # marked, but left out by the search, the owner filter or hidden columns
                self.notify(f"{out_of_sight} marked change{'s are' if out_of_sight > 1 else ' is'} out of sight:"
                            " esc clears the search and the owner filter, X shows every column", timeout=5)
            else:
                self.notify("No other changes since you last looked.", timeout=2)
            return
        after = [m for m in others if (m[0], m[1]) > here]
        i, _, card = after[0] if after else others[0]
        self.focus_card(card)
        self.track_focus()
        change = board.change(card)
        seen = board.seen.get(card) if board.seen is not None else None
        what = change or "changed"
        if change == "moved" and seen is not None and self.session.pipeline and self.session.pipeline.status(seen[0]):
            what = f"moved from {board.status(seen[0]).label}"
        left = len(others) - 1
        self.notify(f"{board.opportunity(card).name}: {what}" + (f" · {left} more" if left else ""), timeout=3,
                    markup=False)

    # -- links ---------------------------------------------------------------------------------

    def focused_opportunity(self):  # type: ignore[no-untyped-def]
        card, board = self.focused_id(), self.session.board
        return None if card is None or board is None or card not in board else board.opportunity(card)

    def action_open_link(self) -> None:
        """`o`: the deal in the CRM's web app, in the system browser when there is one; else the link is shown."""
        o = self.focused_opportunity()
        if o is None:
            return
        if not o.url:
            self.notify(f"{self.backend.name} gives no link to its deals (y copies the id).", timeout=4,
                        markup=False)
            return
        if links.can_open():
            self.open_in_browser(o.url)
        else:
            self.notify(f"{o.url}  (no browser here: y copies it)", title="Link", timeout=10, markup=False)

    @work(thread=True, group="browser", exit_on_error=False)
    def open_in_browser(self, url: str) -> None:
        problem = links.open_url(url)
        if problem:
            self.app.call_from_thread(self.notify, f"{problem}: {url}", severity="warning", timeout=10, markup=False)
        else:
            self.app.call_from_thread(self.notify, "Opened in your browser", timeout=2)

    def action_copy_link(self) -> None:
        """`y`: the deal's link (or its id, where the CRM gives none) to the clipboard, through the terminal
        (OSC 52: works over SSH and in tmux)."""
        o = self.focused_opportunity()
        if o is None:
            return
        text, what = (o.url, "link") if o.url else (o.id, "id")
        if (why := links.copy(self.app, text, what)) is not None:  # nothing a paste could run
            self.notify(why, severity="warning", timeout=8, markup=False)
            return
        self.notify(f"Copied the {what}: {links.shown(text)}", timeout=3, markup=False)

    # -- other actions ----------------------------------------------------------------------

    def action_show_details(self) -> None:
        card, board = self.focused_id(), self.session.board
        if board is None or card is None:
            return
        change = board.change(card)
        seen = board.seen.get(card) if board.seen is not None else None
        if change == "moved" and seen is not None and self.session.pipeline and self.session.pipeline.status(seen[0]):
            change = f"moved from {board.status(seen[0]).label}"
        self.app.push_screen(
            DetailScreen(
                board.opportunity(card),
                board.status(board.shown_status(card)),
                pending=board.is_pending(card),
                times_reported=board.real_update_times,
                change=change,
                crm=self.backend.name,
                records_won_date=self.backend.records_won_date,
                opener=self.action_open_link,
            )
        )

    def action_pipeline_picture(self) -> None:
        """`P`: the pipeline at a glance (deals and value per status, won and lost per week)."""
        # Plotext is loaded the first time the picture opens, not when the board starts
        from .picture import PipelinePicture

        board, pipeline = self.session.board, self.session.pipeline
        if board is not None and pipeline is not None:
            self.app.push_screen(PipelinePicture(board, pipeline, self.backend))

    def action_switch_pipeline(self) -> None:
        self.apply(self.session.list_pipelines(), user=True)

    def action_refresh(self) -> None:
        self.apply(self.session.refresh())


def collect_after_load() -> None:
    """End of a load: the cyclic garbage collector, paused while it ran, runs again.

    A load allocates tens of thousands of objects and frees almost none, so the
    collector's passes during it (each walking everything alive) are wasted work: ~60 ms
    of a 10,000-card open. What the load kept is moved out of its scans, as after each page.
    """
    keep_out_of_gc()
    gc.enable()


def keep_out_of_gc() -> None:
    """Move what is alive now (the loaded cards) out of the cyclic garbage collector's scans.

    With tens of thousands of cards loaded, every full collection walks them all: a
    100 ms pause in the middle of a keypress. The cards are freed by reference counting
    as usual when they leave the board; only reference cycles among them would linger.
    """
    gc.freeze()
