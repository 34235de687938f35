"""The board: a title row, the columns (`widgets.board.BoardView`), the search line (`widgets.search.SearchLine`)
and the status line, drawn from a `BoardSession`.

A thin adapter. Keys become the session's calls (`move`, `undo`, `refresh`, `set_query`, answers to its
questions); the session answers with an `Update` (columns to redraw, where the focus goes, notices, a
question, jobs) and `apply` does what it says; each job runs in a worker that posts what it yields back
as a message, which goes to the session again. The title and status lines are drawn from the session's
`snapshot()`, the columns from its board (`session.board`, the one read model). Every sync decision is
the session's: this screen holds only what is drawn and which card the user is looking at.
"""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass, replace
from functools import cached_property
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.message import Message
from textual.screen import Screen

from ..keys import APP_BINDINGS, BOARD_BINDINGS, FOOTER_GIVES_UP, keys_for
from ..sync import BoardSession, Conflict, Phase, PipelineChoice, Update
from ..sync.board import SORT_NAMES, SORTS
from ..sync.protocol import Event, Job, Load, UsersKnown
from ..text import safe_text
from ..widgets.board import BoardView
from ..widgets.column import CARD_HEIGHT, StatusColumn
from ..widgets.footer import KeyFooter
from ..widgets.search import SearchLine
from ..widgets.status_bar import SyncStatus
from ..widgets.title_row import TitleRow
from . import board_actions, deal_actions


