"""The wheel ships the Textual CSS, and an installed app finds it inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_wheel_contains_the_styles_and_the_app_uses_them(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("kanban_tui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    sheets = sorted(p.name for p in (ROOT / "styles").glob("*.tcss"))
    assert sheets, "the repo has style sheets"
    for sheet in sheets:
        assert f"kanban_tui/styles/{sheet}" in names
    assert not any(name.startswith("tests/") for name in names)

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "from kanban_tui.app import KanbanApp, styles_dir; print(styles_dir()); print(KanbanApp.CSS_PATH[0].is_file())"
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(site)}, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    where, exists = shown.stdout.split()
    assert Path(where) == site / "kanban_tui" / "styles" and exists == "True"
