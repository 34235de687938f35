"""Issue 14, triage: each key through Pilot — the owner filter with "me", days in status and its
order, hiding columns, the link opened and copied (OSC 52 / OSC 8 bytes), change marks across a
restart, the command palette, remapped keys and bad `[keys]` entries, `r` saying it ran, and
the won date promised only where the CRM records one."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from textual import events
from textual._compositor import LayoutUpdate
from textual.widgets import Input

from kanban_tui.app import KanbanApp
from kanban_tui.backends.close import CloseBackend
from kanban_tui.backends.local import LocalBackend, create_workspace
from kanban_tui.config import Settings
from kanban_tui.keys import check_keymap
from kanban_tui.models import Opportunity, Pipeline, Status
from kanban_tui.screens.board import BoardScreen
from kanban_tui.screens.detail import DetailScreen
from kanban_tui.screens.picker import OwnerPicker
from kanban_tui.sync.board import Board

from .fakes.close import FakeClose
from .helpers import MakeApp, focused_card, notices, other_process, screen_text, settle

KEY = "test-close-key"

pytestmark = pytest.mark.fake_seed(sales=120, other=0)


def close_app(make_app: MakeApp, fake_close: FakeClose) -> KanbanApp:
    backend = CloseBackend(KEY, base_url="https://api.close.com/api/v1/",
                           transport=httpx.MockTransport(fake_close.handler))
    return make_app(backend, Settings(pipeline="Sales"))


def local_app(make_app: MakeApp, path: Path) -> KanbanApp:
    return make_app(LocalBackend(path))


def board(app: KanbanApp) -> BoardScreen:
    return next(s for s in app.screen_stack if isinstance(s, BoardScreen))


# -- the owner filter -----------------------------------------------------------------------------


async def test_f_filters_to_my_deals_from_close_me_and_remembers_it(fake_close: FakeClose, make_app: MakeApp) -> None:
    app = close_app(make_app, fake_close)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = board(app)
        assert screen.session.me == "Ada Park", "from Close's GET /me/"
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, OwnerPicker) and "me (Ada Park)" in screen_text(app)
        await pilot.press("up", "enter")  # from everyone (the current choice) up to me
        await settle(pilot)
        b = screen.session.board
        shown = [i for s in screen.columns for i in b.column_ids(s.status.id)]
        mine = [o for o in fake_close.opportunities.values() if o["user_name"] == "Ada Park"]
        assert shown and len(shown) == len(mine) and all(b.opportunity(i).owner == "Ada Park" for i in shown)
        text = screen_text(app)
        assert "owner: me" in text.splitlines()[0]
        first = screen.columns[0].status.id
        assert f"{b.column_len(first)} of {b.total_count(first)}" in text.splitlines()[1]
        assert f"{len(mine)} of 120 deals" in text
    again = close_app(make_app, fake_close)
    async with again.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "owner: me" in screen_text(again).splitlines()[0], "remembered for this board"
        await pilot.press("escape")  # no search open: esc drops the filter
        await pilot.pause()
        assert board(again).session.board.owner is None and "owner:" not in screen_text(again).splitlines()[0]


async def test_me_comes_from_the_config_where_the_crm_cannot_tell(workspace: Path, tmp_path: Path,
                                                                 make_app: MakeApp) -> None:
    settings = Settings.model_validate({"local": {"me": "Lee Chen"}})
    backend = LocalBackend(workspace)
    app = make_app(backend, settings)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("f", "up", "enter")
        await settle(pilot)
        b = board(app).session.board
        assert b.owner == "Lee Chen"
        assert b.shown_count() == len([i for i in b.card_ids() if b.opportunity(i).owner == "Lee Chen"])
    unknown = make_app(LocalBackend(workspace), state_dir=tmp_path / "someone-else")  # no `me`, nothing remembered
    async with unknown.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("f", "up", "enter")
        await settle(pilot)
        assert board(unknown).session.board.owner is None
        assert any("me = " in n for n in notices(unknown)), "says how to tell it"


# -- days in status ---------------------------------------------------------------------------------

PIPELINE = Pipeline(id="p", name="P", statuses=(Status(id="a", label="A", position=0),))


def card(i: str, days: int | None, updated_days: int = 0) -> Opportunity:
    now = datetime.now(UTC)
    return Opportunity(id=i, name=i, status_id="a", created=now - timedelta(days=400),
                       updated=now - timedelta(days=updated_days),
                       status_changed=None if days is None else now - timedelta(days=days))


def test_the_days_order_puts_the_longest_in_status_first_and_unknown_last() -> None:
    b = Board(PIPELINE)
    b.add([card("x", 3, 0), card("y", None, 9), card("z", 40, 1), card("w", 12, 2)])
    b.set_sort("days")
    assert b.column_ids("a") == ["z", "w", "x", "y"]
    b.set_target("x", "a", datetime.now(UTC))  # a move restarts its days
    assert b.column_ids("a")[-2:] == ["x", "y"]


async def test_a_card_says_its_days_in_status_and_a_move_starts_them_again(workspace: Path, make_app: MakeApp) -> None:
    app = make_app(LocalBackend(workspace))
    async with app.run_test(size=(200, 36)) as pilot:
        await settle(pilot)
        screen = board(app)
        o = screen.session.board.opportunity(focused_card(screen))
        assert o.status_changed is not None
        days = (datetime.now(UTC) - o.status_changed).days
        assert f"{days}d in status" in screen_text(app), screen_text(app)[:1500]
        await pilot.press("shift+right")
        await settle(pilot)
        moved = screen.session.board.opportunity(o.id)
        assert moved.status_changed is not None
        assert (datetime.now(UTC) - moved.status_changed) < timedelta(minutes=1), "the workspace records it"


# -- columns ------------------------------------------------------------------------------------------


async def test_x_hides_the_focused_column_X_shows_all_and_it_is_remembered(workspace: Path, make_app: MakeApp) -> None:
    app = local_app(make_app, workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = board(app)
        await pilot.press("l", "x")
        await settle(pilot)
        assert [c.status.label for c in screen.columns if c.display] == ["Lead", "Demo", "Proposal", "Negotiation",
                                                                        "Won", "Lost"]
        assert "Qualified" not in screen_text(app).splitlines()[1] and screen.active_column.status.label == "Demo"
        await pilot.press("2")  # 1–9 count the columns shown
        assert screen.active_column.status.label == "Demo"
        await pilot.press("h")
        assert screen.active_column.status.label == "Lead", "h steps over the hidden column"
        await pilot.press("shift+right")
        await settle(pilot)
        assert screen.session.board.shown_status(focused_card(screen)) == screen.columns[2].status.id, \
            "a move goes to the next column shown"
    again = local_app(make_app, workspace)
    async with again.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "Qualified" not in screen_text(again).splitlines()[1], "remembered for this board"
        await pilot.press("X")
        await settle(pilot)
        assert "Qualified" in screen_text(again) and all(c.display for c in board(again).columns)


async def test_the_board_says_how_many_columns_are_off_screen(workspace: Path, make_app: MakeApp) -> None:
    app = local_app(make_app, workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert screen_text(app).splitlines()[0].rstrip().endswith("3 more →")
        await pilot.press("7")
        await settle(pilot)
        top = screen_text(app).splitlines()[0]
        assert "← 3 more" in top and "more →" not in top
        await pilot.press("x", "x")  # Lost, then Won hidden: five columns, one out of sight
        await settle(pilot)
        assert screen_text(app).splitlines()[0].rstrip().endswith("← 1 more")


# -- links --------------------------------------------------------------------------------------------


class Written:
    def __init__(self, app: KanbanApp) -> None:
        self.data: list[str] = []
        driver = app._driver
        assert driver is not None
        # mypy reads the method's type with its `self` here: a known false positive on method assignment
        driver.write = self.data.append  # type: ignore[method-assign, assignment]


async def test_y_copies_the_link_with_osc52_and_o_shows_it_without_a_browser(fake_close: FakeClose,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          make_app: MakeApp) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 22 10.0.0.2 22")
    monkeypatch.delenv("TMUX", raising=False)
    app = close_app(make_app, fake_close)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        out = Written(app)
        o = board(app).session.board.opportunity(focused_card(board(app)))
        url = f"https://app.close.com/lead/{fake_close.opportunities[o.id]['lead_id']}/"
        assert o.url == url
        await pilot.press("y")
        await pilot.pause()
        assert f"\x1b]52;c;{base64.b64encode(url.encode()).decode()}\a" in "".join(out.data)
        await pilot.press("o")
        await pilot.pause()
        assert any(url in n for n in notices(app)), "over SSH the link is shown"
        monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
        await pilot.press("y")
        assert "\x1bPtmux;\x1b\x1b]52;c;" in "".join(out.data), "wrapped for tmux passthrough too"


async def test_o_opens_the_desktop_browser_where_there_is_one(fake_close: FakeClose,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             make_app: MakeApp) -> None:
    from kanban_tui import links

    opened: list[str] = []
    monkeypatch.setattr(links, "can_open", lambda: True)
    monkeypatch.setattr(links, "open_url", lambda url: opened.append(url))
    app = close_app(make_app, fake_close)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert opened == [board(app).session.board.opportunity(focused_card(board(app))).url]


async def test_the_details_link_is_an_osc8_hyperlink(fake_close: FakeClose, make_app: MakeApp) -> None:
    app = close_app(make_app, fake_close)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        url = board(app).session.board.opportunity(focused_card(board(app))).url
        assert url is not None
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        update = app.screen._compositor.render_update(full=True)
        assert isinstance(update, LayoutUpdate)
        raw = update.render_segments(app.console)
        assert re.search(rf"\x1b\]8;id=[^;]*;{re.escape(url)}\x1b\\", raw), "OSC 8 opens the link"
        assert "Scroll" not in screen_text(app).splitlines()[-1] and "Close" in screen_text(app).splitlines()[-1]


async def test_a_crm_without_links_says_so_and_y_copies_the_id(workspace: Path, make_app: MakeApp) -> None:
    app = make_app(LocalBackend(workspace))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        out = Written(app)
        card_id = board(app).focused_id()
        await pilot.press("o")
        await pilot.pause()
        assert any("gives no link" in n for n in notices(app))
        await pilot.press("y")
        assert base64.b64encode(card_id.encode()).decode() in "".join(out.data)


def test_a_link_that_is_not_http_is_dropped() -> None:
    now = datetime.now(UTC)
    for bad in ("javascript:alert(1)", "https://x\x1b]8;;y", "https://a b", "file:///etc/passwd"):
        assert Opportunity(id="1", name="a", status_id="s", created=now, updated=now, url=bad).url is None


# -- what changed since you last looked -------------------------------------------------------------------


async def test_changes_made_while_away_are_marked_and_c_steps_through_them(workspace: Path, make_app: MakeApp) -> None:
    app = local_app(make_app, workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        b = board(app).session.board
        ids = b.column_ids("st_lead")[:2]
        assert not b.changed(), "a first session marks nothing"
    later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    with other_process(workspace) as conn:  # a teammate, while the app was closed
        conn.execute("UPDATE opportunities SET status_id = 'st_demo', updated = ? WHERE id = ?", (later, ids[0]))
        conn.execute("UPDATE opportunities SET value = 777700, updated = ? WHERE id = ?", (later, ids[1]))
    again = local_app(make_app, workspace)
    async with again.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = board(again)
        b = screen.session.board
        assert sorted(b.changed()) == sorted(ids) and b.change(ids[0]) == "moved" and b.change(ids[1]) == "re-valued"
        assert any("Since you last looked: 1 moved, 1 re-valued" in n for n in notices(again))
        text = screen_text(again)
        # a glyph, not only a colour (its word too where the whole name fits beside it: these names do not)
        assert text.count("◆") == 2 and "◆ moved" not in text, text
        assert screen.focused_id() == ids[1], "the re-valued card is at the top of Lead, focused at the start"
        screen.apply(screen.session.set_hidden({"st_demo"}))  # the column of the other one hidden (as x does)
        await pilot.press("c")
        assert any("1 marked change is out of sight" in n for n in notices(again))
        assert screen.focused_id() == ids[1]
        await pilot.press("X")
        await pilot.press("c")
        assert screen.focused_id() == ids[0], "c: the next marked card, in another column"
        assert b.change(ids[1]) is None, "seen once the focus left it"
        await pilot.press("c")
        assert screen.focused_id() == ids[0] and any("No other changes" in n for n in notices(again))
        assert b.change(ids[0]) == "moved", "marked while the focus is on it"
    between = local_app(make_app, workspace)
    async with between.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert not board(between).session.board.changed(), "the card focused at quit has been seen"
    third = local_app(make_app, workspace)
    async with third.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert not board(third).session.board.changed(), "looked at: not marked again"


async def test_a_mark_not_looked_at_survives_a_restart(workspace: Path, make_app: MakeApp) -> None:
    app = local_app(make_app, workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        target = board(app).session.board.column_ids("st_won")[0]
    with other_process(workspace) as conn:
        conn.execute("DELETE FROM opportunities WHERE id = ?", (target,))
        conn.execute("INSERT INTO opportunities (id, name, status_id, created, updated) VALUES"
                     " ('new1', 'Brand New Ltd', 'st_demo', ?, ?)", (datetime.now(UTC).isoformat(),) * 2)
    for _ in range(2):
        again = local_app(make_app, workspace)
        async with again.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            b = board(again).session.board
            assert b.change("new1") == "new", "still marked: the user never went to it"
    assert any("1 new" in n for n in notices(again))


async def test_a_teammates_change_during_the_session_is_marked_until_focused(workspace: Path,
                                                                             make_app: MakeApp) -> None:
    app = make_app(LocalBackend(workspace))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = board(app)
        b = screen.session.board
        other = b.column_ids("st_lead")[1]
        mine = focused_card(screen)
        await pilot.press("shift+right")  # my own move is no change to point out
        await settle(pilot)
        assert b.change(mine) is None
        with other_process(workspace) as conn:
            conn.execute("UPDATE opportunities SET status_id = 'st_demo', updated = ? WHERE id = ?",
                         ((datetime.now(UTC) + timedelta(seconds=1)).isoformat(), other))
        await pilot.press("r")
        await settle(pilot)
        assert b.change(other) == "moved"
        assert any("1 change from Local workspace" in n for n in notices(app)), "r says what it found"
        screen.focus_card(other)
        screen.track_focus()
        await pilot.press("j")
        assert b.change(other) is None


# -- the command palette, themes and keys ------------------------------------------------------------------


async def test_the_palette_holds_every_board_action_and_a_theme_is_remembered(workspace: Path,
                                                                              make_app: MakeApp) -> None:
    app = local_app(make_app, workspace)  # the theme is kept in the user's prefs
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(board(app))}
        assert {"Owner", "Sort", "Hide column", "Open in the CRM", "Copy the link", "Next change", "Search",
                "Theme"} <= titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"hide col")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert board(app).columns[0].status.id in board(app).session.hidden, "ran the board's action"
        app.theme = "nord"
        await settle(pilot)
    again = local_app(make_app, workspace)  # the theme is kept in the user's prefs
    async with again.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert again.theme == "nord"


async def test_remapped_keys_work_and_show_where_the_keys_are_shown(workspace: Path, make_app: MakeApp) -> None:
    app = make_app(LocalBackend(workspace), Settings(keys={"search": "ctrl+f", "owner_filter": "F"}))
    assert app.keys == {"search": "ctrl+f", "owner_filter": "F"} and not app.warnings, "no problem with them"
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "^f Search" in screen_text(app).splitlines()[-1] or "ctrl+f" in screen_text(app).splitlines()[-1]
        await pilot.press("slash")
        await pilot.pause()
        assert not board(app).query_one("#search").display, "/ is no longer search"
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert board(app).query_one("#search").display
        await pilot.press("escape", "F")
        await pilot.pause()
        assert isinstance(app.screen, OwnerPicker)
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert re.search(r"ctrl\+f +Search", screen_text(app))


@pytest.mark.parametrize(("keys", "line"), [
    ({"serach": "ctrl+f"}, "[keys] serach: no such action"),
    ({"search": "ctrl+s"}, "[keys] search: ctrl+s is kept free"),
    ({"search": "s"}, "[keys] search: s is sort's key"),
    ({"search": ""}, "[keys] search: give the key as text"),
    ({"search": "ctrl+ f"}, "[keys] search: 'ctrl+ f' is not a key"),
    ({"search": 3}, "[keys] search: give the key as text"),
])
def test_a_bad_keys_entry_is_one_line_and_left_out(keys: dict, line: str) -> None:
    keymap, problems = check_keymap(keys)
    assert keymap == {} and len(problems) == 1 and problems[0].startswith(line), problems


def test_a_bad_keys_entry_is_said_at_start_and_the_board_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from kanban_tui import cli

    config = tmp_path / "config.toml"
    config.write_text('[keys]\nsearch = "ctrl+f"\nnope = "z"\n')
    ran: list[KanbanApp] = []
    monkeypatch.setattr(KanbanApp, "run", lambda self: ran.append(self))
    assert cli.main(["--config", str(config), "--demo"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if "[keys]" in line] == [
        "dealboard: [keys] nope: no such action (see the help, ?, for the names: e.g. search, owner_filter, sort)"]
    assert ran and ran[0].keys == {"search": "ctrl+f"} and any("[keys] nope" in w for w in ran[0].warnings)


# -- small things -----------------------------------------------------------------------------------------


async def test_r_says_that_it_ran(workspace: Path, make_app: MakeApp) -> None:
    app = make_app(LocalBackend(workspace))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        said = notices(app)
        assert "Checking Local workspace for changes…" in said and "Up to date: no changes in Local workspace" in said


async def test_an_empty_board_says_so(tmp_path: Path, make_app: MakeApp) -> None:
    path = tmp_path / "empty.sqlite3"
    create_workspace(path, demo_size=0)
    app = make_app(LocalBackend(path))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "0 deals" in text and "no deals" in text


async def test_keys_typed_right_after_slash_go_to_the_search(workspace: Path, make_app: MakeApp) -> None:
    """`/` focuses the search at once, not after the next refresh: typed fast (tmux sends `/juniper` in one
    write), the letters after `/` are the search, never board keys (`p` opened the pipeline picker)."""
    app = make_app(LocalBackend(workspace))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = board(app)
        for key in ("slash", *"juniper"):  # sent as the terminal driver does: all before the first is handled
            event = events.Key(key, "/" if key == "slash" else key)
            event.set_sender(app)
            app._driver.send_message(event)
        await settle(pilot)
        assert screen.query_one("#search", Input).value == "juniper"
        assert screen.session.board.query == "juniper" and app.screen is screen, "no board key ran (p, u, n)"
        assert not notices(app), "no 'Nothing to undo', no 'No search'"
        await pilot.press("escape", "slash", *"ab")  # one at a time, as before
        assert screen.query_one("#search", Input).value == "ab", "each letter once"
