"""CRM text is untrusted: escape sequences, controls, bidi overrides, markup and wide characters
in a CRM's data never reach the terminal raw, never crash the board, never hide a card's state."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanban_tui.backends import close, clustr
from kanban_tui.backends.errors import BackendError, read_each
from kanban_tui.models import Opportunity, Pipeline, Status
from kanban_tui.screens.board import BoardScreen
from kanban_tui.screens.conflict import ResolveConflict
from kanban_tui.screens.detail import DetailScreen
from kanban_tui.text import esc, fit, safe_text

from .helpers import MakeApp, screen_text, settle
from .test_session_states import FakeCrm

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
NASTY = [
    "\x1b]52;c;aGVsbG8=\x07", "\x1b]0;pwned\x07", "\x1b[2J", "\r", "\x07", "\x00", "\x9b31m",
    "\u202eevil\u202c", "[/]", "[b]", "[@click=app.quit]x[/]", "\\", "会社名株式会社", "👩‍👩‍👧‍👦", "e\u0301",
]


def raw_controls(screen: str) -> bool:
    """Any control character on screen, line breaks between the screen's lines aside."""
    return bool(CONTROL.search(screen.replace("\n", "")))


def test_safe_text_shows_controls_drops_bidi_and_keeps_everything_else() -> None:
    assert safe_text("Acme\x1b]0;pwned\x07 Co") == "Acme␛]0;pwned␇ Co"
    assert safe_text("\x1b[2J") == "␛[2J" and safe_text("a\x00b\x7fc\x9bd") == "a␀b␡c\ufffdd"
    assert safe_text("\u202eevil\u202c ok\u2067") == "evil ok"
    assert safe_text("line one\nline two\ttab") == "line one line two tab"
    assert safe_text("line one\r\nline two", multiline=True) == "line one␍\nline two"
    for fine in ("Ünïcödé", "会社", "👩‍👩‍👧‍👦", "e\u0301", "[/]", "50% off"):
        assert safe_text(fine) == fine, "nothing else is touched"


def test_markup_escaping_keeps_crm_text_plain_even_with_a_trailing_backslash() -> None:
    from textual.content import Content

    for text in ("Markup [/] Co", "[b]bold?[/b]", "[@click=app.quit]q", "ends in \\", "\\[x]"):
        assert Content.from_markup(f"[b]{esc(text)}[/b] after").plain.replace("\u200b", "") == f"{text} after"


def test_fit_measures_cells_and_never_splits_a_wide_character() -> None:
    assert fit("会社名株式会社", 7) == "会社名…" and fit("abc", 3) == "abc" and fit("abcd", 3) == "ab…"
    assert fit("👩‍👩‍👧‍👦 family", 4).endswith("…")


def test_every_string_a_crm_sends_is_made_safe_in_the_models() -> None:
    nasty = "".join(NASTY)
    card = close.to_opportunity({
        "id": "oppo_1", "lead_name": nasty, "status_id": "s", "contact_name": nasty, "user_name": nasty,
        "note": "first\nsecond\x1b[2J", "value": 100, "value_currency": "US\x1bD", "date_created": T0.isoformat(),
        "date_updated": T0.isoformat(),
    })
    for text in (card.name, card.contact, card.owner, card.currency):
        assert not CONTROL.search(text or "")
    assert card.note == "first\nsecond␛[2J", "notes keep their lines, nothing else"
    status = Status(id="s", label="Won\x1b[31m", color="\x1b[31m")
    assert status.label == "Won␛[31m" and status.color is None, "a color the UI cannot parse is dropped"
    assert Pipeline(id="p", name="P\x07", statuses=(status,), lost_reasons=("x\x00",)).lost_reasons == ("x␀",)
    error = BackendError("bad \x1b]0;x\x07", crm="Close", hint="do \x1b[2J")
    assert not CONTROL.search(str(error))
    skipped: list[str] = []
    read_each([{"id": "\x1b[2J", "value_period": "[/]"}], close.to_opportunity, "Close opportunity", skipped)
    assert skipped and not CONTROL.search(skipped[0])


class HostileCrm(FakeCrm):
    """The in-memory CRM of the session tests, holding whatever text it is given."""

    name = "Close"

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    async def list_pipelines(self) -> list[Pipeline]:
        statuses = tuple(Status(id=s, label=f"{s} {self.text}", position=i) for i, s in enumerate(("lead", "won")))
        return [Pipeline(id="p", name=self.text or "P", statuses=statuses)]


def hostile_cards(text: str) -> list[Opportunity]:
    """The same text through every backend's own parsing (its record shape, its conversion)."""
    from kanban_tui.backends import local, telecrm

    stamp = T0.isoformat()
    row = dict.fromkeys(local._NAMES)
    row.update(id="c4", name=text, status_id="lead", contact=text, owner=text, note=text, currency="USD",
               period="one_time", created=stamp, updated=stamp)
    tele = telecrm.TeleCrmBackend("token", "ent", base_url="https://next.telecrm.in/autoupdate/v2/")
    cards, skipped = local._read_rows([tuple(row[name] for name in local._NAMES)])
    assert not skipped
    return [
        close.to_opportunity({"id": "c1", "lead_name": text, "status_id": "lead", "contact_name": text,
                              "user_name": text, "note": text, "value": 123456789, "value_currency": "JPY",
                              "date_created": stamp, "date_updated": stamp}),
        clustr.to_opportunity({"id": "c2", "status_id": "lead", "prospect": {"name": text, "company_name": text},
                               "owner": {"fullName": text}, "notes": text, "created_at": stamp,
                               "updated_at": stamp}),
        tele.to_opportunity({"id": "c3", "fields": {"name": text, "status": "lead", "phone": text, "email": text,
                                                    "assignee": text}}, T0),
        *cards,
    ]


TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(min_size=1, max_size=30),
    st.lists(st.sampled_from(NASTY + ["x", " ", "ä", "中"]), min_size=1, max_size=8).map("".join),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
async def test_hostile_text_never_reaches_the_terminal_raw_nor_hides_a_card_state(text: str, make_app: MakeApp) -> None:
    crm = HostileCrm(text)
    for card in hostile_cards(text):
        crm.cards[card.id] = card
    app = make_app(crm)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BoardScreen)
        crm.fault = "503"  # the move waits, and its card must say so
        await pilot.press("shift+right")
        await settle(pilot)
        shown = screen_text(app)
        assert not raw_controls(shown), repr(shown)
        assert "queued" in shown, "the state word shows whatever the names around it"
        await pilot.press("left", "enter")  # the details of the moved card
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen) and not raw_controls(screen_text(app))
        await pilot.press("escape")
        await pilot.press("u")  # an undo says the card's name in a notification
        await settle(pilot)
        session = screen.session
        card_id = next(iter(session.board.card_ids()))
        if session.intents:
            assert session.board is not None and session.pipeline is not None
            screen.ask(session.moves.conflict(session.board, session.pipeline, next(iter(session.intents.values()))))
        await settle(pilot)
        if isinstance(app.screen, ResolveConflict):
            assert not raw_controls(screen_text(app))
        assert app.is_running and card_id
