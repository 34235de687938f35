"""The search line under the board (`/`): the words typed, told to the screen as they change.

`SearchLine` is an `Input` that starts hidden. It posts `SearchLine.Changed` as the user types (the
screen hands the words to the session, which filters the board) and `SearchLine.Submitted` at ⏎
(keep the search, back to the board); it decides nothing itself.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.widgets import Input

PLACEHOLDER = "search: every word, in name, contact, owner or note · ⏎ keep · esc clear"


class SearchLine(Input):
    """The board's search line: hidden until `/` opens it."""

    class Changed(Input.Changed):
        """The words changed (`value`)."""

        @property
        def typed_ahead(self) -> bool:
            """A later change is on its way (letters typed faster than drawn): only that one needs drawing."""
            return self.value != self.input.value

    class Submitted(Input.Submitted):
        """⏎: keep the search (`value`) and go back to the board."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, placeholder=PLACEHOLDER)
        self.display = False

    def open(self) -> None:
        """Show the line and type into it at once: not after a refresh (`focus()` is deferred), so that what is
        typed right after `/` is the search, never board keys (typed fast in tmux, "Juniper" opened the
        pipeline picker with its `p`)."""
        self.display = True
        self.screen.set_focus(self)

    def _watch_value(self, value: str) -> None:
        """Input's own, but its virtual size (the text's width + 1, for scrolling along the line) set quietly:
        `virtual_size` is a layout reactive, and a layout on every keystroke made every card list repaint its
        scrollbar (~5 KB a keystroke at 120x36, issue 25). The line's box is fixed (one row, the screen's width),
        so no layout can change it; scrolling along it reads the size as it is set here."""
        self.set_reactive(Input.virtual_size, Size(self.content_width, 1))
        super()._watch_value(value)

    @property
    def is_open(self) -> bool:
        """Shown and taking the keys."""
        return self.display and self.screen.focused is self
