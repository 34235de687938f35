"""A move (or an edit of a field) whose card changed in the CRM since it was made: keep mine, or take theirs."""

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

    def __init__(self, card_name: str, crm: str, theirs: str, mine: str, field: str = "") -> None:
        super().__init__()
        self.card_name, self.crm, self.theirs, self.mine = card_name, crm, theirs, mine
        self.field = field
        """The field both changed ("close date"); "": the card's status (a move)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="conflict", classes="dialog"):
            did, mine = (f"edited its {self.field}", "Your edit") if self.field else ("moved it", "Your move")
            what = "edit" if self.field else "move"
            yield Label(f"[b]{esc(self.card_name)}[/b] changed in {esc(self.crm)} after you {esc(did)}",
                        classes="dialog-title")
            yield Label(f"In {esc(self.crm)} now:  {esc(self.theirs)}")
            yield Label(f"{mine}:  {esc(self.mine)}")
            yield Label(f"k/⏎ keep my {what} (send it) · t/esc take theirs (drop my {what})", classes="dialog-hint")
        yield Footer()  # the dialog's own keys, not the board's
