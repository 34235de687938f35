"""A move whose card changed in the CRM since it was made: keep mine, or take theirs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label

from ..text import esc


class ResolveConflict(ModalScreen[bool]):
    """Both versions side by side. k / enter keeps the user's move; t / escape takes the CRM's."""

    BINDINGS = [
        Binding("k,enter", "dismiss(True)", "Keep my move"),
        Binding("t,escape", "dismiss(False)", "Take theirs"),
    ]

    def __init__(self, card_name: str, crm: str, theirs: str, mine: str) -> None:
        super().__init__()
        self.card_name, self.crm, self.theirs, self.mine = card_name, crm, theirs, mine

    def compose(self) -> ComposeResult:
        with Vertical(id="conflict", classes="dialog"):
            yield Label(f"[b]{esc(self.card_name)}[/b] changed in {esc(self.crm)} after you moved it",
                        classes="dialog-title")
            yield Label(f"In {esc(self.crm)} now:  {esc(self.theirs)}")
            yield Label(f"Your move:  {esc(self.mine)}")
            yield Label("k/⏎ keep my move (send it) · t/esc take theirs (drop my move)", classes="dialog-hint")
        yield Footer()  # the dialog's own keys, not the board's
