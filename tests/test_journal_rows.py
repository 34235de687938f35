"""Owed moves survive any damage (issue 21, item 8): the journal is read row by row. A row with a bad
field (a made_at that is not a date, garbage bytes, a NULL, a wrong type, a card id with control
characters) is set aside: kept in the journal's `set_aside` table, never deleted, never sent, and said on
the board in one line naming what it held. Every good row is still sent. The other files this machine
keeps set one damaged record aside too, not the whole file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import mkdtemp
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanban_tui.models import Opportunity, Pipeline, Status
from kanban_tui.store.board_copy import BoardCopy
from kanban_tui.store.journal import JournaledMove, MoveJournal
from kanban_tui.store.prefs import BoardPrefs
from kanban_tui.store.seen import SeenStore
from kanban_tui.sync import Phase
from kanban_tui.sync.protocol import Send
from kanban_tui.widgets.status_bar import status_line

from .test_session_states import SessionMachine

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ID = "fake:account"


def owe(journal: MoveJournal, card: str, to: str, seq: int, state: str = "queued") -> None:
    """A move owed from last time (made after the card's last change: no teammate's change to ask about)."""
    journal.record(JournaledMove(seq=seq, pipeline_id="p", opportunity_id=card, opportunity_name=card.upper(),
                                 from_status="lead", to_status=to, made_at=T0 + timedelta(hours=1, minutes=seq),
                                 base_updated=T0 + timedelta(hours=1)))
    if state == "sent":
        journal.mark_sent(seq)


def damage(path: Path, sql: str, *args: object) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(sql, args)


def aside(path: Path) -> list[tuple[object, ...]]:
    """The rows set aside, as they were (bytes)."""
    with closing(sqlite3.connect(path)) as conn:
        conn.text_factory = bytes
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'set_aside'").fetchone() is None:
            return []
        return conn.execute("SELECT seq, opportunity_id, to_status, made_at, why FROM set_aside ORDER BY seq"
                            ).fetchall()


def test_a_made_at_that_is_not_a_date_sets_that_row_aside_and_the_others_stay_owed(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = MoveJournal(path, ID, background=False)
    for seq, card in enumerate(("c1", "c2", "c3"), 1):
        owe(journal, card, "won", seq)
    damage(path, "UPDATE intents SET made_at = 'last tuesday' WHERE opportunity_id = 'c2'")
    assert [m.opportunity_id for m in journal.pending()] == ["c1", "c3"], "read row by row"
    rows, said = journal.recall("p")
    assert [m.opportunity_id for m in rows] == ["c1", "c3"]
    assert len(said) == 1 and "c2" in said[0] and "won" in said[0] and "last tuesday" in said[0]
    assert "set aside" in said[0] and str(path) in said[0] and "\n" not in said[0]
    kept = aside(path)
    assert [(r[0], r[1], r[3]) for r in kept] == [(2, b"c2", b"last tuesday")], "kept as it was, never deleted"
    again = MoveJournal(path, ID, background=False)
    assert [m.opportunity_id for m in again.pending()] == ["c1", "c3"] and again.recall("p")[1] == [], "said once"


def test_garbage_bytes_a_null_and_control_characters_are_each_set_aside_and_said_as_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    with closing(sqlite3.connect(path)) as conn, conn:  # a journal edited by hand: no constraints
        conn.execute("CREATE TABLE intents (seq INTEGER PRIMARY KEY, identity, pipeline_id, opportunity_id,"
                     " opportunity_name, from_status, to_status, made_at, base_updated, lost_reason, state, sent_at)")
    journal = MoveJournal(path, ID, background=False)
    for seq, card in enumerate(("c1", "c2", "c3", "c4", "c5", "c6"), 1):
        owe(journal, card, "won", seq)
    damage(path, "UPDATE intents SET opportunity_id = CAST(? AS TEXT) WHERE seq = 2", b"c\xff\xfe2")
    damage(path, "UPDATE intents SET to_status = NULL WHERE seq = 3")
    damage(path, "UPDATE intents SET opportunity_id = ? WHERE seq = 4", "c4\x1b]52;c;ZXZpbA==\x07")
    damage(path, "UPDATE intents SET base_updated = 42, state = 'maybe' WHERE seq = 5")
    rows, said = journal.recall("p")
    assert [m.opportunity_id for m in rows] == ["c1", "c6"]
    assert len(said) == 4 and all("set aside" in line for line in said)
    assert not any(ch in line for line in said for ch in "\x1b\x07\xff\n"), "disk text is made safe"
    assert "c4␛]52;c;ZXZpbA==␇" in said[2]
    assert [r[0] for r in aside(path)] == [2, 3, 4, 5]


def test_a_naive_date_is_a_bad_field_too(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = MoveJournal(path, ID, background=False)
    owe(journal, "c1", "won", 1)
    owe(journal, "c2", "won", 2)
    damage(path, "UPDATE intents SET base_updated = '2026-11-01T09:00:00' WHERE seq = 1")  # no time zone
    assert [m.opportunity_id for m in journal.pending()] == ["c2"]


def test_when_a_cards_latest_move_is_unreadable_its_earlier_moves_are_set_aside_with_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = MoveJournal(path, ID, background=False)
    owe(journal, "c1", "demo", 1, state="sent")
    owe(journal, "c1", "won", 2)
    owe(journal, "c2", "demo", 3)
    owe(journal, "c2", "won", 4)
    damage(path, "UPDATE intents SET made_at = 'x' WHERE seq IN (2, 3)")
    rows, said = journal.recall("p")
    # c1's last intent is unknown: sending its older one would put the card where the user no longer wanted it
    assert [(m.opportunity_id, m.to_status) for m in rows] == [("c2", "won")], "c2's latest is readable: it goes"
    assert [r[0] for r in aside(path)] == [1, 2, 3]
    assert len(said) == 2 and "c1" in said[0] and "1 earlier move" in said[0]


def test_a_damaged_journal_salvages_the_rows_after_a_garbled_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = MoveJournal(path, ID, background=False)
    for seq, card in enumerate(("c1", "c2", "c3"), 1):
        owe(journal, card, "won", seq)
    damage(path, "UPDATE intents SET to_status = CAST(? AS TEXT) WHERE seq = 2", b"\xff")
    monkeypatch.setattr("kanban_tui.store.journal.damaged", lambda *_: "integrity check: page 7 is never used")
    notes = MoveJournal(path, ID, background=False).prepare()
    assert "2 owed moves read from it kept and sent" in notes[0] and "1 set aside" in notes[0], notes
    assert [m.opportunity_id for m in MoveJournal(path, ID, background=False).pending()] == ["c1", "c3"]
    assert [r[0] for r in aside(path)] == [2], "kept in the fresh journal too"


def test_the_board_sends_the_good_moves_and_says_the_bad_one(tmp_path: Path) -> None:
    m = SessionMachine()
    try:
        for i, card in enumerate(("c1", "c2", "c3")):
            m.crm.write(card, "lead" if i % 2 == 0 else "qual")
        path = m.dir / "journal.sqlite3"
        journal = MoveJournal(path, ID, background=False)
        for seq, card in enumerate(("c1", "c2", "c3"), 1):
            owe(journal, card, "won", seq)
        damage(path, "UPDATE intents SET made_at = 'not a date' WHERE opportunity_id = 'c2'")
        m.session = m.open_session()
        said: list[str] = []
        take = m.take

        def taking(update) -> None:
            said.extend(n.text for n in update.notices)
            take(update)

        m.take = taking  # type: ignore[method-assign]
        m.take(m.session.start())
        while m.outstanding and not any(isinstance(job, Send) for job in m.outstanding):
            m.complete(m.outstanding.pop(0), "ok")
        text, _ = status_line(m.session.snapshot(), m.now())
        assert "2 saving" in text, text  # (it said "3 deals · ✓ synced just now": owed moves not counted)
        m.settle()
        assert m.crm.cards["c1"].status_id == "won" and m.crm.cards["c3"].status_id == "won"
        assert m.crm.cards["c2"].status_id == "qual", "a row that cannot be read is never sent"
        assert m.session.phase is Phase.LIVE and journal.pending() == []
        assert [r[0] for r in aside(path)] == [2]
        lines = [line for line in said if "set aside" in line]
        assert len(lines) == 1 and "c2" in lines[0] and "not a date" in lines[0], said
    finally:
        m.teardown()


# -- any field of any row damaged: the property ----------------------------------------------------------

GARBLED = b"\xc3\x28garbage"
"""Written as TEXT that is not UTF-8 (what a disk error or a bad editor leaves)."""
IDS = [None, 0, 7.5, b"\x00\x01", GARBLED, "", "c\x1b[2J", "\u202ec1", "c\nx"]
WHEN = [None, 0, "not a date", "2026-11-01", "2026-11-01T09:00:00", b"2026", GARBLED, ""]
BAD: dict[str, Sequence[object]] = {
    "pipeline_id": IDS, "opportunity_id": IDS, "from_status": IDS, "to_status": IDS,
    "opportunity_name": [0, 1.5, b"x", GARBLED],
    "made_at": WHEN, "base_updated": WHEN,
    "lost_reason": [0, b"x", GARBLED, "", "a\x00b"],
    "state": [None, "set_aside", "bogus", 1, GARBLED],
}
CARDS = ("c1", "c2", "c3")
ROW = st.tuples(
    st.sampled_from(CARDS), st.sampled_from(("lead", "qual", "won")),
    st.none() | st.sampled_from(sorted(BAD)).flatmap(lambda f: st.tuples(st.just(f), st.sampled_from(BAD[f]))),
)


@settings(max_examples=80)
@given(rows=st.lists(ROW, max_size=8), constrained=st.booleans())
def test_any_damaged_field_sets_its_row_aside_and_every_good_row_stays_owed(rows, constrained) -> None:
    path = Path(mkdtemp(prefix="journal-rows-")) / "journal.sqlite3"
    if not constrained:  # a journal made or edited by hand: NULLs and any state fit
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("CREATE TABLE intents (seq INTEGER PRIMARY KEY, identity, pipeline_id, opportunity_id,"
                         " opportunity_name, from_status, to_status, made_at, base_updated, lost_reason, state,"
                         " sent_at)")
    journal = MoveJournal(path, ID, background=False)
    written = []
    for seq, (card, to, harm) in enumerate(rows, 1):
        owe(journal, card, to, seq)
        if harm is not None:
            column, value = harm
            sql = f"UPDATE intents SET {column} = {'CAST(? AS TEXT)' if value is GARBLED else '?'} WHERE seq = ?"
            try:
                damage(path, sql, value, seq)
            except sqlite3.IntegrityError:  # the schema refuses it (NOT NULL, the state's CHECK): not damage
                harm = None
            text_ok = {"pipeline_id", "opportunity_id", "from_status", "to_status", "opportunity_name", "lost_reason"}
            if constrained and isinstance(value, int | float) and column in text_ok:
                harm = None  # a TEXT column keeps 0 as '0': a fine id
                if column == "opportunity_id":
                    card = str(value)  # the row is now that card's
        written.append((seq, card, to, harm))
    latest = {}  # per card (its id intact): the last row
    for seq, card, _, harm in written:
        if harm is None or harm[0] != "opportunity_id":
            latest[card] = (seq, harm)
    good = [seq for seq, card, _, harm in written if harm is None and latest[card][1] is None]

    rows_back, said = journal.recall("p")  # nothing raises, whatever the rows hold

    assert [m.seq for m in rows_back] == good, "every good row is owed, in order"
    assert [(m.opportunity_id, m.to_status) for m in rows_back] == [(c, t) for s, c, t, _ in written if s in good]
    set_aside = sorted(cast(int, r[0]) for r in aside(path))  # seq, the INTEGER PRIMARY KEY: an int
    assert set_aside == [s for s, *_ in written if s not in good], "the others set aside"
    assert 0 < len(said) <= 4 if len(good) < len(written) else said == []
    assert all(line.isprintable() for line in said), "one line each, disk text made safe"
    assert journal.recall("p") == (rows_back, []), "set aside once, said once"


# -- the other files this machine keeps: one damaged record is set aside, not the file ----------------------

SALES = Pipeline(id="p1", name="Sales", statuses=(Status(id="a", label="A"), Status(id="b", label="B")))
HIRING = Pipeline(id="p2", name="Hiring", statuses=(Status(id="c", label="C"),))
CARD = Opportunity(id="o1", name="Acme", status_id="b", value=500, created=T0, updated=T0)


@pytest.mark.parametrize("harm", [
    "UPDATE boards SET opportunities = CAST(X'c328ff' AS TEXT) WHERE pipeline_id = 'p2'",  # garbage bytes
    "UPDATE boards SET pipeline_name = X'00ff', pipeline = 'null' WHERE pipeline_id = 'p2'",  # a blob, not a name
    "UPDATE boards SET saved_at = 'yesterday' WHERE pipeline_id = 'p2'",  # sorts first, is no date
    "UPDATE boards SET saved_at = '2027-01-01T00:00:00' WHERE pipeline_id = 'p2'",  # newest, no time zone
    "UPDATE boards SET pipeline = '{\"id\": 1}' WHERE pipeline_id = 'p2'",
])
def test_one_damaged_saved_board_leaves_the_others_readable(tmp_path: Path, harm: str) -> None:
    path = tmp_path / "last-board.sqlite3"
    copy = BoardCopy(path, ID)
    assert copy.save(SALES, [CARD], T0) is None and copy.save(HIRING, [], T0 + timedelta(hours=1)) is None
    damage(path, harm)
    saved = copy.load("Sales")
    assert saved is not None and saved.opportunities == [CARD], "the damaged row is passed over, not the file"
    newest = copy.load(None)
    assert newest is not None and newest.pipeline == SALES, "none asked for: the last one that can be read"
    assert copy.load("Hiring") is None
    assert copy.save(HIRING, [], T0) is None and copy.load("Hiring") is not None, "written anew at the next load"


@pytest.mark.parametrize("harm", [
    "UPDATE cards SET status_id = CAST(X'c328' AS TEXT) WHERE id = 'o2'",
    "UPDATE cards SET value = 'lots' WHERE id = 'o2'",
    "UPDATE cards SET name = X'00ff' WHERE id = 'o2'",
    "UPDATE cards SET id = CAST(X'ff' AS TEXT) WHERE id = 'o2'",
])
def test_one_damaged_seen_card_leaves_the_others_marked(tmp_path: Path, harm: str) -> None:
    path = tmp_path / "seen.sqlite3"
    seen = SeenStore(path, ID)
    assert seen.save("p", {"o1": ("a", 100, "Acme"), "o2": ("b", None, "Globex"), "o3": ("a", 5, "Initech")},
                     T0.isoformat()) is None
    damage(path, harm)
    kept = seen.load("p")
    assert kept == {"o1": ("a", 100, "Acme"), "o3": ("a", 5, "Initech")}


def test_a_seen_name_is_disk_text_made_safe(tmp_path: Path) -> None:
    path = tmp_path / "seen.sqlite3"
    seen = SeenStore(path, ID)
    assert seen.save("p", {"o1": ("a", 1, "Acme")}, T0.isoformat()) is None
    damage(path, "UPDATE cards SET name = ? WHERE id = 'o1'", "Acme\x1b]52;c;ZXZpbA==\x07")
    assert seen.load("p") == {"o1": ("a", 1, "Acme␛]52;c;ZXZpbA==␇")}, "said as gone in a notice: made safe"


def test_one_damaged_board_in_the_preferences_leaves_the_others(tmp_path: Path) -> None:
    path = tmp_path / "board-prefs.json"
    prefs = BoardPrefs(path, ID)
    assert prefs.save("p1", {"sort": "value"}) is None and prefs.save("p2", {"sort": "days"}) is None
    data = json.loads(path.read_text())
    data[ID]["p2"] = ["not", "a", "board"]
    path.write_text(json.dumps(data))
    assert prefs.load("p1") == {"sort": "value"} and prefs.load("p2") == {}
    assert prefs.save("p2", {"sort": "days"}) is None and prefs.load("p1") == {"sort": "value"}


def test_a_preferences_file_that_is_not_json_is_kept_aside_before_it_is_written_anew(tmp_path: Path) -> None:
    path = tmp_path / "board-prefs.json"
    path.write_text('{"fake:account": {"p1": {"sort": "val')  # cut short
    prefs = BoardPrefs(path, ID)
    assert prefs.load("p1") == {}
    assert prefs.save("p1", {"sort": "days"}) is None and prefs.load("p1") == {"sort": "days"}
    kept = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert len(kept) == 1 and kept[0].read_text().startswith('{"fake:account"'), "kept, not overwritten"
