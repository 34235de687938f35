"""`+`: a new deal in the focused column. A form that returns (dismisses with) a `DealDraft`, or None.

Fields: name, value, confidence (`tab` / `shift+tab`). Where the CRM hangs deals on leads (Close), typing the name
offers the existing leads found by it (`search_leads`, run in a worker once typing pauses: debounced, one search at a
time, at most `MAX_LEADS` shown, bounded in time, a failure said in one line) below a first choice, a new lead of that
name; `↓` / `↑` choose. A lead whose name is exactly the one typed is chosen at first (no twin lead by accident), and
`enter` while the leads of the name typed are still being looked for says so instead of making a new lead. `enter`
creates: each field is read (`fields.py`), what is wrong said under it in one line; `esc` cancels (None).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ..fields import MAX_NAME, FieldError, parse_confidence, parse_name, parse_value
from ..models import Lead
from ..text import esc, safe_text

MAX_LEADS = 8
"""Existing leads offered at most."""
MAX_QUERY = 100
"""The name is searched by its first characters only."""
SEARCH_TIMEOUT = 15.0
"""Seconds a lead search may take before it is said to have failed (the backend's own retries are within it)."""
NEW = "new"
"""The option id of "a new lead of the name typed"."""

_TYPE_A_NAME = "type the name: existing leads are offered"

SearchLeads = Callable[[str], Awaitable[list[Lead] | None]]


@dataclass(frozen=True)
class DealDraft:
    """What the user asked for: a deal named `name` (for the existing lead `lead_id`, or None: a new lead of that
    name where the CRM has leads), `value` in minor units of `currency` (None: the CRM's default), `confidence`."""

    name: str
    lead_id: str | None
    value: int | None
    currency: str | None
    confidence: int | None


class NewDealScreen(ModalScreen[DealDraft | None]):
    """Make a deal in a column; dismisses with a `DealDraft`, or None."""

    BINDINGS = [
        Binding("enter", "save", "Create", key_display="⏎"),
        Binding("escape", "dismiss(None)", "Cancel", key_display="esc"),
        Binding("down", "choose(1)", "Next lead", show=False),
        Binding("up", "choose(-1)", "Previous lead", show=False),
    ]

    def __init__(
        self, status_label: str, *, has_leads: bool, search_leads: SearchLeads | None = None,
        currency: str | None = None, debounce: float = 0.25,
    ) -> None:
        super().__init__()
        self.status_label = status_label
        self.has_leads = has_leads and search_leads is not None
        self.search_leads = search_leads
        self.currency = currency
        self.debounce = debounce
        self.leads: list[Lead] = []
        """The existing leads offered (after the new-lead choice)."""
        self.searched: str | None = None
        """The name whose leads are offered (None: none yet); a search for another is under way or to come."""
        self.search_failed = False
        self._failure = ""

    def compose(self) -> ComposeResult:
        unit = f"{self.currency} · " if self.currency else ""
        with Vertical(id="new-deal-form", classes="dialog form"):
            yield Label(f"New deal in [b]{esc(self.status_label)}[/b]", classes="dialog-title")
            with Horizontal(classes="field-row"):
                yield Label("Name", classes="field-label")
                yield Input(id="field-name", compact=True, max_length=MAX_NAME + 1)
                if self.has_leads:
                    yield Label("the lead's name", classes="field-hint")
            yield Static("", id="error-name", classes="field-error")
            if self.has_leads:
                options = OptionList(id="lead-options", compact=True)
                options.can_focus = False  # ↓ / ↑ from the name field choose; tab goes on to the value
                yield options
                yield Static(_TYPE_A_NAME, id="lead-line", classes="field-matches")
            with Horizontal(classes="field-row"):
                yield Label("Value", classes="field-label")
                yield Input(id="field-value", compact=True, max_length=60)
                yield Label(f"{unit}e.g. 12.5k", classes="field-hint")
            yield Static("", id="error-value", classes="field-error")
            with Horizontal(classes="field-row"):
                yield Label("Confidence %", classes="field-label")
                yield Input(id="field-confidence", compact=True, max_length=60)
                yield Label("0 to 100", classes="field-hint")
            yield Static("", id="error-confidence", classes="field-error")
            yield Label("⏎ create · esc cancel · tab next field" + (" · ↓↑ choose the lead" if self.has_leads else ""),
                        classes="dialog-hint")
        yield Footer()  # the dialog's own keys, not the board's

    def on_mount(self) -> None:
        self.query_one("#field-name", Input).focus()
        if self.has_leads:
            self.query_one("#lead-options", OptionList).display = False

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The focused field's label stands out (reversed: in NO_COLOR too)."""
        for row in self.query(".field-row"):
            row.set_class(event.widget in row.children, "-active")

    # -- the leads ----------------------------------------------------------------------------------------------

    def _typed(self) -> str:
        return " ".join(self.query_one("#field-name", Input).value.split())

    def _lead_line(self) -> str:
        name = self._typed()
        if not name:
            return _TYPE_A_NAME
        if self.search_failed:
            return self._failure
        if self.searched != name[:MAX_QUERY]:
            return "looking for leads of that name…"
        if not self.leads:
            return "no lead of that name yet: a new one is made"
        lead = self.chosen()
        return f"for {lead.name}, an existing lead · ↓↑ choose" if lead else "for a new lead · ↓↑ choose"

    @on(Input.Changed, "#field-name")
    def _name_changed(self, event: Input.Changed) -> None:
        self._say("name", "")
        if not self.has_leads:
            return
        name = self._typed()
        self.search_failed = False
        self.leads = []
        self.searched = None
        self._fill()
        if name:
            self.run_worker(self._search(name[:MAX_QUERY]), group="leads", exclusive=True, exit_on_error=False)
        else:
            self.workers.cancel_group(self, "leads")

    async def _search(self, query: str) -> None:
        """Once typing pauses: the leads named like `query`, offered if it is still what is typed."""
        if self.debounce:
            await asyncio.sleep(self.debounce)
        assert self.search_leads is not None
        try:
            async with asyncio.timeout(SEARCH_TIMEOUT):
                found = await self.search_leads(query)
        except Exception as error:  # noqa: BLE001 - any failure of the CRM's search: one line, a new lead still works
            if self._typed()[:MAX_QUERY] == query:
                self.search_failed = True
                self._failure = "lead search failed: " + _one_line(error) + " (⏎ makes a new lead)"
                self.searched = query
                self._fill()
            return
        if self._typed()[:MAX_QUERY] != query:
            return  # typed on since: that search is the one that counts
        self.searched = query
        self.leads = list(found or [])[:MAX_LEADS]
        self._fill()

    def _fill(self) -> None:
        """The choices: a new lead of the name typed, then the leads found (one of the same name chosen first)."""
        options = self.query_one("#lead-options", OptionList)
        name = self._typed()
        options.clear_options()
        options.display = bool(name)
        if name:
            options.add_options([
                Option(f"+ a new lead: [b]{esc(name)}[/b]", id=NEW),
                *(Option(esc(lead.name), id=f"lead:{n}") for n, lead in enumerate(self.leads)),
            ])
            same = next((n + 1 for n, lead in enumerate(self.leads) if lead.name.casefold() == name.casefold()), 0)
            options.highlighted = same
        self.query_one("#lead-line", Static).update(esc(self._lead_line()))

    def action_choose(self, delta: int) -> None:
        """`↓` / `↑`: in the name field, the next / previous lead; elsewhere, the next / previous field."""
        focused = self.focused
        if not self.has_leads or not isinstance(focused, Input) or focused.id != "field-name":
            self.focus_next() if delta > 0 else self.focus_previous()
            return
        options = self.query_one("#lead-options", OptionList)
        if options.option_count:
            options.highlighted = ((options.highlighted or 0) + delta) % options.option_count
            self.query_one("#lead-line", Static).update(esc(self._lead_line()))

    def chosen(self) -> Lead | None:
        """The existing lead chosen (None: a new lead)."""
        if not self.has_leads:
            return None
        options = self.query_one("#lead-options", OptionList)
        if options.highlighted is None or not options.option_count:
            return None
        option_id = options.get_option_at_index(options.highlighted).id or NEW
        return None if option_id == NEW else self.leads[int(option_id.removeprefix("lead:"))]

    # -- saving -------------------------------------------------------------------------------------------------

    @on(Input.Changed, "#field-value,#field-confidence")
    def _changed(self, event: Input.Changed) -> None:
        self._say((event.input.id or "").removeprefix("field-"), "")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        errors: dict[str, str] = {}
        texts = {f: self.query_one(f"#field-{f}", Input).value for f in ("name", "value", "confidence")}
        name = value = confidence = None
        try:
            name = parse_name(texts["name"])
        except FieldError as error:
            errors["name"] = str(error)
        try:
            value = parse_value(texts["value"], self.currency or "USD")
        except FieldError as error:
            errors["value"] = str(error)
        try:
            confidence = parse_confidence(texts["confidence"])
        except FieldError as error:
            errors["confidence"] = str(error)
        if name and self.has_leads and not self.search_failed and self.searched != self._typed()[:MAX_QUERY]:
            errors["name"] = "still looking for leads of that name: ⏎ again once they show"
        for field in ("name", "value", "confidence"):
            self._say(field, errors.get(field, ""))
        if errors or name is None:
            self.query_one(f"#field-{next(iter(errors), 'name')}", Input).focus()
            return
        lead = self.chosen()
        self.dismiss(DealDraft(name=lead.name if lead else name, lead_id=lead.id if lead else None, value=value,
                               currency=self.currency, confidence=confidence))

    def _say(self, field: str, line: str) -> None:
        said = self.query_one(f"#error-{field}", Static)
        said.update(esc(f"✗ {line}") if line else "")
        said.set_class(bool(line), "-shown")


def _one_line(error: BaseException) -> str:
    """An error as one short line (a timeout has no words of its own)."""
    if isinstance(error, TimeoutError):
        return f"no answer in {SEARCH_TIMEOUT:.0f} s"
    lines = str(error).strip().splitlines()
    text = safe_text(lines[0]) if lines else type(error).__name__
    return text if len(text) <= 80 else text[:79] + "…"
