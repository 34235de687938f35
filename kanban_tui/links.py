"""A deal's link: opened in the system browser where there is one, copied through the terminal.

UI-side helpers (the screens call them; no CRM I/O). Opening uses the desktop's own opener
(`open`, `xdg-open`) only where a desktop is there to show it: over SSH, or with no display,
there is none, and the link is shown instead (never a console browser taking over the terminal).
Copying writes OSC 52, which terminals turn into a clipboard write: it works over SSH; in tmux
it needs `set -g set-clipboard on` (or `allow-passthrough on`, for the wrapped copy also sent).

What is copied is checked first (`why_not_copied`): a paste into a shell types it, so a line break, an
ESC (a bracketed-paste end, `ESC[201~`, would end the paste early and run what follows), a C1 control
or a bidi override in a CRM's id would be run or hidden there. A link must be http(s) and printable, an
id printable; anything else is not copied and the board says so. A link is opened on the same terms.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from typing import Any

from .text import safe_text

COPY_LIMIT = 2048
"""The longest text copied (characters): an id or a link longer than that is not one to paste."""
_LINK = re.compile(r"https?://\S+", re.IGNORECASE)


def why_not_copied(text: str, what: str = "id") -> str | None:
    """None when `text` is safe on the clipboard (and to a shell a paste types it into): one printable
    line, no control character, no ESC, no bidi control; a link also http(s). Else why not (one line)."""
    if not text:
        return "it is empty"
    if len(text) > COPY_LIMIT:
        return f"it is {len(text):,} characters long"
    if not text.isprintable():  # C0 (line breaks, ESC), DEL, C1, bidi and other format controls, separators
        return f"it holds control characters ({shown(text, 40)})"
    if what == "link" and not _LINK.fullmatch(text):
        return f"it is not an http(s) link ({shown(text, 40)})"
    return None


def _opener() -> list[str] | None:
    if os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"):
        return None  # a browser would open on the far machine, if at all
    if sys.platform == "darwin":
        return ["open"]
    if sys.platform.startswith("win"):
        return ["cmd", "/c", "start", ""]
    if (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and shutil.which("xdg-open"):
        return ["xdg-open"]
    return None


def can_open() -> bool:
    """A desktop browser can be opened from here."""
    return _opener() is not None


def open_url(url: str) -> str | None:
    """Open `url` in the desktop's browser; None, or why it could not (one line). Blocking: call it in a thread."""
    if why_not_copied(url, "link") is not None:
        return "not a link to open"
    opener = _opener()
    if opener is None:
        return "no browser here"
    try:
        subprocess.Popen([*opener, url], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,  # noqa: S603
                         stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        return f"could not start {opener[0]}: {exc.strerror or exc}"
    return None


def osc52(text: str) -> str:
    """The terminal sequence that puts `text` on the clipboard."""
    return f"\x1b]52;c;{base64.b64encode(text.encode('utf-8')).decode('ascii')}\a"


def copy(app: Any, text: str, what: str = "id") -> str | None:
    """Put `text` (a deal's `what`: "id" or "link") on the clipboard through the terminal (OSC 52); inside
    tmux, also wrapped for passthrough. None when copied; else why it cannot be (`why_not_copied`), and
    nothing is written."""
    if (why := why_not_copied(text, what)) is not None:
        return f"This deal's {what} cannot be copied: {why}"
    app.copy_to_clipboard(text)  # OSC 52, and the app's own clipboard
    driver = getattr(app, "_driver", None)
    if os.environ.get("TMUX") and driver is not None:
        driver.write("\x1bPtmux;" + osc52(text).replace("\x1b", "\x1b\x1b") + "\x1b\\")
    return None


def shown(text: str, limit: int = 60) -> str:
    """A link or id as a notice shows it (made safe, and shortened in the middle when long)."""
    text = safe_text(text)
    return text if len(text) <= limit else text[: limit // 2 - 1] + "…" + text[-(limit // 2) :]
