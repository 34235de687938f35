"""Clustr: contract tests against the fake Clustr, and the board on Clustr data."""

from __future__ import annotations

import json

import httpx
import pytest

from kanban_tui.backends.clustr import ASSUMED, ClustrBackend
from kanban_tui.backends.errors import AuthError, BackendError, RefusedError
from kanban_tui.models import StatusKind
from kanban_tui.screens.board import BoardScreen
from kanban_tui.screens.confirm import ConfirmMove

from .fakes.clustr import FakeClustr
from .helpers import MakeApp, focused_card, notices, screen_text, settle

KEY = "test-clustr-key"
BASE = "https://api.clustr-ai.com/api/public/"


async def no_wait(_: float) -> None:
    return None


def make(fake_clustr: FakeClustr, key: str = KEY) -> ClustrBackend:
    return ClustrBackend(key, base_url=BASE, transport=httpx.MockTransport(fake_clustr.handler), sleep=no_wait)


async def test_columns_come_in_position_order_with_their_colors_and_bearer_auth(fake_clustr: FakeClustr) -> None:
    [pipeline] = await make(fake_clustr).list_pipelines()
    assert [s.label for s in pipeline.statuses] == [
        "Assigned", "Contacted", "Meeting Booked", "Proposal Sent", "Not Interested", "Won"
    ], "by position (0, 1, 3, 4, 5, 6), not as stored"
    assert pipeline.statuses[0].color == "#3B82F6"
    kinds = {s.label: s.kind for s in pipeline.statuses}
    assert kinds["Won"] is StatusKind.WON and kinds["Not Interested"] is StatusKind.LOST
    assert kinds["Assigned"] is StatusKind.OPEN
    assert fake_clustr.requests[-1].headers["authorization"] == f"Bearer {KEY}"


async def test_the_list_is_paged_until_has_more_is_false(fake_clustr: FakeClustr) -> None:
    backend = make(fake_clustr)
    [pipeline] = await backend.list_pipelines()
    pages = [page async for page in backend.load_opportunities(pipeline)]
    assert [p.loaded for p in pages] == [100, 200, 250] and pages[0].total == 250
    assert {o.id for p in pages for o in p.opportunities} == set(fake_clustr.opportunities)
    listed = [r for r in fake_clustr.requests if r.url.path.endswith(ASSUMED.LIST_PATH)]
    assert [r.url.params[ASSUMED.PAGE_PARAM] for r in listed] == ["1", "2", "3"]


async def test_a_move_puts_the_status_id_and_a_poll_sees_a_teammates_change(fake_clustr: FakeClustr) -> None:
    backend = make(fake_clustr)
    [pipeline] = await backend.list_pipelines()
    cursor = (await backend.changes_since(pipeline, None)).cursor
    cards = [o for p in [p async for p in backend.load_opportunities(pipeline)] for o in p.opportunities]
    card, target = cards[0], pipeline.statuses[2]
    moved = await backend.move(card, target)
    put = fake_clustr.requests[-1]
    assert put.method == ASSUMED.UPDATE_METHOD and put.url.path == f"/api/public/opportunities/{card.id}"
    assert json.loads(put.content) == {"status_id": target.id} and moved.status_id == target.id
    other = cards[1]
    fake_clustr.teammate_move(other.id, pipeline.statuses[4].id)
    del fake_clustr.opportunities[cards[2].id]
    changes = await backend.changes_since(pipeline, cursor)
    assert [(o.id, o.status_id) for o in changes.upserted] == [(other.id, pipeline.statuses[4].id)]
    assert changes.removed == [cards[2].id]


