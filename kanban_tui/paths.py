"""Where kanban-tui keeps its files (platformdirs). Nothing is created at import."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_config_path, user_data_path, user_state_path

APP_NAME = "kanban-tui"


def config_file() -> Path:
    """The config file: $KANBAN_TUI_CONFIG, else config.toml in the user config dir."""
    if override := os.environ.get("KANBAN_TUI_CONFIG"):
        return Path(override)
    return user_config_path(APP_NAME, appauthor=False) / "config.toml"


def data_dir() -> Path:
    return user_data_path(APP_NAME, appauthor=False)


def workspace_file() -> Path:
    """The local workspace (SQLite), seeded with the demo pipeline on first run."""
    return data_dir() / "workspace.sqlite3"


def journal_file() -> Path:
    """The move journal: moves not yet confirmed by the CRM (see store/journal.py)."""
    return user_state_path(APP_NAME, appauthor=False) / "journal.sqlite3"


def board_copy_file() -> Path:
    """The last known board of each CRM pipeline, for starting offline (see store/board_copy.py)."""
    return user_state_path(APP_NAME, appauthor=False) / "last-board.sqlite3"


def log_file() -> Path:
    """Requests and errors, rotated (never headers or keys)."""
    return user_state_path(APP_NAME, appauthor=False) / "kanban-tui.log"
