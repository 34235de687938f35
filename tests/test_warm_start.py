"""Issue 15: the saved board opens first, then only what changed (warm start); a cold start shows
every column's first screen before the rest (progressive)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from kanban_tui import factory
from kanban_tui.backends.demo_data import DEMO_PIPELINE, demo_opportunities
from kanban_tui.store.board_copy import BoardCopy


def test_the_saved_board_keeps_its_cursor_and_an_older_copy_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "last-board.sqlite3"
    with closing(sqlite3.connect(path)) as conn, conn:  # a copy written by the version before cursors
        conn.execute("CREATE TABLE boards (identity TEXT NOT NULL, pipeline_id TEXT NOT NULL, pipeline_name TEXT NOT"
                     " NULL, saved_at TEXT NOT NULL, pipeline TEXT NOT NULL, opportunities TEXT NOT NULL,"
                     " PRIMARY KEY (identity, pipeline_id))")
        conn.execute("INSERT INTO boards VALUES ('acct', 'pipe_sales', 'Sales', ?, ?, '[]')",
                     (datetime.now(UTC).isoformat(), DEMO_PIPELINE.model_dump_json()))
    copy = BoardCopy(path, "acct")
    old = copy.load("Sales")
    assert old is not None and old.cursor is None and old.opportunities == []
    cards = demo_opportunities(5)
    assert copy.save(DEMO_PIPELINE, cards, datetime.now(UTC), cursor="2026-11-23T09:00:00+00:00") is None
    saved = copy.load("pipe_sales")
    assert saved is not None and saved.cursor == "2026-11-23T09:00:00+00:00" and saved.opportunities == cards


async def test_the_local_first_screen_gives_each_columns_exact_count_totals_and_newest_cards(tmp_path: Path) -> None:
    from kanban_tui.backends.local import LocalBackend, create_workspace
    from kanban_tui.sync.board import Board

    path = tmp_path / "w.sqlite3"
    create_workspace(path, demo_size=2000)
    backend = LocalBackend(path)
    pipeline = (await backend.list_pipelines())[0]
    starts = await backend.first_screen(pipeline, 9)
    whole = Board(pipeline)
    async for page in backend.load_opportunities(pipeline):
        whole.add(page.opportunities)
    assert [s.status_id for s in starts] == [s.id for s in pipeline.statuses]
    for start in starts:
        summary = whole.summary(start.status_id)
        assert start.count == summary.count
        assert start.totals == summary.totals and list(start.totals) == list(summary.totals), "main currency first"
        assert start.weighted == summary.weighted and start.recurring == summary.annualized
        assert [o.id for o in start.cards] == whole.column_ids(start.status_id, 0, 9), "newest first, as the board"


# -- against the fake Close ---------------------------------------------------------------------------------

import asyncio  # noqa: E402
from datetime import timedelta  # noqa: E402

import httpx  # noqa: E402

from kanban_tui.app import KanbanApp  # noqa: E402
from kanban_tui.backends.close import CloseBackend  # noqa: E402
from kanban_tui.config import Settings  # noqa: E402

from .fakes.close import FakeClose  # noqa: E402
from .helpers import MakeApp, board_on_top, screen_text, settle  # noqa: E402

KEY = "test-close-key"


class Gate:
    """In front of the fake: holds every request while `held` is clear (to see the board before Close answers)."""

    def __init__(self, fake: FakeClose) -> None:
        self.fake = fake
        self.open = asyncio.Event()
        self.open.set()

    async def handler(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/me/"):
            await self.open.wait()
        return self.fake.handler(request)


def app_on(make_app: MakeApp, gate: Gate) -> KanbanApp:
    """The board of the fake Close's Sales pipeline behind `gate`, keeping its board copy (in the test's state dir)."""
    backend = CloseBackend(KEY, base_url="https://api.close.com/api/v1/", transport=httpx.MockTransport(gate.handler))
    return make_app(backend, Settings(pipeline="Sales"), board_copy=True)


def whole_page(request: str) -> bool:
    """A page of a whole load of the pipeline (not the delta query, not a column's first screen)."""
    return "status_id__in=" in request and "date_updated__gt" not in request


def data_requests(fake: FakeClose, since: int) -> list[str]:
    return [f"{r.method} {r.url.path}?{r.url.query.decode()}" for r in fake.requests[since:]
            if not r.url.path.endswith("/me/")]


async def test_a_warm_start_shows_the_saved_board_then_only_what_changed(make_app: MakeApp) -> None:
    fake = FakeClose(KEY)
    fake.seed(sales=300, other=20)
    gate = Gate(fake)
    async with app_on(make_app, gate).run_test(size=(120, 36)) as pilot:  # the first start: a cold load
        await settle(pilot)
    sales = next(p for p in fake.pipelines if p["name"] == "Sales")
    statuses = [s["id"] for s in sales["statuses"]]
    ours = [o for o in fake.opportunities.values() if o["status_id"] in statuses]
    moved, deleted = ours[0], ours[1]
    target = next(s for s in statuses if s != moved["status_id"])
    fake.teammate_move(moved["id"], target)  # while the app was closed
    fake.delete_opportunity(deleted["id"], api=True)
    added = fake.add_opportunity(statuses[0], lead_name="Brand New Co")

    gate.open.clear()
    app = app_on(make_app, gate)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.pause(0.2)
        board = board_on_top(app).session.board
        assert board is not None and len(board) == len(ours), "the saved board, at once, before Close answers"
        assert "refreshing" in screen_text(app).splitlines()[-2] and "as of" in screen_text(app).splitlines()[-2]
        start = len(fake.requests)
        gate.open.set()
        await settle(pilot)
        await settle(pilot)
        board = board_on_top(app).session.board
        assert board is not None
        assert board.shown_status(moved["id"]) == target, "moved while closed"
        assert added["id"] in board, "added while closed"
        assert deleted["id"] not in board, "deleted while closed: gone"
        assert "✓ synced" in screen_text(app).splitlines()[-2]
        asked = data_requests(fake, start)
        assert len(asked) <= 3, asked
        assert not any(whole_page(r) for r in asked), asked


async def test_a_saved_board_older_than_the_event_log_keeps_is_loaded_whole(state_dir: Path, make_app: MakeApp) -> None:
    fake = FakeClose(KEY)
    fake.seed(sales=150, other=0)
    gate = Gate(fake)
    async with app_on(make_app, gate).run_test(size=(120, 36)) as pilot:
        await settle(pilot)
    with closing(sqlite3.connect(state_dir / factory.BOARD_COPY)) as conn, conn:
        conn.execute("UPDATE boards SET saved_at = ?", ((datetime.now(UTC) - timedelta(days=40)).isoformat(),))
    app = app_on(make_app, gate)
    start = len(fake.requests)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await settle(pilot)
        asked = data_requests(fake, start)
        assert any(whole_page(r) for r in asked), "loaded whole: the log does not reach that far back"
        board = board_on_top(app).session.board
        assert board is not None and len(board) == 150 and "✓ synced" in screen_text(app).splitlines()[-2]


async def test_a_cold_load_whose_later_pages_fail_shows_every_column_first_screen_and_what_is_missing(
    make_app: MakeApp,
) -> None:
    fake = FakeClose(KEY)
    fake.seed(sales=1000, other=0)

    def handler(request: httpx.Request) -> httpx.Response:
        if "_skip=" in str(request.url) and "_skip=0" not in str(request.url):
            return httpx.Response(503, json={"error": "Service unavailable."})
        return fake.handler(request)

    backend = CloseBackend(KEY, base_url="https://api.close.com/api/v1/", transport=httpx.MockTransport(handler))
    app = make_app(backend, Settings(pipeline="Sales"))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = board_on_top(app)
        board = screen.session.board
        assert board is not None
        sales = next(p for p in fake.pipelines if p["name"] == "Sales")
        text = screen_text(app)
        for status in sales["statuses"]:
            whole = sum(1 for o in fake.opportunities.values() if o["status_id"] == status["id"])
            assert board.summary(status["id"]).count == whole, "the header counts the whole column"
            assert board.column_len(status["id"]) >= min(whole, screen.session.screenful), "its first screen"
        assert f"{len(board)} of 1,000 loaded" in text.splitlines()[-2], text.splitlines()[-2]
        assert "≈" in text.splitlines()[2], "Close's aggregate, marked as such while the cards load"


# -- orders of events a review found (each failed before its fix) ------------------------------------------


def _session(tmp_path: Path, journal: bool = False):
    from kanban_tui.store.journal import MoveJournal
    from kanban_tui.sync.session import BoardSession

    from .test_session_states import T0, FakeCrm

    clock = [1000.0]
    session = BoardSession(FakeCrm(), poll_interval=10, board_copy=BoardCopy(tmp_path / "c.sqlite3", "a"),
                           journal=MoveJournal(tmp_path / "j.sqlite3", "a") if journal else None,
                           clock=lambda: clock[0], now=lambda: T0 + timedelta(seconds=clock[0]))
    return session, clock


def _saved():
    from kanban_tui.models import Opportunity
    from kanban_tui.store.board_copy import SavedBoard

    from .test_session_states import PIPELINE, T0

    cards = [Opportunity(id=f"c{i}", name=f"C{i}", status_id="lead", created=T0, updated=T0) for i in range(3)]
    return SavedBoard(PIPELINE, cards, T0, cursor="0")


def test_a_listing_that_fails_before_the_saved_board_is_read_does_not_leave_the_board_stuck(tmp_path: Path) -> None:
    from kanban_tui.backends.errors import UnavailableError
    from kanban_tui.sync.protocol import CopyRead, PipelinesFailed, Recalled
    from kanban_tui.widgets.status_bar import status_line

    session, clock = _session(tmp_path)
    session.start()
    session.handle(PipelinesFailed(UnavailableError("boom", crm="Fake", status_code=500), False))
    session.handle(CopyRead(0, _saved(), None, Recalled(0, None, {})))
    assert "refreshing" not in status_line(session.snapshot())[0], "it says what failed"
    jobs = []
    for _ in range(60):
        clock[0] += 10
        jobs += session.tick().jobs
    assert jobs, "tried again by itself (it was left busy forever, nothing polled)"


def test_an_offline_copy_keeps_the_boards_preferences_and_what_was_seen_with_moves_waiting(tmp_path: Path) -> None:
    from kanban_tui.backends.errors import UnavailableError
    from kanban_tui.store.journal import JournaledMove
    from kanban_tui.sync.protocol import CopyRead, LoadFailed, Recalled

    from .test_session_states import PIPELINE, T0

    session, clock = _session(tmp_path, journal=True)
    session.open(PIPELINE)
    row = JournaledMove(seq=1, pipeline_id="p", opportunity_id="c1", opportunity_name="C1", from_status="lead",
                        to_status="qual", made_at=T0, base_updated=T0)
    prefs = {"sort": "value", "hidden": ["won"], "owner": "Ann"}
    seen: dict[str, tuple[str, int | None, str]] = {"c0": ("lead", None, "C0")}
    session.handle(Recalled(session.gen, [row], prefs, seen=seen))
    error = UnavailableError("cannot connect", crm="Fake")
    session.handle(LoadFailed(session.gen, error))
    session.handle(CopyRead(session.gen, _saved(), error, Recalled(session.gen, [row], prefs, seen=seen)))
    board = session.board
    assert board is not None and board.sort == "value" and session.hidden == {"won"} and board.owner == "Ann"
    assert board.seen == seen, "what the user last saw is not lost (it was overwritten at the next load)"
    assert list(session.intents) == ["c1"], "the move once"
    session.close()
