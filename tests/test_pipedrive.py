"""Pipedrive: the backend against the fake Pipedrive (the contract suite runs too, in test_contract.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from kanban_tui.backends import registry
from kanban_tui.backends.errors import AuthError, NotFoundError, RateLimitedError
from kanban_tui.backends.pipedrive import LOST_ID, WON_ID, PipedriveBackend, api_root
from kanban_tui.config import Settings
from kanban_tui.models import Opportunity, Pipeline, StatusKind

from .fakes.base import no_wait
from .fakes.extract_pipedrive_schema import SCHEMA_FILE, SPEC, extract
from .fakes.pipedrive import FakePipedrive, command
from .helpers import MakeApp, screen_text, settle

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Wall:
    """The fake's and the backend's wall clock, moved on by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def fake(wall: Wall) -> FakePipedrive:
    fake = FakePipedrive(clock=wall)
    fake.seed(40, 5)
    return fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def backend(fake: FakePipedrive, clock: Clock, wall: Wall):
    backend = PipedriveBackend(fake.token, transport=httpx.MockTransport(fake.handler), sleep=no_wait, clock=clock,
                               now=wall)
    yield backend
    await backend.aclose()


async def sales(backend: PipedriveBackend) -> Pipeline:
    return next(p for p in await backend.list_pipelines() if p.name == "Sales")


async def load(backend: PipedriveBackend, pipeline: Pipeline) -> dict[str, Opportunity]:
    return {o.id: o for page in [p async for p in backend.load_opportunities(pipeline)] for o in page.opportunities}


def open_card(cards: dict[str, Opportunity]) -> Opportunity:
    return next(c for c in cards.values() if c.status_id not in (WON_ID, LOST_ID))


