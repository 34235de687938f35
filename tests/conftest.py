"""Hermetic fixtures: no test sees the developer's config, data or network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from kanban_tui.backends.local import LocalBackend, create_workspace

# The suite runs the same property examples every time (a red CI run is never luck); a wide
# random search is one command away: HYPOTHESIS_PROFILE=explore pytest tests/test_merge_properties.py
settings.register_profile("suite", max_examples=500, derandomize=True, deadline=None)
settings.register_profile("explore", max_examples=20_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


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
