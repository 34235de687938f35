"""`?`: every key, from the same lists the bindings are made of (kanban_tui/keys.py)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from ..keys import HELP_SECTIONS, key_label
from ..text import esc

LEGEND = (
    "[b]Cards[/b]: name · value/period, confidence · owner, days in the status where the CRM says when the "
    "deal entered it ([i]12d in status[/i], [i]12d[/i] when narrow), else the time since the last update "
    "(or [i]stalled[/i] when the CRM flags the deal). Newest first ([b]s[/b] changes the order). "
    "[b]◆[/b] [i]new[/i] / [i]moved[/i] / [i]re-valued[/i]: changed since you last looked (a teammate, or "
    "while you were away); the mark goes once you have been on the card ([b]c[/b] steps through them). "
    "[b]●[/b] marked ([b]space[/b]): [b]>[/b] [b]<[/b] [b]m[/b] move every marked card, [b]u[/b] puts them all "
    "back, [b]esc[/b] clears the marks. [b]▶[/b] the focused card; [i]saving…[/i] a move on its way; "
    "[i]queued[/i] a move waiting for the "
    "CRM (kept on disk, sent even after a restart); [i]retrying[/i] a move the CRM failed to save, tried "
    "again; [i]asking[/i] the CRM changed the card since you moved it: the question is up.\n"
    "[b]Headers[/b]: label and count (filtered: 3 of 412) · total value · [i]exp[/i] (or [i]~[/i] when "
    "narrow) expected value (weighted by confidence), "
    "in the column's main currency; [i]/yr[/i] recurring values counted for a year; "
    "+N cur: other currencies, not added in. [b]✓[/b] won and [b]✗[/b] lost are final.\n"
    "[b]Status line[/b]: ✓ synced · … loading · ~ waiting on the rate limit · ○ offline (moves queued) · "
    "! error · read-only (another window sends this account's moves). During a search: 3 of 412 deals. "
    "3 marked: cards marked (out of sight: left out by the search, the filter or a hidden column)."
)


class HelpScreen(ModalScreen[None]):
    """The keys, and what the board's marks mean."""

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss(None)", "Close", key_display="esc"),
        Binding("j,down", "scroll(1)", "Scroll down", key_display="j/↓"),
        Binding("k,up", "scroll(-1)", "Scroll up", key_display="k/↑"),
        Binding("pagedown,space", "scroll(10)", "Page down", show=False),
        Binding("pageup", "scroll(-10)", "Page up", show=False),
    ]

    def action_scroll(self, delta: int) -> None:
        self.query_one("#help", VerticalScroll).scroll_relative(y=delta, animate=False)

    def compose(self) -> ComposeResult:
        lines: list[str] = []
        for title, bindings in HELP_SECTIONS:
            lines.append(f"[b]{title}[/b]")
            for binding in bindings:
                if binding.system:  # one line stands for a family (1–9)
                    continue
                keys = esc(key_label(binding, getattr(self.app, "keys", {})))
                name = f"  [dim]{binding.id}[/dim]" if binding.id else ""
                lines.append(f"  {keys:<10} {esc(binding.description):<30}{name}")
            lines.append("")
        with VerticalScroll(id="help", classes="dialog"):
            yield Label("[b]dealboard keys[/b]", classes="dialog-title")
            yield Static("\n".join(lines).rstrip(), id="help-keys")
            yield Static(LEGEND, id="help-legend")
            yield Label("j/k scroll · esc close · the dim names are for the [keys] table of the config",
                        classes="dialog-hint")
        yield Footer()
