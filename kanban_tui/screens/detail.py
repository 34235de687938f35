"""Everything the board knows about one opportunity."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..models import Opportunity, Status
from ..money import format_money
from ..text import esc, safe_text
from ..widgets.column import KIND_GLYPH


class DetailScreen(ModalScreen[None]):
    """A card's details; escape, enter or q closes it."""

    BINDINGS = [
        Binding("escape,enter,q", "dismiss(None)", "Close"),
    ]

    def __init__(
        self, opportunity: Opportunity, status: Status, *, pending: bool = False, times_reported: bool = True
    ) -> None:
        super().__init__()
        self.times_reported = times_reported
        """False: the CRM does not say when a card was created or changed (TeleCRM search)."""
        self.opportunity = opportunity
        self.status = status
        self.pending = pending

    def compose(self) -> ComposeResult:
        o = self.opportunity
        status = f"{KIND_GLYPH[self.status.kind]}{self.status.label}"
        if self.pending:
            status += " (saving…)"
        rows = [
            ("Status", status),
            ("Value", format_money(o.value, o.currency, o.period)),
            ("Confidence", "-" if o.confidence is None else f"{o.confidence}%"),
            ("Owner", o.owner or "unassigned"),
            ("Contact", o.contact or "-"),
            ("Created", o.created.strftime("%Y-%m-%d %H:%M") if self.times_reported else "not reported by the CRM"),
            ("Updated", o.updated.strftime("%Y-%m-%d %H:%M") if self.times_reported else "not reported by the CRM"),
            ("Won on", o.date_won.isoformat() if o.date_won else "-"),
            ("Stalled", "yes: no activity for a while" if o.stalled else "no"),
            ("Link", o.url or "-"),
            ("Id", safe_text(o.id)),
            *([("Read-only", o.read_only)] if o.read_only else []),
        ]
        with VerticalScroll(id="detail", classes="dialog"):
            yield Label(f"[b]{esc(o.name)}[/b]", classes="dialog-title")
            yield Static("\n".join(f"[dim]{k:<11}[/dim]{esc(v)}" for k, v in rows), id="detail-fields")
            if o.note:
                yield Static(f"[dim]Note[/dim]\n{esc(o.note)}", id="detail-note")
            yield Label("esc close", classes="dialog-hint")
