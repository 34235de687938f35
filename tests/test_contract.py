"""One contract, run against every registered backend and its fake.

The `crm` fixture is parametrized over `registry.BACKENDS`: each name needs a fake in
`tests/fakes/<name>.py` with a `Contract` class (`tests/fakes/base.py: ContractFake`), so a
backend registered without one fails here. The backend is built the way the app builds it:
through its registry entry's factory, from its config table and an environment.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kanban_tui.backends import registry
from kanban_tui.backends.base import Backend
from kanban_tui.backends.errors import AuthError, NotFoundError
from kanban_tui.models import EDIT_FIELDS, Edit, NewDeal, Opportunity, Pipeline, Status, field_value

from .fakes.base import ContractFake


def fake_for(name: str, tmp_path: Path) -> ContractFake:
    """The contract adapter of the backend registered as `name`: `tests.fakes.<name>.Contract`."""
    try:
        module = importlib.import_module(f"tests.fakes.{name}")
    except ModuleNotFoundError:
        pytest.fail(f"backend {name!r} is registered but has no fake: add tests/fakes/{name}.py with a Contract class")
    adapter = getattr(module, "Contract", None)
    if adapter is None:
        pytest.fail(f"tests/fakes/{name}.py has no Contract class (see ContractFake in tests/fakes/base.py)")
    return adapter(tmp_path)


def build(spec: registry.BackendSpec, fake: ContractFake, *, key_ok: bool = True) -> Backend:
    return spec.factory(spec.settings(**fake.settings()), fake.environ(key_ok=key_ok), **fake.options())


@dataclass
class Crm:
    name: str
    spec: registry.BackendSpec
    fake: ContractFake
    backend: Backend

    async def pipeline(self) -> Pipeline:
        return (await self.backend.list_pipelines())[0]

    async def load(self, pipeline: Pipeline) -> dict[str, Opportunity]:
        pages = [p async for p in self.backend.load_opportunities(pipeline)]
        return {o.id: o for page in pages for o in page.opportunities}


@pytest.fixture(params=list(registry.BACKENDS))
async def crm(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Crm]:
    spec = registry.get(request.param)
    fake = fake_for(spec.name, tmp_path)
    backend = build(spec, fake)
    yield Crm(spec.name, spec, fake, backend)
    await backend.aclose()


def other_status(pipeline: Pipeline, card: Opportunity) -> Status:
    """A status the card can be moved to: the first movable one it is not in."""
    return next(s for s in pipeline.statuses if s.can_move_to and s.id != card.status_id)


def movable(cards: dict[str, Opportunity], pipeline: Pipeline) -> list[Opportunity]:
    return [c for c in cards.values() if not c.read_only and pipeline.status(c.status_id) is not None]


async def test_pipelines_are_listed_with_their_statuses_in_order(crm: Crm) -> None:
    pipelines = await crm.backend.list_pipelines()
    assert pipelines and len({p.id for p in pipelines}) == len(pipelines)
    for pipeline in pipelines:
        assert pipeline.name and pipeline.statuses
        positions = [s.position for s in pipeline.statuses]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        assert all(s.label for s in pipeline.statuses)
        assert sum(s.can_move_to for s in pipeline.statuses) >= 2, "at least two columns take cards"


async def test_a_load_reaches_its_total_with_every_card_in_the_pipeline(crm: Crm) -> None:
    pipeline = await crm.pipeline()
    pages = [page async for page in crm.backend.load_opportunities(pipeline)]
    assert pages
    loaded = [p.loaded for p in pages]
    assert loaded == sorted(loaded) and loaded[-1] == sum(len(p.opportunities) for p in pages)
    assert all(p.total is None or p.total >= p.loaded for p in pages)
    assert pages[-1].total == pages[-1].loaded, "the last page's loaded reaches the total"
    cards = [o for p in pages for o in p.opportunities]
    assert cards and len({o.id for o in cards}) == len(cards)
    assert all(pipeline.status(o.status_id) is not None for o in cards)
    assert all(crm.fake.status_of(o.id) == o.status_id for o in cards), "as the fake has them"


async def test_changes_since_none_gives_a_cursor_and_no_changes(crm: Crm) -> None:
    pipeline = await crm.pipeline()
    changes = await crm.backend.changes_since(pipeline, None)
    assert changes.cursor is not None and changes.empty


async def test_a_teammates_change_appears_in_the_next_poll(crm: Crm) -> None:
    pipeline = await crm.pipeline()
    cursor = (await crm.backend.changes_since(pipeline, None)).cursor
    cards = await crm.load(pipeline)
    card = movable(cards, pipeline)[0]
    target = other_status(pipeline, card)
    crm.fake.teammate_move(card.id, target.id)
    changes = await crm.backend.changes_since(pipeline, cursor)
    assert [(o.id, o.status_id) for o in changes.upserted if o.id == card.id] == [(card.id, target.id)]
    assert card.id not in changes.removed
    again = await crm.backend.changes_since(pipeline, changes.cursor)
    assert card.id not in {o.id for o in again.upserted}, "reported once"


async def test_a_move_returns_the_card_in_its_new_status_and_the_fake_has_it(crm: Crm) -> None:
    pipeline = await crm.pipeline()
    cards = await crm.load(pipeline)
    card = movable(cards, pipeline)[0]
    target = other_status(pipeline, card)
    moved = await crm.backend.move(card, target)
    assert moved.id == card.id and moved.status_id == target.id
    assert crm.fake.status_of(card.id) == target.id


async def test_fetch_one_reads_the_card_as_the_fake_has_it(crm: Crm) -> None:
    pipeline = await crm.pipeline()
    cards = await crm.load(pipeline)
    card = movable(cards, pipeline)[-1]
    target = other_status(pipeline, card)
    crm.fake.teammate_move(card.id, target.id)
    found = await crm.backend.fetch_one(pipeline, card.id)
    assert found is not None and found.id == card.id and found.status_id == target.id
    assert await crm.backend.fetch_one(pipeline, crm.fake.unknown_id) is None


async def test_fetch_one_does_not_disturb_what_the_next_poll_reports(crm: Crm) -> None:
    pipeline = await crm.pipeline()
    cursor = (await crm.backend.changes_since(pipeline, None)).cursor
    cards = await crm.load(pipeline)
    card = movable(cards, pipeline)[1]
    target = other_status(pipeline, card)
    crm.fake.teammate_move(card.id, target.id)
    await crm.backend.fetch_one(pipeline, card.id)
    changes = await crm.backend.changes_since(pipeline, cursor)
    assert card.id in {o.id for o in changes.upserted}
    assert not set(changes.removed) & set(cards), "nothing held is reported gone"


async def test_a_move_of_a_card_deleted_in_the_crm_raises_not_found(crm: Crm) -> None:
    pipeline = await crm.pipeline()
    cards = await crm.load(pipeline)
    card = movable(cards, pipeline)[2]
    crm.fake.delete(card.id)
    with pytest.raises(NotFoundError):
        await crm.backend.move(card, other_status(pipeline, card))
    assert crm.fake.status_of(card.id) is None
    assert await crm.backend.fetch_one(pipeline, card.id) is None


async def test_a_rejected_key_raises_auth_error(crm: Crm) -> None:
    if not crm.fake.has_key:
        pytest.skip(f"{crm.spec.label} has no key to reject")
    backend = build(crm.spec, crm.fake, key_ok=False)
    try:
        with pytest.raises(AuthError):
            await backend.list_pipelines()
    finally:
        await backend.aclose()


# -- acting on a deal (issue 23): each runs where the backend says it can, and says why not elsewhere ---------


def open_card(cards: dict[str, Opportunity], pipeline: Pipeline) -> Opportunity:
    """A card in an open status (a close date is an open deal's)."""
    return next(c for c in movable(cards, pipeline) if not pipeline.status(c.status_id).kind.is_final)


async def test_an_edit_changes_only_its_fields_and_the_crm_has_them(crm: Crm) -> None:
    backend = crm.backend
    if not backend.editable:
        pytest.skip(f"{crm.spec.label} takes no edits: {backend.cannot_edit}")
    pipeline = await crm.pipeline()
    card = open_card(await crm.load(pipeline), pipeline)
    wanted: dict[str, object] = {"value": (card.value or 0) + 12_300, "confidence": ((card.confidence or 0) + 15) % 100,
                                 "close_date": date(2027, 1, 15), "name": f"{card.name} (renamed)"}
    if "owner" in backend.editable:
        others = [u for u in await backend.users() or [] if u.id != card.owner_id]
        if others:
            wanted["owner"] = others[0]
    edit = Edit.model_validate({f: v for f, v in wanted.items() if f in backend.editable})
    assert edit.fields, f"{crm.spec.label} edits none of {sorted(wanted)}"
    answered = await backend.update(card, edit)
    assert answered.id == card.id and edit.holds(answered), "the answer has the edit"
    now = await backend.fetch_one(pipeline, card.id)
    assert now is not None and edit.holds(now), "the CRM has it"
    for name in set(EDIT_FIELDS) - set(edit.fields):
        assert field_value(now, name) == field_value(card, name), f"{name} was not changed"
    assert now.status_id == card.status_id


async def test_a_note_is_added_and_found_again(crm: Crm) -> None:
    backend = crm.backend
    if not backend.can_note:
        pytest.skip(f"{crm.spec.label} takes no notes: {backend.cannot_note}")
    pipeline = await crm.pipeline()
    card = open_card(await crm.load(pipeline), pipeline)
    since = datetime.now(UTC)
    text = f"Contract note {since.timestamp():.0f}: call back Tuesday."
    note = await backend.add_note(card, text)
    assert note.text == text
    found = await backend.find_note(card, text, since)
    assert found is not None and found.text == text, "a note whose answer was lost would be found, not sent twice"
    notes = await backend.notes(card, limit=5)
    assert notes is None or text in [n.text for n in notes]


async def test_a_new_deal_is_made_in_its_column_and_found_again(crm: Crm) -> None:
    backend = crm.backend
    if not backend.can_create:
        pytest.skip(f"{crm.spec.label} takes no new deals: {backend.cannot_create}")
    pipeline = await crm.pipeline()
    status = next(s for s in pipeline.statuses if s.can_move_to and not s.kind.is_final)
    draft = NewDeal(client_id="contract-1", pipeline_id=pipeline.id, status_id=status.id, name="Contract Newco",
                    value=420_000 if backend.has_values else None, confidence=30, made_at=datetime.now(UTC))
    assert await backend.find_created(pipeline, draft) is None, "not made yet"
    made = await backend.create(pipeline, draft)
    assert (made.status_id, made.name) == (status.id, draft.name)
    assert crm.fake.status_of(made.id) == status.id, "the CRM has it"
    found = await backend.find_created(pipeline, draft)
    assert found is not None and found.id == made.id, "a deal whose answer was lost would be found, not made twice"


def test_every_registered_backend_has_a_fake(tmp_path: Path) -> None:
    for name in registry.BACKENDS:
        assert isinstance(fake_for(name, tmp_path), ContractFake)
