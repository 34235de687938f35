"""Pick a status to move a card to: type to filter, enter to choose, escape to cancel."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from ..models import Status
from ..widgets.column import KIND_GLYPH


class StatusPicker(ModalScreen[str | None]):
    """A filterable list of the statuses a card can move to; dismisses with a status id."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("down", "cursor(1)", "Next", show=False),
        Binding("up", "cursor(-1)", "Previous", show=False),
    ]

    def __init__(self, card_name: str, statuses: list[Status]) -> None:
        super().__init__()
        self.card_name = card_name
        self.statuses = statuses

    def compose(self) -> ComposeResult:
        with Vertical(id="picker", classes="dialog"):
            yield Label(f"Move [b]{self.card_name.replace('[', chr(92) + '[')}[/b] to…", classes="dialog-title")
            yield Input(placeholder="type to filter", id="picker-filter")
            yield OptionList(*self._options(""), id="picker-options")
            yield Label("⏎ move · esc cancel", classes="dialog-hint")

    def _options(self, text: str) -> list[Option]:
        text = text.strip().lower()
        return [
            Option(f"{KIND_GLYPH[s.kind]}{s.label}", id=s.id)
            for s in self.statuses
            if text in s.label.lower()
        ]

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0 if self.statuses else None

    @on(Input.Changed)
    def _filter(self, event: Input.Changed) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))
        options.highlighted = 0 if options.option_count else None

    def action_cursor(self, delta: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = (current + delta) % options.option_count

    @on(Input.Submitted)
    def _submitted(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)
        else:
            self.notify("No status matches.", timeout=2)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
