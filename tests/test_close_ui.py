"""The board on Close data, driven with Pilot against the fake Close server."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from kanban_tui.app import KanbanApp
from kanban_tui.backends.close import CloseBackend
from kanban_tui.config import Settings
from kanban_tui.models import StatusKind
from kanban_tui.screens.board import BoardScreen
from kanban_tui.screens.confirm import ConfirmMove
from kanban_tui.screens.picker import PipelinePicker

from .fakes.close import FakeClose
from .helpers import MakeApp, focused_card, notices, screen_text, settle

KEY = "test-close-key"
SIZE = (120, 36)


class Sleeps:
    """asyncio.sleep stand-in: returns at once, or waits for `release` while `hold` is set."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.hold = False
        self.release = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.hold:
            await self.release.wait()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def app_for(make_app: MakeApp, fake_close: FakeClose, sleeps: Sleeps, **settings: object) -> KanbanApp:
    backend = CloseBackend(
        KEY, base_url="https://api.close.com/api/v1/", transport=httpx.MockTransport(fake_close.handler), sleep=sleeps
    )
    return make_app(backend, Settings(**settings))  # type: ignore[arg-type]


def board_of(app: KanbanApp) -> BoardScreen:
    screen = next(s for s in app.screen_stack if isinstance(s, BoardScreen))
    return screen


def puts(fake_close: FakeClose) -> list[tuple[str, dict]]:
    return [(r.url.path, json.loads(r.content)) for r in fake_close.requests if r.method == "PUT"]


async def open_sales(app: KanbanApp, pilot) -> BoardScreen:
    await settle(pilot)
    assert isinstance(app.screen, PipelinePicker), "two pipelines and none configured: ask"
    await pilot.press("s", "a", "l", "enter")
    await settle(pilot)
    return board_of(app)


async def test_the_sales_pipeline_opens_with_its_statuses_in_order(fake_close: FakeClose, sleeps: Sleeps,
                                                                   make_app: MakeApp) -> None:
    app = app_for(make_app, fake_close, sleeps)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sales(app, pilot)
        raw = next(p for p in fake_close.pipelines if p["name"] == "Sales")
        assert [c.status.label for c in screen.columns] == [s["label"] for s in raw["statuses"]]
        text = screen_text(app)
        assert "Close · Sales" in text and "120 deals" in text and "exp " in text
        first = screen.columns[0].status.id
        count = sum(1 for o in fake_close.opportunities.values() if o["status_id"] == first)
        assert f" {count:,} " in text.splitlines()[1], "the first column's count beside its label"
        assert screen.focused_id() is not None


async def test_p_switches_to_another_pipeline(fake_close: FakeClose, sleeps: Sleeps, make_app: MakeApp) -> None:
    app = app_for(make_app, fake_close, sleeps)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sales(app, pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PipelinePicker)
        await pilot.press("p", "a", "r", "enter")
        await settle(pilot)
        other = next(p for p in fake_close.pipelines if p["name"] != "Sales")
        assert [c.status.label for c in screen.columns] == [s["label"] for s in other["statuses"]]
        assert "40 deals" in screen_text(app)


async def test_a_configured_pipeline_opens_without_asking(fake_close: FakeClose, sleeps: Sleeps,
                                                          make_app: MakeApp) -> None:
    app = app_for(make_app, fake_close, sleeps, pipeline="sales")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen) and board_of(app).session.pipeline.name == "Sales"


async def test_moving_into_won_asks_first_and_then_puts_the_status(fake_close: FakeClose, sleeps: Sleeps,
                                                                   make_app: MakeApp) -> None:
    app = app_for(make_app, fake_close, sleeps, pipeline="Sales")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        negotiation = next(i for i, c in enumerate(screen.columns) if c.status.label == "Negotiation")
        screen.activate(negotiation)
        screen.columns[negotiation].cards.set_cursor(0)
        card = focused_card(screen)
        await pilot.press("shift+right")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmMove) and puts(fake_close) == []
        assert "This marks the deal won in Close, and Close records today as its won date." in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        won = next(s for s in screen.session.pipeline.statuses if s.kind is StatusKind.WON)
        assert puts(fake_close) == [(f"/api/v1/opportunity/{card}/", {"status_id": won.id})]
        assert fake_close.opportunities[card]["date_won"] is not None
        assert screen.session.board.shown_status(card) == won.id and screen.focused_id() == card


async def test_the_confirmation_can_be_turned_off(fake_close: FakeClose, sleeps: Sleeps, make_app: MakeApp) -> None:
    app = app_for(make_app, fake_close, sleeps, pipeline="Sales", confirm_final_moves=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        screen.activate(len(screen.columns) - 3)  # the last open status, next to Won
        screen.active_column.cards.set_cursor(0)
        await pilot.press("shift+right")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmMove) and len(puts(fake_close)) == 1


async def test_a_refused_move_goes_back_and_says_why(fake_close: FakeClose, sleeps: Sleeps, make_app: MakeApp) -> None:
    app = app_for(make_app, fake_close, sleeps, pipeline="Sales")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        card = focused_card(screen)
        first = screen.columns[0].status.id
        fake_close.fail_next("PUT", "opportunity/", 400, json={"errors": [],
                                                               "field-errors": {"status_id": "Locked deal."}})
        await pilot.press("shift+right")
        await settle(pilot)
        assert screen.session.board.shown_status(card) == first and screen.focused_id() == card
        assert fake_close.opportunities[card]["status_id"] == first
        messages = notices(app)
        assert any("Close 400: status_id: Locked deal." in m and "went back" in m for m in messages)


