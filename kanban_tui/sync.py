"""Keeping the board true: server state, moves in flight, and polling.

Plain Python and asyncio, no Textual: the UI calls in here and renders what `Board`
says. Three pieces:

- `Board`: what the CRM last told us plus the user's moves not yet confirmed, as
  ordered columns. Every change reports which columns it touched, so the UI redraws
  only those.
- `Poller`: when the next poll is due (the interval, with backoff after failures).
- `SyncEngine`: the I/O, through a backend: first load, changes since a cursor, and
  sending moves one at a time in the order they were made.

Ordering within a column: most recently updated first (ties by id). A card that
has just been moved counts as updated now, so it lands at the top of its new column.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from bisect import bisect_left, insort
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .backends.base import Backend
from .backends.errors import AuthError, BackendError, ConflictError, NotFoundError, RateLimitedError, UnavailableError
from .store.journal import JournaledMove, MoveJournal
from .models import Changes, Opportunity, Page, Period, Pipeline, Status

SortKey = tuple[float, str]


def _sort_key(when: datetime, opportunity_id: str) -> SortKey:
    return (-when.timestamp(), opportunity_id)


@dataclass(frozen=True)
class PendingMove:
    """A move the user made that the CRM has not confirmed yet."""

    seq: int
    opportunity_id: str
    from_status: str
    to_status: str
    made_at: datetime
    base_updated: datetime
    """The card's `updated` as the user saw it when moving it."""
    lost_reason: str | None = None


@dataclass(frozen=True)
class ColumnSummary:
    """What a column header shows."""

    count: int
    totals: dict[str, int]
    """Annualized value per currency, minor units (one-time + 12 x monthly + annual)."""
    weighted: dict[str, int]
    """The same, weighted by confidence (expected value)."""
    annualized: bool = False
    """Some values recur (monthly / annual): the totals are a year's worth."""


@dataclass
class MoveOutcome:
    """What happened to a move, for the UI to report."""

    move: PendingMove
    changed: set[str]
    """Columns (status ids) whose content changed."""
    error: BackendError | None = None
    gone: bool = False
    """The card no longer exists on the server; it has been removed from the board."""
    kept: bool = False
    """The CRM could not be reached: the move stays pending (and journaled), to be sent again."""
    conflict: bool = False
    """The card changed in the CRM since the move was made: the user decides (keep or take theirs)."""


Contribution = tuple[str, int, int, bool] | None
"""What one card adds to its column's totals: currency, annualized value, weighted, recurring."""


def contribution_of(opportunity: Opportunity) -> Contribution:
    if not opportunity.value:
        return None
    annual = opportunity.annualized_value
    weighted = annual * (opportunity.confidence or 0) // 100
    return opportunity.currency, annual, weighted, opportunity.period is not Period.ONE_TIME


class ColumnTotals:
    """A column's count and per-currency sums, updated as cards come and go."""

    def __init__(self) -> None:
        self.count = 0
        self.recurring = 0
        self.by_currency: dict[str, list[int]] = {}
        """currency -> [cards, annualized total, confidence-weighted total]"""

    def add(self, contribution: Contribution) -> None:
        self.count += 1
        if contribution is not None:
            currency, annual, weighted, recurring = contribution
            sums = self.by_currency.setdefault(currency, [0, 0, 0])
            sums[0] += 1
            sums[1] += annual
            sums[2] += weighted
            self.recurring += recurring

    def remove(self, contribution: Contribution) -> None:
        self.count -= 1
        if contribution is not None:
            currency, annual, weighted, recurring = contribution
            sums = self.by_currency[currency]
            sums[0] -= 1
            sums[1] -= annual
            sums[2] -= weighted
            self.recurring -= recurring
            if sums[0] == 0:
                del self.by_currency[currency]

    def summary(self) -> ColumnSummary:
        """Main currency (the most used) first, as `sum_by_currency` orders them."""
        order = sorted(self.by_currency, key=lambda c: (-self.by_currency[c][0], c))
        return ColumnSummary(
            count=self.count,
            totals={c: self.by_currency[c][1] for c in order},
            weighted={c: self.by_currency[c][2] for c in order},
            annualized=self.recurring > 0,
        )


