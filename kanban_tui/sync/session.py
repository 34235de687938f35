"""The board session: one pipeline of one CRM, kept true, with no Textual in sight.

`BoardSession` owns everything that decides what the board says: the phase (choosing a
pipeline, loading, live, offline, failed), the board model, the poll schedule, the move
queue (one *intent* per card), undo, conflict questions and how each failure is handled.
It takes events — the user's intents (`move`, `undo`, `refresh`, answers to questions),
ticks, and the results of I/O — and returns an `Update`: columns to redraw, where the
focus goes (by card id), notices, a question to ask, and jobs (I/O) to start. The UI runs
each job with `run(job)` in a worker and hands every event it yields back to `handle`.
The status line is drawn from `snapshot()`, so it cannot disagree with the session.

Moves are intents. Per card, the user's latest intent is what the CRM must end with:
a newer move of a card replaces its unsent one; at most one request per card is out at a
time, so an older intent is never sent after a newer one; an undo is a new intent. A send
whose outcome is unknown (a write timeout, a kill during a request) is settled by reading
the card back before anything is sent again: if the CRM already has it there, it is done,
and the user is never asked about their own move.

Failures by class (`classify`), each with its line in the README's status table:

- unreachable (refused, DNS, read timeouts, 502/503/504): offline; moves wait; polls retry
  with backoff up to 5 minutes;
- a failed write while reads work (500 and the like): that move alone is retried with its
  own backoff, its card says `retrying`; after `WRITE_TRIES` tries it goes back, and the
  message names the error; nothing else waits behind it;
- refusals (4xx): the card goes back at once, and the message says why;
- rate limits (429): `~ waiting Ns`, as long as the CRM asked (at most 15 minutes), board usable;
  `r` tries at once all the same;
- a rejected key (401): moves are kept (journaled) until the CRM accepts the key.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from ..backends.base import Backend
from ..backends.errors import (
    AuthError,
    BackendError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    UnavailableError,
    unexpected_error,
    wait_seconds,
)
from ..models import Changes, ColumnStart, Opportunity, Page, Pipeline, Status
from ..store.board_copy import BoardCopy, SavedBoard
from ..store.journal import JournaledMove, MoveJournal
from ..store.prefs import BoardPrefs
from ..store.seen import SeenStore
from ..text import safe_text
from .board import SORTS, Board

log = logging.getLogger("kanban_tui.sync")

MAX_BACKOFF = 300.0
"""Longest wait between tries of a poll or a load that failed (seconds)."""
WRITE_TRIES = 5
"""A move whose write keeps failing (500s while reads work) goes back after this many tries."""
WRITE_BACKOFF = 2.0
WRITE_MAX_BACKOFF = 60.0
DEFAULT_RATE_WAIT = 30.0
"""A 429 that says nothing of how long to wait."""
LOCK_RETRY = 5.0
"""A read-only window (another one holds the journal) tries the journal's lock this often (seconds), and at
every move: once the other is gone (quit, killed), this one takes over."""


class Phase(StrEnum):
    CHOOSING = "choosing"
    """Several pipelines and none chosen yet: the picker asks."""
    LOADING = "loading"
    """The pipeline's cards are arriving (n of total)."""
    LIVE = "live"
    """The whole board is loaded and the CRM answers."""
    OFFLINE = "offline"
    """The CRM cannot be reached: the board shown is the last known one (or what had loaded)."""
    FAILED = "failed"
    """The board could not be opened (or loaded whole): why, and retrying by itself or waiting for `r`."""


class Failure(StrEnum):
    UNREACHABLE = "unreachable"
    RATE = "rate"
    SERVER = "server"
    AUTH = "auth"
    GONE = "gone"
    REFUSED = "refused"


UNREACHABLE_STATUS = {502, 503, 504}


def classify(error: BackendError) -> Failure:
    """Which kind of failure this is; see the module docstring for what each one does."""
    if isinstance(error, RateLimitedError):
        return Failure.RATE
    if isinstance(error, OutcomeUnknownError):
        return Failure.UNREACHABLE
    if isinstance(error, UnavailableError):
        if error.status_code is None or error.status_code in UNREACHABLE_STATUS:
            return Failure.UNREACHABLE
        return Failure.SERVER
    if isinstance(error, AuthError) and error.status_code == 401:
        return Failure.AUTH
    if isinstance(error, NotFoundError):
        return Failure.GONE
    return Failure.REFUSED


def retries_by_itself(error: BackendError) -> bool:
    """A board that failed to open for this reason tries again by itself (else: press r)."""
    return classify(error) in (Failure.UNREACHABLE, Failure.RATE, Failure.SERVER)


# -- what the session asks the UI to do -----------------------------------------------------------


class Notice(NamedTuple):
    text: str
    title: str = ""
    severity: str = "information"
    timeout: float = 6.0


class PipelineChoice(NamedTuple):
    """Ask which pipeline to open (`current`: the one open now, if any)."""

    pipelines: list[Pipeline]
    current: str | None


class Conflict(NamedTuple):
    """The card changed in the CRM after the user moved it: keep theirs, or mine?"""

    card: str
    name: str
    theirs: str
    mine: str


@dataclass
class Update:
    """What the UI must do after an event."""

    redraw: set[str] = field(default_factory=set)
    """Columns (status ids) whose content changed."""
    rebuild: bool = False
    """A new board (another pipeline, or the saved copy): build the columns again."""
    focus: str | None = None
    """Put the focus on this card (the user's own move or undo)."""
    follow: str | None = None
    """This card moved back: if the focus is on it, follow it."""
    first_cards: bool = False
    """The first cards arrived: focus the first card if nothing is focused."""
    notices: list[Notice] = field(default_factory=list)
    ask: PipelineChoice | Conflict | None = None
    jobs: list[Job] = field(default_factory=list)
    progress: bool = False
    """The load's progress changed (or the load ended)."""
    columns: bool = False
    """Which columns are hidden changed (remembered preferences arrived): lay the columns out again."""

    def notice(self, text: str, **kw: object) -> None:
        self.notices.append(Notice(text, **kw))  # type: ignore[arg-type]


# -- jobs (I/O to start) and the events they yield --------------------------------------------------
# (named tuples rather than dataclasses: two dozen frozen dataclasses cost ~15 ms at every start)


class ListPipelines(NamedTuple):
    switching: bool


class Load(NamedTuple):
    gen: int
    pipeline: Pipeline
    recall: bool = False
    """First read what this machine kept for the board (owed moves, preferences): a fresh open."""
    first: bool = False
    """An empty board: ask for every column's first screen together before the pages (a cold start)."""


class Resume(NamedTuple):
    """A warm start: the saved board is on screen; ask the CRM only for what changed since it was kept."""

    gen: int
    pipeline: Pipeline
    saved: SavedBoard


class OpenCopy(NamedTuple):
    gen: int
    wanted: str | None
    error: BackendError | None
    """Why the CRM's board could not be had (offline); None: a warm start, the copy first at every start."""


class Poll(NamedTuple):
    gen: int
    pipeline: Pipeline
    cursor: str | None


class Send(NamedTuple):
    gen: int
    card: str
    seq: int
    opportunity: Opportunity
    status: Status
    lost_reason: str | None


class Read(NamedTuple):
    gen: int
    card: str
    seq: int
    pipeline: Pipeline


class SavePrefs(NamedTuple):
    pipeline_id: str
    prefs: dict[str, Any]


class SaveSeen(NamedTuple):
    pipeline_id: str
    seen: dict[str, tuple[str, int | None, str]]
    whole: bool = True
    """True: the board's whole record (as it stands when the job runs, if the board is still open); False:
    these cards only, the rest of what was kept untouched."""


class WhoAmI(NamedTuple):
    """Ask the CRM who its key acts for (the owner filter's "me")."""


class SaveCopy(NamedTuple):
    pipeline: Pipeline
    cards: list[Opportunity]
    synced_at: datetime
    cursor: str | None = None


class Drain(NamedTuple):
    """This window took the journal over from another one: read the moves it left (they go out from here).
    While it is still read-only: read them only to know which cards the user moved in the other window."""

    gen: int
    pipeline_id: str


Job = ListPipelines | Load | Resume | OpenCopy | Poll | Send | Read | SaveCopy | SavePrefs | SaveSeen | WhoAmI | Drain


