"""Small helpers shared by the UI tests."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual.app import App
from textual.notifications import Notification
from textual.pilot import Pilot

from kanban_tui.backends.base import Backend
from kanban_tui.backends.errors import BackendError
from kanban_tui.models import Changes, Opportunity, Page, Pipeline, Status
from kanban_tui.screens.board import BoardScreen

if TYPE_CHECKING:
    from kanban_tui.app import KanbanApp
    from kanban_tui.config import Settings


class MakeApp(Protocol):
    """The `make_app` fixture (tests/conftest.py): `factory.make_app` with the test's state dir."""

    def __call__(self, backend: Backend, settings: Settings | None = None, **options: object) -> KanbanApp: ...


def board_screen(app: App[Any]) -> BoardScreen:
    """The board screen, under whatever dialog is on top of it."""
    return next(s for s in app.screen_stack if isinstance(s, BoardScreen))


def status_in(pipeline: Pipeline, status_id: str) -> Status:
    """The pipeline's status with this id (a test that expects one fails here if there is none)."""
    status = pipeline.status(status_id)
    assert status is not None, f"{pipeline.name} has no status {status_id}"
    return status


def board_on_top(app: App[Any]) -> BoardScreen:
    """The screen on top, which the test expects to be the board (no dialog over it)."""
    screen = app.screen
    assert isinstance(screen, BoardScreen), f"{screen!r} is on top, not the board"
    return screen


def focused_card(screen: BoardScreen) -> str:
    """The id of the card that has the focus (a test that expects one fails here if none has it)."""
    card = screen.focused_id()
    assert card is not None, "no card has the focus"
    return card


def screen_text(app: App[Any]) -> str:
    """What the terminal shows, as plain text lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def notifications(app: App[Any]) -> list[Notification]:
    """The notifications on screen now (message, title, severity, timeout), oldest first. Textual offers no
    public list of them: this is the one place a test reads its private one."""
    return list(app._notifications)


def notices(app: App[Any]) -> list[str]:
    """The messages of the notifications on screen now, oldest first."""
    return [n.message for n in notifications(app)]


async def settle(pilot: Pilot[Any]) -> None:
    """Let workers finish and their messages be handled."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


class RefusingBackend(Backend):
    """Wraps a backend; moves fail with `error` while `refuse` is set."""

    def __init__(self, inner: Backend, error: BackendError) -> None:
        self.inner = inner
        self.error = error
        self.refuse = True
        self.name = inner.name
        self.moves: list[tuple[str, str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        """Clear it to hold moves in flight until it is set again."""

    async def list_pipelines(self) -> list[Pipeline]:
        return await self.inner.list_pipelines()

    def load_opportunities(self, pipeline: Pipeline) -> AsyncIterator[Page]:
        return self.inner.load_opportunities(pipeline)

    async def changes_since(self, pipeline: Pipeline, cursor: str | None) -> Changes:
        return await self.inner.changes_since(pipeline, cursor)

    async def move(self, opportunity: Opportunity, status: Status, *, lost_reason: str | None = None) -> Opportunity:
        self.moves.append((opportunity.id, status.id))
        await self.gate.wait()
        if self.refuse:
            raise self.error
        return await self.inner.move(opportunity, status, lost_reason=lost_reason)


@contextmanager
def other_process(path: Path) -> Iterator[sqlite3.Connection]:
    """A separate connection to the workspace, as a teammate's process would write it."""
    with closing(sqlite3.connect(path)) as conn, conn:
        yield conn
