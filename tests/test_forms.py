"""The deal forms, driven as a user does (Pilot): `e` edit (screens/edit.py), `a` note (screens/note.py), `+` new
deal (screens/new_deal.py). Each form is pushed on a tiny app with the board's style sheet; what it dismisses with
is what the board would hand to the session."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from textual.app import App
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static

from kanban_tui.app import styles_dir
from kanban_tui.models import EDIT_FIELDS, Edit, Lead, Opportunity, Period, User
from kanban_tui.screens.edit import EditScreen
from kanban_tui.screens.new_deal import DealDraft, NewDealScreen
from kanban_tui.screens.note import NoteScreen

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TODAY = date(2026, 1, 31)
USERS = [User(id="u1", name="Lee Chen"), User(id="u2", name="Leo Park"), User(id="u3", name="Ann"),
         User(id="u4", name="Anna Berg"), User(id="u5", name="Zed")]
DEAL = Opportunity(id="d1", name="Acme Corporation — renewal 2026", status_id="s1", value=1_250_000, currency="USD",
                   confidence=40, close_date=date(2026, 2, 14), owner="Lee Chen", owner_id="u1", created=NOW,
                   updated=NOW)
EVERY = frozenset(EDIT_FIELDS)


class Host(App[None]):
    """The board's style sheet and one form on top; `results` gets what the form dismisses with."""

    CSS_PATH = [styles_dir() / "app.tcss"]

    def __init__(self, form: Screen) -> None:
        super().__init__()
        self.form = form
        self.results: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(self.form, callback=self.results.append)


def edit_form(opportunity: Opportunity = DEAL, *, editable: frozenset[str] = EVERY,
              cannot_edit: str = "its API takes only status changes from here", users: list[User] | None = USERS,
              crm: str = "Close") -> EditScreen:
    return EditScreen(opportunity, editable=editable, cannot_edit=cannot_edit, users=users, today=TODAY, crm=crm)


def focused_field(app: App[None]) -> str:
    focused = app.focused
    assert isinstance(focused, Input)
    return (focused.id or "").removeprefix("field-")


def said(app: App[None], field: str) -> str:
    """What the form says under `field` ("" when it is hidden)."""
    line = app.screen.query_one(f"#error-{field}", Static)
    return str(line.render()) if line.display and line.has_class("-shown") else ""


async def type_into(pilot, field: str, text: str) -> None:
    """As a user replaces a field's text: tab to it (its text is then selected), type (or backspace for none)."""
    if focused_field(pilot.app) == field:
        await pilot.press("shift+tab", "tab")  # coming back to it selects its text again
    for _ in range(10):
        if focused_field(pilot.app) == field:
            break
        await pilot.press("tab")
    field_input = pilot.app.focused
    assert focused_field(pilot.app) == field and isinstance(field_input, Input)
    assert field_input.selected_text == field_input.value
    await pilot.press(*text) if text else await pilot.press("backspace")
    assert field_input.value == text


# -- edit ---------------------------------------------------------------------------------------------------------

async def test_the_value_is_focused_and_selected_so_typing_replaces_it() -> None:
    app = Host(edit_form())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert focused_field(app) == "value"
        value = app.focused
        assert isinstance(value, Input) and value.value == "12,500"
        assert value.selected_text == "12,500"
        await pilot.press("9", "k", "enter")
        await pilot.pause()
    assert app.results == [Edit(value=900_000)]


async def test_tab_goes_through_the_fields_in_order_and_shift_tab_back() -> None:
    app = Host(edit_form())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        seen = [focused_field(app)]
        for _ in range(len(EDIT_FIELDS) - 1):
            await pilot.press("tab")
            seen.append(focused_field(app))
        assert seen == ["value", "currency", "period", "confidence", "close_date", "owner", "name"]
        await pilot.press("shift+tab", "shift+tab")
        assert focused_field(app) == "close_date"
        field = app.focused
        assert isinstance(field, Input) and field.selected_text == "2026-02-14"  # each field's text selected


