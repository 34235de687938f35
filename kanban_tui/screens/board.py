"""The board: columns of cards, loading, keyboard focus, and the poller (moves: board_moves.py).

All I/O runs in workers that only talk to the backend (through `SyncEngine`) and
post a message with the result; the handlers below apply results to the `Board`
model and redraw the columns that changed.
"""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, HorizontalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, ProgressBar, Static

from ..backends.base import Backend
from ..store.board_copy import BoardCopy
from ..backends.errors import BackendError, unexpected_error
from ..store.journal import JournaledMove, MoveJournal
from ..keys import BOARD_BINDINGS
from ..models import Changes, Opportunity, Page, Pipeline
from ..sync import PendingMove, Poller, SyncEngine, is_unreachable
from ..widgets.column import CardList, StatusColumn
from ..widgets.status_bar import SyncStatus, ago
from .board_moves import BoardMoves
from .detail import DetailScreen
from .picker import PipelinePicker

MIN_COLUMN_WIDTH = 16
"""Narrowest a column gets (a card line then holds ~14 characters); below that the board scrolls."""
LOAD_REDRAW_EVERY = 0.25
"""Seconds between redraws while a load's later pages arrive."""


class BoardScreen(BoardMoves, Screen[None]):
    """One pipeline of one backend, as a kanban board."""

    BINDINGS = BOARD_BINDINGS

    @dataclass
    class PipelinesListed(Message):
        """Several pipelines and none chosen yet (or `p` pressed): ask which."""

        pipelines: list[Pipeline]
        switching: bool

    @dataclass
    class Opened(Message):
        """The pipeline is known and the engine made; pages follow."""

        engine: SyncEngine

    @dataclass
    class PageLoaded(Message):
        engine: SyncEngine
        page: Page

    @dataclass
    class Loaded(Message):
        """Every page of the first load has arrived."""

        engine: SyncEngine

    @dataclass
    class LoadFailed(Message):
        error: BackendError

    @dataclass
    class CopyOpened(Message):
        """The CRM could not be reached: the last known board (as of `saved_at`) is shown instead."""

        engine: SyncEngine
        saved_at: datetime
        error: BackendError

    @dataclass
    class ChangesFetched(Message):
        engine: SyncEngine
        changes: Changes

    @dataclass
    class SyncFailed(Message):
        engine: SyncEngine
        error: BackendError

    @dataclass
    class MovesRestored(Message):
        """The journal's moves from an earlier session are back on the board, to be sent."""

        engine: SyncEngine
        moves: list[PendingMove]
        dropped: list[JournaledMove]
        touched: set[str]
        focused: str | None
        """The card the focus was on before the moves went back on the board."""

    @dataclass
    class MoveSettled(Message):
        engine: SyncEngine
        move: PendingMove
        result: Opportunity | BackendError

    def __init__(
        self,
        backend: Backend,
        *,
        poll_interval: float,
        pipeline: str | None = None,
        colors: dict[str, str] | None = None,
        confirm_final_moves: bool = True,
        journal: MoveJournal | None = None,
        board_copy: BoardCopy | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.journal = journal
        self.board_copy = board_copy
        self.copy_of: datetime | None = None
        """When the board shown is the last known copy: the time of the sync it was saved at."""
        self.conflicts: dict[str, list[PendingMove]] = {}
        """Cards whose moves the CRM's newer change stopped, with those moves, while the user is asked."""
        self.refocus: str | None = None
        """The card to put the focus back on once the board replacing the copy has loaded."""
        self.wanted_pipeline = pipeline
        self.status_colors = colors or {}
        self.confirm_final_moves = confirm_final_moves
        self.poller = Poller(poll_interval)
        self.engine: SyncEngine | None = None
        self.columns: list[StatusColumn] = []
        self.active = 0
        self.first_load = True
        self.history: list[tuple[str, str, str]] = []
        """This session's moves on the open pipeline, for undo: (card, from status, to status)."""
        self.load_dirty: set[str] = set()
        """Columns that pages changed since the board was last drawn during a load."""
        self.load_progress: Page | None = None
        self.load_flush: Timer | None = None
        self.load_error: BackendError | None = None
        """Why the board could not be opened (until it is)."""
        self.choosing = False
        """The pipeline picker is up at start: nothing is loading."""
        self.polling = False
        self.skipped_reported: set[str] = set()

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield Static(f"kanban-tui · {self.backend.name}", id="title")
            # on the title row: showing and hiding it reflows that row, not the columns
            yield ProgressBar(id="progress", show_eta=False)
        yield HorizontalScroll(id="board")
        yield SyncStatus(id="sync-status")
        yield Footer()

    def on_mount(self) -> None:
        self.load_board()
        self.set_interval(1.0, self.tick, name="tick")
        self.update_status()

    # -- workers: I/O only, results come back as messages --------------------------------

    @work(group="load", exclusive=True, exit_on_error=False)
    async def load_board(self, pipeline: Pipeline | None = None) -> None:
        """Open `pipeline`, or the one asked for, or the only one; with several, ask."""
        gc.disable()  # see `collect_after_load`
        opened = False
        try:
            if pipeline is None:
                pipelines = await self.backend.list_pipelines()
                if self.wanted_pipeline is None and len(pipelines) > 1:
                    self.post_message(self.PipelinesListed(pipelines, switching=False))
                    return
                pipeline = choose_pipeline(pipelines, self.wanted_pipeline, self.backend.name)
            engine = SyncEngine(self.backend, pipeline.recolored(self.status_colors), journal=self.journal)
            self.post_message(self.Opened(engine))
            opened = True
            async for page in engine.start():
                self.post_message(self.PageLoaded(engine, page))
            self.post_message(self.Loaded(engine))
        except BackendError as exc:
            # the copy is opened unless it is what the screen shows now (a retry failed)
            if not (is_unreachable(exc) and (opened or self.copy_of is None) and await self.open_copy(exc)):
                self.post_message(self.LoadFailed(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not take the board down
            self.log.error(exc)
            self.post_message(self.LoadFailed(unexpected_error(exc)))
        finally:
            # queued behind the messages posted above: runs once they have been handled
            self.call_later(collect_after_load)

    async def open_copy(self, error: BackendError) -> bool:
        """Open the last known board, if one was kept for this CRM; False if there is none."""
        if self.board_copy is None:
            return False
        saved = await asyncio.to_thread(self.board_copy.load, self.wanted_pipeline)
        if saved is None:
            return False
        engine = SyncEngine(self.backend, saved.pipeline.recolored(self.status_colors), journal=self.journal)
        count = len(saved.opportunities)
        self.post_message(self.Opened(engine))
        self.post_message(self.PageLoaded(engine, Page(opportunities=saved.opportunities, loaded=count, total=count)))
        self.post_message(self.CopyOpened(engine, saved.saved_at, error))
        return True

    @work(group="copy", exclusive=True, exit_on_error=False)
    async def save_copy(self, engine: SyncEngine) -> None:
        """Keep the board as the CRM has it now, to open while the CRM cannot be reached."""
        if self.board_copy is not None and engine.last_synced is not None:
            cards = engine.board.server_versions()
            problem = await asyncio.to_thread(self.board_copy.save, engine.pipeline, cards, engine.last_synced)
            if problem:
                self.log.warning(problem)

    def save_copy_now(self) -> None:
        """At quit: the board as last synced (~40 ms at 10,000 cards), unless it is the copy itself."""
        engine = self.engine
        if self.board_copy is None or engine is None or self.copy_of or self.first_load or engine.last_synced is None:
            return
        if problem := self.board_copy.save(engine.pipeline, engine.board.server_versions(), engine.last_synced):
            self.log.warning(problem)

    @work(group="pipelines", exclusive=True, exit_on_error=False)
    async def list_pipelines(self) -> None:
        try:
            self.post_message(self.PipelinesListed(await self.backend.list_pipelines(), switching=True))
        except BackendError as exc:
            self.notify(str(exc), title="Could not list pipelines", severity="error", timeout=10)

    @work(group="poll", exit_on_error=False)
    async def poll(self, engine: SyncEngine) -> None:
        try:
            self.post_message(self.ChangesFetched(engine, await engine.fetch_changes()))
        except BackendError as exc:
            self.post_message(self.SyncFailed(engine, exc))
        except Exception as exc:  # noqa: BLE001
            self.log.error(exc)
            self.post_message(self.SyncFailed(engine, unexpected_error(exc)))

    @work(group="restore", exit_on_error=False)
    async def restore_moves(self, engine: SyncEngine) -> None:
        focused = self.focused_id()  # before restoring moves the cards
        try:
            moves, dropped, touched = await engine.restore()
        except Exception as exc:  # noqa: BLE001 - an unreadable journal must not take the board down
            self.log.error(exc)
            self.notify(f"Could not read the move journal: {exc}", severity="error", timeout=15)
            return
        self.post_message(self.MovesRestored(engine, moves, dropped, touched, focused))

    # -- results --------------------------------------------------------------------------

    @on(PipelinesListed)
    def _pipelines_listed(self, message: PipelinesListed) -> None:
        current = self.engine.pipeline.id if self.engine else None
        pipelines = message.pipelines
        if not pipelines:
            self.post_message(self.LoadFailed(BackendError("there are no pipelines", crm=self.backend.name)))
            return

        if current is None:
            self.choosing = True
            self.query_one("#progress", ProgressBar).display = False
            self.update_status()

        def chosen(pipeline_id: str | None) -> None:
            self.choosing = False
            if pipeline_id is None:
                if current is not None:
                    return
                pipeline_id = pipelines[0].id
            if pipeline_id != current:
                self.open_pipeline(next(p for p in pipelines if p.id == pipeline_id))

        self.app.push_screen(PipelinePicker(self.backend.name, pipelines, current), chosen)

    def open_pipeline(self, pipeline: Pipeline) -> None:
        """Leave the board shown now (if any) and load `pipeline`."""
        self.engine = None
        self.first_load = True
        self.polling = False
        self.wanted_pipeline = pipeline.id
        progress = self.query_one("#progress", ProgressBar)
        progress.update(total=None, progress=0)
        progress.display = True
        self.load_board(pipeline)
        self.update_status()

    @on(Opened)
    def _opened(self, message: Opened) -> None:
        if self.copy_of is not None:  # the CRM answers again: its board replaces the copy
            self.refocus = self.focused_id()
            self.copy_of = None
            self.first_load = True
            self.polling = False
            self.query_one("#progress", ProgressBar).display = True
        self.engine = engine = message.engine
        self.history.clear()
        self.conflicts.clear()
        if self.load_flush is not None:
            self.load_flush.stop()
            self.load_flush = None
        self.load_dirty, self.load_progress = set(), None
        if self.columns:
            for column in self.columns:
                column.remove()
            self.active = 0
        self.query_one("#title", Static).update(
            f"kanban-tui · {self.backend.name} · [b]{_escape(engine.pipeline.name)}[/b]"
        )
        self.columns = [StatusColumn(engine.board, status) for status in engine.pipeline.statuses]
        self.query_one("#board", HorizontalScroll).mount_all(self.columns)
        self.size_columns()
        if self.columns:
            self.columns[0].set_active(True)

    @on(PageLoaded)
    def _page_loaded(self, message: PageLoaded) -> None:
        if message.engine is not self.engine:
            return
        page = message.page
        first_page = len(self.engine.board) == 0
        self.load_dirty |= self.engine.apply_page(page)
        self.load_progress = page
        self.report_skipped(page.skipped)
        if first_page and page.opportunities:
            self.flush_load()  # the first cards show at once; the board is usable from here
            self.focus_first_card()
        elif self.load_flush is None:
            # later pages are drawn a few times a second, not once each: a frame costs
            # the same for 100 new cards as for 10,000
            self.load_flush = self.set_timer(LOAD_REDRAW_EVERY, self.flush_load, name="load-flush")
        keep_out_of_gc()

    def flush_load(self) -> None:
        """Draw what the pages loaded so far changed, and the progress bar."""
        if self.load_flush is not None:
            self.load_flush.stop()
            self.load_flush = None
        if self.load_dirty:
            self.redraw(self.load_dirty)
            self.load_dirty = set()
        if self.load_progress is not None:
            progress = self.query_one("#progress", ProgressBar)
            progress.update(total=self.load_progress.total, progress=self.load_progress.loaded)
        self.update_status()

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.engine is not self.engine:
            return
        self.flush_load()
        self.first_load = False
        self.load_error = None
        self.query_one("#progress", ProgressBar).display = False
        keep_out_of_gc()
        if self.refocus is not None and self.refocus in message.engine.board:
            self.focus_card(self.refocus)
        elif self.focused_id() is None:
            self.focus_first_card()
        self.refocus = None
        self.poller.succeeded()
        self.update_status()
        if self.journal is not None:
            self.restore_moves(message.engine)
        self.save_copy(message.engine)

    @on(CopyOpened)
    def _copy_opened(self, message: CopyOpened) -> None:
        engine = message.engine
        if engine is not self.engine:
            return
        self.flush_load()
        self.first_load = False
        self.copy_of = engine.last_synced = message.saved_at
        engine.sync_failed(message.error)
        self.load_error = message.error
        self.query_one("#progress", ProgressBar).display = False
        if self.focused_id() is None:
            self.focus_first_card()
        self.poller.failed(getattr(message.error, "retry_after", None))
        self.notify(
            f"{self.backend.name} cannot be reached: this is the board as of {ago(message.saved_at)}."
            " Moves are kept and sent when it answers.",
            title="Offline",
            severity="warning",
            timeout=10,
        )
        self.update_status()
        if self.journal is not None:
            self.restore_moves(engine)

    @on(MovesRestored)
    def _moves_restored(self, message: MovesRestored) -> None:
        if message.engine is not self.engine:
            return
        focused = message.focused
        self.redraw(message.touched, keep=focused)
        if focused in {move.opportunity_id for move in message.moves}:
            self.focus_card(focused)  # the card the user is on moves back to where they put it
        if message.moves:
            count = len(message.moves)
            self.notify(
                f"Sending {count} move{'s' if count > 1 else ''} saved from last time", title="Moves kept", timeout=8
            )
        for entry in message.dropped:
            self.notify(
                f"A move of {entry.opportunity_name or entry.opportunity_id} from last time was dropped: the card"
                f" is no longer in {self.engine.pipeline.name}",
                severity="warning",
                timeout=10,
            )
        for move in message.moves:
            self.send_move(message.engine, move)
        self.update_status()

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        self.first_load = False
        self.polling = False
        self.query_one("#progress", ProgressBar).display = False
        if self.copy_of is None:  # else the status line says it, and the copy stays on screen
            self.notify(str(message.error), title="Could not open the board", severity="error", timeout=15)
        if self.engine is not None:
            self.engine.sync_failed(message.error)
        self.load_error = message.error
        self.poller.failed(getattr(message.error, "retry_after", None))
        self.update_status()

    @on(ChangesFetched)
    def _changes_fetched(self, message: ChangesFetched) -> None:
        if message.engine is not self.engine:
            return
        self.polling = False
        assert self.engine is not None
        self.poller.succeeded()
        self.redraw(self.engine.apply_changes(message.changes))
        self.report_skipped(message.changes.skipped)
        self.resend_held()
        self.update_status()

    @on(MoveSettled)
    def _move_settled(self, message: MoveSettled) -> None:
        self.move_settled(message)

    @on(SyncFailed)
    def _sync_failed(self, message: SyncFailed) -> None:
        if message.engine is not self.engine:
            return
        self.polling = False
        assert self.engine is not None
        self.engine.sync_failed(message.error)
        self.poller.failed(getattr(message.error, "retry_after", None))
        self.update_status()

    def report_skipped(self, skipped: list[str]) -> None:
        new = [line for line in skipped if line not in self.skipped_reported]
        self.skipped_reported.update(new)
        if new:
            more = f" (and {len(new) - 1} more)" if len(new) > 1 else ""
            self.notify(new[0] + more, title="Some records could not be read", severity="warning", timeout=10)

    # -- drawing --------------------------------------------------------------------------

    def on_resize(self) -> None:
        self.size_columns()

    def size_columns(self) -> None:
        """Share the width between the columns; below MIN_COLUMN_WIDTH each, the board scrolls sideways."""
        count = len(self.columns)
        if not count:
            return
        room = self.size.width - (count - 1)  # one cell between columns
        width, extra = divmod(room, count)
        if width < MIN_COLUMN_WIDTH:
            width, extra = MIN_COLUMN_WIDTH, 0
        for i, column in enumerate(self.columns):
            column.styles.width = width + (1 if i < extra else 0)

    def redraw(self, status_ids: set[str], keep: str | None = None) -> None:
        """Redraw the columns whose content changed, keeping focus on the same card."""
        keep = keep or self.focused_id()
        for column in self.columns:
            if column.status.id in status_ids:
                column.refresh_header()
                column.cards.cards_changed(keep if column.cards.active else column.cards.cursor_id)

    def update_status(self) -> None:
        engine = self.engine
        board = engine.board if engine else None
        self.query_one(SyncStatus).show(
            cards=len(board) if board else 0,
            pending=board.pending_count() if board else 0,
            last_synced=engine.last_synced if engine else None,
            error=engine.last_error if engine else self._load_error_text(),
            retry_in=self.poller.seconds_left() if engine or self._load_retries() else None,
            rate_wait=self.backend.rate_wait_left(),
            crm=self.backend.name,
            offline=bool(engine and engine.offline),
            copy_of=self.copy_of,
            queued=len(engine.held) if engine else 0,
            loading=self.first_load and not self.choosing,
            choosing=self.choosing,
        )

    def _load_retries(self) -> bool:
        """A board that failed to open for a passing reason (network, 5xx) tries again by itself."""
        return self.load_error is not None and is_unreachable(self.load_error)

    def _load_error_text(self) -> str | None:
        if self.load_error is None:
            return None
        return self.load_error.summary + ("" if self._load_retries() else " - press r to retry")

    def tick(self) -> None:
        """Every second: start a poll when one is due, and keep the 'synced … ago' honest."""
        if self.engine is None and not self.first_load and self._load_retries() and self.poller.due():
            self.action_refresh()
        if self.engine is not None and not self.first_load and not self.polling and self.poller.due():
            self.polling = True
            if self.copy_of is not None:
                self.load_board()  # the copy has no cursor to poll from: open the CRM's board again
            else:
                self.poll(self.engine)
        self.update_status()

    # -- focus ----------------------------------------------------------------------------

    @property
    def active_column(self) -> StatusColumn | None:
        return self.columns[self.active] if self.columns else None

    def focused_id(self) -> str | None:
        column = self.active_column
        return column.cards.cursor_id if column else None

    def focus_first_card(self) -> None:
        self.activate(0)
        if self.columns:
            self.columns[0].cards.set_cursor(0)

    def activate(self, index: int) -> None:
        if not self.columns:
            return
        index = max(0, min(index, len(self.columns) - 1))
        if index != self.active:
            self.columns[self.active].set_active(False)
        self.active = index
        column = self.columns[index]
        column.set_active(True)
        self.query_one("#board", HorizontalScroll).scroll_to_widget(column, animate=False, immediate=True)

    def focus_card(self, opportunity_id: str) -> None:
        """Put the focus on a card, wherever it is now."""
        assert self.engine is not None
        board = self.engine.board
        if opportunity_id not in board:
            return
        status_id = board.shown_status(opportunity_id)
        for i, column in enumerate(self.columns):
            if column.status.id == status_id:
                self.activate(i)
                column.cards.set_cursor(board.index_of(opportunity_id) or 0)

    def action_focus_column(self, delta: int) -> None:
        self.activate(self.active + delta)

    def action_focus_card(self, delta: int) -> None:
        if column := self.active_column:
            column.cards.set_cursor(column.cards.cursor + delta)

    def action_focus_page(self, delta: int) -> None:
        if column := self.active_column:
            column.cards.set_cursor(column.cards.cursor + delta * column.cards.page_cards)

    def action_focus_end(self, direction: int) -> None:
        if column := self.active_column:
            column.cards.set_cursor(0 if direction < 0 else column.cards.count - 1)

    @on(CardList.Clicked)
    def _card_clicked(self, message: CardList.Clicked) -> None:
        for i, column in enumerate(self.columns):
            if column.cards is message.card_list:
                self.activate(i)
                column.cards.set_cursor(message.index)

    # -- other actions (moves are in board_moves.py) -----------------------------------------

    def action_show_details(self) -> None:
        opportunity_id = self.focused_id()
        if self.engine is None or opportunity_id is None:
            return
        board = self.engine.board
        self.app.push_screen(
            DetailScreen(
                board.opportunity(opportunity_id),
                board.status(board.shown_status(opportunity_id)),
                pending=board.is_pending(opportunity_id),
                times_reported=board.real_update_times,
            )
        )

    def action_switch_pipeline(self) -> None:
        if self.engine is not None and (pending := self.engine.board.pending_count()):
            self.notify(f"Wait for {pending} move{'s' if pending > 1 else ''} to save first.", timeout=3)
            return
        self.list_pipelines()

    def action_refresh(self) -> None:
        if self.engine is None:
            if not self.first_load and not self.choosing:
                self.first_load = True
                self.load_error = None
                self.query_one("#progress", ProgressBar).display = True
                self.load_board()
            return
        self.poller.now()
        self.tick()


def choose_pipeline(pipelines: list[Pipeline], wanted: str | None, crm: str) -> Pipeline:
    """The pipeline named or numbered `wanted` (case-insensitive), else the first."""
    if not pipelines:
        raise BackendError("there are no pipelines", crm=crm)
    if wanted is None:
        return pipelines[0]
    for pipeline in pipelines:
        if wanted in (pipeline.id, pipeline.name) or pipeline.name.lower() == wanted.lower():
            return pipeline
    names = ", ".join(p.name for p in pipelines)
    raise BackendError(f"no pipeline named {wanted!r}", crm=crm, hint=f"choose one of: {names}")


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


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

