"""HubSpot's write calls (issue 23): a deal's properties patched (only those changed), the owners as the picker
offers them, notes on a deal, a new deal in its stage and found again when its answer was lost. Against the fake
HubSpot, which checks every body against the CRM v3 descriptions (deals, notes)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from kanban_tui.backends.errors import BackendError, NotFoundError, RefusedError
from kanban_tui.backends.hubspot import HubSpotBackend
from kanban_tui.backends.hubspot_api import note_text
from kanban_tui.models import Edit, NewDeal, Opportunity, Pipeline, User

from .fakes.base import no_wait
from .fakes.hubspot import FakeHubSpot

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Wall:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def fake(wall: Wall) -> FakeHubSpot:
    fake = FakeHubSpot(clock=wall)
    fake.seed(20, 3)
    return fake


@pytest.fixture
async def backend(fake: FakeHubSpot, wall: Wall) -> AsyncIterator[HubSpotBackend]:
    backend = HubSpotBackend(fake.token, transport=httpx.MockTransport(fake.handler), sleep=no_wait, now=wall)
    yield backend
    await backend.aclose()


async def sales(backend: HubSpotBackend) -> Pipeline:
    return next(p for p in await backend.list_pipelines() if p.id == "default")


async def a_card(backend: HubSpotBackend, pipeline: Pipeline) -> Opportunity:
    async for page in backend.load_opportunities(pipeline):
        for card in page.opportunities:
            if card.currency == "USD":
                return card
    raise AssertionError("no USD deal")


def sent(fake: FakeHubSpot, method: str, path_end: str) -> list[Any]:
    return [json.loads(r.content) for r in fake.requests if r.method == method and r.url.path.endswith(path_end)]


def test_what_hubspot_allows_is_said() -> None:
    assert HubSpotBackend.editable == {"value", "currency", "close_date", "owner", "name"}
    assert "confidence" in HubSpotBackend.cannot_edit and "period" in HubSpotBackend.cannot_edit
    assert HubSpotBackend.can_note and HubSpotBackend.can_create


async def test_cards_carry_the_close_date_and_the_owners_id(backend: HubSpotBackend, fake: FakeHubSpot) -> None:
    pipeline = await sales(backend)
    card = await a_card(backend, pipeline)
    fake.teammate_edit(card.id, closedate="2027-01-15T12:00:00.000Z", hubspot_owner_id=fake.owners[1]["id"])
    read = await backend.fetch_one(pipeline, card.id)
    assert read is not None and read.close_date == date(2027, 1, 15)
    assert read.owner_id == fake.owners[1]["id"] and read.owner == "Bo Lindqvist"


async def test_the_owner_picker_offers_the_owners_not_archived(backend: HubSpotBackend, fake: FakeHubSpot) -> None:
    fake.owners[2]["archived"] = True
    users = await backend.users()
    assert users == [User(id=o["id"], name=f"{o['firstName']} {o['lastName']}") for o in fake.owners[:2]]


async def test_an_edit_patches_only_the_properties_changed(backend: HubSpotBackend, fake: FakeHubSpot) -> None:
    pipeline = await sales(backend)
    card = await a_card(backend, pipeline)
    before = dict(fake.deals[card.id]["properties"])
    owner = User(id=fake.owners[0]["id"], name="Ada Park")
    edit = Edit(value=123456, close_date=date(2027, 3, 1), owner=owner)
    edited = await backend.update(card, edit)
    assert sent(fake, "PATCH", card.id) == [{"properties": {
        "amount": "1234.56", "closedate": "2027-03-01T12:00:00.000Z", "hubspot_owner_id": owner.id}}]
    assert edit.holds(edited) and edited.owner == "Ada Park"
    props = fake.deals[card.id]["properties"]
    assert props["dealname"] == before["dealname"] and props["dealstage"] == before["dealstage"], "the rest stands"
    again = await backend.fetch_one(pipeline, card.id)
    assert again is not None and edit.holds(again), "read back as sent"


async def test_a_cleared_value_and_close_date_and_a_new_name(backend: HubSpotBackend, fake: FakeHubSpot) -> None:
    pipeline = await sales(backend)
    card = await a_card(backend, pipeline)
    edit = Edit(value=None, close_date=None, name="Acme \x1b]52;c;x\x07 renewal", currency="EUR")
    edited = await backend.update(card, edit)
    props = sent(fake, "PATCH", card.id)[0]["properties"]
    assert props["amount"] == "" and props["closedate"] == "" and props["deal_currency_code"] == "EUR"
    assert "\x1b" not in props["dealname"] and "\x07" not in props["dealname"]
    assert "amount" not in fake.deals[card.id]["properties"], "an empty string clears it"
    again = await backend.fetch_one(pipeline, card.id)
    assert again is not None and edit.holds(again) and edit.holds(edited)


async def test_a_confidence_edit_is_refused_before_anything_is_sent(backend: HubSpotBackend,
                                                                    fake: FakeHubSpot) -> None:
    pipeline = await sales(backend)
    card = await a_card(backend, pipeline)
    with pytest.raises(RefusedError, match="stage"):
        await backend.update(card, Edit(confidence=40))
    assert sent(fake, "PATCH", card.id) == []


async def test_an_owner_hubspot_does_not_know_is_refused_in_one_line(backend: HubSpotBackend,
                                                                     fake: FakeHubSpot) -> None:
    pipeline = await sales(backend)
    card = await a_card(backend, pipeline)
    with pytest.raises(RefusedError) as caught:
        await backend.update(card, Edit(owner=User(id="424242", name="Nobody")))
    assert "owner" in str(caught.value) and "\n" not in str(caught.value)


async def test_an_edit_of_a_deleted_deal_is_not_found(backend: HubSpotBackend, fake: FakeHubSpot) -> None:
    pipeline = await sales(backend)
    card = await a_card(backend, pipeline)
    fake.archive(card.id)
    with pytest.raises(NotFoundError, match="no longer exists"):
        await backend.update(card, Edit(name="Gone"))


def test_the_fake_refuses_what_hubspot_refuses(fake: FakeHubSpot) -> None:
    deal_id = next(iter(fake.deals))

    def call(method: str, path: str, body: object) -> httpx.Response:
        return fake.handler(httpx.Request(method, f"https://api.hubapi.com{path}",
                                          headers={"Authorization": f"Bearer {fake.token}"}, json=body))

    bad: dict[str, Any]
    for bad in ({"properties": {"amount": 5}}, {"properties": {"nickname": "x"}}, {"properties": {"amount": "lots"}},
                {"properties": {"closedate": "next week"}}, {"props": {}}):
        assert call("PATCH", f"/crm/v3/objects/deals/{deal_id}", bad).status_code == 400, bad
    assert call("POST", "/crm/v3/objects/deals", {"properties": {"dealname": "x"}}).status_code == 400, \
        "associations are required by the description"
    assert call("POST", "/crm/v3/objects/deals", {"properties": {"dealname": "x", "pipeline": "default",
                                                                  "dealstage": "nope"}, "associations": []}
                ).status_code == 400
    note = {"properties": {"hs_note_body": "x"}, "associations": []}
    assert call("POST", "/crm/v3/objects/notes", note).status_code == 400, "hs_timestamp is required"


async def test_a_note_goes_on_the_deal_and_is_read_back_newest_first(backend: HubSpotBackend, fake: FakeHubSpot,
                                                                      wall: Wall) -> None:
    pipeline = await sales(backend)
    card = await a_card(backend, pipeline)
    assert await backend.notes(card) == []
    first = await backend.add_note(card, "Called: wants a pilot")
    wall.now += timedelta(minutes=5)
    await backend.add_note(card, "Sent the \x1b[31mquote\x1b[0m")
    body = sent(fake, "POST", "/notes")[0]
    assert body["properties"]["hs_note_body"] == "Called: wants a pilot"
    assert body["associations"] == [{"to": {"id": card.id}, "types": [
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}]}]
    notes = await backend.notes(card)
    assert notes is not None and [n.text.startswith("Sent the") for n in notes] == [True, False]
    assert "\x1b" not in notes[0].text, "a note's text is made safe"
    assert first.text == "Called: wants a pilot"
    found = await backend.find_note(card, "Called: wants a pilot", NOW)
    assert found is not None and found.text == "Called: wants a pilot"
    assert await backend.find_note(card, "never sent", NOW) is None


async def test_a_note_on_a_deleted_deal_is_not_found(backend: HubSpotBackend, fake: FakeHubSpot) -> None:
    pipeline = await sales(backend)
    card = await a_card(backend, pipeline)
    fake.archive(card.id)
    with pytest.raises(NotFoundError):
        await backend.add_note(card, "too late")
    assert fake.notes == {}


def test_a_notes_html_is_read_as_text() -> None:
    assert note_text("<div><p>Line one</p><p>Fish &amp; chips<br>two</p></div>") == "Line one\nFish & chips\ntwo"
    assert note_text(None) == ""


async def test_a_new_deal_goes_into_its_stage(backend: HubSpotBackend, fake: FakeHubSpot) -> None:
    pipeline = await sales(backend)
    stage = pipeline.statuses[2]
    draft = NewDeal(client_id="c1", pipeline_id=pipeline.id, status_id=stage.id, name="Northwind", value=250000,
                    currency="EUR", confidence=30, made_at=NOW)
    made = await backend.create(pipeline, draft)
    assert sent(fake, "POST", "/crm/v3/objects/deals") == [{"properties": {
        "dealname": "Northwind", "pipeline": "default", "dealstage": stage.id, "deal_currency_code": "EUR",
        "amount": "2500"}, "associations": []}]
    assert made.status_id == stage.id and made.value == 250000 and made.currency == "EUR"
    assert fake.deals[made.id]["properties"]["dealname"] == "Northwind"


async def test_a_new_deal_whose_answer_was_lost_is_found_not_made_twice(backend: HubSpotBackend,
                                                                        fake: FakeHubSpot) -> None:
    pipeline = await sales(backend)
    draft = NewDeal(client_id="c2", pipeline_id=pipeline.id, status_id=pipeline.statuses[0].id,
                    name="Lost answer", made_at=NOW)
    assert await backend.find_created(pipeline, draft) is None
    fake.lose_next("POST", "/crm/v3/objects/deals")
    with pytest.raises(BackendError):
        await backend.create(pipeline, draft)
    found = await backend.find_created(pipeline, draft)
    assert found is not None and found.name == "Lost answer"
    assert sum(1 for d in fake.deals.values() if d["properties"].get("dealname") == "Lost answer") == 1


async def test_an_older_deal_of_the_same_name_is_not_the_new_one(backend: HubSpotBackend, fake: FakeHubSpot) -> None:
    pipeline = await sales(backend)
    stage = pipeline.statuses[0].id
    fake.add_deal("default", stage, "Same name", created=NOW - timedelta(days=2))
    draft = NewDeal(client_id="c3", pipeline_id=pipeline.id, status_id=stage, name="Same name", made_at=NOW)
    assert await backend.find_created(pipeline, draft) is None