@pytest.mark.parametrize(("field", "text", "line"), [
    ("value", "abc", "'abc' is not an amount: write e.g. 12,500, 12.5k or 1.2M"),
    ("confidence", "140", "confidence is 0 to 100"),
    ("close_date", "2026-02-30", "no such date: '2026-02-30'"),
    ("currency", "dollars", "a currency is 3 letters, e.g. USD or EUR"),
    ("owner", "le", "'le' could be Lee Chen or Leo Park: type more of the name"),
    ("name", "   ", "a name cannot be empty"),
])
async def test_invalid_input_is_said_next_to_its_field_and_nothing_is_returned(field: str, text: str,
                                                                               line: str) -> None:
    app = Host(edit_form())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_into(pilot, "confidence", "55")
        await type_into(pilot, field, text)
        await pilot.press("enter")
        await pilot.pause()
        assert app.results == []
        assert isinstance(app.screen, EditScreen)  # still open, nothing sent
        assert said(app, field) == f"✗ {line}"
        assert focused_field(app) == field  # the cursor goes to what is wrong
        assert all(said(app, other) == "" for other in EDIT_FIELDS if other != field)
        await type_into(pilot, field, "")  # typing again takes the line away
        assert said(app, field) == ""


async def test_three_wrong_fields_are_each_said_and_fixing_them_saves() -> None:
    app = Host(edit_form())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_into(pilot, "value", "abc")
        await type_into(pilot, "confidence", "140")
        await type_into(pilot, "close_date", "2026-02-30")
        await pilot.press("enter")
        await pilot.pause()
        assert [bool(said(app, f)) for f in ("value", "confidence", "close_date")] == [True, True, True]
        assert focused_field(app) == "value"
        await type_into(pilot, "value", "12.5k")
        await type_into(pilot, "confidence", "60%")
        await type_into(pilot, "close_date", "+2w")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Edit(confidence=60)]  # 12.5k and +2w are the deal's value and close date already


async def test_esc_cancels_and_returns_none() -> None:
    app = Host(edit_form())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("9", "escape")
        await pilot.pause()
    assert app.results == [None]


async def test_only_the_fields_changed_are_in_the_edit() -> None:
    app = Host(edit_form())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_into(pilot, "value", "12500")  # typed again, the same value: no change
        await type_into(pilot, "period", "m")
        await type_into(pilot, "confidence", "40%")  # the same: no change
        await type_into(pilot, "close_date", "2026-03-31")
        await type_into(pilot, "name", "Acme Corp")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Edit(period=Period.MONTHLY, close_date=date(2026, 3, 31), name="Acme Corp")]
    edit = app.results[0]
    assert isinstance(edit, Edit) and edit.fields == ("period", "close_date", "name")


async def test_clearing_a_field_that_can_be_cleared_sends_none() -> None:
    app = Host(edit_form())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_into(pilot, "close_date", "")
        await type_into(pilot, "owner", "")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Edit(close_date=None, owner=None)]


async def test_saving_with_nothing_changed_returns_none() -> None:
    app = Host(edit_form())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("tab", "tab", "enter")
        await pilot.pause()
    assert app.results == [None]


async def test_a_new_currency_reads_the_value_in_its_unit() -> None:
    app = Host(edit_form())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_into(pilot, "currency", "jpy")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Edit(currency="JPY", value=12_500)]  # 12,500 yen, not 1,250,000


async def test_the_owner_is_picked_among_the_users_as_typed() -> None:
    app = Host(edit_form())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_into(pilot, "owner", "an")
        matches = app.screen.query_one("#owner-matches", Static)
        assert str(matches.render()) == "Ann · Anna Berg"
        await pilot.press("down", "down")  # the second of the two
        field = app.focused
        assert isinstance(field, Input) and field.value == "Anna Berg"
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Edit(owner=User(id="u4", name="Anna Berg"))]


async def test_from_the_current_owner_the_arrows_step_through_every_user() -> None:
    app = Host(edit_form())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_into(pilot, "owner", "Lee Chen")
        assert str(app.screen.query_one("#owner-matches", Static).render()) == "Lee Chen · ↓↑ the other 4 users"
        await pilot.press("tab", "shift+tab", "down", "down", "up")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Edit(owner=User(id="u2", name="Leo Park"))]


