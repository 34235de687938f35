"""The user's edits, notes and new deals as intents, with a move's guarantees (issue 23).

- **Edits** are intents per (deal, field): the latest intent of a field is what the CRM must end with. Each is written
  to the journal (`RecordWrite`, applied before the send that follows) before it is sent; per deal one request is out
  at a time, carrying every field owed then (only those: a teammate's change to another field stands), so an older
  value is never sent after a newer one. A send whose outcome is unknown is settled by reading the deal back first.
  A teammate who changed a field the user has an unsent edit of: the user is asked (both values shown); a teammate's
  change to other fields merges silently. The board shows the edited values at once (`Board.set_edit`), `queued` while
  offline, as a queued move.
- **Notes** and **new deals** are sent at most once: an earlier send whose outcome is unknown is looked for
  (`Backend.find_note` / `find_created`) before anything is sent again. A new deal is on the board at once
  (`new:<client_id>`, `saving…`) and becomes the CRM's card when it answers.

Pure decisions, as `moves.py`: journal writes and requests are jobs; no I/O here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as attribute
from datetime import date, datetime

from ..models import Edit, NewDeal, Opportunity, Pipeline, User, field_value
from ..money import format_money
from ..store.writes import JournaledWrite
from .board import Board
from .protocol import (
    Conflict,
    JournalWrite,
    KeepSeen,
    ReadDeal,
    RebaseWrite,
    RecordWrite,
    SendCreate,
    SendEdit,
    SendNote,
    SettleWrites,
    Update,
)

FIELD_WORDS = {"value": "value", "currency": "currency", "period": "period", "confidence": "confidence",
               "close_date": "close date", "owner": "owner", "name": "name"}


def jsonable(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, User):
        return value.id
    return value


def shown_value(opportunity: Opportunity, name: str, value: object) -> str:
    """A field's value in the words the question shows (`$12,000`, `2026-03-01`, `40%`, `(none)`)."""
    if value is None or value == "":
        return "(none)"
    if name == "value" and isinstance(value, int):
        return format_money(value, opportunity.currency, opportunity.period)
    if name == "confidence":
        return f"{value}%"
    if name == "owner" and isinstance(value, User):
        return value.name
    return str(value)


@dataclass
class FieldIntent:
    """The value the user last gave a deal's field, until the CRM has it."""

    seq: int
    card: str
    name: str
    field: str
    edit: Edit
    """The one-field edit (`edit.fields == (field,)`)."""
    base: object
    """What the field held (as `field_value` gives it) when the user first edited it: a teammate's change is a
    value other than this one (and other than the user's own)."""
    base_updated: datetime
    made_at: datetime
    state: str = "queued"
    """queued · out · retrying · asking."""
    tries: int = 0
    next_try: float = 0.0
    unknown: bool = False
    """An earlier send's outcome is unknown: read the deal back before sending."""
    ours: list[object] = attribute(default_factory=list)
    """Values our own unanswered sends may have given the field (not a teammate's change)."""
    older: list[int] = attribute(default_factory=list)
    """Journal rows of this field this intent replaced while they were out (settled with it)."""
    keep: bool = False
    """The user chose this value over the CRM's newer one."""

    @property
    def value(self) -> object:
        return self.edit.value_of(self.field)


@dataclass
class OneShot:
    """A note or a new deal: sent at most once."""

    seq: int
    card: str
    name: str
    kind: str
    """note · create."""
    made_at: datetime
    text: str = ""
    draft: NewDeal | None = None
    state: str = "queued"
    tries: int = 0
    next_try: float = 0.0
    unknown: bool = False


BADGE = {"out": "saving…", "queued": "queued", "retrying": "retrying", "asking": "asking"}


