"""Marks and moving several cards at once (issue 23): `space` marks, `>` / `<` / `m` move every marked card,
`esc` clears the marks, `u` undoes a bulk move whole; through the keys (Pilot, on a local workspace) and headless
(the session, with the state machine's fake CRM)."""

from __future__ import annotations

from pathlib import Path

from kanban_tui.app import KanbanApp
from kanban_tui.backends.errors import UnavailableError
from kanban_tui.backends.local import LocalBackend
from kanban_tui.models import Opportunity, Pipeline, Status
from kanban_tui.screens.board import BoardScreen
from kanban_tui.screens.confirm import ConfirmMove
from kanban_tui.screens.picker import LostReasonPicker, StatusPicker
from kanban_tui.sync import Board, BoardSession
from kanban_tui.sync.protocol import Send
from kanban_tui.widgets.column import MARK
from kanban_tui.widgets.status_bar import status_line

from .helpers import MakeApp, RefusingBackend, notices, other_process, screen_text, settle
from .test_board_ui import SIZE, board_of, focus, status_in_db
from .test_session import complete_all, machine  # noqa: F401 - the fixture
from .test_session_states import SessionMachine


def status_text(app: KanbanApp) -> str:
    return status_line(board_of(app).session.snapshot())[0]


def board_in(screen: BoardScreen) -> Board:
    board = screen.session.board
    assert board is not None
    return board


def board_of_session(session: BoardSession) -> Board:
    assert session.board is not None
    return session.board


def live(m: SessionMachine) -> BoardSession:
    assert m.session is not None
    return m.session


# -- through the keys ---------------------------------------------------------------------------------------


