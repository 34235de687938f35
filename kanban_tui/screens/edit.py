"""`e`: edit a deal's fields. A form that returns (dismisses with) an `Edit` of the fields the user changed, or None.

The first field, the value, is focused with its text selected: typing replaces it. `tab` / `shift+tab` go through
value, currency and period (where the CRM has them), confidence %, close date, owner and name. `enter` saves: every
changed field is read (`fields.py`); one that is not a value of it is said under it, in one line, and nothing is
returned until each is right. Only a field whose value changes goes into the `Edit` (text typed back to what it was,
or `12500` for `12,500`, is no change). `esc` cancels: None. `ctrl+s` is not bound (XOFF in many terminals).

A field the CRM cannot change (`Backend.editable`) is not shown, and one line says why (`Backend.cannot_edit`). The
owner is picked among the CRM's users: typing filters them (the line under the field lists who the text could be),
`↓` / `↑` step through that list, `→` completes the name suggested; where the CRM cannot list its users (`users` is
None) the owner is not offered, and the same line says so. Saving with nothing changed returns None (nothing to send).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Footer, Input, Label, Static
from textual.widgets.input import Selection

from ..fields import FIELD_LABELS, MAX_NAME, FieldError, format_field, matching_users, parse_currency, parse_field
from ..models import EDIT_FIELDS, Edit, Opportunity, User, field_value
from ..text import esc

LABELS = {
    "value": "Value", "currency": "Currency", "period": "Period", "confidence": "Confidence %",
    "close_date": "Close date", "owner": "Owner", "name": "Name",
}
HINTS = {
    "value": "e.g. 12,500 · 12.5k · 1.2M", "currency": "3 letters: USD, EUR…", "period": "one_time · monthly · annual",
    "confidence": "0 to 100", "close_date": "YYYY-MM-DD · +2w · today", "owner": "↓↑ pick · → complete",
    "name": "",
}
SHOWN_MATCHES = 4
"""Users the line under the owner field names; the rest are counted."""


class EditScreen(ModalScreen[Edit | None]):
    """Edit a deal's fields; dismisses with the `Edit` of the fields changed, or None."""

    BINDINGS = [
        Binding("enter", "save", "Save", key_display="⏎"),
        Binding("escape", "dismiss(None)", "Cancel", key_display="esc"),
        Binding("down", "pick_owner(1)", "Next user", show=False),
        Binding("up", "pick_owner(-1)", "Previous user", show=False),
    ]

    def __init__(
        self, opportunity: Opportunity, *, editable: frozenset[str], cannot_edit: str, users: Sequence[User] | None,
        today: date, crm: str = "this CRM",
    ) -> None:
        super().__init__()
        self.opportunity = opportunity
        self.users = list(users) if users is not None else None
        self.today = today
        self.fields = tuple(f for f in EDIT_FIELDS if f in editable and (f != "owner" or self.users is not None))
        """The fields offered, in the form's order."""
        self.initial = {f: format_field(f, opportunity, self.users) for f in self.fields}
        """Each field's text as the form starts: text still equal to it is no change."""
        self.why_not = _why_not(editable, users is not None, cannot_edit, crm)
        self._candidates: list[User] = []
        self._picked: str | None = None
        """The name `↓` / `↑` last put into the owner field (its change does not filter the list again)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="edit-form", classes="dialog form"):
            yield Label(f"Edit [b]{esc(self.opportunity.name)}[/b]", classes="dialog-title")
            for field in self.fields:
                with Horizontal(classes="field-row", id=f"row-{field}"):
                    yield Label(LABELS[field], classes="field-label")
                    yield Input(
                        self.initial[field], id=f"field-{field}", compact=True, select_on_focus=True,
                        max_length=MAX_NAME if field in ("name", "owner") else 60,
                        suggester=self._suggester() if field == "owner" else None,
                    )
                    if HINTS[field]:
                        yield Label(HINTS[field], classes="field-hint")
                if field == "owner":
                    yield Static("", id="owner-matches", classes="field-matches")
                yield Static("", id=f"error-{field}", classes="field-error")
            if self.why_not:
                yield Label(esc(self.why_not), id="edit-why-not", classes="form-note")
            yield Label("⏎ save · esc cancel · tab next field", classes="dialog-hint")
        yield Footer()  # the dialog's own keys, not the board's

    def _suggester(self) -> SuggestFromList:
        return SuggestFromList([u.name for u in self.users or ()], case_sensitive=False)

    def on_mount(self) -> None:
        if self.fields:
            first = self.query_one(f"#field-{self.fields[0]}", Input)
            first.focus()
            first.selection = Selection(0, len(first.value))  # typing replaces it (as on every tab to a field)
        if "owner" in self.fields:
            self._filter_owners(self.query_one("#field-owner", Input).value)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The focused field's label stands out (reversed: in NO_COLOR too)."""
        for row in self.query(".field-row"):
            row.set_class(event.widget in row.children, "-active")

    # -- the owner picker -------------------------------------------------------------------------------------

    def _filter_owners(self, text: str) -> None:
        """The users the owner field's text could be (every user when it is one's whole name or nothing: `↓` then
        steps through them all), said on the line under it."""
        users = self.users or []
        found = matching_users(text, users)
        whole = bool(text.strip()) and len(found) == 1 and found[0].name.casefold() == text.strip().casefold()
        self._candidates = users if whole or not text.strip() else found
        if not text.strip():
            line = "no owner" + (f" · ↓ to pick one of {len(users)} users" if users else "")
        elif whole:
            line = f"{found[0].name}" + (f" · ↓↑ the other {len(users) - 1} users" if len(users) > 1 else "")
        elif not found:
            line = "no user's name starts with that"
        else:
            more = len(found) - SHOWN_MATCHES
            line = " · ".join(u.name for u in found[:SHOWN_MATCHES]) + (f" · +{more} more" if more > 0 else "")
        self.query_one("#owner-matches", Static).update(esc(line))

    def action_pick_owner(self, delta: int) -> None:
        """`↓` / `↑` in the owner field: the next / previous user the typed text could be."""
        field = self.focused
        if not isinstance(field, Input) or field.id != "field-owner":
            if isinstance(field, Input):  # elsewhere the arrows step through the fields as tab does
                self.focus_next() if delta > 0 else self.focus_previous()
            return
        found = self._candidates
        if not found:
            return
        names = [u.name for u in found]
        at = names.index(field.value) if field.value in names else (-1 if delta > 0 else 0)
        self._picked = names[(at + delta) % len(names)]
        field.value = self._picked
        field.cursor_position = len(field.value)

    # -- typing, saving ---------------------------------------------------------------------------------------

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        field = (event.input.id or "").removeprefix("field-")
        self._say(field, "")
        if field == "owner" and event.value != self._picked:
            self._picked = None
            self._filter_owners(event.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        edit, errors = self.read()
        for field in self.fields:
            self._say(field, errors.get(field, ""))
        if errors:
            self.query_one(f"#field-{next(f for f in self.fields if f in errors)}", Input).focus()
            return
        self.dismiss(edit)

    def read(self) -> tuple[Edit | None, dict[str, str]]:
        """What the form says now: the `Edit` of the fields changed (None: none is), and one line per field that
        is not a value of it."""
        o = self.opportunity
        texts = {f: self.query_one(f"#field-{f}", Input).value for f in self.fields}
        values: dict[str, object] = {}
        errors: dict[str, str] = {}
        currency = o.currency
        if "currency" in texts and texts["currency"] != self.initial["currency"]:
            try:
                currency = parse_currency(texts["currency"])
            except FieldError as error:
                errors["currency"] = str(error)
        for field in self.fields:
            if field in errors:
                continue
            if texts[field] == self.initial[field] and not (field == "value" and currency != o.currency):
                continue  # untouched: not read, not sent (a value is read again in a new currency's unit)
            try:
                value = parse_field(field, texts[field], currency=currency, users=self.users, today=self.today)
                one = Edit.model_validate({field: value})
            except (FieldError, ValueError) as error:
                errors[field] = _one_line(error)
                continue
            if one.value_of(field) != field_value(o, field):
                values[field] = value
        if errors or not values:
            return None, errors
        return Edit.model_validate(values), errors

    def _say(self, field: str, line: str) -> None:
        if field not in self.fields:
            return
        said = self.query_one(f"#error-{field}", Static)
        said.update(esc(f"✗ {line}") if line else "")
        said.set_class(bool(line), "-shown")


def _one_line(error: Exception) -> str:
    """A `FieldError`'s line; pydantic's wording cut to its first line (the model refused the value)."""
    if isinstance(error, FieldError):
        return str(error)
    text = str(error).splitlines()
    return text[-1].split(" [")[0].strip() if text else "not a value of this field"


def _why_not(editable: frozenset[str], lists_users: bool, cannot_edit: str, crm: str) -> str:
    """One line: the fields not offered for this CRM, and why."""
    parts: list[str] = []
    missing = [FIELD_LABELS[f] for f in EDIT_FIELDS if f not in editable]
    if missing:
        parts.append(f"{', '.join(missing)}: {cannot_edit}")
    if "owner" in editable and not lists_users:
        parts.append("owner: it cannot list its users here")
    return f"Not offered for {crm}: " + "; ".join(parts) if parts else ""
