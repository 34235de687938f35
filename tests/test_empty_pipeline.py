"""A pipeline with no statuses (issue 21, item 18): a CRM can have one (just made, or every stage deleted).
The board, `P`, every key and the summary say so in one clear line; nothing crashes."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from kanban_tui.backends.local import LocalBackend, create_workspace, write_pipeline
from kanban_tui.config import Settings
from kanban_tui.models import Pipeline
from kanban_tui.screens.board import BoardScreen
from kanban_tui.screens.picture import PipelinePicture

from .helpers import MakeApp, screen_text, settle
from .test_report import check_schema, run


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    """The demo workspace and a second pipeline, `Empty`, without statuses."""
    path = tmp_path / "w.sqlite3"
    create_workspace(path, demo_size=20)
    with closing(sqlite3.connect(path)) as conn, conn:
        write_pipeline(conn, Pipeline(id="pl_empty", name="Empty", statuses=()), position=1)
    return path


async def test_the_board_and_p_say_a_pipeline_has_no_statuses(empty: Path, make_app: MakeApp) -> None:
    app = make_app(LocalBackend(empty), Settings(pipeline="Empty"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Empty has no statuses" in text and "p switches pipeline" in text, text
        await pilot.press("P")
        await settle(pilot)
        assert isinstance(app.screen, PipelinePicture), "P opens, and does not crash"
        text = screen_text(app)
        assert "Empty has no statuses: no deals or values to picture" in text, text
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        for key in ("slash", "a", "enter", "escape", "f", "escape", "s", "enter", "shift+right", "m", "x", "X",
                    "c", "o", "y", "u", "1", "r", "left", "down", "pagedown", "end", "n", "question_mark", "escape"):
            await pilot.press(key)
            await settle(pilot)
        assert app.is_running and "Empty has no statuses" in screen_text(app)
        await pilot.press("p")  # to a pipeline with statuses: the line goes, the columns come
        await settle(pilot)
        await pilot.press("up", "enter")
        await settle(pilot)
        text = screen_text(app)
        assert "Sales" in text and "Lead" in text and "has no statuses" not in text, text


def test_summary_of_a_pipeline_without_statuses_says_so(empty: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["summary", "--workspace", str(empty), "--pipeline", "Empty"], capsys)
    assert code == 0 and not err
    assert "Empty has no statuses in Local workspace: no deals to count." in out, out
    assert "does not say when deals entered" not in out, "not a claim about deals there are none of"
    code, out, err = run(["summary", "--workspace", str(empty), "--pipeline", "Empty", "--json"], capsys)
    document = check_schema("summary", out)
    assert document["statuses"] == [] and document["total"]["count"] == 0
    code, out, err = run(["changes", "--since", "1d", "--workspace", str(empty), "--pipeline", "Empty"], capsys)
    assert code == 0 and not err and "0 changes." in out
