"""`?`: every key, from the same lists the bindings are made of (kanban_tui/keys.py)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..keys import HELP_SECTIONS
from ..text import esc

LEGEND = (
    "[b]Cards[/b]: name · value/period, confidence · owner, time since the last update "
    "(or [i]stalled[/i] when the CRM flags the deal). Newest first ([b]s[/b] changes the order). "
    "[b]▶[/b] the focused card; [i]saving…[/i] a move on its way; [i]queued[/i] a move waiting for the "
    "CRM (kept on disk, sent even after a restart); [i]retrying[/i] a move the CRM failed to save, tried "
    "again; [i]asking[/i] the CRM changed the card since you moved it: the question is up.\n"
    "[b]Headers[/b]: count · total value · [i]exp[/i] expected value (weighted by confidence), "
    "in the column's main currency; [i]/yr[/i] recurring values counted for a year; "
    "+N cur: other currencies, not added in. [b]✓[/b] won and [b]✗[/b] lost are final.\n"
    "[b]Status line[/b]: ✓ synced · … loading · ~ waiting on the rate limit · ○ offline (moves queued) · "
    "! error · read-only (another window sends this account's moves). During a search: 3 of 412 deals."
)


class HelpScreen(ModalScreen[None]):
    """The keys, and what the board's marks mean."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        lines: list[str] = []
        for title, bindings in HELP_SECTIONS:
            lines.append(f"[b]{title}[/b]")
            for binding in bindings:
                if binding.system:  # one line stands for a family (1–9)
                    continue
                keys = esc(binding.key_display or binding.key)
                lines.append(f"  {keys:<10} {binding.description}")
            lines.append("")
        with VerticalScroll(id="help", classes="dialog"):
            yield Label("[b]kanban-tui keys[/b]", classes="dialog-title")
            yield Static("\n".join(lines).rstrip(), id="help-keys")
            yield Static(LEGEND, id="help-legend")
            yield Label("esc close", classes="dialog-hint")
