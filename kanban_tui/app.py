"""The Textual app: wires a backend into the board screen. Kept thin on purpose."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.driver import Driver
from textual.screen import Screen

from .backends.base import Backend
from .config import Settings, table
from .keys import APP_BINDINGS, BOARD_BINDINGS, key_label
from .screens.board import BoardScreen
from .screens.help import HelpScreen
from .store.board_copy import BoardCopy
from .store.journal import MoveJournal
from .store.prefs import BoardPrefs
from .store.seen import SeenStore
from .sync import BoardSession
from .text import safe_text


def styles_dir() -> Path:
    """The Textual CSS: inside the package when installed from a wheel, at the repo top in a checkout."""
    packaged = Path(__file__).parent / "styles"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "styles"


DEFAULT_POLL_INTERVAL = 15.0


class KanbanApp(App[None]):
    """A kanban board of CRM opportunities."""

    TITLE = "dealboard"
    CSS_PATH = [styles_dir() / "app.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [*APP_BINDINGS]
    ENABLE_COMMAND_PALETTE = True

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for this terminal, writing fewer bytes for the same screen (`wire.compact`)."""
        from .wire import compacting

        return compacting(super().get_driver_class())

    def __init__(
        self,
        backend: Backend,
        *,
        settings: Settings | None = None,
        poll_interval: float | None = None,
        pipeline: str | None = None,
        journal: MoveJournal | None = None,
        board_copy: BoardCopy | None = None,
        warnings: list[str] | None = None,
        prefs: BoardPrefs | None = None,
        seen: SeenStore | None = None,
        keymap: dict[str, str] | None = None,
        app_prefs: BoardPrefs | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.journal = journal
        self.board_copy = board_copy
        self.prefs = prefs
        self.seen = seen
        self.settings = settings = settings or Settings()
        self.poll_interval = poll_interval or settings.poll_interval or backend.poll_interval or DEFAULT_POLL_INTERVAL
        self.pipeline = pipeline or settings.pipeline
        self.warnings = list(warnings or [])
        """Start-up warnings (e.g. a readable config holding a key), shown on the board once mounted."""
        self.keys = dict(keymap or {})
        """The `[keys]` remapping (checked by `keys.check_keymap`): binding id -> keys."""
        self.app_prefs = app_prefs
        """Where the app's own preferences (its theme) are kept: the user's, even for a throwaway demo."""
        self.session = BoardSession(
            backend,
            poll_interval=self.poll_interval,
            pipeline=self.pipeline,
            colors=settings.colors,
            journal=journal,
            board_copy=board_copy,
            prefs=prefs,
            seen=seen,
            me=getattr(table(settings), "me", None),
        )
        """The board's session (the headless sync core): it exists before the app runs."""

    def on_mount(self) -> None:
        if self.keys:
            self.set_keymap(self.keys)
        theme = self.app_prefs.load_app().get("theme") if self.app_prefs is not None else None  # a tiny file
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self.watch(self, "theme", self.keep_theme, init=False)
        self.board = BoardScreen(self.session, confirm_final_moves=self.settings.confirm_final_moves)
        self.push_screen(self.board)
        for warning in self.warnings:
            self.notify(safe_text(warning), severity="warning", timeout=15, markup=False)  # may name a config key
        self._quit_armed = False

    async def action_quit(self) -> None:
        """Quit; if moves are still being saved, say so and quit on a second q."""
        pending = self.session.unsent()
        if pending and not self._quit_armed:
            self._quit_armed = True
            moves = f"{pending} move{'s' if pending > 1 else ''}"
            if self.journal is not None:
                message = (f"{moves} not yet confirmed: kept, and sent when you next open the board"
                           " - press q again to quit")
            else:
                message = f"{moves} still saving - press q again to quit anyway"
            self.notify(message, severity="warning", timeout=5)
            return
        self.exit()

    async def on_unmount(self) -> None:
        if (board := getattr(self, "board", None)) is not None:  # the app was mounted: the board ran the session
            session = self.session
            session.look(board.looking_at)  # the card the user put the focus on has been seen (not one
            # the focus merely started on: a change made while the app was closed stays marked)
            for problem in (session.save_copy_now(), session.save_seen_now()):
                if problem:
                    self.log.warning(problem)
            session.close()
        await self.backend.aclose()

    def keep_theme(self, theme: str) -> None:
        """A theme chosen in the command palette is remembered (in the preferences file)."""
        if self.app_prefs is not None:
            self.run_worker(partial(self.app_prefs.save_app, {"theme": theme}), thread=True, group="prefs",
                            exit_on_error=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p): every board action with its key, then Textual's own (themes, ...)."""
        if isinstance(screen, BoardScreen):
            for binding in BOARD_BINDINGS:
                if binding.system:
                    continue
                yield SystemCommand(binding.description, f"key: {key_label(binding, self.keys)}",
                                    partial(self.call_later, screen.run_action, binding.action))
        yield SystemCommand("Help", "every key and what the board's marks mean · key: ?",
                            self.action_help)
        for command in super().get_system_commands(screen):
            if command.title != "Keys":  # Textual's key panel: our help (?) says it, from the same list
                yield command

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
