"""Acting on a deal through the keys (issue 23): `e` edits the focused deal, `a` adds a note, `+` makes a deal in the
focused column, `u` undoes an edit; a CRM that cannot do one says why; offline, an edit is shown at once, `queued`,
and reaches the CRM when it answers again. Pilot, on a local workspace (the embedded default)."""

from __future__ import annotations

from pathlib import Path

from kanban_tui.backends.errors import UnavailableError
from kanban_tui.backends.local import LocalBackend
from kanban_tui.models import Edit, Opportunity
from kanban_tui.screens.board import BoardScreen
from kanban_tui.screens.edit import EditScreen
from kanban_tui.screens.new_deal import NewDealScreen
from kanban_tui.screens.note import NoteScreen
from kanban_tui.store.journal import MoveJournal

from .helpers import MakeApp, board_screen, notices, screen_text, settle
from .test_board_ui import SIZE, board_of


class OfflineEdits(LocalBackend):
    """A workspace whose edits get no answer while `down` is set (the link is gone)."""

    down = True
    sent: list[Edit]

    async def update(self, opportunity: Opportunity, edit: Edit) -> Opportunity:
        self.sent = [*getattr(self, "sent", []), edit]
        if self.down:
            raise UnavailableError("cannot connect", crm=self.name)
        return await super().update(opportunity, edit)


class NoEdits(LocalBackend):
    editable = frozenset()
    cannot_edit = "its API takes only status changes"
    can_note = False
    cannot_note = "its API takes no notes"
    can_create = False
    cannot_create = "its API takes no new deals"


async def opened(pilot, app) -> tuple[BoardScreen, str]:
    """The board once it has settled, and the card the focus starts on."""
    await settle(pilot)
    screen = board_of(app)
    card = screen.focused_id()
    assert card is not None
    return screen, card


async def sent(pilot, screen) -> None:
    """Until the session owes the CRM nothing (bounded: the test fails on what is still owed)."""
    for _ in range(20):
        await settle(pilot)
        if not screen.session.unsent():
            return


async def _fetch(backend: LocalBackend, card: str) -> Opportunity:
    pipeline = (await backend.list_pipelines())[0]
    found = await backend.fetch_one(pipeline, card)
    assert found is not None
    return found


async def test_e_edits_the_value_typed_over_the_selected_one_and_the_crm_has_it(
        backend: LocalBackend, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        screen, card = await opened(pilot, app)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, EditScreen)
        await pilot.press(*"15000", "enter")
        await settle(pilot)
        assert screen.session.board is not None
        assert screen.session.board.shown(card).value == 1_500_000, "shown at once"
        await sent(pilot, screen)
        assert (await _fetch(backend, card)).value == 1_500_000
        assert not screen.session.unsent()


async def test_u_undoes_an_edit_by_sending_the_value_before(backend: LocalBackend, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        screen, card = await opened(pilot, app)
        assert screen.session.board is not None
        before = screen.session.board.shown(card).value
        await pilot.press("e")
        await settle(pilot)
        await pilot.press(*"777", "enter")
        await settle(pilot)
        await pilot.press("u")
        await sent(pilot, screen)
        assert (await _fetch(backend, card)).value == before
        assert any("Undone" in n for n in notices(app))


async def test_a_adds_a_note_the_crm_keeps(backend: LocalBackend, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        screen, card = await opened(pilot, app)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"Called: wants a demo", "enter")
        await sent(pilot, screen)
        notes = await backend.notes(await _fetch(backend, card))
        assert notes is not None and [n.text for n in notes].count("Called: wants a demo") == 1


async def test_plus_makes_a_deal_in_the_focused_column_shown_at_once(backend: LocalBackend,
                                                                      make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = board_of(app)
        await pilot.press("l")
        await settle(pilot)
        column = screen.active_column
        assert column is not None
        await pilot.press("plus")
        await settle(pilot)
        assert isinstance(app.screen, NewDealScreen)
        await pilot.press(*"Zebra Holdings", "tab", *"5000", "enter")
        await settle(pilot)
        board = screen.session.board
        assert board is not None
        await sent(pilot, screen)
        made = [c for c in board.column_ids(column.status.id) if board.shown(c).name == "Zebra Holdings"]
        assert len(made) == 1 and not made[0].startswith("new:"), "the CRM's card, once"
        assert screen.focused_id() == made[0], "the focus stays on the new deal"
        assert (await _fetch(backend, made[0])).value == 500_000


async def test_keys_a_crm_cannot_honour_say_why_and_open_nothing(workspace: Path, make_app: MakeApp) -> None:
    app = make_app(NoEdits(workspace))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, words in (("e", "only status changes"), ("a", "no notes"), ("plus", "no new deals")):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is board_screen(app), f"{key} opened a form"
            assert any(words in n for n in notices(app)), (key, notices(app))


async def test_offline_an_edit_is_shown_queued_and_kept_across_a_restart(workspace: Path, make_app: MakeApp,
                                                                          state_dir: Path) -> None:
    backend = OfflineEdits(workspace)
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        screen, card = await opened(pilot, app)
        await pilot.press("e")
        await settle(pilot)
        await pilot.press(*"4242", "enter")
        await settle(pilot)
        assert "queued" in screen_text(app) or "retrying" in screen_text(app) or "saving" in screen_text(app)
        assert "1 change queued" in screen_text(app) or "retrying" in screen_text(app), "an edit is a change"
        assert screen.session.board is not None and screen.session.board.shown(card).value == 424_200
    journal = MoveJournal(next(state_dir.rglob("*journal*.sqlite3")), backend.identity, background=False)
    from kanban_tui.store import writes

    owed, _ = writes.owed(journal)
    assert [w.field for w in owed] == ["value"], "on disk, owed"
    backend2 = OfflineEdits(workspace)
    backend2.down = False
    app2 = make_app(backend2)
    async with app2.run_test(size=SIZE) as pilot:
        for _ in range(30):
            await settle(pilot)
            if board_of(app2).session.board is not None and not board_of(app2).session.unsent():
                break
        assert backend2.sent == [Edit(value=424_200)], "sent once, after the restart"
    assert (await _fetch(backend2, card)).value == 424_200
