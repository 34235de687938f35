"""The CRM's answers to the write queue's requests (`edits.py`): an edit confirmed, refused, lost or in doubt; a
deal read back; a note or a new deal made, found already made, or refused. Functions over the queue, as pure as it:
every journal write is a job."""

from __future__ import annotations

import json
from collections.abc import Callable

from ..backends.errors import BackendError, OutcomeUnknownError, UnavailableError
from ..models import Note, Opportunity, field_value
from .board import Board
from .edits import OneShot, WriteQueue, jsonable
from .health import WRITE_TRIES, Failure, classify, write_backoff
from .moves import Link
from .protocol import (
    CreateAnswered,
    DealRead,
    EditAnswered,
    NoteAnswered,
    RebaseWrite,
    SettleWrites,
    UnsendWrites,
    Update,
)


def _failed(q: WriteQueue, result: BackendError, link: Link, u: Update, maybe: Callable[[], None],
            unsent: Callable[[], None]) -> Failure | None:
    """What a failed write does to the connection: offline (said once a spell), rate limit, a refused key.
    `maybe`: the write may have landed (read back / look before sending again); `unsent`: it surely did not.
    The failure left for the caller to settle (gone, server, refused), or None: handled here."""
    failure = classify(result)
    health = link.health
    maybe_applied = isinstance(result, OutcomeUnknownError) or (
        isinstance(result, UnavailableError) and result.status_code is not None)
    if isinstance(result, UnavailableError) and (result.status_code or 500) < 300:
        link.reachable(u)  # a yes whose answer cannot be read: it probably landed
        maybe()
        return None
    if failure is Failure.UNREACHABLE:
        maybe() if maybe_applied else unsent()
        if not link.offline:
            if not q.said_offline:
                u.notice(f"{result.summary}: changes are kept and sent when {link.crm} answers again"
                         " (they survive a restart)", title="Offline", severity="warning", timeout=10)
                q.said_offline = True
            health.schedule_retry(result)
        health.error = result
        link.go_offline()
        return None
    link.reachable(u)
    if failure is Failure.RATE:
        unsent()
        health.rate_limited(result)
        health.next_try = max(health.next_try, health.rate_until)
        return None
    if failure is Failure.AUTH:
        unsent()
        if not health.auth_blocked:
            u.notice(f"{result}. Your changes are kept and sent once {link.crm} accepts the key"
                     " (they survive a restart)", title="Changes kept", severity="error", timeout=15)
        health.auth_blocked = True
        health.error = result
        health.schedule_retry(None)
        return None
    if failure is Failure.SERVER and maybe_applied:
        maybe()
    return failure


def edit_answered(q: WriteQueue, ev: EditAnswered, board: Board, link: Link, u: Update) -> None:
    q.out.discard(ev.card)
    card_fields = q.fields.get(ev.card, {})
    sent = [i for i in card_fields.values() if i.seq in ev.seqs]
    for intent in card_fields.values():
        if intent.state == "out":
            intent.state = "queued"
    result = ev.result
    if isinstance(result, Opportunity):
        link.reachable(u)
        q.mark_ours(ev.card, result.updated, u)
        u.redraw |= board.accept(result)
        replaced = tuple(s for s in ev.seqs if s not in {i.seq for i in sent})
        if replaced:  # older values of fields edited again meanwhile: done; the newer ones go next
            q.journal(u, SettleWrites(replaced))
            for intent in card_fields.values():  # the field holds our own value now: a teammate's is told from it
                if set(intent.older) & set(replaced):
                    intent.base = field_value(result, intent.field)
                    q.journal(u, RebaseWrite(intent.seq, max(intent.base_updated, result.updated),
                                             json.dumps(jsonable(intent.base))))
        for intent in sent:
            q.settle(board, intent, "confirmed", u)
        for intent in list(card_fields.values()):
            intent.older = [s for s in intent.older if s not in ev.seqs]
        return

    def maybe() -> None:
        for intent in card_fields.values():
            if intent.seq in ev.seqs or set(intent.older) & set(ev.seqs):
                intent.unknown = True
                intent.ours.append(intent.value)

    def unsent() -> None:
        q.journal(u, UnsendWrites(ev.seqs))

    failure = _failed(q, result, link, u, maybe, unsent)
    if failure is None:
        return
    name = sent[0].name if sent else board.opportunity(ev.card).name if ev.card in board else ev.card
    if failure is Failure.GONE:
        u.notice(f"{name} was removed from the board: {result}", title="Edit not saved", severity="error",
                 timeout=10)
        for intent in list(card_fields.values()):
            q.settle(None, intent, "gone", u)
        u.redraw |= board.remove([ev.card])
        return
    if not sent:  # older values failed; the newer ones go next
        q.journal(u, SettleWrites(ev.seqs))
        return
    if failure is Failure.SERVER:
        tries = max(i.tries for i in sent) + 1
        if tries < WRITE_TRIES:
            for intent in sent:
                intent.tries = tries
                intent.state = "retrying"
                intent.next_try = q.clock() + write_backoff(tries)
            if not any(i.unknown for i in sent):
                q.journal(u, UnsendWrites(ev.seqs))
            return
        u.notice(f"{name}: the edit went back: {result.summary} (tried {tries} times)", title="Edit not saved",
                 severity="error", timeout=10)
    else:
        u.notice(f"{name}: the edit went back: {result}", title="Edit not saved", severity="error", timeout=10)
    for intent in sent:
        q.settle(board, intent, "refused" if failure is not Failure.SERVER else "failed", u)


