"""Acting on a deal from the board (issue 23): `e` edit, `a` add a note, `+` a new deal in the focused column. Each
key opens its form (`edit.py`, `note.py`, `new_deal.py`); what the form returns becomes a session call (an intent,
journaled before it is sent). A key this CRM cannot honour says why in one line; no form opens. The CRM's users and
leads are asked through the session's runner, in a worker."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from ..backends.base import Backend
from ..models import Edit, Lead, User
from ..sync.protocol import AskLeads, AskUsers, LeadsKnown, UsersKnown

if TYPE_CHECKING:
    from .board import BoardScreen
    from .new_deal import DealDraft

# the forms (edit.py, note.py, new_deal.py, with fields.py) are imported when a key opens one, not at start


def _refuse(screen: BoardScreen, why: str | None) -> bool:
    if why is not None:
        screen.notify(why, severity="warning", timeout=6, markup=False)
        return True
    return False


async def _users(screen: BoardScreen) -> list[User] | None:
    """The CRM's users, asked once per board screen (None: it cannot list them, or the ask failed: said)."""
    if screen.users_known is not None:
        return screen.users_known.users
    async for event in screen.session.runner.run(AskUsers()):
        if isinstance(event, UsersKnown):
            if event.error is not None:
                screen.notify(f"Could not list {screen.backend.name}'s users ({event.error}): the owner is not"
                              " offered this time", severity="warning", timeout=8, markup=False)
                return None
            screen.users_known = event
            return event.users
    return None


def edit(screen: BoardScreen) -> None:
    """`e`: the focused deal's edit form (its first field, the value, focused and selected)."""
    card, session = screen.focused_id(), screen.session
    if card is None or session.board is None:
        return
    if _refuse(screen, session.can_edit(card)):
        return

    async def open_form() -> None:
        users = await _users(screen) if "owner" in screen.backend.editable else None
        board = session.board
        if board is None or card not in board:
            return

        def saved(change: Edit | None) -> None:
            if change is not None and change.fields:
                screen.apply(session.edit(card, change), user=True)

        from .edit import EditScreen

        screen.app.push_screen(EditScreen(board.shown(card), editable=screen.backend.editable,
                                          cannot_edit=screen.backend.cannot_edit, users=users, today=date.today(),
                                          crm=screen.backend.name), saved)

    screen.run_worker(open_form(), group="forms", exclusive=True, exit_on_error=False)


def note(screen: BoardScreen) -> None:
    """`a`: a one-line note on the focused deal."""
    card, session = screen.focused_id(), screen.session
    board = session.board
    if card is None or board is None:
        return
    if _refuse(screen, session.can_note(card)):
        return
    notes_of = "" if screen.backend.notes_of == "the deal" else screen.backend.notes_of  # "It goes to the lead (...)."

    def sent(text: str | None) -> None:
        if text:
            screen.apply(session.add_note(card, text), user=True)

    from .note import NoteScreen

    screen.app.push_screen(NoteScreen(board.shown(card).name, notes_of=notes_of), sent)


def has_leads(backend: Backend) -> bool:
    """Deals belong to leads here (Close): the new-deal form offers existing ones."""
    return type(backend).find_leads is not Backend.find_leads


def new_deal(screen: BoardScreen) -> None:
    """`+`: a new deal in the focused column."""
    session, column = screen.session, screen.view.active_column
    if session.board is None or column is None:
        _refuse(screen, session.can_create() or "Open a board first.")
        return
    status = column.status
    if _refuse(screen, session.can_create(status.id)):
        return

    async def search(query: str) -> list[Lead] | None:
        async for event in session.runner.run(AskLeads(query)):
            if isinstance(event, LeadsKnown):
                if event.error is not None:
                    raise RuntimeError(event.error)
                return event.leads
        return None

    def made(draft: DealDraft | None) -> None:
        if draft is not None:
            screen.apply(session.create(status.id, draft.name, value=draft.value, currency=draft.currency,
                                        confidence=draft.confidence, lead_id=draft.lead_id), user=True)

    leads = has_leads(screen.backend)
    from .new_deal import NewDealScreen

    screen.app.push_screen(NewDealScreen(status.label, has_leads=leads, search_leads=search if leads else None), made)
