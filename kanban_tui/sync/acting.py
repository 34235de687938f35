"""Acting on a deal (issue 23): edit its fields, add a note, make a new deal; undo an edit. A part of the session
(`session.py`), as functions over it, like `bulk.py`: each change is an intent of the write queue (`edits.py`),
journaled before it is sent, the latest value of a field what the CRM must end with."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ..models import Edit, NewDeal, Opportunity, User, field_value
from .edits import FIELD_WORDS
from .protocol import Update

if TYPE_CHECKING:
    from .edits import WriteQueue
    from .moves import MoveQueue
    from .session import BoardSession

NOTE_AT_MOST = 10_000
"""Characters of a note (a paste of a whole file is refused, said)."""


def _why_not_here(s: BoardSession, card: str) -> str | None:
    """Why no change can be made to this card now (as a move's `can_move`, for any change)."""
    board = s.board
    if board is None or card not in board:
        return "That card is no longer on the board."
    if card.startswith("new:"):
        return f"{board.opportunity(card).name} is not in {s.backend.name} yet: wait until it is saved."
    why = s.can_move(card)
    if why is not None and board.opportunity(card).read_only is not None and not s.read_only:
        return f"{board.opportunity(card).name} cannot be changed from here: {board.opportunity(card).read_only}."
    return why


def can_edit(s: BoardSession, card: str | None = None) -> str | None:
    """Why the focused card (or any card: `card` None) cannot be edited here, or None."""
    if not s.backend.editable:
        return f"{s.backend.name} cannot be edited from here: {s.backend.cannot_edit}."
    if card is None:
        return None
    if (why := _why_not_here(s, card)) is not None:
        return why
    intents = s.writes.fields.get(card, {})
    if any(i.state == "asking" for i in intents.values()):
        return f"{s.board.opportunity(card).name if s.board else card}: answer the question about it first."
    return None


def edit(s: BoardSession, card: str, change: Edit, *, undoing: bool = False) -> Update:
    """The user changed a deal's fields: shown at once, each field an intent sent when its turn comes. Only the
    fields that differ from what the card shows are kept (an unchanged value is no change); a field this CRM cannot
    take is refused, said."""
    u = Update()
    board, pipeline = s.board, s.pipeline
    if board is None or pipeline is None:
        return u
    if (why := can_edit(s, card)) is not None:
        u.notice(why, severity="warning", timeout=6)
        return u
    refused = [f for f in change.fields if f not in s.backend.editable]
    if refused:
        words = ", ".join(FIELD_WORDS[f] for f in refused)
        u.notice(f"{s.backend.name} does not take the {words} from here: {s.backend.cannot_edit}.",
                 severity="warning", timeout=8)
        return u
    shown = board.shown(card)
    changed = [f for f in change.fields if field_value(shown, f) != change.value_of(f)]
    if not changed:
        u.notice(f"{shown.name}: nothing changed", timeout=3)
        return u
    change = change.only(*changed)
    if not undoing:
        before = Edit.model_validate({f: _current(shown, f) for f in changed})
        s.writes.history.append((card, before, change, len(s.moves.history)))
    s.writes.edit(board, pipeline, card, change, u)
    u.focus = card
    s.pump(u)
    return u


def _current(shown: Opportunity, name: str) -> object:
    """A card's field as an `Edit` takes it (the owner as a `User` where its id is known)."""
    if name == "owner":
        return User(id=shown.owner_id, name=shown.owner or shown.owner_id) if shown.owner_id else None
    return getattr(shown, name)


def undo_edit(s: BoardSession) -> Update:
    """Undo the session's last edit: the values before it sent back (a new intent), if the card still shows the
    values that edit gave."""
    u = Update()
    board = s.board
    card, before, after, _ = s.writes.history.pop()
    if board is None or card not in board:
        u.notice("The card of the last edit is no longer on the board.", timeout=4)
        return u
    shown = board.shown(card)
    moved_on = [f for f in after.fields if field_value(shown, f) != after.value_of(f)]
    if moved_on:
        u.notice(f"Not undone: {shown.name}'s {FIELD_WORDS[moved_on[0]]} changed since.", severity="warning",
                 timeout=6)
        return u
    if "owner" in before.fields and before.owner is None and shown.owner_id is not None:
        before = before.only(*(f for f in before.fields if f != "owner"))  # no owner to give back: left as it is
    done = edit(s, card, before, undoing=True)
    words = ", ".join(FIELD_WORDS[f] for f in before.fields)
    if before.fields:
        done.notice(f"Undone: {shown.name}'s {words} back", timeout=3)
    return done


def can_note(s: BoardSession, card: str | None = None) -> str | None:
    if not s.backend.can_note:
        return f"{s.backend.name} takes no notes from here: {s.backend.cannot_note}."
    return None if card is None else _why_not_here(s, card)


def add_note(s: BoardSession, card: str, text: str) -> Update:
    """A note on the deal, sent at most once (journaled first; a send whose outcome is unknown is looked for
    before it is sent again)."""
    u = Update()
    board, pipeline = s.board, s.pipeline
    if board is None or pipeline is None:
        return u
    text = text.strip()
    if not text:
        return u
    if (why := can_note(s, card)) is not None:
        u.notice(why, severity="warning", timeout=6)
        return u
    if len(text) > NOTE_AT_MOST:
        u.notice(f"That note is {len(text):,} characters: at most {NOTE_AT_MOST:,} (nothing was sent)",
                 severity="warning", timeout=8)
        return u
    s.writes.note(board, pipeline, card, text, u)
    u.notice(f"Note for {board.opportunity(card).name} saved here; sending…", timeout=3)
    s.pump(u)
    return u


def can_create(s: BoardSession, status_id: str | None = None) -> str | None:
    if not s.backend.can_create:
        return f"{s.backend.name} takes no new deals from here: {s.backend.cannot_create}."
    if s.read_only:
        return f"Read-only: {s.read_only}."
    if s.pipeline is None or (status_id is not None and s.pipeline.status(status_id) is None):
        return "Open a board first."
    if status_id is not None and not s.pipeline.status(status_id).can_move_to:  # type: ignore[union-attr]
        return "That column takes no deals."
    return None


def create(s: BoardSession, status_id: str, name: str, *, value: int | None = None, currency: str | None = None,
           confidence: int | None = None, lead_id: str | None = None) -> Update:
    """A new deal in the column: on the board at once (`saving…`), made in the CRM at most once."""
    u = Update()
    board, pipeline = s.board, s.pipeline
    if board is None or pipeline is None:
        return u
    if (why := can_create(s, status_id)) is not None:
        u.notice(why, severity="warning", timeout=6)
        return u
    try:
        draft = NewDeal(client_id=uuid.uuid4().hex, pipeline_id=pipeline.id, status_id=status_id, name=name,
                        value=value, currency=currency, confidence=confidence, lead_id=lead_id, made_at=s.now())
    except ValueError as exc:
        u.notice(f"Not made: {str(exc).splitlines()[-1].strip()}", severity="warning", timeout=6)
        return u
    s.writes.create(board, pipeline, draft, u)
    u.focus = draft.card_id
    s.pump(u)
    return u


def own_write_landed(card: str, result: object, other: MoveQueue | WriteQueue, u: Update) -> None:
    """Our own move or edit of the card landed: the other queue's intents of it are told (the card's new `updated`
    is ours, not a teammate's change to ask about)."""
    if isinstance(result, Opportunity):
        other.saw_own(card, result, u)
