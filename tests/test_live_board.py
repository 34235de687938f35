"""Issue 21, "Live board truth" (items 1-4): a teammate's change must be seen; change marks.

1. A poll never moves the user's scroll position: a column scrolled down keeps what the user was
   looking at; a column at its top stays at its top and shows what arrived (a teammate's move lands first).
2. A change mark is consumed only by a focus the user gave (a key, a click): not by where the focus
   starts, not by the row a poll leaves it on, not by the card under it at quit.
3. A mark never cuts the name: the mark shrinks to its glyph `◆` before the name loses a letter.
4. The user's own moves are never marked, across a kill -9 (a move still in the journal, queued or
   sent; a move the CRM confirmed before "what was seen" was written).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.app import App

from kanban_tui.app import KanbanApp
from kanban_tui.backends.close import CloseBackend
from kanban_tui.config import Settings
from kanban_tui.screens.board import BoardScreen
from kanban_tui.store.journal import MoveJournal
from kanban_tui.store.seen import SeenStore
from kanban_tui.sync.protocol import Job, SaveSeen, Send
from kanban_tui.sync.session import BoardSession
from kanban_tui.text import cells
from kanban_tui.widgets.column import (
    CARD_HEIGHT,
    CHANGE_MARK,
    SHORT_CHANGE,
    CardList,
    name_and_mark,
)

from .fakes.close import FakeClose
from .helpers import MakeApp, focused_card, notices, screen_text, settle
from .test_session_states import T0, FakeCrm

KEY = "test-close-key"

pytestmark = pytest.mark.fake_seed(sales=200, other=0)


def close_app(make_app: MakeApp, fake_close: FakeClose, *, copy: bool = False) -> KanbanApp:
    backend = CloseBackend(KEY, base_url="https://api.close.com/api/v1/",
                           transport=httpx.MockTransport(fake_close.handler))
    return make_app(backend, Settings(pipeline="Sales"), board_copy=copy)


def board(app: App[Any]) -> BoardScreen:
    return next(s for s in app.screen_stack if isinstance(s, BoardScreen))


def statuses(fake_close: FakeClose) -> dict[str, str]:
    sales = next(p for p in fake_close.pipelines if p["name"] == "Sales")
    return {s["label"]: s["id"] for s in sales["statuses"]}


def cards_of(screen: BoardScreen, status_id: str) -> CardList:
    return next(c.cards for c in screen.columns if c.status.id == status_id)


def on_screen(cards: CardList) -> list[str]:
    """The ids of the cards whose name line is inside the column's visible rows, top first."""
    height = cards.scrollable_content_region.height
    first = -(-int(cards.scroll_y) // CARD_HEIGHT)  # the first card whose name line is in view
    last = (int(cards.scroll_y) + height - 1) // CARD_HEIGHT
    return cards.board.column_ids(cards.status.id, first, last + 1)


# -- 1. a teammate's move into a column seen from its top --------------------------------------------------


async def test_a_teammates_move_into_a_column_seen_from_its_top_shows_in_its_first_rows(
    fake_close: FakeClose, make_app: MakeApp,
) -> None:
    ids = statuses(fake_close)
    lead, negotiation = ids["Lead"], ids["Negotiation"]
    app = close_app(make_app, fake_close)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = board(app)
        b = screen.session.board
        column = cards_of(screen, negotiation)
        assert column.count > column.page_cards + 4, "enough cards to scroll"
        assert column.scroll_y == 0 and not column.active

        # a column the user sees from its top, the focus elsewhere
        focused = screen.focused_id()
        moved = b.column_ids(lead)[3]
        fake_close.teammate_move(moved, negotiation)
        await pilot.press("r")
        await settle(pilot)
        assert b.column_ids(negotiation)[0] == moved, "last updated first"
        assert column.scroll_y == 0, "a column at its top stays at its top"
        assert on_screen(column)[0] == moved, "and shows what arrived, in its first rows"
        assert b.opportunity(moved).name[:8] in screen_text(app)
        assert screen.focused_id() == focused, "a poll never moves the focus"

        # the focus in that column, on its first card
        await pilot.press("5")
        assert column.scroll_y == 0 and screen.focused_id() in on_screen(column), "its cursor, kept by id, in view"
        await pilot.press("g")
        first = screen.focused_id()
        assert first == moved and column.active and column.cursor == 0
        second = b.column_ids(lead)[3]
        fake_close.teammate_move(second, negotiation)
        await pilot.press("r")
        await settle(pilot)
        assert screen.focused_id() == first, "the focus stays on its card"
        assert column.scroll_y == 0 and on_screen(column)[:2] == [second, first], "the new card shows above it"

        # a column scrolled down keeps what the user was looking at
        for _ in range(column.page_cards + 3):
            await pilot.press("j")
        assert column.scroll_y > 0
        focused, row = screen.focused_id(), column.cursor * CARD_HEIGHT - column.scroll_y
        looking_at = on_screen(column)
        third = b.column_ids(lead)[3]
        fake_close.teammate_move(third, negotiation)
        await pilot.press("r")
        await settle(pilot)
        assert b.column_ids(negotiation)[0] == third
        assert screen.focused_id() == focused and column.cursor * CARD_HEIGHT - column.scroll_y == row
        assert on_screen(column) == looking_at, "the same cards, on the same rows"


async def test_a_column_at_its_top_keeps_its_focused_card_in_view_when_cards_arrive_above_it(
    fake_close: FakeClose, make_app: MakeApp,
) -> None:
    ids = statuses(fake_close)
    lead, negotiation = ids["Lead"], ids["Negotiation"]
    app = close_app(make_app, fake_close)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = board(app)
        b = screen.session.board
        column = cards_of(screen, negotiation)
        await pilot.press("5")
        for _ in range(column.scrollable_content_region.height // CARD_HEIGHT - 1):
            await pilot.press("j")  # to the last card wholly in view, the column still at its top
        assert column.scroll_y == 0 and column.cursor > 0
        focused = screen.focused_id()
        for card in b.column_ids(lead)[:3]:
            fake_close.teammate_move(card, negotiation)
        await pilot.press("r")
        await settle(pilot)
        assert screen.focused_id() == focused, "the focus stays on its card"
        assert focused in on_screen(column), "and the card stays in view"


async def test_a_column_scrolled_by_the_mouse_keeps_its_rows_when_a_card_arrives(
    fake_close: FakeClose, make_app: MakeApp,
) -> None:
    ids = statuses(fake_close)
    lead, negotiation = ids["Lead"], ids["Negotiation"]
    app = close_app(make_app, fake_close)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = board(app)
        b = screen.session.board
        column = cards_of(screen, negotiation)
        column.scroll_to(y=3 * CARD_HEIGHT, animate=False, immediate=True)  # the wheel, the cursor left above
        await pilot.pause()
        looking_at = on_screen(column)
        assert column.cursor == 0 and column.cursor_card not in looking_at
        fake_close.teammate_move(b.column_ids(lead)[2], negotiation)
        await pilot.press("r")
        await settle(pilot)
        assert on_screen(column) == looking_at, "the same cards, on the same rows"
        cursor_card = column.cursor_card
        looking_at = on_screen(column)
        fake_close.teammate_edit(b.column_ids(negotiation)[1],
                                 value=5_500_000)  # the cursor's card, out of view, goes first
        await pilot.press("r")
        await settle(pilot)
        assert column.cursor_card == cursor_card and b.column_ids(negotiation)[0] == cursor_card
        assert on_screen(column) == looking_at, "the view did not jump to the card the cursor was left on"


# -- 2. a mark is consumed only by a focus the user gave ---------------------------------------------------


async def test_a_warm_start_focus_moved_on_by_the_delta_does_not_consume_the_mark(
    fake_close: FakeClose, make_app: MakeApp,
) -> None:
    ids = statuses(fake_close)
    lead, qualified, negotiation = ids["Lead"], ids["Qualified"], ids["Negotiation"]
    async with close_app(make_app, fake_close, copy=True).run_test(size=(120, 36)) as pilot:
        await settle(pilot)  # the first start: what is seen and the saved copy are kept at quit
        b = board(pilot.app).session.board
        first, other = b.column_ids(lead)[0], b.column_ids(qualified)[2]
    fake_close.teammate_move(first, negotiation)  # while the app was closed: the card the focus starts on
    fake_close.teammate_move(other, negotiation)
    app = close_app(make_app, fake_close, copy=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await settle(pilot)
        screen = board(app)
        b = screen.session.board
        assert b.shown_status(first) == negotiation and b.shown_status(other) == negotiation
        assert any("Since you last looked: 2 moved" in n for n in notices(app))
        assert b.change(first) == "moved" and b.change(other) == "moved", "the focus the user never gave"
        assert sorted(b.changed()) == sorted([first, other])
        await pilot.press("c")
        await pilot.press("c")
        assert screen.focused_id() in (first, other)
        said = [n for n in notices(app) if "moved from" in n]
        assert len(said) == 2 and "1 more" in said[0], said
    again = close_app(make_app, fake_close, copy=True)
    async with again.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await settle(pilot)
        b = board(again).session.board
        assert sorted(b.changed()) == [], "both were focused with c and left: seen"


async def test_the_card_focused_at_quit_keeps_a_change_made_while_closed(fake_close: FakeClose,
                                                                         make_app: MakeApp) -> None:
    ids = statuses(fake_close)
    lead = ids["Lead"]
    async with close_app(make_app, fake_close, copy=True).run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        first = board(pilot.app).session.board.column_ids(lead)[0]
    fake_close.teammate_edit(first,  # re-valued while closed: still first in Lead, where the focus starts
                             value=987_600)
    for _ in range(2):  # quit without a key, twice
        app = close_app(make_app, fake_close, copy=True)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await settle(pilot)
            screen = board(app)
            assert screen.focused_id() == first
            assert screen.session.board.change(first) == "re-valued", "the focus the user never gave sees nothing"
    app = close_app(make_app, fake_close, copy=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await settle(pilot)
        await pilot.press("j", "k")  # the user's own focus, on it
        assert board(app).focused_id() == first
    last = close_app(make_app, fake_close, copy=True)
    async with last.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await settle(pilot)
        assert board(last).session.board.change(first) is None, "focused by the user at quit: seen"


async def test_a_focus_a_poll_moves_on_consumes_no_mark(fake_close: FakeClose, make_app: MakeApp) -> None:
    negotiation = statuses(fake_close)["Negotiation"]
    app = close_app(make_app, fake_close)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = board(app)
        b = screen.session.board
        await pilot.press("j", "k")  # the user's focus on Lead's first card
        mine = focused_card(screen)
        fake_close.teammate_edit(mine, value=123_400)
        await pilot.press("r")
        await settle(pilot)
        assert b.change(mine) == "re-valued" and screen.focused_id() == mine
        fake_close.teammate_move(mine, negotiation)  # the card leaves the column under the focus
        await pilot.press("r")
        await settle(pilot)
        assert screen.focused_id() != mine
        assert b.change(mine) == "moved", "the poll moved it on: the user never saw it moved"
        await pilot.press("j")
        assert b.change(mine) == "moved", "leaving the card the poll put the focus on consumes nothing of it"


# -- 3. a mark never cuts the name -------------------------------------------------------------------------


@settings(max_examples=300)
@given(name=st.text(st.sampled_from("Tyrel Co7界é"), min_size=1, max_size=30), width=st.integers(1, 40),
       change=st.sampled_from(["new", "moved", "re-valued"]))
def test_a_mark_shrinks_to_its_glyph_before_the_name_loses_a_letter(name: str, width: int, change: str) -> None:
    shown, mark = name_and_mark(name, change, width)
    assert mark in (f"{CHANGE_MARK} {change}", f"{CHANGE_MARK} {SHORT_CHANGE.get(change, change)}", CHANGE_MARK)
    assert cells(shown) + 1 + cells(mark) <= max(width, 1 + cells(CHANGE_MARK)), "it fits the line"
    if cells(name) + 1 + cells(CHANGE_MARK) <= width:
        assert shown == name, "the name whole wherever it fits beside the glyph"
    if mark != CHANGE_MARK:
        assert shown == name, "a word only where the name keeps every letter"
        longer = f"{CHANGE_MARK} {change}"
        if cells(name) + 1 + cells(longer) <= width:
            assert mark == longer, "the whole word where it fits"


async def test_a_marked_card_at_100_columns_keeps_its_name(fake_close: FakeClose, make_app: MakeApp) -> None:
    lead = statuses(fake_close)["Lead"]
    async with close_app(make_app, fake_close).run_test(size=(100, 30)) as pilot:
        await settle(pilot)  # the first session: what is seen is kept
    app = close_app(make_app, fake_close)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = board(app)
        column = cards_of(screen, lead)
        room = column.scrollable_content_region.width - 2  # the gutter, a space at the end
        name = ("Tyrell" + "x" * 40)[: room - 2]  # fits beside the glyph, not beside the word
        first = focused_card(screen)
        fake_close.teammate_edit(first, lead_name=name, value=4_321_000)
        await pilot.press("r")
        await settle(pilot)
        assert screen.session.board.change(first) == "re-valued"
        text = screen_text(app)
        assert f"{name} {CHANGE_MARK}" in text, text


# -- 4. the user's own moves are never marked ---------------------------------------------------------------


class Run:
    """A session with a journal and what-was-seen on disk, its jobs run at once (those of a `hold` type held)."""

    def __init__(self, crm: FakeCrm, tmp_path: Path, hold: tuple[type, ...] = (Send,), journal: bool = True) -> None:
        self.hold = hold
        self.loop = asyncio.new_event_loop()
        self.session = BoardSession(crm, poll_interval=10, pipeline="p",
                                    journal=MoveJournal(tmp_path / "journal.sqlite3", "fake", background=False)
                                    if journal else None,
                                    seen=SeenStore(tmp_path / "seen.sqlite3", "fake"),
                                    clock=lambda: 1000.0, now=lambda: T0)
        self.held: list[Job] = []
        self.notices: list[str] = []
        self.take(self.session.start())

    def take(self, update) -> None:
        self.notices += [n.text for n in update.notices]
        self.run(update.jobs)

    def run(self, jobs: Iterable[Job], send: bool = False) -> None:
        """Run these jobs (`send`: the held ones too, taken off the held list)."""
        for job in list(jobs):
            if send and job in self.held:
                self.held.remove(job)
            elif isinstance(job, self.hold):
                self.held.append(job)
                continue

            async def events(job: Job = job) -> list[object]:
                return [event async for event in self.session.runner.run(job)]

            for event in self.loop.run_until_complete(events()):
                self.take(self.session.handle(event))  # type: ignore[arg-type]

    def kill(self) -> None:
        """kill -9: nothing more is written (no "what was seen" at quit); the journal's lock goes with the process."""
        self.session.close()
        self.loop.close()


def crm_with_cards() -> FakeCrm:
    crm = FakeCrm()
    for card in ("c1", "c2", "c3"):
        crm.write(card, "lead")
    return crm


def test_my_queued_move_is_not_marked_after_a_kill(tmp_path: Path) -> None:
    crm = crm_with_cards()
    first = Run(crm, tmp_path)
    assert first.session.complete and first.session.board.seen is not None
    first.take(first.session.move("c1", "qual"))
    assert first.held, "the move is queued (its request never answered)"
    first.kill()
    again = Run(crm, tmp_path)
    board = again.session.board
    assert board.shown_status("c1") == "qual" and "c1" in again.session.intents, "the journal's move, on the board"
    assert board.change("c1") is None, "my own move is no change to point out"
    assert not any("Since you last looked" in n for n in again.notices), again.notices
    again.run(again.held, send=True)
    assert crm.cards["c1"].status_id == "qual" and board.change("c1") is None
    again.kill()


@pytest.mark.parametrize("journal", [True, False], ids=["journal", "no journal"])
def test_my_move_the_crm_confirmed_before_a_kill_is_not_marked(tmp_path: Path, journal: bool) -> None:
    crm = crm_with_cards()
    first = Run(crm, tmp_path, journal=journal)
    first.take(first.session.move("c1", "qual"))
    first.run(first.held, send=True)  # confirmed: its journal row is struck off
    assert crm.cards["c1"].status_id == "qual" and not first.session.intents
    assert not journal or first.session.journal.pending() == []
    first.kill()  # before "what was seen" is written at quit
    again = Run(crm, tmp_path, journal=journal)
    board = again.session.board
    assert board.shown_status("c1") == "qual" and board.change("c1") is None, "my own move, not a teammate's"
    assert not any("Since you last looked" in n for n in again.notices), again.notices
    again.kill()


def test_a_teammates_move_after_mine_is_still_marked_after_a_kill(tmp_path: Path) -> None:
    crm = crm_with_cards()
    first = Run(crm, tmp_path)
    first.take(first.session.move("c1", "qual"))
    first.run(first.held, send=True)
    first.kill()
    crm.write("c1", "demo")  # a teammate, after my move, while the app was down
    again = Run(crm, tmp_path)
    assert again.session.board.change("c1") == "moved"
    seen = again.session.board.seen
    assert seen is not None and seen["c1"][0] == "qual", "what I saw: where I put it"
    again.kill()


def test_my_move_confirmed_before_the_first_record_of_what_was_seen_is_written_is_not_marked(tmp_path: Path) -> None:
    crm = crm_with_cards()
    first = Run(crm, tmp_path, hold=(Send, SaveSeen))
    record = [job for job in first.held if isinstance(job, SaveSeen)]
    assert record, "the board as first seen, to be written"
    first.take(first.session.move("c1", "qual"))
    first.run([job for job in first.held if isinstance(job, Send)], send=True)  # confirmed: nothing kept to add to
    first.run(record, send=True)  # then the first record is written: as the board stands, not as it stood
    first.kill()
    again = Run(crm, tmp_path)
    assert again.session.board.change("c1") is None
    again.kill()


async def _hubspot_board(make_app: MakeApp, deals: int) -> KanbanApp:
    """A HubSpot board whose pages arrive in id order, not in the board's order: most cards land above others."""
    import httpx

    from kanban_tui.backends.hubspot import HubSpotBackend
    from kanban_tui.config import Settings

    from .fakes.hubspot import FakeHubSpot

    fake = FakeHubSpot(validate=False)
    fake.seed(deals, 10)

    async def no_wait(_: float) -> None:
        return None

    backend = HubSpotBackend(fake.token, portal_id="1", transport=httpx.MockTransport(fake.handler), sleep=no_wait)
    return make_app(backend, Settings(pipeline="default"))


def _in_view(screen: BoardScreen) -> tuple[int, float, bool]:
    column = screen.active_column
    assert column is not None
    cards = column.cards
    top = cards.cursor * CARD_HEIGHT
    bottom = cards.scroll_y + cards.size.height
    return cards.cursor, cards.scroll_y, cards.scroll_y <= top and top + CARD_HEIGHT - 1 <= bottom


async def test_a_load_whose_pages_land_above_the_first_card_keeps_the_focus_on_the_first_row(make_app: MakeApp) -> None:
    """Seen in tmux on a 12,000-deal HubSpot board: its pages come in id order, so cards kept landing above the one
    the focus started on; the focus followed that card down and out of sight (no ▶ anywhere, `j` scrolled the column
    with the focus still hidden). Before the user gives the focus, a load keeps it on the first row: the column at
    its top, the first card focused."""
    app = await _hubspot_board(make_app, 3000)
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(20):
            await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BoardScreen)
        cursor, scroll_y, shown = _in_view(screen)
        assert (cursor, scroll_y) == (0, 0.0) and shown, "the column at its top, its first card focused"
        await pilot.press("j")
        await settle(pilot)
        cursor, _, shown = _in_view(screen)
        assert cursor == 1 and shown, "the focus moves from there, in sight"
