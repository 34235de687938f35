"""A search keystroke at scale (issue 25): one frame shows the typed letter with the matches, and the card lists
draw each line of that frame once.

Counts, not times: frames the app hands its driver, lines the card lists render.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual._styles_cache import StylesCache
from textual.geometry import Region
from textual.scroll_view import ScrollView

from kanban_tui.backends.local import LocalBackend
from kanban_tui.widgets.column import CardList

from .helpers import MakeApp, board_screen, settle

SIZE = (120, 36)


class Frames:
    """The frames the app writes (`App._display` with an update), and the widgets each repainted."""

    def __init__(self, app: Any) -> None:
        self.painted: list[set[Any]] = []
        original = app._display

        def display(screen: Any, update: Any) -> None:
            original(screen, update)
            if update is not None:
                self.painted.append(set(screen._dirty_widgets))  # noqa: SLF001

        app._display = display


async def test_a_search_keystroke_draws_the_letter_and_the_matches_in_one_frame(
        big_workspace: Path, make_app: MakeApp) -> None:
    """The first frame after each keystroke of `acme` (and the backspaces) shows the search line with every card
    list the keystroke changed (and their headers). The screen drew the search line alone first, and the columns
    in a second frame one frame period (1/60 s) or more later: the card lists asked for their repaint after the
    screen's frame had begun. (A keystroke that shows or hides a column's scrollbar makes a layout, whose
    scrollbars Textual repaints in frames of their own after it.)"""
    app = make_app(LocalBackend(big_workspace))
    async with app.run_test(size=SIZE) as pilot:
        frames = Frames(app)
        await settle(pilot)
        screen = board_screen(app)
        screen.search_line.cursor_blink = False  # its blinks are frames of their own
        changed: list[set[CardList]] = []
        apply = screen.apply_search

        def applied(text: str) -> None:
            apply(text)
            changed.append({cards for cards in screen.query(CardList) if cards._repaint_required})  # noqa: SLF001

        screen.apply_search = applied  # type: ignore[method-assign]
        await pilot.press("slash")
        await settle(pilot)
        heavy = 0
        for key in ("a", "c", "m", "e", "backspace", "backspace", "backspace", "backspace"):
            frames.painted.clear()
            changed.clear()
            await pilot.press(key)
            await settle(pilot)
            assert frames.painted and changed, f"{key}: not drawn"
            first = frames.painted[0]
            assert screen.search_line in first, f"{key}: the first frame drew {first}"
            assert changed[-1] <= first, f"{key}: the first frame drew {first}, not every card list that changed"
            if changed[-1]:
                heavy += 1
                assert {c.header for c in screen.columns if c.cards in changed[-1]} <= first
        assert heavy >= 4  # the keystrokes that narrow or widen the matches (`c`, `m`, and back)


def _lines(strips: list[Any]) -> list[list[tuple[str, Any]]]:
    return [[(segment.text, segment.style) for segment in strip] for strip in strips]


async def test_card_lists_draw_what_textuals_styles_cache_draws_without_passing_through_it(
        big_workspace: Path, make_app: MakeApp) -> None:
    """A card list serves its lines itself (no border, padding, tint or opacity to add): every line, in every state
    a search keystroke shows (the cursor's card, a final column's dim cards, a marked card, blank lines, `no match`,
    a crop of some columns), is the one Textual's styles cache draws; and a keystroke that changes every column
    renders none of the card lists' lines through that cache (it did: 28 lines a list, each copied and filtered
    again on every repaint)."""
    app = make_app(LocalBackend(big_workspace))
    through_cache: list[int] = []
    original = StylesCache.render_line

    def render_line(cache: StylesCache, styles: Any, y: int, *args: Any) -> Any:
        if isinstance(styles.node, CardList):
            through_cache.append(y)
        return original(cache, styles, y, *args)

    def same_as_textual(card_lists: list[CardList]) -> None:
        for cards in card_lists:
            width, height = cards.region.size
            for crop in (Region(0, 0, width, height), Region(2, 3, width - 5, 7)):
                ours = cards.render_lines(crop)
                cards._styles_cache.clear()  # noqa: SLF001 - every line drawn again by Textual
                theirs = ScrollView.render_lines(cards, crop)
                assert _lines(ours) == _lines(theirs), f"{cards.status.label} {crop}"

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_screen(app)
        card_lists = [column.cards for column in screen.columns]
        await pilot.press("j", "space", "j", "j")  # a marked card, the cursor below it
        await settle(pilot)
        same_as_textual(card_lists)
        screen.search_line.cursor_blink = False
        await pilot.press("slash", "a", "c")
        await settle(pilot)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(StylesCache, "render_line", render_line)
            await pilot.press("m")  # every column's matches change
            await settle(pilot)
        assert through_cache == []
        same_as_textual(card_lists)
        await pilot.press(*"zzzq")  # no match anywhere
        await settle(pilot)
        assert any(cards.count == 0 for cards in card_lists)
        same_as_textual(card_lists)


async def test_a_keystroke_works_out_each_line_of_a_changed_card_list_once(
        big_workspace: Path, make_app: MakeApp) -> None:
    """When the search changes a column, its card list works out which lines of its view changed once, where the
    view lands; it did so twice (the first time for the height of the new matches, before it scrolled)."""
    app = make_app(LocalBackend(big_workspace))
    worked_out: dict[CardList, list[int]] = {}
    original = CardList._strip

    def strip(cards: CardList, y: int, *args: Any) -> Any:
        worked_out.setdefault(cards, []).append(y)
        return original(cards, y, *args)

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_screen(app)
        screen.search_line.cursor_blink = False
        await pilot.press("slash", "a")
        await settle(pilot)
        apply = screen.apply_search

        def applied(text: str) -> None:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(CardList, "_strip", strip)
                apply(text)

        screen.apply_search = applied  # type: ignore[method-assign]
        await pilot.press("c")  # every column's matches change, and every column still scrolls
        await settle(pilot)
        assert len(worked_out) == len(screen.columns)
        for cards, lines in worked_out.items():
            assert sorted(lines) == list(range(cards.scrollable_content_region.height)), cards.status.label