async def test_columns_are_the_stages_by_order_nr_then_won_and_lost(backend: PipedriveBackend,
                                                                     fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    stages = sorted((s for s in fake.stages if s["pipeline_id"] == int(pipeline.id)), key=lambda s: s["order_nr"])
    assert [s.label for s in pipeline.statuses] == [s["name"] for s in stages] + ["Won", "Lost"]  # the board adds ✓ ✗
    assert [s.kind for s in pipeline.statuses[-2:]] == [StatusKind.WON, StatusKind.LOST]
    assert [s.id for s in pipeline.statuses[-2:]] == [WON_ID, LOST_ID]
    assert pipeline.lost_reasons and pipeline.lost_reasons[0] == "Price"


async def test_cards_carry_value_confidence_days_in_status_and_a_link(backend: PipedriveBackend,
                                                                     fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    cards = await load(backend, pipeline)
    live = [d for d in fake.deals.values() if d["pipeline_id"] == int(pipeline.id)]
    assert set(cards) == {str(d["id"]) for d in live}
    deal = next(d for d in live if d["status"] == "open" and d["value"] and d["probability"] is None)
    card = cards[str(deal["id"])]
    stage = fake.stage(deal["stage_id"])
    assert stage is not None
    assert card.value == round(deal["value"] * 100) and card.currency == deal["currency"]
    assert card.confidence == stage["deal_probability"], "the stage's probability where the deal has none"
    assert card.status_changed == datetime.fromisoformat(deal["stage_change_time"].replace("Z", "+00:00"))
    assert card.url == f"https://fakeco.pipedrive.com/deal/{deal['id']}"
    assert card.owner in ("Ada Park", "user 2")
    won = next(c for c in cards.values() if c.status_id == WON_ID)
    assert won.date_won is not None


async def test_a_deal_not_updated_for_its_stages_days_to_rotten_is_stalled(backend: PipedriveBackend,
                                                                          fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    rotting = next(s for s in fake.stages if s["pipeline_id"] == int(pipeline.id) and s["is_deal_rot_enabled"])
    fresh = fake.add_deal(rotting["id"], "Fresh")
    old = fake.add_deal(rotting["id"], "Old", created=NOW - timedelta(days=rotting["days_to_rotten"], hours=1))
    cards = await load(backend, pipeline)
    assert cards[str(old["id"])].stalled and not cards[str(fresh["id"])].stalled


async def test_moves_to_a_stage_to_won_to_lost_with_a_reason_and_back(backend: PipedriveBackend,
                                                                      fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    cards = await load(backend, pipeline)
    card = open_card(cards)
    stage = next(s for s in pipeline.statuses if s.kind is StatusKind.OPEN and s.id != card.status_id)
    moved = await backend.move(card, stage)
    assert moved.status_id == stage.id and fake.deals[int(card.id)]["stage_id"] == int(stage.id)
    won = await backend.move(moved, pipeline.statuses[-2])
    assert won.status_id == WON_ID and won.date_won == NOW.date()
    assert fake.deals[int(card.id)]["status"] == "won"
    lost = await backend.move(won, pipeline.statuses[-1], lost_reason="Timing")
    assert lost.status_id == LOST_ID and "Timing" in lost.note
    assert fake.deals[int(card.id)]["lost_reason"] == "Timing"
    back = await backend.move(lost, pipeline.statuses[0])
    assert back.status_id == pipeline.statuses[0].id
    assert fake.deals[int(card.id)]["status"] == "open" and fake.deals[int(card.id)]["lost_reason"] is None
    patches = [json.loads(r.content) for r in fake.requests if r.method == "PATCH"]
    assert patches == [{"stage_id": int(stage.id)}, {"status": "won"}, {"status": "lost", "lost_reason": "Timing"},
                       {"stage_id": int(pipeline.statuses[0].id), "status": "open"}]


async def test_a_teammates_won_move_and_a_deletion_appear_at_the_next_poll(backend: PipedriveBackend,
                                                                          fake: FakePipedrive, wall: Wall) -> None:
    pipeline = await sales(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    cards = await load(backend, pipeline)
    first, second = [c for c in cards.values() if c.status_id not in (WON_ID, LOST_ID)][:2]
    wall.now += timedelta(minutes=1)
    fake.teammate_move(first.id, "won")
    fake.delete_deal(second.id)
    changes = await backend.changes_since(pipeline, cursor)
    assert [(o.id, o.status_id) for o in changes.upserted] == [(first.id, WON_ID)]
    assert changes.removed == [second.id]
    again = await backend.changes_since(pipeline, changes.cursor)
    assert again.empty, "each reported once"


async def test_a_deal_moved_to_another_pipeline_leaves_the_board(backend: PipedriveBackend,
                                                                 fake: FakePipedrive, wall: Wall) -> None:
    pipeline = await sales(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    card = open_card(await load(backend, pipeline))
    other = next(s for s in fake.stages if s["pipeline_id"] != int(pipeline.id))
    wall.now += timedelta(minutes=1)
    fake.teammate_move(card.id, str(other["id"]))
    changes = await backend.changes_since(pipeline, cursor)
    assert changes.removed == [card.id] and not changes.upserted


async def test_a_new_stage_is_reported_as_the_pipeline_changed(backend: PipedriveBackend, fake: FakePipedrive,
                                                               clock: Clock, wall: Wall) -> None:
    pipeline = await sales(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    await load(backend, pipeline)
    fake.stages.append(dict(fake.stages[0], id=999, name="Pilot", order_nr=3))
    clock.t += 1000
    changes = await backend.changes_since(pipeline, cursor)
    assert changes.pipeline is not None and "Pilot" in [s.label for s in changes.pipeline.statuses]
    assert changes.pipeline.statuses[-1].id == LOST_ID


async def test_a_warm_start_brings_what_changed_and_was_deleted_since(backend: PipedriveBackend,
                                                                      fake: FakePipedrive, wall: Wall) -> None:
    pipeline = await sales(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    cards = await load(backend, pipeline)
    first, second = [c for c in cards.values() if c.status_id not in (WON_ID, LOST_ID)][:2]
    saved_at = wall.now
    wall.now += timedelta(days=2)
    fake.teammate_move(first.id, "lost", "Price")
    fake.delete_deal(second.id)
    fresh = PipedriveBackend(fake.token, transport=httpx.MockTransport(fake.handler), sleep=no_wait, now=wall)
    try:
        asked = len(fake.requests)
        changes = await fresh.resume(pipeline, list(cards.values()), cursor, saved_at)
        assert changes is not None
        assert [(o.id, o.status_id) for o in changes.upserted] == [(first.id, LOST_ID)]
        assert changes.removed == [second.id]
        assert len(fake.requests) - asked == 1, "one request"
        wall.now += timedelta(days=40)
        assert await fresh.resume(pipeline, list(cards.values()), cursor, saved_at) is None, \
            "older than deleted deals are kept: loaded whole"
    finally:
        await fresh.aclose()


async def test_the_token_goes_in_the_header_never_the_query(backend: PipedriveBackend, fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    await load(backend, pipeline)
    assert fake.requests
    for request in fake.requests:
        assert request.headers["x-api-token"] == fake.token
        assert fake.token not in str(request.url)


async def test_a_rejected_token_is_one_line_naming_the_variable_not_the_token(fake: FakePipedrive) -> None:
    spec = registry.get("pipedrive")
    backend = spec.factory(spec.settings(), {"PIPEDRIVE_API_TOKEN": "secret-wrong-token"},
                           transport=httpx.MockTransport(fake.handler), sleep=no_wait)
    try:
        with pytest.raises(AuthError) as caught:
            await backend.list_pipelines()
    finally:
        await backend.aclose()
    assert "PIPEDRIVE_API_TOKEN" in str(caught.value) and "secret-wrong-token" not in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_the_rate_limit_headers_pace_and_a_429_is_honoured(backend: PipedriveBackend,
                                                                 fake: FakePipedrive) -> None:
    await backend.list_pipelines()
    assert backend.api.rate_limit is not None and backend.api.rate_limit.limit == fake.rate_limit
    fake.rate_remaining = 0
    backend.api.max_wait = 0.5
    with pytest.raises(RateLimitedError) as caught:
        await backend.list_pipelines()
    assert caught.value.retry_after == pytest.approx(2, abs=0.1)


async def test_a_deal_deleted_meanwhile_is_not_found_on_a_move(backend: PipedriveBackend,
                                                              fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    card = open_card(await load(backend, pipeline))
    fake.delete_deal(card.id)
    with pytest.raises(NotFoundError, match="no longer exists"):
        await backend.move(card, pipeline.statuses[-2])


async def test_a_deal_pipedrive_sends_unreadable_is_skipped_and_said(backend: PipedriveBackend,
                                                                      fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    deal = next(d for d in fake.deals.values() if d["pipeline_id"] == int(pipeline.id))
    deal["add_time"] = "yesterday"
    pages = [p async for p in backend.load_opportunities(pipeline)]
    skipped = [line for p in pages for line in p.skipped]
    assert len(skipped) == 1 and str(deal["id"]) in skipped[0]
    assert sum(len(p.opportunities) for p in pages) == sum(
        1 for d in fake.deals.values() if d["pipeline_id"] == int(pipeline.id)) - 1


async def test_hostile_titles_are_made_safe(backend: PipedriveBackend, fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    deal = next(d for d in fake.deals.values() if d["pipeline_id"] == int(pipeline.id))
    deal["title"] = "Evil\x1b]52;c;cm0gLXJmIH4=\x07 deal"
    cards = await load(backend, pipeline)
    assert "\x1b" not in cards[str(deal["id"])].name and "\x07" not in cards[str(deal["id"])].name


def test_a_company_domain_or_a_versioned_path_is_the_api_root() -> None:
    assert api_root("https://acme.pipedrive.com") == "https://acme.pipedrive.com/"
    assert api_root("https://api.pipedrive.com/api/v2/") == "https://api.pipedrive.com/"
    assert api_root("http://127.0.0.1:8769/api/v1") == "http://127.0.0.1:8769/"


async def test_on_a_company_domain_cards_link_there(fake: FakePipedrive) -> None:
    backend = PipedriveBackend(fake.token, base_url="https://acme.pipedrive.com/",
                               transport=httpx.MockTransport(fake.handler), sleep=no_wait, now=lambda: NOW)
    try:
        pipeline = await sales(backend)
        card = next(iter((await load(backend, pipeline)).values()))
    finally:
        await backend.aclose()
    assert card.url == f"https://acme.pipedrive.com/deal/{card.id}"


def test_the_fake_refuses_what_the_description_does_not_declare(fake: FakePipedrive) -> None:
    def get(url: str) -> httpx.Response:
        return fake.handler(httpx.Request("GET", url, headers={"x-api-token": fake.token}))

    assert get("https://api.pipedrive.com/api/v2/deals?limit=501").status_code == 400
    assert get("https://api.pipedrive.com/api/v2/deals?status=open,closed").status_code == 400
    assert get("https://api.pipedrive.com/api/v2/deals?fields=id").status_code == 400
    assert get(f"https://api.pipedrive.com/api/v2/deals?api_token={fake.token}").status_code == 400
    assert get("https://api.pipedrive.com/api/v2/deals?status=open,won&limit=500").status_code == 200


def test_the_fakes_console_moves_to_won_and_lost_and_deletes(fake: FakePipedrive) -> None:
    assert command(fake, "move first won").startswith("moved")
    deal = next(d for d in fake.deals.values() if d["status"] == "open" and d["pipeline_id"] == 1)
    assert command(fake, f"move {deal['id']} lost Too expensive").startswith("moved")
    assert fake.deals[deal["id"]]["lost_reason"] == "Too expensive"
    assert command(fake, "move first Demo Scheduled").startswith("moved")
    assert command(fake, "add Lead_In Brand new").startswith("added")
    assert command(fake, f"delete {deal['id']}") == f"deleted {deal['id']}"
    assert fake.board_status(deal["id"]) is None


@pytest.mark.skipif(not SPEC.exists(), reason="the Pipedrive description is not at hand")
def test_the_extracted_schemas_still_match_the_description() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == json.loads(json.dumps(extract(Path(SPEC).read_text())))


async def test_the_won_and_lost_columns_show_one_glyph_each(fake: FakePipedrive, make_app: MakeApp) -> None:
    """Seen in tmux from the wheel: the header read `✓ ✓ Won` (the label carried the glyph the board adds for a won
    column). The labels are the words; the board draws the ✓ / ✗."""
    backend = PipedriveBackend(fake.token, base_url="https://acme.pipedrive.com/",
                               transport=httpx.MockTransport(fake.handler), sleep=no_wait, now=fake.clock)
    app = make_app(backend, Settings(pipeline="1"))
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "✓ Won" in text and "✗ Lost" in text and "✓ ✓" not in text and "✗ ✗" not in text, text[:400]
