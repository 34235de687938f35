"""Where dealboard keeps its files (platformdirs). Nothing is created at import.

Directories dealboard creates are private (0700, `private_dir`); the files in them are
created 0600 by their modules (the log by `cli.start_log`).
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_config_path, user_data_path, user_state_path

APP_NAME = "kanban-tui"
"""The directories' name: kept from before the command was named `dealboard` (issue 17), so that the
journals, saved boards and workspaces people have are found where they are."""


def config_file() -> Path:
    """The config file: $KANBAN_TUI_CONFIG, else config.toml in the user config dir."""
    if override := os.environ.get("KANBAN_TUI_CONFIG"):
        return Path(override)
    return user_config_path(APP_NAME, appauthor=False) / "config.toml"


def private_dir(path: Path, *, tighten: bool = False) -> Path:
    """`path` as a directory, each part created here made 0700 whatever the umask.

    A directory that already exists is left as it is, unless `tighten` (for kanban-tui's own
    dirs, e.g. a state dir made 0755 by an older version): then it is made 0700. OSError when
    it cannot be made.
    """
    path = Path(path)
    missing = []
    for part in (path, *path.parents):
        if part.is_dir():
            break
        missing.append(part)
    for part in reversed(missing):
        try:
            part.mkdir(mode=0o700)
        except FileExistsError:
            if not part.is_dir():
                raise
            continue  # made meanwhile by someone else: theirs
        os.chmod(part, 0o700)
    if tighten and not missing and path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def data_dir() -> Path:
    """The local workspace's dir (create it with `private_dir`)."""
    return user_data_path(APP_NAME, appauthor=False)


def state_dir() -> Path:
    """The journal, the board copy and the log (create it with `private_dir`)."""
    return user_state_path(APP_NAME, appauthor=False)


def workspace_file() -> Path:
    """The local workspace (SQLite), seeded with the demo pipeline on first run."""
    return data_dir() / "workspace.sqlite3"


def journal_file() -> Path:
    """The move journal: moves not yet confirmed by the CRM (see store/journal.py)."""
    return state_dir() / "journal.sqlite3"


def board_copy_file() -> Path:
    """The last known board of each CRM pipeline, for starting offline (see store/board_copy.py)."""
    return state_dir() / "last-board.sqlite3"


def log_file() -> Path:
    """Requests and errors, rotated (never headers or keys)."""
    return state_dir() / "kanban-tui.log"


def prefs_file() -> Path:
    """How each board was looked at (its order, ...), per account and pipeline (see store/prefs.py)."""
    return state_dir() / "board-prefs.json"


def cache_dir() -> Path:
    """What can be made again (the `--demo` workspaces, `backends/demo_cache.py`): create it with `private_dir`."""
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME, appauthor=False)
