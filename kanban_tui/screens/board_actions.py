"""What the board's keys open: the questions it asks (which pipeline, which status, keep which version, which
owner, sure to end the deal?), the deal's details and link, and the pipeline picture.

Functions over the `BoardScreen` (as `sync.opening` is over the session): each pushes a screen and hands
the user's answer to the session through `screen.apply`; none decides anything the session decides.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import TYPE_CHECKING

from .. import links
from ..models import Opportunity, StatusKind
from ..sync import Conflict, PipelineChoice
from ..sync.board import Board
from ..sync.bulk import BulkPlan
from ..sync.edits import FIELD_WORDS
from ..sync.protocol import NotesKnown, WeeksKnown
from ..widgets.column import KIND_GLYPH
from .confirm import ConfirmMove
from .conflict import ResolveConflict
from .detail import DetailScreen
from .picker import ALL_OWNERS, ME, LostReasonPicker, OwnerPicker, PipelinePicker, StatusPicker

if TYPE_CHECKING:
    from .board import BoardScreen


def ask(screen: BoardScreen, question: PipelineChoice | Conflict) -> None:
    """The session's question: which pipeline to open, or keep the user's move or the CRM's version."""
    session, crm = screen.session, screen.backend.name
    if isinstance(question, PipelineChoice):
        pipelines = question.pipelines

        def chosen(pipeline_id: str | None) -> None:
            screen.apply(session.choose_pipeline(pipeline_id, pipelines), user=True)

        screen.app.push_screen(PipelinePicker(crm, pipelines, question.current), chosen)
        return

    def decided(keep: bool | None) -> None:
        screen.apply(session.resolve_conflict(question.card, bool(keep)), user=True)

    what = FIELD_WORDS.get(question.field, question.field)
    screen.app.push_screen(ResolveConflict(question.name, crm, question.theirs, question.mine, what), decided)


# -- moves -----------------------------------------------------------------------------------------


def step(screen: BoardScreen, delta: int) -> None:
    """`<` / `>`: the focused card to the next / previous status shown that accepts cards; with marks, every
    marked card one status along from its own column."""
    card, board = screen.focused_id(), screen.session.board
    if board is not None and board.marked:
        move_marked(screen, screen.session.plan_marked(delta=delta))
        return
    if card is None or board is None:
        return
    statuses, hidden = board.pipeline.statuses, screen.view.hidden
    index = screen.active + delta
    while 0 <= index < len(statuses) and (not statuses[index].can_move_to or statuses[index].id in hidden):
        index += delta
    if 0 <= index < len(statuses):
        move(screen, card, statuses[index].id)
    else:
        screen.notify("No status that way.", timeout=2)


def pick_status(screen: BoardScreen) -> None:
    """`m`: the focused card to a status picked from a list; with marks, every marked card to that status."""
    card, board = screen.focused_id(), screen.session.board
    if board is not None and board.marked:
        n, session = len(board.marked), screen.session

        def picked_for_all(status_id: str | None) -> None:
            if status_id is not None and session.board is board:
                move_marked(screen, session.plan_marked(status_id=status_id))

        choices = [s for s in board.pipeline.statuses if s.can_move_to]
        screen.app.push_screen(StatusPicker(f"{n} marked deal{'s' if n != 1 else ''}", choices), picked_for_all)
        return
    if card is None or board is None:
        return
    current = board.shown_status(card)
    choices = [s for s in board.pipeline.statuses if s.can_move_to and s.id != current]

    def picked(status_id: str | None) -> None:
        if status_id is not None:
            move(screen, card, status_id)

    screen.app.push_screen(StatusPicker(board.opportunity(card).name, choices), picked)


