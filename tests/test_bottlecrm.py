"""BottleCRM: the backend against the fake BottleCRM (the contract suite runs too, in test_contract.py)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from kanban_tui.backends import registry
from kanban_tui.backends.bottlecrm import (
    ACTIVITY_LIMIT,
    BottleCrmBackend,
    fingerprint,
    minor_units,
)
from kanban_tui.backends.errors import AuthError, NotFoundError, RefusedError
from kanban_tui.backends.settings import BottleCrmSettings
from kanban_tui.models import Pipeline, StatusKind

from .fakes.base import no_wait
from .fakes.bottlecrm import FakeBottleCrm
from .helpers import status_in

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
URL = "http://127.0.0.1:8000"


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def backend(fake_bottlecrm: FakeBottleCrm, clock: Clock):
    backend = BottleCrmBackend(fake_bottlecrm.token, base_url=URL,
                               transport=httpx.MockTransport(fake_bottlecrm.handler), sleep=no_wait,
                               clock=clock, now=lambda: NOW)
    yield backend
    await backend.aclose()


async def sales(backend: BottleCrmBackend) -> Pipeline:
    return next(p for p in await backend.list_pipelines() if p.name == "Sales")


async def load(backend: BottleCrmBackend, pipeline: Pipeline) -> dict:
    return {o.id: o for page in [p async for p in backend.load_opportunities(pipeline)] for o in page.opportunities}


def paths(fake_bottlecrm: FakeBottleCrm) -> list[str]:
    return [f"{r.method} {r.url.path}" for r in fake_bottlecrm.requests]


async def test_stages_are_columns_in_bottlecrm_order_with_their_kinds(backend: BottleCrmBackend,
                                                                      fake_bottlecrm: FakeBottleCrm) -> None:
    pipelines = await backend.list_pipelines()
    assert [p.name for p in pipelines] == ["Sales", "Partners"], "the default pipeline first"
    statuses = pipelines[0].statuses
    assert [s.id for s in statuses] == ["PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION", "CLOSED_WON",
                                        "CLOSED_LOST"]
    assert [s.kind for s in statuses][-2:] == [StatusKind.WON, StatusKind.LOST]
    assert all(s.color is None for s in statuses), "BottleCRM has no stage colour: the UI picks one"


async def test_hostile_text_in_names_notes_and_stage_labels_is_made_safe(backend: BottleCrmBackend,
                                                                         fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline_id = fake_bottlecrm.pipelines[0]["id"]
    fake_bottlecrm.pipelines[0]["stages"][0]["label"] = "Pro\x07spect\x1b[2J"
    deal = fake_bottlecrm.add_deal(pipeline_id, "PROSPECTING", name="Evil \x1b[31mCorp\x1b]8;;http://x\x07 \u202eevil",
                         description="line one\nline \x1b[1mtwo\x9b", account="Acme\rLtd")
    pipeline = await sales(backend)
    assert "\x07" not in pipeline.statuses[0].label and "\x1b" not in pipeline.statuses[0].label
    card = (await load(backend, pipeline))[deal["id"]]
    for text in (card.name, card.note, card.contact):
        assert text is not None and not any(c in text for c in "\x1b\x07\x9b\r\u202e")
    assert "\n" in card.note, "a note keeps its line breaks"
    assert card.id == deal["id"], "ids go back to BottleCRM as sent"


async def test_a_move_into_won_sets_closed_on_and_the_probability(backend: BottleCrmBackend,
                                                                  fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline = await sales(backend)
    cards = await load(backend, pipeline)
    card = next(c for c in cards.values() if c.status_id == "PROPOSAL" and c.value and not c.date_won
                and fake_bottlecrm.deals[c.id]["closed_on"] is None)
    moved = await backend.move(card, status_in(pipeline, "CLOSED_WON"))
    assert moved.status_id == "CLOSED_WON" and moved.confidence == 100
    assert fake_bottlecrm.deals[card.id]["closed_on"] == NOW.date().isoformat()
    assert moved.date_won == NOW.date()
    assert moved.note == card.note, "the move's answer has no notes: the card keeps its own"
    assert moved.updated > card.updated


async def test_a_move_to_a_stage_deleted_meanwhile_is_refused_with_bottlecrms_words(
    backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm
) -> None:
    sales_id = fake_bottlecrm.pipelines[0]["id"]
    fake_bottlecrm._stages(sales_id, False, {"label": "Demo booked", "kind": "open"})
    pipeline = await sales(backend)
    assert pipeline.status("DEMO_BOOKED") is not None
    stage_id = next(s["id"] for s in fake_bottlecrm.pipelines[0]["stages"] if s["code"] == "DEMO_BOOKED")
    assert fake_bottlecrm._delete_stage(stage_id)[0] == 204
    card = next(iter((await load(backend, pipeline)).values()))
    with pytest.raises(RefusedError) as refused:
        await backend.move(card, status_in(pipeline, "DEMO_BOOKED"))
    assert refused.value.status_code == 400
    assert str(refused.value).startswith("BottleCRM 400: That is not a stage of this deal's pipeline.")
    assert fake_bottlecrm.deals[card.id]["stage"] == card.status_id, "nothing moved"


async def test_a_won_move_of_a_deal_without_an_amount_is_refused(backend: BottleCrmBackend,
                                                                 fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline = await sales(backend)
    card = next(c for c in (await load(backend, pipeline)).values() if c.value is None and c.status_id != "CLOSED_WON")
    with pytest.raises(RefusedError, match="A won deal has to record what it was worth"):
        await backend.move(card, status_in(pipeline, "CLOSED_WON"))


async def test_a_move_of_a_deleted_deal_is_not_found(backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline = await sales(backend)
    card = next(iter((await load(backend, pipeline)).values()))
    fake_bottlecrm.delete_deal(card.id)
    with pytest.raises(NotFoundError, match="no longer exists in BottleCRM"):
        await backend.move(card, status_in(pipeline, "NEGOTIATION"))


async def test_stalled_follows_expected_days_and_days_in_stage_come_from_stage_changed_at(
        backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    sales_id = fake_bottlecrm.pipelines[0]["id"]
    # PROSPECTING expects 14 days: red (rotting) at ceil(14 * 1.5) = 21 whole days
    rotting = fake_bottlecrm.add_deal(sales_id, "PROSPECTING", name="Rotting", stage_changed=NOW - timedelta(days=21,
                                                                                                             hours=1))
    fresh = fake_bottlecrm.add_deal(sales_id, "PROSPECTING", name="Fresh", stage_changed=NOW - timedelta(days=20,
                                                                                                         hours=23))
    won = fake_bottlecrm.add_deal(sales_id, "CLOSED_WON", name="Won long ago", stage_changed=NOW - timedelta(days=400))
    cards = await load(backend, await sales(backend))
    assert cards[rotting["id"]].stalled and not cards[fresh["id"]].stalled and not cards[won["id"]].stalled
    assert cards[rotting["id"]].status_changed == NOW - timedelta(days=21, hours=1)


async def test_a_load_takes_updated_at_from_the_kanban_board(backend: BottleCrmBackend,
                                                             fake_bottlecrm: FakeBottleCrm) -> None:
    deal = next(iter(fake_bottlecrm.deals.values()))
    fake_bottlecrm.teammate_edit(deal["id"], description="edited")  # updated_at moves; stage_changed_at does not
    pipeline = next(p for p in await backend.list_pipelines() if p.id == deal["pipeline"])
    card = (await load(backend, pipeline))[deal["id"]]
    assert card.updated == datetime.fromisoformat(deal["updated_at"].replace("Z", "+00:00"))
    assert "GET /api/opportunities/kanban/" in paths(fake_bottlecrm)


async def test_a_load_pages_through_the_list(backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    sales_id = fake_bottlecrm.pipelines[0]["id"]
    for n in range(230):
        fake_bottlecrm.add_deal(sales_id, "PROPOSAL", name=f"Bulk {n}")
    pages = [p async for p in backend.load_opportunities(await sales(backend))]
    assert len(pages) == 3 and pages[-1].loaded == pages[-1].total == 270
    assert len({o.id for p in pages for o in p.opportunities}) == 270


async def test_a_teammates_edit_and_deletion_appear_at_the_next_poll(backend: BottleCrmBackend,
                                                                     fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline = await sales(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    cards = list((await load(backend, pipeline)).values())
    fake_bottlecrm.teammate_edit(cards[0].id, name="Renamed by a teammate")
    fake_bottlecrm.delete_deal(cards[1].id)
    changes = await backend.changes_since(pipeline, cursor)
    assert [(o.id, o.name) for o in changes.upserted] == [(cards[0].id, "Renamed by a teammate")]
    assert changes.removed == [cards[1].id]
    again = await backend.changes_since(pipeline, changes.cursor)
    assert again.empty, "each change is reported once"


async def test_our_own_move_is_not_reported_back_by_the_next_poll(backend: BottleCrmBackend,
                                                                  fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline = await sales(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    card = next(c for c in (await load(backend, pipeline)).values() if c.status_id == "PROSPECTING")
    await backend.move(card, status_in(pipeline, "QUALIFICATION"))
    changes = await backend.changes_since(pipeline, cursor)
    assert changes.empty, changes


async def test_more_changes_than_the_feed_holds_fall_back_to_a_rescan(backend: BottleCrmBackend,
                                                                      fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline = await sales(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    cards = [c for c in (await load(backend, pipeline)).values() if c.status_id == "PROSPECTING"]
    gone = cards.pop()
    fake_bottlecrm.delete_deal(gone.id)  # its DELETE event is pushed out of the feed by what follows
    for n in range(ACTIVITY_LIMIT + 5):
        fake_bottlecrm.teammate_edit(cards[n % len(cards)].id, description=f"edit {n}")
    fake_bottlecrm.requests.clear()
    changes = await backend.changes_since(pipeline, cursor)
    assert {o.id for o in changes.upserted} == {c.id for c in cards}
    assert changes.removed == [gone.id], "a deletion cut off from the feed is found by the re-scan"
    assert "GET /api/opportunities/" in paths(fake_bottlecrm), "the list was scanned"
    assert not any(p.startswith("GET /api/opportunities/") and p.count("/") == 5 for p in paths(fake_bottlecrm)), \
        "no GET per deal"


async def test_a_stage_added_and_reordered_is_reported_by_a_poll(backend: BottleCrmBackend,
                                                                 fake_bottlecrm: FakeBottleCrm,
                                                                 clock: Clock) -> None:
    pipeline = await sales(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    await load(backend, pipeline)
    sales_id = fake_bottlecrm.pipelines[0]["id"]
    fake_bottlecrm._stages(sales_id, False, {"label": "Demo booked", "kind": "open", "expected_days": 3})
    stages = sorted(fake_bottlecrm.pipelines[0]["stages"], key=lambda s: s["order"])
    fake_bottlecrm._stages(sales_id, True, {"stage_ids": [stages[0]["id"],
                                                          stages[-1]["id"]] + [s["id"] for s in stages[1:-1]]})
    early = await backend.changes_since(pipeline, cursor)
    assert early.pipeline is None and early.empty, "not re-read before its time"
    clock.t += 1000
    changes = await backend.changes_since(pipeline, early.cursor)
    assert changes.pipeline is not None and not changes.empty
    assert [s.id for s in changes.pipeline.statuses][:3] == ["PROSPECTING", "DEMO_BOOKED", "QUALIFICATION"]
    assert changes.upserted == [] and changes.removed == [] and changes.skipped == [], "no deal changed"
    assert backend.stages_changed[pipeline.id] == changes.pipeline
    clock.t += 1000
    again = await backend.changes_since(changes.pipeline, changes.cursor)
    assert again.pipeline is None and again.empty, "reported once: the board has them now"


async def test_a_deal_moved_into_a_stage_the_board_does_not_know_makes_it_read_the_stages(
        backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline = await sales(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    card = next(iter((await load(backend, pipeline)).values()))
    fake_bottlecrm._stages(fake_bottlecrm.pipelines[0]["id"], False, {"label": "Legal review", "kind": "open"})
    fake_bottlecrm.teammate_move(card.id, "LEGAL_REVIEW")
    changes = await backend.changes_since(pipeline, cursor)
    assert changes.pipeline is not None and "LEGAL_REVIEW" in [s.id for s in changes.pipeline.statuses]
    assert [(o.id, o.status_id) for o in changes.upserted] == [(card.id, "LEGAL_REVIEW")], "in the new stage"
    assert changes.removed == [] and changes.skipped == []


async def test_fetch_one_is_one_request(backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline = await sales(backend)
    deal_id = next(d["id"] for d in fake_bottlecrm.deals.values() if d["pipeline"] == pipeline.id)
    fake_bottlecrm.requests.clear()
    found = await backend.fetch_one(pipeline, deal_id)
    assert found is not None and found.id == deal_id and len(fake_bottlecrm.requests) == 1
    other = next(d["id"] for d in fake_bottlecrm.deals.values() if d["pipeline"] != pipeline.id)
    assert await backend.fetch_one(pipeline, other) is None, "a deal of another pipeline is not in this one"


async def test_me_is_the_name_deals_are_assigned_by(backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    assert await backend.me() == "Board"
    owners = {c.owner for c in (await load(backend, await sales(backend))).values()}
    assert "Board" in owners


def test_amounts_become_minor_units_of_their_currency() -> None:
    assert minor_units("1200.50", "USD") == 120050
    assert minor_units("1200", "JPY") == 1200
    assert minor_units(None, "USD") is None
    with pytest.raises(ValueError):
        minor_units("a lot", "USD")


async def test_a_deal_without_a_currency_is_in_usd_and_an_odd_record_is_skipped(backend: BottleCrmBackend,
                                                                                fake_bottlecrm: FakeBottleCrm) -> None:
    sales_id = fake_bottlecrm.pipelines[0]["id"]
    plain = fake_bottlecrm.add_deal(sales_id, "PROPOSAL", name="No currency", amount="99.99", currency=None)
    odd = fake_bottlecrm.add_deal(sales_id, "PROPOSAL", name="Odd", amount="lots")
    pages = [p async for p in backend.load_opportunities(await sales(backend))]
    cards = {o.id: o for p in pages for o in p.opportunities}
    assert (cards[plain["id"]].value, cards[plain["id"]].currency) == (9999, "USD")
    assert odd["id"] not in cards
    assert any(odd["id"] in line and "skipped" in line for p in pages for line in p.skipped)


async def test_a_refused_token_names_bottlecrm_the_status_and_the_variable_but_not_the_token(
        fake_bottlecrm: FakeBottleCrm, caplog: pytest.LogCaptureFixture) -> None:
    secret = "bcrm_pat_not-a-real-one"
    backend = BottleCrmBackend(secret, base_url=URL, transport=httpx.MockTransport(fake_bottlecrm.handler),
                               sleep=no_wait)
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(AuthError) as refused:
            await backend.list_pipelines()
    finally:
        await backend.aclose()
    message = str(refused.value)
    assert message.startswith("BottleCRM 403: ") and "BOTTLECRM_TOKEN" in message
    assert secret not in message and secret not in caplog.text and secret not in backend.identity


def test_the_registry_builds_it_from_the_environment_and_says_what_is_missing() -> None:
    spec = registry.get("bottlecrm")
    with pytest.raises(registry.SetupError, match="BOTTLECRM_TOKEN"):
        spec.factory(environ={"BOTTLECRM_URL": URL})
    with pytest.raises(registry.SetupError, match="refusing plain http"):
        spec.factory(environ={"BOTTLECRM_URL": "http://crm.example.com", "BOTTLECRM_TOKEN": "bcrm_pat_x"})
    assert spec.settings is BottleCrmSettings
    built = spec.factory(BottleCrmSettings(web_url="https://crm.example.com"),
                         environ={"BOTTLECRM_URL": "https://crm.example.com/api/", "BOTTLECRM_TOKEN": "bcrm_pat_x"})
    assert isinstance(built, BottleCrmBackend)
    assert built.api.base_url == "https://crm.example.com/" and built.has_links


async def test_cards_link_to_the_web_app_only_when_it_is_configured(fake_bottlecrm: FakeBottleCrm) -> None:
    linked = BottleCrmBackend(fake_bottlecrm.token, base_url=URL, web_url="https://crm.example.com",
                              transport=httpx.MockTransport(fake_bottlecrm.handler), sleep=no_wait)
    plain = BottleCrmBackend(fake_bottlecrm.token, base_url=URL, transport=httpx.MockTransport(fake_bottlecrm.handler),
                             sleep=no_wait)
    try:
        card = next(iter((await load(linked, await sales(linked))).values()))
        assert card.url == f"https://crm.example.com/pipeline/{card.id}"
        assert all(c.url is None for c in (await load(plain, await sales(plain))).values())
        assert not plain.has_links
    finally:
        await linked.aclose()
        await plain.aclose()


def test_a_fingerprint_ignores_only_what_changes_without_an_edit() -> None:
    from kanban_tui.models import Opportunity

    card = Opportunity(id="1", name="A", status_id="X", created=NOW, updated=NOW)
    assert fingerprint(card) == fingerprint(card.model_copy(update={"updated": NOW + timedelta(1), "stalled": True}))
    assert fingerprint(card) != fingerprint(card.model_copy(update={"note": "n"}))
    assert fingerprint(card) != fingerprint(card.model_copy(update={"date_won": date(2026, 1, 1)}))
