"""The second window (issue 21, item 7): a read-only dealboard takes over the journal as soon as the
window that held it is gone (quit, or killed -9), without a restart: it sends what is owed, takes moves,
and its status line stops saying read-only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kanban_tui.store.journal import MoveJournal
from kanban_tui.sync import BoardSession, Phase
from kanban_tui.sync.protocol import Send
from kanban_tui.widgets.status_bar import status_line

from .test_session_states import SessionMachine, _collect

ROOT = Path(__file__).parent.parent


@pytest.fixture
def machine() -> Iterator[SessionMachine]:
    m = SessionMachine()
    m.start()
    yield m
    m.teardown()


def drive(m: SessionMachine, session: BoardSession, update, rounds: int = 20) -> list[Send]:
    """Run every job `session` asks for (the CRM answers), and the jobs they lead to; the sends made."""
    sent: list[Send] = []
    jobs = list(update.jobs)
    for _ in range(rounds):
        while jobs:
            job = jobs.pop(0)
            if isinstance(job, Send):
                sent.append(job)
            for event in m.loop.run_until_complete(_collect(session.runner.run(job))):
                jobs += session.handle(event).jobs
        m.t += 11
        jobs += session.tick().jobs
        if not jobs:
            break
    return sent


def second_window(m: SessionMachine) -> BoardSession:
    """A second dealboard on the same account, its board loaded, read-only."""
    other = m.open_session()
    assert other.read_only is not None
    assert not drive(m, other, other.start()), "a read-only window sends nothing"
    assert other.phase is Phase.LIVE and other.board is not None
    return other


def test_the_second_window_takes_over_when_the_first_quits(machine: SessionMachine) -> None:
    m = machine
    m.user_moves("c1", "won")  # owed: its request never goes out before the first window quits
    other = second_window(m)
    try:
        refused = other.move("c2", "won")
        assert refused.notices and "Read-only" in refused.notices[0].text and not other.intents
        m.outstanding.clear()
        m.session.close()  # the first window quits
        m.session = None
        sent = drive(m, other, other.tick())  # its next poll: the lock is free
        assert other.read_only is None
        assert "read-only" not in status_line(other.snapshot(), m.now())[0]
        assert [j.card for j in sent] == ["c1"], "what the first window owed is sent"
        assert m.crm.cards["c1"].status_id == "won" and other.board.shown_status("c1") == "won"
        sent = drive(m, other, other.move("c2", "won"))
        assert [j.card for j in sent] == ["c2"] and m.crm.cards["c2"].status_id == "won", "and moves are taken"
        assert other.journal is not None and other.journal.pending() == []
    finally:
        other.close()


def test_a_move_in_the_second_window_takes_over_at_once_when_the_lock_is_free(machine: SessionMachine) -> None:
    m = machine
    other = second_window(m)
    try:
        m.outstanding.clear()
        m.session.close()
        m.session = None
        update = other.move("c2", "won")  # no poll in between: the move itself finds the lock free
        assert other.read_only is None and not any("Read-only" in n.text for n in update.notices)
        drive(m, other, update)
        assert m.crm.cards["c2"].status_id == "won"
    finally:
        other.close()


def test_the_second_window_stays_read_only_while_the_first_is_open(machine: SessionMachine) -> None:
    m = machine
    other = second_window(m)
    try:
        m.t += 400
        assert not drive(m, other, other.tick())
        assert other.read_only is not None and other.move("c2", "won").notices
        assert m.crm.cards["c2"].status_id != "won"
    finally:
        other.close()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="kill -9 is a POSIX thing")
def test_the_second_window_takes_over_when_the_first_is_killed(machine: SessionMachine) -> None:
    m = machine
    m.user_moves("c1", "won")
    path = m.dir / "journal.sqlite3"
    m.outstanding.clear()
    m.session.close()
    m.session = None
    holder = subprocess.Popen(  # another process holds the journal (as a first window would)
        [sys.executable, "-c", "import sys, time\nfrom kanban_tui.store.journal import MoveJournal\n"
         "j = MoveJournal(sys.argv[1], 'fake:account')\nassert j.acquire()\nprint('held', flush=True)\ntime.sleep(600)",
         str(path)],
        cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        other = second_window(m)
        assert f"pid {holder.pid}" in (other.read_only or "")
    finally:
        holder.kill()  # kill -9: it never lets the lock go itself
        holder.wait()
        holder.stdout.close()
    try:
        assert holder.returncode == -signal.SIGKILL
        sent = drive(m, other, other.tick())
        assert other.read_only is None, "no process holds it: this window takes over"
        assert [j.card for j in sent] == ["c1"] and m.crm.cards["c1"].status_id == "won"
        assert MoveJournal(path, "fake:account").pending() == []
    finally:
        other.close()


def test_the_read_only_line_shows_what_the_lock_file_says_as_plain_text(machine: SessionMachine) -> None:
    m = machine
    assert m.session is not None and m.session.journal is not None
    m.session.journal.lock_path.write_bytes(b"pid 1\x1b]52;c;ZXZpbA==\x07\xff")  # the lock file is disk text
    other = m.open_session()
    try:
        assert other.read_only is not None and "\x1b" not in other.read_only and "\x07" not in other.read_only
        assert "pid 1␛]52;c;ZXZpbA==␇" in other.read_only
    finally:
        other.close()


def test_a_read_only_window_does_not_mark_the_users_move_owed_by_the_other_window(machine: SessionMachine) -> None:
    """Found by the state machine once the two fixes met: a teammate moves a card, the user moves it elsewhere in
    the first window (owed, not sent); a second window opens read-only: the card, where the teammate left it, was
    marked `moved` there, as if the user's own move were a teammate's. The journal's owed moves are the user's:
    read (not sent) by the read-only window, they are not marked; once settled, the card is as the CRM has it."""
    m = machine
    m.a_teammate_moves_a_card("c2", "lead")
    m.user_moves("c2", "demo")  # owed by the first window: its request never goes out
    m.outstanding.clear()
    other = second_window(m)
    try:
        assert other.board is not None and other.board.seen is not None
        assert other.board.shown_status("c2") == "lead", "the read-only window shows the CRM's board"
        assert other.board.change("c2") is None, "the user's own move (owed elsewhere) is not a change to mark"
        m.session.close()  # the first window quits: this one takes over and sends the move
        m.session = None
        assert not drive(m, other, other.tick()) and other.board.change("c2") is None
        assert other.question is not None and other.question.card == "c2", "the teammate's move came after: asked"
        sent = drive(m, other, other.resolve_conflict("c2", keep=True))
        assert [j.card for j in sent] == ["c2"] and m.crm.cards["c2"].status_id == "demo"
        assert other.board.change("c2") is None, "where the user's own move left it"
    finally:
        other.close()
