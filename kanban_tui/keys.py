"""Every key binding of the app, in one place.

The board screen and the app take their BINDINGS from here, the footer shows the
ones marked `show`, and the help screen (`?`) lists them all from these same lists.

Kept off on purpose: ctrl+h/j/k/l (tmux and vim pane navigators), ctrl+a / ctrl+b
(tmux prefixes), ctrl+s (terminal flow control) and ctrl+j (a newline in many terminals).
"""

from __future__ import annotations

from textual.binding import Binding

APP_BINDINGS: list[Binding] = [
    Binding("q", "quit", "Quit", key_display="q"),
    Binding("ctrl+c", "quit", "Quit", show=False, key_display="ctrl+c", priority=True),
    Binding("question_mark", "help", "Help", key_display="?"),
]

BOARD_BINDINGS: list[Binding] = [
    Binding("left,h", "focus_column(-1)", "Previous column", show=False, key_display="←/h"),
    Binding("right,l", "focus_column(1)", "Next column", show=False, key_display="→/l"),
    Binding("up,k", "focus_card(-1)", "Card above", show=False, key_display="↑/k"),
    Binding("down,j", "focus_card(1)", "Card below", show=False, key_display="↓/j"),
    Binding("pageup", "focus_page(-1)", "Page up", show=False, key_display="PgUp"),
    Binding("pagedown", "focus_page(1)", "Page down", show=False, key_display="PgDn"),
    Binding("home,g", "focus_end(-1)", "First card", show=False, key_display="Home/g"),
    Binding("end,G", "focus_end(1)", "Last card", show=False, key_display="End/G"),
    Binding("shift+left,less_than_sign", "move_card(-1)", "Move ←", key_display="⇧←/<"),
    Binding("shift+right,greater_than_sign", "move_card(1)", "Move →", key_display="⇧→/>"),
    Binding("m", "pick_status", "Move to…", key_display="m"),
    Binding("1", "jump_column(1)", "Jump to column 1–9", show=False, key_display="1–9"),
    *(Binding(str(n), f"jump_column({n})", f"Jump to column {n}", show=False, system=True) for n in range(2, 10)),
    Binding("slash", "search", "Search", key_display="/"),
    Binding("s", "cycle_sort", "Sort", show=False, key_display="s"),
    Binding("n", "next_match(1)", "Next match", show=False, key_display="n"),
    Binding("N", "next_match(-1)", "Previous match", show=False, key_display="N"),
    Binding("escape", "clear_search", "Clear the search", show=False, key_display="esc"),
    Binding("u", "undo", "Undo last move", show=False, key_display="u"),
    Binding("enter", "show_details", "Details", key_display="⏎"),
    Binding("r", "refresh", "Refresh", show=False, key_display="r"),  # polls run by themselves; in the help
    Binding("p", "switch_pipeline", "Switch pipeline", show=False, key_display="p"),
]

HELP_SECTIONS: list[tuple[str, list[Binding]]] = [
    ("Board", BOARD_BINDINGS),
    ("Anywhere", APP_BINDINGS),
]
"""What the help screen lists, in order."""
