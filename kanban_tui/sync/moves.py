"""The move queue: the user's moves as intents, and what the CRM's answers do to them.

Moves are intents. Per card, the user's latest intent is what the CRM must end with: a newer
move of a card replaces its unsent one; at most one request per card is out at a time, so an
older intent is never sent after a newer one; an undo is a new intent. Every intent is written
to the move journal (a `RecordMove` job, applied before the `Send` that follows it) before it
is sent. A send whose outcome is unknown (a write timeout, a kill during a request) is settled
by reading the card back before anything is sent again: if the CRM already has it there, it is
done, and the user is never asked about their own move.

Pure decisions: the journal is written through jobs (`protocol.JournalWrite`), requests are
`Send` / `Read` jobs; no I/O here.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol

from ..backends.errors import BackendError, OutcomeUnknownError, UnavailableError
from ..models import Opportunity, Pipeline
from ..store.journal import JournaledMove
from .board import Board
from .health import WRITE_TRIES, Failure, Health, classify, write_backoff
from .protocol import (
    CardRead,
    Conflict,
    ForgetMove,
    JournalWrite,
    KeepSeen,
    MoveAnswered,
    Read,
    RebaseMove,
    RecordMove,
    Send,
    SettleMove,
    UnsendMove,
    Update,
)


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


class Link(Protocol):
    """What the queue needs of the session when the CRM answers a move: the connection's state."""

    @property
    def crm(self) -> str: ...

    @property
    def health(self) -> Health: ...

    @property
    def offline(self) -> bool: ...

    def reachable(self, u: Update) -> None:
        """The CRM answered: not offline any more."""

    def go_offline(self) -> None:
        """The CRM cannot be reached (the error is in `health`)."""


