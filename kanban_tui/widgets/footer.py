"""The board's footer: Textual's, recomposed only when what it shows changes.

Textual's `Footer` removes and mounts every key again whenever the screen's bindings are said to have changed (a
focus change, `refresh_bindings`), even when the keys it shows are the same: at start that happened four times
(44 keys made and styled for the 11 shown at 120 columns: the screen mounted, the footer fitted to the width, the
first focus), each time with the footer's line painted again. Now once.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer


class KeyFooter(Footer):
    """A `Footer` that keeps its keys when a recompose would make the same ones."""

    _drawn: tuple[Any, ...] | None = None

    def shows(self) -> tuple[Any, ...]:
        """Everything `Footer.compose` reads: the screen's active bindings (with the keys' display and whether
        each is enabled), the command palette's, and the footer's own settings."""
        app = self.app
        return (
            self.compact,
            self.show_command_palette,
            self.combine_groups,
            app.ENABLE_COMMAND_PALETTE,
            self._bindings_ready,
            tuple(
                (key, binding.key, app.get_key_display(binding), binding.description, binding.action, binding.show,
                 binding.group, enabled, tooltip, binding.tooltip)
                for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
            ),
        )

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        shows = self.shows()
        if shows == self._drawn and self.children:
            return
        self._drawn = shows
        await super().recompose()