def deal_read(q: WriteQueue, ev: DealRead, board: Board, link: Link, u: Update) -> None:
    """The deal as the CRM has it, read back after an edit whose outcome was unknown."""
    q.out.discard(ev.card)
    card_fields = q.fields.get(ev.card, {})
    for intent in card_fields.values():
        if intent.state == "out":
            intent.state = "queued"
    result = ev.result
    if isinstance(result, BackendError):
        failure = _failed(q, result, link, u, lambda: None, lambda: None)
        if failure is None:
            return
        tries = max((i.tries for i in card_fields.values()), default=0) + 1
        if tries >= WRITE_TRIES:
            for intent in list(card_fields.values()):
                u.notice(f"{intent.name}: the edit went back: could not check whether it reached {link.crm}"
                         f" ({result.summary}); the next poll shows what it has", title="Edit not saved",
                         severity="error", timeout=10)
                q.settle(board, intent, "failed", u)
            return
        for intent in card_fields.values():
            intent.tries = tries
            intent.state = "retrying"
            intent.next_try = q.clock() + write_backoff(tries)
        return
    link.reachable(u)
    if result is None:
        if card_fields:
            name = next(iter(card_fields.values())).name
            u.notice(f"{name} is no longer in {link.crm}: its edit was dropped", severity="warning", timeout=10)
        for intent in list(card_fields.values()):
            q.settle(None, intent, "gone", u)
        u.redraw |= board.remove([ev.card])
        return
    u.redraw |= board.accept(result)
    for intent in list(card_fields.values()):
        if not intent.unknown:
            continue
        intent.unknown = False
        theirs = field_value(result, intent.field)
        if theirs == intent.value:  # the edit had reached the CRM
            q.mark_ours(ev.card, result.updated, u)
            q.settle(board, intent, "confirmed", u)
        elif theirs in intent.ours:  # an earlier edit of ours had: not a teammate's change
            intent.base = theirs
            based = json.dumps(jsonable(theirs))
            q.journal(u, RebaseWrite(intent.seq, max(intent.base_updated, result.updated), based))
            q.mark_ours(ev.card, result.updated, u)
        intent.ours.clear()


def _answered(q: WriteQueue, seq: int) -> OneShot | None:
    """A note's or a new deal's request answered: no longer out; the shot, if it is still owed."""
    q.shots_out.discard(seq)
    shot = q.shots.get(seq)
    if shot is not None:
        shot.state = "queued"
    return shot


def note_answered(q: WriteQueue, ev: NoteAnswered, board: Board, link: Link, u: Update) -> None:
    shot = _answered(q, ev.seq)
    if shot is None:
        return
    result = ev.result
    if isinstance(result, Note):
        link.reachable(u)
        q.settle_shot(shot, "confirmed", u)
        u.notice(f"Note added to {shot.name}" + (" (it had reached the CRM before)" if ev.found else ""),
                 timeout=3)
        u.noted = shot.card
        return
    _shot_failed(q, shot, result, board, link, u, "note")


def create_answered(q: WriteQueue, ev: CreateAnswered, board: Board, link: Link, u: Update) -> None:
    shot = _answered(q, ev.seq)
    if shot is None:
        return
    result = ev.result
    if isinstance(result, Opportunity):
        link.reachable(u)
        q.settle_shot(shot, "confirmed", u)
        u.redraw |= board.remove([shot.card])
        u.redraw |= board.add([result])
        u.redraw |= board.look(result.id)
        q.ours[result.id] = result.updated
        u.follow = result.id
        u.renamed = (shot.card, result.id)
        return
    _shot_failed(q, shot, result, board, link, u, "new deal")


def _shot_failed(q: WriteQueue, shot: OneShot, result: BackendError, board: Board, link: Link, u: Update,
                 what: str) -> None:
    def maybe() -> None:
        shot.unknown = True

    def unsent() -> None:
        q.journal(u, UnsendWrites((shot.seq,)))

    failure = _failed(q, result, link, u, maybe, unsent)
    if failure is None:
        return
    if failure is Failure.SERVER:
        shot.tries += 1
        if shot.tries < WRITE_TRIES:
            shot.state = "retrying"
            shot.next_try = q.clock() + write_backoff(shot.tries)
            if not shot.unknown:
                q.journal(u, UnsendWrites((shot.seq,)))
            return
    gone = failure is Failure.GONE and shot.kind == "note"
    kept = f": “{shot.text}”" if shot.kind == "note" else ""
    why = f"{shot.name} is no longer in {link.crm}" if gone else f"{result}"
    u.notice(f"The {what} was not saved ({why}){kept}", title=f"{what.capitalize()} not saved",
             severity="error", timeout=15)
    q.settle_shot(shot, "refused", u)
    if shot.kind == "create":
        u.redraw |= board.remove([shot.card])