class MoveQueue:
    """The intents of the board open now, the requests out for them, undo, and the conflict question."""

    def __init__(self, *, journaled: bool, keeps_seen: bool, clock: Callable[[], float],
                 now: Callable[[], datetime]) -> None:
        self.journaled = journaled
        """A journal keeps the intents (the real app always has one): each change of them is a job."""
        self.keeps_seen = keeps_seen
        """What the user saw is kept on disk: a settled move's card is written there before its journal row goes."""
        self.clock = clock
        self.now = now
        self.intents: dict[str, Intent] = {}
        self.out: dict[str, tuple[int, str]] = {}
        """Per card with a request out: the intent's seq and the status sent (or '' for a read)."""
        self.question: Conflict | None = None
        self.ours: dict[str, datetime] = {}
        """A card's `updated` as our own last confirmed move (or read-back) left it."""
        self.history: list[list[tuple[str, str, str]]] = []
        """This session's moves on the open pipeline, for undo: each entry one move of the user's, as its
        (card, from, to) steps: one for a card's move, one per card for a bulk move of the marked cards."""
        self.outcomes: deque[Outcome] = deque(maxlen=1000)
        """How the latest intents ended (for tests and the log; bounded for a long session)."""
        self.last_seq = 0
        self.restored = 0
        """Intents brought back from the journal at this open, not yet said."""
        self.said_offline = False
        """A write got no answer and the user was told moves are kept: not said again until one goes through
        (over a link that loses every write's answer while reads answer, each retry would say it anew)."""

    def __len__(self) -> int:
        return len(self.intents)

    def clear(self) -> None:
        """Another board: its intents are the journal's to bring back."""
        self.intents.clear()
        self.out.clear()
        self.history.clear()
        self.question = None

    def _journal(self, u: Update, write: JournalWrite) -> None:
        if self.journaled:
            u.jobs.append(write)

    # -- intents from the journal and from the user --------------------------------------------------------

    def recall(self, rows: list[JournaledMove], board: Board, pipeline: Pipeline, u: Update) -> int:
        """The journal's moves of this pipeline back as intents, shown where they put their cards (cards not
        loaded yet wait for their page); a move made here since (or read already) stays the latest. How many
        were brought back."""
        by_card: dict[str, list[JournaledMove]] = {}
        for row in rows:
            by_card.setdefault(row.opportunity_id, []).append(row)
        restored = 0
        for card, card_rows in by_card.items():
            latest = card_rows[-1]
            self.last_seq = max(self.last_seq, latest.seq)
            sent = {r.to_status for r in card_rows if r.state == "sent"}
            mine = self.intents.get(card)
            if mine is not None and mine.seq >= latest.seq:  # a move made here since (or read already): the latest
                mine.unknown |= bool(sent)  # an older send of the card may have landed: read it back first
                mine.ours |= sent
                continue
            if pipeline.status(latest.to_status) is None:
                u.notice(f"A move of {latest.opportunity_name or card} from last time was dropped: its status no"
                         f" longer exists in {pipeline.name}", severity="warning", timeout=10)
                self._journal(u, SettleMove(card, latest.seq))
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
        return restored

    def add(self, board: Board, pipeline: Pipeline, card: str, status_id: str, lost_reason: str | None,
            u: Update) -> None:
        """A new intent for `card` (replacing its unsent one), journaled, shown at once."""
        shown = board.shown_status(card)
        made_at = self.now()
        previous = self.intents.get(card)
        opportunity = board.opportunity(card)
        self.last_seq = seq = max(self.last_seq + 1, time.time_ns() // 1000)
        intent = Intent(
            seq=seq, card=card, name=opportunity.name, target=status_id, made_at=made_at,
            base_updated=previous.base_updated if previous else opportunity.updated,
            path=[*(previous.path if previous else [shown]), status_id], lost_reason=lost_reason,
            unknown=previous.unknown if previous else False, ours=set(previous.ours) if previous else set(),
        )
        self.intents[card] = intent
        self._journal(u, RecordMove(JournaledMove(
            seq=seq, pipeline_id=pipeline.id, opportunity_id=card, opportunity_name=opportunity.name,
            from_status=shown, to_status=status_id, made_at=made_at, base_updated=intent.base_updated,
            lost_reason=lost_reason,
        )))
        u.redraw |= board.set_target(card, status_id, made_at)
        u.redraw |= board.look(card)  # the user's own move is no change to point out

    def resolve(self, board: Board, card: str, keep: bool, u: Update) -> None:
        """The user's answer to the conflict question: keep my move (send it) or take the CRM's version."""
        intent = self.intents.get(card)
        if self.question is not None and self.question.card == card:
            self.question = None
        if intent is not None and intent.state == "asking":
            if keep:
                intent.keep = True
                intent.state = "queued"
            else:
                self.settle(board, intent, "theirs", u)

    def show_targets(self, board: Board, pipeline: Pipeline, u: Update) -> None:
        """Cards that arrived (a page, a first screen, the copy) shown where their intent puts them."""
        for card, intent in self.intents.items():
            if card in board and board.target(card) != intent.target and pipeline.status(intent.target):
                u.redraw |= board.set_target(card, intent.target, intent.made_at)

    # -- sending ----------------------------------------------------------------------------------------------

    def pump(self, board: Board, pipeline: Pipeline, gen: int, u: Update) -> None:
        """Send what may go now: per card one request at a time, the latest intent only."""
        now = self.clock()
        for card, intent in list(self.intents.items()):
            if card in self.out or intent.state == "asking" or card not in board:
                continue
            if intent.state == "retrying" and intent.next_try > now:
                continue
            if intent.unknown:
                intent.state = "out"
                self.out[card] = (intent.seq, "")
                u.jobs.append(Read(gen, card, intent.seq, pipeline))
                continue
            opportunity = board.opportunity(card)
            if pipeline.status(intent.target) is None:  # the status left the pipeline
                u.notice(f"{intent.name} went back: its status no longer exists in {pipeline.name}",
                         severity="warning", timeout=10)
                self.settle(board, intent, "refused", u)
                continue
            seen = max(intent.base_updated, self.ours.get(card, intent.base_updated))
            changed = board.real_update_times and opportunity.updated > seen
            if changed and opportunity.status_id == intent.target:  # the CRM has it where the user wants it
                self.mark_ours(card, opportunity.updated, u)
                self.settle(board, intent, "confirmed", u)
                continue
            moved = opportunity.status_id != intent.path[0]  # a teammate's change of other fields merges silently
            if changed and moved and not intent.keep and opportunity.status_id not in intent.ours:
                intent.state = "asking"
                continue
            intent.state = "out"
            self.out[card] = (intent.seq, intent.target)
            u.jobs.append(Send(gen, card, intent.seq, opportunity, board.status(intent.target), intent.lost_reason))

    def ask(self, board: Board, pipeline: Pipeline, u: Update) -> None:
        """The first intent waiting for the user's answer becomes the question (one at a time)."""
        if self.question is None:
            for intent in self.intents.values():
                if intent.state == "asking":
                    self.question = self.conflict(board, pipeline, intent)
                    u.ask = self.question
                    break

    def mark_ours(self, card: str, updated: datetime, u: Update) -> None:
        """The card is as our own move left it at `updated`: not a teammate's change for the move
        still waiting, now or after a restart (its journal row learns it too)."""
        self.ours[card] = updated
        intent = self.intents.get(card)
        if intent is not None and updated > intent.base_updated:
            intent.base_updated = updated
            self._journal(u, RebaseMove(intent.seq, updated))

    def saw_own(self, card: str, deal: Opportunity, u: Update) -> None:
        """Our own edit of the card landed (`deal` as the CRM answered it): where its status is one the user's own
        moves put it in (no teammate's move), the card's new `updated` is ours, not a change to ask a queued move
        about."""
        intent = self.intents.get(card)
        if intent is not None and (deal.status_id in intent.path or deal.status_id in intent.ours):
            self.mark_ours(card, deal.updated, u)

    def conflict(self, board: Board, pipeline: Pipeline, intent: Intent) -> Conflict:
        server = board.opportunity(intent.card)
        label = board.status(server.status_id).label if pipeline.status(server.status_id) else "?"
        theirs = f"{label} (changed {server.updated.astimezone():%Y-%m-%d %H:%M})"
        path = " → ".join(board.status(s).label if pipeline.status(s) else s for s in intent.path)
        moves = len(intent.path) - 1
        made = f"{moves} moves, last" if moves > 1 else "made"
        mine = f"{path} ({made} {intent.made_at.astimezone():%Y-%m-%d %H:%M})"
        return Conflict(intent.card, server.name, theirs, mine)

    def settle(self, board: Board | None, intent: Intent, how: str, u: Update,
               confirmed: Opportunity | None = None) -> None:
        """The intent is over: confirmed, refused, failed for good, gone, or the user took theirs."""
        if self.intents.get(intent.card) is intent:
            del self.intents[intent.card]
        self.outcomes.append(Outcome(intent.card, intent.seq, how))
        if how == "confirmed":
            self.said_offline = False  # a write went through: the next spell without answers is said again
        if board is not None and intent.card in board:
            u.redraw |= board.clear_target(intent.card, confirmed)
            u.redraw |= board.look(intent.card)  # where the move left it, which the user was told
            self._keep_seen(board, intent.card, u)
        self._journal(u, SettleMove(intent.card, intent.seq))
        if self.question is not None and self.question.card == intent.card:
            self.question = None

    def _keep_seen(self, board: Board, card: str, u: Update) -> None:
        """What the user saw of a card their own move left (or put back), on disk before the move leaves the
        journal: the user's own move is seen while it is owed (the board counts a card with a move not yet
        confirmed as seen where it is drawn) and once it is settled, even after a kill -9 (it was marked
        `moved` at the next start: "what was seen" was written only at quit)."""
        row = board.seen.get(card) if self.keeps_seen and board.seen is not None else None
        if row is not None:
            u.jobs.append(KeepSeen(board.pipeline.id, {card: row}))  # (with a journal: just before its write)

    def badges(self, board: Board, u: Update, others: dict[str, str]) -> None:
        """Each card's badge (`saving…`, `queued`, ...) as its move stands, else as `others` (its edits, a new
        deal) stand."""
        wanted = dict(others)
        for card, intent in self.intents.items():
            wanted[card] = BADGE["out"] if card in self.out else BADGE[intent.state]
        for card, badge in wanted.items():
            if board.badges.get(card) != badge and card in board:
                board.badges[card] = badge
                u.redraw.add(board.shown_status(card))
        for card in [c for c in board.badges if c not in wanted]:
            del board.badges[card]
            if card in board:
                u.redraw.add(board.shown_status(card))

    # -- the CRM's answers ------------------------------------------------------------------------------------

    def answered(self, ev: MoveAnswered, board: Board, link: Link, u: Update) -> None:
        """The CRM's answer to a `Send`."""
        sent = self.out.pop(ev.card, (ev.seq, ""))[1]
        intent = self.intents.get(ev.card)
        current = intent is not None and intent.seq == ev.seq
        result, health = ev.result, link.health
        if isinstance(result, Opportunity):
            link.reachable(u)
            self.mark_ours(ev.card, result.updated, u)
            if current:
                assert intent is not None
                self.settle(board, intent, "confirmed", u, confirmed=result)
            else:
                self._journal(u, ForgetMove(ev.seq))
                if intent is not None:
                    intent.ours.discard(sent)
                u.redraw |= board.accept(result)
            return
        failure = classify(result)
        if intent is not None and intent.state == "out":
            intent.state = "queued"
        if isinstance(result, UnavailableError) and (result.status_code or 500) < 300:
            # the CRM said yes with an answer that cannot be read: the move probably landed; read it back
            link.reachable(u)
            if intent is not None:
                intent.unknown = True
                intent.ours.add(sent)
            return
        maybe_applied = isinstance(result, OutcomeUnknownError) or (
            isinstance(result, UnavailableError) and result.status_code is not None)  # a 5xx: a gateway may pass it on
        if maybe_applied and intent is not None:
            intent.ours.add(sent)  # the card may be there now by our own doing (an undo may follow)
        if failure is Failure.UNREACHABLE:
            if maybe_applied and intent is not None:
                intent.unknown = True
            else:
                self._journal(u, UnsendMove(ev.seq))
            if not link.offline:
                if not self.said_offline:
                    u.notice(f"{result.summary}: moves are kept and sent when {link.crm} answers again"
                             " (they survive a restart)", title="Offline", severity="warning", timeout=10)
                    self.said_offline = True
                health.schedule_retry(result)
            health.error = result
            link.go_offline()
            return
        link.reachable(u)  # the CRM answered, if only to say no
        if failure in (Failure.RATE, Failure.AUTH):
            self._journal(u, UnsendMove(ev.seq))
        if failure is Failure.RATE:
            health.rate_limited(result)
            health.next_try = max(health.next_try, health.rate_until)
            return
        if failure is Failure.AUTH:
            if not health.auth_blocked:
                u.notice(f"{result}. Your moves are kept and sent once {link.crm} accepts the key"
                         " (they survive a restart)", title="Moves kept", severity="error", timeout=15)
            health.auth_blocked = True
            health.error = result
            health.schedule_retry(None)
            return
        if failure is Failure.GONE:
            if intent is not None:
                u.notice(f"{intent.name} was removed from the board: {result}", title="Move not saved",
                         severity="error", timeout=10)
                self.settle(board, intent, "gone", u)
            u.redraw |= board.remove([ev.card])
            return
        if not current:  # an older move of the card failed; the newer one goes next
            self._journal(u, ForgetMove(ev.seq))
            return
        assert intent is not None
        if failure is Failure.SERVER:
            intent.tries += 1
            if intent.tries < WRITE_TRIES:
                intent.state = "retrying"
                intent.next_try = self.clock() + write_backoff(intent.tries)
                self._journal(u, UnsendMove(ev.seq))
                return
            u.notice(f"{intent.name} went back: {result.summary} (tried {intent.tries} times)",
                     title="Move not saved", severity="error", timeout=10)
            self.settle(board, intent, "failed", u)
            u.follow = ev.card
            return
        u.notice(f"{intent.name} went back: {result}", title="Move not saved", severity="error", timeout=10)
        self.settle(board, intent, "refused", u)
        u.follow = ev.card

    def read_back(self, ev: CardRead, board: Board, link: Link, u: Update) -> None:
        """The card as the CRM has it, read back after a send whose outcome was unknown."""
        self.out.pop(ev.card, None)
        result, health = ev.result, link.health
        intent = self.intents.get(ev.card)
        if intent is not None and intent.state == "out":
            intent.state = "queued"
        if isinstance(result, BackendError):
            failure = classify(result)
            if failure is Failure.UNREACHABLE:
                health.error = result
                link.go_offline()
                health.schedule_retry(result)
                return
            link.reachable(u)
            if failure is Failure.RATE:
                health.rate_limited(result)
            elif failure is Failure.AUTH:
                health.auth_blocked = True
                health.error = result
                health.schedule_retry(None)
            elif intent is not None:  # the card cannot be read back: never send blindly; try again later
                intent.tries += 1
                if intent.tries >= WRITE_TRIES:
                    u.notice(f"{intent.name} went back: could not check whether its move reached"
                             f" {link.crm} ({result.summary}); the next poll shows where it is",
                             title="Move not saved", severity="error", timeout=10)
                    self.settle(board, intent, "failed", u)
                    u.follow = ev.card
                else:
                    intent.state = "retrying"
                    intent.next_try = self.clock() + write_backoff(intent.tries)
            return
        link.reachable(u)
        if result is None:
            if intent is not None:
                u.notice(f"{intent.name} is no longer in {link.crm}: its move was dropped",
                         severity="warning", timeout=10)
                self.settle(board, intent, "gone", u)
            u.redraw |= board.remove([ev.card])
            return
        u.redraw |= board.accept(result)
        if intent is None:
            return
        intent.unknown = False
        if result.status_id == intent.target:  # the move had reached the CRM
            self.mark_ours(ev.card, result.updated, u)
            self.settle(board, intent, "confirmed", u, confirmed=result)
        elif result.status_id in intent.ours:  # an earlier move of ours had: not a teammate's change
            self.mark_ours(ev.card, result.updated, u)
        else:  # not where it went: it did not land, or it landed and was moved back; the card changed since: ask
            seen = max(intent.base_updated, self.ours.get(ev.card, intent.base_updated))
            if board.real_update_times and result.updated > seen and not intent.keep:
                intent.state = "asking"
        intent.ours.clear()
