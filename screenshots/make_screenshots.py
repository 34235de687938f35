"""Regenerate the README's screenshots: `python screenshots/make_screenshots.py`.

Runs the real app headless on a fresh demo workspace (in a temp dir, never your
data) and saves SVGs next to this script. Open them before committing.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # for tests.fakes

from kanban_tui.app import KanbanApp  # noqa: E402
from kanban_tui.backends.close import CloseBackend  # noqa: E402
from kanban_tui.backends.local import LocalBackend, create_workspace  # noqa: E402
from kanban_tui.config import Settings  # noqa: E402
from kanban_tui.factory import make_app  # noqa: E402
from tests.fakes.close import FakeClose  # noqa: E402

SHOTS = [
    # (file, size, keys pressed after the board has loaded)
    ("board.svg", (120, 36), ["l", "j", "shift+right"]),
    ("picker.svg", (100, 30), ["m", "w"]),
    # the first owner listed (Lee Chen), then a search: the README's filtered board
    ("filtered.svg", (120, 36), ["f", "down", "enter", "slash", "i", "n", "enter"]),
]


CLOSE_SHOTS = [
    # the Sales pipeline of the fake Close server, asking before a move into Won
    ("close.svg", (120, 36), ["l", "l", "l", "l", "shift+right"]),
]


def local_app(name: str, workdir: Path) -> KanbanApp:
    path = workdir / f"{name}.sqlite3"
    create_workspace(path, demo_size=64)
    # the real app's stores, in the temp dir; the default theme (not the one you chose)
    return make_app(LocalBackend(path), state_dir=workdir / f"{name}-state", poll_interval=3600, app_prefs=False)


def close_app(workdir: Path) -> KanbanApp:
    fake = FakeClose("test-close-key")
    fake.seed(sales=300, other=150)
    backend = CloseBackend(
        "test-close-key", base_url="https://api.close.com/api/v1/", transport=httpx.MockTransport(fake.handler)
    )
    return make_app(backend, Settings(poll_interval=3600, pipeline="Sales"), state_dir=workdir / "close-state",
                    board_copy=False, app_prefs=False)


async def shoot(name: str, size: tuple[int, int], keys: list[str], app: KanbanApp) -> None:
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        if name == "filtered.svg":
            app.clear_notifications()  # the picture is of the board, not of the toast saying it filtered
            await pilot.pause()
        app.save_screenshot(filename=name, path=str(HERE))
    print(f"wrote {HERE / name}")


async def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        for name, size, keys in SHOTS:
            await shoot(name, size, keys, local_app(name, Path(workdir)))
        for name, size, keys in CLOSE_SHOTS:
            await shoot(name, size, keys, close_app(Path(workdir)))


if __name__ == "__main__":
    asyncio.run(main())
