"""Never lose a move: the journal, and moves surviving a restart with the CRM unreachable."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from kanban_tui import factory
from kanban_tui.app import KanbanApp
from kanban_tui.backends.close import CloseBackend
from kanban_tui.config import Settings
from kanban_tui.screens.board import BoardScreen
from kanban_tui.store.board_copy import BoardCopy
from kanban_tui.store.journal import JournaledMove, MoveJournal

from .fakes.close import FakeClose
from .helpers import MakeApp, focused_card, notices, screen_text, settle

KEY = "test-close-key"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


_seq = iter(range(1, 10**6))


def write(journal: MoveJournal, *, pipeline_id: str, opportunity_id: str, opportunity_name: str, from_status: str,
          to_status: str, made_at: datetime, base_updated: datetime, state: str = "queued") -> int:
    """A row as an earlier run left it (its moves made, maybe sent, never confirmed)."""
    seq = next(_seq)
    journal.record(JournaledMove(seq=seq, pipeline_id=pipeline_id, opportunity_id=opportunity_id,
                                 opportunity_name=opportunity_name, from_status=from_status, to_status=to_status,
                                 made_at=made_at, base_updated=base_updated))
    if state == "sent":
        journal.mark_sent(seq)
    return seq


def record(journal: MoveJournal, opportunity_id: str, to_status: str, minute: int) -> int:
    return write(journal, pipeline_id="p", opportunity_id=opportunity_id, opportunity_name=opportunity_id.upper(),
                 from_status="a", to_status=to_status, made_at=T0 + timedelta(minutes=minute), base_updated=T0)


def test_the_journal_keeps_moves_in_order_per_account(tmp_path: Path) -> None:
    path = tmp_path / "state" / "journal.sqlite3"
    mine, theirs = MoveJournal(path, "close:https://x/#abc"), MoveJournal(path, "local:/w")
    assert mine.pending() == []
    first, second = record(mine, "o1", "b", 1), record(mine, "o2", "c", 2)
    record(theirs, "o9", "b", 0)
    assert [(m.opportunity_id, m.to_status) for m in mine.pending()] == [("o1", "b"), ("o2", "c")]
    assert mine.pending()[0].made_at == T0 + timedelta(minutes=1) and mine.pending("other") == []
    mine.forget(first)
    assert [m.seq for m in MoveJournal(path, mine.identity).pending()] == [second], "on disk, not in memory"
    assert [m.opportunity_id for m in theirs.pending()] == ["o9"]


def test_a_close_identity_names_the_account_without_the_key() -> None:
    one = CloseBackend(KEY, base_url="https://api.close.com/api/v1/")
    other = CloseBackend("another-key", base_url="https://api.close.com/api/v1/")
    assert one.identity != other.identity and KEY not in one.identity and "api.close.com" in one.identity


IDENTITY = CloseBackend(KEY, base_url="https://api.close.com/api/v1/").identity


@dataclass
class Sales:
    """A fake Close with a seeded Sales pipeline, a journal for its account, and one of its cards."""

    fake: FakeClose
    journal: MoveJournal
    pipeline: dict
    card: str

    @property
    def status_ids(self) -> list[str]:
        return [s["id"] for s in self.pipeline["statuses"]]


def sales_with_a_card(journal_path: Path, sales: int = 20) -> Sales:
    fake = FakeClose(KEY)
    fake.seed(sales=sales, other=5)
    pipeline = next(p for p in fake.pipelines if p["name"] == "Sales")
    card = next(i for i, o in fake.opportunities.items() if o["pipeline_id"] == pipeline["id"])
    return Sales(fake, MoveJournal(journal_path, IDENTITY), pipeline, card)


def app_for(make_app: MakeApp, fake: FakeClose, journal: MoveJournal, *, board_copy: bool = False) -> KanbanApp:
    """The board of the fake Close's Sales pipeline, with its move journal where `journal` is (the app's stores
    beside it; with `board_copy`, the board copy too)."""
    async def no_wait(_: float) -> None:
        return None

    assert journal.path.name == factory.JOURNAL
    backend = CloseBackend(
        KEY, base_url="https://api.close.com/api/v1/", transport=httpx.MockTransport(fake.handler), sleep=no_wait
    )
    return make_app(backend, Settings(pipeline="Sales"), state_dir=journal.path.parent, board_copy=board_copy)


async def test_moves_made_while_close_is_down_reach_it_in_order_after_a_restart(tmp_path: Path,
                                                                                make_app: MakeApp) -> None:
    fake = FakeClose(KEY)
    fake.seed(sales=60, other=10)
    journal_path = tmp_path / "journal.sqlite3"

    app = app_for(make_app, fake, MoveJournal(journal_path, IDENTITY))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BoardScreen)
        fake.fail_next("PUT", "opportunity/", 0, exc=httpx.ConnectError("connection refused"), times=1000)
        moved = []
        for _ in range(3):
            moved.append(focused_card(screen))
            await pilot.press("shift+right", "h")
            await settle(pilot)
        assert len(set(moved)) == 3 and all(screen.session.board.badges[m] == "queued" for m in moved)
        screen.update_status()
        await pilot.pause()
        assert "3 moves queued · ○ offline" in screen_text(app)
    # the app is gone (as if killed); nothing reached Close, everything is on disk
    assert [r for r in fake.requests if r.method == "PUT" and r.url.path.endswith("/")]
    assert [m.opportunity_id for m in MoveJournal(journal_path, IDENTITY).pending()] == moved
    second = next(p for p in fake.pipelines if p["name"] == "Sales")["statuses"][1]["id"]
    assert all(fake.opportunities[m]["status_id"] != second for m in moved)

    fake._failures.clear()  # Close is back
    start = len(fake.requests)
    app = app_for(make_app, fake, MoveJournal(journal_path, IDENTITY))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await settle(pilot)
        puts = [r for r in fake.requests[start:] if r.method == "PUT"]
        assert [r.url.path.split("/")[-2] for r in puts] == moved, "sent again, in the order they were made"
        assert all(json.loads(r.content) == {"status_id": second} for r in puts)
        assert all(fake.opportunities[m]["status_id"] == second for m in moved)
        assert any("Sending 3 moves saved from last time" in n for n in notices(app))
    assert MoveJournal(journal_path, IDENTITY).pending() == []


async def test_a_journaled_move_of_a_card_deleted_meanwhile_is_dropped_and_said(tmp_path: Path,
                                                                                make_app: MakeApp) -> None:
    setup = sales_with_a_card(tmp_path / "journal.sqlite3")
    fake, journal, sales, gone = setup.fake, setup.journal, setup.pipeline, setup.card
    write(journal, pipeline_id=sales["id"], opportunity_id=gone, opportunity_name="Gone Co", from_status="x",
        to_status=sales["statuses"][2]["id"], made_at=T0, base_updated=T0,
    )
    fake.delete_opportunity(gone)
    app = app_for(make_app, fake, journal)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await settle(pilot)
        assert any("Gone Co" in n and "dropped" in n for n in notices(app))
        assert not [r for r in fake.requests if r.method == "PUT"]
    assert journal.pending() == []


async def test_a_card_changed_in_close_since_the_move_asks_keep_or_take(tmp_path: Path, make_app: MakeApp) -> None:
    from kanban_tui.screens.conflict import ResolveConflict

    for key, expected in (("t", "theirs"), ("k", "mine")):
        setup = sales_with_a_card(tmp_path / key / "journal.sqlite3")
        fake, journal, sales, card = setup.fake, setup.journal, setup.pipeline, setup.card
        mine, theirs = sales["statuses"][2]["id"], sales["statuses"][3]["id"]
        seen = datetime.fromisoformat(fake.opportunities[card]["date_updated"])
        write(journal, pipeline_id=sales["id"], opportunity_id=card, opportunity_name="X",
            from_status=sales["statuses"][0]["id"], to_status=mine, made_at=seen, base_updated=seen,
        )
        fake.teammate_move(card, theirs)  # a teammate moved it after the user did, offline
        app = app_for(make_app, fake, journal)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await settle(pilot)
            assert isinstance(app.screen, ResolveConflict), "asks, does not overwrite"
            text = screen_text(app)
            assert "changed in Close after you moved it" in text and "In Close now:" in text and "Your move:" in text
            assert not [r for r in fake.requests if r.method == "PUT"]
            await pilot.press(key)
            await settle(pilot)
            screen = next(s for s in app.screen_stack if isinstance(s, BoardScreen))
            want = theirs if expected == "theirs" else mine
            assert fake.opportunities[card]["status_id"] == want == screen.session.board.shown_status(card)
            assert len([r for r in fake.requests if r.method == "PUT"]) == (1 if expected == "mine" else 0)
        assert journal.pending() == []


async def test_two_queued_moves_of_one_card_collapse_to_the_last_and_are_no_conflict(tmp_path: Path,
                                                                                     make_app: MakeApp) -> None:
    setup = sales_with_a_card(tmp_path / "journal.sqlite3")
    fake, journal, sales, card = setup.fake, setup.journal, setup.pipeline, setup.card
    seen = datetime.fromisoformat(fake.opportunities[card]["date_updated"])
    ids = setup.status_ids
    for n, (frm, to) in enumerate([(ids[0], ids[1]), (ids[1], ids[2])]):
        write(journal, pipeline_id=sales["id"], opportunity_id=card, opportunity_name="X", from_status=frm,
                       to_status=to, made_at=seen + timedelta(seconds=n), base_updated=seen)
    app = app_for(make_app, fake, journal)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await settle(pilot)
        assert [json.loads(r.content)["status_id"] for r in fake.requests if r.method == "PUT"] == [ids[2]]
        assert fake.opportunities[card]["status_id"] == ids[2]
    assert journal.pending() == []


def test_the_board_copy_keeps_each_pipeline_per_account_and_ignores_a_damaged_file(tmp_path: Path) -> None:
    from kanban_tui.models import Opportunity, Pipeline, Status

    path = tmp_path / "state" / "last-board.sqlite3"
    mine, theirs = BoardCopy(path, "close:https://x/#abc"), BoardCopy(path, "close:https://x/#def")
    assert mine.load(None) is None
    sales = Pipeline(id="p1", name="Sales", statuses=(Status(id="a", label="A"), Status(id="b", label="B")))
    hiring = Pipeline(id="p2", name="Hiring", statuses=(Status(id="c", label="C"),))
    card = Opportunity(id="o1", name="Acme", status_id="b", value=500, created=T0, updated=T0, note="call back")
    assert mine.save(sales, [card], T0) is None
    assert mine.save(hiring, [], T0 + timedelta(hours=1)) is None
    saved = mine.load("sales")
    assert saved is not None and saved.pipeline == sales and saved.opportunities == [card] and saved.saved_at == T0
    assert mine.load("p1") == saved and mine.load("P1") is None, "ids exactly, names in any case"
    newest = mine.load(None)
    assert newest is not None and newest.pipeline.name == "Hiring", "none asked for: the last one kept"
    assert theirs.load(None) is None, "another account sees nothing of it"
    assert path.stat().st_mode & 0o077 == 0, "it holds CRM data: readable by the user alone"
    path.write_bytes(b"not a database at all" * 100)
    assert mine.load("Sales") is None
    assert mine.save(sales, [card], T0) is not None, "a copy that cannot be written is said, not raised"


async def test_offline_at_start_opens_the_last_known_board_and_its_moves_reach_close_later(tmp_path: Path,
                                                                                           make_app: MakeApp) -> None:
    fake = FakeClose(KEY)
    fake.seed(sales=40, other=5)
    journal = MoveJournal(tmp_path / "journal.sqlite3", IDENTITY)
    board_copy = BoardCopy(tmp_path / "last-board.sqlite3", IDENTITY)

    app = app_for(make_app, fake, journal, board_copy=True)  # a morning with Close reachable: the board is kept
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BoardScreen) and screen.session.board is not None
        counts = {s.id: screen.session.board.column_len(s.id) for s in screen.session.pipeline.statuses}
    kept = board_copy.load("Sales")
    assert kept is not None and len(kept.opportunities) == sum(counts.values()) > 0

    down = httpx.ConnectError("connection refused")
    fake.fail_next("GET", "", 0, exc=down, times=10**6)
    fake.fail_next("PUT", "", 0, exc=down, times=10**6)
    app = app_for(make_app, fake, journal, board_copy=True)  # the next start, offline
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BoardScreen) and screen.session.copy_of is not None
        assert {s.id: screen.session.board.column_len(s.id) for s in screen.session.pipeline.statuses} == counts
        assert "○ offline · board as of just now" in screen_text(app)
        assert any("Close cannot be reached: this is the board as of" in n for n in notices(app))
        card = screen.focused_id()
        assert card is not None
        await pilot.press("shift+right")
        await settle(pilot)
        assert screen.session.board.badges[card] == "queued" and [m.opportunity_id for m in journal.pending()] == [card]
        copy_board = screen.session.board
        await pilot.press("r")  # still down: the copy stays, focus and all, and no new error pops up
        await settle(pilot)
        assert screen.session.board is copy_board and screen.focused_id() == card
        assert not any("Could not open the board" in n for n in notices(app))

        fake._failures.clear()  # Close answers again: its board replaces the copy, the move goes out
        await pilot.press("r")
        await settle(pilot)
        await settle(pilot)
        second = screen.session.pipeline.statuses[1].id
        assert screen.session.copy_of is None
        assert fake.opportunities[card]["status_id"] == second == screen.session.board.shown_status(card)
        assert screen.focused_id() == card, "the focus stays on the card the user was on"
        assert "synced" in screen_text(app).splitlines()[-2]
    assert journal.pending() == []


async def test_several_moves_of_a_card_changed_in_close_get_one_question_and_keep_their_order(
    tmp_path: Path, make_app: MakeApp
) -> None:
    from kanban_tui.screens.conflict import ResolveConflict

    for key in ("k", "t"):
        setup = sales_with_a_card(tmp_path / key / "journal.sqlite3")
        fake, journal, sales, card = setup.fake, setup.journal, setup.pipeline, setup.card
        ids = setup.status_ids
        seen = datetime.fromisoformat(fake.opportunities[card]["date_updated"])
        for n, (frm, to) in enumerate([(ids[0], ids[1]), (ids[1], ids[2])]):
            write(journal, pipeline_id=sales["id"], opportunity_id=card, opportunity_name="X", from_status=frm,
                           to_status=to, made_at=seen + timedelta(seconds=n), base_updated=seen)
        fake.teammate_move(card, ids[3])  # changed in Close after both moves were made offline
        app = app_for(make_app, fake, journal)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await settle(pilot)
            assert isinstance(app.screen, ResolveConflict)
            assert sum(isinstance(s, ResolveConflict) for s in app.screen_stack) == 1, "one question for the card"
            labels = [s["label"] for s in sales["statuses"]]
            # the user's own path; the answer is about where they put it last
            assert f"{labels[0]} → {labels[1]} → {labels[2]} (2 moves, last" in screen_text(app)
            await pilot.press(key)
            await settle(pilot)
            await settle(pilot)
            sent = [json.loads(r.content)["status_id"] for r in fake.requests if r.method == "PUT"]
            screen = next(s for s in app.screen_stack if isinstance(s, BoardScreen))
            if key == "k":
                assert sent == [ids[2]], "the user's latest intent, once"
                assert fake.opportunities[card]["status_id"] == ids[2] == screen.session.board.shown_status(card)
            else:
                assert sent == [] and fake.opportunities[card]["status_id"] == ids[3]
                assert screen.session.board.shown_status(card) == ids[3]
        assert journal.pending() == []
