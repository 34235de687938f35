"""What the user types into a deal's fields (`kanban_tui.fields`): each field's words, its one-line errors, the
round trip from what the form shows back to the deal's value, and `dealboard set`'s `field=value` words."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kanban_tui.fields import (
    FieldError,
    format_confidence,
    format_date,
    format_field,
    format_owner,
    format_period,
    format_value,
    matching_users,
    parse_assignments,
    parse_confidence,
    parse_currency,
    parse_date,
    parse_field,
    parse_name,
    parse_note,
    parse_owner,
    parse_period,
    parse_value,
)
from kanban_tui.models import EDIT_FIELDS, Edit, Opportunity, Period, User, field_value
from kanban_tui.money import CURRENCIES
from kanban_tui.text import safe_text

TODAY = date(2026, 1, 31)
USERS = [User(id="u1", name="Lee Chen"), User(id="u2", name="Leo Park"), User(id="u3", name="Ann"),
         User(id="u4", name="Anna Berg")]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def deal(**fields: object) -> Opportunity:
    base: dict[str, object] = {"id": "d1", "name": "Acme", "status_id": "s1", "created": NOW, "updated": NOW}
    return Opportunity.model_validate(base | fields)


def error_of(parse, *args: object) -> str:
    with pytest.raises(FieldError) as raised:
        parse(*args)
    return str(raised.value)


# -- value ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("12500", "USD", 1_250_000),
    ("12,500", "USD", 1_250_000),
    ("12.5k", "USD", 1_250_000),
    ("12.5K", "USD", 1_250_000),
    ("1.2M", "USD", 120_000_000),
    ("1.2m", "USD", 120_000_000),
    ("2bn", "USD", 200_000_000_000),
    ("$1,200.50", "USD", 120_050),
    ("  $ 1,200.5 ", "USD", 120_050),
    ("1200 usd", "USD", 120_000),
    ("€99.99", "EUR", 9_999),
    ("¥1,200", "JPY", 1_200),
    ("1.5k", "JPY", 1_500),
    ("$40", "CAD", 4_000),  # a Canadian writes dollars as `$`
    ("SEK 100", "SEK", 10_000),  # a currency the board has no symbol for: its code
    ("12 500", "USD", 1_250_000),
    (".5k", "USD", 50_000),
    ("0", "USD", 0),
])
def test_a_value_is_read_in_the_currencys_minor_units(text: str, currency: str, minor: int) -> None:
    assert parse_value(text, currency) == minor


def test_nothing_typed_clears_the_value() -> None:
    assert parse_value("", "USD") is None
    assert parse_value("   ", "USD") is None


@pytest.mark.parametrize(("text", "currency", "said"), [
    ("abc", "USD", "'abc' is not an amount: write e.g. 12,500, 12.5k or 1.2M"),
    ("1,2", "USD", "commas group thousands"),
    ("1,234,5", "USD", "commas group thousands"),
    ("-5", "USD", "a value cannot be negative"),
    ("$-5", "USD", "a value cannot be negative"),
    ("$1.005", "USD", "USD takes at most 2 decimals"),
    ("1.5", "JPY", "JPY takes no decimals"),
    ("€5", "USD", "that is EUR; this deal is in USD"),
    ("5 gbp", "USD", "that is GBP; this deal is in USD"),
    ("1e5", "USD", "is not an amount"),
    ("9" * 40, "USD", "too large"),
    ("1" * 100, "USD", "too long"),
    ("12k5", "USD", "is not an amount"),
    ("1.2.3", "USD", "is not an amount"),
])
def test_a_value_that_is_no_amount_is_said_in_one_line(text: str, currency: str, said: str) -> None:
    message = error_of(parse_value, text, currency)
    assert said in message
    assert "\n" not in message


@pytest.mark.parametrize(("minor", "currency", "shown"), [
    (1_250_000, "USD", "12,500"), (120_050, "USD", "1,200.50"), (5, "USD", "0.05"), (1_200, "JPY", "1,200"),
    (None, "USD", ""), (0, "EUR", "0"),
])
def test_a_value_is_shown_in_major_units_without_noise(minor: int | None, currency: str, shown: str) -> None:
    assert format_value(minor, currency) == shown


@given(st.integers(min_value=0, max_value=10**20), st.sampled_from([*CURRENCIES, "SEK", "XYZ"]))
def test_a_value_shown_reads_back_the_same(minor: int, currency: str) -> None:
    assert parse_value(format_value(minor, currency), currency) == minor


@given(st.text(max_size=80), st.sampled_from([*CURRENCIES, "SEK"]))
def test_any_text_is_a_value_or_one_line_saying_why_not(text: str, currency: str) -> None:
    try:
        minor = parse_value(text, currency)
    except FieldError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert minor is None or minor >= 0


@given(st.from_regex(r"\A[$€£¥]?\s?[0-9,. ]{0,12}\s?[kKmMbB]?\s?(USD|usd|EUR)?\Z"), st.sampled_from(list(CURRENCIES)))
def test_amount_like_text_is_a_value_or_one_line_saying_why_not(text: str, currency: str) -> None:
    try:
        parse_value(text, currency)
    except FieldError as error:
        assert str(error) and "\n" not in str(error)


# -- currency, period, confidence -------------------------------------------------------------------------------

def test_a_currency_is_three_letters_upper_case() -> None:
    assert parse_currency(" eur ") == "EUR"
    assert error_of(parse_currency, "EURO") == "a currency is 3 letters, e.g. USD or EUR"
    assert error_of(parse_currency, "") == "a currency is 3 letters, e.g. USD or EUR"
    assert error_of(parse_currency, "€") == "a currency is 3 letters, e.g. USD or EUR"


@pytest.mark.parametrize(("text", "period"), [
    ("one_time", Period.ONE_TIME), ("once", Period.ONE_TIME), ("One Time", Period.ONE_TIME),
    ("monthly", Period.MONTHLY), ("m", Period.MONTHLY), ("/mo", Period.MONTHLY), ("MONTH", Period.MONTHLY),
    ("annual", Period.ANNUAL), ("yearly", Period.ANNUAL), ("y", Period.ANNUAL), ("/yr", Period.ANNUAL),
])
def test_a_period_has_its_words(text: str, period: Period) -> None:
    assert parse_period(text) == period


def test_a_period_that_is_none_is_said() -> None:
    assert error_of(parse_period, "weekly") == "the period is one_time, monthly or annual"
    assert error_of(parse_period, "") == "the period is one_time, monthly or annual"


@pytest.mark.parametrize("period", list(Period))
def test_a_period_shown_reads_back(period: Period) -> None:
    assert parse_period(format_period(period)) == period


@pytest.mark.parametrize(("text", "confidence"), [("40", 40), ("40%", 40), (" 7 % ", 7), ("0", 0), ("100", 100),
                                                  ("", None)])
def test_a_confidence_is_a_percentage(text: str, confidence: int | None) -> None:
    assert parse_confidence(text) == confidence


def test_a_confidence_out_of_range_or_no_number_is_said() -> None:
    assert error_of(parse_confidence, "140") == "confidence is 0 to 100"
    assert error_of(parse_confidence, "-5") == "confidence is a whole number from 0 to 100, e.g. 40"
    assert error_of(parse_confidence, "40.5") == "confidence is a whole number from 0 to 100, e.g. 40"
    assert error_of(parse_confidence, "9" * 5000) == "confidence is a whole number from 0 to 100, e.g. 40"


@given(st.one_of(st.none(), st.integers(0, 100)))
def test_a_confidence_shown_reads_back(confidence: int | None) -> None:
    assert parse_confidence(format_confidence(confidence)) == confidence


# -- close date -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "day"), [
    ("2026-03-15", date(2026, 3, 15)), ("2026-3-5", date(2026, 3, 5)), ("today", TODAY), ("Tomorrow", date(2026, 2, 1)),
    ("+10d", date(2026, 2, 10)), ("+2w", date(2026, 2, 14)), ("+1m", date(2026, 2, 28)), ("+1M", date(2026, 2, 28)),
    ("+13m", date(2027, 2, 28)), ("+1y", date(2027, 1, 31)), ("-3d", date(2026, 1, 28)), ("+ 2 w", date(2026, 2, 14)),
    ("", None),
])
def test_a_close_date_is_a_day_or_a_step_from_today(text: str, day: date | None) -> None:
    assert parse_date(text, TODAY) == day


def test_a_close_date_that_is_no_date_is_said() -> None:
    assert error_of(parse_date, "2026-02-30", TODAY) == "no such date: '2026-02-30'"
    assert error_of(parse_date, "next week", TODAY) == ("'next week' is not a date: write YYYY-MM-DD, today, or"
                                                        " +10d / +2w / +1m")
    assert error_of(parse_date, "+99999y", TODAY) == "'+99999y' is too far away"
    assert error_of(parse_date, "+99999999999d", TODAY) == "'+99999999999d' is too far away"
    assert "not a date" in error_of(parse_date, "2026-01-01" * 20, TODAY)


@given(st.dates())
def test_a_close_date_shown_reads_back(day: date) -> None:
    assert parse_date(format_date(day), TODAY) == day


@given(st.text(max_size=40), st.dates())
def test_any_text_is_a_date_or_one_line_saying_why_not(text: str, today: date) -> None:
    try:
        parse_date(text, today)
    except FieldError as error:
        assert str(error) and "\n" not in str(error)


@given(st.from_regex(r"\A[+-][0-9]{1,7}[dwmy]\Z"), st.dates())
def test_a_step_anywhere_in_the_calendar_is_a_date_or_too_far(text: str, today: date) -> None:
    try:
        parse_date(text, today)
    except FieldError as error:
        assert "too far" in str(error)


# -- name, owner, note ------------------------------------------------------------------------------------------

def test_a_name_is_trimmed_made_safe_and_never_empty() -> None:
    assert parse_name("  Acme Corp ") == "Acme Corp"
    assert parse_name("Evil\x1b]52;c;x\x07") == "Evil␛]52;c;x␇"
    assert error_of(parse_name, "   ") == "a name cannot be empty"
    assert error_of(parse_name, "x" * 501) == "a name is at most 500 characters"


@given(st.text(max_size=50))
def test_a_name_shown_reads_back(text: str) -> None:
    try:
        name = parse_name(text)
    except FieldError:
        return
    assert parse_name(name) == name
    assert safe_text(name) == name


@pytest.mark.parametrize(("text", "user_id"), [
    ("Lee Chen", "u1"), ("lee chen", "u1"), ("lee c", "u1"), ("leo", "u2"), ("Ann", "u3"), ("anna", "u4"),
    ("u4", "u4"),
])
def test_an_owner_is_a_user_by_name_or_the_start_of_one(text: str, user_id: str) -> None:
    owner = parse_owner(text, USERS)
    assert owner is not None and owner.id == user_id


def test_an_owner_who_is_no_one_or_several_is_said() -> None:
    assert error_of(parse_owner, "le", USERS) == "'le' could be Lee Chen or Leo Park: type more of the name"
    assert error_of(parse_owner, "zed", USERS) == "no user named 'zed' (users: Lee Chen, Leo Park, Ann, Anna Berg)"
    assert error_of(parse_owner, "lee", None) == "this CRM cannot list its users here: the owner cannot be changed"
    assert parse_owner("", USERS) is None  # no owner


def test_the_owner_picker_lists_who_the_text_could_be() -> None:
    assert [u.name for u in matching_users("", USERS)] == ["Lee Chen", "Leo Park", "Ann", "Anna Berg"]
    assert [u.name for u in matching_users("LE", USERS)] == ["Lee Chen", "Leo Park"]
    assert [u.name for u in matching_users("ann", USERS)] == ["Ann"]  # the exact name, not its longer namesake


def test_the_owner_shown_is_the_users_name_by_id() -> None:
    assert format_owner(deal(owner="lee", owner_id="u1"), USERS) == "Lee Chen"
    assert format_owner(deal(owner="someone gone", owner_id="u9"), USERS) == "someone gone"
    assert format_owner(deal(), USERS) == ""


def test_a_note_is_one_trimmed_safe_line_or_nothing() -> None:
    assert parse_note("  called, will sign Friday ") == "called, will sign Friday"
    assert parse_note("   ") is None
    assert parse_note("a\x1bb") == "a␛b"
    assert error_of(parse_note, "x" * 5001) == "a note is at most 5000 characters"


# -- every field, and the whole edit ----------------------------------------------------------------------------

def deals() -> st.SearchStrategy[Opportunity]:
    currency = st.sampled_from([*CURRENCIES, "SEK"])
    return st.builds(
        lambda cur, value, period, confidence, close, owner, name: deal(
            currency=cur, value=value, period=period, confidence=confidence, close_date=close,
            owner=owner.name if owner else None, owner_id=owner.id if owner else None, name=name),
        currency, st.one_of(st.none(), st.integers(0, 10**15)), st.sampled_from(list(Period)),
        st.one_of(st.none(), st.integers(0, 100)), st.one_of(st.none(), st.dates()),
        st.one_of(st.none(), st.sampled_from(USERS)),
        st.text(min_size=1, max_size=30).filter(lambda s: s.strip() == s and bool(s.strip())),
    )


@given(deals())
def test_every_field_the_form_starts_with_reads_back_as_the_deals_value(opportunity: Opportunity) -> None:
    for name in EDIT_FIELDS:
        text = format_field(name, opportunity, USERS)
        parsed = parse_field(name, text, currency=opportunity.currency, users=USERS, today=TODAY)
        assert Edit.model_validate({name: parsed}).value_of(name) == field_value(opportunity, name), name


def test_set_words_become_one_edit_of_those_fields_only() -> None:
    edit = parse_assignments(["value=12.5k", "close=+2w", "conf=40%", "owner=leo", "name= Acme 2 "],
                             deal(value=100), USERS, TODAY)
    assert isinstance(edit, Edit)
    assert edit.fields == ("value", "confidence", "close_date", "owner", "name")
    assert (edit.value, edit.confidence, edit.close_date, edit.name) == (1_250_000, 40, date(2026, 2, 14), "Acme 2")
    assert edit.owner == User(id="u2", name="Leo Park")


def test_set_reads_a_value_in_the_currency_set_with_it() -> None:
    edit = parse_assignments(["value=1200", "currency=jpy", "period=m"], deal(currency="USD"), USERS, TODAY)
    assert isinstance(edit, Edit)
    assert (edit.value, edit.currency, edit.period) == (1200, "JPY", Period.MONTHLY)
    usd = parse_assignments(["value=1200"], deal(currency="USD"), USERS, TODAY)
    assert isinstance(usd, Edit) and usd.value == 120_000


def test_set_clears_with_nothing_after_the_equals() -> None:
    edit = parse_assignments(["value=", "close_date=", "confidence=", "owner="], deal(value=5), USERS, TODAY)
    assert isinstance(edit, Edit)
    assert edit.fields == ("value", "confidence", "close_date", "owner")
    assert (edit.value, edit.confidence, edit.close_date, edit.owner) == (None, None, None, None)


@pytest.mark.parametrize(("words", "said"), [
    ([], "nothing to set: write field=value, e.g. value=12k close=+2w (fields: value, currency, period, confidence,"
         " close, owner, name)"),
    (["value"], "'value': write field=value"),
    (["colour=red"], "no field 'colour': write field=value"),
    (["value=1", "value=2"], "value is given twice"),
    (["close=2026-02-30"], "close date: no such date: '2026-02-30'"),
    (["conf=140"], "confidence: confidence is 0 to 100"),
    (["value=abc"], "value: 'abc' is not an amount"),
    (["name="], "name: a name cannot be empty"),
    (["currency="], "currency: a currency is 3 letters"),
    (["owner=le"], "owner: 'le' could be Lee Chen or Leo Park"),
    ([f"x{n}=1" for n in range(10_000)], "no field 'x0'"),
    (["value=1"] * 10_000, "value is given twice"),
])
def test_set_words_that_are_wrong_are_one_line(words: list[str], said: str) -> None:
    answer = parse_assignments(words, deal(), USERS, TODAY)
    assert isinstance(answer, str)
    assert answer.startswith(said)
    assert "\n" not in answer


@given(st.lists(st.text(max_size=30), max_size=9), deals())
def test_any_words_are_an_edit_or_one_line(words: list[str], opportunity: Opportunity) -> None:
    answer = parse_assignments(words, opportunity, USERS, TODAY)
    assert isinstance(answer, Edit) or (answer and "\n" not in answer)


def test_the_parsers_are_pure_no_textual_no_io() -> None:
    code = ("import sys, kanban_tui.fields; "
            "print(sorted(m for m in ('textual', 'httpx', 'sqlite3') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
