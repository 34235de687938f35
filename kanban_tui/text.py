"""Text from a CRM is untrusted: made safe once, and drawn without being taken for markup.

- `safe_text` turns any string a CRM sends into display text: C0 and C1 control characters
  become visible stand-ins (ESC shows as `␛`, so `ESC ] 52 ; …` can never reach the terminal as
  an escape sequence), bidi overrides and isolates are dropped, nothing else is touched. The
  domain models (`models.py`) apply it to every string field they are built with, so every
  backend's output is safe without any backend having to remember to call it; backend errors
  apply it to the CRM's wording (`backends/errors.py`).
- `esc` puts text into Textual markup as plain text: every `[` escaped (so `[/]` or
  `[@click=…]` in a deal's name is just text), and a trailing backslash kept from escaping the
  markup that follows.
- `escape_json` makes JSON text safe to print: the values stay exact (a script reads back the very id
  the CRM sent), but every character a terminal could act on is written as a `\\uXXXX` escape.
- `fit` and `cells` measure in terminal cells, not characters: a CJK or emoji name takes two
  cells a character, and is cut with `…` so that what must show beside it still does.

Pure functions, no I/O, no Textual.
"""

from __future__ import annotations

import re

from rich.cells import cell_len

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")
"""What `safe_text` replaces: C0, DEL, C1, bidi controls, line/paragraph separators, and lone surrogates
(a CRM's JSON can carry `\\ud800`: no terminal or UTF-8 stream can take one)."""
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")
"""The same less C0, which json escapes itself (a raw newline in JSON text is its layout)."""
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _stand_in(match: re.Match[str], multiline: bool = False) -> str:
    char = match.group()
    code = ord(char)
    if char in _BIDI:
        return ""  # invisible anyway; dropped so they cannot reorder what follows them
    if char == "\n":
        return "\n" if multiline else " "
    if char == "\t" or char in "\u2028\u2029":
        return " "
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟: ESC shows as ␛
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"  # C1 controls (0x80-0x9f) and lone surrogates: no picture of their own


def safe_text(text: str, *, multiline: bool = False) -> str:
    """`text` with control characters shown as visible stand-ins and bidi controls dropped.

    `multiline` keeps line breaks (a note); elsewhere they become spaces. Fast when there is
    nothing to do (the usual case): one `str.isprintable` check.
    """
    if text.isprintable():
        return text
    if multiline:
        return _UNSAFE.sub(lambda m: _stand_in(m, True), text)
    return _UNSAFE.sub(_stand_in, text)


def escape_json(dumped: str) -> str:
    """`dumped` (the output of `json.dumps(..., ensure_ascii=False)`) with every control character,
    bidi control, separator and lone surrogate written as a `\\uXXXX` escape: json escapes C0 itself but
    leaves DEL, C1 (`\\x9b` is a CSI to some terminals), bidi overrides and U+2028 raw. Outside its strings
    JSON is ASCII, so this only touches strings, and a JSON reader gets back the very same values."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


def esc(text: object) -> str:
    """Plain text for Textual markup: `[` escaped, a trailing backslash kept from escaping what follows."""
    escaped = str(text).replace("[", "\\[")
    return escaped + "\u200b" if escaped.endswith("\\") else escaped


def cells(text: str) -> int:
    """How many terminal cells `text` takes (CJK and most emoji take two each)."""
    return cell_len(text)


def fit(text: str, width: int) -> str:
    """`text` cut to at most `width` cells, ending in `…` when cut (never half a wide character)."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    room, taken, out = width - 1, 0, []
    for char in text:
        size = cell_len(char)
        if taken + size > room:
            break
        out.append(char)
        taken += size
    return "".join(out) + "…"


def pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` cells."""
    return text + " " * max(0, width - cell_len(text))