class BoardScreen(Screen[None]):
    """One pipeline of one backend, as a kanban board."""

    BINDINGS: ClassVar[list[BindingType]] = [*BOARD_BINDINGS]
    footer_shows: set[str] | None = None
    """The ids of the keys the footer shows now (`fit_footer`)."""

    @dataclass
    class SessionEvent(Message):
        """What a job's I/O yielded, for the session."""

        event: Event

    def __init__(self, session: BoardSession, *, confirm_final_moves: bool = True) -> None:
        super().__init__()
        self.session = session
        self.backend = session.backend
        """The CRM, for what it is (its name, whether it records a won date): never called from the UI."""
        self.confirm_final_moves = confirm_final_moves
        self.view = BoardView(id="board")
        self.search_line = SearchLine(id="search")
        self.looking_at: str | None = None
        """The card the user put the focus on (a key, a click): when the user's focus leaves it, its change
        mark goes. None while the focus is one the user did not give (see `track_focus`)."""
        self.users_known: UsersKnown | None = None
        """The CRM's users, once asked (the edit form's owner picker)."""

    def compose(self) -> ComposeResult:
        yield TitleRow(self.backend.name, id="top")
        yield self.view
        yield self.search_line
        yield SyncStatus(id="sync-status")
        yield KeyFooter(show_command_palette=False)  # ctrl+p is in the help; the footer keeps room for ? Help at 80

    def on_mount(self) -> None:
        # a cold start asks for each column's first screen: as many cards as this terminal shows, and one more
        self.session.screenful = max(4, self.app.size.height // CARD_HEIGHT + 1)
        self.watch(self.view, "edge", self.query_one(TitleRow).show_edge, init=False)
        self.apply(self.session.start())
        self.set_interval(1.0, self.tick, name="tick")
        self.fit_footer()

    # -- what the columns show (tests and the app read these) ------------------------------------

    @property
    def columns(self) -> list[StatusColumn]:
        return self.view.columns

    @property
    def active(self) -> int:
        """Index of the column holding the focus."""
        return self.view.active

    @property
    def active_column(self) -> StatusColumn | None:
        return self.view.active_column

    def focused_id(self) -> str | None:
        """The card the focus is on (None: no card)."""
        return self.view.focused_id()

    def activate(self, index: int) -> None:
        self.view.activate(index)

    def focus_card(self, opportunity_id: str) -> None:
        self.view.focus_card(opportunity_id)

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
        view, snapshot = self.view, self.session.snapshot()
        focused = focused or self.focused_id()
        if update.rebuild:
            view.build(self.session.board, snapshot.hidden, self.backend.name)
            if self.session.board is not None:
                self.looking_at = None
                view.user_focus = False
        elif update.columns:
            view.show(snapshot.hidden)
        loading = snapshot.phase is Phase.LOADING and not update.first_cards
        if update.redraw:
            if loading and not update.focus:
                view.draw_later(update.redraw)  # later pages: drawn a few times a second, not once each
            else:
                view.draw_now(update.redraw, keep=focused)
        if update.first_cards:
            self.flush_load()
            if self.focused_id() is None or self.focused_id() not in (self.session.board or ()):
                view.focus_first_card()
            elif focused:
                view.focus_card(focused)
        if update.renamed is not None and update.renamed[0] == focused:
            view.focus_card(update.renamed[1])  # the new deal the user is on is the CRM's card now
        elif update.focus is not None:
            view.focus_card(update.focus)
        elif update.follow is not None and update.follow == focused:
            view.focus_card(focused)  # the user is still on that card: follow it back
        elif update.rebuild and focused is not None:
            view.focus_card(focused)  # the columns were built anew (the stages changed): the same card, by id
        if update.progress and snapshot.phase is not Phase.LOADING:
            self.flush_load()
            keep_out_of_gc()
        for notice in update.notices:
            # plain text (a deal's name may hold `[/]`): never read as markup; made safe here, where every
            # notice is shown, whatever it names (an id, a CRM's words)
            self.notify(safe_text(notice.text, multiline=True), title=safe_text(notice.title),
                        severity=notice.severity, timeout=notice.timeout, markup=False)  # type: ignore[arg-type]
        if update.ask is not None:
            self.ask(update.ask)
        if update.weeks is not None:
            board_actions.show_weeks(self, update.weeks)
        if update.notes is not None:
            board_actions.show_notes(self, update.notes)
        if update.noted is not None and board_actions.details_open(self, update.noted):
            update.jobs.extend(self.session.ask_notes(update.noted).jobs)  # the note just made, in the details
        runner = self.session.runner
        for job in update.jobs:  # in order: a journal write is applied at once, before the send that follows it
            if runner.immediate(job):
                runner.write(job)  # type: ignore[arg-type]
            else:
                self.run_job(job)
        self.update_status()
        self.track_focus(user=user)

    def ask(self, question: PipelineChoice | Conflict) -> None:
        board_actions.ask(self, question)

    def flush_load(self) -> None:
        """Draw what the pages loaded so far changed, the progress bar and the status line."""
        self.view.flush_load()
        self.update_status()

    @on(BoardView.LoadDrawn)
    def _load_drawn(self) -> None:
        self.update_status()

    def update_status(self) -> None:
        """The title row and the status line, from the session's snapshot."""
        snapshot = self.session.snapshot()
        self.query_one(TitleRow).show(snapshot, self.session.board)
        self.query_one(SyncStatus).show(snapshot)

    def on_resize(self) -> None:
        self.view.fit()
        self.fit_footer()

    def fit_footer(self) -> None:
        """The footer shows what fits the width: the keys given up first are those of `FOOTER_GIVES_UP`, in order
        (every key stays in the help, `?`, and the palette, ctrl+p); `? Help` and `q Quit` always stay."""
        width = self.app.size.width
        wanted = [b for b in (*BOARD_BINDINGS, *APP_BINDINGS) if b.show and b.id]
        shown: set[str] = {b.id for b in wanted if b.id}

        def used() -> int:
            return sum(len(b.key_display or b.key) + len(b.description) + 3 for b in wanted if b.id in shown)

        for binding_id in FOOTER_GIVES_UP:
            if used() <= width - 1:
                break
            shown.discard(binding_id)
        if shown == self.footer_shows:
            return
        self.footer_shows = shown
        for key, bound in self._bindings.key_to_bindings.items():
            self._bindings.key_to_bindings[key] = [
                replace(b, show=b.id in shown) if b.id in {w.id for w in wanted} else b for b in bound]
        self.refresh_bindings()

    # -- focus ----------------------------------------------------------------------------

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
        if user:
            self.view.user_focus = True
        if before is not None and user:
            update = self.session.look(before)
            if update.redraw:
                self.view.redraw(update.redraw, keep=now)

    def action_focus_column(self, delta: int) -> None:
        self.view.step_column(delta)
        self.track_focus()

    def action_jump_column(self, number: int) -> None:
        """`1`–`9`: the column in that place (of those shown)."""
        self.view.jump_column(number)
        self.track_focus()

    def action_focus_card(self, delta: int) -> None:
        self.view.step_card(delta)
        self.track_focus()

    def action_focus_page(self, delta: int) -> None:
        self.view.step_card(delta, pages=True)
        self.track_focus()

    def action_focus_end(self, direction: int) -> None:
        self.view.to_end(direction)
        self.track_focus()

    @on(BoardView.Picked)
    def _card_picked(self) -> None:
        self.track_focus()

    # -- moves: keys become intents ---------------------------------------------------------

    def action_move_card(self, delta: int) -> None:
        board_actions.step(self, delta)

    def action_pick_status(self) -> None:
        board_actions.pick_status(self)

    def action_undo(self) -> None:
        self.apply(self.session.undo(), user=True)

    def action_edit_deal(self) -> None:
        deal_actions.edit(self)

    def action_add_note(self) -> None:
        deal_actions.note(self)

    def action_new_deal(self) -> None:
        deal_actions.new_deal(self)

    def action_toggle_mark(self) -> None:
        """`space`: mark the focused card (a `●` on it), or unmark it; `>` / `<` / `m` then move every marked card."""
        card = self.focused_id()
        if card is not None:
            self.apply(self.session.toggle_mark(card), user=True)

    # -- the search ---------------------------------------------------------------------------

    def action_search(self) -> None:
        """`/`: type words; the board shows only the cards holding all of them."""
        if self.session.board is None:
            return
        self.search_line.open()
        self.session.board.prepare_search()

    def on_key(self, event: events.Key) -> None:
        """Type-ahead after `/`: tmux sends `/acme` in one write, and Textual routes every key to the widget
        focused when it arrives, before any binding runs; so the search key opens the search here, as its
        key comes by, and the letters behind it go into the search (they went nowhere, or to board keys)."""
        search = self.search_line
        if search.is_open:
            if event.is_printable and event.character is not None:
                event.stop()
                event.prevent_default()
                search.insert_text_at_cursor(event.character)
            return
        if event.key in self.search_keys and self.session.board is not None:
            event.stop()
            event.prevent_default()
            self.action_search()

    @cached_property
    def search_keys(self) -> set[str]:
        """The keys bound to the search, as the `[keys]` table may have remapped them."""
        return keys_for("search", self._bindings, self.app._keymap)

    @on(SearchLine.Changed)
    async def _search_changed(self, event: SearchLine.Changed) -> None:
        if not event.typed_ahead:  # (else a later change is on its way: draw only that one)
            self.apply_search(event.value)
            # one frame for the keystroke: the card lists and headers it changed ask the screen for their repaint
            # from their own message loops, once this handler lets them run; the search line's request is already
            # queued here. Yielding once lets theirs arrive before the screen goes idle and starts a frame, so the
            # letter and its matches are drawn together (not the line alone, then the columns 1/60 s or more later:
            # ~20-30 ms of a keystroke that changes every column at 50,000 cards; tests/test_search_frames.py)
            await asyncio.sleep(0)

    @on(SearchLine.Submitted)
    def _search_submitted(self, event: SearchLine.Submitted) -> None:
        """⏎: keep the search, back to the board (n / N go from match to match)."""
        search = self.search_line
        search.display = bool(search.value.strip())
        self.set_focus(None)
        if not search.value.strip():
            self.apply_search("")

    def apply_search(self, text: str) -> None:
        """The search's words to the session; the columns it changed drawn, the focus on a card shown."""
        board = self.session.board
        if board is None:
            return
        focused, before = self.focused_id(), board.query
        update = self.session.set_query(text)  # only the columns whose cards shown changed (typing on may narrow none)
        if board.query == before:
            return
        if update.redraw:
            self.view.redraw(update.redraw, keep=focused)
        if focused is None or board.index_of(focused) is None:
            self.view.first_match()
        self.update_status()

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
        if self.view.next_match(delta):
            self.track_focus()

    def action_cycle_sort(self) -> None:
        """`s`: the next order within columns (last updated, value, expected value, days in status, stalled
        first); the focus stays on its card."""
        board = self.session.board
        if board is None:
            return
        focused = self.focused_id()
        order = SORTS[(SORTS.index(board.sort) + 1) % len(SORTS)]
        self.apply(self.session.set_sort(order), focused=focused, user=True)
        self.view.others_to_top()
        if focused is not None:
            self.view.focus_card(focused)
        self.notify(f"Sorted by {SORT_NAMES[order]}", timeout=2)

    def action_clear_search(self) -> None:
        """esc: the marks first, if any (not while typing a search: that esc clears the search); then every card
        again (the search, then the owner filter), the focus kept on its card."""
        search = self.search_line
        board = self.session.board
        if board is not None and board.marked and not search.has_focus:
            n = len(board.marked)
            self.apply(self.session.clear_marks(), user=True)
            self.notify(f"{n} mark{'s' if n != 1 else ''} cleared", timeout=2)
            return
        if not search.value and not search.display and board is not None and board.owner is not None:
            self.set_owner(None)
            return
        if search.value:
            search.value = ""  # SearchLine.Changed clears the board's search
        else:
            self.apply_search("")
        search.display = False
        self.set_focus(None)

    # -- the owner filter ----------------------------------------------------------------------

    def action_filter_owner(self) -> None:
        board_actions.pick_owner(self)

    def set_owner(self, owner: str | None, *, is_me: bool = False) -> None:
        focused = self.focused_id()
        update = self.session.set_owner(owner, is_me=is_me)
        self.apply(update, focused=focused, user=True)
        board = self.session.board
        if board is not None and (focused is None or board.index_of(focused) is None):
            self.view.first_match()
        self.track_focus()
        label = self.session.snapshot().owner
        whose = "your" if label == "me" else "everyone's" if label is None else f"{label}'s"
        self.notify(f"Showing {whose} deals" + (" (esc: everyone's)" if label is not None else ""), timeout=3,
                    markup=False)

    # -- columns -------------------------------------------------------------------------------

    def action_hide_column(self) -> None:
        """`x`: hide the focused column (remembered); X shows them all again."""
        column = self.active_column
        if column is None:
            return
        if len(self.view.shown_columns()) <= 1:
            self.notify("The last column shown stays.", timeout=2)
            return
        self.apply(self.session.set_hidden(set(self.view.hidden) | {column.status.id}), user=True)
        self.notify(f"Hid {column.status.label} (X shows every column)", timeout=3, markup=False)
        self.track_focus()

    def action_show_columns(self) -> None:
        if not self.view.hidden:
            self.notify("Every column is shown.", timeout=2)
            return
        n = len(self.view.hidden)
        self.apply(self.session.set_hidden(set()), user=True)
        self.notify(f"Showing every column ({n} were hidden)", timeout=3)

    # -- changes since the user last looked ------------------------------------------------------

    def action_next_change(self, delta: int = 1) -> None:
        """`c`: the next card marked as changed (new, moved, re-valued), across columns, wrapping."""
        board = self.session.board
        if board is None or not self.columns:
            return
        found = self.view.next_change(board)
        if found is None:
            out_of_sight = sum(1 for c in board.card_ids() if board.change(c) is not None and c != self.focused_id())
            if out_of_sight > 0:  # marked, but left out by the search, the owner filter or hidden columns
                self.notify(f"{out_of_sight} marked change{'s are' if out_of_sight > 1 else ' is'} out of sight:"
                            " esc clears the search and the owner filter, X shows every column", timeout=5)
            else:
                self.notify("No other changes since you last looked.", timeout=2)
            return
        card, left = found
        self.view.focus_card(card)
        self.track_focus()
        self.notify(f"{board.opportunity(card).name}: {board_actions.change_words(board, card) or 'changed'}"
                    + (f" · {left} more" if left else ""), timeout=3, markup=False)

    # -- what opens another screen, the browser or the clipboard (board_actions) -------------------

    def action_show_details(self) -> None:
        board_actions.show_details(self)

    def action_open_link(self) -> None:
        board_actions.open_link(self)

    def action_copy_link(self) -> None:
        board_actions.copy_link(self)

    async def action_pipeline_picture(self) -> None:
        await board_actions.open_picture(self)

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
