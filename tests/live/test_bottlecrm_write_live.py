"""Issue 23 against a real BottleCRM 1.35.0: an edit, a note and a new deal made by the board show up in
BottleCRM's own API (read back with the teammate's token); and the fake BottleCRM answers the same write calls
as the server does (the same requests sent to both, their answers compared)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from kanban_tui.backends import registry
from kanban_tui.backends.bottlecrm import BottleCrmBackend
from kanban_tui.backends.errors import RefusedError
from kanban_tui.models import Edit, NewDeal, Pipeline

from ..fakes.bottlecrm import FakeBottleCrm
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


def deal(server: Server, deal_id: str) -> dict[str, Any]:
    """The deal and its comments as BottleCRM's API gives them to the teammate."""
    return server.call("GET", f"/api/opportunities/{deal_id}/")


async def test_an_edit_shows_up_in_bottlecrm_with_only_its_fields_changed(server: Server,
                                                                          backend: BottleCrmBackend) -> None:
    made = server.new_pipeline("Edit")
    [deal_id] = server.add_deals(made, ["PROPOSAL"], 1, probability=20)
    pipeline = await opened(backend, made["id"])
    card = await backend.fetch_one(pipeline, deal_id)
    assert card is not None
    server.call("PATCH", f"/api/opportunities/{deal_id}/", {"description": "the teammate's words"})  # meanwhile
    users = {u.name: u for u in await backend.users()}
    assert {"Board", "teammate"} <= users.keys()
    edit = Edit(value=4321_50, currency="EUR", confidence=60, close_date=date(2027, 3, 31), owner=users["teammate"],
                name=f"Edited {uuid.uuid4().hex[:6]}")
    edited = await backend.update(card, edit)
    assert edit.holds(edited)
    record = deal(server, deal_id)["opportunity_obj"]
    assert (record["amount"], record["currency"], record["probability"], record["closed_on"], record["name"]) == (
        "4321.50", "EUR", 60, "2027-03-31", edit.name)
    assert [p["id"] for p in record["assigned_to"]] == [users["teammate"].id]
    assert record["description"] == "the teammate's words", "a field the edit did not name stands"
    cleared = await backend.update(edited, Edit(value=None, close_date=None, owner=None))
    record = deal(server, deal_id)["opportunity_obj"]
    assert (record["amount"], record["closed_on"], record["assigned_to"]) == (None, None, [])
    assert (cleared.value, cleared.close_date, cleared.owner) == (None, None, None)


async def test_a_refused_edit_says_bottlecrms_words(server: Server, backend: BottleCrmBackend) -> None:
    made = server.new_pipeline("Refused")
    [won_id, other_id] = server.add_deals(made, ["CLOSED_WON", "PROPOSAL"], 2)
    pipeline = await opened(backend, made["id"])
    won = await backend.fetch_one(pipeline, won_id)
    other = await backend.fetch_one(pipeline, other_id)
    assert won is not None and other is not None
    with pytest.raises(RefusedError, match="A won deal has to record what it was worth"):
        await backend.update(won, Edit(value=None))
    with pytest.raises(RefusedError, match="already exists with this name"):
        await backend.update(won, Edit(name=other.name))


async def test_a_note_shows_up_as_a_comment_and_is_read_back_newest_first(server: Server,
                                                                         backend: BottleCrmBackend) -> None:
    made = server.new_pipeline("Note")
    [deal_id] = server.add_deals(made, ["QUALIFICATION"], 1)
    pipeline = await opened(backend, made["id"])
    card = await backend.fetch_one(pipeline, deal_id)
    assert card is not None
    since = datetime.now(UTC)
    first = await backend.add_note(card, "First call: budget in Q3.")
    second = await backend.add_note(card, "Second line\nwith two lines \x1b[31m")
    comments = sorted(deal(server, deal_id)["comments"], key=lambda c: c["commented_on"], reverse=True)
    assert [c["comment"] for c in comments] == ["Second line\nwith two lines \x1b[31m", "First call: budget in Q3."]
    notes = await backend.notes(card)
    assert [n.text for n in notes] == [second.text, first.text] and "\x1b" not in second.text
    assert await backend.find_note(card, first.text, since) == first


async def test_a_new_deal_shows_up_in_its_stage_and_is_found_once(server: Server, backend: BottleCrmBackend) -> None:
    made = server.new_pipeline("Create")
    pipeline = await opened(backend, made["id"])
    draft = NewDeal(client_id=uuid.uuid4().hex, pipeline_id=pipeline.id, status_id="NEGOTIATION",
                    name=f"New {uuid.uuid4().hex[:6]}", value=1500_00, currency="GBP", confidence=70,
                    made_at=datetime.now(UTC))
    card = await backend.create(pipeline, draft)
    record = deal(server, card.id)["opportunity_obj"]
    assert (record["name"], record["stage"], record["amount"], record["currency"], record["probability"]) == (
        draft.name, "NEGOTIATION", "1500.00", "GBP", 70)
    assert record["pipeline"] == pipeline.id
    me = server.call("GET", "/api/profile/", token=server.token)["user_obj"]["id"]
    assert [p["id"] for p in record["assigned_to"]] == [me], "given to the token's owner"
    assert card.id in server.kanban(pipeline.id)["NEGOTIATION"], "on BottleCRM's own board"
    assert await backend.find_created(pipeline, draft) == card
    won = await backend.create(pipeline, draft.model_copy(update={"name": f"{draft.name} won",
                                                                  "status_id": "CLOSED_WON"}))
    assert won.close_date is not None, "BottleCRM closes a deal only with the date it closed on"


