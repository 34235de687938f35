"""The local workspace's writes of issue 23: an edit of a deal's fields, a note, a new deal, the owners; against
real SQLite files in a temp dir (another connection plays a teammate's process)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from kanban_tui.backends.errors import NotFoundError, RefusedError
from kanban_tui.backends.local import LocalBackend, create_workspace
from kanban_tui.models import EDIT_FIELDS, Edit, NewDeal, Opportunity, Period, Pipeline, User

from .helpers import other_process

ESC = "\x1b]52;c;ZXZpbA==\x07"
"""A terminal escape (OSC 52: write the clipboard) that must never reach the screen as it is."""


async def board(backend: LocalBackend) -> tuple[Pipeline, dict[str, Opportunity]]:
    [pipeline] = await backend.list_pipelines()
    cards = {o.id: o for page in [p async for p in backend.load_opportunities(pipeline)] for o in page.opportunities}
    return pipeline, cards


def row(path: Path, deal_id: str) -> dict[str, object]:
    with closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        found = conn.execute("SELECT * FROM opportunities WHERE id = ?", (deal_id,)).fetchone()
    return dict(found) if found is not None else {}


def draft(pipeline: Pipeline, **fields: object) -> NewDeal:
    values: dict[str, object] = {"client_id": "c-1", "pipeline_id": pipeline.id,
                                 "status_id": pipeline.statuses[0].id, "name": "Northwind", "value": 500_00,
                                 "confidence": 20, "made_at": datetime.now(UTC)}
    values.update(fields)
    return NewDeal.model_validate(values)


# -- reading: the new fields --------------------------------------------------------------------------------


async def test_a_deal_reads_its_close_date_and_its_owner_by_name(backend: LocalBackend, workspace: Path) -> None:
    with other_process(workspace) as conn:
        conn.execute("UPDATE opportunities SET close_date = '2026-03-31' WHERE id = 'oppo_000001'")
    _, cards = await board(backend)
    assert cards["oppo_000001"].close_date == date(2026, 3, 31)
    assert all(c.owner_id == c.owner for c in cards.values()), "a workspace's owner is a name, its own id"


async def test_an_older_workspace_gains_the_new_columns_and_a_read_only_one_reads_them_as_empty(
        tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    create_workspace(path, demo_size=4)
    with other_process(path) as conn:  # as a version before issue 23 made it
        conn.execute("DROP INDEX IF EXISTS opportunities_by_client_id")
        conn.execute("ALTER TABLE opportunities DROP COLUMN close_date")
        conn.execute("ALTER TABLE opportunities DROP COLUMN client_id")
    path.chmod(0o444)
    try:
        reader = LocalBackend(path, read_only=True)
        _, cards = await board(reader)
        assert len(cards) == 4 and all(c.close_date is None for c in cards.values())
        assert reader.editable == frozenset() and not reader.can_note and not reader.can_create
        assert "read-only" in reader.cannot_edit == reader.cannot_note == reader.cannot_create
    finally:
        path.chmod(0o644)
    assert "close_date" not in row(path, "oppo_000001"), "nothing was written"
    writer = LocalBackend(path)
    _, cards = await board(writer)
    assert set(writer.editable) == set(EDIT_FIELDS) and writer.can_note and writer.can_create
    assert {"close_date", "client_id"} <= row(path, "oppo_000001").keys(), "upgraded where it can be written"


# -- an edit ----------------------------------------------------------------------------------------------------


async def test_an_edit_changes_only_its_fields_and_a_teammates_change_to_another_stands(
        backend: LocalBackend, workspace: Path) -> None:
    pipeline, cards = await board(backend)
    card = cards["oppo_000003"]
    with other_process(workspace) as conn:  # meanwhile, a teammate sets the confidence
        conn.execute("UPDATE opportunities SET confidence = 77 WHERE id = ?", (card.id,))
    before = row(workspace, card.id)
    edited = await backend.update(card, Edit(value=123_45))
    after = row(workspace, card.id)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"value", "updated"}
    assert edited.value == 123_45 and edited.confidence == 77 and edited.updated > card.updated
    assert await backend.fetch_one(pipeline, card.id) == edited


async def test_every_field_is_written_and_read_back_as_the_edit_holds_it(backend: LocalBackend) -> None:
    pipeline, cards = await board(backend)
    card = cards["oppo_000005"]
    [owner, *_] = [u for u in await backend.users() if u.name != card.owner]
    edit = Edit(value=9_900_00, currency="EUR", period=Period.MONTHLY, confidence=65, close_date=date(2026, 6, 30),
                owner=owner, name="Renamed Ltd")
    assert edit.fields == EDIT_FIELDS
    edited = await backend.update(card, edit)
    fetched = await backend.fetch_one(pipeline, card.id)
    assert fetched is not None and edit.holds(fetched) and edit.holds(edited)
    assert (fetched.owner, fetched.owner_id, fetched.name, fetched.period) == (owner.name, owner.id, "Renamed Ltd",
                                                                              Period.MONTHLY)


async def test_an_edit_clears_what_may_be_cleared(backend: LocalBackend) -> None:
    pipeline, cards = await board(backend)
    card = await backend.update(cards["oppo_000006"], Edit(close_date=date(2026, 1, 2)))
    assert card.close_date == date(2026, 1, 2)
    cleared = await backend.update(card, Edit(value=None, close_date=None, owner=None, confidence=None))
    assert (cleared.value, cleared.close_date, cleared.owner, cleared.owner_id, cleared.confidence) == (None,) * 5
    assert cleared.name == card.name and cleared.currency == card.currency


async def test_sending_the_same_edit_twice_ends_the_same(backend: LocalBackend) -> None:
    _, cards = await board(backend)
    once = await backend.update(cards["oppo_000007"], Edit(confidence=42))
    twice = await backend.update(cards["oppo_000007"], Edit(confidence=42))
    assert once.model_copy(update={"updated": twice.updated}) == twice


async def test_an_edit_is_in_the_next_poll_and_in_the_history_as_a_revaluation(
        backend: LocalBackend, workspace: Path) -> None:
    pipeline, cards = await board(backend)
    card = cards["oppo_000008"]
    start = await backend.changes_since(pipeline, None)
    since = datetime.now(UTC) - timedelta(seconds=1)
    await backend.update(card, Edit(value=(card.value or 0) + 100))
    changes = await backend.changes_since(pipeline, start.cursor)
    assert [o.id for o in changes.upserted] == [card.id]
    history = await backend.history(pipeline, since)
    [event] = history.events
    assert event.revalued and not event.moved and event.value_from == card.value
    assert event.value_to == (card.value or 0) + 100


async def test_an_edit_of_a_deal_deleted_meanwhile_is_not_found(backend: LocalBackend, workspace: Path) -> None:
    _, cards = await board(backend)
    with other_process(workspace) as conn:
        conn.execute("DELETE FROM opportunities WHERE id = 'oppo_000009'")
    with pytest.raises(NotFoundError):
        await backend.update(cards["oppo_000009"], Edit(value=1))


async def test_unsafe_text_in_an_edit_is_stored_safe_and_read_safe(backend: LocalBackend) -> None:
    _, cards = await board(backend)
    edited = await backend.update(cards["oppo_000010"], Edit(name=f"Evil{ESC} Corp"))
    assert "\x1b" not in edited.name and "\x07" not in edited.name and edited.name.startswith("Evil")


# -- owners ---------------------------------------------------------------------------------------------------


async def test_users_are_the_owners_the_workspace_knows_made_safe(backend: LocalBackend, workspace: Path) -> None:
    with other_process(workspace) as conn:
        conn.execute("UPDATE opportunities SET owner = ? WHERE id = 'oppo_000011'", (f"Mallory{ESC}",))
    users = await backend.users()
    names = [u.name for u in users]
    assert {"Dana Reyes", "Sam Okafor", "Priya Natarajan", "Lee Chen"} <= set(names)
    assert len(names) == len(set(names)) and all("\x1b" not in n for n in names)
    assert all(u.id == u.name for u in users if "Mallory" not in u.name)


# -- notes ----------------------------------------------------------------------------------------------------


async def test_a_note_is_added_newest_first_and_found_again(backend: LocalBackend) -> None:
    _, cards = await board(backend)
    card = cards["oppo_000012"]
    sent = datetime.now(UTC)
    note = await backend.add_note(card, "Called: they want the proposal by Friday.")
    notes = await backend.notes(card)
    assert notes[0].text == note.text == "Called: they want the proposal by Friday."
    assert await backend.find_note(card, note.text, sent) == notes[0]
    assert await backend.find_note(card, "never sent", sent) is None


async def test_a_note_keeps_its_lines_and_is_read_safe(backend: LocalBackend) -> None:
    _, cards = await board(backend)
    await backend.add_note(cards["oppo_000013"], f"line one\nline two{ESC}")
    [note, *_] = await backend.notes(cards["oppo_000013"])
    assert note.text.startswith("line one\nline two") and "\x1b" not in note.text


async def test_an_empty_note_or_one_for_a_deleted_deal_is_refused_and_nothing_is_written(
        backend: LocalBackend, workspace: Path) -> None:
    _, cards = await board(backend)
    before = await backend.notes(cards["oppo_000014"], limit=50)
    with pytest.raises(RefusedError):
        await backend.add_note(cards["oppo_000014"], "   ")
    assert await backend.notes(cards["oppo_000014"], limit=50) == before
    with other_process(workspace) as conn:
        conn.execute("DELETE FROM opportunities WHERE id = 'oppo_000015'")
    with pytest.raises(NotFoundError):
        await backend.add_note(cards["oppo_000015"], "hello")


# -- a new deal -----------------------------------------------------------------------------------------------


async def test_a_new_deal_is_numbered_as_the_workspace_numbers_them_and_read_back_by_its_client_id(
        backend: LocalBackend, workspace: Path) -> None:
    pipeline, cards = await board(backend)
    start = await backend.changes_since(pipeline, None)
    new = draft(pipeline, status_id=pipeline.statuses[2].id)
    made = await backend.create(pipeline, new)
    assert made.id == "oppo_000065" and made.id not in cards
    assert (made.name, made.status_id, made.value, made.confidence, made.currency) == (
        "Northwind", pipeline.statuses[2].id, 500_00, 20, "USD")
    assert await backend.find_created(pipeline, new) == made
    assert await backend.find_created(pipeline, draft(pipeline, client_id="c-2")) is None, "by client id, not name"
    changes = await backend.changes_since(pipeline, start.cursor)
    assert [o.id for o in changes.upserted] == [made.id]
    [event] = (await backend.history(pipeline, made.created - timedelta(seconds=1))).events
    assert event.action == "created" and event.status_to == made.status_id


async def test_a_new_deal_sent_twice_is_made_once(backend: LocalBackend) -> None:
    pipeline, cards = await board(backend)
    new = draft(pipeline, currency="EUR")
    first = await backend.create(pipeline, new)
    again = await backend.create(pipeline, new)
    assert again == first and first.currency == "EUR"
    _, after = await board(backend)
    assert len(after) == len(cards) + 1


async def test_a_new_deal_in_a_won_column_is_won_today(backend: LocalBackend) -> None:
    pipeline, _ = await board(backend)
    won = next(s for s in pipeline.statuses if s.kind.value == "won")
    made = await backend.create(pipeline, draft(pipeline, status_id=won.id))
    assert made.date_won == datetime.now(UTC).astimezone().date()


async def test_a_new_deal_in_a_column_gone_or_closed_to_cards_is_refused(backend: LocalBackend,
                                                                        workspace: Path) -> None:
    pipeline, cards = await board(backend)
    with other_process(workspace) as conn:
        conn.execute("UPDATE statuses SET can_move_to = 0 WHERE id = ?", (pipeline.statuses[1].id,))
    with pytest.raises(RefusedError, match="does not accept"):
        await backend.create(pipeline, draft(pipeline, status_id=pipeline.statuses[1].id))
    with pytest.raises(RefusedError, match="no longer exists"):
        await backend.create(pipeline, draft(pipeline, status_id="st_gone"))
    _, after = await board(backend)
    assert after.keys() == cards.keys()


async def test_a_new_deals_unsafe_name_is_read_safe(backend: LocalBackend) -> None:
    pipeline, _ = await board(backend)
    made = await backend.create(pipeline, draft(pipeline, name=f"Evil{ESC}"))
    assert "\x1b" not in made.name


# -- a workspace that cannot be written ---------------------------------------------------------------------


async def test_a_read_only_workspace_offers_no_writes_and_says_why(workspace: Path) -> None:
    reader = LocalBackend(workspace, read_only=True)
    assert reader.editable == frozenset() and not reader.can_note and not reader.can_create
    assert reader.cannot_edit == "the workspace is open read-only here"
    pipeline, cards = await board(reader)
    card = cards["oppo_000016"]
    with pytest.raises(RefusedError, match="cannot be written"):
        await reader.update(card, Edit(value=1))
    with pytest.raises(RefusedError, match="cannot be written"):
        await reader.add_note(card, "hello")
    with pytest.raises(RefusedError, match="cannot be written"):
        await reader.create(pipeline, draft(pipeline))
    assert row(workspace, card.id)["value"] == card.value


async def test_the_contract_fake_reads_back_what_the_backend_wrote(tmp_path: Path) -> None:
    """What tests/test_contract.py's write tests read the workspace with (`tests/fakes/local.py`)."""
    from .fakes.local import Contract

    fake = Contract(tmp_path)
    create_workspace(fake.path, demo_size=4)
    backend = LocalBackend(fake.path)
    pipeline, cards = await board(backend)
    card = cards["oppo_000001"]
    owner = User(id="Lee Chen", name="Lee Chen")
    await backend.update(card, Edit(value=7_00, close_date=date(2026, 2, 3), owner=owner))
    assert [fake.field_of(card.id, f) for f in ("value", "close_date", "owner", "name")] == [
        7_00, date(2026, 2, 3), "Lee Chen", card.name]
    await backend.add_note(card, "first")
    await backend.add_note(card, "second")
    assert fake.note_texts(card.id)[:2] == ["second", "first"]
    made = await backend.create(pipeline, draft(pipeline, name="Contoso"))
    assert fake.named("Contoso") == [made.id] and fake.named("nobody") == []
