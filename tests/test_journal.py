"""Never lose a move: the journal, and moves surviving a restart with the CRM unreachable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from kanban_tui.app import KanbanApp
from kanban_tui.backends.close import CloseBackend
from kanban_tui.backends.journal import MoveJournal
from kanban_tui.config import Settings
from kanban_tui.screens.board import BoardScreen

from .fakes.close import FakeClose
from .helpers import screen_text, settle

KEY = "test-close-key"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def record(journal: MoveJournal, opportunity_id: str, to_status: str, minute: int) -> int:
    return journal.record(
        pipeline_id="p", opportunity_id=opportunity_id, opportunity_name=opportunity_id.upper(), from_status="a",
        to_status=to_status, made_at=T0 + timedelta(minutes=minute), base_updated=T0,
    )


def test_the_journal_keeps_moves_in_order_per_account(tmp_path: Path) -> None:
    path = tmp_path / "state" / "journal.sqlite3"
    mine, theirs = MoveJournal(path, "close:https://x/#abc"), MoveJournal(path, "local:/w")
    assert mine.pending() == []
    first, second = record(mine, "o1", "b", 1), record(mine, "o2", "c", 2)
    record(theirs, "o9", "b", 0)
    assert [(m.opportunity_id, m.to_status) for m in mine.pending()] == [("o1", "b"), ("o2", "c")]
    assert mine.pending()[0].made_at == T0 + timedelta(minutes=1) and mine.pending("other") == []
    mine.forget(first)
    assert [m.id for m in MoveJournal(path, mine.identity).pending()] == [second], "on disk, not in memory"
    assert [m.opportunity_id for m in theirs.pending()] == ["o9"]


def test_a_close_identity_names_the_account_without_the_key() -> None:
    one = CloseBackend(KEY, base_url="https://api.close.com/api/v1/")
    other = CloseBackend("another-key", base_url="https://api.close.com/api/v1/")
    assert one.identity != other.identity and KEY not in one.identity and "api.close.com" in one.identity


def app_for(fake: FakeClose, journal: MoveJournal) -> KanbanApp:
    async def no_wait(_: float) -> None:
        return None

    backend = CloseBackend(
        KEY, base_url="https://api.close.com/api/v1/", transport=httpx.MockTransport(fake.handler), sleep=no_wait
    )
    return KanbanApp(backend, settings=Settings(poll_interval=3600, pipeline="Sales"), journal=journal)


async def test_moves_made_while_close_is_down_reach_it_in_order_after_a_restart(tmp_path: Path) -> None:
    fake = FakeClose(KEY)
    fake.seed(sales=60, other=10)
    journal_path = tmp_path / "journal.sqlite3"
    identity = CloseBackend(KEY, base_url="https://api.close.com/api/v1/").identity

    app = app_for(fake, MoveJournal(journal_path, identity))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BoardScreen)
        fake.fail_next("PUT", "opportunity/", 0, exc=httpx.ConnectError("connection refused"), times=1000)
        moved = []
        for _ in range(3):
            moved.append(screen.focused_id())
            await pilot.press("shift+right", "h")
            await settle(pilot)
        assert len(set(moved)) == 3 and all(m in screen.engine.board.held for m in moved)
        screen.update_status()
        await pilot.pause()
        assert "○ offline · 3 moves queued" in screen_text(app)
    # the app is gone (as if killed); nothing reached Close, everything is on disk
    assert [r for r in fake.requests if r.method == "PUT" and r.url.path.endswith("/")]
    assert [m.opportunity_id for m in MoveJournal(journal_path, identity).pending()] == moved
    second = next(p for p in fake.pipelines if p["name"] == "Sales")["statuses"][1]["id"]
    assert all(fake.opportunities[m]["status_id"] != second for m in moved)

    fake._failures.clear()  # Close is back
    start = len(fake.requests)
    app = app_for(fake, MoveJournal(journal_path, identity))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await settle(pilot)
        puts = [r for r in fake.requests[start:] if r.method == "PUT"]
        assert [r.url.path.split("/")[-2] for r in puts] == moved, "sent again, in the order they were made"
        assert all(json.loads(r.content) == {"status_id": second} for r in puts)
        assert all(fake.opportunities[m]["status_id"] == second for m in moved)
        assert any("Sending 3 moves saved from last time" in n.message for n in app._notifications)
    assert MoveJournal(journal_path, identity).pending() == []


async def test_a_journaled_move_of_a_card_deleted_meanwhile_is_dropped_and_said(tmp_path: Path) -> None:
    fake = FakeClose(KEY)
    fake.seed(sales=20, other=5)
    identity = CloseBackend(KEY, base_url="https://api.close.com/api/v1/").identity
    journal = MoveJournal(tmp_path / "journal.sqlite3", identity)
    sales = next(p for p in fake.pipelines if p["name"] == "Sales")
    gone = next(i for i, o in fake.opportunities.items() if o["pipeline_id"] == sales["id"])
    journal.record(
        pipeline_id=sales["id"], opportunity_id=gone, opportunity_name="Gone Co", from_status="x",
        to_status=sales["statuses"][2]["id"], made_at=T0, base_updated=T0,
    )
    fake.delete_opportunity(gone)
    app = app_for(fake, journal)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await settle(pilot)
        assert any("Gone Co" in n.message and "dropped" in n.message for n in app._notifications)
        assert not [r for r in fake.requests if r.method == "PUT"]
    assert journal.pending() == []


async def test_a_card_changed_in_close_since_the_move_asks_keep_or_take(tmp_path: Path) -> None:
    from kanban_tui.screens.conflict import ResolveConflict

    for key, expected in (("t", "theirs"), ("k", "mine")):
        fake = FakeClose(KEY)
        fake.seed(sales=20, other=5)
        identity = CloseBackend(KEY, base_url="https://api.close.com/api/v1/").identity
        journal = MoveJournal(tmp_path / f"journal-{key}.sqlite3", identity)
        sales = next(p for p in fake.pipelines if p["name"] == "Sales")
        card = next(i for i, o in fake.opportunities.items() if o["pipeline_id"] == sales["id"])
        mine, theirs = sales["statuses"][2]["id"], sales["statuses"][3]["id"]
        seen = datetime.fromisoformat(fake.opportunities[card]["date_updated"])
        journal.record(
            pipeline_id=sales["id"], opportunity_id=card, opportunity_name="X", from_status=sales["statuses"][0]["id"],
            to_status=mine, made_at=seen, base_updated=seen,
        )
        fake.teammate_move(card, theirs)  # a teammate moved it after the user did, offline
        app = app_for(fake, journal)
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
            assert fake.opportunities[card]["status_id"] == want == screen.engine.board.shown_status(card)
            assert len([r for r in fake.requests if r.method == "PUT"]) == (1 if expected == "mine" else 0)
        assert journal.pending() == []


async def test_two_queued_moves_of_one_card_are_not_a_conflict_with_each_other(tmp_path: Path) -> None:
    fake = FakeClose(KEY)
    fake.seed(sales=20, other=5)
    identity = CloseBackend(KEY, base_url="https://api.close.com/api/v1/").identity
    journal = MoveJournal(tmp_path / "journal.sqlite3", identity)
    sales = next(p for p in fake.pipelines if p["name"] == "Sales")
    card = next(i for i, o in fake.opportunities.items() if o["pipeline_id"] == sales["id"])
    seen = datetime.fromisoformat(fake.opportunities[card]["date_updated"])
    ids = [s["id"] for s in sales["statuses"]]
    for n, (frm, to) in enumerate([(ids[0], ids[1]), (ids[1], ids[2])]):
        journal.record(pipeline_id=sales["id"], opportunity_id=card, opportunity_name="X", from_status=frm,
                       to_status=to, made_at=seen + timedelta(seconds=n), base_updated=seen)
    app = app_for(fake, journal)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await settle(pilot)
        assert [json.loads(r.content)["status_id"] for r in fake.requests if r.method == "PUT"] == ids[1:3]
        assert fake.opportunities[card]["status_id"] == ids[2]
    assert journal.pending() == []
