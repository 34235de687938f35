"""The wheel is `dealboard` with the `dealboard` command, ships the Textual CSS, and an installed app finds
it inside the package."""

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
    [wheel] = tmp_path.glob("dealboard-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
    meta = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "\nName: dealboard\n" in meta, "its own name: kanban-tui on PyPI is another project"
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "dealboard = kanban_tui.cli:main" in scripts
    assert "kanban-tui =" not in scripts and "ktui" not in scripts, "clashes with neither of that project's commands"
    sheets = sorted(p.name for p in (ROOT / "styles").glob("*.tcss"))
    assert sheets, "the repo has style sheets"
    for sheet in sheets:
        assert f"kanban_tui/styles/{sheet}" in names
    assert not any(name.startswith("tests/") for name in names)

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("from kanban_tui.app import KanbanApp, styles_dir; print(styles_dir());"
            " print(KanbanApp.CSS_PATH[0].is_file())")
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(site)}, capture_output=True, text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    where, exists = shown.stdout.split()
    assert Path(where) == site / "kanban_tui" / "styles" and exists == "True"
