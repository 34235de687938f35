"""Edits, notes and new deals in the session, case by case: each bug the write state machine found
(test_write_states.py), as the regression test it became, and the guarantees a user relies on (issue 23)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kanban_tui.models import Edit
from kanban_tui.store import writes
from kanban_tui.sync.protocol import Poll, ReadDeal, Send, SendEdit, SendNote

from .test_session_states import T0
from .test_write_states import WriteMachine


@pytest.fixture
def m() -> Iterator[WriteMachine]:
    machine = WriteMachine()
    machine.start()
    yield machine
    machine.teardown()


def session(m: WriteMachine):
    assert m.session is not None
    return m.session


def poll_now(m: WriteMachine) -> None:
    m.t += 20
    m.take(session(m).tick())
    m.finish(Poll, "ok")


def back_online(m: WriteMachine) -> None:
    """Time passes; the polls answer (the CRM is reachable again); what was waiting goes out."""
    for _ in range(3):
        m.t += 400
        m.take(session(m).tick())
        while any(isinstance(j, Poll) for j in m.outstanding):
            m.finish(Poll, "ok")


def test_a_queued_move_is_not_asked_about_when_a_teammate_only_changed_the_value(m: WriteMachine) -> None:
    s = session(m)
    m.take(s.move("c1", "demo"))
    m.finish(Send, "refused")  # surely not sent: queued
    m.crm.change("c1", Edit(value=50_000))  # a teammate re-values it
    m.teammate_fields.setdefault(("c1", "value"), []).append(m.crm.version)
    back_online(m)
    assert s.question is None, "both changes stand: no question"
    m.finish(Send, "ok")
    assert m.crm.cards["c1"].status_id == "demo" and m.crm.cards["c1"].value == 50_000


def test_a_move_whose_send_may_have_landed_and_was_moved_back_is_asked_about(m: WriteMachine) -> None:
    s = session(m)
    m.take(s.move("c1", "demo"))
    m.finish(Send, "timeout_applied")  # it landed; no answer
    m.crm.write("c1", "lead")  # a teammate moves it back where it was
    m.teammate_writes.setdefault("c1", []).append(m.crm.version)
    m.t += 400
    m.take(s.tick())
    while any(isinstance(j, Poll) for j in m.outstanding):
        m.finish(Poll, "ok")
    m.finish(Send if any(isinstance(j, Send) for j in m.outstanding) else type(m.outstanding[0]), "ok")  # the read
    m.t += 400
    m.take(s.tick())
    assert not any(isinstance(j, Send) for j in m.outstanding), "not sent again over the teammate's move"
    assert s.question is not None and s.question.card == "c1"


def test_an_edit_of_a_deal_removed_in_the_crm_is_dropped_and_said(m: WriteMachine) -> None:
    s = session(m)
    m.take(s.edit("c2", Edit(value=70_000)))
    m.finish(SendEdit, "503")
    m.crm.delete("c2")
    poll_now(m)
    assert not len(s.writes), "nothing owed for a deal that is gone"
    assert any("C2 was removed" in line and "edit was dropped" in line for line in m.said)
    assert writes.owed(s.journal)[0] == []


def test_the_users_own_edit_is_never_marked_revalued(m: WriteMachine) -> None:
    s = session(m)
    board = s.board
    assert board is not None and board.seen is not None
    m.take(s.edit("c1", Edit(value=12_345)))
    assert board.change("c1") is None
    m.finish(SendEdit, "ok")
    poll_now(m)
    assert board.shown("c1").value == 12_345 and board.change("c1") is None, "confirmed: still not marked"
    m.crm.change("c1", Edit(value=99_999))  # a teammate's value is marked
    poll_now(m)
    assert board.change("c1") == "re-valued"


def test_a_settled_edit_takes_the_older_rows_of_its_field_with_it(m: WriteMachine) -> None:
    s = session(m)
    m.take(s.edit("c1", Edit(value=1_000)))  # out
    m.take(s.edit("c1", Edit(value=2_000)))  # queued behind it: its row stays while the first is out
    journal = s.journal
    assert journal is not None
    assert [w.field for w in writes.owed(journal)[0]] == ["value", "value"]
    m.finish(SendEdit, "ok")
    m.finish(SendEdit, "ok")
    assert writes.owed(journal)[0] == []
    assert m.crm.cards["c1"].value == 2_000


def test_a_note_whose_answer_was_lost_is_looked_for_not_made_twice(m: WriteMachine) -> None:
    s = session(m)
    m.take(s.add_note("c3", "Wants a demo"))
    m.finish(SendNote, "timeout_applied")
    back_online(m)
    job = next(j for j in m.outstanding if isinstance(j, SendNote))
    assert job.check, "a resend looks first"
    m.finish(SendNote, "ok")
    assert [n.text for n in m.crm.kept_notes["c3"]] == ["Wants a demo"]
    assert not len(s.writes)


def test_an_edit_whose_answer_was_lost_is_read_back_before_it_is_sent_again(m: WriteMachine) -> None:
    s = session(m)
    m.take(s.edit("c1", Edit(confidence=90)))
    m.finish(SendEdit, "timeout_applied")
    back_online(m)
    assert any(isinstance(j, ReadDeal) for j in m.outstanding) and not any(
        isinstance(j, SendEdit) for j in m.outstanding)
    m.finish(ReadDeal, "ok")
    assert not len(s.writes), "the CRM had it: settled, not sent again"
    assert m.crm.cards["c1"].updated > T0


def test_a_takeover_never_brings_back_an_edit_older_than_one_settled_since(m: WriteMachine) -> None:
    s = session(m)
    m.take(s.edit("c1", Edit(value=10_000)))  # the first window quits before it goes out
    m.the_first_window_quits_and_a_second_one_takes_over(loaded=True)
    s = session(m)  # the second window, which took the journal over: its read of it is still on the way
    from kanban_tui.sync.protocol import Drain

    assert any(isinstance(j, Drain) for j in m.outstanding)
    m.take(s.edit("c1", Edit(value=20_000)))
    m.finish(SendEdit, "ok")
    m.finish(Drain, "ok")  # the journal as read before the newer value settled
    m.t += 400
    m.take(s.tick())
    assert not any(isinstance(j, SendEdit) for j in m.outstanding), "the older value is not sent after the newer"
    assert m.crm.cards["c1"].value == 20_000


def test_an_edit_over_the_users_own_earlier_value_is_not_asked_about_after_a_takeover(m: WriteMachine) -> None:
    """Found by the state machine: an edit, undone while it was out; the first answer comes (the CRM has the user's
    first value); a teammate moves the card; the window quits before the undo went out; the next one must send the
    undo, not ask about "their" value (it was the user's own)."""
    s = session(m)
    m.take(s.edit("c1", Edit(confidence=10)))
    m.take(s.undo())
    m.finish(SendEdit, "ok")  # the first value lands; the undo waits its turn (queued, on disk)
    m.crm.write("c1", "lead")
    m.teammate_writes.setdefault("c1", []).append(m.crm.version)
    m.outstanding = [j for j in m.outstanding if not isinstance(j, SendEdit)]  # the undo never went out
    m.the_first_window_quits_and_a_second_one_takes_over(loaded=False)
    m.settle()
    assert m.session is not None and m.session.question is None
    assert m.crm.cards["c1"].confidence is None, "the undo reached the CRM"


def test_a_queued_move_is_not_asked_about_after_the_users_own_edit_of_the_card(m: WriteMachine) -> None:
    """Found by the explore profile: a move whose send got a 503 (it may have landed) and an edit of the same card
    that landed; the move's read-back finds the card where it was, changed only by the user's own edit: sent, not
    asked about (each of the user's writes tells the other queue the card's new time is theirs)."""
    s = session(m)
    m.take(s.move("c2", "demo"))
    m.take(s.edit("c2", Edit(confidence=10)))
    m.finish(SendEdit, "ok")
    m.finish(Send, "503")
    m.settle()
    assert m.crm.cards["c2"].status_id == "demo" and m.crm.cards["c2"].confidence == 10


def test_a_move_back_is_not_asked_about_after_the_users_own_edit_lands(m: WriteMachine) -> None:
    """Found by the explore profile: a move, an edit of the same card, then a move back while both are out; the first
    move and the edit land: the card's status is where the user's own move put it, its new time the user's own edit:
    the move back is sent, not asked about."""
    s = session(m)
    m.user_moves("c1", "qual")
    m.take(s.edit("c1", Edit(confidence=10)))
    m.a_request_completes(0, "ok", "429")  # the poll: rate limited
    m.user_moves("c1", "lead")
    m.everything_settles()  # (the machine asserts no question about the user's own move)
    assert m.crm.cards["c1"].status_id == "lead" and m.crm.cards["c1"].confidence == 10