async def test_errors_say_what_to_do(fake_clustr: FakeClustr) -> None:
    with pytest.raises(AuthError, match="Clustr 401: Clustr rejected the API key - check CLUSTR_API_KEY"):
        await make(fake_clustr, "wrong").list_pipelines()
    fake_clustr.fail_next("GET", "opportunity-statuses", 403, json={"success": False,
                                                                    "error": {"message": "forbidden"}})
    with pytest.raises(AuthError, match="Clustr 403: the API key does not have access"):
        await make(fake_clustr).list_pipelines()
    backend = make(fake_clustr)
    [pipeline] = await backend.list_pipelines()
    card = next(o for p in [p async for p in backend.load_opportunities(pipeline)] for o in p.opportunities)
    fake_clustr.fail_next("PUT", "opportunities/", 400, json={"success": False, "error": {"code": "VALIDATION_ERROR",
                                                                                   "message": "status is locked"}})
    with pytest.raises(RefusedError, match="Clustr 400: status is locked"):
        await backend.move(card, pipeline.statuses[1])
    fake_clustr.fail_next("GET", "opportunity-statuses", 200, json={"success": False,
                                                                    "error": {"message": "tenant paused"}})
    with pytest.raises(BackendError, match="Clustr: tenant paused"):
        await backend.list_pipelines()
    fake_clustr.fail_next("GET", "opportunity-statuses", 200, json={"statuses": []})
    with pytest.raises(BackendError, match="envelope"):
        await backend.list_pipelines()


def test_a_missing_key_exits_2_naming_the_variable(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from kanban_tui.cli import main

    monkeypatch.delenv("CLUSTR_API_KEY", raising=False)
    assert main(["--backend", "clustr"]) == 2
    assert "CLUSTR_API_KEY" in capsys.readouterr().err


async def test_the_board_on_clustr_moves_asks_before_a_terminal_status_and_polls(fake_clustr: FakeClustr,
                                                                                 make_app: MakeApp) -> None:
    app = make_app(make(fake_clustr))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BoardScreen) and "Clustr" in screen_text(app) and "250 deals" in screen_text(app)
        assert [c.status.label for c in screen.columns][:2] == ["Assigned", "Contacted"]
        card = focused_card(screen)
        await pilot.press("shift+right")
        await settle(pilot)
        assert fake_clustr.opportunities[card]["status_id"] == screen.columns[1].status.id
        screen.activate(3)  # Proposal Sent: next is Not Interested, a terminal status
        screen.columns[3].cards.set_cursor(0)
        await pilot.press("shift+right")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmMove)
        await pilot.press("n")
        other = next(i for i in fake_clustr.opportunities if i != card)
        fake_clustr.teammate_move(other, fake_clustr.status_named("Won")["id"])
        await pilot.press("r")
        await settle(pilot)
        assert screen.session.board.shown_status(other) == fake_clustr.status_named("Won")["id"]
        fake_clustr.fail_next("PUT", "opportunities/", 400, json={"success": False, "error": {"message": "locked"}})
        screen.activate(0)
        screen.columns[0].cards.set_cursor(0)
        refused = focused_card(screen)
        await pilot.press("shift+right")
        await settle(pilot)
        assert screen.session.board.shown_status(refused) == screen.columns[0].status.id
        assert any("Clustr 400: locked" in n for n in notices(app))


async def test_fetch_one_is_one_get_of_the_opportunity(fake_clustr: FakeClustr) -> None:
    backend = make(fake_clustr)
    [pipeline] = await backend.list_pipelines()
    some = next(iter(fake_clustr.opportunities))
    fake_clustr.teammate_move(some, fake_clustr.status_named("Won")["id"])
    start = len(fake_clustr.requests)
    found = await backend.fetch_one(pipeline, some)
    assert found is not None and found.id == some and found.status_id == fake_clustr.status_named("Won")["id"]
    [get] = fake_clustr.requests[start:]
    assert get.method == "GET" and get.url.path == "/api/public/" + ASSUMED.GET_PATH.format(id=some)
    del fake_clustr.opportunities[some]
    assert await backend.fetch_one(pipeline, some) is None


async def test_a_poll_after_a_move_reports_nothing_new_for_the_moved_card(fake_clustr: FakeClustr) -> None:
    backend = make(fake_clustr)
    [pipeline] = await backend.list_pipelines()
    cursor = (await backend.changes_since(pipeline, None)).cursor
    cards = [o for p in [p async for p in backend.load_opportunities(pipeline)] for o in p.opportunities]
    await backend.move(cards[0], pipeline.statuses[3])
    assert (await backend.changes_since(pipeline, cursor)).empty, "the move's answer is what is held"