async def test_a_500_on_a_move_is_survived(fake_close: FakeClose, sleeps: Sleeps, make_app: MakeApp) -> None:
    app = app_for(make_app, fake_close, sleeps, pipeline="Sales")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        card = focused_card(screen)
        second = screen.columns[1].status.id
        fake_close.fail_next("PUT", "opportunity/", 500, json={"error": "oops"})
        await pilot.press("shift+right")
        await settle(pilot)
        # a failed write while reads work: this move alone is retried later, and its card says so
        assert fake_close.opportunities[card]["status_id"] != second and screen.session.board.badges[card] == "retrying"
        screen.update_status()
        await pilot.pause()
        assert "1 retrying · ✓ synced" in screen_text(app), "not offline: Close answers"
        await pilot.press("r")  # try now
        await settle(pilot)
        assert fake_close.opportunities[card]["status_id"] == second and not screen.session.board.is_pending(card)


async def test_a_teammates_move_arrives_through_the_poller_without_moving_the_focus(
    fake_close: FakeClose, sleeps: Sleeps, make_app: MakeApp
) -> None:
    app = app_for(make_app, fake_close, sleeps, pipeline="Sales")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        await pilot.press("j")
        focused = screen.focused_id()
        other = screen.session.board.column_ids(screen.columns[2].status.id)[0]
        lost = next(s for s in screen.session.pipeline.statuses if s.kind is StatusKind.LOST)
        fake_close.teammate_move(other, lost.id)
        await pilot.press("r")
        await settle(pilot)
        assert screen.session.board.shown_status(other) == lost.id
        assert screen.focused_id() == focused


async def test_the_status_bar_says_when_the_board_waits_on_the_rate_limit(fake_close: FakeClose, sleeps: Sleeps,
                                                                          make_app: MakeApp) -> None:
    app = app_for(make_app, fake_close, sleeps, pipeline="Sales")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        sleeps.hold = True
        fake_close.fail_next("GET", "opportunity/", 429, headers={"Retry-After": "30"})
        await pilot.press("r")
        for _ in range(20):
            await pilot.pause(0.05)
            if sleeps.calls:
                break
        board_of(app).update_status()
        await pilot.pause()
        assert "waiting 30s on the Close rate limit" in screen_text(app)
        sleeps.release.set()
        await settle(pilot)
        board_of(app).update_status()
        await pilot.pause()
        assert "synced just now" in screen_text(app)


async def test_a_move_close_cannot_take_now_is_queued_and_sent_when_it_answers(fake_close: FakeClose, sleeps: Sleeps,
                                                                               make_app: MakeApp) -> None:
    app = app_for(make_app, fake_close, sleeps, pipeline="Sales")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        card = focused_card(screen)
        first, second = screen.columns[0].status.id, screen.columns[1].status.id
        fake_close.fail_next("PUT", "opportunity/", 503, json={"error": "Service unavailable."})
        await pilot.press("shift+right")
        await settle(pilot)
        assert sleeps.calls == [], "a write is never repeated behind the session's back"
        assert fake_close.opportunities[card]["status_id"] == first
        assert screen.session.board.shown_status(card) == second and screen.session.board.badges[card] == "queued"
        screen.update_status()
        await pilot.pause()
        text = screen_text(app)
        assert "1 move queued · ○ offline" in text and "Close 503: Service unavailable." in text
        assert any("queued" in line for line in text.splitlines()[4:-3]), "the card says so"
        await pilot.press("r")  # Close answers the poll: the queue drains
        await settle(pilot)
        assert fake_close.opportunities[card]["status_id"] == second
        assert not screen.session.board.is_pending(card) and not screen.session.intents
        screen.update_status()
        await pilot.pause()
        assert "synced just now" in screen_text(app)


async def test_while_the_picker_asks_nothing_claims_to_load(fake_close: FakeClose, sleeps: Sleeps,
                                                            make_app: MakeApp) -> None:
    app = app_for(make_app, fake_close, sleeps)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, PipelinePicker)
        board = board_of(app)
        assert "choose a pipeline" in str(board.query_one("#sync-status").render())
        assert not board.query_one("#progress").display


async def test_a_rejected_key_stays_on_screen_until_r(fake_close: FakeClose, sleeps: Sleeps, make_app: MakeApp) -> None:
    fake_close.api_key = "another-key"
    app = app_for(make_app, fake_close, sleeps, pipeline="Sales")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = board_of(app)
        board.tick()
        await pilot.pause()
        status = str(board.query_one("#sync-status").render())
        assert "Close 401: Close rejected the API key - check CLOSE_API_KEY - press r to retry" in status
        assert "retrying" not in status
        fake_close.api_key = KEY
        await pilot.press("r")
        await settle(pilot)
        assert board.session.phase == "live" and "120 deals" in screen_text(app)


async def test_a_board_that_could_not_open_for_a_5xx_tries_again_by_itself(fake_close: FakeClose, sleeps: Sleeps,
                                                                           make_app: MakeApp) -> None:
    fake_close.fail_next("GET", "pipeline/", 503, times=4)  # the first open's tries, all of them
    app = app_for(make_app, fake_close, sleeps, pipeline="Sales")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = board_of(app)
        assert board.session.phase == "failed" and "retrying in" in str(board.query_one("#sync-status").render())
        board.session.health.next_try = 0  # the retry is due
        board.tick()
        await settle(pilot)
        assert board.session.phase == "live" and "120 deals" in screen_text(app)
