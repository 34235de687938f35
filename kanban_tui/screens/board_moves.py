"""The board's moves: making them, sending them, and what the CRM's answer does to the card.

Made with keys (`shift+arrows`, `<`/`>`, `m` for the picker, `u` to undo), asking first
where the move ends a deal (won/lost, with a lost reason where the CRM has them); sent one
at a time in a worker through the engine (journal first); then confirmed, kept for later
(the CRM unreachable: shown as queued), refused (the card goes back and the message says
why), or stopped by a newer change in the CRM (the user is asked, once per card).

A mixin of `BoardScreen`: it works on the screen's engine, columns and focus, and the
screen routes its `MoveSettled` message here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from ..backends.base import Backend
from ..backends.errors import BackendError, unexpected_error
from ..models import Opportunity, StatusKind
from ..sync import PendingMove, Poller, SyncEngine
from ..widgets.column import KIND_GLYPH
from .confirm import ConfirmMove
from .conflict import ResolveConflict
from .picker import LostReasonPicker, StatusPicker

if TYPE_CHECKING:
    from .board import BoardScreen


class BoardMoves:
    """Moves on the board. The screen provides the state below and its focus and drawing
    (`focused_id`, `focus_card`, `redraw`, `update_status`) and Textual's `app`, `notify`,
    `post_message`, `log` and `run_worker`."""

    engine: SyncEngine | None
    backend: Backend
    poller: Poller
    active: int
    confirm_final_moves: bool
    history: list[tuple[str, str, str]]
    conflicts: dict[str, list[PendingMove]]

    def action_move_card(self, delta: int) -> None:
        """Move the focused card to the next / previous status that accepts cards."""
        opportunity_id = self.focused_id()
        if self.engine is None or opportunity_id is None:
            return
        statuses = self.engine.pipeline.statuses
        index = self.active + delta
        while 0 <= index < len(statuses) and not statuses[index].can_move_to:
            index += delta
        if 0 <= index < len(statuses):
            self.move(opportunity_id, statuses[index].id)
        else:
            self.notify("No status that way.", timeout=2)

    def action_pick_status(self) -> None:
        opportunity_id = self.focused_id()
        if self.engine is None or opportunity_id is None:
            return
        current = self.engine.board.shown_status(opportunity_id)
        choices = [s for s in self.engine.pipeline.statuses if s.can_move_to and s.id != current]
        name = self.engine.board.opportunity(opportunity_id).name

        def picked(status_id: str | None) -> None:
            if status_id is not None and self.engine is not None and opportunity_id in self.engine.board:
                self.move(opportunity_id, status_id)

        self.app.push_screen(StatusPicker(name, choices), picked)

    def move(self, opportunity_id: str, status_id: str) -> None:
        """Move a card (asking first if the move ends the deal and the settings say so)."""
        assert self.engine is not None
        board = self.engine.board
        if board.shown_status(opportunity_id) == status_id:
            return
        status = board.status(status_id)
        card = board.opportunity(opportunity_id)
        if card.read_only:
            self.notify(f"{card.name} cannot be moved from here: {card.read_only}.", severity="warning", timeout=8)
            return
        engine = self.engine
        if status.kind is StatusKind.LOST and engine.pipeline.lost_reasons:
            # a lost reason is asked for, and is the confirmation
            def reason_picked(reason: str | None) -> None:
                if reason is not None and self.engine is engine and opportunity_id in engine.board:
                    self.move_now(opportunity_id, status_id, lost_reason=reason)

            reasons = engine.pipeline.lost_reasons
            self.app.push_screen(LostReasonPicker(card.name, status.label, reasons), reason_picked)
            return
        if not (self.confirm_final_moves and status.kind.is_final):
            self.move_now(opportunity_id, status_id)
            return

        def confirmed(yes: bool | None) -> None:
            if yes and self.engine is engine and opportunity_id in engine.board:
                self.move_now(opportunity_id, status_id)

        label = f"{KIND_GLYPH[status.kind]}{status.label}"
        outcome = "won" if status.kind is StatusKind.WON else "lost"
        detail = f"This marks the deal {outcome} in {self.backend.name}"
        if status.kind is StatusKind.WON and board.opportunity(opportunity_id).date_won is None:
            detail += f", and {self.backend.name} records today as its won date"
        self.app.push_screen(ConfirmMove(board.opportunity(opportunity_id).name, label, detail + "."), confirmed)

    def move_now(
        self, opportunity_id: str, status_id: str, *, undoing: bool = False, lost_reason: str | None = None
    ) -> None:
        """Move a card now, send the move in a worker, and keep the focus on the card."""
        assert self.engine is not None
        from_status = self.engine.board.shown_status(opportunity_id)
        if not undoing:
            self.history.append((opportunity_id, from_status, status_id))
        move, touched = self.engine.board.begin_move(opportunity_id, status_id, lost_reason=lost_reason)
        self.redraw(touched, keep=opportunity_id)
        self.focus_card(opportunity_id)
        self.send_move(self.engine, move)
        self.update_status()

    def action_undo(self) -> None:
        """Undo the session's last move: move the card back where it was (repeatable)."""
        if self.engine is None:
            return
        board = self.engine.board
        while self.history:
            opportunity_id, from_status, to_status = self.history.pop()
            if opportunity_id not in board:
                self.notify("The card of the last move is no longer on the board; undoing the one before.", timeout=4)
                continue
            name = board.opportunity(opportunity_id).name
            if board.shown_status(opportunity_id) != to_status:
                self.notify(
                    f"Not undone: {name} is no longer in {board.status(to_status).label} (it moved since).",
                    severity="warning",
                    timeout=6,
                )
                return
            self.move_now(opportunity_id, from_status, undoing=True)
            self.notify(f"Undone: {name} back to {board.status(from_status).label}", timeout=3)
            return
        self.notify("Nothing to undo.", timeout=2)

    @work(group="moves", exit_on_error=False)
    async def send_move(self, engine: SyncEngine, move: PendingMove) -> None:
        try:
            result: Opportunity | BackendError = await engine.send_move(move)
        except BackendError as exc:
            result = exc
        except Exception as exc:  # noqa: BLE001
            self.log.error(exc)
            result = unexpected_error(exc)
        self.post_message(self.MoveSettled(engine, move, result))

    def resend_held(self) -> None:
        """The CRM answers again: send the moves that waited for it, in order."""
        assert self.engine is not None
        held = self.engine.take_held()
        if held:
            self.redraw({self.engine.board.shown_status(m.opportunity_id) for m in held})
            for move in held:
                self.send_move(self.engine, move)

    def move_settled(self, message: BoardScreen.MoveSettled) -> None:
        """The CRM answered a move: confirmed, kept for later, refused, or a conflict to ask about."""
        if message.engine is not self.engine:
            return
        assert self.engine is not None
        keep = self.focused_id()
        was_offline = self.engine.offline
        outcome = self.engine.settle_move(message.move, message.result)
        if outcome.conflict:
            # one question per card, however many of its moves wait: asked at the first
            waiting = self.conflicts.setdefault(message.move.opportunity_id, [])
            waiting.append(message.move)
            if len(waiting) == 1:
                self.ask_about_conflict(message.engine, message.move.opportunity_id)
            self.update_status()
            return
        if outcome.kept:
            self.redraw({self.engine.board.shown_status(message.move.opportunity_id)}, keep=keep)
            self.poller.failed(getattr(outcome.error, "retry_after", None))
            if not self.engine.offline:
                self.notify(
                    f"{outcome.error}. Your moves are kept and sent once {self.backend.name} accepts the key"
                    " (they survive a restart)",
                    title="Moves kept",
                    severity="error",
                    timeout=15,
                )
            elif not was_offline:
                self.notify(
                    f"{outcome.error.summary if outcome.error else self.backend.name}: moves are kept and sent when"
                    f" {self.backend.name} answers again (they survive a restart)",
                    title="Offline",
                    severity="warning",
                    timeout=10,
                )
            self.update_status()
            return
        self.redraw(outcome.changed, keep=keep)
        if outcome.error is not None and not outcome.gone and keep == message.move.opportunity_id:
            self.focus_card(keep)  # the user is still on that card: follow it back
        if outcome.error is not None:
            opportunity_name = self._name_of(message.move.opportunity_id)
            what = "was removed from the board" if outcome.gone else "went back"
            self.notify(
                f"{opportunity_name} {what}: {outcome.error}",
                title="Move not saved",
                severity="error",
                timeout=10,
            )
        self.update_status()

    def ask_about_conflict(self, engine: SyncEngine, opportunity_id: str) -> None:
        """Show both versions; send the card's moves (keep mine) or drop them (take theirs).

        A card with several moves waiting (made offline, one after another) gets one
        question about where the user put it last; the answer applies to all of them, so
        they still reach the CRM in the order they were made, or not at all.
        """
        board = engine.board
        server = board.opportunity(opportunity_id)
        moves = board.pending_moves(opportunity_id)
        theirs_status = board.status(server.status_id).label if engine.pipeline.status(server.status_id) else "?"
        theirs = f"{theirs_status} (changed {server.updated.astimezone():%Y-%m-%d %H:%M})"
        path = " → ".join([board.status(moves[0].from_status).label, *(board.status(m.to_status).label for m in moves)])
        made = f"{len(moves)} moves, last" if len(moves) > 1 else "made"
        mine = f"{path} ({made} {moves[-1].made_at.astimezone():%Y-%m-%d %H:%M})"

        def decided(keep: bool | None) -> None:
            conflicting = sorted(self.conflicts.pop(opportunity_id, []), key=lambda m: m.seq)
            if self.engine is not engine or opportunity_id not in board:
                return
            if keep:
                for move in board.pending_moves(opportunity_id):
                    engine.keep_mine(move)
                for move in conflicting:
                    self.send_move(engine, move)
            else:
                for move in board.pending_moves(opportunity_id):
                    self.redraw(board.fail_move(move))
                    self.drop_move(engine, move)
            self.update_status()

        self.app.push_screen(ResolveConflict(server.name, self.backend.name, theirs, mine), decided)

    @work(group="moves", exit_on_error=False)
    async def drop_move(self, engine: SyncEngine, move: PendingMove) -> None:
        await engine.take_theirs(move)

    def _name_of(self, opportunity_id: str) -> str:
        assert self.engine is not None
        try:
            return self.engine.board.opportunity(opportunity_id).name
        except KeyError:
            return "The card"