class PipelinesListed(NamedTuple):
    pipelines: list[Pipeline]
    switching: bool


class PipelinesFailed(NamedTuple):
    error: BackendError
    switching: bool


class LoadStarted(NamedTuple):
    gen: int
    cursor: str | None


class PageArrived(NamedTuple):
    gen: int
    page: Page


class LoadDone(NamedTuple):
    gen: int


class FirstScreen(NamedTuple):
    gen: int
    starts: list[ColumnStart]


class Resumed(NamedTuple):
    gen: int
    changes: Changes | None
    """What changed since the saved board; None: the CRM cannot say (the board is loaded whole behind it)."""


class LoadFailed(NamedTuple):
    gen: int
    error: BackendError


class CopyRead(NamedTuple):
    gen: int
    saved: SavedBoard | None
    error: BackendError | None
    kept: Recalled | None = None
    """What this machine kept for the copy's board (read with it, off the UI thread)."""


class Recalled(NamedTuple):
    """What this machine kept for a board: its owed moves (None: the journal could not be read, why in
    `problem`) and its preferences."""

    gen: int
    rows: list[JournaledMove] | None
    prefs: dict[str, Any]
    problem: str | None = None
    seen: dict[str, tuple[str, int | None, str]] | None = None
    """What the user last saw of the board (None: nothing kept)."""
    taken_over: bool = False
    """Read when this window took the journal over from another (`Drain`): only its owed moves."""
    set_aside: tuple[str, ...] = ()
    """A line for each journal row that could not be read (set aside, kept, not sent)."""
    elsewhere: dict[str, str] | None = None
    """A read-only window: where the moves the other window owes put their cards (the user's own moves, never
    marked as a change here)."""


class MeKnown(NamedTuple):
    """Who the CRM's key acts for (None: the CRM cannot tell)."""

    name: str | None


class Polled(NamedTuple):
    gen: int
    changes: Changes


class PollFailed(NamedTuple):
    gen: int
    error: BackendError


class MoveAnswered(NamedTuple):
    gen: int
    card: str
    seq: int
    result: Opportunity | BackendError


class CardRead(NamedTuple):
    gen: int
    card: str
    seq: int
    result: Opportunity | None | BackendError


class CopySaved(NamedTuple):
    problem: str | None


Event = (
    PipelinesListed | PipelinesFailed | Recalled | LoadStarted | PageArrived | LoadDone | LoadFailed | CopyRead | Polled
    | FirstScreen | Resumed
    | PollFailed | MoveAnswered | CardRead | CopySaved | MeKnown
)


# -- the move queue -----------------------------------------------------------------------------------


@dataclass
class Intent:
    """The status the user last put a card in, until the CRM has it (or it is settled otherwise)."""

    seq: int
    card: str
    name: str
    target: str
    made_at: datetime
    base_updated: datetime
    """The card's `updated` as the user saw it when the first of its unsent moves was made."""
    path: list[str]
    """The statuses along the way (the first one is where the card was), for the conflict question."""
    lost_reason: str | None = None
    state: str = "queued"
    """queued (waits for its turn) · out (a request is out) · retrying (a write failed) · asking."""
    tries: int = 0
    next_try: float = 0.0
    unknown: bool = False
    """An earlier send's outcome is unknown: read the card back before sending."""
    ours: set[str] = field(default_factory=set)
    """Statuses our own unanswered sends may have put the card in (not a teammate's change)."""
    keep: bool = False
    """The user chose this move over the CRM's newer change."""
    restored: bool = False


class Outcome(NamedTuple):
    """How an intent ended, for tests and the log: confirmed, refused, failed, gone, theirs, dropped."""

    card: str
    seq: int
    how: str


BADGE = {"out": "saving…", "queued": "queued", "retrying": "retrying", "asking": "asking"}


