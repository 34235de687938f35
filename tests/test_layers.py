"""Imports point one way: UI -> sync -> backends -> models. Headless layers never load Textual."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kanban_tui.backends.registry import BACKENDS

PACKAGE = Path(__file__).parent.parent / "kanban_tui"
# every registered backend's module, and the other layers below the UI
HEADLESS = [spec.module for spec in BACKENDS.values()] + [
    "kanban_tui.backends.registry", "kanban_tui.backends.rescan", "kanban_tui.backends.http",
    "kanban_tui.models", "kanban_tui.money", "kanban_tui.text", "kanban_tui.sync", "kanban_tui.config",
    "kanban_tui.store.journal", "kanban_tui.store.board_copy",
    "kanban_tui.report",  # `dealboard summary` / `changes`: no Textual for a cron job
    "kanban_tui.act", "kanban_tui.fields",  # `dealboard set / note / move`
]
# each layer (a module or a package) and what it may not import
FORBIDDEN = {
    "models": ("textual", "kanban_tui.backends", "kanban_tui.sync", "kanban_tui.screens", "kanban_tui.widgets", "httpx",
               "sqlite3"),
    "text": ("textual", "kanban_tui.backends", "kanban_tui.sync", "kanban_tui.screens", "kanban_tui.widgets", "httpx",
             "sqlite3"),
    "money": ("textual", "kanban_tui.backends", "kanban_tui.sync", "kanban_tui.screens", "kanban_tui.widgets"),
    "backends": ("textual", "kanban_tui.sync", "kanban_tui.screens", "kanban_tui.widgets", "kanban_tui.app",
                 "kanban_tui.config", "kanban_tui.cli"),
    "store": ("textual", "kanban_tui.sync", "kanban_tui.screens", "kanban_tui.widgets", "kanban_tui.app",
              "kanban_tui.config", "kanban_tui.cli", "kanban_tui.backends"),
    "sync": ("textual", "kanban_tui.screens", "kanban_tui.widgets", "kanban_tui.app"),
    "report": ("textual", "kanban_tui.screens", "kanban_tui.widgets", "kanban_tui.app", "kanban_tui.cli",
               "kanban_tui.config"),
    "act": ("textual", "kanban_tui.screens", "kanban_tui.widgets", "kanban_tui.app", "kanban_tui.cli",
            "kanban_tui.config"),
    "fields": ("textual", "kanban_tui.backends", "kanban_tui.sync", "kanban_tui.screens", "kanban_tui.widgets",
               "httpx", "sqlite3"),
}


def imported_modules(path: Path) -> set[str]:
    """Absolute names of everything a module imports (relative imports resolved)."""
    package = "kanban_tui" + "".join("." + p for p in path.relative_to(PACKAGE).parent.parts)
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_one_way(layer: str) -> None:
    target = PACKAGE / layer
    # a module layer includes the modules split from it (`report.py`: `report_summary.py`, `report_changes.py`, ...)
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py"),
                                                                   *sorted(PACKAGE.glob(f"{layer}_*.py"))]
    assert files
    for file in files:
        for name in imported_modules(file):
            for banned in FORBIDDEN[layer]:
                assert not (name == banned or name.startswith(banned + ".")), f"{file.name} imports {name}"


def test_headless_layers_do_not_load_textual() -> None:
    code = "import sys; " + "; ".join(f"import {m}" for m in HEADLESS) + "; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def _plugins_after_start(env: dict[str, str]) -> str:
    code = ("import kanban_tui.cli, kanban_tui.models as m; m.Status(id='s', label='S', position=0);"
            " import pydantic.plugin._loader as loader; print(loader._plugins)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_start_does_not_look_for_pydantic_plugins() -> None:
    """Issue 25: pydantic scans every installed distribution's entry points for plugins the first time a model is
    built (~15 ms of each start); dealboard uses none, so the package sets PYDANTIC_DISABLE_PLUGINS by default."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    assert _plugins_after_start(env) == "None", "the entry points were scanned"
    mine = {**env, "PYDANTIC_DISABLE_PLUGINS": "some-plugin"}
    assert _plugins_after_start(mine) == "{}", "the user's own setting wins"
