"""`a`: a note on a deal. One line under the deal's name; `enter` returns (dismisses with) the text, trimmed and made
safe (`fields.parse_note`), or None when nothing was typed; `esc` cancels (None)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from ..fields import MAX_NOTE, FieldError, parse_note
from ..text import esc


class NoteScreen(ModalScreen[str | None]):
    """A one-line note for a deal; dismisses with its text, or None."""

    BINDINGS = [
        Binding("enter", "send", "Add the note", key_display="⏎"),
        Binding("escape", "dismiss(None)", "Cancel", key_display="esc"),
    ]

    def __init__(self, deal_name: str, *, notes_of: str = "") -> None:
        super().__init__()
        self.deal_name = deal_name
        self.notes_of = notes_of
        """Where the CRM keeps it, when that is not the deal itself (Close: "the lead's notes")."""

    def compose(self) -> ComposeResult:
        with Vertical(id="note-form", classes="dialog form"):
            yield Label(f"Note on [b]{esc(self.deal_name)}[/b]", classes="dialog-title")
            yield Input(placeholder="what happened, what is next", id="note-text", max_length=MAX_NOTE + 1)
            yield Static("", id="error-note", classes="field-error")
            if self.notes_of:
                yield Label(esc(f"It goes to {self.notes_of}."), classes="form-note")
            yield Label("⏎ add · esc cancel", classes="dialog-hint")
        yield Footer()  # the dialog's own keys, not the board's

    def on_mount(self) -> None:
        self.query_one("#note-text", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_send()

    @on(Input.Changed)
    def _changed(self) -> None:
        self.query_one("#error-note", Static).remove_class("-shown")

    def action_send(self) -> None:
        try:
            note = parse_note(self.query_one("#note-text", Input).value)
        except FieldError as error:
            said = self.query_one("#error-note", Static)
            said.update(esc(f"✗ {error}"))
            said.add_class("-shown")
            return
        self.dismiss(note)
