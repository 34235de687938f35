"""Clustr's and TeleCRM's write calls (issue 23): each takes what its documents say and no more. Clustr: the
owner (`GET owners`, `assigned_to_user_id`); TeleCRM: a lead's name (`POST lead/{id}` with only that field).
What neither takes is refused before anything is sent, and said."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from kanban_tui.backends import registry
from kanban_tui.backends.clustr import ClustrBackend
from kanban_tui.backends.errors import NotFoundError, RefusedError
from kanban_tui.backends.telecrm import TeleCrmBackend
from kanban_tui.models import Edit, NewDeal, Opportunity, User

from .fakes.base import no_wait
from .fakes.clustr import FakeClustr
from .fakes.telecrm import FakeTeleCrm
from .test_contract import build, fake_for

CLUSTR = "https://api.clustr-ai.com/api/public/"
TELECRM = "https://next.telecrm.in/autoupdate/v2/"


def clustr(fake: FakeClustr) -> ClustrBackend:
    return ClustrBackend(fake.api_key, base_url=CLUSTR, transport=httpx.MockTransport(fake.handler), sleep=no_wait)


def telecrm(fake: FakeTeleCrm) -> TeleCrmBackend:
    return TeleCrmBackend(fake.token, fake.enterprise_id, base_url=TELECRM,
                          transport=httpx.MockTransport(fake.handler), sleep=no_wait)


def writes(fake: FakeClustr | FakeTeleCrm, method: str) -> list[object]:
    return [json.loads(r.content) for r in fake.requests if r.method == method and "search" not in r.url.path]


async def first_card(backend: ClustrBackend | TeleCrmBackend) -> Opportunity:
    pipeline = (await backend.list_pipelines())[0]
    async for page in backend.load_opportunities(pipeline):
        return page.opportunities[0]
    raise AssertionError("no card")


def test_what_clustr_and_telecrm_allow_is_said() -> None:
    assert ClustrBackend.editable == {"owner"} and "status and owner" in ClustrBackend.cannot_edit
    assert not ClustrBackend.can_note and not ClustrBackend.can_create
    assert "notes" in ClustrBackend.cannot_note and "opportunity" in ClustrBackend.cannot_create
    assert TeleCrmBackend.editable == {"name"} and "value" in TeleCrmBackend.cannot_edit
    assert not TeleCrmBackend.can_note and not TeleCrmBackend.can_create
    assert "identifier" in TeleCrmBackend.cannot_create


async def test_clustr_offers_its_owners_and_sends_only_the_owners_id(fake_clustr: FakeClustr) -> None:
    backend = clustr(fake_clustr)
    users = await backend.users()
    assert users is not None and [u.name for u in users] == sorted(o["fullName"] for o in fake_clustr.owners)
    card = await first_card(backend)
    assert card.owner_id is not None, "cards carry their owner's id"
    other = next(u for u in users if u.id != card.owner_id)
    edit = Edit(owner=other)
    edited = await backend.update(card, edit)
    assert writes(fake_clustr, "PUT") == [{"assigned_to_user_id": other.id}]
    assert edit.holds(edited) and edited.owner == other.name
    assert fake_clustr.opportunities[card.id]["owner"]["id"] == other.id
    assert fake_clustr.opportunities[card.id]["status_id"] == card.status_id, "the status stands"
    pipeline = (await backend.list_pipelines())[0]
    again = await backend.fetch_one(pipeline, card.id)
    assert again is not None and edit.holds(again)
    await backend.aclose()


async def test_clustr_refuses_other_fields_and_no_owner_before_sending(fake_clustr: FakeClustr) -> None:
    backend = clustr(fake_clustr)
    card = await first_card(backend)
    for edit in (Edit(name="New name"), Edit(confidence=50), Edit(owner=None)):
        with pytest.raises(RefusedError) as caught:
            await backend.update(card, edit)
        assert "\n" not in str(caught.value)
    assert writes(fake_clustr, "PUT") == []
    await backend.aclose()


async def test_clustr_says_an_unknown_owner_or_a_deleted_opportunity(fake_clustr: FakeClustr) -> None:
    backend = clustr(fake_clustr)
    card = await first_card(backend)
    with pytest.raises(RefusedError, match="unknown owner"):
        await backend.update(card, Edit(owner=User(id="nobody", name="Nobody")))
    fake_clustr.delete_opportunity(card.id)
    with pytest.raises(NotFoundError, match="no longer exists"):
        await backend.update(card, Edit(owner=User(id=fake_clustr.owners[0]["id"], name="Ada")))
    await backend.aclose()


def test_the_fake_clustr_takes_only_what_the_update_is_documented_to(fake_clustr: FakeClustr) -> None:
    card_id = next(iter(fake_clustr.opportunities))

    def put(body: object) -> httpx.Response:
        return fake_clustr.handler(httpx.Request("PUT", f"{CLUSTR}opportunities/{card_id}", json=body,
                                                 headers={"authorization": f"Bearer {fake_clustr.api_key}"}))

    assert put({"notes": "x"}).status_code == 400
    assert put({"assigned_to_user_id": 7}).status_code == 400
    assert put({"owner_email": fake_clustr.owners[1]["email"]}).status_code == 200
    assert fake_clustr.opportunities[card_id]["owner"]["id"] == fake_clustr.owners[1]["id"]


async def test_an_owners_name_from_clustr_is_made_safe(fake_clustr: FakeClustr) -> None:
    fake_clustr.owners[0]["fullName"] = "Eve \x1b]52;c;x\x07 Mallory"
    backend = clustr(fake_clustr)
    users = await backend.users()
    assert users is not None and all("\x1b" not in u.name and "\x07" not in u.name for u in users)
    await backend.aclose()


async def test_telecrm_sends_only_the_name_and_checks_it_was_taken(fake_telecrm: FakeTeleCrm) -> None:
    backend = telecrm(fake_telecrm)
    card = await first_card(backend)
    before = dict(fake_telecrm.leads[card.id])
    edit = Edit(name="Asha Rao \x1b[31m(renewal)")
    edited = await backend.update(card, edit)
    sent = writes(fake_telecrm, "POST")
    assert len(sent) == 1 and list(sent[0]["fields"]) == ["name"]  # type: ignore[index]
    assert "\x1b" not in sent[0]["fields"]["name"]  # type: ignore[index]
    lead = fake_telecrm.leads[card.id]
    assert lead["name"] == edit.name and lead["status"] == before["status"] and lead["phone"] == before["phone"]
    assert edit.holds(edited) and edited.status_id == card.status_id
    await backend.aclose()


async def test_telecrm_refuses_what_a_lead_does_not_have(fake_telecrm: FakeTeleCrm) -> None:
    backend = telecrm(fake_telecrm)
    card = await first_card(backend)
    for edit in (Edit(value=100), Edit(owner=User(id="a@x.in", name="A")), Edit(close_date=None)):
        with pytest.raises(RefusedError):
            await backend.update(card, edit)
    assert writes(fake_telecrm, "POST") == []
    await backend.aclose()


async def test_telecrm_says_a_name_it_dropped_or_a_lead_gone(fake_telecrm: FakeTeleCrm) -> None:
    backend = telecrm(fake_telecrm)
    card = await first_card(backend)
    lead = dict(fake_telecrm.leads[card.id])
    fake_telecrm.fail_next("POST", f"lead/{card.id}", 200, json={"fields": lead})  # answered, name not taken
    with pytest.raises(RefusedError, match="did not take"):
        await backend.update(card, Edit(name="Dropped"))
    fake_telecrm.delete_lead(card.id)
    with pytest.raises(NotFoundError, match="no longer exists"):
        await backend.update(card, Edit(name="Gone"))
    await backend.aclose()


def test_the_fake_telecrm_answers_invalid_values_as_documented(fake_telecrm: FakeTeleCrm) -> None:
    lead_id = next(iter(fake_telecrm.leads))

    def post(fields: object) -> httpx.Response:
        return fake_telecrm.handler(httpx.Request(
            "POST", f"{TELECRM}enterprise/{fake_telecrm.enterprise_id}/lead/{lead_id}", json={"fields": fields},
            headers={"authorization": f"Bearer {fake_telecrm.token}"}))

    assert post({"name": ""}).status_code == 400 and post({"name": 5}).status_code == 400
    assert post({"rating": 9}).status_code == 400
    refused = post({"phone": "+1"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "INVALID_LEAD"
    assert post({"name": "Fine"}).status_code == 200


@pytest.mark.parametrize("name", ["pipedrive", "hubspot", "clustr", "telecrm"])
async def test_through_the_registry_each_does_what_it_says_it_allows(name: str, tmp_path: Path) -> None:
    """Backend-neutral, as the contract suite drives them: the Contract fake, the backend built by its registry
    entry; every field in `editable` edited at once and read back, a note where `can_note`, a new deal where
    `can_create` found again by `find_created`."""
    spec = registry.get(name)
    crm = fake_for(name, tmp_path)
    backend = build(spec, crm)
    try:
        pipeline = (await backend.list_pipelines())[0]
        cards = [c async for page in backend.load_opportunities(pipeline) for c in page.opportunities]
        card = next(c for c in cards if not c.read_only and c.currency == "USD")
        users = await backend.users() if "owner" in backend.editable else None
        wanted: dict[str, object] = {"value": 420000, "confidence": 55, "close_date": date(2027, 1, 1),
                                     "name": "Edited through the registry", "currency": "USD"}
        if users:
            wanted["owner"] = next(u for u in users if u.id != card.owner_id)
        edit = Edit.model_validate({f: v for f, v in wanted.items() if f in backend.editable})
        assert set(edit.fields) == set(backend.editable)
        assert edit.holds(await backend.update(card, edit))
        again = await backend.fetch_one(pipeline, card.id)
        assert again is not None and edit.holds(again), f"{name} did not keep {edit.fields}"
        if backend.can_note:
            since = datetime.now(UTC)
            await backend.add_note(card, "Through the registry")
            assert await backend.find_note(card, "Through the registry", since) is not None
        if backend.can_create:
            draft = NewDeal(client_id="r1", pipeline_id=pipeline.id, status_id=pipeline.statuses[0].id,
                            name="Registry deal", made_at=datetime.now(UTC))
            made = await backend.create(pipeline, draft)
            found = await backend.find_created(pipeline, draft)
            assert found is not None and found.id == made.id
    finally:
        await backend.aclose()
