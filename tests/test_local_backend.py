"""The local workspace backend, against real SQLite files in a temp dir."""

from datetime import UTC, datetime

import pytest

from kanban_tui.backends import local
from kanban_tui.backends.demo_data import DEMO_PIPELINE, demo_opportunities
from kanban_tui.backends.errors import BackendError, NotFoundError, RefusedError
from kanban_tui.backends.local import LocalBackend, create_workspace
from kanban_tui.models import StatusKind

from .helpers import other_process


async def load_all(backend: LocalBackend):
    [pipeline] = await backend.list_pipelines()
    pages = [page async for page in backend.load_opportunities(pipeline)]
    return pipeline, pages


async def test_demo_workspace_is_a_realistic_pipeline(backend: LocalBackend) -> None:
    pipeline, pages = await load_all(backend)
    kinds = [s.kind for s in pipeline.statuses]
    assert len(pipeline.statuses) >= 6 and StatusKind.WON in kinds and StatusKind.LOST in kinds
    assert all(s.color for s in pipeline.statuses)
    opportunities = [o for page in pages for o in page.opportunities]
    assert len(opportunities) >= 60
    assert len({o.owner for o in opportunities}) >= 4
    assert len({o.currency for o in opportunities}) >= 3
    assert len({o.period for o in opportunities}) == 3
    assert any(o.note for o in opportunities) and all(o.confidence is not None for o in opportunities)


def test_demo_data_is_deterministic() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert demo_opportunities(20, now=now) == demo_opportunities(20, now=now)
    assert demo_opportunities(20, now=now) != demo_opportunities(20, seed=8, now=now)


async def test_pages_report_progress(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(local, "FIRST_PAGE_SIZE", 10)
    monkeypatch.setattr(local, "PAGE_SIZE", 25)
    path = tmp_path / "w.sqlite3"
    create_workspace(path, demo_size=60)
    _, pages = await load_all(LocalBackend(path))
    assert [(len(p.opportunities), p.loaded, p.total) for p in pages] == [(10, 10, 60), (25, 35, 60), (25, 60, 60),
                                                                          (0, 60, 60)]
    ids = [o.id for p in pages for o in p.opportunities]
    assert len(set(ids)) == 60


async def test_changes_since_sees_other_processes(backend: LocalBackend, workspace) -> None:
    pipeline, _ = await load_all(backend)
    start = await backend.changes_since(pipeline, None)
    assert start.empty and start.cursor is not None
    with other_process(workspace) as conn:
        conn.execute("UPDATE opportunities SET status_id = 'st_won' WHERE id = 'oppo_000001'")
        conn.execute("DELETE FROM opportunities WHERE id = 'oppo_000002'")
        conn.execute("INSERT INTO pipelines (id, name) VALUES ('other', 'Other')")
        conn.execute("INSERT INTO statuses (id, pipeline_id, label, position, kind)"
                     " VALUES ('x', 'other', 'X', 0, 'open')")
        conn.execute("UPDATE opportunities SET status_id = 'x' WHERE id = 'oppo_000003'")
    changes = await backend.changes_since(pipeline, start.cursor)
    assert [(o.id, o.status_id) for o in changes.upserted] == [("oppo_000001", "st_won")]
    assert sorted(changes.removed) == ["oppo_000002", "oppo_000003"], "deleted, and moved to another pipeline"
    again = await backend.changes_since(pipeline, changes.cursor)
    assert again.empty and again.cursor == changes.cursor


async def test_move_updates_status_and_dates(backend: LocalBackend) -> None:
    pipeline, pages = await load_all(backend)
    card = next(o for o in pages[0].opportunities if o.status_id == "st_lead")
    won = pipeline.status("st_won")
    moved = await backend.move(card, won)
    assert moved.status_id == "st_won" and moved.updated > card.updated
    assert moved.date_won is not None
    back = await backend.move(moved, pipeline.status("st_lead"))
    assert back.status_id == "st_lead" and back.date_won is None


async def test_move_of_a_deleted_card_is_not_found(backend: LocalBackend, workspace) -> None:
    pipeline, pages = await load_all(backend)
    card = pages[0].opportunities[0]
    with other_process(workspace) as conn:
        conn.execute("DELETE FROM opportunities WHERE id = ?", (card.id,))
    with pytest.raises(NotFoundError, match="Local workspace: this opportunity no longer exists"):
        await backend.move(card, pipeline.statuses[1])


async def test_move_to_a_closed_status_is_refused(backend: LocalBackend, workspace) -> None:
    pipeline, pages = await load_all(backend)
    with other_process(workspace) as conn:
        conn.execute("UPDATE statuses SET can_move_to = 0 WHERE id = 'st_demo'")
    with pytest.raises(RefusedError, match="does not accept cards"):
        await backend.move(pages[0].opportunities[0], pipeline.status("st_demo"))


async def test_an_unreadable_row_is_skipped_and_named(backend: LocalBackend, workspace) -> None:
    pipeline, _ = await load_all(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    with other_process(workspace) as conn:
        conn.execute("UPDATE opportunities SET confidence = 250 WHERE id = 'oppo_000005'")
    changes = await backend.changes_since(pipeline, cursor)
    assert changes.upserted == [] and changes.removed == [], "a bad row is neither shown changed nor removed"
    assert len(changes.skipped) == 1 and "oppo_000005" in changes.skipped[0] and "confidence" in changes.skipped[0]
    _, pages = await load_all(backend)
    assert sum(len(p.opportunities) for p in pages) == 63 and pages[0].skipped


async def test_a_file_that_is_not_a_workspace_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_text("not a database")
    with pytest.raises(BackendError, match="junk.sqlite3"):
        await LocalBackend(path).list_pipelines()


def test_seeding_twice_does_not_duplicate(tmp_path) -> None:
    path = tmp_path / "w.sqlite3"
    create_workspace(path, demo_size=10)
    create_workspace(path, demo_size=10)
    with other_process(path) as conn:
        assert conn.execute("SELECT count(*) FROM opportunities").fetchone()[0] == 10
        assert conn.execute("SELECT count(*) FROM statuses").fetchone()[0] == len(DEMO_PIPELINE.statuses)


async def test_fetch_one_reads_one_row(backend: LocalBackend, workspace) -> None:
    pipeline, pages = await load_all(backend)
    card = pages[0].opportunities[0]
    target = next(s for s in pipeline.statuses if s.id != card.status_id)
    with other_process(workspace) as conn:
        conn.execute("UPDATE opportunities SET status_id = ? WHERE id = ?", (target.id, card.id))
    found = await backend.fetch_one(pipeline, card.id)
    assert found is not None and found.id == card.id and found.status_id == target.id
    assert await backend.fetch_one(pipeline, "oppo_nope") is None
    other = pipeline.model_copy(update={"statuses": tuple(s for s in pipeline.statuses if s.id != target.id)})
    assert await backend.fetch_one(other, card.id) is None, "a status outside the pipeline"