async def test_a_prefix_of_one_user_is_that_user() -> None:
    app = Host(edit_form())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_into(pilot, "owner", "ze")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Edit(owner=User(id="u5", name="Zed"))]


async def test_fields_the_crm_cannot_change_are_not_shown_and_one_line_says_why() -> None:
    app = Host(edit_form(editable=frozenset({"value", "confidence", "close_date", "owner", "name"}), users=None,
                         cannot_edit="its API takes no currency or period", crm="BottleCRM"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = [i.id for i in app.screen.query(Input)]
        assert shown == ["field-value", "field-confidence", "field-close_date", "field-name"]
        why = app.screen.query_one("#edit-why-not")
        assert str(why.render()) == ("Not offered for BottleCRM: currency, period: its API takes no currency or"
                                     " period; owner: it cannot list its users here")
        await pilot.press("tab")
        assert focused_field(app) == "confidence"


async def test_a_hostile_deal_name_is_text_in_the_title() -> None:
    hostile = DEAL.model_copy(update={"name": "[b]x[/b] [@click=app.quit]y[/]"})
    app = Host(edit_form(opportunity=hostile))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        title = str(app.screen.query_one(".dialog-title").render())
        assert "[b]x[/b] [@click=app.quit]y[/]" in title


# -- note ---------------------------------------------------------------------------------------------------------

async def test_a_note_is_the_line_typed_trimmed() -> None:
    app = Host(NoteScreen("Acme", notes_of="the lead's notes (Acme Inc)"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.focused, Input)
        await pilot.press(*"  called, signs Friday  ", "enter")
        await pilot.pause()
    assert app.results == ["called, signs Friday"]


@pytest.mark.parametrize("keys", [("space", "space", "enter"), ("x", "escape")], ids=["empty", "esc"])
async def test_an_empty_note_or_esc_returns_none(keys: tuple[str, ...]) -> None:
    app = Host(NoteScreen("Acme"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
    assert app.results == [None]


# -- new deal -----------------------------------------------------------------------------------------------------

class Leads:
    """A CRM's lead search: the leads whose name contains the query; what it was asked, in order."""

    def __init__(self, leads: list[Lead], *, fail: Exception | None = None) -> None:
        self.leads = leads
        self.fail = fail
        self.asked: list[str] = []
        self.gate: asyncio.Event | None = None
        """Every search waits for it (when set)."""
        self.held: dict[str, asyncio.Event] = {}
        """The search for this query waits for its event."""

    async def __call__(self, query: str) -> list[Lead] | None:
        self.asked.append(query)
        if self.gate is not None:
            await self.gate.wait()
        if query in self.held:
            await self.held[query].wait()
        if self.fail is not None:
            raise self.fail
        return [lead for lead in self.leads if query.casefold() in lead.name.casefold()]


ACME = [Lead(id="l1", name="Acme Corp"), Lead(id="l2", name="Acme Ltd"), Lead(id="l3", name="Acme")]


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_a_new_deal_without_leads_is_its_name_value_and_confidence() -> None:
    app = Host(NewDealScreen("Qualified", has_leads=False, currency="EUR"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.screen.query("#lead-options")
        await pilot.press(*"Globex", "tab", *"12.5k", "tab", *"30%", "enter")
        await pilot.pause()
    assert app.results == [DealDraft(name="Globex", lead_id=None, value=1_250_000, currency="EUR", confidence=30)]


async def test_invalid_new_deal_fields_are_said_and_nothing_is_returned() -> None:
    app = Host(NewDealScreen("Qualified", has_leads=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("tab", *"abc", "tab", *"140", "enter")
        await pilot.pause()
        assert app.results == []
        assert said(app, "name") == "✗ a name cannot be empty"
        assert said(app, "value").startswith("✗ 'abc' is not an amount")
        assert said(app, "confidence") == "✗ confidence is 0 to 100"
        assert focused_field(app) == "name"
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


async def test_typing_a_name_offers_the_leads_found_and_one_is_picked() -> None:
    search = Leads(ACME)
    app = Host(NewDealScreen("Qualified", has_leads=True, search_leads=search, debounce=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"acme c")
        await settle(pilot)
        assert search.asked[-1] == "acme c"
        options = app.screen.query_one("#lead-options", OptionList)
        shown = [str(options.get_option_at_index(n).prompt) for n in range(options.option_count)]
        assert shown == ["+ a new lead: [b]acme c[/b]", "Acme Corp"]
        assert options.highlighted == 0  # a new lead, until one is chosen
        await pilot.press("down")
        assert "for Acme Corp, an existing lead" in str(app.screen.query_one("#lead-line", Static).render())
        await pilot.press("tab", *"5000", "enter")
        await pilot.pause()
    assert app.results == [DealDraft(name="Acme Corp", lead_id="l1", value=500_000, currency=None, confidence=None)]


async def test_a_lead_of_exactly_the_name_typed_is_chosen_at_first() -> None:
    app = Host(NewDealScreen("Qualified", has_leads=True, search_leads=Leads(ACME), debounce=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"ACME")
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [DealDraft(name="Acme", lead_id="l3", value=None, currency=None, confidence=None)]


async def test_the_new_lead_choice_makes_a_lead_of_the_name_typed_even_beside_a_namesake() -> None:
    app = Host(NewDealScreen("Qualified", has_leads=True, search_leads=Leads(ACME), debounce=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"Acme")
        await settle(pilot)
        await pilot.press("down")  # from the lead named Acme (the last) round to the first choice
        assert "for a new lead" in str(app.screen.query_one("#lead-line", Static).render())
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [DealDraft(name="Acme", lead_id=None, value=None, currency=None, confidence=None)]


async def test_enter_while_the_leads_are_still_being_looked_for_says_so() -> None:
    search = Leads(ACME)
    search.gate = asyncio.Event()
    app = Host(NewDealScreen("Qualified", has_leads=True, search_leads=search, debounce=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"Acme", "enter")
        await pilot.pause()
        assert app.results == []  # no twin lead made before the existing one could show
        assert said(app, "name") == "✗ still looking for leads of that name: ⏎ again once they show"
        search.gate.set()
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [DealDraft(name="Acme", lead_id="l3", value=None, currency=None, confidence=None)]


async def test_a_failed_lead_search_is_one_line_and_a_new_lead_still_works() -> None:
    search = Leads(ACME, fail=RuntimeError("Close answered 503\nretry later"))
    app = Host(NewDealScreen("Qualified", has_leads=True, search_leads=search, debounce=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"Initech")
        await settle(pilot)
        line = str(app.screen.query_one("#lead-line", Static).render())
        assert line == "lead search failed: Close answered 503 (⏎ makes a new lead)"
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [DealDraft(name="Initech", lead_id=None, value=None, currency=None, confidence=None)]


async def test_only_the_name_last_typed_is_offered_whenever_an_older_search_answers() -> None:
    search = Leads(ACME)
    search.held["acme"] = asyncio.Event()  # the CRM answers the search for "acme" late
    app = Host(NewDealScreen("Qualified", has_leads=True, search_leads=search, debounce=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"acme")
        await pilot.pause()
        await pilot.press("backspace", "backspace", "backspace", *"zzz")  # azzz: never empty on the way
        await pilot.pause()
        search.held["acme"].set()  # the old answer comes after the new name's
        await settle(pilot)
        assert "acme" in search.asked and search.asked[-1] == "azzz"
        options = app.screen.query_one("#lead-options", OptionList)
        assert options.option_count == 1  # the new lead "azzz" only: no Acme left over
        line = str(app.screen.query_one("#lead-line", Static).render())
        assert line == "no lead of that name yet: a new one is made"


# -- how they look ------------------------------------------------------------------------------------------------

def test_the_edit_form_80x24(snap_compare) -> None:
    """`e` on Acme: the value focused and selected (12,500), currency, period, confidence 140 said wrong under its
    field in one line, close date, owner (Lee Chen, the line under it offers the other users), name; the hint
    line; every field's hint on the right, nothing cut."""

    async def run_before(pilot) -> None:
        await pilot.pause()
        await type_into(pilot, "confidence", "140")
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(Host(edit_form()), terminal_size=(80, 24), run_before=run_before)
