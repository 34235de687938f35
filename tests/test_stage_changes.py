"""Stages changed in the CRM reach the board by themselves (issue 16): BottleCRM's poll reports the open
pipeline anew (`Changes.pipeline`) and the session moves the board to it in place, without `p`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from kanban_tui.backends.bottlecrm import BottleCrmBackend
from kanban_tui.sync import BoardSession, Update
from kanban_tui.sync.protocol import Job, Poll, Send

from .fakes.base import no_wait
from .fakes.bottlecrm import FakeBottleCrm
from .helpers import MakeApp, notices, settle
from .test_board_ui import board_of

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def backend(fake_bottlecrm: FakeBottleCrm) -> AsyncIterator[BottleCrmBackend]:
    # pipelines_every=0: every poll reads the stages again (BottleCRM logs no event for a stage edit)
    backend = BottleCrmBackend(fake_bottlecrm.token, base_url="http://127.0.0.1:8000",
                               transport=httpx.MockTransport(fake_bottlecrm.handler), sleep=no_wait, pipelines_every=0,
                               now=lambda: NOW)
    yield backend
    await backend.aclose()


def sales_id(fake_bottlecrm: FakeBottleCrm) -> str:
    return next(p["id"] for p in fake_bottlecrm.pipelines if p["name"] == "Sales")


def in_stage(fake_bottlecrm: FakeBottleCrm, code: str) -> list[str]:
    return sorted(d["id"] for d in fake_bottlecrm.deals.values()
                  if d["pipeline"] == sales_id(fake_bottlecrm) and d["stage"] == code)


def stages_of(fake_bottlecrm: FakeBottleCrm, pipeline_id: str) -> list[dict[str, Any]]:
    """The pipeline's stages, in their order."""
    pipeline = fake_bottlecrm.pipeline(pipeline_id)
    assert pipeline is not None
    return sorted(pipeline["stages"], key=lambda s: s["order"])


def restage(fake_bottlecrm: FakeBottleCrm, *, drop: str | None = None) -> list[str]:
    """In BottleCRM: "Demo booked" added and moved up to second place, `drop` emptied (its deals to
    Qualification) and deleted. The stage codes in their new order."""
    pipeline_id = sales_id(fake_bottlecrm)
    fake_bottlecrm._stages(pipeline_id, False, {"label": "Demo booked", "kind": "open", "expected_days": 3})
    stages = stages_of(fake_bottlecrm, pipeline_id)
    moved_up = [stages[0], stages[-1], *stages[1:-1]]
    fake_bottlecrm._stages(pipeline_id, True, {"stage_ids": [s["id"] for s in moved_up]})
    if drop is not None:
        for deal_id in in_stage(fake_bottlecrm, drop):
            fake_bottlecrm.teammate_move(deal_id, "QUALIFICATION")
        stage = fake_bottlecrm.stage(pipeline_id, drop)
        assert stage is not None and fake_bottlecrm._delete_stage(stage["id"])[0] == 204
    return [s["code"] for s in stages_of(fake_bottlecrm, pipeline_id)]