@dataclass(frozen=True)
class Snapshot:
    """Everything the status line says, taken at one moment."""

    phase: Phase
    crm: str
    cards: int
    loaded: int
    total: int | None
    saving: int
    """Cards with a request out for their move."""
    queued: int
    """Cards whose move waits (offline, rate limit, the load, a rejected key)."""
    retrying: int
    asking: int
    rate_wait: float
    retry_in: float | None
    """Seconds until the next automatic try (a poll or a load), when something failed."""
    last_synced: datetime | None
    error: str | None
    """The failure the board is in, one line (CRM, status code, message, what to do)."""
    waits_for_user: bool
    copy_of: datetime | None
    read_only: str | None
    shown: int | None = None
    """During a search or an owner filter: how many cards it shows (the line says `3 of 412 deals`)."""
    refreshing: bool = False
    """A warm start: the saved board is on screen while the CRM says what changed since."""


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
        self._me_asked = me is not None
        self.hidden: set[str] = set()
        """Status ids of the columns the user hid (`x`), remembered per board."""
        self._owner_is_me = False
        """The owner filter is "me" (it follows the name the CRM gives)."""
        self._changes_said = False
        self._refresh_asked = False
        self.screenful = 10
        """Cards a column shows on one screen (the UI sets it from the terminal's height): a cold start asks
        for that many per column first."""
        self._warming = False
        """The saved board is being read at start (a warm start): the pipeline listing waits for it."""
        self._listed: PipelinesListed | PipelinesFailed | None = None
        self._warm: SavedBoard | None = None
        """The saved board on screen at a warm start, until the CRM has said what changed since."""
        self.clock = clock
        self.now = now
        self.rand = rand

        self.phase = Phase.LOADING
        self.gen = 0
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
        self.error: BackendError | None = None
        self.auto_retry = True
        self.failures = 0
        self.next_try = 0.0
        """When the next poll (or load, or listing) is due, on `clock`."""
        self.rate_until = 0.0
        self.auth_blocked = False

        self.intents: dict[str, Intent] = {}
        self.out: dict[str, tuple[int, str]] = {}
        """Per card with a request out: the intent's seq and the status sent (or '' for a read)."""
        self.question: Conflict | None = None
        self.ours: dict[str, datetime] = {}
        """A card's `updated` as our own last confirmed move (or read-back) left it."""
        self.history: list[tuple[str, str, str]] = []
        """This session's moves on the open pipeline, for undo: (card, from, to)."""
        self.outcomes: deque[Outcome] = deque(maxlen=1000)
        """How the latest intents ended (for tests and the log; bounded for a long session)."""
        self._last_seq = 0
        self._skipped_reported: set[str] = set()
        self._restored = 0

        self.read_only: str | None = None
        self._lock_try = 0.0
        """When a read-only window next tries the journal's lock (on `clock`)."""
        self._taken_over = False
        """The lock was just taken over: the next update says so and reads the moves the other window left."""
        if journal is not None and not journal.acquire():
            self.read_only = self._read_only_line(journal)
            self._lock_try = self.clock() + LOCK_RETRY

    def _read_only_line(self, journal: MoveJournal) -> str:
        holder = safe_text(journal.holder or "another process")  # read from the lock file: untrusted
        return (f"another dealboard ({holder}) is saving moves for this {self.backend.name} account:"
                " this one is read-only; quit the other to move cards here")

    def _try_lock(self) -> None:
        """A read-only window: take the journal over if the window that held it is gone (it quit, or was
        killed: the lock goes with its process); else name whoever holds it now."""
        journal = self.journal
        if self.read_only is None or journal is None:
            return
        self._lock_try = self.clock() + LOCK_RETRY
        try:
            taken = journal.acquire()
        except OSError as exc:  # the lock file cannot be opened now: stay read-only, try again later
            log.warning("could not try the journal's lock %s: %s", journal.lock_path, exc)
            return
        if not taken:
            self.read_only = self._read_only_line(journal)
            return
        self.read_only = None
        self._taken_over = True

    # -- reading -----------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        now = self.clock()
        states = [i.state for i in self.intents.values()]
        failing = self.error is not None or self.phase in (Phase.OFFLINE, Phase.FAILED)
        retry_in = None
        if failing and self.auto_retry and not self.busy:
            retry_in = max(0.0, max(self.next_try, self.rate_until) - now)
        return Snapshot(
            phase=self.phase,
            crm=self.backend.name,
            cards=len(self.board) if self.board is not None else 0,
            loaded=self.loaded,
            total=self.total,
            saving=len(self.out),
            queued=states.count("queued"),
            retrying=states.count("retrying"),
            asking=states.count("asking"),
            rate_wait=max(self.rate_until - now, self.backend.rate_wait_left(), 0.0),
            retry_in=retry_in,
            last_synced=self.last_synced,
            error=self._error_line(),
            waits_for_user=failing and not self.auto_retry,
            copy_of=self.copy_of,
            read_only=self.read_only,
            shown=self.board.shown_count() if self.board is not None and self.board.filtering else None,
            refreshing=self._warm is not None and self.copy_of is not None,
        )

    def _error_line(self) -> str | None:
        if self.error is None:
            return None
        if not self.auto_retry:
            return f"{self.error} - press r to retry"  # with the error's own hint, if it has one
        return self.error.summary

    def unsent(self) -> int:
        """Cards whose move the CRM has not confirmed yet."""
        return len(self.intents)

    # -- starting and choosing -------------------------------------------------------------------------

    def start(self) -> Update:
        self.phase = Phase.LOADING
        self.busy = True
        jobs: list[Job] = [ListPipelines(switching=False)]
        if self.board_copy is not None:  # a warm start: the saved board at once, then only what changed
            self._warming = True
            jobs.append(OpenCopy(self.gen, self.wanted, None))
        return Update(jobs=jobs)

    def list_pipelines(self) -> Update:
        """`p`: ask which pipeline to open (not while moves wait to be saved)."""
        u = Update()
        if self.intents:
            n = len(self.intents)
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
        if self.intents:  # made while the list was on its way: they are not left behind
            u = Update()
            n = len(self.intents)
            u.notice(f"Wait for {n} move{'s' if n > 1 else ''} to save first.", timeout=3)
            return u
        return self.open(next(p for p in pipelines if p.id == pipeline_id))

    def open(self, pipeline: Pipeline) -> Update:
        """Leave the board shown now (if any) and load `pipeline`."""
        self.gen += 1
        self.wanted = pipeline.id
        self._new_board(pipeline.recolored(self.colors))
        self.phase = Phase.LOADING
        self.busy = True
        self.copy_of = None
        self.last_synced = None
        self.error = None
        self.auto_retry = True
        self.cursor = None
        return Update(rebuild=True, progress=True, jobs=[Load(self.gen, self.pipeline, recall=True, first=True)])  # type: ignore[arg-type]

    def _new_board(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.board = Board(pipeline)
        self.board.real_update_times = getattr(self.backend, "real_update_times", True)
        self.board.has_values = getattr(self.backend, "has_values", True)
        self.loaded, self.total, self.complete = 0, None, False
        self.load_seen = set()
        self.intents.clear()
        self.out.clear()
        self.history.clear()
        self.question = None
        self.hidden = set()
        self._owner_is_me = False
        self._changes_said = False

    def _on_Recalled(self, ev: Recalled, u: Update) -> None:
        if ev.gen == self.gen:
            self._recall(ev, u)

    def _recall(self, kept: Recalled, u: Update) -> None:
        """The board's preferences applied, and the journal's moves of this pipeline back as intents
        (cards not loaded yet wait for their page)."""
        if self.board is None or self.pipeline is None:
            return
        prefs = kept.prefs
        if prefs.get("sort") in SORTS:
            u.redraw |= self.board.set_sort(prefs["sort"])
        hidden = prefs.get("hidden")
        if isinstance(hidden, list):
            self.hidden = {h for h in hidden if isinstance(h, str) and self.pipeline.status(h) is not None}
            u.columns = True
        owner = prefs.get("owner")
        if isinstance(owner, str):
            self._owner_is_me = prefs.get("owner_is_me") is True
            if self._owner_is_me and self.me:
                owner = self.me
            u.redraw |= self.board.set_owner(owner)
        if self.board.seen is None:
            self.board.seen = kept.seen
        if kept.problem is not None:  # the board opens anyway; the journal is untouched
            u.notice(kept.problem, severity="error", timeout=15)
        for line in kept.set_aside:
            u.notice(line, title="A move set aside", severity="error", timeout=20)
        if kept.elsewhere is not None or kept.taken_over:  # the other window's moves: the user's own, not marked
            self.board.elsewhere = dict(kept.elsewhere or {})
            u.redraw |= {s.id for s in self.pipeline.statuses}
        if kept.rows is None or self.journal is None:
            return
        rows = kept.rows
        by_card: dict[str, list[JournaledMove]] = {}
        for row in rows:
            by_card.setdefault(row.opportunity_id, []).append(row)
        board, restored = self.board, 0
        for card, card_rows in by_card.items():
            latest = card_rows[-1]
            self._last_seq = max(self._last_seq, latest.seq)
            sent = {r.to_status for r in card_rows if r.state == "sent"}
            mine = self.intents.get(card)
            if mine is not None and mine.seq >= latest.seq:  # a move made here since (or read already): the latest
                mine.unknown |= bool(sent)  # an older send of the card may have landed: read it back first
                mine.ours |= sent
                continue
            if self.pipeline.status(latest.to_status) is None:
                u.notice(f"A move of {latest.opportunity_name or card} from last time was dropped: its status no"
                         f" longer exists in {self.pipeline.name}", severity="warning", timeout=10)
                self.journal.submit(self.journal.settle, card, latest.seq)
                continue
            self.intents[card] = Intent(
                seq=latest.seq, card=card, name=latest.opportunity_name or card, target=latest.to_status,
                made_at=latest.made_at, base_updated=max(r.base_updated for r in card_rows),
                path=[card_rows[0].from_status, *(r.to_status for r in card_rows)], lost_reason=latest.lost_reason,
                unknown=any(r.state == "sent" for r in card_rows),
                ours={r.to_status for r in card_rows if r.state == "sent"}, restored=True,
            )
            restored += 1
            if card in board:
                u.redraw |= board.set_target(card, latest.to_status, latest.made_at)
        if not kept.taken_over:
            self._restored = len(self.intents)
            return
        if restored:  # taken over from another window: what it left goes out from here
            u.notice(f"Sending {restored} move{'s' if restored > 1 else ''} the other window left",
                     title="Moves kept", timeout=8)
        if self.complete:  # (a board still loading says it when whole)
            for intent in [i for i in self.intents.values() if i.card not in board]:
                u.notice(f"A move of {intent.name} from the other window was dropped: the card is no longer in"
                         f" {self.pipeline.name}", severity="warning", timeout=10)
                self._settle(intent, "dropped", u)

    # -- the user's intents ---------------------------------------------------------------------------

    def can_move(self, card: str) -> str | None:
        """Why this card cannot be moved now (one line), or None."""
        if self.board is None or card not in self.board:
            return "That card is no longer on the board."
        if self.read_only:
            self._try_lock()  # the other window may be gone: then this one takes the move
        if self.read_only:
            return f"Read-only: {self.read_only}."
        opportunity = self.board.opportunity(card)
        if opportunity.read_only:
            return f"{opportunity.name} cannot be moved from here: {opportunity.read_only}."
        if self.intents.get(card) is not None and self.intents[card].state == "asking":
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
            self.history.append((card, shown, status_id))
        made_at = self.now()
        previous = self.intents.get(card)
        opportunity = board.opportunity(card)
        self._last_seq = seq = max(self._last_seq + 1, time.time_ns() // 1000)
        intent = Intent(
            seq=seq, card=card, name=opportunity.name, target=status_id, made_at=made_at,
            base_updated=previous.base_updated if previous else opportunity.updated,
            path=[*(previous.path if previous else [shown]), status_id], lost_reason=lost_reason,
            unknown=previous.unknown if previous else False, ours=set(previous.ours) if previous else set(),
        )
        self.intents[card] = intent
        if self.journal is not None:
            self.journal.submit(self.journal.record, JournaledMove(
                seq=seq, pipeline_id=self.pipeline.id, opportunity_id=card, opportunity_name=opportunity.name,
                from_status=shown, to_status=status_id, made_at=made_at, base_updated=intent.base_updated,
                lost_reason=lost_reason,
            ))
        u.redraw |= board.set_target(card, status_id, made_at)
        u.redraw |= board.look(card)  # the user's own move is no change to point out
        u.focus = card
        self._pump(u)
        return u

    def undo(self) -> Update:
        """Undo the session's last move: a new intent, back where the card was (repeatable)."""
        u = Update()
        board = self.board
        if board is None:
            return u
        while self.history:
            card, from_status, to_status = self.history.pop()
            if card not in board:
                u.notice("The card of the last move is no longer on the board; undoing the one before.", timeout=4)
                continue
            name = board.opportunity(card).name
            if board.shown_status(card) != to_status:
                u.notice(f"Not undone: {name} is no longer in {board.status(to_status).label} (it moved since).",
                         severity="warning", timeout=6)
                return u
            done = self.move(card, from_status, undoing=True)
            if board.shown_status(card) == from_status:
                done.notice(f"Undone: {name} back to {board.status(from_status).label}", timeout=3)
            done.notices[:0] = u.notices
            return done
        u.notice("Nothing to undo.", timeout=2)
        return u

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
        self._owner_is_me = is_me and owner is not None
        u.redraw |= self.board.set_owner(owner)
        if self.prefs is not None:
            u.jobs.append(SavePrefs(self.pipeline.id, {"owner": owner, "owner_is_me": self._owner_is_me}))
        return u

    @property
    def owner_label(self) -> str | None:
        """The owner filter as the title says it: `me`, a name, `unassigned`; None when there is none."""
        owner = self.board.owner if self.board is not None else None
        if owner is None:
            return None
        if self._owner_is_me:
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

    def look(self, card: str | None) -> Update:
        """The user has seen this card (the focus left it): its change mark goes."""
        u = Update()
        if card is not None and self.board is not None:
            u.redraw |= self.board.look(card)
        return u

    def save_seen_now(self) -> str | None:
        """At quit: keep what the user has seen of the board, for the next start's marks."""
        if self.seen is None or self.board is None or self.pipeline is None or not self.complete:
            return None
        if self.board.seen is None:
            return None
        return self.seen.save(self.pipeline.id, self.board.seen_to_keep(), self.now().isoformat())

    def _say_changes(self, u: Update) -> None:
        """After the first whole load: what changed since the user last looked, in one line (first time:
        the board as it is becomes what was seen)."""
        board = self.board
        if board is None or self.pipeline is None or self._changes_said:
            return
        self._changes_said = True
        if board.seen is None:
            board.seen = {card: board.seen_now(card) for card in board.card_ids()}
            if self.seen is not None:
                u.jobs.append(SaveSeen(self.pipeline.id, dict(board.seen)))
            return
        counts: dict[str, int] = {}
        for card in board.card_ids():
            if (change := board.change(card)) is not None:
                counts[change] = counts.get(change, 0) + 1
        gone = board.gone()
        for card in [c for c in board.seen if c not in board]:
            del board.seen[card]  # said once
        parts = [f"{counts[word]} {word}" for word in ("new", "moved", "re-valued") if counts.get(word)]
        if gone:
            names = ", ".join(gone[:3]) + (f" and {len(gone) - 3} more" if len(gone) > 3 else "")
            parts.append(f"{len(gone)} gone ({names})")
        if not parts:
            return
        step = " · c steps through them" if counts else ""
        u.notice(f"Since you last looked: {', '.join(parts)}{step}", title="What changed", timeout=12)

    def resolve_conflict(self, card: str, keep: bool) -> Update:
        """The user's answer: keep my move (send it) or take the CRM's version (drop it)."""
        u = Update()
        intent = self.intents.get(card)
        if self.question is not None and self.question.card == card:
            self.question = None
        if intent is not None and intent.state == "asking" and self.board is not None:
            if keep:
                intent.keep = True
                intent.state = "queued"
            else:
                self._settle(intent, "theirs", u)
        self._pump(u)
        return u

    def refresh(self) -> Update:
        """`r`: poll now (or try to open the board again); says that it ran, and then what it found."""
        self.next_try = self.clock()
        self._refresh_asked = True
        self.rate_until = 0.0  # `r` always tries: a rate limit's wait too is cut short (a 429 says so again)
        self.backend.wake()
        if not self.auto_retry:
            self.auto_retry = True
        for intent in self.intents.values():
            if intent.state == "retrying":
                intent.next_try = self.clock()
        u = self.tick()
        u.notice(f"Checking {self.backend.name} for changes…", timeout=2)
        return u

    # -- time --------------------------------------------------------------------------------------

    def tick(self) -> Update:
        """Start what is due: a poll, a load tried again, moves whose retry time came."""
        u = Update()
        now = self.clock()
        if self.read_only is not None and now >= self._lock_try:
            self._try_lock()
            if self.read_only is not None and self.pipeline is not None and self.complete:
                u.jobs.append(Drain(self.gen, self.pipeline.id))  # which cards the other window moves since
        if not self.busy and self.auto_retry and now >= self.next_try and now >= self.rate_until:
            if self.phase is Phase.CHOOSING:
                pass
            elif self.pipeline is None:
                self.busy = True
                u.jobs.append(ListPipelines(switching=False))
            elif not self.complete or self.copy_of is not None or self.cursor is None:
                self.busy = True
                u.jobs.append(Load(self.gen, self.pipeline))
                u.progress = True
            else:
                self.busy = True
                u.jobs.append(Poll(self.gen, self.pipeline, self.cursor))
        self._pump(u)
        return u

    def _schedule_retry(self, error: BackendError | None) -> None:
        """Back off after a failed poll or load: interval x 2^n with jitter, at most MAX_BACKOFF."""
        self.failures += 1
        backoff = min(MAX_BACKOFF, self.poll_interval * 2 ** (self.failures - 1))
        if self.failures > 1:
            backoff *= 0.8 + 0.2 * self.rand()
        self.next_try = self.clock() + backoff
        if isinstance(error, RateLimitedError):
            self._rate_limited(error)

    def _rate_limited(self, error: BackendError) -> None:
        wait = wait_seconds(getattr(error, "retry_after", None))  # never inf, never beyond MAX_RATE_WAIT
        self.rate_until = max(self.rate_until, self.clock() + (DEFAULT_RATE_WAIT if wait is None else wait))

    # -- I/O results -------------------------------------------------------------------------------------

    def handle(self, event: Event) -> Update:
        u = Update()
        handler = getattr(self, "_on_" + type(event).__name__)
        try:
            handler(event, u)
            self._pump(u)
        except Exception as exc:  # noqa: BLE001 - a bug must not take the board down: said, logged
            log.exception("handling %s", type(event).__name__)
            u.notice(f"{unexpected_error(exc)} (details in the log)", title="dealboard hit a bug", severity="error",
                     timeout=15)
        return u

    def _on_PipelinesListed(self, ev: PipelinesListed, u: Update) -> None:
        pipelines = ev.pipelines
        if not ev.switching and self._warming:  # the saved board is being read: it decides what comes next
            self._listed = ev
            return
        if not ev.switching:
            self.busy = False
        if not pipelines and ev.switching:
            u.notice(f"{self.backend.name} lists no pipelines now; this one stays open", severity="warning",
                     timeout=8)
            return
        if not pipelines:
            self._open_failed(BackendError("there are no pipelines", crm=self.backend.name,
                                           hint=f"add one in {self.backend.name}"), u)
            return
        self._reachable(u)
        if ev.switching:
            u.ask = PipelineChoice(pipelines, self.pipeline.id if self.pipeline else None)
            return
        if self.wanted is None and len(pipelines) > 1:
            self.phase = Phase.CHOOSING
            u.ask = PipelineChoice(pipelines, None)
            return
        try:
            pipeline = choose_pipeline(pipelines, self.wanted, self.backend.name)
        except BackendError as exc:
            self._open_failed(exc, u)
            return
        warm, self._warm = self._warm, None
        if warm is not None and self.copy_of is not None and self.board is not None and warm.pipeline.id == pipeline.id:
            if same_statuses(warm.pipeline, pipeline):  # ask only what changed since the copy
                self.busy = True
                self._warm = warm
                self.pipeline = pipeline.recolored(self.colors)  # its name, lost reasons as the CRM has them now
                self.board.pipeline = self.pipeline
                u.jobs.append(Resume(self.gen, pipeline, warm))
                return
        opened = self.open(pipeline)
        u.redraw |= opened.redraw
        u.rebuild, u.progress = True, True
        u.jobs += opened.jobs
        u.notices += opened.notices

    def _on_PipelinesFailed(self, ev: PipelinesFailed, u: Update) -> None:
        if not ev.switching and self._warming:  # the saved board is being read: it goes on screen first
            self._listed = ev
            return
        if ev.switching:
            u.notice(str(ev.error), title="Could not list pipelines", severity="error", timeout=10)
            return
        self.busy = False
        self._open_failed(ev.error, u)

    def _open_failed(self, error: BackendError, u: Update) -> None:
        """Nothing is on the board yet and the CRM did not give it: the saved copy, or FAILED."""
        if classify(error) is Failure.UNREACHABLE and self.board_copy is not None and self.copy_of is None:
            self.busy = True
            u.jobs.append(OpenCopy(self.gen, self.wanted, error))
            return
        if classify(error) is Failure.UNREACHABLE and self.copy_of is not None and self._warm is not None:
            u.notice(  # the warm start's copy is on screen already: it stays, and says so
                f"{self.backend.name} cannot be reached: this is the board as of {ago(self.copy_of, self.now())}."
                " Moves are kept and sent when it answers.", title="Offline", severity="warning", timeout=10,
            )
        self._failed(error, u)

    def _failed(self, error: BackendError, u: Update) -> None:
        self._warm = None  # no longer refreshing the saved board: the line says what failed
        shown = self.board is not None and len(self.board) > 0
        failure = classify(error)
        self.error = error
        self.auto_retry = retries_by_itself(error)
        self.phase = Phase.OFFLINE if failure is Failure.UNREACHABLE and shown else Phase.FAILED
        if failure is Failure.AUTH:
            self.auth_blocked = True
        self._schedule_retry(error)
        u.progress = True
        if not shown:
            u.notice(str(error), title="Could not open the board", severity="error", timeout=15)

    def _on_LoadStarted(self, ev: LoadStarted, u: Update) -> None:
        if ev.gen != self.gen:
            return
        self._warm = None  # a whole load: the line counts it in
        self.cursor = ev.cursor
        self.load_seen = set()
        self.loaded = 0
        self._reachable(u)
        if self.phase is not Phase.LIVE:
            self.phase = Phase.LOADING

    def _on_PageArrived(self, ev: PageArrived, u: Update) -> None:
        if ev.gen != self.gen or self.board is None:
            return
        board, page = self.board, ev.page
        first = len(board) == 0
        self._reachable(u)
        u.redraw |= board.add(page.opportunities)
        self.load_seen.update(o.id for o in page.opportunities)
        self.loaded = max(page.loaded, len(board))  # the first screens came before the pages
        self.total = page.total
        u.progress = True
        self._report_skipped(page.skipped, u)
        for card, intent in self.intents.items():
            if card in board and board.target(card) != intent.target and self.pipeline.status(intent.target):
                u.redraw |= board.set_target(card, intent.target, intent.made_at)
        if first and page.opportunities:
            u.first_cards = True

    def _on_LoadDone(self, ev: LoadDone, u: Update) -> None:
        if ev.gen != self.gen or self.board is None or self.pipeline is None:
            return
        board = self.board
        self.busy = False
        gone = [card for card in board.card_ids() if card not in self.load_seen]
        if gone:  # a reload over a board already shown (the copy, or a load that stopped): what left
            u.redraw |= board.remove(gone)
        self._now_whole(u)

    def _now_whole(self, u: Update) -> None:
        """The board holds the whole pipeline as the CRM has it (a load ended, or a warm start caught up)."""
        board, pipeline = self.board, self.pipeline
        assert board is not None and pipeline is not None
        self.busy = False
        self.complete = True
        board.loaded = True
        if not len(board):
            u.notice(f"{pipeline.name} has no deals in {self.backend.name} yet", timeout=6)
            u.redraw |= {s.id for s in self.pipeline.statuses}
        self.copy_of = None
        self.loaded = self.total = len(board)
        self.phase = Phase.LIVE
        self.error = None
        self.auto_retry = True
        self.auth_blocked = False
        self.failures = 0
        self.last_synced = self.now()
        self.next_try = self.clock() + self.poll_interval
        u.progress = True
        restored = [i for i in self.intents.values() if i.restored and i.card in board]
        for intent in [i for i in self.intents.values() if i.card not in board]:
            u.notice(f"A move of {intent.name} from last time was dropped: the card is no longer in"
                     f" {pipeline.name}", severity="warning", timeout=10)
            self._settle(intent, "dropped", u)
        if restored and self._restored:
            n = len(restored)
            u.notice(f"Sending {n} move{'s' if n > 1 else ''} saved from last time", title="Moves kept", timeout=8)
        self._restored = 0
        if self._refresh_asked:
            self._refresh_asked = False
            u.notice(f"Loaded anew from {self.backend.name}", timeout=3)
        self._say_changes(u)
        if not self._me_asked:  # who "me" is (the owner filter), once the board is whole: not a request ahead of it
            self._me_asked = True
            u.jobs.append(WhoAmI())
        if self.board_copy is not None:
            u.jobs.append(SaveCopy(pipeline, board.server_versions(), self.last_synced, self.cursor))

    def _on_LoadFailed(self, ev: LoadFailed, u: Update) -> None:
        if ev.gen != self.gen:
            return
        self.busy = False
        if self.board is None or len(self.board) == 0:
            self._open_failed(ev.error, u)
        else:
            self._failed(ev.error, u)

    def _on_CopyRead(self, ev: CopyRead, u: Update) -> None:
        if ev.error is None:
            self._warm_copy(ev, u)
            return
        self.busy = False
        if ev.saved is None:
            self._failed(ev.error, u)
            return
        saved = ev.saved
        keep = dict(self.intents) if self.pipeline is not None and self.pipeline.id == saved.pipeline.id else {}
        kept = ev.kept
        if keep and kept is not None:  # the moves are already here: only the preferences and what was seen
            kept = kept._replace(rows=None)
        self._show_copy(saved, kept, keep, u)
        self.error = ev.error
        self.auto_retry = True
        self.phase = Phase.OFFLINE
        self._schedule_retry(ev.error)
        u.rebuild = u.first_cards = u.progress = True
        u.notice(
            f"{self.backend.name} cannot be reached: this is the board as of {ago(saved.saved_at, self.now())}."
            " Moves are kept and sent when it answers.", title="Offline", severity="warning", timeout=10,
        )

    def _show_copy(self, saved: SavedBoard, kept: Recalled | None, keep: dict[str, Intent], u: Update) -> None:
        """The saved board as a new board: its cards, the moves kept (`keep`, or the journal's in `kept`) on it."""
        self.gen += 1
        self.wanted = saved.pipeline.id
        self._new_board(saved.pipeline.recolored(self.colors))
        assert self.board is not None and self.pipeline is not None
        self.board.add(saved.opportunities)
        self.loaded = self.total = len(saved.opportunities)
        self.copy_of = saved.saved_at
        self.intents.update(keep)
        if kept is not None:
            self._recall(kept._replace(gen=self.gen), u)
        for card, intent in self.intents.items():
            if card in self.board and self.pipeline.status(intent.target):
                self.board.set_target(card, intent.target, intent.made_at)

    def _warm_copy(self, ev: CopyRead, u: Update) -> None:
        """A warm start: the saved board (if any, of the pipeline wanted) on screen at once, `as of 5m ago ·
        refreshing`, moves kept from last time on it; then the pipeline listing goes on (it waited)."""
        self._warming = False
        saved, wanted = ev.saved, self.wanted
        fits = saved is not None and (wanted is None or wanted == saved.pipeline.id
                                      or wanted.casefold() == saved.pipeline.name.casefold())
        if saved is not None and fits and ev.gen == self.gen and (self.board is None or not len(self.board)):
            self._show_copy(saved, ev.kept, {}, u)  # the board last open (p switches)
            self._warm = saved
            self.phase = Phase.LOADING
            self.busy = True
            u.rebuild = u.first_cards = u.progress = True
        listed, self._listed = self._listed, None
        if isinstance(listed, PipelinesListed):
            self._on_PipelinesListed(listed, u)
        elif listed is not None:
            self._on_PipelinesFailed(listed, u)

    def _on_Resumed(self, ev: Resumed, u: Update) -> None:
        if ev.gen != self.gen or self.board is None or self.pipeline is None:
            return
        self.busy = False
        self._warm = None
        changes = ev.changes
        if changes is None or changes.pipeline is not None:  # the CRM cannot say: load it whole behind the copy
            self.busy = True
            u.jobs.append(Load(self.gen, self.pipeline))
            u.progress = True
            return
        self._reachable(u)
        u.redraw |= self.board.apply(changes)
        self._report_skipped(changes.skipped, u)
        self.cursor = changes.cursor
        self._now_whole(u)

    def _on_FirstScreen(self, ev: FirstScreen, u: Update) -> None:
        """A cold start: every column's count, totals and first screen, before the rest of its cards."""
        if ev.gen != self.gen or self.board is None or self.pipeline is None:
            return
        board = self.board
        first = len(board) == 0
        for start in ev.starts:
            u.redraw |= board.add(start.cards)
            self.load_seen.update(o.id for o in start.cards)
            self._report_skipped(start.skipped, u)
        u.redraw |= board.set_known(ev.starts)
        self.loaded = len(board)
        self.total = sum(start.count for start in ev.starts)
        for card, intent in self.intents.items():
            if card in board and board.target(card) != intent.target and self.pipeline.status(intent.target):
                u.redraw |= board.set_target(card, intent.target, intent.made_at)
        u.progress = True
        if first and len(board):
            u.first_cards = True

    def _on_Polled(self, ev: Polled, u: Update) -> None:
        if ev.gen != self.gen or self.board is None:
            return
        self.busy = False
        board, changes = self.board, ev.changes
        self.cursor = changes.cursor or self.cursor
        self._reachable(u)
        if self.phase is Phase.FAILED and self.complete:
            self.phase = Phase.LIVE
        if changes.pipeline is not None and self.pipeline is not None and changes.pipeline.id == self.pipeline.id:
            self._restage(changes.pipeline.recolored(self.colors), u)
            board = self.board
        for card in changes.removed:
            if (intent := self.intents.get(card)) is not None:
                u.notice(f"{intent.name} was removed in {self.backend.name}: its move was dropped",
                         severity="warning", timeout=10)
                self._settle(intent, "gone", u)
        news = sum(1 for o in changes.upserted if not board.has_version(o)) + sum(1 for c in changes.removed if c in board)
        u.redraw |= board.apply(changes)
        if self._refresh_asked:
            self._refresh_asked = False
            n = news
            u.notice(f"{n} change{'s' if n != 1 else ''} from {self.backend.name}" if n
                     else f"Up to date: no changes in {self.backend.name}", timeout=3)
        self._report_skipped(changes.skipped, u)
        self.error = None
        self.auth_blocked = False
        self.failures = 0
        self.last_synced = self.now()
        self.next_try = self.clock() + self.poll_interval

    def _restage(self, pipeline: Pipeline, u: Update) -> None:
        """The open pipeline's statuses changed in the CRM: the board moves to them in place. Cards, the
        user's hidden columns, order, owner filter, search and change marks stay; intents whose status is
        gone go back (said); the poll's changes then put the cards in their new statuses."""
        old = self.board
        assert old is not None and self.pipeline is not None
        board = Board(pipeline)
        board.real_update_times, board.has_values = old.real_update_times, old.has_values
        board.set_sort(old.sort)
        board.set_owner(old.owner)
        board.set_query(old.query)
        board.seen, board.loaded, board.elsewhere = old.seen, old.loaded, old.elsewhere
        board.add(old.server_versions())
        self.pipeline, self.board = pipeline, board
        u.notice(f"{pipeline.name}: stages changed in {self.backend.name}", timeout=6)
        for intent in list(self.intents.values()):
            if pipeline.status(intent.target) is None:
                u.notice(f"{intent.name} went back: its status no longer exists in {pipeline.name}",
                         severity="warning", timeout=10)
                self._settle(intent, "refused", u)
            elif intent.card in board:
                board.set_target(intent.card, intent.target, intent.made_at)
        self.history = [h for h in self.history if pipeline.status(h[1]) is not None
                        and pipeline.status(h[2]) is not None]
        self.hidden = {h for h in self.hidden if pipeline.status(h) is not None}
        u.rebuild = True  # the screen keeps the focus on its card, by id
        u.redraw |= {s.id for s in pipeline.statuses}

    def _on_PollFailed(self, ev: PollFailed, u: Update) -> None:
        if ev.gen != self.gen:
            return
        self.busy = False
        failure = classify(ev.error)
        if failure is not Failure.UNREACHABLE:
            self._reachable(u)  # the CRM answered (with an error): not offline
        self.error = ev.error
        if failure is Failure.UNREACHABLE:
            self.phase = Phase.OFFLINE
        elif failure is Failure.AUTH:
            self.auth_blocked = True
        self._schedule_retry(ev.error)

    def _on_MoveAnswered(self, ev: MoveAnswered, u: Update) -> None:
        if ev.gen != self.gen or self.board is None:
            return
        sent = self.out.pop(ev.card, (ev.seq, ""))[1]
        board = self.board
        intent = self.intents.get(ev.card)
        current = intent is not None and intent.seq == ev.seq
        result = ev.result
        if isinstance(result, Opportunity):
            self._reachable(u)
            self._ours(ev.card, result.updated)
            if current:
                assert intent is not None
                self._settle(intent, "confirmed", u, confirmed=result)
            else:
                if self.journal is not None:
                    self.journal.submit(self.journal.forget, ev.seq)
                if intent is not None:
                    intent.ours.discard(sent)
                u.redraw |= board.accept(result)
            return
        failure = classify(result)
        if intent is not None and intent.state == "out":
            intent.state = "queued"
        if isinstance(result, UnavailableError) and (result.status_code or 500) < 300:
            # the CRM said yes with an answer that cannot be read: the move probably landed; read it back
            self._reachable(u)
            if intent is not None:
                intent.unknown = True
                intent.ours.add(sent)
            return
        maybe_applied = isinstance(result, OutcomeUnknownError) or (
            isinstance(result, UnavailableError) and result.status_code is not None)  # a 5xx: a gateway may have passed it on
        if maybe_applied and intent is not None:
            intent.ours.add(sent)  # the card may be there now by our own doing (an undo may follow)
        if failure is Failure.UNREACHABLE:
            if maybe_applied and intent is not None:
                intent.unknown = True
            elif self.journal is not None:
                self.journal.submit(self.journal.unsend, ev.seq)
            if self.phase is not Phase.OFFLINE:
                u.notice(f"{result.summary}: moves are kept and sent when {self.backend.name} answers again"
                         " (they survive a restart)", title="Offline", severity="warning", timeout=10)
                self._schedule_retry(result)
            self.error = result
            self.phase = Phase.OFFLINE
            return
        self._reachable(u)  # the CRM answered, if only to say no
        if self.journal is not None and failure in (Failure.RATE, Failure.AUTH):
            self.journal.submit(self.journal.unsend, ev.seq)
        if failure is Failure.RATE:
            self._rate_limited(result)
            self.next_try = max(self.next_try, self.rate_until)
            return
        if failure is Failure.AUTH:
            if not self.auth_blocked:
                u.notice(f"{result}. Your moves are kept and sent once {self.backend.name} accepts the key"
                         " (they survive a restart)", title="Moves kept", severity="error", timeout=15)
            self.auth_blocked = True
            self.error = result
            self._schedule_retry(None)
            return
        if failure is Failure.GONE:
            if intent is not None:
                u.notice(f"{intent.name} was removed from the board: {result}", title="Move not saved",
                         severity="error", timeout=10)
                self._settle(intent, "gone", u)
            u.redraw |= board.remove([ev.card])
            return
        if not current:  # an older move of the card failed; the newer one goes next
            if self.journal is not None:
                self.journal.submit(self.journal.forget, ev.seq)
            return
        assert intent is not None
        if failure is Failure.SERVER:
            intent.tries += 1
            if intent.tries < WRITE_TRIES:
                intent.state = "retrying"
                intent.next_try = self.clock() + min(WRITE_MAX_BACKOFF, WRITE_BACKOFF * 2 ** (intent.tries - 1))
                if self.journal is not None:
                    self.journal.submit(self.journal.unsend, ev.seq)
                return
            u.notice(f"{intent.name} went back: {result.summary} (tried {intent.tries} times)",
                     title="Move not saved", severity="error", timeout=10)
            self._settle(intent, "failed", u)
            u.follow = ev.card
            return
        u.notice(f"{intent.name} went back: {result}", title="Move not saved", severity="error", timeout=10)
        self._settle(intent, "refused", u)
        u.follow = ev.card

    def _on_CardRead(self, ev: CardRead, u: Update) -> None:
        if ev.gen != self.gen or self.board is None:
            return
        self.out.pop(ev.card, None)
        board, result = self.board, ev.result
        intent = self.intents.get(ev.card)
        if intent is not None and intent.state == "out":
            intent.state = "queued"
        if isinstance(result, BackendError):
            failure = classify(result)
            if failure is Failure.UNREACHABLE:
                self.error = result
                self.phase = Phase.OFFLINE
                self._schedule_retry(result)
                return
            self._reachable(u)
            if failure is Failure.RATE:
                self._rate_limited(result)
            elif failure is Failure.AUTH:
                self.auth_blocked = True
                self.error = result
                self._schedule_retry(None)
            elif intent is not None:  # the card cannot be read back: never send blindly; try again later
                intent.tries += 1
                if intent.tries >= WRITE_TRIES:
                    u.notice(f"{intent.name} went back: could not check whether its move reached"
                             f" {self.backend.name} ({result.summary}); the next poll shows where it is",
                             title="Move not saved", severity="error", timeout=10)
                    self._settle(intent, "failed", u)
                    u.follow = ev.card
                else:
                    intent.state = "retrying"
                    intent.next_try = self.clock() + min(WRITE_MAX_BACKOFF, WRITE_BACKOFF * 2 ** (intent.tries - 1))
            return
        self._reachable(u)
        if result is None:
            if intent is not None:
                u.notice(f"{intent.name} is no longer in {self.backend.name}: its move was dropped",
                         severity="warning", timeout=10)
                self._settle(intent, "gone", u)
            u.redraw |= board.remove([ev.card])
            return
        u.redraw |= board.accept(result)
        if intent is None:
            return
        intent.unknown = False
        if result.status_id == intent.target:  # the move had reached the CRM
            self._ours(ev.card, result.updated)
            self._settle(intent, "confirmed", u, confirmed=result)
        elif result.status_id in intent.ours:  # an earlier move of ours had: not a teammate's change
            self._ours(ev.card, result.updated)
        intent.ours.clear()

    def _on_MeKnown(self, ev: MeKnown, u: Update) -> None:
        if ev.name and not self.me:
            self.me = ev.name
            if self._owner_is_me and self.board is not None:
                u.redraw |= self.board.set_owner(ev.name)

    def _on_CopySaved(self, ev: CopySaved, u: Update) -> None:
        pass  # a copy that could not be kept costs only the offline start; the runner logs why

    # -- the move queue ------------------------------------------------------------------------------------

    def _can_send(self) -> bool:
        return (
            self.board is not None
            and self.phase in (Phase.LOADING, Phase.LIVE)
            and self.copy_of is None
            and self.clock() >= self.rate_until
            and not self.auth_blocked
            and self.read_only is None
        )

    def _pump(self, u: Update) -> None:
        """Send what may go now: per card one request at a time, the latest intent only."""
        if self._taken_over:
            self._taken_over = False
            u.notice("The other dealboard window is gone: this one saves your moves now", title="Moves",
                     timeout=6)
            if self.pipeline is not None:  # (a board still to be chosen reads the journal when it loads)
                u.jobs.append(Drain(self.gen, self.pipeline.id))
        board = self.board
        if board is not None and self._can_send():
            now = self.clock()
            for card, intent in list(self.intents.items()):
                if card in self.out or intent.state == "asking" or card not in board:
                    continue
                if intent.state == "retrying" and intent.next_try > now:
                    continue
                assert self.pipeline is not None
                if intent.unknown:
                    intent.state = "out"
                    self.out[card] = (intent.seq, "")
                    u.jobs.append(Read(self.gen, card, intent.seq, self.pipeline))
                    continue
                opportunity = board.opportunity(card)
                if self.pipeline.status(intent.target) is None:  # the status left the pipeline
                    u.notice(f"{intent.name} went back: its status no longer exists in {self.pipeline.name}",
                             severity="warning", timeout=10)
                    self._settle(intent, "refused", u)
                    continue
                seen = max(intent.base_updated, self.ours.get(card, intent.base_updated))
                changed = board.real_update_times and opportunity.updated > seen
                if changed and opportunity.status_id == intent.target:  # the CRM has it where the user wants it
                    self._ours(card, opportunity.updated)
                    self._settle(intent, "confirmed", u)
                    continue
                if changed and not intent.keep and opportunity.status_id not in intent.ours:
                    intent.state = "asking"
                    continue
                intent.state = "out"
                self.out[card] = (intent.seq, intent.target)
                u.jobs.append(Send(self.gen, card, intent.seq, opportunity, board.status(intent.target),
                                   intent.lost_reason))
        if self.question is None:
            for intent in self.intents.values():
                if intent.state == "asking":
                    self.question = self._conflict(intent)
                    u.ask = self.question
                    break
        self._badges(u)

    def _ours(self, card: str, updated: datetime) -> None:
        """The card is as our own move left it at `updated`: not a teammate's change for the move
        still waiting, now or after a restart (its journal row learns it too)."""
        self.ours[card] = updated
        intent = self.intents.get(card)
        if intent is not None and updated > intent.base_updated:
            intent.base_updated = updated
            if self.journal is not None:
                self.journal.submit(self.journal.rebase, intent.seq, updated)

    def _conflict(self, intent: Intent) -> Conflict:
        assert self.board is not None and self.pipeline is not None
        board = self.board
        server = board.opportunity(intent.card)
        label = board.status(server.status_id).label if self.pipeline.status(server.status_id) else "?"
        theirs = f"{label} (changed {server.updated.astimezone():%Y-%m-%d %H:%M})"
        path = " → ".join(board.status(s).label if self.pipeline.status(s) else s for s in intent.path)
        moves = len(intent.path) - 1
        made = f"{moves} moves, last" if moves > 1 else "made"
        mine = f"{path} ({made} {intent.made_at.astimezone():%Y-%m-%d %H:%M})"
        return Conflict(intent.card, server.name, theirs, mine)

    def _settle(self, intent: Intent, how: str, u: Update, confirmed: Opportunity | None = None) -> None:
        """The intent is over: confirmed, refused, failed for good, gone, or the user took theirs."""
        if self.intents.get(intent.card) is intent:
            del self.intents[intent.card]
        self.outcomes.append(Outcome(intent.card, intent.seq, how))
        if self.board is not None and intent.card in self.board:
            u.redraw |= self.board.clear_target(intent.card, confirmed)
            u.redraw |= self.board.look(intent.card)  # where the move left it, which the user was told
            self._keep_seen(intent.card, u)
        if self.journal is not None:
            self.journal.submit(self.journal.settle, intent.card, intent.seq)
        if self.question is not None and self.question.card == intent.card:
            self.question = None

    def _keep_seen(self, card: str, u: Update) -> None:
        """What the user saw of a card their own move left (or put back), on disk before the move leaves the
        journal: the user's own move is seen while it is owed (the board counts a card with a move not yet
        confirmed as seen where it is drawn) and once it is settled, even after a kill -9 (it was marked
        `moved` at the next start: "what was seen" was written only at quit)."""
        board = self.board
        if self.seen is None or board is None or board.seen is None or self.pipeline is None:
            return
        row = board.seen.get(card)
        if row is None:
            return
        if self.journal is not None:  # the journal's writer, in order: written before the journal's row goes
            self.journal.submit(self.seen.keep, self.pipeline.id, {card: row})
        else:
            u.jobs.append(SaveSeen(self.pipeline.id, {card: row}, whole=False))

    def _badges(self, u: Update) -> None:
        board = self.board
        if board is None:
            return
        for card, intent in self.intents.items():
            badge = BADGE["out"] if card in self.out else BADGE[intent.state]
            if board.badges.get(card) != badge and card in board:
                board.badges[card] = badge
                u.redraw.add(board.shown_status(card))
        for card in [c for c in board.badges if c not in self.intents]:
            del board.badges[card]
            if card in board:
                u.redraw.add(board.shown_status(card))

    def _reachable(self, u: Update) -> None:
        """The CRM answered: not offline any more (a partial board goes on loading)."""
        if self.phase is Phase.OFFLINE and self.copy_of is None:
            self.phase = Phase.LIVE if self.complete else Phase.LOADING
            if not self.complete:
                self.next_try = self.clock()
        if self.error is not None and classify(self.error) is Failure.UNREACHABLE:
            self.error = None
            self.failures = 0

    def _report_skipped(self, skipped: list[str], u: Update) -> None:
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
        return self.board_copy.save(self.pipeline, self.board.server_versions(), self.last_synced, self.cursor)

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()

    # -- running jobs (the only I/O; the UI calls this in a worker) -----------------------------------------

    async def _read_kept(self, gen: int, pipeline_id: str, *, taken_over: bool = False) -> Recalled:
        """What this machine kept for the board (a worker thread: never on the UI's); `taken_over`: only the
        journal's owed moves (this window took it over from another)."""
        prefs, seen = {}, None
        if not taken_over:
            prefs = await asyncio.to_thread(self.prefs.load, pipeline_id) if self.prefs is not None else {}
            seen = await asyncio.to_thread(self.seen.load, pipeline_id) if self.seen is not None else None
        if self.journal is None:
            return Recalled(gen, None, prefs, seen=seen)
        if self.read_only:  # not ours to send: only which cards the user moved in the other window
            try:
                rows = await asyncio.to_thread(self.journal.pending, pipeline_id)
            except Exception as exc:  # noqa: BLE001 - the marks may then count them as changes; logged
                log.warning("could not read the move journal %s: %s", self.journal.path, exc)
                rows = []
            return Recalled(gen, None, prefs, seen=seen, elsewhere={r.opportunity_id: r.to_status for r in rows})
        try:  # row by row: a row that cannot be read is set aside (kept) and said, the others are owed
            rows, set_aside = await asyncio.to_thread(self.journal.recall, pipeline_id)
        except Exception as exc:  # noqa: BLE001 - said; the board opens anyway
            return Recalled(gen, None, prefs, f"Could not read the move journal {self.journal.path}: {exc}", seen)
        return Recalled(gen, rows, prefs, seen=seen, taken_over=taken_over, set_aside=tuple(set_aside))

    async def run(self, job: Job) -> AsyncIterator[Event]:
        """Do a job's I/O and yield what came of it. Never raises: failures are events too."""
        backend = self.backend
        try:
            if isinstance(job, ListPipelines):
                try:
                    yield PipelinesListed(await backend.list_pipelines(), job.switching)
                except BackendError as exc:
                    yield PipelinesFailed(exc, job.switching)
            elif isinstance(job, Load):
                if job.recall:
                    yield await self._read_kept(job.gen, job.pipeline.id)
                try:
                    starts = None
                    if job.first:  # the cursor and every column's first screen, together: one round trip
                        start, starts = await asyncio.gather(backend.changes_since(job.pipeline, None),
                                                             backend.first_screen(job.pipeline, self.screenful))
                        cursor = start.cursor
                    else:
                        cursor = (await backend.changes_since(job.pipeline, None)).cursor
                    yield LoadStarted(job.gen, cursor)
                    if starts:
                        yield FirstScreen(job.gen, starts)
                    async for page in backend.load_opportunities(job.pipeline):
                        yield PageArrived(job.gen, page)
                    yield LoadDone(job.gen)
                except BackendError as exc:
                    yield LoadFailed(job.gen, exc)
            elif isinstance(job, Resume):
                try:
                    saved_board = job.saved
                    yield Resumed(job.gen, await backend.resume(job.pipeline, saved_board.opportunities,
                                                                saved_board.cursor, saved_board.saved_at))
                except BackendError as exc:
                    yield LoadFailed(job.gen, exc)
            elif isinstance(job, Drain):
                yield await self._read_kept(job.gen, job.pipeline_id, taken_over=True)
            elif isinstance(job, OpenCopy):
                saved = None
                if self.board_copy is not None:
                    saved = await asyncio.to_thread(self.board_copy.load, job.wanted)
                kept = await self._read_kept(job.gen, saved.pipeline.id) if saved is not None else None
                yield CopyRead(job.gen, saved, job.error, kept)
            elif isinstance(job, Poll):
                try:
                    yield Polled(job.gen, await backend.changes_since(job.pipeline, job.cursor))
                except BackendError as exc:
                    yield PollFailed(job.gen, exc)
            elif isinstance(job, Send):
                try:
                    if self.journal is not None:  # on disk as sent before it goes
                        await asyncio.wrap_future(self.journal.submit(self.journal.mark_sent, job.seq))
                except Exception as exc:  # noqa: BLE001
                    yield MoveAnswered(job.gen, job.card, job.seq, BackendError(
                        f"could not write the move journal {self.journal.path if self.journal else ''}: {exc}",
                        hint="check the disk; the move was not sent"))
                    return
                try:
                    result: Opportunity | BackendError = await backend.move(
                        job.opportunity, job.status, lost_reason=job.lost_reason)
                except BackendError as exc:
                    result = exc
                yield MoveAnswered(job.gen, job.card, job.seq, result)
            elif isinstance(job, Read):
                try:
                    read: Opportunity | None | BackendError = await backend.fetch_one(job.pipeline, job.card)
                except BackendError as exc:
                    read = exc
                yield CardRead(job.gen, job.card, job.seq, read)
            elif isinstance(job, SavePrefs):
                if self.prefs is not None:
                    if problem := await asyncio.to_thread(self.prefs.save, job.pipeline_id, job.prefs):
                        log.warning(problem)
            elif isinstance(job, SaveSeen):
                if self.seen is not None and not job.whole:
                    if problem := await asyncio.to_thread(self.seen.keep, job.pipeline_id, job.seen):
                        log.warning(problem)
                elif self.seen is not None:
                    seen = job.seen
                    if self.board is not None and self.board.seen is not None and self.pipeline is not None \
                            and self.pipeline.id == job.pipeline_id:  # as it stands now: a card kept since stays
                        seen = dict(self.board.seen)
                    if problem := await asyncio.to_thread(self.seen.save, job.pipeline_id, seen,
                                                          self.now().isoformat()):
                        log.warning(problem)
            elif isinstance(job, WhoAmI):
                try:
                    yield MeKnown(await backend.me())
                except BackendError as exc:  # the filter offers the owners by name; "me" waits for the config
                    log.info("could not ask %s who this key is: %s", backend.name, exc)
                    yield MeKnown(None)
            elif isinstance(job, SaveCopy):
                if self.board_copy is not None:
                    problem = await asyncio.to_thread(self.board_copy.save, job.pipeline, job.cards, job.synced_at,
                                                      job.cursor)
                    yield CopySaved(problem)
        except Exception as exc:  # noqa: BLE001 - a bug must not take the board down: it is a failure event
            error = unexpected_error(exc)
            if isinstance(job, Load | Resume):
                yield LoadFailed(job.gen, error)
            elif isinstance(job, Poll):
                yield PollFailed(job.gen, error)
            elif isinstance(job, ListPipelines):
                yield PipelinesFailed(error, job.switching)
            elif isinstance(job, Send):
                yield MoveAnswered(job.gen, job.card, job.seq, error)
            elif isinstance(job, Read):
                yield CardRead(job.gen, job.card, job.seq, error)
            elif isinstance(job, OpenCopy):
                yield CopyRead(job.gen, None, job.error)
            log.exception("%s failed", type(job).__name__)


def same_statuses(a: Pipeline, b: Pipeline) -> bool:
    """The two have the same columns (ids, labels, order, kinds; colours aside): a saved board still fits."""
    def shape(p: Pipeline) -> list[tuple[str, str, str, bool]]:
        return [(s.id, s.label, s.kind.value, s.can_move_to) for s in p.statuses]

    return shape(a) == shape(b)


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


def ago(when: datetime, now: datetime | None = None) -> str:
    """`just now`, `40s ago`, `3m ago`, `2h ago`, `3d ago`; a time more than a minute ahead of `now` (kept by
    a clock that was ahead) is not `just now` but `an unknown time ago (clock ahead)`."""
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < -60:
        return "an unknown time ago (clock ahead)"
    if seconds < 10:
        return "just now"
    if seconds < 60:
        return f"{seconds // 10 * 10}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"
