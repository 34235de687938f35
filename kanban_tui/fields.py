"""What the user types into a deal's fields, and what it becomes: text -> an `Edit` field's type, and back.

Pure functions, no Textual, no I/O. Each `parse_*` returns the field's value or raises `FieldError`, whose message
is ONE line the form says next to the field (and `dealboard set` prints after the field's name): no other exception
escapes, whatever the text. Each `format_*` gives the text a form starts with, and parses back to the same value.

- value: `12500`, `12,500`, `12.5k`, `1.2M`, `$1,200.50` (the currency's own symbol or code, optional), `""` clears
  it; minor units by the currency's decimals (`money.CURRENCIES`: USD 2, JPY 0).
- currency: three letters (`eur` is `EUR`). period: `one_time` / `monthly` / `annual` (`once`, `m`, `/mo`, `yearly`...).
- confidence: `0`-`100`, `40%`; `""` clears it. close date: `YYYY-MM-DD`, `today`, `tomorrow`, `+10d`, `+2w`,
  `+1m`, `+1y` (against the `today` given: no clock is read here), `""` clears it.
- name: not empty, made safe. owner: a user's name (or id), any case; an unambiguous start of a name will do.
- `parse_assignments(["value=12k", "close=+2w"], deal, users, today)`: `dealboard set`'s words as one `Edit`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal

from .models import EDIT_FIELDS, Edit, Opportunity, Period, User
from .money import CURRENCIES, MAX_AMOUNT_DIGITS
from .text import safe_text

MAX_NAME = 500
"""A name longer than this is refused (no CRM's deal or lead name is a page long)."""
MAX_NOTE = 5000
"""A note typed on the board: one line, at most this long."""
_MAX_TEXT = 60
"""Longer text is no value, currency, period, confidence or date: refused before any work is done on it."""
_MAX_RELATIVE = 100_000
"""`+Nd` past this many units (days, weeks, months, years) is no expected close date."""


class FieldError(ValueError):
    """Why a field's text is not a value of it: one line, for the user."""


def _shown(text: str, width: int = 24) -> str:
    """The user's text quoted in a message: made safe, one line, cut."""
    text = safe_text(text.strip())
    return repr(text if len(text) <= width else text[: width - 1] + "…")


# -- value ------------------------------------------------------------------------------------------------------

_SCALE = {"": 0, "k": 3, "m": 6, "mm": 6, "b": 9, "bn": 9}
_AMOUNT = re.compile(r"^(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<scale>k|mm|m|bn|b)?$", re.IGNORECASE)
_GROUPED = re.compile(r"\d{1,3}(,\d{3})+(\.\d*)?(\s*[a-z]+)?", re.IGNORECASE)
"""Commas that group thousands (`12,500`, `1,200.50`, `1,500k`): the only commas a value takes."""


def _symbols() -> list[tuple[str, str]]:
    """(how a currency is written, its code), longest first: `CA$` before `$`, codes too (`USD 12`, `12 EUR`)."""
    marks = [(symbol.strip(), code) for code, (symbol, _) in CURRENCIES.items()]
    marks += [(code, code) for code in CURRENCIES]
    return sorted(set(marks), key=lambda mark: -len(mark[0]))


_MARKS = _symbols()


def _strip_currency(text: str, currency: str) -> str:
    """`text` without the currency it is written in (its symbol or code, before or after the number); FieldError
    when that is another currency than the deal's (the amount would be read in the wrong unit)."""
    code = currency.upper()
    marks = _MARKS if code in CURRENCIES or not code.isalpha() else [(code, code), *_MARKS]
    upper = text.upper()
    for mark, mark_code in marks:
        if upper.startswith(mark):
            rest = text[len(mark):]
        elif upper.endswith(mark):
            rest = text[: -len(mark)]
        else:
            continue
        if mark_code != code and not (mark == "$" and code in _DOLLARS):
            raise FieldError(f"that is {mark_code}; this deal is in {safe_text(currency)} (change the currency)")
        return rest.strip()
    return text


_DOLLARS = frozenset(code for code, (symbol, _) in CURRENCIES.items() if symbol.endswith("$"))
"""Currencies a bare `$` may stand for (CA$ and A$ are written `$` at home)."""


def parse_value(text: str, currency: str) -> int | None:
    """The value typed, in minor units of `currency`; None (clear it) for nothing typed."""
    text = text.strip()
    if not text:
        return None
    if len(text) > _MAX_TEXT:
        raise FieldError("too long for a value: write e.g. 12,500 or 12.5k")
    if text.startswith("-"):
        raise FieldError("a value cannot be negative")
    number = _strip_currency(text, currency)
    if number.startswith("-"):
        raise FieldError("a value cannot be negative")
    if "," in number:
        if not _GROUPED.fullmatch(number):
            raise FieldError(f"{_shown(text)}: commas group thousands (12,500); decimals take a point (12.5)")
        number = number.replace(",", "")
    match = _AMOUNT.match(number.replace(" ", ""))
    if match is None:
        raise FieldError(f"{_shown(text)} is not an amount: write e.g. 12,500, 12.5k or 1.2M")
    amount = Decimal(match["number"]).scaleb(_SCALE[(match["scale"] or "").lower()])
    if amount and amount.adjusted() >= MAX_AMOUNT_DIGITS:
        raise FieldError(f"{_shown(text)} is too large to be a deal's value")
    digits = _decimals(currency)
    minor = amount.scaleb(digits)
    if minor != minor.to_integral_value():
        unit = "no decimals" if digits == 0 else f"at most {digits} decimals"
        raise FieldError(f"{_shown(text)}: {safe_text(currency)} takes {unit}")
    return int(minor)


def _decimals(currency: str) -> int:
    return CURRENCIES.get(currency.upper(), ("", 2))[1]


def format_value(minor: int | None, currency: str) -> str:
    """A value as the form shows it: major units, thousands grouped, decimals only when there are some
    (`12,500`, `1,200.50`); "" for none."""
    if minor is None:
        return ""
    digits = _decimals(currency)
    whole, part = divmod(abs(minor), 10**digits)
    sign = "-" if minor < 0 else ""
    return f"{sign}{whole:,}" + (f".{part:0{digits}d}" if digits and part else "")


# -- currency, period -------------------------------------------------------------------------------------------

_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def parse_currency(text: str) -> str:
    """Three letters, upper case (`eur` is `EUR`)."""
    text = text.strip()
    if not _CURRENCY.match(text):
        raise FieldError("a currency is 3 letters, e.g. USD or EUR")
    return text.upper()


def format_currency(currency: str) -> str:
    return currency


_PERIODS = {
    Period.ONE_TIME: ("one_time", "one time", "one-time", "onetime", "once", "one", "o", "1", "single"),
    Period.MONTHLY: ("monthly", "month", "mo", "m", "/mo", "per month", "a month", "mrr"),
    Period.ANNUAL: ("annual", "annually", "yearly", "year", "yr", "y", "a", "/yr", "per year", "a year", "arr"),
}
_PERIOD_WORDS = {word: period for period, words in _PERIODS.items() for word in words}


def parse_period(text: str) -> Period:
    """`one_time`, `monthly` or `annual` (also `once`, `m`, `/mo`, `yearly`, `y`, ...)."""
    period = _PERIOD_WORDS.get(" ".join(text.strip().lower().split()))
    if period is None:
        raise FieldError("the period is one_time, monthly or annual")
    return period


def format_period(period: Period) -> str:
    return period.value


# -- confidence -------------------------------------------------------------------------------------------------

_PERCENT = re.compile(r"^(\d+)\s*%?$")


def parse_confidence(text: str) -> int | None:
    """A whole percentage, 0 to 100 (`40`, `40%`); None (clear it) for nothing typed."""
    text = text.strip()
    if not text:
        return None
    match = _PERCENT.match(text) if len(text) <= _MAX_TEXT else None
    if match is None:
        raise FieldError("confidence is a whole number from 0 to 100, e.g. 40")
    if int(match[1]) > 100:
        raise FieldError("confidence is 0 to 100")
    return int(match[1])


def format_confidence(confidence: int | None) -> str:
    return "" if confidence is None else str(confidence)


# -- close date -------------------------------------------------------------------------------------------------

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_RELATIVE = re.compile(r"^([+-])\s*(\d+)\s*(d|w|m|y)$", re.IGNORECASE)
_NAMED = {"today": 0, "tomorrow": 1, "yesterday": -1}


def parse_date(text: str, today: date) -> date | None:
    """`YYYY-MM-DD`, `today`, `tomorrow`, or `today` moved by `+10d`, `+2w`, `+1m`, `+1y` (`-3d` too: a month on
    the 31st ends on the month's last day); None (clear it) for nothing typed."""
    text = text.strip()
    if not text:
        return None
    hint = "write YYYY-MM-DD, today, or +10d / +2w / +1m"
    if len(text) > _MAX_TEXT:
        raise FieldError(f"not a date: {hint}")
    lowered = text.lower()
    if lowered in _NAMED:
        return today + timedelta(days=_NAMED[lowered])
    iso = _ISO.match(text)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
        try:
            return date(year, month, day)
        except ValueError:
            raise FieldError(f"no such date: {_shown(text)}") from None
    relative = _RELATIVE.match(text)
    if relative is None:
        raise FieldError(f"{_shown(text)} is not a date: {hint}")
    count = int(relative[2]) * (1 if relative[1] == "+" else -1)
    if abs(count) > _MAX_RELATIVE:
        raise FieldError(f"{_shown(text)} is too far away")
    unit = relative[3].lower()
    try:
        if unit in "dw":
            return today + timedelta(days=count * (7 if unit == "w" else 1))
        return _add_months(today, count * (12 if unit == "y" else 1))
    except (OverflowError, ValueError):
        raise FieldError(f"{_shown(text)} is too far away") from None


def _add_months(start: date, months: int) -> date:
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def format_date(day: date | None) -> str:
    return "" if day is None else day.isoformat()


# -- name, owner, note ------------------------------------------------------------------------------------------

def parse_name(text: str) -> str:
    """The name typed, made safe and trimmed; never empty."""
    name = safe_text(text).strip()
    if not name:
        raise FieldError("a name cannot be empty")
    if len(name) > MAX_NAME:
        raise FieldError(f"a name is at most {MAX_NAME} characters")
    return name


def format_name(name: str) -> str:
    return name


def matching_users(text: str, users: Iterable[User]) -> list[User]:
    """The users `text` names: those whose name (any case) or id is exactly it; else those whose name starts
    with it (the owner picker's list as the user types; every user for nothing typed)."""
    wanted = " ".join(text.split()).casefold()
    users = list(users)
    exact = [u for u in users if u.name.casefold() == wanted or u.id == text.strip()]
    if exact:
        return exact
    return [u for u in users if " ".join(u.name.split()).casefold().startswith(wanted)]


def parse_owner(text: str, users: Sequence[User] | None) -> User | None:
    """The user `text` names (a name or an unambiguous start of one, any case; or a user's id); None (no owner)
    for nothing typed."""
    if not text.strip():
        return None
    if users is None:
        raise FieldError("this CRM cannot list its users here: the owner cannot be changed")
    found = matching_users(text, users)
    if len(found) == 1:
        return found[0]
    if not found:
        known = ", ".join(u.name for u in users[:4]) + (", …" if len(users) > 4 else "")
        raise FieldError(f"no user named {_shown(text)}" + (f" (users: {known})" if known else ""))
    names = " or ".join(u.name for u in found[:3]) + (" or …" if len(found) > 3 else "")
    raise FieldError(f"{_shown(text)} could be {names}: type more of the name")


def format_owner(opportunity: Opportunity, users: Sequence[User] | None = None) -> str:
    """The deal's owner as the form shows it: the user's name as the users list has it (by id), else the deal's."""
    if opportunity.owner_id is not None:
        for user in users or ():
            if user.id == opportunity.owner_id:
                return user.name
    return opportunity.owner or ""


def parse_note(text: str) -> str | None:
    """A note typed on one line: trimmed and made safe; None for nothing typed."""
    note = safe_text(text).strip()
    if not note:
        return None
    if len(note) > MAX_NOTE:
        raise FieldError(f"a note is at most {MAX_NOTE} characters")
    return note


# -- the whole edit ---------------------------------------------------------------------------------------------

ALIASES = {
    "value": "value", "amount": "value", "currency": "currency", "period": "period",
    "confidence": "confidence", "conf": "confidence", "close": "close_date", "close_date": "close_date",
    "owner": "owner", "name": "name",
}
"""What `dealboard set` takes before `=`, and the `Edit` field it names."""

FIELD_LABELS = {
    "value": "value", "currency": "currency", "period": "period", "confidence": "confidence",
    "close_date": "close date", "owner": "owner", "name": "name",
}


def parse_field(name: str, text: str, *, currency: str, users: Sequence[User] | None, today: date) -> object:
    """`text` as a value of the `EDIT_FIELDS` field `name` (a value in `currency`'s minor units)."""
    if name == "value":
        return parse_value(text, currency)
    if name == "currency":
        return parse_currency(text)
    if name == "period":
        return parse_period(text)
    if name == "confidence":
        return parse_confidence(text)
    if name == "close_date":
        return parse_date(text, today)
    if name == "owner":
        return parse_owner(text, users)
    if name == "name":
        return parse_name(text)
    raise FieldError(f"no field {_shown(name)}")


def format_field(name: str, opportunity: Opportunity, users: Sequence[User] | None = None) -> str:
    """The deal's `name` field as the form starts with it (parses back to the deal's value)."""
    if name == "value":
        return format_value(opportunity.value, opportunity.currency)
    if name == "currency":
        return format_currency(opportunity.currency)
    if name == "period":
        return format_period(opportunity.period)
    if name == "confidence":
        return format_confidence(opportunity.confidence)
    if name == "close_date":
        return format_date(opportunity.close_date)
    if name == "owner":
        return format_owner(opportunity, users)
    if name == "name":
        return format_name(opportunity.name)
    raise ValueError(f"no field {name!r}")


def parse_assignments(
    assignments: Sequence[str], opportunity: Opportunity, users: Sequence[User] | None, today: date,
) -> Edit | str:
    """`dealboard set DEAL value=12k close=+2w owner=lee`: the `Edit` the words ask for, or ONE line saying what is
    wrong (the first thing). A value is read in the currency set alongside it, else the deal's."""
    usage = "write field=value, e.g. value=12k close=+2w (fields: " + ", ".join(
        ("close" if f == "close_date" else f) for f in EDIT_FIELDS) + ")"
    if not assignments:
        return f"nothing to set: {usage}"
    given: dict[str, str] = {}
    for word in assignments[:len(EDIT_FIELDS) + 1]:
        key, equals, text = word.partition("=")
        if not equals:
            return f"{_shown(word)}: {usage}"
        field = ALIASES.get(key.strip().lower())
        if field is None:
            return f"no field {_shown(key)}: {usage}"
        if field in given:
            return f"{FIELD_LABELS[field]} is given twice"
        given[field] = text
    if len(assignments) > len(EDIT_FIELDS):
        return f"at most {len(EDIT_FIELDS)} fields, each once"
    values: dict[str, object] = {}
    currency = opportunity.currency
    for field in sorted(given, key=lambda f: (f != "currency", EDIT_FIELDS.index(f))):  # a value is read in it
        try:
            values[field] = parse_field(field, given[field], currency=currency, users=users, today=today)
        except FieldError as error:
            return f"{FIELD_LABELS[field]}: {error}"
        if field == "currency":
            currency = str(values[field])
    for field in ("currency", "period"):
        if field in values and values[field] is None:
            return f"{field}: a deal always has one"
    return Edit.model_validate(values)
