"""The BottleCRM backend against a real BottleCRM 1.35.0 (scripts/bottlecrm-up): what the issue asks of it.

Each test works in a pipeline of its own, made through the API, so they do not disturb each other
or the default pipeline the contract tests use.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import date

import pytest

from kanban_tui.backends import registry
from kanban_tui.backends.bottlecrm import BottleCrmBackend
from kanban_tui.backends.errors import RefusedError
from kanban_tui.models import Pipeline
from kanban_tui.sync import BoardSession

from ..helpers import status_in
from ..test_stage_changes import Clock, Driver
from .conftest import Server


@pytest.fixture
async def backend(server: Server) -> AsyncIterator[BottleCrmBackend]:
    spec = registry.get("bottlecrm")
    backend = spec.factory(environ={"BOTTLECRM_URL": server.url, "BOTTLECRM_TOKEN": server.token})
    assert isinstance(backend, BottleCrmBackend)
    yield backend
    await backend.aclose()


async def opened(backend: BottleCrmBackend, pipeline_id: str) -> Pipeline:
    return next(p for p in await backend.list_pipelines() if p.id == pipeline_id)


async def test_a_300_deal_pipeline_loads_in_stage_order(server: Server, backend: BottleCrmBackend) -> None:
    made = server.new_pipeline("Load")
    stages = sorted(made["stages"], key=lambda s: s["order"])
    ids = server.add_deals(made, [s["code"] for s in stages], 300)
    pipeline = await opened(backend, made["id"])
    assert [s.id for s in pipeline.statuses] == [s["code"] for s in stages]
    assert [s.label for s in pipeline.statuses] == [s["label"] for s in stages]
    started = time.monotonic()
    pages = [page async for page in backend.load_opportunities(pipeline)]
    took = time.monotonic() - started
    cards = {o.id: o for page in pages for o in page.opportunities}
    assert len(pages) >= 3 and pages[-1].loaded == pages[-1].total == 300
    assert set(cards) == set(ids)
    kanban = server.kanban(made["id"])
    assert list(kanban) == [s["code"] for s in stages], "BottleCRM's own board has the same columns, in order"
    for code, shown in kanban.items():
        assert all(cards[card_id].status_id == code for card_id in shown)
    assert took < 30, f"the load took {took:.1f} s"


async def test_a_deal_moved_through_every_stage_is_seen_in_bottlecrms_own_board(server: Server,
                                                                               backend: BottleCrmBackend) -> None:
    made = server.new_pipeline("Walk")
    [deal_id] = server.add_deals(made, [made["stages"][0]["code"]], 1)
    pipeline = await opened(backend, made["id"])
    card = await backend.fetch_one(pipeline, deal_id)
    assert card is not None
    for status in pipeline.statuses[1:]:
        card = await backend.move(card, status)
        assert card.status_id == status.id
        kanban = server.kanban(made["id"])
        assert [code for code, shown in kanban.items() if deal_id in shown] == [status.id]


async def test_a_change_and_a_deletion_by_another_token_appear_at_the_next_poll(server: Server,
                                                                                backend: BottleCrmBackend) -> None:
    made = server.new_pipeline("Poll")
    kept, doomed = server.add_deals(made, [made["stages"][1]["code"]], 2)
    pipeline = await opened(backend, made["id"])
    cursor = (await backend.changes_since(pipeline, None)).cursor
    loaded = {o.id for page in [p async for p in backend.load_opportunities(pipeline)] for o in page.opportunities}
    assert loaded == {kept, doomed}
    server.call("PATCH", f"/api/opportunities/{kept}/", {"name": f"Renamed \x1b[31m{kept[:6]}",
                                                          "description": "changed by a teammate"})
    server.call("DELETE", f"/api/opportunities/{doomed}/")
    changes = await backend.changes_since(pipeline, cursor)
    assert [o.id for o in changes.upserted] == [kept]
    assert changes.upserted[0].name.startswith("Renamed ") and "\x1b" not in changes.upserted[0].name
    assert changes.upserted[0].note == "changed by a teammate"
    assert changes.removed == [doomed]
    assert (await backend.changes_since(pipeline, changes.cursor)).empty, "reported once"


async def test_a_won_move_sets_closed_on(server: Server, backend: BottleCrmBackend) -> None:
    made = server.new_pipeline("Won")
    [deal_id] = server.add_deals(made, [made["stages"][0]["code"]], 1)
    assert server.call("GET", f"/api/opportunities/{deal_id}/")["opportunity_obj"]["closed_on"] is None
    pipeline = await opened(backend, made["id"])
    card = await backend.fetch_one(pipeline, deal_id)
    assert card is not None
    won = next(s for s in pipeline.statuses if s.kind.value == "won")
    moved = await backend.move(card, won)
    stored = server.call("GET", f"/api/opportunities/{deal_id}/")["opportunity_obj"]
    assert stored["stage"] == won.id and stored["probability"] == 100
    assert stored["closed_on"] is not None and moved.date_won == date.fromisoformat(stored["closed_on"])


async def test_a_move_into_a_stage_deleted_meanwhile_is_refused_with_bottlecrms_message(
        server: Server, backend: BottleCrmBackend) -> None:
    made = server.new_pipeline("Refused")
    [deal_id] = server.add_deals(made, [made["stages"][0]["code"]], 1)
    grown = server.call("POST", f"/api/opportunities/pipelines/{made['id']}/stages/",
                        {"label": "Short lived", "kind": "open"})
    doomed = next(s for s in grown["stages"] if s["label"] == "Short lived")
    pipeline = await opened(backend, made["id"])
    card = await backend.fetch_one(pipeline, deal_id)
    assert card is not None
    server.call("DELETE", f"/api/opportunities/stages/{doomed['id']}/")
    with pytest.raises(RefusedError) as refused:
        await backend.move(card, status_in(pipeline, doomed["code"]))
    assert str(refused.value).startswith("BottleCRM 400: That is not a stage of this deal's pipeline.")
    stored = server.call("GET", f"/api/opportunities/{deal_id}/")["opportunity_obj"]
    assert stored["stage"] == card.status_id, "the deal stayed where it was"


async def test_a_stage_added_and_reordered_in_bottlecrm_appears(server: Server, backend: BottleCrmBackend) -> None:
    """On the board, at the next poll, without pressing p: the new stage in its place, a deal a teammate
    moved into it there, and the user's move not yet sent kept (it lands once sent)."""
    made = server.new_pipeline("Stages")
    first, second = sorted(made["stages"], key=lambda s: s["order"])[:2]
    mine, theirs = server.add_deals(made, [first["code"]], 2)
    clock = Clock()
    session = BoardSession(backend, poll_interval=60, pipeline=made["id"], clock=clock)
    m = Driver(session, clock)
    m.take(session.start())
    await m.run()
    assert session.board is not None and session.board.loaded and set(session.board.card_ids()) == {mine, theirs}
    m.take(session.move(mine, second["code"]))  # its send is held until the poll is over
    grown = server.call("POST", f"/api/opportunities/pipelines/{made['id']}/stages/",
                        {"label": "Demo \x07booked", "kind": "open", "expected_days": 3})
    stages = sorted(grown["stages"], key=lambda s: s["order"])
    wanted = [stages[0], stages[-1], *stages[1:-1]]
    server.call("POST", f"/api/opportunities/pipelines/{made['id']}/stages/reorder/",
                {"stage_ids": [s["id"] for s in wanted]})
    demo = stages[-1]["code"]
    server.call("PATCH", f"/api/opportunities/{theirs}/move/", {"column_id": demo})
    backend.clock = lambda: time.monotonic() + 3600  # "now and then" is now
    updates = await m.poll()
    assert [s.id for s in session.pipeline.statuses] == [s["code"] for s in wanted], "the board's columns"
    assert "\x07" not in session.pipeline.statuses[1].label and "booked" in session.pipeline.statuses[1].label
    assert any(u.rebuild for u in updates)
    assert f"{session.pipeline.name}: stages changed in BottleCRM" in [n.text for u in updates for n in u.notices]
    board = session.board
    assert board.shown_status(theirs) == demo, "the teammate's deal in the new stage"
    assert mine in session.intents and board.shown_status(mine) == second["code"], "the user's move kept"
    await m.run(sends=True)
    assert not session.intents
    assert server.call("GET", f"/api/opportunities/{mine}/")["opportunity_obj"]["stage"] == second["code"]
    assert backend.stages_changed[made["id"]] == session.pipeline
    listed = await opened(backend, made["id"])
    assert [s.id for s in listed.statuses] == [s["code"] for s in wanted]
    later = await m.poll()
    assert not any(u.rebuild for u in later), "reported once"


async def test_me_is_the_tokens_owner(backend: BottleCrmBackend) -> None:
    assert await backend.me() == "Board"
