"""Hermetic fixtures: no test sees the developer's config, data or network."""

from __future__ import annotations

from pathlib import Path

import pytest

from kanban_tui.backends.local import LocalBackend, create_workspace


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point platformdirs (XDG) and the config override at a fresh temp dir."""
    home = tmp_path_factory.mktemp("home")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.delenv("KANBAN_TUI_CONFIG", raising=False)
    return home


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A local workspace seeded with the 64-card demo pipeline."""
    path = tmp_path / "workspace.sqlite3"
    create_workspace(path, demo_size=64)
    return path


@pytest.fixture
def backend(workspace: Path) -> LocalBackend:
    return LocalBackend(workspace)
