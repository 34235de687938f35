"""BottleCRM's writes of issue 23 against the fake BottleCRM: each call's request (only the changed fields, in
BottleCRM's names), its answer read back, its refusals in BottleCRM's words, unsafe text made safe."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from kanban_tui.backends.bottlecrm import BottleCrmBackend
from kanban_tui.backends.bottlecrm_write import amount_of, patch_body
from kanban_tui.backends.errors import NotFoundError, RefusedError
from kanban_tui.models import EDIT_FIELDS, Edit, NewDeal, Opportunity, Period, Pipeline, User

from .conftest import BOTTLECRM_NOW as NOW
from .fakes.base import no_wait
from .fakes.bottlecrm import FakeBottleCrm

URL = "http://127.0.0.1:8000"
ESC = "\x1b]52;c;ZXZpbA==\x07"


@pytest.fixture
async def backend(fake_bottlecrm: FakeBottleCrm):
    backend = BottleCrmBackend(fake_bottlecrm.token, base_url=URL, sleep=no_wait,
                               transport=httpx.MockTransport(fake_bottlecrm.handler))
    yield backend
    await backend.aclose()


async def sales(backend: BottleCrmBackend) -> tuple[Pipeline, dict[str, Opportunity]]:
    pipeline = next(p for p in await backend.list_pipelines() if p.name == "Sales")
    cards = {o.id: o for page in [p async for p in backend.load_opportunities(pipeline)] for o in page.opportunities}
    return pipeline, cards


def open_card(pipeline: Pipeline, cards: dict[str, Opportunity]) -> Opportunity:
    return next(c for c in cards.values() if getattr(pipeline.status(c.status_id), "kind", None) == "open")


def sent(fake: FakeBottleCrm, method: str, path_part: str) -> list[dict]:
    """The JSON bodies of the requests sent so far matching `method` and a part of the path."""
    return [json.loads(r.content) for r in fake.requests if r.method == method and path_part in r.url.path]


def draft(pipeline: Pipeline, **fields: object) -> NewDeal:
    values: dict[str, object] = {"client_id": "c-1", "pipeline_id": pipeline.id, "status_id": "PROPOSAL",
                                 "name": "Northwind Traders", "made_at": NOW}
    values.update(fields)
    return NewDeal.model_validate(values)


# -- the request --------------------------------------------------------------------------------------------


def test_an_edit_sends_only_its_fields_in_bottlecrms_names() -> None:
    card = Opportunity(id="d", name="A", status_id="PROPOSAL", currency="JPY", created=datetime.now(UTC),
                       updated=datetime.now(UTC))
    assert patch_body(card, Edit(value=1234)) == {"amount": "1234"}, "yen have no minor unit"
    assert patch_body(card, Edit(value=1234_56, currency="EUR")) == {"amount": "1234.56", "currency": "EUR"}
    assert patch_body(card, Edit(confidence=40, close_date=date(2026, 5, 1))) == {"probability": 40,
                                                                                  "closed_on": "2026-05-01"}
    assert patch_body(card, Edit(owner=User(id="p1", name="Dana"), name="B")) == {"assigned_to": ["p1"], "name": "B"}
    assert patch_body(card, Edit(value=None, close_date=None, owner=None)) == {"amount": None, "closed_on": None,
                                                                               "assigned_to": []}
    assert patch_body(card, Edit()) == {}


def test_what_bottlecrm_cannot_keep_is_refused_before_anything_is_sent() -> None:
    card = Opportunity(id="d", name="A", status_id="PROPOSAL", created=datetime.now(UTC), updated=datetime.now(UTC))
    with pytest.raises(RefusedError, match="currencies"):
        patch_body(card, Edit(currency="XBT"))
    with pytest.raises(RefusedError, match="period"):
        patch_body(card, Edit(period=Period.MONTHLY))
    with pytest.raises(RefusedError, match="below"):
        amount_of(10**12, "USD")
    assert amount_of(-5, "USD") == "-0.05" and amount_of(None, "USD") is None


def test_what_the_board_offers_to_edit_and_why_not_the_period() -> None:
    backend = BottleCrmBackend("bcrm_pat_x", base_url=URL)
    assert backend.editable == frozenset(EDIT_FIELDS) - {"period"}
    assert "period" in backend.cannot_edit
    assert backend.can_note and backend.can_create


# -- an edit against the fake ------------------------------------------------------------------------------------


async def test_an_edit_patches_its_fields_only_and_returns_the_deal_read_back(
        backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, cards = await sales(backend)
    card = open_card(pipeline, cards)
    fake_bottlecrm.teammate_edit(card.id, probability=77)  # meanwhile: another field
    before = dict(fake_bottlecrm.deals[card.id])
    edited = await backend.update(card, Edit(value=2500_00, close_date=date(2026, 9, 30)))
    assert sent(fake_bottlecrm, "PATCH", f"/{card.id}/") == [{"amount": "2500.00", "closed_on": "2026-09-30"}]
    after = fake_bottlecrm.deals[card.id]
    assert {k for k in after if after[k] != before[k]} == {"amount", "closed_on", "updated_at"}
    assert (edited.value, edited.close_date, edited.confidence) == (2500_00, date(2026, 9, 30), 77)
    assert await backend.fetch_one(pipeline, card.id) == edited


async def test_every_field_reaches_bottlecrm_and_reads_back_as_the_edit_holds_it(
        backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, cards = await sales(backend)
    card = open_card(pipeline, cards)
    [owner] = [u for u in await backend.users() if u.name == "Teammate"]
    edit = Edit(value=99_50, currency="GBP", confidence=45, close_date=date(2027, 1, 31), owner=owner,
                name="Renamed deal")
    edited = await backend.update(card, edit)
    assert edit.holds(edited) and (edited.owner, edited.owner_id) == ("Teammate", owner.id)
    cleared = await backend.update(edited, Edit(value=None, close_date=None, owner=None))
    assert (cleared.value, cleared.close_date, cleared.owner, cleared.owner_id) == (None, None, None, None)


async def test_an_edit_is_not_reported_by_the_next_poll_as_a_teammates_change(
        backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, cards = await sales(backend)
    start = await backend.changes_since(pipeline, None)
    card = open_card(pipeline, cards)
    edited = await backend.update(card, Edit(confidence=12))
    changes = await backend.changes_since(pipeline, start.cursor)
    assert card.id not in [o.id for o in changes.upserted] and edited.confidence == 12


async def test_a_teammates_close_date_or_owner_change_is_reported(backend: BottleCrmBackend,
                                                                  fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, cards = await sales(backend)
    start = await backend.changes_since(pipeline, None)
    card = open_card(pipeline, cards)
    fake_bottlecrm.teammate_edit(card.id, closed_on="2026-12-24")
    changes = await backend.changes_since(pipeline, start.cursor)
    assert [(o.id, o.close_date) for o in changes.upserted] == [(card.id, date(2026, 12, 24))]


@pytest.mark.parametrize(("edit", "words"), [
    (Edit(name="taken"), "name: Opportunity already exists with this name"),
    (Edit(value=None), "A won deal has to record what it was worth."),
    (Edit(close_date=None), "closed_on: A deal cannot be closed without the date it closed on."),
], ids=["name-taken", "won-without-amount", "closed-without-date"])
async def test_a_refused_edit_says_bottlecrms_words_in_one_line(backend: BottleCrmBackend,
                                                               fake_bottlecrm: FakeBottleCrm, edit: Edit,
                                                               words: str) -> None:
    pipeline, cards = await sales(backend)
    won = next(c for c in cards.values() if c.status_id == "CLOSED_WON" and c.value)
    other = next(c for c in cards.values() if c.id != won.id)
    if edit.name == "taken":
        edit = Edit(name=other.name)
    before = dict(fake_bottlecrm.deals[won.id])
    with pytest.raises(RefusedError) as refused:
        await backend.update(won, edit)
    assert words in str(refused.value) and "\n" not in str(refused.value)
    assert fake_bottlecrm.deals[won.id] == before


async def test_an_edit_of_a_deal_deleted_meanwhile_is_not_found(backend: BottleCrmBackend,
                                                                fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, cards = await sales(backend)
    card = open_card(pipeline, cards)
    fake_bottlecrm.delete_deal(card.id)
    with pytest.raises(NotFoundError):
        await backend.update(card, Edit(confidence=5))


async def test_an_unsafe_name_is_sent_as_typed_made_safe_by_the_model_and_read_back_safe(
        backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, cards = await sales(backend)
    edited = await backend.update(open_card(pipeline, cards), Edit(name=f"Evil{ESC}"))
    assert "\x1b" not in json.dumps(sent(fake_bottlecrm, "PATCH", "/opportunities/")[-1], ensure_ascii=False)
    assert "\x1b" not in edited.name and edited.name.startswith("Evil")


# -- users and notes -----------------------------------------------------------------------------------------


async def test_users_are_the_orgs_active_profiles_by_profile_id(backend: BottleCrmBackend,
                                                               fake_bottlecrm: FakeBottleCrm) -> None:
    users = await backend.users()
    assert {(u.id, u.name) for u in users} == {(p["id"], p["user_details"]["name"])
                                               for p in fake_bottlecrm.users.values()}
    fake_bottlecrm.users[fake_bottlecrm.teammate_token]["user_details"]["name"] = f"Mallory{ESC}"
    assert all("\x1b" not in u.name for u in await backend.users())


async def test_a_note_is_a_comment_read_back_newest_first(backend: BottleCrmBackend,
                                                          fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, cards = await sales(backend)
    card = open_card(pipeline, cards)
    fake_bottlecrm.teammate_comment(card.id, "Teammate: sent the contract.")
    since = NOW  # the fake's clock
    note = await backend.add_note(card, "Called: wants the proposal by Friday.")
    assert sent(fake_bottlecrm, "POST", f"/{card.id}/") == [{"comment": "Called: wants the proposal by Friday."}]
    notes = await backend.notes(card)
    assert [n.text for n in notes] == ["Called: wants the proposal by Friday.", "Teammate: sent the contract."]
    assert notes[0] == note and note.author == "board@example.com"
    assert await backend.find_note(card, note.text, since) == note
    assert await backend.find_note(card, "never sent", since) is None


async def test_a_notes_control_characters_are_made_safe_and_its_lines_kept(backend: BottleCrmBackend,
                                                                          fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, cards = await sales(backend)
    card = open_card(pipeline, cards)
    note = await backend.add_note(card, f"one\ntwo{ESC}")
    assert note.text.startswith("one\ntwo") and "\x1b" not in note.text
    assert (await backend.notes(card))[0] == note


async def test_an_empty_note_is_refused_before_it_is_sent_and_a_deleted_deals_is_not_found(
        backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, cards = await sales(backend)
    card = open_card(pipeline, cards)
    with pytest.raises(RefusedError, match="empty"):
        await backend.add_note(card, "  ")
    assert sent(fake_bottlecrm, "POST", f"/{card.id}/") == [], "BottleCRM would answer 200 and keep nothing"
    fake_bottlecrm.delete_deal(card.id)
    with pytest.raises(NotFoundError):
        await backend.add_note(card, "hello")


async def test_notes_are_no_teammate_change_for_the_poll(backend: BottleCrmBackend,
                                                         fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, cards = await sales(backend)
    start = await backend.changes_since(pipeline, None)
    await backend.add_note(open_card(pipeline, cards), "a note")
    assert (await backend.changes_since(pipeline, start.cursor)).empty, "a comment leaves no event"


# -- a new deal ---------------------------------------------------------------------------------------------------


async def test_a_new_deal_is_posted_with_its_stage_and_given_to_the_tokens_owner(
        backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, cards = await sales(backend)
    new = draft(pipeline, value=1200_50, currency="EUR", confidence=30)
    made = await backend.create(pipeline, new)
    me = fake_bottlecrm.users[fake_bottlecrm.token]["id"]
    assert sent(fake_bottlecrm, "POST", "/api/opportunities/") == [{
        "name": "Northwind Traders", "pipeline": pipeline.id, "stage": "PROPOSAL", "assigned_to": [me],
        "contacts": [], "teams": [], "currency": "EUR", "amount": "1200.50", "probability": 30}]
    assert (made.name, made.status_id, made.value, made.currency, made.confidence, made.owner_id) == (
        "Northwind Traders", "PROPOSAL", 1200_50, "EUR", 30, me)
    assert made.id not in cards and await backend.find_created(pipeline, new) == made


async def test_a_new_deal_in_a_closed_stage_is_closed_today(backend: BottleCrmBackend,
                                                            fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, _ = await sales(backend)
    made = await backend.create(pipeline, draft(pipeline, status_id="CLOSED_LOST"))
    assert made.close_date == datetime.now(UTC).astimezone().date(), "this machine's day, as the user sees it"


async def test_a_new_deal_named_as_another_is_refused_in_bottlecrms_words(backend: BottleCrmBackend,
                                                                          fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, cards = await sales(backend)
    taken = next(iter(cards.values())).name
    with pytest.raises(RefusedError, match="already exists with this name"):
        await backend.create(pipeline, draft(pipeline, name=taken))
    with pytest.raises(RefusedError, match="not a stage"):
        await backend.create(pipeline, draft(pipeline, status_id="GONE"))


async def test_find_created_is_the_exact_name_made_after_the_draft_not_an_older_or_a_longer_one(
        backend: BottleCrmBackend, fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, _ = await sales(backend)
    new = draft(pipeline, name="Contoso")
    assert await backend.find_created(pipeline, new) is None
    await backend.create(pipeline, draft(pipeline, name="Contoso Two"))
    assert await backend.find_created(pipeline, new) is None, "a part of the name is not the name"
    old = draft(pipeline, name="Contoso", made_at=NOW + timedelta(hours=1))
    made = await backend.create(pipeline, new)
    assert await backend.find_created(pipeline, new) == made
    assert await backend.find_created(pipeline, old) is None, "made before the draft: not this one"


async def test_a_create_whose_answer_is_lost_is_found_and_not_made_twice(backend: BottleCrmBackend,
                                                                         fake_bottlecrm: FakeBottleCrm) -> None:
    pipeline, _ = await sales(backend)
    new = draft(pipeline, name="Lost Answer Ltd")
    fake_bottlecrm.lose_next("POST", "/api/opportunities/")
    with pytest.raises(Exception):  # noqa: B017,PT011 - whatever the transport's failure is called
        await backend.create(pipeline, new)
    found = await backend.find_created(pipeline, new)
    assert found is not None and [d["name"] for d in fake_bottlecrm.deals.values()].count("Lost Answer Ltd") == 1


async def test_the_contract_fake_reads_back_what_the_backend_wrote(tmp_path) -> None:
    """What tests/test_contract.py's write tests read BottleCRM with (`tests/fakes/bottlecrm.py`; the live
    contract reads the real server the same way)."""
    from .fakes.bottlecrm import Contract

    fake = Contract(tmp_path)
    backend = BottleCrmBackend(fake.fake.token, base_url=URL, sleep=no_wait,
                               transport=httpx.MockTransport(fake.fake.handler))
    pipeline, cards = await sales(backend)
    card = open_card(pipeline, cards)
    [owner, *_] = await backend.users()
    await backend.update(card, Edit(value=7_00, close_date=date(2026, 2, 3), owner=owner))
    assert [fake.field_of(card.id, f) for f in ("value", "close_date", "owner", "name")] == [
        7_00, date(2026, 2, 3), owner.id, card.name]
    await backend.add_note(card, "first")
    await backend.add_note(card, "second")
    assert fake.note_texts(card.id)[:2] == ["second", "first"]
    made = await backend.create(pipeline, draft(pipeline, name="Contoso", made_at=datetime.now(UTC)))
    assert fake.named("Contoso") == [made.id] and fake.named("nobody") == []
    await backend.aclose()
