"""Pipedrive's write calls (issue 23): an edit sends only the fields changed, a new deal goes into its stage,
and one whose answer was lost is found again, never made twice. Against the fake Pipedrive, which checks every
body against the v2 description's request schemas."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from kanban_tui.backends.errors import BackendError, NotFoundError, RefusedError
from kanban_tui.backends.pipedrive import LOST_ID, WON_ID, PipedriveBackend
from kanban_tui.models import Edit, NewDeal, Opportunity, Pipeline, StatusKind

from .fakes.base import no_wait
from .fakes.pipedrive import FakePipedrive

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
API = "https://api.pipedrive.com/api/v2/"


@pytest.fixture
def fake() -> FakePipedrive:
    fake = FakePipedrive(clock=lambda: NOW)
    fake.seed(30, 5)
    return fake


@pytest.fixture
async def backend(fake: FakePipedrive) -> AsyncIterator[PipedriveBackend]:
    backend = PipedriveBackend(fake.token, transport=httpx.MockTransport(fake.handler), sleep=no_wait,
                               now=lambda: NOW)
    yield backend
    await backend.aclose()


async def sales(backend: PipedriveBackend) -> Pipeline:
    return next(p for p in await backend.list_pipelines() if p.name == "Sales")


async def an_open_card(backend: PipedriveBackend, pipeline: Pipeline) -> Opportunity:
    async for page in backend.load_opportunities(pipeline):
        for card in page.opportunities:
            if card.status_id not in (WON_ID, LOST_ID) and card.currency == "USD":
                return card
    raise AssertionError("no open USD deal")


def bodies(fake: FakePipedrive, method: str) -> list[dict[str, object]]:
    return [json.loads(r.content) for r in fake.requests if r.method == method]


def draft(pipeline: Pipeline, status_id: str, name: str = "Northwind renewal", **more: object) -> NewDeal:
    return NewDeal(client_id="c1", pipeline_id=pipeline.id, status_id=status_id, name=name, made_at=NOW,
                   **more)  # type: ignore[arg-type]


def test_what_pipedrive_allows_is_said() -> None:
    assert PipedriveBackend.editable == {"value", "currency", "confidence", "close_date", "name"}
    assert "users" in PipedriveBackend.cannot_edit and "period" in PipedriveBackend.cannot_edit
    assert PipedriveBackend.can_create and not PipedriveBackend.can_note
    assert "v1" in PipedriveBackend.cannot_note


async def test_cards_carry_the_expected_close_date_and_the_owners_id(backend: PipedriveBackend,
                                                                     fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    card = await an_open_card(backend, pipeline)
    fake.deals[int(card.id)]["expected_close_date"] = "2027-01-15"
    read = await backend.fetch_one(pipeline, card.id)
    assert read is not None
    assert read.close_date == date(2027, 1, 15)
    assert read.owner_id == str(fake.deals[int(card.id)]["owner_id"])


async def test_an_edit_sends_only_the_fields_changed_in_pipedrives_terms(backend: PipedriveBackend,
                                                                         fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    card = await an_open_card(backend, pipeline)
    before = dict(fake.deals[int(card.id)])
    edit = Edit(value=123456, confidence=40, close_date=date(2027, 3, 1))
    edited = await backend.update(card, edit)
    assert bodies(fake, "PATCH") == [{"value": 1234.56, "probability": 40, "expected_close_date": "2027-03-01"}]
    assert edited.value == 123456 and edited.confidence == 40 and edited.close_date == date(2027, 3, 1)
    assert edit.holds(edited)
    deal = fake.deals[int(card.id)]
    assert deal["title"] == before["title"] and deal["stage_id"] == before["stage_id"], "the rest stands"
    again = await backend.fetch_one(pipeline, card.id)
    assert again is not None and edit.holds(again)


async def test_a_name_and_a_currency(backend: PipedriveBackend, fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    card = await an_open_card(backend, pipeline)
    edited = await backend.update(card, Edit(name="Acme \x1b[2J expansion", currency="EUR", value=500000))
    sent = bodies(fake, "PATCH")[0]
    title = sent.pop("title")
    assert sent == {"value": 5000, "currency": "EUR"}, "in EUR's cents"
    assert isinstance(title, str) and title.startswith("Acme") and "\x1b" not in title
    assert "\x1b" not in edited.name and edited.currency == "EUR" and edited.value == 500000


async def test_a_value_close_date_or_probability_is_changed_never_cleared(backend: PipedriveBackend,
                                                              fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    card = await an_open_card(backend, pipeline)
    for edit in (Edit(value=None), Edit(close_date=None), Edit(confidence=None)):
        with pytest.raises(RefusedError, match="not none") as caught:
            await backend.update(card, edit)
        assert "\n" not in str(caught.value)
    assert bodies(fake, "PATCH") == []


async def test_an_owner_or_period_edit_is_refused_before_anything_is_sent(backend: PipedriveBackend,
                                                                          fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    card = await an_open_card(backend, pipeline)
    with pytest.raises(RefusedError, match="owner"):
        await backend.update(card, Edit.model_validate({"owner": {"id": "2", "name": "Bo"}}))
    assert bodies(fake, "PATCH") == []


async def test_an_edit_of_a_deleted_deal_is_not_found(backend: PipedriveBackend, fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    card = await an_open_card(backend, pipeline)
    fake.delete_deal(card.id)
    with pytest.raises(NotFoundError, match="no longer exists"):
        await backend.update(card, Edit(name="Gone"))


def test_the_fake_refuses_bodies_the_description_does_not_allow(fake: FakePipedrive) -> None:
    deal_id = next(iter(fake.deals))

    def patch(body: object) -> httpx.Response:
        return fake.handler(httpx.Request("PATCH", f"{API}deals/{deal_id}", headers={"x-api-token": fake.token},
                                          json=body))

    for bad in ({"value": None}, {"value": "12"}, {"expected_close_date": "2026-02-30"},
                {"expected_close_date": None}, {"nickname": "x"}, {"probability": "high"}):
        answer = patch(bad)
        assert answer.status_code == 400, bad
        assert answer.json()["success"] is False and answer.json()["error"]
    assert patch({"probability": None, "expected_close_date": "2026-02-28"}).status_code == 200
    made = fake.handler(httpx.Request("POST", f"{API}deals", headers={"x-api-token": fake.token}, json={"value": 1}))
    assert made.status_code == 400, "a title is required"


async def test_a_refused_write_is_one_line_in_pipedrives_words(backend: PipedriveBackend,
                                                               fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    card = await an_open_card(backend, pipeline)
    fake.fail_next("PATCH", "deals", 400, json={"success": False, "error": "Deal title too long",
                                                 "error_info": "Shorten it.", "data": None, "additional_data": None})
    with pytest.raises(RefusedError) as caught:
        await backend.update(card, Edit(name="x" * 300))
    assert "Deal title too long" in str(caught.value) and "\n" not in str(caught.value)


async def test_a_new_deal_goes_into_its_stage_with_its_value(backend: PipedriveBackend, fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    stage = pipeline.statuses[1]
    made = await backend.create(pipeline, draft(pipeline, stage.id, value=250000, currency="EUR", confidence=30))
    assert bodies(fake, "POST") == [{"title": "Northwind renewal", "pipeline_id": int(pipeline.id),
                                     "stage_id": int(stage.id), "currency": "EUR", "value": 2500,
                                     "probability": 30}]
    assert made.status_id == stage.id and made.value == 250000 and made.currency == "EUR" and made.confidence == 30
    assert fake.deals[int(made.id)]["title"] == "Northwind renewal"


async def test_a_new_deal_in_won_sits_in_the_first_stage_as_won(backend: PipedriveBackend,
                                                                fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    made = await backend.create(pipeline, draft(pipeline, WON_ID))
    sent = bodies(fake, "POST")[0]
    assert sent["status"] == "won" and sent["stage_id"] == int(pipeline.statuses[0].id)
    assert made.status_id == WON_ID and fake.board_status(made.id) == WON_ID
    assert pipeline.status(LOST_ID) is not None and pipeline.statuses[-1].kind is StatusKind.LOST


async def test_a_new_deal_whose_answer_was_lost_is_found_not_made_again(backend: PipedriveBackend,
                                                                        fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    stage = pipeline.statuses[0]
    new = draft(pipeline, stage.id, name="Lost answer deal")
    assert await backend.find_created(pipeline, new) is None, "nothing made yet"
    fake.lose_next("POST", "deals")
    with pytest.raises(BackendError):
        await backend.create(pipeline, new)
    found = await backend.find_created(pipeline, new)
    assert found is not None and found.name == "Lost answer deal" and found.status_id == stage.id
    assert sum(1 for d in fake.deals.values() if d["title"] == "Lost answer deal") == 1


async def test_an_older_deal_of_the_same_name_is_not_taken_for_the_new_one(backend: PipedriveBackend,
                                                                           fake: FakePipedrive) -> None:
    pipeline = await sales(backend)
    stage = pipeline.statuses[0]
    fake.add_deal(int(stage.id), "Same name", created=NOW - timedelta(days=3))
    assert await backend.find_created(pipeline, draft(pipeline, stage.id, name="Same name")) is None