class Driver:
    """A headless session: runs the jobs it asks for (but the moves' sends, held until `release`)."""

    def __init__(self, session: BoardSession, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        self.jobs: list[Job] = []
        self.updates: list[Update] = []

    def take(self, update: Update) -> Update:
        self.updates.append(update)
        runner = self.session.runner
        for job in update.jobs:  # journal writes at once and in order, as the board applies them
            if runner.immediate(job):
                runner.write(job)  # type: ignore[arg-type]
            else:
                self.jobs.append(job)
        return update

    async def run(self, *, sends: bool = False) -> None:
        while runnable := [j for j in self.jobs if sends or not isinstance(j, Send)]:
            job = runnable[0]
            self.jobs.remove(job)
            async for event in self.session.runner.run(job):
                self.take(self.session.handle(event))

    async def poll(self) -> list[Update]:
        """Time for a poll: it runs (the held sends stay held); the updates it made."""
        self.clock.t += self.session.poll_interval + 1
        before = len(self.updates)
        self.take(self.session.tick())
        assert any(isinstance(j, Poll) for j in self.jobs)
        await self.run()
        return self.updates[before:]


async def test_stages_added_reordered_and_removed_reach_the_board_at_the_next_poll(
        fake_bottlecrm: FakeBottleCrm, backend: BottleCrmBackend) -> None:
    clock = Clock()
    session = BoardSession(backend, poll_interval=60, pipeline="Sales", clock=clock, now=lambda: NOW)
    m = Driver(session, clock)
    m.take(session.start())
    await m.run()
    board = session.board
    assert board is not None and board.loaded and session.pipeline is not None
    assert "DEMO_BOOKED" not in [s.id for s in session.pipeline.statuses]
    # the user's view of the board: an order, an owner filter, a search, a hidden column
    m.take(session.set_sort("value"))
    m.take(session.set_owner("Board"))
    board.set_query("sales")
    m.take(session.set_hidden({"CLOSED_LOST"}))
    seen = board.seen
    # two moves not answered yet: one into a stage that stays, one into a stage about to go
    kept, doomed = in_stage(fake_bottlecrm, "PROSPECTING")[:2]
    m.take(session.move(kept, "PROPOSAL"))
    m.take(session.move(doomed, "NEGOTIATION"))
    assert set(session.intents) == {kept, doomed}
    # meanwhile in BottleCRM: a stage added and moved up, a deal moved into it, Negotiation emptied and deleted
    order = restage(fake_bottlecrm, drop="NEGOTIATION")
    walker = in_stage(fake_bottlecrm, "QUALIFICATION")[0]
    fake_bottlecrm.teammate_move(walker, "DEMO_BOOKED")

    updates = await m.poll()

    board = session.board
    assert board is not None
    assert [s.id for s in session.pipeline.statuses] == order, "the new stages, in BottleCRM's order"
    assert [s.id for s in board.pipeline.statuses] == order
    assert order[1] == "DEMO_BOOKED" and "NEGOTIATION" not in order
    assert any(u.rebuild for u in updates), "the columns are built again"
    notices = [n.text for u in updates for n in u.notices]
    assert "Sales: stages changed in BottleCRM" in notices
    assert board.shown_status(walker) == "DEMO_BOOKED", "a deal in the new stage is on the board"
    for deal_id in in_stage(fake_bottlecrm, "QUALIFICATION"):
        assert board.shown_status(deal_id) == "QUALIFICATION", "the deals moved out of the deleted stage"
    sales = [d for d in fake_bottlecrm.deals.values() if d["pipeline"] == sales_id(fake_bottlecrm)]
    assert len(board) == len(sales), "no card lost"
    # the move into a stage that stays is kept; the other went back, and the user is told
    assert kept in session.intents and board.shown_status(kept) == "PROPOSAL"
    assert doomed not in session.intents and board.shown_status(doomed) == "PROSPECTING"
    assert any(text.startswith(f"{board.opportunity(doomed).name} went back: its status no longer exists")
               for text in notices)
    # the user's view is as it was
    assert board.sort == "value" and board.owner == "Board" and board.query == "sales"
    assert session.hidden == {"CLOSED_LOST"} and board.loaded and board.seen is seen
    # the held sends: the kept move lands; the dropped one is refused by BottleCRM and stays dropped
    await m.run(sends=True)
    assert fake_bottlecrm.deals[kept]["stage"] == "PROPOSAL" and fake_bottlecrm.deals[doomed]["stage"] == "PROSPECTING"
    assert not session.intents and board.shown_status(kept) == "PROPOSAL"
    assert board.shown_status(doomed) == "PROSPECTING"
    # reported once: the next poll finds the board as BottleCRM has it
    updates = await m.poll()
    assert not any(u.rebuild for u in updates) and not any(n for u in updates for n in u.notices)


async def test_the_focus_stays_on_its_card_when_the_columns_are_built_again(
        fake_bottlecrm: FakeBottleCrm, backend: BottleCrmBackend, make_app: MakeApp) -> None:
    app = make_app(backend, pipeline="Sales")
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        screen = board_of(app)
        await pilot.press("right", "right", "j")
        focused = screen.focused_id()
        status = screen.active_column.status.id
        assert focused is not None and status == "PROPOSAL"
        assert focused != screen.session.board.column_ids("PROPOSAL")[0], "not the column's first card"
        order = restage(fake_bottlecrm)
        await pilot.press("r")
        await settle(pilot)
        assert [c.status.id for c in screen.columns] == order, "the columns follow without pressing p"
        assert "Demo booked" in [c.status.label for c in screen.columns]
        assert screen.focused_id() == focused, "the focus stayed on the same deal"
        assert screen.active_column.status.id == status
        assert any(n == "Sales: stages changed in BottleCRM" for n in notices(app))
