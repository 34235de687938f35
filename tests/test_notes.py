"""A deal's latest notes in its details (issue 23, the read side): the model, the local workspace, Close against
the fake, the session's job, and the details view through Pilot."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from kanban_tui.backends.close import CloseBackend
from kanban_tui.backends.clustr import ClustrBackend
from kanban_tui.backends.local import LocalBackend, create_workspace, insert_notes
from kanban_tui.config import Settings
from kanban_tui.models import Note
from kanban_tui.screens.detail import NOTE_LINES, DetailScreen
from kanban_tui.sync import BoardSession
from kanban_tui.sync.protocol import AskNotes, NotesKnown

from .fakes.close import FakeClose
from .fakes.clustr import FakeClustr
from .helpers import MakeApp, board_screen, focused_card, screen_text, settle
from .test_report_bounds import read_only

KEY = "test-close-key"
BASE = "https://api.close.com/api/v1/"
T = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
HOSTILE = "Call \x1b]52;c;cm0gLXJmIH4=\x07 them\u202e[/]\n[b]not bold[/b] line two"


async def no_wait(_: float) -> None:
    return None


def close_of(fake: FakeClose) -> CloseBackend:
    return CloseBackend(KEY, base_url=BASE, transport=httpx.MockTransport(fake.handler), sleep=no_wait)


# -- the model ------------------------------------------------------------------------------------


def test_a_notes_text_keeps_its_lines_and_loses_what_a_terminal_would_act_on() -> None:
    note = Note(when=T, text=HOSTILE, author="Eve\x1b[31m\u202e")
    assert "\x1b" not in note.text and "\u202e" not in note.text and "␛" in note.text
    assert note.text.splitlines()[1] == "[b]not bold[/b] line two", "lines kept; markup is escaped where drawn"
    assert note.author == "Eve␛[31m"


# -- the local workspace --------------------------------------------------------------------------


async def test_the_workspace_gives_a_deals_latest_notes_newest_first(workspace: Path, backend: LocalBackend) -> None:
    [pipeline] = await backend.list_pipelines()
    cards = [o async for page in backend.load_opportunities(pipeline) for o in page.opportunities]
    first, other = cards[0], cards[1]
    with sqlite3.connect(workspace) as conn:
        conn.execute("DELETE FROM notes")
        insert_notes(conn, [(first.id, Note(when=T + timedelta(days=n), text=f"note {n}", author="Dana Reyes"))
                            for n in range(7)] + [(other.id, Note(when=T, text="not this deal's"))])
    notes = await backend.notes(first)
    assert [n.text for n in notes] == ["note 6", "note 5", "note 4", "note 3", "note 2"], "the latest 5"
    assert notes[0].when == T + timedelta(days=6) and notes[0].author == "Dana Reyes"
    assert [n.text for n in await backend.notes(first, limit=2)] == ["note 6", "note 5"]
    assert [n.text for n in await backend.notes(other)] == ["not this deal's"]
    assert await backend.notes(cards[2]) == []


async def test_the_demo_seeds_the_same_notes_on_some_deals(tmp_path: Path) -> None:
    async def notes_of(path: Path) -> list[list[tuple[str, str | None]]]:
        create_workspace(path, demo_size=64)
        backend = LocalBackend(path)
        [pipeline] = await backend.list_pipelines()
        cards = [o async for page in backend.load_opportunities(pipeline) for o in page.opportunities]
        return [[(n.text, n.author) for n in await backend.notes(c)] for c in cards]

    one, two = await notes_of(tmp_path / "a.sqlite3"), await notes_of(tmp_path / "b.sqlite3")
    assert one == two, "deterministic"
    assert 5 < sum(bool(n) for n in one) < 60, "some deals, not all"


@pytest.mark.parametrize("directory_too", [False, True], ids=["file", "file-and-directory"])
async def test_an_older_workspace_gets_the_notes_table_and_a_read_only_one_still_opens(
        tmp_path: Path, directory_too: bool) -> None:
    (tmp_path / "ro").mkdir()
    path = tmp_path / "ro" / "old.sqlite3"
    create_workspace(path, demo_size=8)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("DROP TABLE notes")  # as a workspace made before notes were kept

    def has_notes_table() -> bool:
        with closing(sqlite3.connect(path)) as conn:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'notes'").fetchone() is not None

    with read_only(path, *([path.parent] if directory_too else [])):
        backend = LocalBackend(path, read_only=True)
        [pipeline] = await backend.list_pipelines()
        card = [o async for page in backend.load_opportunities(pipeline) for o in page.opportunities][0]
        assert await backend.notes(card) == [], "opens, and has no notes to show"
    assert not has_notes_table()
    writable = LocalBackend(path)
    assert await writable.notes(card) == []
    assert has_notes_table(), "the upgrade made it"


# -- Close, against the fake --------------------------------------------------------------------------


async def test_close_reads_the_leads_notes_over_pages_newest_first(fake_close: FakeClose) -> None:
    fake_close.limit_cap = 3  # pages of three: the notes are read across them
    close = close_of(fake_close)
    try:
        sales = next(p for p in await close.list_pipelines() if p.name == "Sales")
        cards = [o async for page in close.load_opportunities(sales) for o in page.opportunities]
        card = cards[0]
        lead = fake_close.opportunities[card.id]["lead_id"]
        fake_close.notes = [n for n in fake_close.notes if n["lead_id"] != lead]
        for n in (4, 1, 6, 0, 5, 2, 3):  # added out of date order: the spec gives the list none
            fake_close.add_note(lead, f"note {n}", when=T + timedelta(hours=n))
        fake_close.add_note(fake_close.opportunities[cards[1].id]["lead_id"], "another lead's", when=T + timedelta(9))
        fake_close.requests.clear()
        notes = await close.notes(card)
        assert [n.text for n in notes] == ["note 6", "note 5", "note 4", "note 3", "note 2"]
        assert notes[0].when == T + timedelta(hours=6) and notes[0].author == "Ada Park"
        asked = [r for r in fake_close.requests if r.url.path.endswith("/activity/note/")]
        assert len(asked) == 3 and {r.url.params["lead_id"] for r in asked} == {lead}
        assert [r.url.params["_skip"] for r in asked] == ["0", "3", "6"]
        assert close.notes_of.startswith("the lead")
    finally:
        await close.aclose()


async def test_close_asks_for_the_lead_when_the_card_has_no_link(fake_close: FakeClose) -> None:
    close = close_of(fake_close)
    try:
        sales = next(p for p in await close.list_pipelines() if p.name == "Sales")
        card = [o async for page in close.load_opportunities(sales) for o in page.opportunities][0]
        lead = fake_close.opportunities[card.id]["lead_id"]
        fake_close.add_note(lead, HOSTILE, when=T)
        fake_close.requests.clear()
        notes = await close.notes(card.model_copy(update={"url": None}))
        assert [r.url.path.split("/v1/")[1] for r in fake_close.requests][:2] == [f"opportunity/{card.id}/",
                                                                                   "activity/note/"]
        assert any("␛" in n.text and "\x1b" not in n.text for n in notes), "made safe by the model"
    finally:
        await close.aclose()


# -- the session's job --------------------------------------------------------------------------------


async def test_the_notes_are_asked_by_a_session_job_and_handed_to_the_ui(
        backend: LocalBackend, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = BoardSession(backend, poll_interval=3600)
    try:
        [pipeline] = await backend.list_pipelines()
        session.open(pipeline)
        cards = [o async for page in backend.load_opportunities(pipeline) for o in page.opportunities]
        session.board.add(cards)
        with sqlite3.connect(workspace) as conn:
            insert_notes(conn, [(cards[0].id, Note(when=T, text="the newest", author="Sam Okafor"))])
        [job] = session.ask_notes(cards[0].id).jobs
        assert job == AskNotes(cards[0].id, cards[0], 5)
        [event] = [e async for e in session.runner.run(job)]
        update = session.handle(event)
        assert update.notes == NotesKnown(cards[0].id, await backend.notes(cards[0]))
        assert update.notes.notes and update.notes.notes[0].when >= T and not update.jobs

        async def fails(*_: object, **__: object) -> None:
            raise RuntimeError("the disk is gone")

        monkeypatch.setattr(backend, "notes", fails)
        [event] = [e async for e in session.runner.run(job)]
        assert session.handle(event).notes == NotesKnown(cards[0].id, None, "the disk is gone"), "a line"
        gone = session.ask_notes("no-such-card")
        assert not gone.jobs and gone.notes == NotesKnown("no-such-card", None, "the deal is no longer on the board")
    finally:
        session.close()


# -- the details view ------------------------------------------------------------------------------


async def test_the_details_show_the_latest_notes_newest_first_and_hostile_text_safely(
        backend: LocalBackend, workspace: Path, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        screen = board_screen(app)
        card = focused_card(screen)
        long = " ".join(f"word{n}" for n in range(200))
        with sqlite3.connect(workspace) as conn:
            conn.execute("DELETE FROM notes WHERE opportunity_id = ?", (card,))
            insert_notes(conn, [(card, Note(when=T, text="the older one", author="Lee Chen")),
                                (card, Note(when=T + timedelta(days=1), text=HOSTILE, author="Eve")),
                                (card, Note(when=T - timedelta(days=1), text=long))])
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await settle(pilot)
        details = app.screen
        assert details.notes is not None and [n.author for n in details.notes] == ["Eve", "Lee Chen", None]
        text = screen_text(app)
        assert "latest 3, newest first" in text
        assert text.index("· Eve") < text.index("the older one"), "newest first"
        when = (T + timedelta(days=1)).astimezone().strftime("%Y-%m-%d %H:%M")
        assert f"{when} · Eve" in text
        assert "␛]52;c;cm0gLXJmIH4=␇ them[/]" in text, "shown as text: no escape, no bidi, markup kept literal"
        assert "[b]not bold[/b] line two" in text and "\x1b" not in text and "\u202e" not in text
        assert "author unknown" in text and "word30 " in text and "word199" not in text, "a few lines, cut"
        cut = next(line for line in text.splitlines() if "…" in line and "word" in line)
        assert cut.rstrip(" │▁▂▃▄▅▆▇█▌▐").endswith("…") and " word" in cut, "after a whole word"
        assert sum("word" in line for line in text.splitlines()) <= NOTE_LINES + 2
        for _ in range(10):
            await pilot.press("j")  # scrolls when long


async def test_the_details_say_loading_until_the_answer_and_a_failure_in_one_line(
        backend: LocalBackend, make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        screen = board_screen(app)
        opportunity = screen.session.board.opportunity(focused_card(screen))
        details = DetailScreen(opportunity, screen.session.board.status(opportunity.status_id), crm="Local")
        await app.push_screen(details)
        await pilot.pause()
        assert "Notes      loading…" in screen_text(app)
        details.show_notes(None, "database is locked")
        await pilot.pause()
        assert "Notes      could not read the notes: database is locked" in screen_text(app)
        details.show_notes([])
        await pilot.pause()
        assert "Notes      none yet" in screen_text(app)


async def test_a_crm_without_notes_says_so_and_asks_nothing(fake_clustr: FakeClustr, make_app: MakeApp) -> None:
    backend = ClustrBackend("test-clustr-key", base_url="https://api.clustr-ai.com/api/public/",
                            transport=httpx.MockTransport(fake_clustr.handler), sleep=no_wait)
    app = make_app(backend)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        asked = len(fake_clustr.requests)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert "Clustr notes are not shown here yet" in screen_text(app)
        assert len(fake_clustr.requests) == asked, "no request"


async def test_close_details_show_the_notes_of_the_lead(fake_close: FakeClose, make_app: MakeApp) -> None:
    app = make_app(close_of(fake_close), Settings(pipeline="Sales"))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        card = focused_card(board_screen(app))
        lead = fake_close.opportunities[card]["lead_id"]
        fake_close.add_note(lead, "Shared by every deal of this lead", when=T, user=("user_bo", "Bo Lindqvist"))
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        assert "Notes of the lead (every deal of the lead shares them)" in text
        assert "Shared by every deal of this lead" in text and "· Bo Lindqvist" in text
