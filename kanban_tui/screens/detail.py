"""Everything the board knows about one opportunity, and its latest notes as the CRM has them.

The notes are asked of the CRM by the board's session when the details open (`Backend.notes`); the board
screen hands the answer to `show_notes`. Until it comes they read "loading…"; a CRM with no notes the board
can read says so; a failure is one line. Each note: its date and author, then its text, a few lines at most
(cut after a whole word, with …). Note text is made safe by the model and escaped for markup here."""

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

from ..models import Note, Opportunity, Status
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
        opener: Callable[[], None] | None = None, notes_of: str = "the deal",
    ) -> None:
        super().__init__()
        self.notes_of = notes_of
        """What the CRM's notes belong to: "the deal", or "the lead (...)" (Close: every deal of it shares them)."""
        self.notes: list[Note] | None = None
        self._notes_answer: tuple[list[Note] | None, str | None] | None = None
        """The CRM's answer once it came (before the screen is mounted, kept for `on_mount`)."""
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
            *([("Closes", o.close_date.isoformat())] if o.close_date else []),
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
            yield Static(f"[dim]Notes      [/dim]loading… (asking {esc(self.crm)})", id="detail-notes")
            yield Label("esc close · y copy the link · o open it", classes="dialog-hint")
        yield Footer()  # the dialog's own keys, not the board's


    def on_mount(self) -> None:
        if self._notes_answer is not None:
            self.show_notes(*self._notes_answer)

    def show_notes(self, notes: list[Note] | None, error: str | None = None) -> None:
        """The CRM's answer: the latest notes (newest first), None (it has none the board reads), or why not."""
        self._notes_answer = (notes, error)
        self.notes = notes
        for shown in self.query("#detail-notes").results(Static):  # none before it is composed: `on_mount` then
            shown.update(notes_markup(notes, error, self.crm, self.notes_of))

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


NOTE_LINES = 4
"""Lines of a note's own text shown at most (a longer one ends with …)."""
NOTE_CHARS = 320
"""Characters of a note shown at most, cut after a whole word (the dialog wraps them at words)."""


def notes_markup(notes: list[Note] | None, error: str | None, crm: str, notes_of: str = "the deal") -> str:
    """The details' notes as markup: a heading, then each note's date and author and its first lines."""
    if error is not None:
        return f"[dim]Notes      [/dim]could not read the notes: {esc(error)}"
    if notes is None:
        return f"[dim]Notes      [/dim]{esc(crm)} notes are not shown here yet"
    whose = "" if notes_of == "the deal" else f" of {esc(notes_of)}"
    if not notes:
        return f"[dim]Notes      [/dim]none yet{whose}"
    parts = [f"[dim]Notes[/dim]{whose}, latest {len(notes)}, newest first:" if whose else
             f"[dim]Notes      [/dim]latest {len(notes)}, newest first:"]
    for note in notes:
        when = note.when.astimezone().strftime("%Y-%m-%d %H:%M")
        parts.append(f"\n[b]{when}[/b] · {esc(note.author or 'author unknown')}\n{esc(_a_few_lines(note.text))}")
    return "\n".join(parts)


def _a_few_lines(text: str) -> str:
    """`text`'s first `NOTE_LINES` lines and `NOTE_CHARS` characters, cut after a whole word (… says so)."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    kept = "\n".join(lines[:NOTE_LINES])
    cut = len(lines) > NOTE_LINES
    if len(kept) > NOTE_CHARS:
        kept, cut = kept[:NOTE_CHARS], True
        space = max(kept.rfind(" "), kept.rfind("\n"))
        if space > NOTE_CHARS // 2:  # a whole word where there is one (one long word is cut where it must)
            kept = kept[:space]
    return kept.rstrip() + (" …" if cut else "") if kept.strip() else "(empty note)"
