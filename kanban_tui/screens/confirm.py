"""Ask before a move that ends a deal (into a won or lost status)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label

from ..text import esc


class ConfirmMove(ModalScreen[bool]):
    """`Move Acme to ✓ Won?` y / enter confirms, n / escape cancels."""

    BINDINGS = [
        Binding("y,enter", "dismiss(True)", "Move"),
        Binding("n,escape", "dismiss(False)", "Cancel"),
    ]

    def __init__(self, card_name: str, status_label: str, detail: str = "") -> None:
        super().__init__()
        self.detail = detail
        self.card_name = card_name
        self.status_label = status_label

    def compose(self) -> ComposeResult:
        name, label = esc(self.card_name), esc(self.status_label)
        with Vertical(id="confirm", classes="dialog"):
            yield Label(f"Move [b]{name}[/b] to [b]{label}[/b]?", classes="dialog-title")
            if self.detail:
                yield Label(esc(self.detail))
            yield Label("y/⏎ move · n/esc cancel", classes="dialog-hint")
        yield Footer()  # the dialog's own keys, not the board's
