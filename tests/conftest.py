"""Hermetic fixtures: no test sees the developer's config, data or network."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings

from kanban_tui import factory
from kanban_tui.app import KanbanApp
from kanban_tui.backends.base import Backend
from kanban_tui.backends.local import LocalBackend, create_workspace
from kanban_tui.config import Settings

from .fakes.bottlecrm import FakeBottleCrm
from .fakes.close import FakeClose
from .fakes.clustr import FakeClustr
from .fakes.telecrm import FakeTeleCrm
from .helpers import MakeApp

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
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")  # never the real keyring
    return home


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A local workspace seeded with the 64-card demo pipeline."""
    path = tmp_path / "workspace.sqlite3"
    create_workspace(path, demo_size=64)
    return path


@pytest.fixture
def big_workspace(tmp_path: Path) -> Path:
    """A local workspace of 2,000 demo cards: columns taller than the screen (they scroll)."""
    path = tmp_path / "big.sqlite3"
    create_workspace(path, demo_size=2000)
    return path


@pytest.fixture
def backend(workspace: Path) -> LocalBackend:
    return LocalBackend(workspace)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """Where the `make_app` fixture's apps keep their stores (journal, board prefs, seen, board copy)."""
    return tmp_path / "state"


@pytest.fixture
def make_app(state_dir: Path) -> MakeApp:
    """Builds the app as `dealboard` does (`factory.make_app`): with a move journal, board prefs and what the user
    saw, in `state_dir` (each app a test builds shares them, as a second start would); a board copy when asked
    (`board_copy=True`) or when the settings name a CRM that keeps one. Unless told (`poll_interval=`, or the
    settings'), it polls once an hour: a test's poll happens when the test asks for it."""

    def make(backend: Backend, settings: Settings | None = None, **options: object) -> KanbanApp:
        options.setdefault("state_dir", state_dir)
        if options.get("poll_interval") is None and (settings is None or settings.poll_interval is None):
            options["poll_interval"] = 3600
        return factory.make_app(backend, settings, **options)  # type: ignore[arg-type]

    return make


# -- the fake CRMs (tests/fakes/), each with its test key; `@pytest.mark.fake_seed(...)` (on a test, or a module's
# `pytestmark`) gives its seed() other arguments than the defaults here


def _seed(request: pytest.FixtureRequest, **default: object) -> dict[str, object]:
    mark = request.node.get_closest_marker("fake_seed")
    return dict(mark.kwargs) if mark is not None else default


BOTTLECRM_NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
"""The fake BottleCRM's clock: it stands still."""


@pytest.fixture
def fake_close(request: pytest.FixtureRequest) -> FakeClose:
    """The fake Close (key `test-close-key`): a Sales pipeline and another (default: 120 and 40 deals)."""
    server = FakeClose()
    server.seed(**_seed(request, sales=120, other=40))  # type: ignore[arg-type]
    return server


@pytest.fixture
def fake_bottlecrm(request: pytest.FixtureRequest) -> FakeBottleCrm:
    """The fake BottleCRM, its clock at `BOTTLECRM_NOW` (default: 40 deals)."""
    server = FakeBottleCrm(clock=lambda: BOTTLECRM_NOW)
    server.seed(**_seed(request, size=40))  # type: ignore[arg-type]
    return server


@pytest.fixture
def fake_clustr(request: pytest.FixtureRequest) -> FakeClustr:
    """The fake Clustr (key `test-clustr-key`; default: 250 deals)."""
    server = FakeClustr()
    server.seed(**_seed(request, size=250))  # type: ignore[arg-type]
    return server


@pytest.fixture
def fake_telecrm(request: pytest.FixtureRequest) -> FakeTeleCrm:
    """The fake TeleCRM (token `test-telecrm-token`, enterprise `ent_demo`; default: 230 leads)."""
    server = FakeTeleCrm()
    server.seed(**_seed(request, size=230))  # type: ignore[arg-type]
    return server