class WriteQueue:
    """The edits, notes and new deals of the board open now, and the requests out for them."""

    def __init__(self, *, journaled: bool, clock: Callable[[], float], now: Callable[[], datetime],
                 keeps_seen: bool = False) -> None:
        self.journaled = journaled
        self.keeps_seen = keeps_seen
        """What the user saw is kept on disk: a confirmed edit's card is written there before its journal row goes
        (the user's own edit is never marked `re-valued`, even after a kill -9)."""
        self.clock = clock
        self.now = now
        self.fields: dict[str, dict[str, FieldIntent]] = {}
        """Per card, per field: the user's latest value not yet confirmed."""
        self.shots: dict[int, OneShot] = {}
        """Notes and new deals not yet confirmed, by journal row."""
        self.out: set[str] = set()
        """Cards with an edit request (or a read-back) out."""
        self.shots_out: set[int] = set()
        self.ours: dict[str, datetime] = {}
        """A card's `updated` as our own last confirmed write left it."""
        self.question: Conflict | None = None
        self.history: list[tuple[str, Edit, Edit, int]] = []
        """This session's edits, for undo: (card, the values before, the values given, how many moves the move
        queue's history held then: the later of the two is undone first)."""
        self.last_seq = 0
        self.outcomes: list[tuple[str, str, int, str]] = []
        """(card, field or kind, seq, how) of the latest settled intents (for tests and the log; bounded)."""
        self.said_offline = False
        self.restored = 0
        """Intents brought back from the journal at this open, not yet said."""
        self.settled: dict[tuple[str, str], int] = {}
        """Per (card, field), the newest edit settled here: a journal row read before it settled (a takeover's read)
        and handled after is older, never the user's intent."""

    def __len__(self) -> int:
        return sum(len(f) for f in self.fields.values()) + len(self.shots)

    def clear(self) -> None:
        """Another board: its intents are the journal's to bring back."""
        self.fields.clear()
        self.shots.clear()
        self.out.clear()
        self.shots_out.clear()
        self.history.clear()
        self.question = None

    def journal(self, u: Update, write: JournalWrite) -> None:
        if self.journaled:
            u.jobs.append(write)

    def _seq(self) -> int:
        self.last_seq = max(self.last_seq + 1, time.time_ns() // 1000)
        return self.last_seq

    def _outcome(self, card: str, what: str, seq: int, how: str) -> None:
        self.outcomes.append((card, what, seq, how))
        del self.outcomes[:-1000]

    # -- intents from the user and from the journal ------------------------------------------------------

    def edit(self, board: Board, pipeline: Pipeline, card: str, edit: Edit, u: Update) -> None:
        """New intents for `card`'s `edit.fields` (each replacing its field's unsent one), journaled, shown at once."""
        server = board.opportunity(card)
        made_at = self.now()
        card_fields = self.fields.setdefault(card, {})
        for name in edit.fields:
            one = edit.only(name)
            previous = card_fields.get(name)
            seq = self._seq()
            intent = FieldIntent(
                seq=seq, card=card, name=server.name, field=name, edit=one,
                base=previous.base if previous else field_value(server, name),
                base_updated=previous.base_updated if previous else server.updated, made_at=made_at,
                unknown=previous.unknown if previous else False, ours=list(previous.ours) if previous else [],
            )
            if previous is not None:
                if card in self.out and previous.state == "out":
                    intent.older = [*previous.older, previous.seq]
                else:
                    intent.older = previous.older
                    self.journal(u, SettleWrites((previous.seq,)))
            card_fields[name] = intent
            self.journal(u, RecordWrite(JournaledWrite(
                seq=seq, pipeline_id=pipeline.id, opportunity_id=card, opportunity_name=server.name, kind="edit",
                field=name, payload=one.model_dump_json(exclude_unset=True),
                base=json.dumps(jsonable(intent.base)), base_updated=intent.base_updated, made_at=made_at)))
        self._show(board, card, u)
        board.saw_own(card)
        u.redraw |= board.look(card)

    def note(self, board: Board, pipeline: Pipeline, card: str, text: str, u: Update) -> None:
        made_at = self.now()
        seq = self._seq()
        name = board.opportunity(card).name
        self.shots[seq] = OneShot(seq=seq, card=card, name=name, kind="note", made_at=made_at, text=text)
        self.journal(u, RecordWrite(JournaledWrite(
            seq=seq, pipeline_id=pipeline.id, opportunity_id=card, opportunity_name=name, kind="note", field="",
            payload=json.dumps({"text": text}), base="null", base_updated=made_at, made_at=made_at)))

    def create(self, board: Board, pipeline: Pipeline, draft: NewDeal, u: Update) -> None:
        seq = self._seq()
        self.shots[seq] = OneShot(seq=seq, card=draft.card_id, name=draft.name, kind="create", made_at=draft.made_at,
                                  draft=draft)
        self.journal(u, RecordWrite(JournaledWrite(
            seq=seq, pipeline_id=pipeline.id, opportunity_id=draft.card_id, opportunity_name=draft.name,
            kind="create", field="", payload=draft.model_dump_json(), base="null", base_updated=draft.made_at,
            made_at=draft.made_at)))
        u.redraw |= board.add_new(draft)
        u.redraw |= board.look(draft.card_id)

    def recall(self, rows: list[JournaledWrite], board: Board, pipeline: Pipeline, u: Update) -> int:
        """The journal's edits, notes and new deals of this pipeline back as intents (how many)."""
        restored = 0
        for row in rows:
            if row.pipeline_id != pipeline.id:
                continue
            self.last_seq = max(self.last_seq, row.seq)
            sent = row.state == "sent"
            if row.kind == "edit":
                edit = Edit.model_validate_json(row.payload)
                card_fields = self.fields.setdefault(row.opportunity_id, {})
                previous = card_fields.get(row.field)
                if previous is not None and previous.seq >= row.seq:
                    continue
                if row.seq <= self.settled.get((row.opportunity_id, row.field), 0):
                    continue
                base = json.loads(row.base)
                intent = FieldIntent(
                    seq=row.seq, card=row.opportunity_id, name=row.opportunity_name, field=row.field, edit=edit,
                    base=previous.base if previous else base,
                    base_updated=previous.base_updated if previous else row.base_updated, made_at=row.made_at,
                    unknown=sent or (previous.unknown if previous else False),
                    ours=[*(previous.ours if previous else []), *([edit.value_of(row.field)] if sent else [])],
                    older=[*(previous.older if previous else []), *([previous.seq] if previous else [])],
                )
                card_fields[row.field] = intent
                if previous is None:
                    restored += 1
            elif row.seq not in self.shots:
                draft = NewDeal.model_validate_json(row.payload) if row.kind == "create" else None
                text = json.loads(row.payload)["text"] if row.kind == "note" else ""
                self.shots[row.seq] = OneShot(seq=row.seq, card=row.opportunity_id, name=row.opportunity_name,
                                              kind=row.kind, made_at=row.made_at, text=text, draft=draft, unknown=sent)
                restored += 1
        self.show(board, u)
        self.restored += restored
        return restored

    def removed(self, card: str, crm: str, u: Update) -> None:
        """The CRM no longer has the deal: the user's edits and notes of it are dropped (said)."""
        for intent in list(self.fields.get(card, {}).values()):
            u.notice(f"{intent.name} was removed in {crm}: its edit was dropped", severity="warning", timeout=10)
            self.settle(None, intent, "gone", u)
        for shot in [s for s in self.shots.values() if s.card == card and s.kind == "note"]:
            u.notice(f"{shot.name} was removed in {crm}: its note was dropped: “{shot.text}”", severity="warning",
                     timeout=15)
            self.settle_shot(shot, "gone", u)

    def loaded(self, board: Board, pipeline: Pipeline, u: Update) -> None:
        """The board is whole: changes of cards no longer on it are dropped (said); those from last time said."""
        for card_fields in list(self.fields.values()):
            for intent in list(card_fields.values()):
                if intent.card not in board:
                    u.notice(f"An edit of {intent.name} was dropped: the deal is no longer in {pipeline.name}",
                             severity="warning", timeout=10)
                    self.settle(None, intent, "dropped", u)
        for shot in list(self.shots.values()):
            if shot.kind == "note" and shot.card not in board:
                u.notice(f"A note for {shot.name} was dropped: the deal is no longer in {pipeline.name}: “{shot.text}”",
                         severity="warning", timeout=15)
                self.settle_shot(shot, "dropped", u)
        if self.restored:
            n = self.restored
            u.notice(f"Sending {n} change{'s' if n > 1 else ''} (edits, notes, new deals) saved from last time",
                     title="Changes kept", timeout=8)
        self.restored = 0

    def show(self, board: Board, u: Update) -> None:
        """Cards that arrived (a page, the copy) shown with the user's edits, and the new deals not made yet."""
        for card in self.fields:
            if card in board:
                self._show(board, card, u)
        for shot in self.shots.values():
            draft = shot.draft
            if draft is not None and shot.card not in board and board.pipeline.status(draft.status_id) is not None:
                u.redraw |= board.add_new(draft)

    def _show(self, board: Board, card: str, u: Update) -> None:
        merged = Edit()
        for intent in self.fields.get(card, {}).values():
            merged = merged.merged(intent.edit)
        if card in board:
            u.redraw |= board.set_edit(card, merged if merged.fields else None)

    def pending(self, card: str) -> bool:
        return bool(self.fields.get(card)) or any(s.card == card for s in self.shots.values())

    # -- sending ------------------------------------------------------------------------------------------

    def pump(self, board: Board, pipeline: Pipeline, gen: int, u: Update) -> None:
        """Send what may go now: per deal one edit request at a time, its latest values only; notes and new deals."""
        now = self.clock()
        for card, card_fields in list(self.fields.items()):
            if card in self.out or card not in board or not card_fields:
                continue
            due = [i for i in card_fields.values()
                   if i.state != "asking" and not (i.state == "retrying" and i.next_try > now)]
            if not due:
                continue
            if any(i.unknown for i in due):
                self.out.add(card)
                for intent in due:
                    intent.state = "out"
                u.jobs.append(ReadDeal(gen, card, pipeline))
                continue
            server = board.opportunity(card)
            sending: list[FieldIntent] = []
            for intent in due:
                seen = max(intent.base_updated, self.ours.get(card, intent.base_updated))
                theirs = field_value(server, intent.field)
                if theirs == intent.value:  # the CRM has it as the user wants it
                    self.settle(board, intent, "confirmed", u)
                    continue
                changed = board.real_update_times and server.updated > seen
                if changed and not intent.keep and theirs != intent.base and theirs not in intent.ours:
                    intent.state = "asking"
                    continue
                sending.append(intent)
            if not sending:
                continue
            edit = Edit()
            for intent in sending:
                edit = edit.merged(intent.edit)
                intent.state = "out"
            self.out.add(card)
            u.jobs.append(SendEdit(gen, card, tuple(i.seq for i in sending), server, edit))
        for seq, shot in list(self.shots.items()):
            if seq in self.shots_out or (shot.state == "retrying" and shot.next_try > now):
                continue
            if shot.kind == "note":
                if shot.card not in board or shot.card.startswith("new:"):
                    continue
                shot.state = "out"
                self.shots_out.add(seq)
                u.jobs.append(SendNote(gen, seq, shot.card, board.opportunity(shot.card), shot.text, shot.made_at,
                                       shot.unknown))
            elif shot.draft is not None:
                shot.state = "out"
                self.shots_out.add(seq)
                u.jobs.append(SendCreate(gen, seq, pipeline, shot.draft, shot.unknown))

    def ask(self, board: Board, pipeline: Pipeline, u: Update) -> None:
        """The first edit waiting for the user's answer becomes the question (one at a time)."""
        if self.question is not None:
            return
        for card_fields in self.fields.values():
            for intent in card_fields.values():
                if intent.state == "asking" and intent.card in board:
                    server = board.opportunity(intent.card)
                    what = FIELD_WORDS[intent.field]
                    theirs = (f"{what} {shown_value(server, intent.field, getattr(server, intent.field))}"
                              f" (changed {server.updated.astimezone():%Y-%m-%d %H:%M})")
                    mine = (f"{what} {shown_value(server, intent.field, getattr(intent.edit, intent.field))}"
                            f" (edited {intent.made_at.astimezone():%Y-%m-%d %H:%M})")
                    self.question = Conflict(intent.card, server.name, theirs, mine, intent.field)
                    u.ask = self.question
                    return

    def resolve(self, board: Board, card: str, name: str, keep: bool, u: Update) -> None:
        """The user's answer: keep my value (send it) or take the CRM's."""
        intent = self.fields.get(card, {}).get(name)
        if self.question is not None and self.question.card == card and self.question.field == name:
            self.question = None
        if intent is not None and intent.state == "asking":
            if keep:
                intent.keep = True
                intent.state = "queued"
            else:
                self.settle(board, intent, "theirs", u)

    def states(self) -> list[str]:
        """One state per request this queue owes or has out (a deal's edits, each note, each new deal): out, queued,
        retrying, asking (for the status line)."""
        states = ["out"] * (len(self.out) + len(self.shots_out))  # (a request out for an intent settled meanwhile too)
        for card, card_fields in self.fields.items():
            if card not in self.out:
                mine = {i.state for i in card_fields.values()}
                states.append(next((s for s in ("asking", "retrying", "queued") if s in mine), "queued"))
        states += [shot.state for seq, shot in self.shots.items() if seq not in self.shots_out]
        return states

    def badges(self) -> dict[str, str]:
        """Each card's badge as its intents stand (the worst of them: asking, then retrying, saving, queued)."""
        order = ("asking", "retrying", "out", "queued")
        badges: dict[str, str] = {}
        for card, card_fields in self.fields.items():
            states = {"out" if card in self.out else i.state for i in card_fields.values()}
            for state in order:
                if state in states:
                    badges[card] = BADGE[state]
                    break
        for shot in self.shots.values():
            if shot.kind == "create":
                badges[shot.card] = BADGE["out" if shot.seq in self.shots_out else shot.state]
        return badges

    def saw_own(self, card: str, deal: Opportunity, u: Update) -> None:
        """Our own move of the card landed (`deal` as the CRM answered it): each edit whose field still holds what it
        held takes the card's new `updated` as its base (a field a teammate changed is still told by its value)."""
        for intent in self.fields.get(card, {}).values():
            if field_value(deal, intent.field) in (intent.base, *intent.ours) and deal.updated > intent.base_updated:
                intent.base_updated = deal.updated
                self.journal(u, RebaseWrite(intent.seq, deal.updated))

    def mark_ours(self, card: str, updated: datetime, u: Update) -> None:
        self.ours[card] = max(updated, self.ours.get(card, updated))
        for intent in self.fields.get(card, {}).values():
            if updated > intent.base_updated:
                intent.base_updated = updated
                self.journal(u, RebaseWrite(intent.seq, updated))

    def settle(self, board: Board | None, intent: FieldIntent, how: str, u: Update) -> None:
        card_fields = self.fields.get(intent.card, {})
        if card_fields.get(intent.field) is intent:
            del card_fields[intent.field]
            if not card_fields:
                self.fields.pop(intent.card, None)
        self._outcome(intent.card, intent.field, intent.seq, how)
        key = (intent.card, intent.field)
        self.settled[key] = max(intent.seq, self.settled.get(key, 0))
        if how == "confirmed":
            self.said_offline = False
        if board is not None and intent.card in board:  # what the user saw: their value, or the one they were told of
            u.redraw |= board.set_edit(intent.card, None)  # (drawn again below with the edits still owed)
            board.saw_own(intent.card)
            row = board.seen.get(intent.card) if self.keeps_seen and board.seen is not None else None
            if row is not None:
                self.journal(u, KeepSeen(board.pipeline.id, {intent.card: row}))
        self.journal(u, SettleWrites((*intent.older, intent.seq)))
        if self.question is not None and self.question.card == intent.card and self.question.field == intent.field:
            self.question = None
        if board is not None:
            self._show(board, intent.card, u)

    def settle_shot(self, shot: OneShot, how: str, u: Update) -> None:
        self.shots.pop(shot.seq, None)  # (a request out for it stays counted until it answers)
        self._outcome(shot.card, shot.kind, shot.seq, how)
        if how == "confirmed":
            self.said_offline = False
        self.journal(u, SettleWrites((shot.seq,)))