async def test_space_marks_with_a_glyph_and_esc_clears_the_marks_before_the_search(
        backend: LocalBackend, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        first = screen.focused_id()
        assert first is not None
        name = board_in(screen).opportunity(first).name
        await pilot.press("space", "j", "space", "j", "space", "k", "space")
        await pilot.pause()
        assert screen.session.marked == [first, board_in(screen).column_ids("st_lead")[2]], "space again unmarks"
        assert "2 marked" in status_text(app) and "· 2 marked ·" in screen_text(app)
        assert f"{MARK} {name[:8]}" in screen_text(app), "a glyph before the name, not only a colour"
        await pilot.press("slash", "a", "enter")
        await settle(pilot)
        assert board_in(screen).query == "a"
        await pilot.press("escape")
        await pilot.pause()
        assert screen.session.marked == [] and "marked" not in status_text(app)
        assert board_in(screen).query == "a", "the marks go first; the search stays"
        assert MARK not in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert board_in(screen).query == ""


async def test_greater_than_moves_every_marked_card_one_status_along_and_u_puts_them_all_back(
        backend: LocalBackend, workspace: Path, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        board = board_in(screen)
        lead, qualified, lost = (board.column_ids(s)[0] for s in ("st_lead", "st_qualified", "st_lost"))
        await pilot.press("space", "2", "space", "7", "space", "1")
        assert screen.session.marked == [lead, qualified, lost]
        await pilot.press("greater_than_sign")
        await settle(pilot)
        assert [status_in_db(workspace, c) for c in (lead, qualified, lost)] == ["st_qualified", "st_demo", "st_lost"]
        assert "2 moved · 1 already in the last status" in notices(app)
        assert focus(screen) == ("st_qualified", lead), "the focused card moved: the focus follows it"
        assert screen.session.marked == [lead, qualified, lost], "the marks stay: > again walks them on"
        await pilot.press("u")
        await settle(pilot)
        assert [status_in_db(workspace, c) for c in (lead, qualified, lost)] == ["st_lead", "st_qualified", "st_lost"]
        assert "Undone: 2 deals back where they were" in notices(app)
        await pilot.press("u")
        await settle(pilot)
        assert "Nothing to undo." in notices(app), "the bulk move was one entry for undo"


async def test_a_bulk_undo_leaves_a_card_that_moved_since(backend: LocalBackend, workspace: Path,
                                                          make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        board = board_in(screen)
        a, b = board.column_ids("st_lead")[:2]
        await pilot.press("space", "j", "space", "less_than_sign")
        await settle(pilot)
        assert "Nothing moved · 2 already in the first status" in notices(app)
        await pilot.press("greater_than_sign")
        await settle(pilot)
        assert status_in_db(workspace, a) == status_in_db(workspace, b) == "st_qualified"
        with other_process(workspace) as conn:  # a teammate moves b on
            conn.execute("UPDATE opportunities SET status_id = 'st_demo', updated = '2030-01-01T00:00:00+00:00'"
                         " WHERE id = ?", (b,))
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        name = board.opportunity(b).name
        assert f"Undone: 1 deal back where it was · 1 not: {name} moved since" in notices(app)
        assert status_in_db(workspace, a) == "st_lead" and status_in_db(workspace, b) == "st_demo"


async def test_a_bulk_move_into_won_asks_once_for_all(backend: LocalBackend, workspace: Path,
                                                      make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        cards = board_in(screen).column_ids("st_negotiation")[:2]
        await pilot.press("5", "space", "j", "space", "greater_than_sign")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmMove)
        assert "Move 2 deals to ✓ Won?" in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert [status_in_db(workspace, c) for c in cards] == ["st_negotiation"] * 2, "n: nothing moves"
        await pilot.press("greater_than_sign")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmMove), "one question for both"
        assert [status_in_db(workspace, c) for c in cards] == ["st_won"] * 2
        assert "Moved 2 deals to Won" in notices(app)


class WithLostReasons(RefusingBackend):
    """The local workspace, its pipeline offering lost reasons; the reason each move carried is kept."""

    def __init__(self, inner: LocalBackend) -> None:
        super().__init__(inner, UnavailableError("down", crm=inner.name))
        self.refuse = False
        self.reasons: dict[str, str | None] = {}

    async def list_pipelines(self) -> list[Pipeline]:
        return [p.model_copy(update={"lost_reasons": ("Price", "Timing")}) for p in await self.inner.list_pipelines()]

    async def move(self, opportunity: Opportunity, status: Status, *, lost_reason: str | None = None) -> Opportunity:
        self.reasons[opportunity.id] = lost_reason
        return await super().move(opportunity, status, lost_reason=lost_reason)


async def test_m_with_marks_moves_them_all_to_one_status_with_one_lost_reason(
        backend: LocalBackend, workspace: Path, make_app: MakeApp) -> None:
    crm = WithLostReasons(backend)
    app = make_app(crm)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        board = board_in(screen)
        lead, demo = board.column_ids("st_lead")[0], board.column_ids("st_demo")[0]
        await pilot.press("space", "3", "space", "m")
        assert isinstance(app.screen, StatusPicker) and "Move 2 marked deals to…" in screen_text(app)
        await pilot.press("l", "o", "s", "t", "enter")
        await settle(pilot)
        assert isinstance(app.screen, LostReasonPicker), "the reason is the confirmation"
        assert "Move 2 deals to ✗ Lost: why was it lost?" in screen_text(app)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert [status_in_db(workspace, c) for c in (lead, demo)] == ["st_lost"] * 2
        assert crm.reasons == {lead: "Timing", demo: "Timing"}, "one reason for all"


async def test_offline_a_bulk_move_shows_at_once_each_card_queued(backend: LocalBackend, workspace: Path,
                                                                  make_app: MakeApp) -> None:
    crm = RefusingBackend(backend, UnavailableError("cannot connect", crm="Local workspace"))
    app = make_app(crm)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        a, b = board_in(screen).column_ids("st_lead")[:2]
        await pilot.press("space", "j", "space", "greater_than_sign")
        await settle(pilot)
        board = board_in(screen)
        assert board.shown_status(a) == board.shown_status(b) == "st_qualified", "shown where they go, at once"
        assert {board.badges.get(a), board.badges.get(b)} == {"queued"}
        assert "2 moves queued" in status_text(app) and "2 marked" in status_text(app)
        assert status_in_db(workspace, a) == "st_lead"
        journal = screen.session.journal
        assert journal is not None and {row.opportunity_id for row in journal.pending()} == {a, b}, "on disk"
        crm.refuse = False
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert status_in_db(workspace, a) == status_in_db(workspace, b) == "st_qualified"


# -- headless: the session -------------------------------------------------------------------------------------


def test_a_read_only_window_leaves_every_marked_card_out_in_one_line(machine: SessionMachine) -> None:  # noqa: F811
    m = machine
    first, other = m.session, m.open_session()
    m.session = other  # a second window on the same journal, its board loaded
    try:
        m.take(other.start())
        complete_all(m)
        assert other.read_only is not None and other.board is not None and "c1" in other.board
        for card in ("c1", "c2"):
            other.toggle_mark(card)
        plan = other.plan_marked(delta=1)
        assert plan.targets == {} and len(plan.left_out) == 1 and plan.left_out[0].startswith("Read-only")
        update = other.move_marked(plan)
        assert [n.text for n in update.notices] == [plan.left_out[0]]
        assert not any(isinstance(j, Send) for j in update.jobs)
    finally:
        m.session = first
        other.close()


def test_a_card_whose_question_is_open_is_left_out_and_said(machine: SessionMachine) -> None:  # noqa: F811
    m = machine
    complete_all(m)
    m.time_passes(70)
    complete_all(m, read="503")  # offline: the move waits
    m.user_moves("c1", "demo")
    m.a_teammate_moves_a_card("c1", "won")  # then a teammate changes it: the user is asked
    m.time_passes(400)
    complete_all(m)
    session = live(m)
    assert session.question is not None and session.question.card == "c1"
    session.toggle_mark("c1")
    session.toggle_mark("c2")
    plan = session.plan_marked(delta=1)
    assert plan.targets == {"c2": "demo"} and plan.left_out == ["C1: answer the question about it first."]
    update = session.move_marked(plan)
    assert [n.text for n in update.notices] == ["Moved 1 deal to Demo · 1 left out: C1: answer the question about"
                                                " it first."]


def test_a_marked_card_that_leaves_the_board_leaves_the_marks(machine: SessionMachine) -> None:  # noqa: F811
    m = machine
    complete_all(m)
    for card in ("c1", "c2", "c3"):
        live(m).toggle_mark(card)
    m.a_teammate_deletes_a_card("c2")
    m.time_passes(70)
    complete_all(m)
    assert "c2" not in board_of_session(live(m))
    assert live(m).marked == ["c1", "c3"] and live(m).snapshot().marked == 2


def test_marked_cards_out_of_sight_are_counted_and_still_moved(machine: SessionMachine) -> None:  # noqa: F811
    m = machine
    complete_all(m)
    session = live(m)
    for card in ("c1", "c2", "c3"):
        session.toggle_mark(card)
    session.set_query("C2")  # only c2 matches
    assert "3 marked (2 out of sight)" in status_line(session.snapshot())[0]
    session.set_query("")
    session.set_hidden({"qual"})  # c2's column hidden
    assert "3 marked (1 out of sight)" in status_line(session.snapshot())[0]
    plan = session.plan_marked(delta=1)  # c1, c3 in lead: the hidden qual is stepped over
    assert plan.targets == {"c1": "demo", "c2": "demo", "c3": "demo"}
