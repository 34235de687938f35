"""Every key binding of the app, in one place.

The board screen and the app take their BINDINGS from here, the footer shows the
ones marked `show`, the help screen (`?`) lists them all from these same lists, and the
command palette (ctrl+p) offers every board action. Each binding has an id: the `[keys]`
table of the config remaps it (`search = "ctrl+f"`), checked by `check_keymap`.

Kept off on purpose: ctrl+h/j/k/l (tmux and vim pane navigators), ctrl+a / ctrl+b
(tmux prefixes), ctrl+s (terminal flow control) and ctrl+j (a newline in many terminals).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from textual.binding import Binding, BindingsMap

from .text import safe_text

FORBIDDEN = frozenset({"ctrl+h", "ctrl+j", "ctrl+k", "ctrl+l", "ctrl+a", "ctrl+b", "ctrl+s"})
"""Keys the app never binds, and `[keys]` may not bind: the terminal, tmux or vim own them."""

APP_BINDINGS: list[Binding] = [
    Binding("q", "quit", "Quit", key_display="q", id="quit"),
    Binding("ctrl+c", "quit", "Quit", show=False, key_display="ctrl+c", priority=True, id="quit_ctrl_c"),
    Binding("question_mark", "help", "Help", key_display="?", id="help"),
    Binding("ctrl+p", "command_palette", "Commands", show=False, key_display="ctrl+p", id="command_palette"),
]

BOARD_BINDINGS: list[Binding] = [
    Binding("left,h", "focus_column(-1)", "Previous column", show=False, key_display="←/h", id="column_left"),
    Binding("right,l", "focus_column(1)", "Next column", show=False, key_display="→/l", id="column_right"),
    Binding("up,k", "focus_card(-1)", "Card above", show=False, key_display="↑/k", id="card_up"),
    Binding("down,j", "focus_card(1)", "Card below", show=False, key_display="↓/j", id="card_down"),
    Binding("pageup", "focus_page(-1)", "Page up", show=False, key_display="PgUp", id="page_up"),
    Binding("pagedown", "focus_page(1)", "Page down", show=False, key_display="PgDn", id="page_down"),
    Binding("home,g", "focus_end(-1)", "First card", show=False, key_display="Home/g", id="first_card"),
    Binding("end,G", "focus_end(1)", "Last card", show=False, key_display="End/G", id="last_card"),
    Binding("shift+left,less_than_sign", "move_card(-1)", "Move ←", key_display="⇧←/<", id="move_left"),
    Binding("shift+right,greater_than_sign", "move_card(1)", "Move →", key_display="⇧→/>", id="move_right"),
    Binding("m", "pick_status", "Move to…", show=False, key_display="m", id="move_to"),
    Binding("space", "toggle_mark", "Mark / unmark the card", show=False, key_display="space", id="mark"),
    Binding("1", "jump_column(1)", "Jump to column 1–9", show=False, key_display="1–9", id="jump_1"),
    *(Binding(str(n), f"jump_column({n})", f"Jump to column {n}", show=False, system=True, id=f"jump_{n}")
      for n in range(2, 10)),
    Binding("slash", "search", "Search", key_display="/", id="search"),
    Binding("n", "next_match(1)", "Next match", show=False, key_display="n", id="next_match"),
    Binding("N", "next_match(-1)", "Previous match", show=False, key_display="N", id="previous_match"),
    Binding("escape", "clear_search", "Clear marks, search, filter", show=False, key_display="esc", id="clear"),
    Binding("f", "filter_owner", "Owner", key_display="f", id="owner_filter"),
    Binding("s", "cycle_sort", "Sort", key_display="s", id="sort"),
    Binding("c", "next_change(1)", "Next change", show=False, key_display="c", id="next_change"),
    Binding("x", "hide_column", "Hide column", show=False, key_display="x", id="hide_column"),
    Binding("X", "show_columns", "Show all columns", show=False, key_display="X", id="show_columns"),
    Binding("o", "open_link", "Open in the CRM", show=False, key_display="o", id="open_link"),
    Binding("y", "copy_link", "Copy the link", show=False, key_display="y", id="copy_link"),
    Binding("e", "edit_deal", "Edit", key_display="e", id="edit"),
    Binding("a", "add_note", "Note", key_display="a", id="note"),
    Binding("plus", "new_deal", "New deal", key_display="+", id="new_deal"),
    Binding("u", "undo", "Undo last move or edit", show=False, key_display="u", id="undo"),
    Binding("enter", "show_details", "Details", key_display="⏎", id="details"),
    Binding("r", "refresh", "Refresh", show=False, key_display="r", id="refresh"),
    Binding("p", "switch_pipeline", "Switch pipeline", show=False, key_display="p", id="switch_pipeline"),
    Binding("P", "pipeline_picture", "Pipeline picture", show=False, key_display="P", id="pipeline_picture"),
]

FOOTER_GIVES_UP = ("new_deal", "note", "owner_filter", "sort", "move_left", "move_right", "details", "search", "edit")
"""The footer's keys given up where the terminal is too narrow for all of them, first first (`? Help` and `q Quit`
stay); every key is still in the help and the palette."""

HELP_SECTIONS: list[tuple[str, list[Binding]]] = [
    ("Board", BOARD_BINDINGS),
    ("Anywhere", APP_BINDINGS),
]
"""What the help screen lists, in order."""

_KEY = re.compile(r"^((ctrl|shift|alt|super|meta)\+)*([a-z0-9_]+|[^\s,+])$")
_ALIASES = {"?": "question_mark", "/": "slash", "<": "less_than_sign", ">": "greater_than_sign",
            "esc": "escape", "return": "enter"}


def binding_ids() -> dict[str, Binding]:
    """Every binding a `[keys]` entry can name, by id."""
    return {b.id: b for b in (*APP_BINDINGS, *BOARD_BINDINGS) if b.id}


def check_keymap(keys: Mapping[str, object]) -> tuple[dict[str, str], list[str]]:
    """The `[keys]` table as a Textual keymap, and one line per entry left out (unknown action, a key that
    is not one, a key the app keeps off, one key for two actions)."""
    known = binding_ids()
    keymap: dict[str, str] = {}
    problems: list[str] = []
    taken: dict[str, str] = {}
    for action, value in keys.items():
        if action not in known:  # the config's own text: named, made safe (it may hold an escape)
            problems.append(f"[keys] {safe_text(str(action))}: no such action (see the help, ?, for the names:"
                            f" e.g. search, owner_filter, sort)")
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f"[keys] {action}: give the key as text, e.g. {action} = \"ctrl+f\"")
            continue
        wanted = [_ALIASES.get(k.strip(), k.strip()) for k in value.split(",")]
        bad = [k for k in wanted if not _KEY.match(k) or not k.isprintable()]  # an ESC is no key to bind
        if bad:
            problems.append(f"[keys] {action}: {bad[0]!r} is not a key (write e.g. \"f\", \"ctrl+f\", \"shift+up\")")
            continue
        kept_off = [k for k in wanted if k in FORBIDDEN]
        if kept_off:
            problems.append(f"[keys] {action}: {kept_off[0]} is kept free for the terminal, tmux and vim; choose"
                            " another key")
            continue
        clash = next((k for k in wanted if k in taken), None)
        if clash is not None:
            problems.append(f"[keys] {action}: {clash} is already given to {taken[clash]}; choose another key")
            continue
        for k in wanted:
            taken[k] = action
        keymap[action] = ",".join(wanted)
    # a key another action keeps (it is not remapped away) would silently take that action's key
    defaults = {k.strip(): b.id for b in known.values() if b.id not in keymap for k in b.key.split(",")}
    for action, value in list(keymap.items()):
        clash = next((k for k in value.split(",") if k in defaults and defaults[k] != action), None)
        if clash is not None:
            del keymap[action]
            problems.append(f"[keys] {action}: {clash} is {defaults[clash]}'s key; remap {defaults[clash]} too,"
                            " or choose another key")
    return keymap, problems


def keys_for(action: str, bindings: BindingsMap, keymap: Mapping[str, str]) -> set[str]:
    """The keys `bindings` give to `action`, as the `[keys]` table (`keymap`) may have remapped them."""
    bindings = bindings.copy()
    if keymap:
        bindings.apply_keymap(keymap)
    return {key for key, bound in bindings.key_to_bindings.items() if any(b.action == action for b in bound)}


def key_label(binding: Binding, keymap: Mapping[str, str]) -> str:
    """How the help and the palette show a binding's key: as remapped, else its own display."""
    remapped = keymap.get(binding.id or "")
    if remapped:
        reverse = {v: k for k, v in _ALIASES.items() if k != "return"}
        return "/".join(reverse.get(k, k) for k in remapped.split(","))
    return binding.key_display or binding.key
