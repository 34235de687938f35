"""Close's write calls (issue 23) against the fake Close: what each request carries, its errors, the fake's 400s on
bodies the spec does not allow, the read-backs that keep a lost note or deal from being made twice, unsafe names."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from kanban_tui.backends.close import FIELDS, CloseBackend
from kanban_tui.backends.close_write import USER_PAGES_AT_MOST
from kanban_tui.backends.errors import NotFoundError, OutcomeUnknownError, RefusedError, UnavailableError
from kanban_tui.models import Edit, NewDeal, Opportunity, Period, Pipeline, User

from .fakes.close import FakeClose, command

KEY = "test-close-key"
BASE = "https://api.close.com/api/v1/"
HOSTILE = "Acme \x1b]52;c;cm0gLXJmIH4=\x07 Ltd\u202e[/]"

pytestmark = pytest.mark.fake_seed(sales=40, other=10)


async def no_wait(_: float) -> None:
    return None


@pytest.fixture
async def close(fake_close: FakeClose) -> AsyncIterator[CloseBackend]:
    backend = CloseBackend(KEY, base_url=BASE, transport=httpx.MockTransport(fake_close.handler), sleep=no_wait)
    yield backend
    await backend.aclose()


async def sales(close: CloseBackend) -> Pipeline:
    return next(p for p in await close.list_pipelines() if p.name == "Sales")


async def an_open_card(close: CloseBackend, pipeline: Pipeline) -> Opportunity:
    cards = [o for page in [p async for p in close.load_opportunities(pipeline)] for o in page.opportunities]
    return next(c for c in cards if not pipeline.status(c.status_id).kind.is_final)


def sent(fake: FakeClose, start: int, method: str | None = None) -> list[httpx.Request]:
    return [r for r in fake.requests[start:] if method is None or r.method == method]


def draft(pipeline: Pipeline, name: str, **fields: object) -> NewDeal:
    return NewDeal(client_id="c-1", pipeline_id=pipeline.id, status_id=pipeline.statuses[1].id, name=name,
                   made_at=datetime.now(UTC), **fields)  # type: ignore[arg-type]


def raw(fake: FakeClose, method: str, path: str, body: object) -> httpx.Response:
    with httpx.Client(transport=httpx.MockTransport(fake.handler), base_url=BASE, auth=(KEY, "")) as client:
        return client.request(method, path, json=body)


# -- the read side --------------------------------------------------------------------------------------


async def test_an_active_deals_date_won_is_its_close_date_and_its_owner_has_an_id(
        close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    card = await an_open_card(close, pipeline)
    fake_close.teammate_edit(card.id, date_won="2026-05-29")
    won = next(s for s in pipeline.statuses if s.kind.value == "won")
    won_card = next(r for r in fake_close.opportunities.values() if r["status_id"] == won.id)
    assert {"status_type", "user_id", "date_won"} <= set(FIELDS.split(","))
    read = await close.fetch_one(pipeline, card.id)
    assert read is not None and read.close_date == date(2026, 5, 29) and read.date_won is None
    assert read.owner_id == fake_close.opportunities[card.id]["user_id"] and read.owner
    was_won = await close.fetch_one(pipeline, won_card["id"])
    assert was_won is not None and was_won.date_won == date.fromisoformat(won_card["date_won"])
    assert was_won.close_date is None


# -- editing ------------------------------------------------------------------------------------------


async def test_an_edit_is_one_put_of_the_fields_changed_and_a_teammates_other_change_stands(
        close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    card = await an_open_card(close, pipeline)
    fake_close.teammate_edit(card.id, confidence=77)  # a field the edit does not touch
    start = len(fake_close.requests)
    edit = Edit(value=1_234_500, close_date=date(2026, 6, 30))
    answered = await close.update(card, edit)
    [put] = sent(fake_close, start)
    assert put.method == "PUT" and put.url.path.endswith(f"/opportunity/{card.id}/")
    assert json.loads(put.content) == {"value": 1_234_500, "date_won": "2026-06-30"}
    assert edit.holds(answered) and answered.confidence == 77
    record = fake_close.opportunities[card.id]
    assert (record["value"], record["date_won"], record["confidence"]) == (1_234_500, "2026-06-30", 77)


async def test_every_editable_field_goes_by_its_close_name(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    card = await an_open_card(close, pipeline)
    assert close.editable == {"value", "currency", "period", "confidence", "close_date", "owner"}
    start = len(fake_close.requests)
    edit = Edit(currency="EUR", period=Period.MONTHLY, confidence=35, owner=User(id="user_cy", name="Cyrus Okafor"))
    answered = await close.update(card, edit)
    assert json.loads(sent(fake_close, start)[0].content) == {
        "value_currency": "EUR", "value_period": "monthly", "confidence": 35, "user_id": "user_cy"}
    assert edit.holds(answered) and answered.owner == "Cyrus Okafor" and answered.owner_id == "user_cy"
    cleared = await close.update(answered, Edit(value=None, close_date=None))
    assert json.loads(fake_close.requests[-1].content) == {"value": None, "date_won": None}
    assert cleared.value is None and cleared.close_date is None


async def test_what_close_cannot_take_is_refused_before_anything_is_sent(
        close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    card = await an_open_card(close, pipeline)
    start = len(fake_close.requests)
    for edit in (Edit(name="Renamed"), Edit(owner=None), Edit(confidence=None), Edit(value=5, name="Both")):
        with pytest.raises(RefusedError) as refused:
            await close.update(card, edit)
        assert "\n" not in str(refused.value)
    assert await close.update(card, Edit()) is card
    assert sent(fake_close, start) == [], "nothing sent"
    assert "lead" in close.cannot_edit


async def test_an_edit_close_refuses_or_of_a_deleted_deal_raises_a_typed_error(
        close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    card = await an_open_card(close, pipeline)
    with pytest.raises(RefusedError, match="user_id: User not found"):
        await close.update(card, Edit(owner=User(id="user_nobody", name="Nobody")))
    fake_close.fail_next("PUT", "opportunity/", 500)
    with pytest.raises(UnavailableError):
        await close.update(card, Edit(value=1))
    fake_close.lose_next("PUT", "opportunity/")
    with pytest.raises(OutcomeUnknownError):
        await close.update(card, Edit(value=2))
    assert fake_close.opportunities[card.id]["value"] == 2, "applied, its answer lost"
    fake_close.delete_opportunity(card.id)
    with pytest.raises(NotFoundError):
        await close.update(card, Edit(value=3))


# -- the fake checks what it is sent against the spec ---------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("PUT", "opportunity/{id}/", {"name": "x"}, "name"),  # an opportunity has no name
    ("PUT", "opportunity/{id}/", {"value": "12.50"}, "value"),
    ("PUT", "opportunity/{id}/", {"date_won": "tomorrow"}, "date_won"),
    ("PUT", "opportunity/{id}/", {"value_period": "weekly"}, "value_period"),
    ("PUT", "opportunity/{id}/", {"confidence": None}, "confidence"),
    ("POST", "opportunity/", {"lead_id": "{lead}", "status_id": "{status}", "title": "x"}, "title"),
    ("POST", "opportunity/", {"lead_id": "lead_nope", "status_id": "{status}"}, "lead_id"),
    ("POST", "lead/", {"name": "Acme", "company": "x"}, "company"),
    ("POST", "lead/", {"name": 5}, "name"),
    ("POST", "activity/note/", {"note": "no lead"}, "__all__"),
    ("POST", "activity/note/", {"lead_id": "{lead}", "text": "x"}, "text"),
])
def test_the_fake_answers_a_body_the_spec_does_not_allow_with_closes_400(
        fake_close: FakeClose, method: str, path: str, body: dict[str, object], field: str) -> None:
    record = next(iter(fake_close.opportunities.values()))
    fill = {"{id}": record["id"], "{lead}": record["lead_id"], "{status}": record["status_id"]}
    body = {k: fill.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    before = (json.dumps(record, sort_keys=True), len(fake_close.leads), len(fake_close.notes),
              len(fake_close.opportunities))
    answer = raw(fake_close, method, path.replace("{id}", record["id"]), body)
    assert answer.status_code == 400
    envelope = answer.json()
    assert set(envelope) == {"errors", "field-errors"} and field in envelope["field-errors"]
    assert before == (json.dumps(record, sort_keys=True), len(fake_close.leads), len(fake_close.notes),
                      len(fake_close.opportunities)), "nothing changed"


# -- users -------------------------------------------------------------------------------------------------


async def test_users_are_read_page_by_page_sorted_and_their_names_made_safe(fake_close: FakeClose) -> None:
    fake_close.limit_cap = 2
    fake_close.add_user("user_evil", HOSTILE, "Jones")
    backend = CloseBackend(KEY, base_url=BASE, transport=httpx.MockTransport(fake_close.handler), sleep=no_wait)
    users = await backend.users()
    assert [u.id for u in users][:2] == ["user_evil", "user_ada"] and len(users) == 6  # "Acme …" < "Ada Park"
    assert all(u.name.isprintable() and "\x1b" not in u.name for u in users)
    assert len([r for r in fake_close.requests if r.url.path.endswith("/user/")]) == 3
    fake_close.say_more_forever("GET", "user/", {"data": [{"id": "user_x", "email": "x@y", "first_name": "X",
                                                          "last_name": ""}], "has_more": True})
    fake_close.requests.clear()
    assert [u.id for u in await backend.users()] == ["user_x"]
    assert len(fake_close.requests) <= USER_PAGES_AT_MOST, "a listing that never ends is cut short"
    await backend.aclose()


# -- notes ---------------------------------------------------------------------------------------------------


async def test_a_note_is_one_post_to_the_deals_lead(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    card = await an_open_card(close, pipeline)
    assert close.can_note
    start = len(fake_close.requests)
    note = await close.add_note(card, "Called: they want a pilot.\nFollow up Friday.")
    [post] = sent(fake_close, start)
    lead = fake_close.opportunities[card.id]["lead_id"]
    assert post.method == "POST" and post.url.path.endswith("/activity/note/")
    assert json.loads(post.content) == {"lead_id": lead, "note": "Called: they want a pilot.\nFollow up Friday."}
    assert note.text == "Called: they want a pilot.\nFollow up Friday."
    assert (await close.notes(card, limit=1))[0].text == note.text


async def test_a_note_whose_answer_was_lost_is_found_and_not_made_twice(
        close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    card = await an_open_card(close, pipeline)
    lead = fake_close.opportunities[card.id]["lead_id"]
    fake_close.add_note(lead, "Sent the contract.", when=datetime.now(UTC) - timedelta(days=3))  # an old twin
    since = datetime.now(UTC)
    fake_close.lose_next("POST", "activity/note/")
    with pytest.raises(OutcomeUnknownError):
        await close.add_note(card, "Sent the contract.")
    start = len(fake_close.requests)
    found = await close.find_note(card, "Sent the contract.", since)
    assert found is not None and found.when >= since - timedelta(seconds=1)
    [asked] = sent(fake_close, start)
    assert asked.url.params["lead_id"] == lead and "date_created__gte" in asked.url.params, "only the recent notes"
    assert [n["note"] for n in fake_close.notes if n["lead_id"] == lead].count("Sent the contract.") == 2
    # a POST whose connection dropped before Close had it: not found, so it is sent again, once
    fake_close.fail_next("POST", "activity/note/", 0, exc=httpx.RemoteProtocolError("dropped"))
    since = datetime.now(UTC)
    with pytest.raises(UnavailableError):
        await close.add_note(card, "Second try.")
    assert await close.find_note(card, "Second try.", since) is None
    await close.add_note(card, "Second try.")
    assert [n["note"] for n in fake_close.notes if n["lead_id"] == lead].count("Second try.") == 1


# -- new deals -----------------------------------------------------------------------------------------------


async def test_leads_are_searched_by_name_bounded_and_made_safe(close: CloseBackend, fake_close: FakeClose) -> None:
    fake_close.add_lead(HOSTILE)
    for n in range(12):
        fake_close.add_lead(f"Acme Branch {n}")
    start = len(fake_close.requests)
    leads = await close.find_leads("acme", limit=8)
    assert len(leads) == 8 and all(lead.name.isprintable() for lead in leads)
    assert any(lead.name.startswith("Acme") and "Ltd" in lead.name and "\x1b" not in lead.name for lead in
               await close.find_leads("ltd acme", limit=50))
    assert sent(fake_close, start)[0].url.params["query"] == "acme"
    start = len(fake_close.requests)
    assert await close.find_leads("   ") == [] and sent(fake_close, start) == []


async def test_a_deal_for_a_new_lead_makes_the_lead_then_the_deal(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    assert close.can_create
    start = len(fake_close.requests)
    made = await close.create(pipeline, draft(pipeline, "Zebra Logistics", value=250_000, confidence=40))
    posts = sent(fake_close, start, "POST")
    assert [p.url.path.rsplit("/", 2)[-2] for p in posts] == ["lead", "opportunity"]
    assert json.loads(posts[0].content) == {"name": "Zebra Logistics"}
    lead = fake_close.opportunities[made.id]["lead_id"]
    assert json.loads(posts[1].content) == {"lead_id": lead, "status_id": pipeline.statuses[1].id,
                                            "value": 250_000, "confidence": 40}
    assert (made.name, made.status_id, made.value, made.confidence) == (
        "Zebra Logistics", pipeline.statuses[1].id, 250_000, 40)
    assert made.url is not None and lead in made.url


async def test_a_deal_for_an_existing_lead_makes_no_lead(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    record = next(iter(fake_close.opportunities.values()))
    start, leads = len(fake_close.requests), len(fake_close.leads)
    made = await close.create(pipeline, draft(pipeline, "ignored", lead_id=record["lead_id"], currency="EUR"))
    assert [p.url.path.rsplit("/", 2)[-2] for p in sent(fake_close, start, "POST")] == ["opportunity"]
    assert json.loads(sent(fake_close, start, "POST")[0].content)["value_currency"] == "EUR"
    assert len(fake_close.leads) == leads and made.name == record["lead_name"] and made.currency == "EUR"


async def test_a_deal_whose_answer_was_lost_is_found_and_not_made_twice(
        close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    new = draft(pipeline, "Quokka Foods", value=99_00)
    assert await close.find_created(pipeline, new) is None, "nothing yet"
    fake_close.lose_next("POST", "opportunity/")
    with pytest.raises(OutcomeUnknownError):
        await close.create(pipeline, new)
    found = await close.find_created(pipeline, new)
    made = [r for r in fake_close.opportunities.values() if r["lead_name"] == "Quokka Foods"]
    assert found is not None and [found.id] == [r["id"] for r in made] and found.value == 99_00


async def test_a_resend_after_the_lead_was_made_but_not_the_deal_makes_no_second_lead(
        close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    new = draft(pipeline, "Ibis Travel", confidence=20)
    fake_close.fail_next("POST", "opportunity/", 503)
    with pytest.raises(UnavailableError):
        await close.create(pipeline, new)
    assert [lead["name"] for lead in fake_close.leads.values()].count("Ibis Travel") == 1
    assert await close.find_created(pipeline, new) is None, "the lead is there, its deal is not"
    made = await close.create(pipeline, new)
    ibis = [lead for lead in fake_close.leads.values() if lead["name"] == "Ibis Travel"]
    assert len(ibis) == 1 and fake_close.opportunities[made.id]["lead_id"] == ibis[0]["id"]
    # the lead's own POST answer lost: the lead is made, found again, and not made twice
    other = draft(pipeline, "Heron Books")
    fake_close.lose_next("POST", "lead/")
    with pytest.raises(OutcomeUnknownError):
        await close.create(pipeline, other)
    assert await close.find_created(pipeline, other) is None
    await close.create(pipeline, other)
    assert [lead["name"] for lead in fake_close.leads.values()].count("Heron Books") == 1
    assert [r["lead_name"] for r in fake_close.opportunities.values()].count("Heron Books") == 1


async def test_a_read_back_does_not_take_someone_elses_or_an_older_deal_for_its_own(
        close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    new = draft(pipeline, "Okapi Media")
    status = pipeline.statuses[1].id
    old = datetime.now(UTC) - timedelta(hours=2)
    mine = fake_close.add_opportunity(status, lead_name="Okapi Media", value=None, created=old, updated=old,
                                      by=("user_ada", "Ada Park"))
    fake_close.add_opportunity(status, lead_name="Okapi Media", value=None, user=("user_bo", "Bo Lindqvist"))
    assert await close.find_created(pipeline, new) is None
    # on an existing lead: an older deal of mine, and a teammate's made just now, are not the one sent
    on_lead = draft(pipeline, "Okapi Media", lead_id=mine["lead_id"])
    fake_close.add_opportunity(status, lead_name="Okapi Media", lead_id=mine["lead_id"], value=None,
                               user=("user_bo", "Bo Lindqvist"))
    assert await close.find_created(pipeline, on_lead) is None
    made = await close.create(pipeline, on_lead)
    assert (await close.find_created(pipeline, on_lead)) == made


async def test_the_fake_console_shows_what_a_human_checks(fake_close: FakeClose) -> None:
    record = next(iter(fake_close.opportunities.values()))
    assert record["id"] in command(fake_close, f"show {record['id']}")
    fake_close.add_note(record["lead_id"], "hello")
    assert "hello" in command(fake_close, f"notes {record['id']}")
    assert "1 deal(s)" in command(fake_close, f"leads {record['lead_name'].split()[0]}")
    assert "user_ada" in command(fake_close, "users")
