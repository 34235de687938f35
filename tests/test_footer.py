"""The board's footer is recomposed only when the keys it shows change (widgets/footer.py).

Textual's Footer removes and mounts every key whenever the screen's bindings are said to have changed, even when
the same keys come back: work at start, and the footer's line painted again for nothing.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets._footer import FooterKey

from kanban_tui.backends.local import LocalBackend

from .helpers import MakeApp, board_screen, settle


def keys(app: object) -> list[FooterKey]:
    return list(board_screen(app).query(FooterKey))  # type: ignore[arg-type]


async def test_footer_keys_are_kept_while_they_show_the_same(make_app: MakeApp, workspace: Path) -> None:
    app = make_app(LocalBackend(workspace))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        before = keys(app)
        assert len(before) > 5, "the footer shows the board's keys"
        for key in ("down", "down", "right", "left", "up"):  # the focus moves between cards and columns
            await pilot.press(key)
            await settle(pilot)
        board_screen(app).refresh_bindings()  # said to have changed, nothing changed
        await settle(pilot)
        after = keys(app)
        assert [k.description for k in after] == [k.description for k in before]
        assert all(a is b for a, b in zip(after, before, strict=True)), "the same keys were mounted again"


async def test_footer_recomposes_when_what_fits_changes(make_app: MakeApp, workspace: Path) -> None:
    app = make_app(LocalBackend(workspace))
    async with app.run_test(size=(160, 36)) as pilot:
        await settle(pilot)
        wide = [k.description for k in keys(app)]
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        narrow = [k.description for k in keys(app)]
        assert narrow != wide and set(narrow) < set(wide), "the footer gave keys up at 80 columns"
        assert "Help" in narrow and "Quit" in narrow
