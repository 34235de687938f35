"""Regenerate the README's screenshots: `python screenshots/make_screenshots.py`.

Runs the real app headless on a fresh demo workspace (in a temp dir, never your
data) and saves SVGs next to this script. Open them before committing.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from kanban_tui.app import KanbanApp
from kanban_tui.backends.local import LocalBackend, create_workspace

HERE = Path(__file__).parent

SHOTS = [
    # (file, size, keys pressed after the board has loaded)
    ("board.svg", (120, 36), ["l", "j", "shift+right"]),
    ("picker.svg", (100, 30), ["m", "w"]),
]


async def shoot(name: str, size: tuple[int, int], keys: list[str], workdir: Path) -> None:
    path = workdir / f"{name}.sqlite3"
    create_workspace(path, demo_size=64)
    app = KanbanApp(LocalBackend(path), poll_interval=3600)
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.save_screenshot(filename=name, path=str(HERE))
    print(f"wrote {HERE / name}")


async def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        for name, size, keys in SHOTS:
            await shoot(name, size, keys, Path(workdir))


if __name__ == "__main__":
    asyncio.run(main())
