"""The board driven with the keyboard through Textual's Pilot, on a real local workspace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import OptionList

from kanban_tui.app import KanbanApp
from kanban_tui.backends.errors import BackendError, RefusedError, UnavailableError
from kanban_tui.backends.local import LocalBackend
from kanban_tui.screens.board import BoardScreen
from kanban_tui.screens.confirm import ConfirmMove
from kanban_tui.screens.detail import DetailScreen
from kanban_tui.screens.help import HelpScreen
from kanban_tui.screens.picker import StatusPicker

from .helpers import MakeApp, RefusingBackend, focused_card, notices, other_process, screen_text, settle

SIZE = (120, 36)


def board_of(app: KanbanApp) -> BoardScreen:
    screen = app.screen_stack[1] if len(app.screen_stack) > 1 else app.screen
    assert isinstance(screen, BoardScreen)
    return screen


def status_in_db(workspace: Path, opportunity_id: str) -> str:
    with other_process(workspace) as conn:
        return conn.execute("SELECT status_id FROM opportunities WHERE id = ?", (opportunity_id,)).fetchone()[0]


def focus(screen: BoardScreen) -> tuple[str, str | None]:
    column = screen.active_column
    assert column is not None
    return column.status.id, screen.focused_id()


async def test_opens_with_columns_in_order_and_focus_on_the_first_card(backend: LocalBackend,
                                                                       make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        assert [c.status.label for c in screen.columns] == ["Lead", "Qualified", "Demo", "Proposal", "Negotiation",
                                                           "Won", "Lost"]
        assert focus(screen) == ("st_lead", screen.session.board.column_ids("st_lead")[0])
        text = screen_text(app)
        assert "✓ Won" in text and "✗ Lost" in text and "▶" in text
        lead = screen.session.board.summary("st_lead").count
        assert re.search(rf"Lead +{lead} ", text.splitlines()[1]), "label and count on the header's first line"
        assert "$" in text.splitlines()[2]
        assert "64 deals" in text and "synced just now" in text


async def test_arrows_and_hjkl_move_the_focus(backend: LocalBackend, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        board = screen.session.board
        await pilot.press("right")
        assert focus(screen) == ("st_qualified", board.column_ids("st_qualified")[0])
        await pilot.press("j", "down")
        assert focus(screen) == ("st_qualified", board.column_ids("st_qualified")[2])
        await pilot.press("k")
        assert focus(screen)[1] == board.column_ids("st_qualified")[1]
        await pilot.press("l", "h", "left", "left")
        assert focus(screen)[0] == "st_lead", "the first column is as far left as it goes"
        await pilot.press("G")
        assert focus(screen)[1] == board.column_ids("st_lead")[-1]
        await pilot.press("g")
        assert focus(screen)[1] == board.column_ids("st_lead")[0]


async def test_moving_a_card_right_and_left_saves_it_and_focus_follows(backend: LocalBackend, workspace: Path,
                                                                       make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        card = focused_card(screen)
        await pilot.press("shift+right")
        assert focus(screen) == ("st_qualified", card), "the card moved at once and focus followed it"
        await pilot.press("greater_than_sign")
        assert focus(screen) == ("st_demo", card)
        await settle(pilot)
        assert status_in_db(workspace, card) == "st_demo"
        assert not screen.session.board.is_pending(card)
        await pilot.press("shift+left")
        await settle(pilot)
        assert focus(screen) == ("st_qualified", card) and status_in_db(workspace, card) == "st_qualified"
        await pilot.press("less_than_sign")
        await settle(pilot)
        assert status_in_db(workspace, card) == "st_lead"
        await pilot.press("less_than_sign")
        await settle(pilot)
        assert focus(screen) == ("st_lead", card), "nothing left of the first status"


async def test_the_picker_moves_a_card_anywhere(backend: LocalBackend, workspace: Path, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        card = focused_card(screen)
        await pilot.press("m")
        assert isinstance(app.screen, StatusPicker)
        options = app.screen.query_one("#picker-options", OptionList).options
        assert "Lead" not in [o.prompt for o in options], "not its own status"
        await pilot.press("w", "o")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmMove), "moving into won asks first"
        box = app.screen.query_one("#confirm").region
        rows = screen_text(app).splitlines()[box.y : box.bottom]
        said = " ".join(" ".join(row[box.x : box.right] for row in rows).replace("│", " ").split())
        assert "records today as its won date." in said, "the whole explanation shows, wrapped, not clipped"
        await pilot.press("n")
        await settle(pilot)
        assert focus(screen) == ("st_lead", card) and status_in_db(workspace, card) == "st_lead"
        await pilot.press("m", "w", "o", "enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert focus(screen) == ("st_won", card)
        assert status_in_db(workspace, card) == "st_won"
        await pilot.press("m", "escape")
        await settle(pilot)
        assert not isinstance(app.screen, StatusPicker) and status_in_db(workspace, card) == "st_won"


async def test_a_refused_move_goes_back_with_a_message(backend: LocalBackend, workspace: Path,
                                                       make_app: MakeApp) -> None:
    refusing = RefusingBackend(backend, RefusedError("status_id: not allowed here", crm="Local workspace",
                                                     status_code=400))
    app = make_app(refusing)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        card = focused_card(screen)
        name = screen.session.board.opportunity(card).name
        refusing.gate.clear()
        await pilot.press("shift+right")
        await pilot.pause()
        assert focus(screen) == ("st_qualified", card)
        assert "saving…" in screen_text(app) and "1 saving" in screen_text(app)
        refusing.gate.set()
        await settle(pilot)
        assert refusing.moves == [(card, "st_qualified")]
        assert screen.session.board.shown_status(card) == "st_lead"
        assert focus(screen) == ("st_lead", card), "focus followed the card back"
        assert status_in_db(workspace, card) == "st_lead"
        messages = notices(app)
        assert any(name in m and "went back" in m and "400" in m and "not allowed here" in m
                   for m in messages), messages


async def test_a_change_made_elsewhere_appears_after_a_poll_without_stealing_focus(
    backend: LocalBackend, workspace: Path, make_app: MakeApp
) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        await pilot.press("right", "down")
        before = focus(screen)
        lead = screen.session.board.column_ids("st_lead")
        with other_process(workspace) as conn:
            conn.execute("UPDATE opportunities SET status_id = 'st_won', updated = '2030-01-01T00:00:00+00:00'"
                         " WHERE id = ?", (lead[3],))
            conn.execute("DELETE FROM opportunities WHERE id = ?", (lead[4],))
        await pilot.press("r")
        await settle(pilot)
        board = screen.session.board
        assert board.shown_status(lead[3]) == "st_won" and board.column_ids("st_won")[0] == lead[3]
        assert board is not None and lead[4] not in board
        assert focus(screen) == before, "the poll did not move the focus"
        assert "62 deals" not in screen_text(app) and "63 deals" in screen_text(app)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (UnavailableError("connection refused", crm="Local workspace"), "○ offline"),
        (RefusedError("no such table: changelog", crm="Local workspace"), "! sync failed"),
    ],
)
async def test_a_failing_sync_is_said_plainly(backend: LocalBackend, error: BackendError, said: str,
                                              make_app: MakeApp) -> None:
    class Flaky(RefusingBackend):
        async def changes_since(self, pipeline, cursor):
            if cursor is not None and self.refuse:
                raise error
            return await super().changes_since(pipeline, cursor)

    flaky = Flaky(backend, RefusedError("unused"))
    app = make_app(flaky)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        text = screen_text(app)
        status = text.splitlines()[-2]
        assert said in status and error.message in status and "retrying in" in status, status
        flaky.refuse = False
        await pilot.press("r")
        await settle(pilot)
        assert "synced just now" in screen_text(app)


async def test_details_and_help(backend: LocalBackend, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        card = screen.session.board.opportunity(focused_card(screen))
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        text = screen_text(app)
        assert card.owner is not None and card.name in text and card.owner in text and card.id in text
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for words in ("Move to…", "Previous column", "Edit", "New deal", "⇧→/>"):
            assert words in text
        assert "Quit" not in text.split("Scroll down")[0], "below the fold at first"
        assert "Scroll down" in text.splitlines()[-1], "the footer shows the help's own keys"
        scroll = app.screen.query_one("#help")
        for _ in range(40):
            await pilot.press("j")
        assert scroll.scroll_y > 0 and "Quit" in screen_text(app), "j scrolls the help"
        await pilot.press("k")
        assert scroll.scroll_y == scroll.max_scroll_y - 1, "k scrolls back"
        await pilot.press("escape")
        assert app.screen is screen


async def test_paging_keeps_the_focused_card_visible(tmp_path: Path, make_app: MakeApp) -> None:
    from kanban_tui.backends.local import create_workspace

    path = tmp_path / "big.sqlite3"
    create_workspace(path, demo_size=2000)
    app = make_app(LocalBackend(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = board_of(app)
        cards = screen.active_column.cards
        start = cards.cursor  # on the card focused at the first page, wherever later pages put it
        await pilot.press("pagedown", "pagedown", "j")
        assert cards.cursor == start + 2 * cards.page_cards + 1
        assert cards.scroll_y <= cards.cursor * 4 < cards.scroll_y + cards.size.height
        name = screen.session.board.opportunity(focused_card(screen)).name
        assert name[:8] in screen_text(app)
        await pilot.press("G")
        assert cards.cursor == cards.count - 1
        assert screen.session.board.opportunity(focused_card(screen)).name[:8] in screen_text(app)


@pytest.mark.parametrize(("journal", "said"), [
    (True, "1 move not yet confirmed: kept, and sent when you next open the board - press q again to quit"),
    (False, "1 move still saving - press q again to quit anyway"),
])
async def test_quitting_with_a_move_still_saving_asks_for_a_second_q(backend: LocalBackend, make_app: MakeApp,
                                                                     journal: bool, said: str) -> None:
    slow = RefusingBackend(backend, RefusedError("unused"))
    slow.refuse = False
    slow.gate.clear()
    app = make_app(slow, journal=journal)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("shift+right", "q")
        assert app.is_running
        assert said in notices(app)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_u_undoes_moves_one_by_one_through_the_session(backend: LocalBackend, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        board = screen.session.board
        first = focused_card(screen)
        await pilot.press("shift+right", "shift+right")  # Lead -> Qualified -> Demo
        await pilot.press("h", "h", "j")
        second = focused_card(screen)
        await pilot.press("shift+right")
        await settle(pilot)
        assert (board.shown_status(first), board.shown_status(second)) == ("st_demo", "st_qualified")
        await pilot.press("u")
        await settle(pilot)
        assert board.shown_status(second) == "st_lead" and screen.focused_id() == second
        await pilot.press("u", "u")
        await settle(pilot)
        assert board.shown_status(first) == "st_lead" and board.opportunity(first).status_id == "st_lead"
        await pilot.press("u")
        await settle(pilot)
        assert any("Nothing to undo" in n for n in notices(app))
        with other_process(backend.path) as conn:
            assert conn.execute("SELECT status_id FROM opportunities WHERE id = ?", (first,)).fetchone()[0] == "st_lead"


@pytest.mark.parametrize("fails", [False, True], ids=["loaded", "load failed"])
async def test_the_garbage_collector_is_paused_during_a_load_and_runs_again_after(
    backend: LocalBackend, fails: bool, make_app: MakeApp
) -> None:
    import gc

    seen_during_load: list[bool] = []

    class Watched(RefusingBackend):
        async def changes_since(self, pipeline, cursor):
            if cursor is None:  # the start of a load
                seen_during_load.append(gc.isenabled())
                if fails:
                    raise RefusedError("no such table: opportunities", crm="Local workspace")
            return await super().changes_since(pipeline, cursor)

    assert gc.isenabled()
    app = make_app(Watched(backend, RefusedError("unused")))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = board_of(app)
            assert (screen.session.health.error is not None) == fails
            assert seen_during_load == [False], "paused while the load runs"
            assert gc.isenabled(), "and on again once it is over"
    finally:
        gc.enable()  # whatever happened, leave the rest of the suite a working collector


def test_the_status_line_says_how_long_ago_in_words_a_person_reads_at_a_glance() -> None:
    from datetime import UTC, datetime, timedelta

    from kanban_tui.widgets.status_bar import ago

    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    cases = {timedelta(seconds=3): "just now", timedelta(seconds=45): "40s ago", timedelta(minutes=7): "7m ago",
             timedelta(hours=47): "47h ago", timedelta(days=3, hours=5): "3d ago"}
    assert {delta: ago(now - delta, now) for delta in cases} == cases


async def test_notifications_never_cover_the_status_line(backend: LocalBackend, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        before = screen_text(app).splitlines()[-2]
        assert "64 deals · ✓ synced" in before
        for n in range(3):
            app.notify(f"A long notification number {n} that wraps onto more than one line of its toast",
                       timeout=30)
        await pilot.pause()
        await pilot.pause(0.3)
        lines = screen_text(app).splitlines()
        assert lines[-2] == before, "the status line shows whole, under the notifications"
        assert "A long notification" in "\n".join(lines[:-2]), "and the notifications show above it"


async def test_digits_jump_to_columns_and_ctrl_c_quits_with_the_same_guard(backend: LocalBackend,
                                                                           make_app: MakeApp) -> None:
    slow = RefusingBackend(backend, RefusedError("unused"))
    slow.refuse = False
    slow.gate.clear()  # a move stays unconfirmed
    app = make_app(slow)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        await pilot.press("3")
        assert screen.active == 2
        await pilot.press("9")  # there are 7 columns: nothing happens
        assert screen.active == 2
        await pilot.press("1", "shift+right")
        await pilot.pause()
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.is_running, "a move not yet confirmed: ctrl+c asks again, as q does"
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running
        slow.gate.set()


@pytest.mark.parametrize(("owner", "shown"), [
    ("Priya Natarajan", "Priya N."), ("Cher", "Cher"), (None, "unassigned"),
    ("user 12", "user 12"), ("user 7", "user 7"), ("Agent 007", "Agent 007"),
])
def test_an_owners_short_name_never_turns_a_number_into_another(owner: str | None, shown: str) -> None:
    """Seen in tmux on a Pipedrive board, whose owners other than "me" are named by id: `user 12` was drawn
    `user 1.`, another user's id. A surname is shortened to its initial; a number is kept whole."""
    from kanban_tui.widgets.column import short_name

    assert short_name(owner) == shown


