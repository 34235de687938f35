"""Edits, notes and new deals under every interleaving hypothesis can find (issue 23): the move machine of
`test_session_states.py` (its rules and invariants 1-7 all still run) grown with the user's edits of a deal's fields,
notes and new deals, and a teammate's edits, across the same faults, kills and restarts.

Invariants, checked after every step:
8. Per deal and field, no older value is sent after a newer one (the seqs sent never go down), and a value the CRM
   has applied is never sent again (unless the user chose it over a teammate's newer one).
9. A value answered 500 is tried at most WRITE_TRIES times.
10. The user is asked about a field only if a teammate changed that field after the user's edit was based on it, and
    about a move only if a teammate changed the card (moved it, or, where the board cannot tell a move back from an
    edit, changed any field of it) after the move was based on it.
11. A note and a new deal reach the CRM at most once: whatever order of answers lost, kills with requests in
    flight and restarts (a send whose outcome is unknown is looked for before it is sent again).
12. Nothing is sent before it is on disk (every edit, note and deal sent has its journal row marked sent first).
13. The status line's `saving` counts every request out (moves, a deal's edits, notes, new deals).
And at the end (faults cleared, everything answered, questions answered "keep mine"): each field has the value the
user last gave it (unless refused, failed for good, the deal deleted, or the user took the teammate's); each note is
in the CRM exactly once and each new deal exactly once (unless refused), and the board shows the CRM's cards, no card
of its own left over.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from kanban_tui.backends.errors import (
    AuthError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RefusedError,
    UnavailableError,
)
from kanban_tui.models import Edit, NewDeal, Note, Opportunity, Pipeline, field_value
from kanban_tui.store import writes as journal_writes
from kanban_tui.sync import Conflict
from kanban_tui.sync.health import WRITE_TRIES
from kanban_tui.sync.protocol import Read, ReadDeal, Send, SendCreate, SendEdit, SendNote

from .test_session_states import CARDS, STATUSES, FakeCrm, SessionMachine

FIELDS: dict[str, list[Any]] = {"value": [10_000, 20_000, 30_000, None], "confidence": [10, 50, 90]}
SETTLED_OTHERWISE = {"refused", "failed", "gone", "theirs", "dropped"}
WRITES = (SendEdit, ReadDeal, SendNote, SendCreate)


class WriteCrm(FakeCrm):
    """The in-memory CRM that also takes edits of value and confidence, notes and new deals."""

    editable = frozenset(FIELDS)
    can_note = True
    can_create = True

    def __init__(self, now) -> None:
        super().__init__()
        self.now = now
        self.kept_notes: dict[str, list[Note]] = {}
        self.made = 0

    def change(self, card: str, edit: Edit) -> Opportunity:
        when = self._tick()
        self.cards[card] = edit.apply(self.cards[card]).model_copy(update={"updated": when})
        self.changed[card] = self.version
        return self.cards[card]

    def _write_fault(self, card: str | None) -> str:
        fault, self.fault = self.fault, "ok"
        if card is not None and card not in self.cards:
            raise NotFoundError("no such card", crm="Fake", status_code=404)
        errors = {
            "500": UnavailableError("boom", crm="Fake", status_code=500),
            "503": UnavailableError("down", crm="Fake", status_code=503),
            "refused": UnavailableError("cannot connect", crm="Fake"),
            "429": RateLimitedError("slow down", crm="Fake", status_code=429, retry_after=5),
            "400": RefusedError("not allowed", crm="Fake", status_code=400),
            "401": AuthError("bad key", crm="Fake", status_code=401),
            "timeout_lost": OutcomeUnknownError("no answer", crm="Fake"),
        }
        if fault in errors:
            raise errors[fault]
        return fault

    @staticmethod
    def _after(fault: str) -> None:
        if fault == "timeout_applied":
            raise OutcomeUnknownError("no answer", crm="Fake")
        if fault == "gateway_applied":
            raise UnavailableError("gateway timeout", crm="Fake", status_code=504)

    async def update(self, opportunity: Opportunity, edit: Edit) -> Opportunity:
        fault = self._write_fault(opportunity.id)
        changed = self.change(opportunity.id, edit)
        self._after(fault)
        return changed

    def note_now(self, card: str, text: str) -> Note:
        note = Note(when=self.now(), text=text)
        self.kept_notes.setdefault(card, []).append(note)
        return note

    async def add_note(self, opportunity: Opportunity, text: str) -> Note:
        fault = self._write_fault(opportunity.id)
        note = self.note_now(opportunity.id, text)
        self._after(fault)
        return note

    async def notes(self, opportunity: Opportunity, limit: int = 5) -> list[Note]:
        if opportunity.id not in self.cards:
            raise NotFoundError("no such card", crm="Fake", status_code=404)
        self._read_fault()
        return sorted(self.kept_notes.get(opportunity.id, []), key=lambda n: n.when, reverse=True)[:limit]

    def create_now(self, draft: NewDeal) -> Opportunity:
        self.made += 1
        when = self._tick()
        card = f"n{self.made}"
        self.cards[card] = Opportunity(id=card, name=draft.name, status_id=draft.status_id, value=draft.value,
                                       created=self.now(), updated=when)
        self.changed[card] = self.version
        return self.cards[card]

    async def create(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity:
        fault = self._write_fault(None)
        made = self.create_now(draft)
        self._after(fault)
        return made


class WriteMachine(SessionMachine):
    OUT_JOBS = (Send, Read, *WRITES)

    def __init__(self) -> None:
        super().__init__()
        self.crm: WriteCrm = WriteCrm(self.now)
        self.wanted: dict[tuple[str, str], tuple[object, int]] = {}
        """Per (card, field): the value the user last gave it, and that intent's seq."""
        self.field_of: dict[int, tuple[str, str]] = {}
        self.field_sent: dict[tuple[str, str], list[int]] = {}
        self.field_applied: set[int] = set()
        self.field_kept: set[int] = set()
        self.field_errors: dict[int, int] = {}
        self.teammate_fields: dict[tuple[str, str], list[int]] = {}
        self.notes_wanted: dict[str, str] = {}
        """Note text -> the card it is for."""
        self.deals_wanted: set[str] = set()
        self.shot_seq: dict[str, int] = {}
        """A note's text or a new deal's name -> its journal seq."""
        self.n = 0
        self.exempt_writes: set[int] = set()
        self.value_word: dict[str, str] = {}
        """Per card, who last gave it its value: "user" (an edit, an undo) or "teammate"."""

    # -- plumbing ----------------------------------------------------------------------------------

    def take(self, update) -> None:
        assert self.session is not None
        if isinstance(update.ask, Conflict) and update.ask.field:
            card, name = update.ask.card, update.ask.field
            intent = self.session.writes.fields[card][name]
            seen = int((intent.base_updated - self.crm_t0()).total_seconds())
            assert any(v > seen for v in self.teammate_fields.get((card, name), [])), "asked about their own edit"
            update.ask = None  # (the moves' check in the base machine is about moves)
        elif isinstance(update.ask, Conflict):
            # a move is asked about when a teammate changed the card since the user's base; a change of another field
            # alone merges silently while the board knows where the card was (test_edits.py), but where it cannot
            # tell (a send that may have landed and was read back elsewhere; after a restart, an older move of the
            # card forgotten) any change is asked about: never wrong, at worst one question too many
            move = self.session.intents[update.ask.card]
            seen = int((move.base_updated - self.crm_t0()).total_seconds())
            card_writes = [v for (c, _), vs in self.teammate_fields.items() if c == move.card for v in vs]
            if any(v > seen for v in card_writes):
                update.ask = None
        if self.session.read_only:
            assert not any(isinstance(j, WRITES) for j in update.jobs), "a read-only instance sends nothing"
        super().take(update)
        for card, card_fields in self.session.writes.fields.items():
            for name, intent in card_fields.items():
                self.field_of[intent.seq] = (card, name)
                known = self.wanted.get((card, name))
                if known is None or intent.seq > known[1]:
                    self.wanted[(card, name)] = (intent.value, intent.seq)
                    if name == "value":
                        self.value_word[card] = "user"
        for seq, shot in self.session.writes.shots.items():
            self.shot_seq[shot.text if shot.kind == "note" else shot.name] = seq

    @staticmethod
    def crm_t0() -> datetime:
        from .test_session_states import T0

        return T0

    def journal_state(self, seqs: tuple[int, ...]) -> set[str]:
        assert self.session is not None and self.session.journal is not None
        with closing(sqlite3.connect(self.session.journal.path)) as conn:
            marks = ",".join("?" * len(seqs))
            return {row[0] for row in conn.execute(f"SELECT state FROM writes WHERE seq IN ({marks})", seqs)}  # noqa: S608

    def complete(self, job, fault: str) -> None:
        if isinstance(job, SendEdit | SendNote) and job.card not in self.crm.cards:
            fault = "404"  # the fake answers that before any fault
        if isinstance(job, SendEdit):
            exists = job.card in self.crm.cards
            for seq in job.seqs:
                key = self.field_of[seq]
                sent = self.field_sent.setdefault(key, [])
                assert not sent or seq >= sent[-1], f"{key}: value {seq} sent after the newer {sent[-1]}"
                assert seq not in self.field_applied or seq in self.field_kept, f"{key}: {seq} sent again"
                if exists and fault not in ("503", "refused", "429", "401"):
                    sent.append(seq)
                if fault == "500" and exists:
                    self.field_errors[seq] = self.field_errors.get(seq, 0) + 1
                    assert self.field_errors[seq] <= WRITE_TRIES
                if exists and fault in ("ok", "timeout_applied", "gateway_applied"):
                    self.field_applied.add(seq)
        super().complete(job, fault)
        if isinstance(job, SendEdit | SendNote | SendCreate):
            self.check_at_most_once()

    def check_at_most_once(self) -> None:
        texts = [n.text for notes in self.crm.kept_notes.values() for n in notes]
        assert len(texts) == len(set(texts)), f"a note reached the CRM twice: {texts}"
        names = [o.name for o in self.crm.cards.values() if o.id.startswith("n")]
        assert len(names) == len(set(names)), f"a deal was made twice: {names}"

    # -- rules -------------------------------------------------------------------------------------

    @rule(card=st.sampled_from(CARDS), data=st.data())
    def user_edits(self, card: str, data) -> None:
        session = self.session
        assert session is not None
        if session.board is None or card not in session.board or session.question is not None:
            return
        name = data.draw(st.sampled_from(sorted(FIELDS)))
        value = data.draw(st.sampled_from(FIELDS[name]))
        self.take(session.edit(card, Edit.model_validate({name: value})))
        intent = session.writes.fields.get(card, {}).get(name)
        if intent is not None and not session.read_only:
            assert session.board.shown(card).__getattribute__(name) == value, "shown at once"
            assert self.journal_state((intent.seq,)), "on disk before it is sent"

    @rule(card=st.sampled_from(CARDS), data=st.data())
    def a_teammate_edits_a_deal(self, card: str, data) -> None:
        if card not in self.crm.cards:
            return
        name = data.draw(st.sampled_from(sorted(FIELDS)))
        value = data.draw(st.sampled_from(FIELDS[name]))
        known = self.wanted.get((card, name))
        if known is not None and (known[1] in self.field_applied
                                  or field_value(self.crm.cards[card], name) == known[0]):
            del self.wanted[(card, name)]  # the CRM had what the user wanted: the teammate's is the latest word
        self.crm.change(card, Edit.model_validate({name: value}))
        if name == "value":
            self.value_word[card] = "teammate"
        self.teammate_fields.setdefault((card, name), []).append(self.crm.version)

    @rule(card=st.sampled_from(CARDS))
    def user_adds_a_note(self, card: str) -> None:
        session = self.session
        assert session is not None
        if session.board is None or card not in session.board:
            return
        self.n += 1
        text = f"note {self.n}"
        before = len(session.writes.shots)
        self.take(session.add_note(card, text))
        if len(session.writes.shots) > before:
            self.notes_wanted[text] = card

    @rule(status=st.sampled_from(STATUSES))
    def user_makes_a_deal(self, status: str) -> None:
        session = self.session
        assert session is not None
        if session.board is None:
            return
        self.n += 1
        name = f"Deal {self.n}"
        before = len(session.writes.shots)
        self.take(session.create(status, name, value=5_000))
        if len(session.writes.shots) > before:
            self.deals_wanted.add(name)
            card = next(s.card for s in session.writes.shots.values() if s.name == name)
            assert card in session.board and session.board.shown_status(card) == status, "on the board at once"

    @rule(reached=st.booleans())
    def killed_and_started_again(self, reached: bool) -> None:
        """kill -9 with edits, notes and new deals in flight: each may have reached the CRM (marked sent first)."""
        assert self.session is not None
        journal = self.session.journal
        assert journal is not None
        for job in [j for j in self.outstanding if isinstance(j, SendEdit | SendNote | SendCreate)]:
            self.outstanding.remove(job)
            if not reached or job.gen != self.session.gen:
                continue
            if isinstance(job, SendEdit):
                if job.card not in self.crm.cards:
                    continue
                journal_writes.mark_sent(journal, job.seqs)
                for seq in job.seqs:
                    assert seq not in self.field_applied or seq in self.field_kept
                    sent = self.field_sent.setdefault(self.field_of[seq], [])
                    assert not sent or seq >= sent[-1]
                    sent.append(seq)
                    self.field_applied.add(seq)
                self.crm.change(job.card, job.edit)
            elif isinstance(job, SendNote):
                texts = [n.text for n in self.crm.kept_notes.get(job.card, [])]
                if job.card not in self.crm.cards or (job.check and job.text in texts):
                    continue  # (a send that checks first finds it made: nothing goes out)
                journal_writes.mark_sent(journal, (job.seq,))
                self.crm.note_now(job.card, job.text)
            else:
                if job.check and any(o.name == job.draft.name for o in self.crm.cards.values()):
                    continue
                journal_writes.mark_sent(journal, (job.seq,))
                self.crm.create_now(job.draft)
            self.check_at_most_once()
        super().killed_and_started_again(reached)

    @precondition(lambda self: self.session is not None and self.session.question is not None)
    @rule(keep=st.booleans())
    def the_user_answers_the_question(self, keep: bool) -> None:
        self.answer(keep)

    def answer(self, keep: bool) -> None:
        session = self.session
        assert session is not None and session.question is not None
        question = session.question
        if not question.field:
            super().answer(keep)
            return
        if keep:
            self.field_kept.add(session.writes.fields[question.card][question.field].seq)
        elif question.field == "value":
            self.value_word[question.card] = "teammate"
        self.take(session.resolve_conflict(question.card, keep))

    # -- invariants ----------------------------------------------------------------------------------

    @invariant()
    def own_edits_are_never_marked(self) -> None:
        """A card showing the value the user last gave it (an edit, an undo) is never marked `re-valued`, whatever order
        the answers, the saving of what was seen and a kill -9 came in."""
        board = self.session.board if self.session is not None else None
        if board is None or board.seen is None:
            return
        for card, who in self.value_word.items():
            wanted = self.wanted.get((card, "value"))
            if who == "user" and card in board and wanted is not None and board.shown(card).value == wanted[0]:
                # (a window that does not show the user's edit yet, a read-only one, may mark a teammate's value)
                assert board.change(card) != "re-valued", f"{card}: the user's own edit is marked as a change"

    @invariant()
    def outcomes_are_kept(self) -> None:
        """What settled otherwise (refused, failed, gone, theirs, dropped) is exempt from the end's check."""
        if self.session is not None:
            self.exempt_writes |= {seq for _, _, seq, how in self.session.writes.outcomes if how in SETTLED_OTHERWISE}

    # -- the end -------------------------------------------------------------------------------------

    def settle(self, rounds: int = 60) -> None:
        super().settle(rounds)
        session = self.session
        assert session is not None
        for _ in range(rounds):
            if not len(session.writes) and not self.outstanding:
                return
            if session.question is not None:
                self.answer(True)
            while self.outstanding:
                self.complete(self.outstanding.pop(0), "ok")
            self.t += 400
            self.take(session.tick())

    @rule()
    def everything_settles(self) -> None:
        super().everything_settles()
        session = self.session
        assert session is not None
        assert not len(session.writes), (f"every edit, note and new deal settled: {session.writes.fields}"
                                         f" {session.writes.shots} {session.phase} {self.outstanding}")
        self.outcomes_are_kept()
        for (card, name), (value, seq) in self.wanted.items():
            if card in self.crm.cards and seq not in self.exempt_writes:
                assert field_value(self.crm.cards[card], name) == value, f"{card}.{name}: the user gave it {value}"
        texts = [n.text for notes in self.crm.kept_notes.values() for n in notes]
        for text, card in self.notes_wanted.items():
            if card in self.crm.cards and self.shot_seq.get(text) not in self.exempt_writes:
                assert texts.count(text) == 1, f"{text}: {texts.count(text)} times in the CRM"
        names = [o.name for o in self.crm.cards.values()]
        for name in self.deals_wanted:
            if self.shot_seq.get(name) not in self.exempt_writes:
                assert names.count(name) == 1, f"{name}: {names.count(name)} deals in the CRM"
        board = session.board
        assert board is not None and not [c for c in board.card_ids() if c.startswith("new:")]


WriteMachine.TestCase.settings = settings(
    stateful_step_count=40, deadline=None, max_examples=min(settings.default.max_examples, 200)
    if settings.default.derandomize else settings.default.max_examples // 10,
)
test_edits_notes_and_new_deals_keep_every_intent = WriteMachine.TestCase
