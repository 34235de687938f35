"""A deal's link: opened in the system browser where there is one, copied through the terminal.

UI-side helpers (the screens call them; no CRM I/O). Opening uses the desktop's own opener
(`open`, `xdg-open`) only where a desktop is there to show it: over SSH, or with no display,
there is none, and the link is shown instead (never a console browser taking over the terminal).
Copying writes OSC 52, which terminals turn into a clipboard write: it works over SSH; in tmux
it needs `set -g set-clipboard on` (or `allow-passthrough on`, for the wrapped copy also sent).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from typing import Any

from .text import safe_text


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


def copy(app: Any, text: str) -> None:
    """Put `text` on the clipboard through the terminal (OSC 52); inside tmux, also wrapped for passthrough."""
    app.copy_to_clipboard(text)  # OSC 52, and the app's own clipboard
    driver = getattr(app, "_driver", None)
    if os.environ.get("TMUX") and driver is not None:
        driver.write("\x1bPtmux;" + osc52(text).replace("\x1b", "\x1b\x1b") + "\x1b\\")


def shown(text: str, limit: int = 60) -> str:
    """A link or id as a notice shows it (made safe, and shortened in the middle when long)."""
    text = safe_text(text)
    return text if len(text) <= limit else text[: limit // 2 - 1] + "…" + text[-(limit // 2) :]
