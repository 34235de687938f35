"""Several cards at once: the user's marks (`space`), a move of every marked card, and undo (of one move or of
a bulk move). A part of the session (`session.py`), as functions over it, like `opening.py`: every card moved is an
intent through the same queue (`moves.py`: journaled before it is sent, the latest wins)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..models import StatusKind
from .protocol import Update

if TYPE_CHECKING:
    from .session import BoardSession


class BulkPlan(NamedTuple):
    """Where a move of the marked cards puts each of them (`plan_marked`), before it is made: the UI asks its
    one won/lost question (and lost reason) about these targets, then hands the plan to `move_marked`."""

    targets: dict[str, str]
    """Per marked card that moves: the status it goes to (in the order the cards were marked)."""
    staying: int
    """Marked cards already where the move would put them (at the edge that way, or in the status picked)."""
    left_out: list[str]
    """One line per marked card that cannot be moved now (a read-only window: that one line for all)."""
    delta: int = 0
    """+1 / -1: each card one status right / left of its own column (`>` / `<`); 0: all to one status (`m`)."""


def undo(s: BoardSession) -> Update:
    """Undo the session's last move: a new intent, back where the card was (repeatable). The last move was
    a bulk move of the marked cards: every card of it goes back, each only if still where that move put it."""
    u = Update()
    board = s.board
    if board is None:
        return u
    while s.moves.history:
        entry = s.moves.history.pop()
        if len(entry) > 1:
            if all(card not in board for card, _, _ in entry):
                u.notice("The cards of the last move are no longer on the board; undoing the one before.",
                         timeout=4)
                continue
            done = undo_bulk(s, entry)
            done.notices[:0] = u.notices
            return done
        card, from_status, to_status = entry[0]
        if card not in board:
            u.notice("The card of the last move is no longer on the board; undoing the one before.", timeout=4)
            continue
        name = board.opportunity(card).name
        if board.shown_status(card) != to_status:
            u.notice(f"Not undone: {name} is no longer in {board.status(to_status).label} (it moved since).",
                     severity="warning", timeout=6)
            return u
        done = s.move(card, from_status, undoing=True)
        if board.shown_status(card) == from_status:
            done.notice(f"Undone: {name} back to {board.status(from_status).label}", timeout=3)
        done.notices[:0] = u.notices
        return done
    u.notice("Nothing to undo.", timeout=2)
    return u


def toggle_mark(s: BoardSession, card: str) -> Update:
    """`space`: mark the card, or unmark it (its column redrawn: the mark is a glyph on the card)."""
    u = Update()
    board = s.board
    if board is None or card not in board:
        return u
    if card in board.marked:
        del board.marked[card]
    else:
        board.marked[card] = None
    u.redraw.add(board.shown_status(card))
    return u

def clear_marks(s: BoardSession) -> Update:
    """`esc` with marks: every mark goes."""
    u = Update()
    board = s.board
    if board is not None:
        u.redraw |= {board.shown_status(card) for card in board.marked}
        board.marked.clear()
    return u

def step_status(s: BoardSession, card: str, delta: int) -> str | None:
    """The status `delta` (+1 / -1) from the card's column that takes cards, stepping over hidden columns (as
    `>` / `<` do); None at the edge."""
    board = s.board
    if board is None or card not in board:
        return None
    statuses = board.pipeline.statuses
    index = next(i for i, s in enumerate(statuses) if s.id == board.shown_status(card)) + delta
    while 0 <= index < len(statuses) and (not statuses[index].can_move_to or statuses[index].id in s.hidden):
        index += delta
    return statuses[index].id if 0 <= index < len(statuses) else None

def plan_marked(s: BoardSession, *, delta: int = 0, status_id: str | None = None) -> BulkPlan:
    """Where moving the marked cards puts each: `delta` +1 / -1, each one status right / left of its own
    column (`>` / `<`; a card at the edge stays); else all to `status_id` (`m`). Cards that cannot be moved
    now (a read-only window, a card whose question is open) are left out, one line each."""
    board = s.board
    targets: dict[str, str] = {}
    staying, left_out = 0, list[str]()
    if board is None:
        return BulkPlan(targets, staying, left_out, delta)
    for card in board.marked:
        if (why := s.can_move(card)) is not None:
            if s.read_only:
                return BulkPlan({}, 0, [why], delta)  # one line for every card
            left_out.append(why)
            continue
        target = step_status(s, card, delta) if delta else status_id
        if target is None or target == board.shown_status(card):
            staying += 1
        else:
            targets[card] = target
    return BulkPlan(targets, staying, left_out, delta)

def move_marked(s: BoardSession, plan: BulkPlan, *, lost_reason: str | None = None, focus: str | None = None) -> Update:
    """Move every card of `plan` (`plan_marked`) at once: one intent per card, each journaled before it is
    sent, as one move for undo; `lost_reason` for those going to a lost status. Said in one line (how many
    moved, stayed, were left out). `focus`: the card the user is on; if it moves, the focus follows it."""
    u = Update()
    board, pipeline = s.board, s.pipeline
    if board is None or pipeline is None:
        return u
    left_out = list(plan.left_out)
    steps: list[tuple[str, str, str]] = []
    for card, status_id in plan.targets.items():
        if card not in board or pipeline.status(status_id) is None:
            left_out.append("A marked card is no longer on the board.")
            continue
        if (why := s.can_move(card)) is not None:
            left_out.append(why)
            continue
        shown = board.shown_status(card)
        if shown == status_id:
            continue
        reason = lost_reason if board.status(status_id).kind is StatusKind.LOST else None
        steps.append((card, shown, status_id))
        s.moves.add(board, pipeline, card, status_id, reason, u)
    if steps:
        s.moves.history.append(steps)
    if focus is not None and any(card == focus for card, _, _ in steps):
        u.focus = focus
    u.notice(bulk_words(s, plan, steps, left_out), severity="warning" if left_out else "information",
             timeout=5)
    s.pump(u)
    return u

def bulk_words(s: BoardSession, plan: BulkPlan, steps: list[tuple[str, str, str]], left_out: list[str]) -> str:
    """`Moved 3 deals to Won`, `2 moved · 1 already in the last status · 1 left out: …`."""
    board = s.board
    assert board is not None
    targets = {to for _, _, to in steps}
    n = len(steps)
    if not n and left_out and not plan.staying:
        return left_out[0] if len(left_out) == 1 else f"Nothing moved · {len(left_out)} left out: {left_out[0]} …"
    if n and len(targets) == 1:
        label = board.status(next(iter(targets))).label
        words = [f"Moved {n} deal{'s' if n != 1 else ''} to {label}"]
    else:
        words = [f"{n} moved" if n else "Nothing moved"]
    if plan.staying:
        where = ("the last status" if plan.delta > 0 else "the first status") if plan.delta else "that status"
        words.append(f"{plan.staying} already in {where}")
    if left_out:
        words.append(f"{len(left_out)} left out: {left_out[0]}" + (" …" if len(left_out) > 1 else ""))
    return " · ".join(words)

def undo_bulk(s: BoardSession, entry: list[tuple[str, str, str]]) -> Update:
    """Every card of a bulk move back where it was, each only if still where that move put it (one line)."""
    u = Update()
    board, pipeline = s.board, s.pipeline
    assert board is not None and pipeline is not None
    back = 0
    not_undone: list[str] = []
    for card, from_status, to_status in entry:
        if card not in board:
            continue
        name = board.opportunity(card).name
        if board.shown_status(card) != to_status:
            not_undone.append(f"{name} moved since")
            continue
        if (why := s.can_move(card)) is not None:
            if s.read_only:
                u.notice(why, severity="warning", timeout=6)
                return u
            not_undone.append(why)
            continue
        s.moves.add(board, pipeline, card, from_status, None, u)
        back += 1
    gone = sum(1 for card, _, _ in entry if card not in board)
    words = [f"Undone: {back} deal{'s' if back != 1 else ''} back where {'they were' if back != 1 else 'it was'}"]
    if not_undone:
        words.append(f"{len(not_undone)} not: {not_undone[0]}" + (" …" if len(not_undone) > 1 else ""))
    if gone:
        words.append(f"{gone} no longer on the board")
    u.notice(" · ".join(words), severity="warning" if not_undone else "information", timeout=5)
    s.pump(u)
    return u


def marked_unseen(s: BoardSession) -> int:
    board = s.board
    if board is None or not board.marked:
        return 0
    return sum(1 for card in board.marked if board.shown_status(card) in s.hidden or not board.matches(card))