class Board:
    """Server state plus pending moves, as ordered columns of opportunity ids."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._statuses = {s.id: s for s in pipeline.statuses}
        self._server: dict[str, Opportunity] = {}
        self._pending: dict[str, list[PendingMove]] = {}
        self._columns: dict[str, list[SortKey]] = {s.id: [] for s in pipeline.statuses}
        self._placed: dict[str, tuple[str, SortKey, Contribution]] = {}
        self._totals: dict[str, ColumnTotals] = {s.id: ColumnTotals() for s in pipeline.statuses}
        self._summaries: dict[str, ColumnSummary] = {}
        self.real_update_times = True
        """False where the CRM does not say when a card changed: cards then show no age."""
        self.has_values = True
        """False where the CRM has no deal values: cards show the contact instead."""
        self.held: set[str] = set()
        """Cards whose move waits for the CRM to be reachable again (shown as queued)."""
        self._seq = itertools.count(1)

    # -- reading ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._placed)

    def __contains__(self, opportunity_id: object) -> bool:
        return opportunity_id in self._placed

    def server_versions(self) -> list[Opportunity]:
        """Every card on the board as the server last reported it (pending moves not applied)."""
        return [self._server[opportunity_id] for opportunity_id in self._placed]

    def status(self, status_id: str) -> Status:
        return self._statuses[status_id]

    def opportunity(self, opportunity_id: str) -> Opportunity:
        """The opportunity as the server last reported it."""
        return self._server[opportunity_id]

    def shown_status(self, opportunity_id: str) -> str:
        """The column the card is drawn in (its pending target, if it has one)."""
        return self._placed[opportunity_id][0]

    def pending_moves(self, opportunity_id: str) -> list[PendingMove]:
        return list(self._pending.get(opportunity_id, ()))

    def pending_count(self) -> int:
        """Cards with a move not yet confirmed."""
        return len(self._pending)

    def is_pending(self, opportunity_id: str) -> bool:
        return bool(self._pending.get(opportunity_id))

    def column_len(self, status_id: str) -> int:
        return len(self._columns[status_id])

    def column_ids(self, status_id: str, start: int = 0, stop: int | None = None) -> list[str]:
        """Ids of the cards in a column, in display order, from `start` to `stop`."""
        return [key[1] for key in self._columns[status_id][start:stop]]

    def index_of(self, opportunity_id: str) -> int | None:
        """Where the card is in its column, or None if it is not on the board."""
        placed = self._placed.get(opportunity_id)
        if placed is None:
            return None
        column = self._columns[placed[0]]
        return bisect_left(column, placed[1])

    def summary(self, status_id: str) -> ColumnSummary:
        """Count and value totals of a column: kept up to date card by card, so O(currencies)."""
        summary = self._summaries.get(status_id)
        if summary is None:
            summary = self._summaries[status_id] = self._totals[status_id].summary()
        return summary

    # -- placing cards ------------------------------------------------------------------

    def _place(self, opportunity_id: str) -> set[str]:
        """Put a card where server state + pending moves say; return touched columns."""
        touched: set[str] = set()
        old = self._placed.pop(opportunity_id, None)
        if old is not None:
            column = self._columns[old[0]]
            del column[bisect_left(column, old[1])]
            self._totals[old[0]].remove(old[2])
            touched.add(old[0])
        opportunity = self._server.get(opportunity_id)
        if opportunity is not None:
            pending = self._pending.get(opportunity_id)
            if pending:
                status_id, key = pending[-1].to_status, _sort_key(pending[-1].made_at, opportunity_id)
            else:
                status_id, key = opportunity.status_id, _sort_key(opportunity.updated, opportunity_id)
            if status_id in self._columns:
                insort(self._columns[status_id], key)
                contribution = contribution_of(opportunity)
                self._totals[status_id].add(contribution)
                self._placed[opportunity_id] = (status_id, key, contribution)
                touched.add(status_id)
        for status_id in touched:
            self._summaries.pop(status_id, None)
        return touched

    def _accept(self, opportunity: Opportunity) -> bool:
        """Take a server version unless we already hold a newer one."""
        known = self._server.get(opportunity.id)
        if known is not None and known.updated > opportunity.updated:
            return False
        self._server[opportunity.id] = opportunity
        return True

    def add(self, opportunities: Iterable[Opportunity]) -> set[str]:
        """Add or update opportunities the server reported; return touched columns.

        Cards new to the board with no move pending (a load's pages) are appended and each
        touched column sorted once, rather than inserted one by one.
        """
        touched: set[str] = set()
        batches: dict[str, list[SortKey]] = {}
        batched: set[str] = set()

        def merge_batches() -> None:
            for status_id, keys in batches.items():
                column = self._columns[status_id]
                column.extend(keys)
                column.sort()
                touched.add(status_id)
                self._summaries.pop(status_id, None)
            batches.clear()
            batched.clear()

        for opportunity in opportunities:
            if opportunity.id in batched:
                merge_batches()  # the same card twice in one page: place the later one normally
            if not self._accept(opportunity):
                continue
            opportunity_id, status_id = opportunity.id, opportunity.status_id
            if opportunity_id in self._placed or opportunity_id in self._pending or status_id not in self._columns:
                touched |= self._place(opportunity_id)
                continue
            key = _sort_key(opportunity.updated, opportunity_id)
            contribution = contribution_of(opportunity)
            self._totals[status_id].add(contribution)
            self._placed[opportunity_id] = (status_id, key, contribution)
            batches.setdefault(status_id, []).append(key)
            batched.add(opportunity_id)
        merge_batches()
        return touched

    def remove(self, opportunity_ids: Iterable[str]) -> set[str]:
        """Drop opportunities the server no longer has in this pipeline."""
        touched: set[str] = set()
        for opportunity_id in opportunity_ids:
            self._server.pop(opportunity_id, None)
            self._pending.pop(opportunity_id, None)
            touched |= self._place(opportunity_id)
        return touched

    def apply(self, changes: Changes) -> set[str]:
        """Merge a poll's changes. Pending moves stay on top of whatever it says."""
        return self.add(changes.upserted) | self.remove(changes.removed)

    # -- moves --------------------------------------------------------------------------

    def begin_move(
        self,
        opportunity_id: str,
        to_status: str,
        *,
        lost_reason: str | None = None,
        now: datetime | None = None,
        base_updated: datetime | None = None,
    ) -> tuple[PendingMove, set[str]]:
        """Show the card in `to_status` at once, and return the move to send."""
        if to_status not in self._statuses:
            raise KeyError(f"{to_status} is not a status of {self.pipeline.name}")
        move = PendingMove(
            seq=next(self._seq),
            opportunity_id=opportunity_id,
            from_status=self.shown_status(opportunity_id),
            to_status=to_status,
            made_at=now or datetime.now(UTC),
            base_updated=base_updated or self._server[opportunity_id].updated,
            lost_reason=lost_reason,
        )
        self._pending.setdefault(opportunity_id, []).append(move)
        return move, self._place(opportunity_id)

    def _forget(self, move: PendingMove) -> None:
        pending = self._pending.get(move.opportunity_id, [])
        if move in pending:
            pending.remove(move)
        if not pending:
            self._pending.pop(move.opportunity_id, None)

    def confirm_move(self, move: PendingMove, opportunity: Opportunity) -> set[str]:
        """The CRM accepted the move and answered with the opportunity as it now is."""
        if move.opportunity_id not in self._server:
            return set()
        self._forget(move)
        self._accept(opportunity)
        return self._place(move.opportunity_id)

    def fail_move(self, move: PendingMove, *, gone: bool = False) -> set[str]:
        """The CRM refused the move: show the card where the server has it."""
        if gone:
            return self.remove([move.opportunity_id])
        self._forget(move)
        return self._place(move.opportunity_id)


class Poller:
    """When the next poll is due: every `interval` seconds, backing off after failures."""

    MAX_BACKOFF = 60.0

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.failures = 0
        self.wait_until: float | None = None
        self.next_at = clock() + interval

    def due(self) -> bool:
        return self.clock() >= self.next_at

    def seconds_left(self) -> float:
        return max(0.0, self.next_at - self.clock())

    def succeeded(self) -> None:
        self.failures = 0
        self.next_at = self.clock() + self.interval

    def failed(self, retry_after: float | None = None) -> None:
        """Back off exponentially (with jitter), or as long as the server asked."""
        self.failures += 1
        backoff = min(self.MAX_BACKOFF, self.interval * 2 ** (self.failures - 1))
        backoff *= random.uniform(0.8, 1.0) if self.failures > 1 else 1.0
        self.next_at = self.clock() + max(backoff, retry_after or 0.0)

    def now(self) -> None:
        """Make the next poll due at once (the user pressed refresh)."""
        self.next_at = self.clock()


def is_unreachable(error: BackendError) -> bool:
    """The CRM could not be reached or asked us to wait: try again later, lose nothing."""
    return isinstance(error, UnavailableError | RateLimitedError)


def keeps_moves(error: BackendError) -> bool:
    """A failure that says nothing about the move itself: keep it (journaled) and send it later.

    The CRM unreachable, or the key rejected (401): once it is fixed, the move still stands.
    A refusal of the move (400, 403, 404, 409, 422, ...) is final and said to the user.
    """
    return is_unreachable(error) or (isinstance(error, AuthError) and error.status_code == 401)


@dataclass
class SyncEngine:
    """The board's I/O with a backend. Mutates `board` only through the apply_* methods."""

    backend: Backend
    pipeline: Pipeline
    board: Board = field(init=False)
    cursor: str | None = None
    last_synced: datetime | None = None
    last_error: str | None = None
    journal: MoveJournal | None = None
    offline: bool = False
    """The CRM could not be reached at the last try (poll or move)."""
    held: list[PendingMove] = field(default_factory=list, init=False)
    """Moves that could not be sent (CRM unreachable), in the order they were made."""
    _journal_ids: dict[int, int] = field(default_factory=dict, init=False)
    _ours: dict[str, datetime] = field(default_factory=dict, init=False)
    """A card's `updated` as our own last confirmed move left it."""
    overrule: set[int] = field(default_factory=set, init=False)
    """Moves (by seq) the user chose to keep over a conflicting change in the CRM."""
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def __post_init__(self) -> None:
        self.board = Board(self.pipeline)
        self.board.real_update_times = getattr(self.backend, "real_update_times", True)
        self.board.has_values = getattr(self.backend, "has_values", True)

    async def start(self) -> AsyncIterator[Page]:
        """Take a cursor, then yield the pipeline's pages (nothing changed meanwhile is missed)."""
        self.cursor = (await self.backend.changes_since(self.pipeline, None)).cursor
        async for page in self.backend.load_opportunities(self.pipeline):
            yield page

    def apply_page(self, page: Page) -> set[str]:
        touched = self.board.add(page.opportunities)
        self.synced()
        return touched

    async def fetch_changes(self) -> Changes:
        """Ask the backend what changed since the cursor (I/O only; apply it with apply_changes)."""
        return await self.backend.changes_since(self.pipeline, self.cursor)

    def apply_changes(self, changes: Changes) -> set[str]:
        self.cursor = changes.cursor or self.cursor
        self.synced()
        return self.board.apply(changes)

    def synced(self) -> None:
        self.last_synced = datetime.now(UTC)
        self.last_error = None
        self.offline = False

    def sync_failed(self, error: BackendError) -> None:
        self.last_error = error.summary
        self.offline = is_unreachable(error)

    # -- the journal ------------------------------------------------------------------------

    async def restore(self) -> tuple[list[PendingMove], list[JournaledMove], set[str]]:
        """Put the journal's moves for this pipeline back on the board, to be sent again.

        Returns the moves to send (in order), the journaled ones whose card is no longer
        on the board (dropped from the journal), and the columns touched.
        """
        if self.journal is None:
            return [], [], set()
        journaled = await asyncio.to_thread(self.journal.pending, self.pipeline.id)
        moves, dropped, touched = [], [], set()
        for entry in journaled:
            if entry.opportunity_id not in self.board or self.pipeline.status(entry.to_status) is None:
                dropped.append(entry)
                await asyncio.to_thread(self.journal.forget, entry.id)
                continue
            move, changed = self.board.begin_move(
                entry.opportunity_id, entry.to_status, lost_reason=entry.lost_reason, now=entry.made_at,
                base_updated=entry.base_updated,
            )
            self._journal_ids[move.seq] = entry.id
            moves.append(move)
            touched |= changed
        return moves, dropped, touched

    async def _record(self, move: PendingMove) -> None:
        if self.journal is None or move.seq in self._journal_ids:
            return
        name = self.board.opportunity(move.opportunity_id).name if move.opportunity_id in self.board else ""
        self._journal_ids[move.seq] = await asyncio.to_thread(
            self.journal.record,
            pipeline_id=self.pipeline.id, opportunity_id=move.opportunity_id, opportunity_name=name,
            from_status=move.from_status, to_status=move.to_status, made_at=move.made_at,
            base_updated=move.base_updated, lost_reason=move.lost_reason,
        )

    async def _forget(self, move: PendingMove) -> None:
        journal_id = self._journal_ids.pop(move.seq, None)
        if self.journal is not None and journal_id is not None:
            await asyncio.to_thread(self.journal.forget, journal_id)

    def keep_mine(self, move: PendingMove) -> None:
        """The user keeps their move over the CRM's change: send it as it is."""
        self.overrule.add(move.seq)

    async def take_theirs(self, move: PendingMove) -> None:
        """The user takes the CRM's version: the move is dropped (journal too)."""
        await self._forget(move)

    def take_held(self) -> list[PendingMove]:
        """The moves to send again now (the CRM answered again), oldest first."""
        held, self.held = self.held, []
        self.board.held.clear()
        return [m for m in held if m in self.board.pending_moves(m.opportunity_id)]

    async def send_move(self, move: PendingMove) -> Opportunity:
        """Journal a move, then send it; moves go out one at a time, in the order they were made.

        The journal entry goes when the CRM confirms the move or refuses it for good; it
        stays when the CRM cannot be reached, so the move is sent again (now or at the next start).
        """
        await self._record(move)
        async with self._send_lock:
            if move.opportunity_id not in self.board:
                await self._forget(move)
                raise NotFoundError("the card was removed before its move was sent", crm=self.backend.name)
            opportunity = self.board.opportunity(move.opportunity_id)
            status = self.board.status(move.to_status)
            seen = max(move.base_updated, self._ours.get(move.opportunity_id, move.base_updated))
            changed = self.board.real_update_times and opportunity.updated > seen
            if changed and move.seq not in self.overrule:
                theirs = self.board.status(opportunity.status_id) if self.pipeline.status(opportunity.status_id) else None
                raise ConflictError(
                    f"{opportunity.name} changed in {self.backend.name} after you moved it"
                    f" (it is in {theirs.label if theirs else opportunity.status_id} there now)",
                    crm=self.backend.name,
                )
            try:
                moved = await self.backend.move(opportunity, status, lost_reason=move.lost_reason)
            except BackendError as exc:
                if not keeps_moves(exc):
                    await self._forget(move)
                raise
            finally:
                self.overrule.discard(move.seq)
            await self._forget(move)
            self._ours[moved.id] = moved.updated  # our own change: not a conflict for the next move
            return moved

    def settle_move(self, move: PendingMove, result: Opportunity | BackendError) -> MoveOutcome:
        """Apply a move's result: confirm it, hold it for later (CRM unreachable), or put the card back."""
        if isinstance(result, Opportunity):
            if not self.held:
                self.offline = False
            return MoveOutcome(move, self.board.confirm_move(move, result))
        if isinstance(result, ConflictError):
            return MoveOutcome(move, set(), error=result, conflict=True)
        if keeps_moves(result):
            self.offline = is_unreachable(result)
            self.last_error = result.summary
            if move not in self.held:
                self.held.append(move)
                self.board.held.add(move.opportunity_id)
            return MoveOutcome(move, set(), error=result, kept=True)
        gone = isinstance(result, NotFoundError)
        return MoveOutcome(move, self.board.fail_move(move, gone=gone), error=result, gone=gone)