def move(screen: BoardScreen, card: str, status_id: str) -> None:
    """Move a card, asking first where the move ends the deal (and the settings say so)."""
    session, board, backend = screen.session, screen.session.board, screen.backend
    if board is None or card not in board or board.shown_status(card) == status_id:
        return
    if (why := session.can_move(card)) is not None:
        screen.notify(why, severity="warning", timeout=8, markup=False)
        return
    status, pipeline = board.status(status_id), board.pipeline
    name = board.opportunity(card).name
    if status.kind is StatusKind.LOST and pipeline.lost_reasons:
        # a lost reason is asked for, and is the confirmation
        def reason_picked(reason: str | None) -> None:
            if reason is not None and session.board is board:
                screen.apply(session.move(card, status_id, lost_reason=reason), user=True)

        screen.app.push_screen(LostReasonPicker(name, status.label, pipeline.lost_reasons), reason_picked)
        return
    if not (screen.confirm_final_moves and status.kind.is_final):
        screen.apply(session.move(card, status_id), user=True)
        return

    def confirmed(yes: bool | None) -> None:
        if yes and session.board is board:
            screen.apply(session.move(card, status_id), user=True)

    label = f"{KIND_GLYPH[status.kind]}{status.label}"
    outcome = "won" if status.kind is StatusKind.WON else "lost"
    detail = f"This marks the deal {outcome} in {backend.name}"
    if status.kind is StatusKind.WON and board.opportunity(card).date_won is None and backend.records_won_date:
        detail += f", and {backend.name} records today as its won date"
    screen.app.push_screen(ConfirmMove(name, label, detail + "."), confirmed)


def move_marked(screen: BoardScreen, plan: BulkPlan) -> None:
    """Move the marked cards as `plan` says: one question first where it ends deals (`Move 3 deals to ✓ Won?`),
    one lost reason for all those going to a lost status; then the session moves them all at once."""
    session, board, backend = screen.session, screen.session.board, screen.backend
    if board is None:
        return
    focus = screen.focused_id()

    def go(reason: str | None = None) -> None:
        if session.board is board:
            screen.apply(session.move_marked(plan, lost_reason=reason, focus=focus), user=True)

    if not plan.targets:  # nothing moves: the session says why (at the edge, left out)
        go()
        return
    per_status = Counter(plan.targets.values())
    kinds = {board.status(status_id).kind for status_id in per_status}
    lost = sum(n for status_id, n in per_status.items() if board.status(status_id).kind is StatusKind.LOST)
    won = sum(n for status_id, n in per_status.items() if board.status(status_id).kind is StatusKind.WON)
    reasons = board.pipeline.lost_reasons

    def then_reason() -> None:
        if not (lost and reasons):
            go()
            return
        status = next(board.status(s) for s in per_status if board.status(s).kind is StatusKind.LOST)

        def reason_picked(reason: str | None) -> None:
            if reason is not None:
                go(reason)

        screen.app.push_screen(LostReasonPicker(_deals(lost), status.label, reasons), reason_picked)

    if not (screen.confirm_final_moves and (won or (lost and not reasons))):
        then_reason()  # (a lost reason, asked for, is the confirmation)
        return

    def confirmed(yes: bool | None) -> None:
        if yes and session.board is board:
            then_reason()

    labels = [(f"{KIND_GLYPH[board.status(s).kind]}{board.status(s).label}", n) for s, n in per_status.items()]
    label = labels[0][0] if len(labels) == 1 else ", ".join(f"{text} ({n})" for text, n in labels)
    ends = [f"{_deals(won)} won" if won else "", f"{_deals(lost)} lost" if lost else ""]
    detail = f"This marks {' and '.join(w for w in ends if w)} in {backend.name}"
    if StatusKind.WON in kinds and backend.records_won_date:
        detail += f", and {backend.name} records today as the won date where none is set"
    screen.app.push_screen(ConfirmMove(_deals(len(plan.targets)), label, detail + "."), confirmed)


def _deals(n: int) -> str:
    return f"{n} deal{'s' if n != 1 else ''}"


# -- the owner filter ------------------------------------------------------------------------------


def pick_owner(screen: BoardScreen) -> None:
    """`f`: show one owner's cards: me first, then everyone, then each owner by card count."""
    board = screen.session.board
    if board is None:
        return
    snapshot = screen.session.snapshot()
    me = snapshot.me
    current = ME if snapshot.owner == "me" else ALL_OWNERS if board.owner is None else "=" + board.owner

    def picked(choice: str | None) -> None:
        if choice is None:
            return
        if choice == ME:
            if not me:
                crm = screen.backend.name
                screen.notify(f"{crm} does not say who you are: set me = \"Your Name\" in its table of the"
                              " config (as cards name you)", severity="warning", timeout=10, markup=False)
                return
            screen.set_owner(me, is_me=True)
        else:
            screen.set_owner(None if choice == ALL_OWNERS else choice[1:])

    screen.app.push_screen(OwnerPicker(board.owners(), me, current), picked)


# -- the focused deal ------------------------------------------------------------------------------


