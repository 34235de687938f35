"""The board session: one pipeline of one CRM, kept true, with no Textual in sight.

`BoardSession` decides everything the board says: its phase (`phase.py`: choosing a pipeline,
loading, live, offline, failed), the board model, the poll schedule, the move queue (`moves.py`),
undo, conflict questions and how each failure is handled (`health.py`). It takes events — the
user's calls (`move`, `undo`, `refresh`, answers to questions), ticks, and the results of I/O —
and returns an `Update` (`protocol.py`): columns to redraw, where the focus goes (by card id),
notices, a question to ask, and jobs to start. It never does I/O itself: the runner (`runner.py`,
`session.runner`) executes every job, and the UI hands each event a job yields back to `handle`.
The status line and the board's title row are drawn from `snapshot()`, so they cannot disagree with the session.

Opening a board (the pipeline listing, the saved copy, the warm and cold starts, loads) is
`opening.py`'s part of the session; what a poll brings (changes, new stages, a failure) is `polling.py`'s.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import assert_never

from ..backends.base import Backend
from ..backends.errors import BackendError, unexpected_error
from ..models import Edit, Pipeline
from ..store.board_copy import BoardCopy, SavedBoard
from ..store.journal import MoveJournal
from ..store.prefs import BoardPrefs
from ..store.seen import SeenStore
from . import acting, bulk, edit_answers, opening, polling
from .board import Board
from .edits import WriteQueue
from .health import Failure, Health, classify
from .moves import Intent, MoveQueue, Outcome
from .phase import Live, Loading, Offline, Phase, Snapshot, State, snapshot
from .polling import LOCK_RETRY
from .protocol import (
    BOARD_EVENTS,
    AskNotes,
    AskWeeks,
    CardRead,
    Conflict,
    CopyRead,
    CopySaved,
    CreateAnswered,
    DealRead,
    Drain,
    EditAnswered,
    Event,
    FirstScreen,
    LeadsKnown,
    ListPipelines,
    LoadDone,
    LoadFailed,
    LoadStarted,
    MeKnown,
    MoveAnswered,
    NoteAnswered,
    NotesKnown,
    PageArrived,
    PipelinesFailed,
    PipelinesListed,
    Polled,
    PollFailed,
    Recalled,
    Resumed,
    SaveCopy,
    SavePrefs,
    SaveSeen,
    Update,
    UsersKnown,
    WeeksKnown,
)
from .runner import Runner

log = logging.getLogger("kanban_tui.sync")

NOTES_SHOWN = 5
"""A deal's latest notes the details view asks for."""