async def test_a_column_scrolled_to_the_cursor_shows_whole_cards_from_its_top(backend: LocalBackend,
                                                                               make_app: MakeApp) -> None:
    """Found in tmux (a search line shown takes a row: 27 rows of cards): following the cursor down scrolled the column
    by its height's rows, not by cards, so its top row showed the second line of a card, its name out of sight, and
    it stayed so once the search line went. A column follows the cursor card by card."""
    from kanban_tui.widgets.column import CARD_HEIGHT

    async with make_app(backend).run_test(size=(120, 35)) as pilot:  # 27 rows of cards: not a whole number of cards
        await settle(pilot)
        cards = board_of(pilot.app).active_column.cards  # type: ignore[arg-type]
        height = cards.scrollable_content_region.height
        assert height % CARD_HEIGHT, "the view is not a whole number of cards"
        assert cards.count * CARD_HEIGHT > height + CARD_HEIGHT, "the column is taller than its view"
        for _ in range(cards.count - 1):
            await pilot.press("down")
            await pilot.pause()
            top = cards.cursor * CARD_HEIGHT
            assert cards.scroll_y % CARD_HEIGHT == 0, f"the top row is inside a card (scrolled to {cards.scroll_y})"
            assert cards.scroll_y <= top and top + CARD_HEIGHT - 1 <= cards.scroll_y + height, "the cursor card is cut"