def change_words(board: Board, card: str) -> str | None:
    """How a card changed since the user last looked: `new`, `re-valued`, `moved from Demo` (None: it did not)."""
    change = board.change(card)
    seen = board.seen.get(card) if board.seen is not None else None
    if change == "moved" and seen is not None and board.pipeline.status(seen[0]):
        return f"moved from {board.status(seen[0]).label}"
    return change


def show_details(screen: BoardScreen) -> None:
    """⏎: the focused deal's details."""
    card, board, backend = screen.focused_id(), screen.session.board, screen.backend
    if board is None or card is None:
        return
    screen.app.push_screen(
        DetailScreen(
            board.shown(card),
            board.status(board.shown_status(card)),
            pending=board.is_pending(card),
            times_reported=board.real_update_times,
            change=change_words(board, card),
            crm=backend.name,
            records_won_date=backend.records_won_date,
            opener=screen.action_open_link,
            notes_of=backend.notes_of,
        )
    )
    screen.apply(screen.session.ask_notes(card))


def details_open(screen: BoardScreen, card: str) -> bool:
    """The deal's details are open (on the screen stack)."""
    return any(isinstance(s, DetailScreen) and s.opportunity.id == card for s in screen.app.screen_stack)


def show_notes(screen: BoardScreen, known: NotesKnown) -> None:
    """A deal's latest notes, to its details if they are still open."""
    for open_screen in screen.app.screen_stack:
        if isinstance(open_screen, DetailScreen) and open_screen.opportunity.id == known.card:
            open_screen.show_notes(known.notes, known.error)


def focused_opportunity(screen: BoardScreen) -> Opportunity | None:
    card, board = screen.focused_id(), screen.session.board
    return None if card is None or board is None or card not in board else board.opportunity(card)


def open_link(screen: BoardScreen) -> None:
    """`o`: the deal in the CRM's web app, in the system browser when there is one; else the link is shown."""
    o = focused_opportunity(screen)
    if o is None:
        return
    if not o.url:
        screen.notify(f"{screen.backend.name} gives no link to its deals (y copies the id).", timeout=4,
                      markup=False)
        return
    if links.can_open():
        screen.run_worker(partial(_open_in_browser, screen, o.url), thread=True, group="browser",
                          exit_on_error=False)
    else:
        screen.notify(f"{o.url}  (no browser here: y copies it)", title="Link", timeout=10, markup=False)


def _open_in_browser(screen: BoardScreen, url: str) -> None:
    """(A worker thread.)"""
    problem = links.open_url(url)
    if problem:
        screen.app.call_from_thread(screen.notify, f"{problem}: {url}", severity="warning", timeout=10, markup=False)
    else:
        screen.app.call_from_thread(screen.notify, "Opened in your browser", timeout=2)


def copy_link(screen: BoardScreen) -> None:
    """`y`: the deal's link (or its id, where the CRM gives none) to the clipboard, through the terminal
    (OSC 52: works over SSH and in tmux)."""
    o = focused_opportunity(screen)
    if o is None:
        return
    text, what = (o.url, "link") if o.url else (o.id, "id")
    if (why := links.copy(screen.app, text, what)) is not None:  # nothing a paste could run
        screen.notify(why, severity="warning", timeout=8, markup=False)
        return
    screen.notify(f"Copied the {what}: {links.shown(text)}", timeout=3, markup=False)


# -- the pipeline picture --------------------------------------------------------------------------


async def open_picture(screen: BoardScreen) -> None:
    """`P`: the pipeline at a glance (deals and value per status, won and lost per week). Its weeks are
    asked of the CRM by the session once it is on screen; `show_weeks` hands it the answer."""
    # Plotext is loaded the first time the picture opens, not when the board starts
    from .picture import WEEKS, PipelinePicture

    board, backend = screen.session.board, screen.backend
    if board is not None:
        await screen.app.push_screen(PipelinePicture(board, board.pipeline, crm=backend.name,
                                                     has_values=backend.has_values,
                                                     won_lost_basis=backend.won_lost_basis))
        screen.apply(screen.session.ask_weeks(WEEKS))


def show_weeks(screen: BoardScreen, known: WeeksKnown) -> None:
    """The CRM's won and lost per week, to the pipeline picture they were asked for (if it is still open)."""
    from .picture import PipelinePicture

    for open_screen in screen.app.screen_stack:
        if isinstance(open_screen, PipelinePicture) and open_screen.pipeline.id == known.pipeline_id:
            open_screen.show_weeks(known.weeks, known.error)