class BoardSession:
    """One pipeline of one backend, kept true. Plain Python: no Textual, no event loop needed
    except to run the jobs it asks for."""

    def __init__(
        self,
        backend: Backend,
        *,
        poll_interval: float,
        pipeline: str | None = None,
        colors: dict[str, str] | None = None,
        journal: MoveJournal | None = None,
        board_copy: BoardCopy | None = None,
        prefs: BoardPrefs | None = None,
        seen: SeenStore | None = None,
        me: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.backend = backend
        self.poll_interval = poll_interval
        self.wanted = pipeline
        self.colors = colors or {}
        self.journal = journal
        self.board_copy = board_copy
        self.prefs = prefs
        self.seen = seen
        self.me = me
        """The user's own name as cards give it as owner (config `me`, else the CRM's answer to WhoAmI)."""
        self.me_asked = me is not None
        self.hidden: set[str] = set()
        """Status ids of the columns the user hid (`x`), remembered per board."""
        self.owner_is_me = False
        """The owner filter is "me" (it follows the name the CRM gives)."""
        self.changes_said = False
        self.refresh_asked = False
        self.warming = False
        """The saved board is being read at start (a warm start): the pipeline listing waits for it."""
        self.listed_early: PipelinesListed | PipelinesFailed | None = None
        self.warm: SavedBoard | None = None
        """The saved board on screen at a warm start, until the CRM has said what changed since."""
        self.clock = clock
        self.now = now
        self.rand = rand

        self.state: State = Loading()
        self.gen = 0
        """Which board is shown: a result of a job for another (an older) board is dropped."""
        self.pipeline: Pipeline | None = None
        self.board: Board | None = None
        self.cursor: str | None = None
        self.loaded = 0
        self.total: int | None = None
        self.complete = False
        """The board holds a whole load of the pipeline (polls can keep it true from here)."""
        self.busy = False
        """A poll, a load or a pipeline listing is out."""
        self.load_seen: set[str] = set()
        self.copy_of: datetime | None = None
        self.last_synced: datetime | None = None
        self.health = Health(clock, rand, poll_interval)
        self.moves = MoveQueue(journaled=journal is not None, keeps_seen=seen is not None, clock=clock, now=now)
        self.writes = WriteQueue(journaled=journal is not None, clock=clock, now=now, keeps_seen=seen is not None)
        """The user's edits, notes and new deals (`edits.py`)."""
        self._skipped_reported: set[str] = set()
        self.runner = Runner(backend, journal=journal, board_copy=board_copy, prefs=prefs, seen=seen)
        """Executes the jobs this session asks for (the UI runs them; tests may run them by hand)."""
        self.read_only = self.runner.claim_journal()
        """Another instance drains the journal: why this one cannot move cards (None: it can)."""
        self.lock_try = self.clock() + LOCK_RETRY if self.read_only else 0.0
        """When a read-only window next tries the journal's lock (on `clock`)."""
        self.taken_over = False
        """The lock was just taken over: the next update says so and reads the moves the other window left."""

    # -- reading -----------------------------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        """The kind of phase the board is in (`state` holds its data)."""
        return self.state.kind

    @property
    def intents(self) -> dict[str, Intent]:
        """The user's moves the CRM has not confirmed yet, by card."""
        return self.moves.intents

    @property
    def question(self) -> Conflict | None:
        """The conflict the user is being asked about, if any."""
        return self.moves.question or self.writes.question

    @property
    def outcomes(self) -> deque[Outcome]:
        """How the latest intents ended (confirmed, refused, failed, gone, theirs, dropped)."""
        return self.moves.outcomes

    @property
    def screenful(self) -> int:
        """Cards a column shows on one screen (the UI sets it from the terminal's height): a cold start asks
        for that many per column first."""
        return self.runner.screenful

    @screenful.setter
    def screenful(self, cards: int) -> None:
        self.runner.screenful = cards

    def snapshot(self) -> Snapshot:
        """What the status line and the title row say (`phase.snapshot`)."""
        return snapshot(self)

    def unsent(self) -> int:
        """Moves, edits, notes and new deals the CRM has not confirmed yet."""
        return len(self.moves) + len(self.writes)

    # -- starting and choosing -------------------------------------------------------------------------

    def start(self) -> Update:
        """The first jobs: the pipeline listing, and the saved board if one is kept (a warm start)."""
        return opening.start(self)

    def list_pipelines(self) -> Update:
        """`p`: ask which pipeline to open (not while moves wait to be saved)."""
        u = Update()
        if self.moves.intents:
            n = len(self.moves.intents)
            u.notice(f"Wait for {n} move{'s' if n > 1 else ''} to save first.", timeout=3)
            return u
        u.jobs.append(ListPipelines(switching=True))
        return u

    def choose_pipeline(self, pipeline_id: str | None, pipelines: list[Pipeline]) -> Update:
        """The picker's answer (None: dismissed)."""
        current = self.pipeline.id if self.pipeline else None
        if pipeline_id is None:
            if current is not None:
                return Update()
            pipeline_id = pipelines[0].id
        if pipeline_id == current:
            return Update()
        if self.moves.intents:  # made while the list was on its way: they are not left behind
            u = Update()
            n = len(self.moves.intents)
            u.notice(f"Wait for {n} move{'s' if n > 1 else ''} to save first.", timeout=3)
            return u
        return self.open(next(p for p in pipelines if p.id == pipeline_id))

    def open(self, pipeline: Pipeline) -> Update:
        """Leave the board shown now (if any) and load `pipeline`."""
        return opening.open_board(self, pipeline)

    # -- the user's intents ---------------------------------------------------------------------------

    def can_move(self, card: str) -> str | None:
        """Why this card cannot be moved now (one line), or None."""
        if self.board is None or card not in self.board:
            return "That card is no longer on the board."
        if self.read_only:
            polling.try_lock(self)  # the other window may be gone: then this one takes the move
        if self.read_only:
            return f"Read-only: {self.read_only}."
        opportunity = self.board.opportunity(card)
        if opportunity.read_only:
            return f"{opportunity.name} cannot be moved from here: {opportunity.read_only}."
        if self.moves.intents.get(card) is not None and self.moves.intents[card].state == "asking":
            return f"{opportunity.name}: answer the question about it first."
        return None

    def move(self, card: str, status_id: str, *, lost_reason: str | None = None, undoing: bool = False) -> Update:
        """The user puts a card in a status: shown there at once, sent when its turn comes."""
        u = Update()
        board = self.board
        if board is None or self.pipeline is None:
            return u
        if (why := self.can_move(card)) is not None:
            u.notice(why, severity="warning", timeout=6)
            return u
        shown = board.shown_status(card)
        if shown == status_id:
            return u
        if not undoing:
            self.moves.history.append([(card, shown, status_id)])
        self.moves.add(board, self.pipeline, card, status_id, lost_reason, u)
        u.focus = card
        self.pump(u)
        return u

    def undo(self) -> Update:
        """Undo the session's last move (a bulk move: every card of it) or edit, as a new intent: `bulk.undo`,
        `acting.undo_edit`."""
        history = self.writes.history
        if history and history[-1][3] >= len(self.moves.history):
            return acting.undo_edit(self)
        return bulk.undo(self)

    # -- acting on a deal (`acting.py`): edit, note, create -------------------------------------------------

    def can_edit(self, card: str | None = None) -> str | None:
        return acting.can_edit(self, card)

    def edit(self, card: str, change: Edit) -> Update:
        return acting.edit(self, card, change)

    def can_note(self, card: str | None = None) -> str | None:
        return acting.can_note(self, card)

    def add_note(self, card: str, text: str) -> Update:
        return acting.add_note(self, card, text)

    def can_create(self, status_id: str | None = None) -> str | None:
        return acting.can_create(self, status_id)

    def create(self, status_id: str, name: str, *, value: int | None = None, currency: str | None = None,
               confidence: int | None = None, lead_id: str | None = None) -> Update:
        return acting.create(self, status_id, name, value=value, currency=currency, confidence=confidence,
                             lead_id=lead_id)

    # -- marks: several cards at once (`bulk.py`) -------------------------------------------------------

    @property
    def marked(self) -> list[str]:
        """The cards the user marked (`space`), in the order marked."""
        return list(self.board.marked) if self.board is not None else []

    def toggle_mark(self, card: str) -> Update:
        """`space`: mark the card, or unmark it."""
        return bulk.toggle_mark(self, card)

    def clear_marks(self) -> Update:
        """`esc` with marks: every mark goes."""
        return bulk.clear_marks(self)

    def step_status(self, card: str, delta: int) -> str | None:
        """The status `delta` (+1 / -1) from the card's column (hidden columns stepped over); None at the edge."""
        return bulk.step_status(self, card, delta)

    def plan_marked(self, *, delta: int = 0, status_id: str | None = None) -> bulk.BulkPlan:
        """Where moving the marked cards puts each (`>` / `<`: `delta`; `m`: `status_id`), before it is made."""
        return bulk.plan_marked(self, delta=delta, status_id=status_id)

    def move_marked(self, plan: bulk.BulkPlan, *, lost_reason: str | None = None, focus: str | None = None) -> Update:
        """Move every card of `plan` at once: one intent per card, one move for undo, said in one line."""
        return bulk.move_marked(self, plan, lost_reason=lost_reason, focus=focus)

    def set_sort(self, order: str) -> Update:
        """The order within columns (remembered for this board)."""
        u = Update()
        if self.board is None or self.pipeline is None:
            return u
        u.redraw |= self.board.set_sort(order)
        if self.prefs is not None:
            u.jobs.append(SavePrefs(self.pipeline.id, {"sort": order}))
        return u

    def set_owner(self, owner: str | None, *, is_me: bool = False) -> Update:
        """Show only `owner`'s cards (`UNASSIGNED`: those with none; None: everyone's); remembered for this
        board (`is_me`: as "me", which follows the name the CRM gives the user)."""
        u = Update()
        if self.board is None or self.pipeline is None:
            return u
        self.owner_is_me = is_me and owner is not None
        u.redraw |= self.board.set_owner(owner)
        if self.prefs is not None:
            u.jobs.append(SavePrefs(self.pipeline.id, {"owner": owner, "owner_is_me": self.owner_is_me}))
        return u

    def set_query(self, text: str) -> Update:
        """The search (`/`): show only the cards holding every word of `text` (not remembered); redraws the
        columns whose cards shown changed."""
        u = Update()
        if self.board is not None:
            u.redraw |= self.board.set_query(text)
        return u

    @property
    def owner_label(self) -> str | None:
        """The owner filter as the title says it: `me`, a name, `unassigned`; None when there is none."""
        owner = self.board.owner if self.board is not None else None
        if owner is None:
            return None
        if self.owner_is_me:
            return "me"
        return owner or "unassigned"

    def set_hidden(self, hidden: set[str]) -> Update:
        """Hide these columns (by status id); remembered for this board."""
        u = Update(columns=True)
        if self.pipeline is None:
            return u
        self.hidden = {h for h in hidden if self.pipeline.status(h) is not None}
        if self.prefs is not None:
            u.jobs.append(SavePrefs(self.pipeline.id, {"hidden": sorted(self.hidden)}))
        return u

    def ask_weeks(self, weeks: int) -> Update:
        """`P`: won and lost per week over the last `weeks` weeks, asked of the CRM; the answer comes back as
        `Update.weeks` (the session keeps nothing of it)."""
        u = Update()
        if self.pipeline is not None:
            u.jobs.append(AskWeeks(self.pipeline, weeks))
        return u

    def ask_notes(self, card: str, limit: int = NOTES_SHOWN) -> Update:
        """⏎: the deal's latest `limit` notes, asked of the CRM; the answer comes back as `Update.notes` (the
        session keeps nothing of it). A card no longer on the board is answered at once, without a request."""
        u = Update()
        if self.board is None or card not in self.board:
            u.notes = NotesKnown(card, None, "the deal is no longer on the board")
        else:
            u.jobs.append(AskNotes(card, self.board.opportunity(card), limit))
        return u

    def look(self, card: str | None) -> Update:
        """The user has seen this card (the focus left it): its change mark goes."""
        u = Update()
        if card is not None and self.board is not None:
            u.redraw |= self.board.look(card)
        return u

    def save_seen_now(self) -> str | None:
        """At quit: keep what the user has seen of the board, for the next start's marks (a problem, or None)."""
        if self.seen is None or self.board is None or self.pipeline is None or not self.complete:
            return None
        if self.board.seen is None:
            return None
        return self.runner.save_now(SaveSeen(self.pipeline.id, self.board.seen_to_keep(), self.now().isoformat()))

    def resolve_conflict(self, card: str, keep: bool) -> Update:
        """The user's answer: keep my move (send it) or take the CRM's version (drop it)."""
        u = Update()
        asked = self.question
        if self.board is not None and asked is not None and asked.card == card and asked.field:
            self.writes.resolve(self.board, card, asked.field, keep, u)
        elif self.board is not None:
            self.moves.resolve(self.board, card, keep, u)
        self.pump(u)
        return u

    def refresh(self) -> Update:
        """`r`: poll now (or try to open the board again); says that it ran, and then what it found."""
        return polling.refresh(self)

    # -- time --------------------------------------------------------------------------------------

    def tick(self) -> Update:
        """Start what is due: a poll, a load tried again, moves whose retry time came."""
        return polling.tick(self)

    # -- I/O results -------------------------------------------------------------------------------------

    def handle(self, event: Event) -> Update:
        """What came of a job: the board, the phase and the queue move on; what the UI must do."""
        u = Update()
        if isinstance(event, BOARD_EVENTS) and event.gen != self.gen:
            return u  # the one stale guard: a result for a board no longer shown
        try:
            self._dispatch(event, u)
            self.pump(u)
        except Exception as exc:  # noqa: BLE001 - a bug must not take the board down: said, logged
            log.exception("handling %s", type(event).__name__)
            u.notice(f"{unexpected_error(exc)} (details in the log)", title="dealboard hit a bug", severity="error",
                     timeout=15)
        return u

    def _dispatch(self, event: Event, u: Update) -> None:
        board = self.board
        match event:
            case PipelinesListed():
                opening.listed(self, event, u)
            case PipelinesFailed():
                opening.listing_failed(self, event, u)
            case Recalled():
                opening.recall(self, event, u)
            case LoadStarted():
                opening.load_started(self, event, u)
            case FirstScreen():
                opening.first_screen(self, event, u)
            case PageArrived():
                opening.page(self, event, u)
            case LoadDone():
                opening.load_done(self, event, u)
            case LoadFailed():
                opening.load_failed(self, event, u)
            case CopyRead():
                opening.copy_read(self, event, u)
            case Resumed():
                opening.resumed(self, event, u)
            case Polled():
                polling.polled(self, event, u)
            case PollFailed():
                polling.poll_failed(self, event, u)
            case MoveAnswered():
                if board is not None:
                    self.moves.answered(event, board, self, u)
                    acting.own_write_landed(event.card, event.result, self.writes, u)
            case CardRead():
                if board is not None:
                    self.moves.read_back(event, board, self, u)
            case MeKnown():
                self._me_known(event, u)
            case CopySaved():
                pass  # a copy that could not be kept costs only the offline start; the runner logs why
            case WeeksKnown():
                u.weeks = event  # for the pipeline picture: nothing of it is kept here
            case NotesKnown():
                u.notes = event  # for the deal's details: nothing of it is kept here
            case EditAnswered():
                if board is not None:
                    edit_answers.edit_answered(self.writes, event, board, self, u)
                    acting.own_write_landed(event.card, event.result, self.moves, u)
            case DealRead():
                if board is not None:
                    edit_answers.deal_read(self.writes, event, board, self, u)
            case NoteAnswered():
                if board is not None:
                    edit_answers.note_answered(self.writes, event, board, self, u)
            case CreateAnswered():
                if board is not None:
                    edit_answers.create_answered(self.writes, event, board, self, u)
            case UsersKnown() | LeadsKnown():
                pass  # answered to the form that asked (screens/deal_actions.py), never through the session
            case _:
                assert_never(event)

    def _me_known(self, ev: MeKnown, u: Update) -> None:
        if ev.name and not self.me:
            self.me = ev.name
            if self.owner_is_me and self.board is not None:
                u.redraw |= self.board.set_owner(ev.name)

    # -- the move queue ------------------------------------------------------------------------------------

    def _can_send(self) -> bool:
        return (
            self.board is not None
            and self.phase in (Phase.LOADING, Phase.LIVE)
            and self.copy_of is None
            and self.clock() >= self.health.rate_until
            and not self.health.auth_blocked
            and self.read_only is None
        )

    def pump(self, u: Update) -> None:
        """Send what may go now (the queue decides per card); the conflict question; the cards' badges."""
        if self.taken_over:
            self.taken_over = False
            u.notice("The other dealboard window is gone: this one saves your moves now", title="Moves",
                     timeout=6)
            if self.pipeline is not None:  # (a board still to be chosen reads the journal when it loads)
                u.jobs.append(Drain(self.gen, self.pipeline.id))
        board, pipeline = self.board, self.pipeline
        if board is None or pipeline is None:
            return
        if self._can_send():
            self.moves.pump(board, pipeline, self.gen, u)
            self.writes.pump(board, pipeline, self.gen, u)
        self.moves.ask(board, pipeline, u)
        if self.moves.question is None:
            self.writes.ask(board, pipeline, u)
        self.moves.badges(board, u, self.writes.badges())

    # -- the connection (what the queue needs of the session: `moves.Link`) -----------------------------

    @property
    def crm(self) -> str:
        return self.backend.name

    @property
    def offline(self) -> bool:
        return self.phase is Phase.OFFLINE

    def go_offline(self) -> None:
        self.state = self.offline_state(self.health.error)

    def offline_state(self, why: BackendError | None) -> Offline:
        """Offline since the first failure of this spell (kept while it lasts), for `why`."""
        since = self.state.since if isinstance(self.state, Offline) else self.now()
        return Offline(since, why)

    def reachable(self, u: Update) -> None:
        """The CRM answered: not offline any more (a partial board goes on loading)."""
        if self.phase is Phase.OFFLINE and self.copy_of is None:
            self.state = Live() if self.complete else Loading(self.pipeline.name if self.pipeline else None)
            if not self.complete:
                self.health.next_try = self.clock()
        if self.health.error is not None and classify(self.health.error) is Failure.UNREACHABLE:
            self.health.error = None
            self.health.failures = 0

    def report_skipped(self, skipped: list[str], u: Update) -> None:
        new = [line for line in skipped if line not in self._skipped_reported]
        self._skipped_reported.update(new)
        if new:
            more = f" (and {len(new) - 1} more)" if len(new) > 1 else ""
            u.notice(new[0] + more, title="Some records could not be read", severity="warning", timeout=10)

    # -- quitting ----------------------------------------------------------------------------------------

    def save_copy_now(self) -> str | None:
        """At quit: keep the board as last synced (~40 ms at 10,000 cards), unless it is the copy itself."""
        if self.board_copy is None or self.board is None or self.pipeline is None or not self.complete:
            return None
        if self.copy_of is not None or self.last_synced is None:
            return None
        board = self.board.server_versions()
        return self.runner.save_now(SaveCopy(self.pipeline, board, self.last_synced, self.cursor))

    def close(self) -> None:
        self.runner.close()
