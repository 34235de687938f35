"""Polling: what teammates changed in the CRM since the cursor, brought into the open board.

A part of the session (`session.py`), as functions over it: a poll's changes (cards added, changed,
removed; the user's moves of removed cards dropped and said), the pipeline's statuses changed in the
CRM (the board moves to them in place), a poll that failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import Pipeline
from .board import Board
from .health import Failure, classify
from .phase import Live, Phase
from .protocol import Drain, ListPipelines, Load, Poll, Polled, PollFailed, Update

if TYPE_CHECKING:
    from .session import BoardSession

LOCK_RETRY = 5.0
"""A read-only window (another one holds the journal) tries the journal's lock this often (seconds), and at
every move: once the other is gone (quit, killed), this one takes over."""


def polled(s: BoardSession, ev: Polled, u: Update) -> None:
    """What changed in the CRM since the cursor: into the board (a teammate's change is marked there)."""
    if s.board is None:
        return
    s.busy = False
    board, changes = s.board, ev.changes
    s.cursor = changes.cursor or s.cursor
    s.reachable(u)
    if s.phase is Phase.FAILED and s.complete:
        s.state = Live()
    if changes.pipeline is not None and s.pipeline is not None and changes.pipeline.id == s.pipeline.id:
        restage(s, changes.pipeline.recolored(s.colors), u)
        board = s.board
    for card in changes.removed:
        if (intent := s.moves.intents.get(card)) is not None:
            u.notice(f"{intent.name} was removed in {s.backend.name}: its move was dropped",
                     severity="warning", timeout=10)
            s.moves.settle(s.board, intent, "gone", u)
        s.writes.removed(card, s.backend.name, u)
    news = (sum(1 for o in changes.upserted if not board.has_version(o))
            + sum(1 for c in changes.removed if c in board))
    u.redraw |= board.apply(changes)
    if s.refresh_asked:
        s.refresh_asked = False
        n = news
        u.notice(f"{n} change{'s' if n != 1 else ''} from {s.backend.name}" if n
                 else f"Up to date: no changes in {s.backend.name}", timeout=3)
    s.report_skipped(changes.skipped, u)
    s.health.succeeded(s.poll_interval)
    s.last_synced = s.now()


def restage(s: BoardSession, pipeline: Pipeline, u: Update) -> None:
    """The open pipeline's statuses changed in the CRM: the board moves to them in place. Cards, the
    user's hidden columns, order, owner filter, search and change marks stay; intents whose status is
    gone go back (said); the poll's changes then put the cards in their new statuses."""
    old = s.board
    assert old is not None and s.pipeline is not None
    board = Board(pipeline)
    board.real_update_times, board.has_values = old.real_update_times, old.has_values
    board.set_sort(old.sort)
    board.set_owner(old.owner)
    board.set_query(old.query)
    board.seen, board.loaded, board.elsewhere = old.seen, old.loaded, old.elsewhere
    board.elsewhere_values = old.elsewhere_values
    board.add(old.server_versions())
    board.marked = {card: None for card in old.marked if card in board}
    s.pipeline, s.board = pipeline, board
    u.notice(f"{pipeline.name}: stages changed in {s.backend.name}", timeout=6)
    for intent in list(s.moves.intents.values()):
        if pipeline.status(intent.target) is None:
            u.notice(f"{intent.name} went back: its status no longer exists in {pipeline.name}",
                     severity="warning", timeout=10)
            s.moves.settle(s.board, intent, "refused", u)
        elif intent.card in board:
            board.set_target(intent.card, intent.target, intent.made_at)
    kept = ([step for step in entry if pipeline.status(step[1]) is not None and pipeline.status(step[2]) is not None]
            for entry in s.moves.history)
    s.moves.history = [entry for entry in kept if entry]
    s.hidden = {h for h in s.hidden if pipeline.status(h) is not None}
    u.rebuild = True  # the screen keeps the focus on its card, by id
    u.redraw |= {status.id for status in pipeline.statuses}


def poll_failed(s: BoardSession, ev: PollFailed, u: Update) -> None:
    """A poll failed: offline (unreachable), or the CRM said no; tried again with backoff."""
    s.busy = False
    failure = classify(ev.error)
    if failure is not Failure.UNREACHABLE:
        s.reachable(u)  # the CRM answered (with an error): not offline
    s.health.error = ev.error
    if failure is Failure.UNREACHABLE:
        s.state = s.offline_state(ev.error)
    elif failure is Failure.AUTH:
        s.health.auth_blocked = True
    s.health.schedule_retry(ev.error)


def try_lock(s: BoardSession) -> None:
    """A read-only window: take the journal over if the window that held it is gone (it quit, or was killed: the
    lock goes with its process); else name whoever holds it now."""
    if s.read_only is None:
        return
    s.lock_try = s.clock() + LOCK_RETRY
    s.read_only = s.runner.claim_journal()
    s.taken_over = s.read_only is None


def lock_due(s: BoardSession, u: Update) -> None:
    """A read-only window's lock try is due: take over, or read which cards the other window moves since."""
    try_lock(s)
    if s.read_only is not None and s.pipeline is not None and s.complete:
        u.jobs.append(Drain(s.gen, s.pipeline.id))


def refresh(s: BoardSession) -> Update:
    """`r`: poll now (or try to open the board again); says that it ran, and then what it found."""
    s.health.next_try = s.clock()
    s.refresh_asked = True
    s.health.rate_until = 0.0  # `r` always tries: a rate limit's wait too is cut short (a 429 says so again)
    s.runner.wake()
    if not s.health.auto_retry:
        s.health.auto_retry = True
    for intent in s.moves.intents.values():
        if intent.state == "retrying":
            intent.next_try = s.clock()
    for card_fields in s.writes.fields.values():
        for field_intent in card_fields.values():
            field_intent.next_try = min(field_intent.next_try, s.clock())
    for shot in s.writes.shots.values():
        shot.next_try = min(shot.next_try, s.clock())
    u = tick(s)
    u.notice(f"Checking {s.backend.name} for changes…", timeout=2)
    return u


def tick(s: BoardSession) -> Update:
    """Start what is due: a poll, a load tried again, moves whose retry time came."""
    u = Update()
    if s.read_only is not None and s.clock() >= s.lock_try:
        lock_due(s, u)
    if not s.busy and s.health.due() and s.phase is not Phase.CHOOSING:
        s.busy = True
        if s.pipeline is None:
            u.jobs.append(ListPipelines(switching=False))
        elif not s.complete or s.copy_of is not None or s.cursor is None:
            u.jobs.append(Load(s.gen, s.pipeline))
            u.progress = True
        else:
            u.jobs.append(Poll(s.gen, s.pipeline, s.cursor))
    s.pump(u)
    return u
