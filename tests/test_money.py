"""Values shown short (issue 21, item 20): rounding at unit boundaries, huge values a hostile CRM may send,
negative ones, and a card's value line fitted so that nothing that carries meaning is cut (its digits,
its magnitude, its period)."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanban_tui.backends.demo_data import DEMO_PIPELINE
from kanban_tui.backends.local import LocalBackend, create_workspace, insert_opportunities, write_pipeline
from kanban_tui.models import Opportunity, Period
from kanban_tui.money import CURRENCIES, PERIOD_SUFFIX, format_compact, format_fitted, format_money, major_units
from kanban_tui.text import cells

from .helpers import MakeApp, screen_text, settle

CENT = 100


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (99_999_999, "USD", "$1M"),  # 999,999.99: not `1000k`
        (99_950, "USD", "$1k"),  # 999.50: not `$1000`
        (99_949, "USD", "$999"),
        (999_950_000, "USD", "$10M"),  # 9,999,500
        (99_995_000_000, "USD", "$1B"),  # 999,950,000
        (1_234_567_000_000_00, "EUR", "€1.2T"),
        (999_000_000_000_000 * CENT, "USD", "$999T"),
        (999_960_000_000_000 * CENT, "USD", "$1e15"),  # past T: scientific, the magnitude kept
        (1_230_000_000_000_000 * CENT, "USD", "$1.2e15"),
        (10**300 * CENT, "EUR", "€1e300"),  # a hostile CRM's 1e300
        (10**500, "JPY", "¥1e500"),  # beyond what a float holds
        (-123_450_000, "USD", "-$1.2M"),
        (-1, "USD", "$0"),  # rounds to nothing: no `-$0`
        (18_200_000, "USD", "$182k"),
        (120_000_000, "EUR", "€1.2M"),
        (2_620_000_000, "USD", "$26.2M"),
    ],
    ids=lambda v: str(v)[:24],
)
def test_compact_values_round_into_the_next_unit_and_keep_their_magnitude(minor: int, currency: str,
                                                                          text: str) -> None:
    assert format_compact(minor, currency) == text


def test_major_units_of_a_value_beyond_a_float_do_not_raise() -> None:
    assert major_units(10**400, "USD") == float("inf") and major_units(-(10**400), "USD") == float("-inf")


def parse(text: str, currency: str) -> tuple[Decimal, Decimal]:
    """The amount a compact text says, and half a unit of its last digit (the rounding it may carry)."""
    symbol = CURRENCIES.get(currency, (f"{currency} ", 2))[0]
    sign = -1 if text.startswith("-") else 1
    body = text.removeprefix("-")
    assert body.startswith(symbol), (text, symbol)
    number = body[len(symbol):]
    match = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:([kMBT])|e(\d+))?", number)
    assert match, text
    whole, decimals, unit, exponent = match.groups()
    scale = Decimal(10) ** (int(exponent) if exponent else {"k": 3, "M": 6, "B": 9, "T": 12, None: 0}[unit])
    shown = Decimal(f"{whole}.{decimals or 0}") * scale
    return sign * shown, Decimal(5) * Decimal(10) ** (-len(decimals or "") - 1) * scale


AMOUNTS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.decimals(min_value=Decimal("-1e300"), max_value=Decimal("1e300"), allow_nan=False, allow_infinity=False,
                places=2).map(lambda d: int(d * CENT)),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: int(Decimal(f) * CENT)),
    st.sampled_from([99_999_999, 99_950, 999_999_999_999_999_99, 10**17, -(10**17), 0, 1, -1]),
)
CODES = st.sampled_from(["USD", "EUR", "JPY", "CHF", "CAD", "XYZ", "BTC"])


@settings(max_examples=300)
@given(minor=AMOUNTS, currency=CODES, places=st.sampled_from([1, 0]))
def test_a_compact_value_is_short_never_cut_and_reads_back_within_rounding(minor: int, currency: str,
                                                                           places: int) -> None:
    text = format_compact(minor, currency, places=places)
    assert "…" not in text
    assert cells(text) <= (13 if places else 11), text
    shown, rounding = parse(text, currency)
    digits = CURRENCIES.get(currency, ("", 2))[1]
    amount = Decimal(minor).scaleb(-digits)
    assert abs(shown - amount) <= rounding * Decimal("1.000001"), (minor, text)


@settings(max_examples=300)
@given(minor=AMOUNTS, currency=CODES, period=st.sampled_from(list(Period)), width=st.integers(14, 40))
def test_a_value_fitted_to_a_card_keeps_its_period_and_its_digits(minor: int, currency: str, period: Period,
                                                                   width: int) -> None:
    text = format_fitted(minor, currency, period, width)
    assert cells(text) <= width and "…" not in text, text
    assert text.endswith(PERIOD_SUFFIX[period])
    suffix = PERIOD_SUFFIX[period]
    assert text in (format_money(minor, currency, period), format_compact(minor, currency) + suffix,
                    format_compact(minor, currency, places=0) + suffix), "the exact value, or a compact one"


def test_a_currency_code_of_any_length_keeps_the_value_short() -> None:
    text = format_compact(10**17, "ZIMBABWEDOLLAR")
    assert text.endswith(" 1e15") and cells(text) <= 13
    assert format_fitted(-(10**17), "ZIMBABWEDOLLAR", Period.MONTHLY, 14).endswith("1e15/mo")


async def test_a_huge_value_on_a_narrow_card_keeps_its_magnitude_and_period(tmp_path: Path, make_app: MakeApp) -> None:
    """`€1000000B…` was drawn for €1e15/mo: the magnitude garbled and the period cut."""

    path = tmp_path / "w.sqlite3"
    create_workspace(path, demo_size=None)
    at = datetime(2026, 11, 1, tzinfo=UTC)
    cards = [
        Opportunity(id="o1", name="Huge", status_id="st_lead", value=10**17, currency="EUR",
                    period=Period.MONTHLY, confidence=100, created=at, updated=at),
        Opportunity(id="o2", name="Boundary", status_id="st_qualified", value=99_999_999, currency="USD",
                    period=Period.ANNUAL, confidence=90, created=at, updated=at),
        Opportunity(id="o3", name="Owed", status_id="st_demo", value=-(10**17), currency="CHF",
                    period=Period.MONTHLY, confidence=100, created=at, updated=at),
        Opportunity(id="o4", name="Absurd", status_id="st_proposal", value=9 * 10**18, currency="USD",
                    period=Period.ANNUAL, confidence=50, created=at, updated=at),
    ]
    with closing(sqlite3.connect(path)) as conn, conn:
        write_pipeline(conn, DEMO_PIPELINE)
        insert_opportunities(conn, cards)
    app = make_app(LocalBackend(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert re.search(r"€1e15/mo +100%", text), text
    assert re.search(r"\$1M/yr +90%", text), text
    assert "-CHF 1e15/mo" in text, "the confidence gives way to the value (its details show it)"
    assert re.search(r"\$9e16/yr +50%", text), text  # near the most SQLite's INTEGER holds
    assert re.search(r"-CHF 1(\.2)?e16/yr", text) and "€1.2e16/yr" in text, "headers: the period after the number"
    values = [line for line in text.splitlines() if "unassigned" not in line and "unassign…" not in line]
    assert not any("…" in line for line in values), text


async def test_column_totals_past_what_sqlite_adds_up_still_load_the_board(tmp_path: Path, make_app: MakeApp) -> None:
    """Three deals of $9e16 in one column overflowed SQLite's sum() and a monthly one its multiplication (a REAL):
    the whole board failed to load (`unexpected ValidationError`). The totals are added up exactly instead."""

    path = tmp_path / "w.sqlite3"
    create_workspace(path, demo_size=None)
    at = datetime(2026, 11, 1, tzinfo=UTC)
    big = 9 * 10**18  # near the most SQLite's INTEGER holds
    cards = [Opportunity(id=f"o{i}", name=f"Big {i}", status_id="st_lead", value=big, currency="USD",
                         confidence=50, created=at, updated=at) for i in range(3)]
    cards.append(Opportunity(id="m", name="Monthly", status_id="st_qualified", value=big, currency="USD",
                             period=Period.MONTHLY, confidence=100, created=at, updated=at))
    with closing(sqlite3.connect(path)) as conn, conn:
        write_pipeline(conn, DEMO_PIPELINE)
        insert_opportunities(conn, cards)
    backend = LocalBackend(path)
    starts = {s.status_id: s for s in await backend.first_screen(DEMO_PIPELINE, 10)}
    assert starts["st_lead"].totals == {"USD": 3 * big} and starts["st_lead"].weighted == {"USD": 3 * big // 2}
    assert starts["st_qualified"].totals == {"USD": 12 * big} and starts["st_qualified"].recurring
    app = make_app(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert "4 deals" in text and "$2.7e17" in text and "$1.1e18/yr" in text, text


@pytest.mark.parametrize("crm", ["bottlecrm", "pipedrive", "hubspot"])
@pytest.mark.parametrize("amount", ["Infinity", "-inf", "NaN", "sNaN", "1e999999999", "-1e999999999", "1e40", True])
def test_an_amount_no_money_can_be_is_refused_at_once_by_every_crm(crm: str, amount: object) -> None:
    """A CRM's amount is read into minor units by one function (money.minor_units): "Infinity" raised an
    OverflowError the backend did not catch, and "1e999999999" had BottleCRM build a billion-digit integer (it
    hung). Each is a ValueError at once (the card is skipped and said), whatever the CRM."""
    import importlib

    module = importlib.import_module(f"kanban_tui.backends.{crm}")
    with pytest.raises(ValueError):
        module.minor_units(amount, "USD")


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**15), max_value=10**15, places=2))
def test_minor_units_reads_an_amount_exactly(amount: Decimal) -> None:
    from kanban_tui.money import minor_units

    assert minor_units(str(amount), "USD") == int(amount * 100)
    assert minor_units(str(amount), "JPY") == int(amount.to_integral_value())
    assert minor_units(None, "USD") is None and minor_units("", "USD") is None
