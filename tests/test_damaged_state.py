"""A damaged or unwritable state dir (issue 13): detected at start, said in one line naming the
file, nothing owed lost that can still be read, never a traceback."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kanban_tui import cli, paths
from kanban_tui.models import Opportunity, Pipeline, Status
from kanban_tui.store import StoreError
from kanban_tui.store.board_copy import BoardCopy
from kanban_tui.store.journal import JournaledMove, MoveJournal

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def owed(journal: MoveJournal, n: int) -> None:
    for i in range(n):
        journal.record(JournaledMove(seq=i + 1, pipeline_id="p", opportunity_id=f"o{i}", opportunity_name=f"O{i}",
                                     from_status="a", to_status="b", made_at=T0, base_updated=T0))


def test_a_garbage_journal_is_moved_aside_said_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"\x00garbage, not a database" * 500)
    journal = MoveJournal(path, "acct", background=False)
    notes = journal.prepare()
    assert len(notes) == 1 and str(path) in notes[0] and "damaged" in notes[0] and "none could be read" in notes[0]
    aside = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"\x00garbage"), "kept, not deleted"
    owed(journal, 1)
    assert [m.opportunity_id for m in journal.pending()] == ["o0"], "a fresh journal takes moves again"


def test_a_journal_truncated_to_half_is_said_with_how_many_moves_it_still_gave(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    owed(MoveJournal(path, "acct", background=False), 3)
    with sqlite3.connect(path) as conn:  # out of WAL mode, into one file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the page holding the rows is gone
    notes = MoveJournal(path, "acct", background=False).prepare()
    assert len(notes) == 1 and "damaged" in notes[0] and "none could be read" in notes[0], notes
    assert MoveJournal(path, "acct", background=False).pending() == []


def test_the_moves_a_damaged_journal_still_gives_are_kept_in_the_fresh_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = MoveJournal(path, "acct", background=False)
    owed(journal, 3)
    journal.mark_sent(2)
    monkeypatch.setattr("kanban_tui.store.journal.damaged", lambda *_: "integrity check: page 7 is never used")
    notes = MoveJournal(path, "acct", background=False).prepare()
    assert "3 owed moves read from it kept and sent" in notes[0]
    kept = MoveJournal(path, "acct", background=False).pending()
    assert [(m.opportunity_id, m.state) for m in kept] == [("o0", "queued"), ("o1", "sent"), ("o2", "queued")]
    assert len([p for p in tmp_path.iterdir() if ".damaged-" in p.name and not p.name.endswith(("-wal", "-shm"))]) == 1


def test_a_healthy_journal_is_left_alone(tmp_path: Path) -> None:
    journal = MoveJournal(tmp_path / "journal.sqlite3", "acct", background=False)
    owed(journal, 2)
    assert journal.prepare() == [] and len(journal.pending()) == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_state_dir_is_a_start_error_naming_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o500)
    try:
        with pytest.raises(StoreError, match=str(state)):
            MoveJournal(state / "journal.sqlite3", "acct").prepare()
    finally:
        state.chmod(0o700)


def test_a_read_only_journal_is_a_start_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "journal.sqlite3"
    owed(MoveJournal(path, "acct", background=False), 1)

    def refuse(*_: object, **__: object) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    real = sqlite3.connect

    def connect(target: str | Path, *args: Any, **kw: Any) -> sqlite3.Connection:
        conn = real(target, *args, **kw)
        if "mode=ro" in str(target):
            return conn
        wrapped = _NoWrite(conn)
        return wrapped  # type: ignore[return-value]

    class _NoWrite:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def execute(self, sql: str, *args: Any) -> object:
            if sql.startswith(("CREATE", "INSERT", "UPDATE", "DELETE", "DROP")):
                refuse()
            return self.conn.execute(sql, *args)

        def __enter__(self):
            return self

        def __exit__(self, *exc: object) -> None:
            self.conn.close()

        def close(self) -> None:
            self.conn.close()

    monkeypatch.setattr("kanban_tui.store.sqlite3.connect", connect)
    with pytest.raises(StoreError, match="cannot write the move journal .*journal.sqlite3"):
        MoveJournal(path, "acct").prepare()


def test_a_damaged_board_copy_is_moved_aside_and_written_anew(tmp_path: Path) -> None:
    path = tmp_path / "last-board.sqlite3"
    path.write_bytes(b"junk" * 1000)
    copy = BoardCopy(path, "acct")
    notes = copy.prepare()
    assert len(notes) == 1 and "saved board" in notes[0] and str(path) in notes[0]
    sales = Pipeline(id="p", name="Sales", statuses=(Status(id="a", label="A"),))
    card = Opportunity(id="o", name="Acme", status_id="a", created=T0, updated=T0)
    assert copy.save(sales, [card], T0) is None
    saved = copy.load("Sales")
    assert saved is not None and saved.opportunities == [card], "starting offline works again"


def test_the_cli_says_a_damaged_journal_in_one_line_and_opens_the_board(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = paths.journal_file()
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_bytes(b"not sqlite" * 100)
    shown: list[list[str]] = []

    class App:
        def __init__(self, *_: object, warnings: list[str] | None = None, **__: object) -> None:
            shown.append(list(warnings or []))
            self.return_code = 0

        def run(self) -> None:
            pass

    monkeypatch.setattr("kanban_tui.app.KanbanApp", App)
    assert cli.main(["--workspace", str(tmp_path / "w.sqlite3")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "journal" in err[0] and "damaged" in err[0] and "Traceback" not in err[0]
    assert shown and any("damaged" in w for w in shown[0]), "and on the board, where it can be seen"
