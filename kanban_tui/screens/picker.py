"""Pick from a short list: type to filter, enter to choose, escape to cancel.

`StatusPicker` (where to move a card) and `PipelinePicker` (which pipeline to open)
are the same dialog with different choices.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList
from textual.widgets.option_list import Option

from ..models import Pipeline, Status
from ..text import esc
from ..widgets.column import KIND_GLYPH


class Picker(ModalScreen[str | None]):
    """A filterable list of choices; dismisses with the chosen id, or None on escape."""

    BINDINGS = [
        Binding("enter", "choose", "Choose", key_display="⏎"),
        Binding("escape", "dismiss(None)", "Cancel", key_display="esc"),
        Binding("down", "cursor(1)", "Next", show=False),
        Binding("up", "cursor(-1)", "Previous", show=False),
    ]

    def __init__(self, title: str, choices: list[tuple[str, str]], *, hint: str, selected: str | None = None) -> None:
        super().__init__()
        self.title_markup = title
        self.choices = choices
        self.hint = hint
        self.selected = selected

    def compose(self) -> ComposeResult:
        with Vertical(id="picker", classes="dialog"):
            yield Label(self.title_markup, classes="dialog-title")
            yield Input(placeholder="type to filter", id="picker-filter")
            yield OptionList(*self._options(""), id="picker-options")
            yield Label(self.hint, classes="dialog-hint")
        yield Footer()  # the dialog's own keys, not the board's


    def _options(self, text: str) -> list[Option]:
        text = text.strip().lower()
        return [Option(esc(label), id=choice_id) for choice_id, label in self.choices if text in label.lower()]

    def on_mount(self) -> None:
        ids = [choice_id for choice_id, _ in self.choices]
        start = ids.index(self.selected) if self.selected in ids else 0
        self.query_one(OptionList).highlighted = start if self.choices else None

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

    def action_choose(self) -> None:
        self._submitted()

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


class StatusPicker(Picker):
    """Where to move a card; dismisses with a status id."""

    def __init__(self, card_name: str, statuses: list[Status]) -> None:
        super().__init__(
            f"Move [b]{esc(card_name)}[/b] to…",
            [(s.id, f"{KIND_GLYPH[s.kind]}{s.label}") for s in statuses],
            hint="⏎ move · esc cancel",
        )


class PipelinePicker(Picker):
    """Which pipeline the board shows; dismisses with a pipeline id."""

    def __init__(self, crm: str, pipelines: list[Pipeline], current: str | None = None) -> None:
        super().__init__(
            f"Open which {esc(crm)} pipeline?",
            [(p.id, f"{p.name}  ({len(p.statuses)} statuses)") for p in pipelines],
            hint="⏎ open · esc " + ("keep this one" if current else "open the first"),
            selected=current,
        )


class LostReasonPicker(Picker):
    """Why the deal was lost: the CRM's reasons, the default first and preselected."""

    def __init__(self, card_name: str, status_label: str, reasons: tuple[str, ...]) -> None:
        super().__init__(
            f"Move [b]{esc(card_name)}[/b] to [b]✗ {esc(status_label)}[/b]: why was it lost?",
            [(reason, reason) for reason in reasons],
            hint="⏎ move with this reason · esc cancel",
            selected=reasons[0] if reasons else None,
        )


ME = "@me"
ALL_OWNERS = "@all"


class OwnerPicker(Picker):
    """Whose deals the board shows: me first, then everyone, then each owner (most deals first).
    Dismisses with ME, ALL_OWNERS, or `=` and the owner's name (`=` alone: the cards with no owner)."""

    def __init__(self, owners: list[tuple[str, int]], me: str | None, current: str | None) -> None:
        everyone = sum(n for _, n in owners)
        mine = next((n for owner, n in owners if owner == me), 0) if me else 0
        choices = [
            (ME, f"me ({me}) · {mine:,} deals" if me else "me: not known here (set me = \"…\" in the config)"),
            (ALL_OWNERS, f"everyone · {everyone:,} deals"),
            *((f"={owner}", f"{owner or 'unassigned'} · {n:,} deals") for owner, n in owners),
        ]
        super().__init__("Show whose deals?", choices, hint="⏎ show · esc cancel · type to filter", selected=current)
