"""`/` search (issue 14, first part): only the deals holding every word, counted in the headers,
`n` / `N` from match to match across columns, esc back to every card."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kanban_tui.backends.local import LocalBackend
from kanban_tui.models import Opportunity, Pipeline, Status
from kanban_tui.sync import Board
from kanban_tui.sync.board import UNASSIGNED

from .helpers import MakeApp, board_on_top, focused_card, notices, screen_text, settle

T0 = datetime(2026, 11, 1, tzinfo=UTC)
PIPELINE = Pipeline(id="p", name="Sales", statuses=(Status(id="a", label="A"), Status(id="b", label="B")))


def card(id: str, status: str, name: str, minutes: int = 0, **kw: object) -> Opportunity:
    return Opportunity(id=id, name=name, status_id=status, created=T0, updated=T0 + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


def test_the_board_shows_only_cards_holding_every_word_and_counts_them() -> None:
    board = Board(PIPELINE)
    board.add([card("1", "a", "Acme Corp", 1, owner="Ada Park", value=100),
               card("2", "a", "Globex", 2, note="ACME referral"),
               card("3", "b", "Acme Labs", 3, contact="Bo Li", value=50), card("4", "b", "Initech", 4)])
    assert board.set_query("acme") == {"a", "b"}
    assert board.column_ids("a") == ["2", "1"] and board.column_ids("b") == ["3"]
    assert board.summary("a").count == 2 and board.total_count("a") == 2 and board.summary("b").count == 1
    assert board.summary("b").totals == {"USD": 50} and board.shown_count() == 3
    board.set_query("ACME  ada")  # every word, any case, any field
    assert board.column_ids("a") == ["1"] and board.column_ids("b") == [] and board.index_of("2") is None
    board.add([card("5", "b", "Acme Ada", 9)])  # a poll brings a new match: it shows at once
    assert board.column_ids("b") == ["5"]
    board.set_target("1", "b", T0 + timedelta(hours=1))  # a move keeps it shown, in its new column
    assert board.column_ids("b") == ["1", "5"] and board.column_ids("a") == []
    board.set_query("")
    assert board.column_len("a") == 1 and board.shown_count() == 5 and board.summary("b").count == 4


async def test_slash_finds_a_deal_n_steps_through_matches_and_esc_shows_everything(backend: LocalBackend,
                                                                                   make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = board_on_top(app)
        board = screen.session.board
        assert board is not None
        everything = len(board)
        name = board.opportunity(board.column_ids(screen.columns[2].status.id)[0]).name
        word = name.split()[0]  # e.g. "Quartz"
        await pilot.press("slash", *word.lower())
        await pilot.pause()
        matches = [i for i in board.card_ids() if word.lower() in board.opportunity(i).name.lower()
                   or word.lower() in (board.opportunity(i).note or "").lower()
                   or word.lower() in (board.opportunity(i).contact or "").lower()
                   or word.lower() in (board.opportunity(i).owner or "").lower()]
        assert board.shown_count() == len(matches) > 0
        text = screen_text(app)
        assert f"{len(matches)} of {everything} deals" in text and f"/ {word.lower()}" in text
        assert screen.focused_id() in matches
        await pilot.press("enter")  # keep the search, back on the board
        seen = []
        for _ in range(len(matches)):
            seen.append(focused_card(screen))
            await pilot.press("n")
        assert sorted(seen) == sorted(matches), "n visits every match once, across columns"
        assert screen.focused_id() == seen[0], "and wraps around"
        await pilot.press("N")
        assert screen.focused_id() == seen[-1]
        focused = screen.focused_id()
        await pilot.press("escape")
        await pilot.pause()
        assert board.shown_count() == everything and screen.focused_id() == focused
        assert f"{everything} deals" in screen_text(app) and " of " not in screen_text(app).splitlines()[-2]


async def test_a_search_with_no_match_says_so(backend: LocalBackend, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zzqx", "enter", "n")
        await pilot.pause()
        assert "0 of 64 deals" in screen_text(app)
        assert any("No deal matches" in n for n in notices(app))


def test_typing_on_narrows_within_the_matches_so_far_and_gives_the_same_answer() -> None:
    board = Board(PIPELINE)
    names = ["Acme", "Acorn", "Beacon", "Macro", "Zac", "Cab"]
    board.add([card(str(i), "a" if i % 2 else "b", name, i) for i, name in enumerate(names)])
    for typed in ("a", "ac", "acm", "ac", "c", "c a", "cab"):
        board.set_query(typed)
        words = typed.split()
        want = sorted(str(i) for i, n in enumerate(names) if all(w in n.lower() for w in words))
        assert sorted(board.column_ids("a") + board.column_ids("b")) == want, typed


def test_a_card_renamed_by_a_poll_is_searched_by_its_new_name() -> None:
    board = Board(PIPELINE)
    board.add([card("1", "a", "Acme", 1), card("2", "a", "Globex", 2)])
    board.set_query("initech")
    assert board.shown_count() == 0
    board.add([card("2", "a", "Initech", 3)])  # a teammate renamed it
    assert board.column_ids("a") == ["2"]
    board.set_query("globex")
    assert board.shown_count() == 0


def test_search_totals_counted_up_or_down_agree_with_a_recount() -> None:
    from kanban_tui.money import sum_by_currency

    board = Board(PIPELINE)
    board.add([card(str(i), "a", f"{'acme' if i % 5 else 'other'} {i}", i, value=100 * i,
                    currency="EUR" if i % 3 else "USD") for i in range(1, 41)])
    for query in ("acme", "other", "1", "acme 1"):  # most, few, some, and a narrowing
        board.set_query(query)
        shown = [board.opportunity(i) for i in board.column_ids("a")]
        summary = board.summary("a")
        assert summary.count == len(shown), query
        assert summary.totals == sum_by_currency((o.currency, o.annualized_value) for o in shown if o.value), query


async def test_a_search_header_keeps_its_count_and_total_whole_at_80_columns(tmp_path, make_app: MakeApp) -> None:
    from kanban_tui.backends.local import create_workspace

    path = tmp_path / "big.sqlite3"
    create_workspace(path, demo_size=10000)
    app = make_app(LocalBackend(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"quartz", "enter")
        await pilot.pause()
        lines = screen_text(app).splitlines()
        column = board_on_top(app).columns[0]
        width = column.size.width  # the first column's cells (the columns share the width: 19 at 80)
        header = [line[:width] for line in lines[1:3]]  # the first column's label and count, and its total
        board, first = board_on_top(app).session.board, column.status.id
        counts = f"{board.column_len(first):,}", f"{board.total_count(first):,}"
        assert header[0].rstrip().endswith((f"{counts[0]} of {counts[1]}", f"{counts[0]}/{counts[1]}")), header
        assert "…" not in header[1] and re.search(r"\d[kMB]?(/yr)?( \+\d+ cur)?$", header[1].rstrip()), header


def test_each_order_sorts_every_column_and_moves_keep_it() -> None:
    board = Board(PIPELINE)
    board.add([card("1", "a", "One", 1, value=300, confidence=10), card("2", "a", "Two", 2, value=100, confidence=90),
               card("3", "a", "Three", 3, value=200, confidence=50, stalled=True)])
    assert board.column_ids("a") == ["3", "2", "1"], "last updated first"
    board.set_sort("value")
    assert board.column_ids("a") == ["1", "3", "2"]
    board.set_sort("expected")
    assert board.column_ids("a") == ["3", "2", "1"]  # 200x50 > 100x90 > 300x10
    board.set_sort("stalled")
    assert board.column_ids("a")[0] == "3"
    board.set_sort("value")
    board.set_target("2", "b", T0 + timedelta(days=1))
    board.add([card("4", "b", "Four", 4, value=1000)])
    assert board.column_ids("b") == ["4", "2"] and board.index_of("2") == 1
    assert board.summary("b").count == 2


async def test_s_cycles_the_order_and_the_title_says_it(backend: LocalBackend, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = board_on_top(app)
        focused = screen.focused_id()
        await pilot.press("s")
        await pilot.pause()
        board = screen.session.board
        from kanban_tui.money import major_units

        values = [major_units(board.opportunity(i).annualized_value, board.opportunity(i).currency)
                  for i in board.column_ids(screen.columns[0].status.id)]
        assert values == sorted(values, reverse=True) and "by value" in screen_text(app).splitlines()[0]
        assert screen.focused_id() == focused, "the focus stays on its card"
        other = screen.columns[1].cards
        assert other.cursor == 0 and other.scroll_y == 0, "the other columns show their new top"
        await pilot.press("s", "s", "s", "s")
        await pilot.pause()
        assert board.sort == "updated" and "by " not in screen_text(app).splitlines()[0]


async def test_the_order_is_remembered_per_board(backend: LocalBackend, state_dir: Path, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
    assert app.prefs is not None and app.prefs.load("pipe_sales") == {"sort": "value"}
    assert (state_dir / "board-prefs.json").stat().st_mode & 0o077 == 0
    again = make_app(backend)
    async with again.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert board_on_top(again).session.board.sort == "value" and "by value" in screen_text(again).splitlines()[0]


def test_a_damaged_prefs_file_is_ignored_and_written_anew(tmp_path) -> None:
    from kanban_tui.store.prefs import BoardPrefs

    path = tmp_path / "board-prefs.json"
    path.write_text("{not json")
    prefs = BoardPrefs(path, "acct")
    assert prefs.load("p") == {}
    assert prefs.save("p", {"sort": "value"}) is None and BoardPrefs(path, "acct").load("p") == {"sort": "value"}
    assert BoardPrefs(path, "other").load("p") == {}, "per account"


async def test_an_empty_column_says_so_and_a_search_says_nothing_matches_there(backend: LocalBackend,
                                                                               make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zzqx", "enter")
        await pilot.pause()
        lines = screen_text(app).splitlines()
        starts = [column.region.x + 1 for column in board_on_top(app).columns]  # where each column's text begins
        row = next(i for i, line in enumerate(lines) if "no match" in line)
        assert [m.start() for m in re.finditer("no match", lines[row])] == starts, "each in its own column"
        await pilot.press("escape")
        await pilot.pause()
        assert "no match" not in screen_text(app)


def test_search_owner_filter_and_totals_agree_with_a_recount_through_random_typing_moves_and_polls() -> None:
    """The search keeps each column's cards in step as they come and go, and remembers recent searches:
    after every step, what each column shows, its header's totals, where a card is, and which columns a
    keystroke says to redraw agree with a recount from scratch."""
    import random

    from kanban_tui.models import Period
    from kanban_tui.sync.board import ColumnTotals, contribution_of

    rng = random.Random(14)
    pipeline = Pipeline(id="p", name="Sales", statuses=tuple(Status(id=s, label=s.upper()) for s in "abc"))
    words = ["acme", "acorn", "beacon", "cab", "zed", "Ünïcode", "ÅSA"]
    owners = ["Ada Park", "Bo Li", None]

    def random_card(i: int, minutes: int) -> Opportunity:
        return card(str(i), rng.choice("abc"), " ".join(rng.sample(words, 2)) + f" {i}", minutes,
                    value=rng.choice([None, 0, 100, 2500, 99_000]), currency=rng.choice(["USD", "EUR", "JPY"]),
                    period=rng.choice(list(Period)), confidence=rng.choice([None, 10, 90]),
                    owner=rng.choice(owners), contact=rng.choice([None, "Cab Driver", "Zed"]),
                    note=rng.choice(["", "acme referral", "Beacon"]))

    board = Board(pipeline)
    board.add([random_card(i, i) for i in range(300)])
    board.prepare_search()
    def holds(i: str, query: list[str], owner: str | None) -> bool:
        o = board.opportunity(i)
        text = " ".join(t for t in (o.name, o.contact, o.owner, o.note) if t).casefold()
        return all(w in text for w in query) and (owner is None or (o.owner or UNASSIGNED) == owner)

    queries = ["a", "ac", "acm", "acme", "acm", "ac", "a", "", "c", "ca", "cab", "cab a", "cab ac", "cab a", "zed",
               "ü", "ünï", "åsa", "1", "12", "acme 1", "x y z", ""]
    minutes = 1000
    for step in range(400):
        action = rng.random()
        before = {s.id: board.column_ids(s.id) for s in pipeline.statuses}
        was_filtering = board.filtering
        if action < 0.5:
            redraw = board.set_query(rng.choice(queries))
        elif action < 0.6:
            redraw = board.set_owner(rng.choice([*owners[:2], UNASSIGNED, None, None]))
        elif action < 0.75:  # a move
            minutes += 1
            redraw = board.set_target(rng.choice(board.card_ids()), rng.choice("abc"), T0 + timedelta(minutes=minutes))
        elif action < 0.9:  # a poll: a changed card (renamed, re-valued, moved) or a new one
            minutes += 1
            redraw = board.add([random_card(rng.randrange(320), minutes)])
        else:
            redraw = board.remove([rng.choice(board.card_ids())])
        query, owner = board.query.split(), board.owner
        for status in pipeline.statuses:
            shown = board.column_ids(status.id)
            if shown != before[status.id] or board.filtering != was_filtering:
                assert status.id in redraw, (step, status.id)
            # the recount: every card drawn in the column, in order, then the search's words and the owner
            board_query, board_owner = board.query, board.owner
            board.set_query("")
            board.set_owner(None)
            everything = board.column_ids(status.id)
            board.set_owner(board_owner)
            board.set_query(board_query)
            assert shown == [i for i in everything if holds(i, query, owner)], (step, status.id, query, owner)
            totals = ColumnTotals()
            for i in shown:
                totals.add(contribution_of(board.opportunity(i)))
            assert board.summary(status.id) == totals.summary(), (step, status.id)
            assert board.total_count(status.id) == len(everything)
            assert all(board.index_of(i) == n for n, i in enumerate(shown))
        assert board.shown_count() == sum(board.column_len(s.id) for s in pipeline.statuses)
