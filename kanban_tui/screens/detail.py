"""Everything the board knows about one opportunity."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from ..models import Opportunity, Status
from ..money import format_money
from ..text import esc, safe_text
from ..widgets.column import KIND_GLYPH


class DetailScreen(ModalScreen[None]):
    """A card's details; escape, enter or q closes it."""

    BINDINGS = [
        Binding("escape,enter,q", "dismiss(None)", "Close", key_display="esc"),
        Binding("o", "open", "Open in the CRM", key_display="o"),
        Binding("y", "copy", "Copy the link", key_display="y"),
        Binding("j,down", "scroll(1)", "Scroll", show=False),
        Binding("k,up", "scroll(-1)", "Scroll", show=False),
    ]

    def __init__(
        self, opportunity: Opportunity, status: Status, *, pending: bool = False, times_reported: bool = True,
        change: str | None = None, crm: str = "the CRM", records_won_date: bool = True,
        opener: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.opener = opener
        self.change = change
        """How the card changed since the user last looked (`moved from Demo`), or None."""
        self.crm = crm
        self.records_won_date = records_won_date
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
            *([("In status", _in_status(o.status_changed))] if o.status_changed else []),
            ("Won on", o.date_won.isoformat() if o.date_won else
             "-" if self.records_won_date else f"not recorded by {self.crm}"),
            ("Stalled", "yes: no activity for a while" if o.stalled else "no"),
            ("Id", safe_text(o.id)),
            *([("Changed", f"{self.change}, since you last looked")] if self.change else []),
            *([("Read-only", o.read_only)] if o.read_only else []),
        ]
        with VerticalScroll(id="detail", classes="dialog"):
            yield Label(f"[b]{esc(o.name)}[/b]", classes="dialog-title")
            yield Static("\n".join(f"[dim]{k:<11}[/dim]{esc(v)}" for k, v in rows), id="detail-fields")
            yield Static(self._link(), id="detail-link")
            if o.note:
                yield Static(f"[dim]Note[/dim]\n{esc(o.note)}", id="detail-note")
            yield Label("esc close · y copy the link · o open it", classes="dialog-hint")
        yield Footer()  # the dialog's own keys, not the board's


    def _link(self) -> Text:
        """The deal's link as an OSC 8 hyperlink (the terminal makes it clickable), or why there is none."""
        text = Text.assemble(("Link       ", "dim"))
        url = self.opportunity.url
        if url:
            text.append(url, Style(link=url, underline=True))
        else:
            text.append(f"none: {self.crm} gives no link to its deals")
        return text

    def action_open(self) -> None:
        if self.opener is not None:
            self.opener()

    def action_scroll(self, delta: int) -> None:
        self.query_one("#detail", VerticalScroll).scroll_relative(y=delta, animate=False)

    def action_copy(self) -> None:
        from .. import links

        o = self.opportunity
        text, what = (o.url, "link") if o.url else (o.id, "id")
        if (why := links.copy(self.app, text, what)) is not None:  # nothing a paste could run
            self.notify(why, severity="warning", timeout=8, markup=False)
            return
        self.notify(f"Copied the {what}: {links.shown(text)}", timeout=3, markup=False)


def _in_status(since: datetime) -> str:
    days = max(0, int((datetime.now(UTC) - since).total_seconds()) // 86400)
    return f"{days} day{'s' if days != 1 else ''} (since {since.astimezone():%Y-%m-%d})"