# -- the fake against the server: the same write calls, the same answers ------------------------------------------


def _shape(body: Any) -> Any:
    """What must agree between the fake's answer and the server's: keys (not ids, times or free values), error
    words; for a list, the shape of its first item."""
    if isinstance(body, dict):
        if body.get("error") is True:
            return body
        nested = ("opportunity_obj", "comments", "active_users", "user_details")
        return {k: _shape(v) if k in nested else type(v).__name__ for k, v in body.items()}
    if isinstance(body, list):
        return [_shape(body[0])] if body else []
    return type(body).__name__


def _answer(response: httpx.Response) -> tuple[int, Any]:
    try:
        return response.status_code, _shape(response.json())
    except json.JSONDecodeError:
        return response.status_code, "html" if "<html" in response.text else response.text[:40]


def test_the_fake_answers_the_write_calls_as_the_server_does(server: Server) -> None:
    real = server.new_pipeline("Fake vs real")
    fake = FakeBottleCrm()
    fake.seed(3)
    fake_pipeline = fake.add_pipeline(real["name"])
    tag = uuid.uuid4().hex[:6]
    clients = {
        "real": (server.client(server.token), real["id"],
                 server.call("GET", "/api/profile/", token=server.token)["user_obj"]["id"]),
        "fake": (httpx.Client(base_url="http://fake", transport=httpx.MockTransport(fake.handler),
                              headers={"Authorization": f"Bearer {fake.token}"}), fake_pipeline["id"],
                 fake.users[fake.token]["id"]),
    }
    answers: dict[str, list[tuple[str, int, Any]]] = {}
    for side, (client, pipeline_id, me) in clients.items():
        got = answers.setdefault(side, [])

        def ask(method: str, path: str, body: Any = None, *, client: httpx.Client = client,
                pipeline_id: str = pipeline_id, me: str = me,
                got: list[tuple[str, int, Any]] = got) -> httpx.Response:
            response = client.request(method, path, json=body)
            said = json.dumps(body).replace(pipeline_id, "<pipeline>").replace(me, "<me>")
            got.append((f"{method} {path.split('/')[2]} {said}", *_answer(response)))
            return response

        first = ask("POST", "/api/opportunities/", {"name": f"FvR {tag}", "pipeline": pipeline_id,
                                                    "stage": "PROPOSAL", "assigned_to": [me], "contacts": [],
                                                    "teams": []}).json()["id"]
        second = ask("POST", "/api/opportunities/", {"name": f"FvR {tag} two", "pipeline": pipeline_id}).json()["id"]
        ask("POST", "/api/opportunities/", {"name": f"FvR {tag}", "pipeline": pipeline_id, "stage": "PROPOSAL"})
        ask("POST", "/api/opportunities/", {"name": f"FvR {tag} x", "pipeline": pipeline_id, "stage": "NOPE"})
        ask("POST", "/api/opportunities/", {"name": "", "pipeline": pipeline_id, "stage": "PROPOSAL"})
        edits: tuple[dict[str, Any], ...] = (
                     {"amount": "1234.50", "probability": 35}, {"currency": "EUR", "closed_on": "2027-01-31"},
                     {"assigned_to": []}, {"amount": None, "closed_on": None}, {"currency": "XYZ"},
                     {"probability": 140}, {"probability": "abc"}, {"amount": "1.234"}, {"amount": "abc"},
                     {"amount": "12345678901.00"}, {"closed_on": "2026-02-30"}, {"name": ""}, {"name": None},
                     {"name": f"FvR {tag} two"}, {"probability": -1}, {"unknown_field": 1})
        for edit in edits:
            ask("PATCH", f"/api/opportunities/{first}/", edit)
        ask("GET", f"/api/opportunities/{first}/")
        ask("POST", f"/api/opportunities/{first}/", {"comment": "a comment"})
        ask("POST", f"/api/opportunities/{first}/", {"comment": ""})
        ask("PATCH", f"/api/opportunities/{second}/", {"amount": "10.00"})
        ask("PATCH", f"/api/opportunities/{second}/move/", {"column_id": "CLOSED_WON"})
        ask("PATCH", f"/api/opportunities/{second}/", {"amount": None})
        ask("PATCH", f"/api/opportunities/{second}/", {"closed_on": None})
        ask("PATCH", f"/api/opportunities/{uuid.uuid4()}/", {"amount": "1.00"})
        ask("POST", f"/api/opportunities/{uuid.uuid4()}/", {"comment": "x"})
        ask("GET", "/api/users/")
        details = client.get(f"/api/opportunities/{first}/").json()
        record = details["opportunity_obj"]
        got.append(("read back", 0, ({k: record[k] for k in ("amount", "currency", "probability", "closed_on",
                                                             "assigned_to")},
                                     sorted(c["comment"] for c in details["comments"]))))
    mismatched = [(f, r) for f, r in zip(answers["fake"], answers["real"], strict=True) if f != r]
    assert not mismatched, "\n".join(f"fake {f}\nreal {r}" for f, r in mismatched)
