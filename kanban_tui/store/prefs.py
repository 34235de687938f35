"""Per-board preferences: how each pipeline of each CRM account is looked at (its order, ...).

A small JSON file in the user state dir (0600), keyed by backend identity (never a secret) and
pipeline id. A preference is a convenience: a damaged or unwritable file is ignored (and the
next save writes it anew), never an error. Plain, synchronous I/O: callers run it in a worker.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import move_aside

APP_KEY = "*app"
"""Where the app's own preferences sit in the file (no backend identity looks like it)."""


class BoardPrefs:
    """Preferences of the boards of one backend identity."""

    def __init__(self, path: Path, identity: str) -> None:
        self.path = Path(path)
        self.identity = identity

    def _all(self, *, keep_damaged: bool = False) -> dict[str, Any]:
        """What the file holds ({} when nothing, or it cannot be read); `keep_damaged`: before it is written
        anew, a file that is not JSON is moved aside (kept, as `board-prefs.json.damaged-<time>`)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except OSError:
            return {}
        except ValueError:
            if keep_damaged:
                try:
                    move_aside(self.path)
                except OSError:
                    pass  # the write says what is wrong with the folder
            return {}
        return data if isinstance(data, dict) else {}

    def load(self, pipeline_id: str) -> dict[str, Any]:
        """This board's preferences ({} when none were kept, or the file cannot be read)."""
        mine = self._all().get(self.identity)
        board = mine.get(pipeline_id) if isinstance(mine, dict) else None
        return dict(board) if isinstance(board, dict) else {}

    def load_app(self) -> dict[str, Any]:
        """The preferences of the app as a whole (its theme), whatever the board."""
        app = self._all().get(APP_KEY)
        return dict(app) if isinstance(app, dict) else {}

    def save_app(self, prefs: dict[str, Any]) -> str | None:
        data = self._all(keep_damaged=True)
        app = data.get(APP_KEY)
        data[APP_KEY] = {**(app if isinstance(app, dict) else {}), **prefs}
        return self._write(data)

    def save(self, pipeline_id: str, prefs: dict[str, Any]) -> str | None:
        """Keep this board's preferences; None, or why they could not be kept."""
        data = self._all(keep_damaged=True)
        mine = data.get(self.identity)
        if not isinstance(mine, dict):
            mine = data[self.identity] = {}
        board = mine.get(pipeline_id)  # one damaged board (not a table) is written anew, the others kept
        mine[pipeline_id] = {**(board if isinstance(board, dict) else {}), **prefs}
        return self._write(data)

    def _write(self, data: dict[str, Any]) -> str | None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(temporary, self.path)
        except OSError as exc:
            return f"could not keep the board's preferences in {self.path}: {exc}"
        return None
