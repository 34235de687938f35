"""Money formatting: minor units + currency + period -> text for cards and headers.

Pure functions, no I/O. Currencies we do not know are shown with their ISO code (a longer code a CRM
sends is shortened in the compact form: it is a name; the number never is).

The compact form (`$182k`, `€1.2M`, `$1e15`) keeps a value's magnitude whatever its size: it is rounded
(as a float's format rounds) to what it shows, and a value that rounds to 1000 of a unit is shown in the
next one (999,999.99 is `$1M`, never `$1000k`); past T(rillions) it is in scientific notation (`$1.2e15`),
so that a hostile CRM's 1e300 is short too. Values are ints of any size (Decimal past what a float holds).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from .models import Period
from .text import cells, fit

# symbol, digits after the decimal point (ISO 4217 minor units)
CURRENCIES: dict[str, tuple[str, int]] = {
    "USD": ("$", 2),
    "EUR": ("€", 2),
    "GBP": ("£", 2),
    "JPY": ("¥", 0),
    "INR": ("₹", 2),
    "CAD": ("CA$", 2),
    "AUD": ("A$", 2),
    "CHF": ("CHF ", 2),
}

PERIOD_SUFFIX = {Period.ONE_TIME: "", Period.MONTHLY: "/mo", Period.ANNUAL: "/yr"}


def _parts(currency: str) -> tuple[str, int]:
    code = currency.upper()
    return CURRENCIES.get(code, (f"{code} ", 2))


MAX_AMOUNT_DIGITS = 30
"""An amount a CRM sends with more digits before the point than this is no money (10^30 is past any
economy): refused at once, before a huge power of ten is built (a string like `1e999999999` would take minutes)."""


def minor_units(amount: object, currency: str) -> int | None:
    """A CRM's decimal amount (`"1200.50"`, `1200.5`) in minor units of `currency` (USD -> 120050, JPY -> 1200);
    None when there is none. ValueError, naming it, for what is no amount: not a number, a boolean, infinite or NaN,
    or absurdly large. The one reader of an amount for every CRM that sends decimals."""
    if amount is None or amount == "":
        return None
    if isinstance(amount, bool):
        raise ValueError("amount is not a number")
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"amount {str(amount)[:20]!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"amount {str(amount)[:20]!r} is not a finite number")
    if value and value.adjusted() >= MAX_AMOUNT_DIGITS:
        raise ValueError(f"amount {str(amount)[:20]!r} is too large to be money")
    digits = CURRENCIES.get(currency.upper(), ("", 2))[1]
    return int((value.scaleb(digits)).to_integral_value())


def major_units(minor: int, currency: str) -> float:
    """Minor units (cents) to major units (dollars); a value past what a float holds is +-inf (it sorts)."""
    try:
        return minor / (10 ** _parts(currency)[1])
    except OverflowError:
        return math.inf if minor > 0 else -math.inf


def format_money(minor: int | None, currency: str, period: Period = Period.ONE_TIME) -> str:
    """`$12,500/mo`: whole units, cents only when there are some; '-' for no value."""
    if minor is None:
        return "-"
    symbol, digits = _parts(currency)
    whole, cents = divmod(abs(minor), 10**digits)  # exact, whatever the size (a float's would not be)
    text = f"{whole:,}" + (f".{cents:0{digits}d}" if digits and cents else "")
    sign = "-" if minor < 0 else ""
    return f"{sign}{symbol}{text}{PERIOD_SUFFIX[period]}"


_UNITS = ((0, ""), (3, "k"), (6, "M"), (9, "B"), (12, "T"))
"""Powers of ten and their letters; past T: scientific notation."""
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)
"""Enough digits for any value shown with a unit letter (below 1e15: 16 digits and the cents)."""


def compact_number(amount: Decimal, places: int = 1) -> str:
    """A non-negative amount in at most 3 significant digits: `999`, `1k`, `26.2M`, `999T`, `1.2e15`.

    `places`: decimals shown below 100 of a unit (1: `1.2M`; 0: `1M`, shorter, the magnitude kept)."""
    if amount.adjusted() < 15:  # a float holds it to well within what is shown (and rounds as it always has)
        value = float(amount)
        for power, letter in _UNITS:
            scaled = value / 10**power
            text = f"{scaled:.{places if power and scaled < 100 else 0}f}"
            if float(text) < 1000:  # 999.5 is `1k`, 999,999.99 `1M`: never `1000k`
                return _trim(text) + letter
    exponent = amount.adjusted()
    mantissa = amount.scaleb(-exponent, _EXACT).quantize(Decimal(1).scaleb(-places), context=_EXACT)
    if mantissa >= 10:  # 9.96e15 rounds to 1e16
        exponent += 1
        mantissa = amount.scaleb(-exponent, _EXACT).quantize(Decimal(1).scaleb(-places), context=_EXACT)
    return f"{_trim(f'{mantissa:f}')}e{exponent}"


def _trim(number: str) -> str:
    """`1.0` -> `1`; `1.2` stays."""
    return number.rstrip("0").rstrip(".") if "." in number else number


def format_compact(minor: int, currency: str, *, places: int = 1) -> str:
    """`$182k`, `€1.2M`, `-$1.2M`, `$1e15`: short totals for column headers and narrow cards, at most
    13 cells (11 with `places=0`), never cut; a currency code longer than 4 cells is shortened (a name: the
    number never is)."""
    symbol, digits = _parts(currency)
    if symbol.endswith(" ") and cells(symbol) > 4:  # a CRM's own name for a currency: a name gives way
        symbol = fit(symbol[:-1], 4) + " "
    number = compact_number(abs(Decimal(minor)).scaleb(-digits, _EXACT), places)
    sign = "-" if minor < 0 and number.strip("0.") else ""  # -0.004 is `$0`, not `-$0`
    return f"{sign}{symbol}{number}"


def format_fitted(minor: int | None, currency: str, period: Period, width: int) -> str:
    """The value for a card line of `width` cells: exact (`$12,500/mo`) where it fits, else compact
    (`$12.5k/mo`), else more compact (`$13k/mo`); the period is always there, the digits never cut. The
    last is returned even when wider than `width` (at least 14 cells it always fits)."""
    text = format_money(minor, currency, period)
    if cells(text) <= width or not minor:
        return text
    suffix = PERIOD_SUFFIX[period]
    text = format_compact(minor, currency) + suffix
    if cells(text) <= width:
        return text
    return format_compact(minor, currency, places=0) + suffix


def format_totals(totals: dict[str, int], limit: int = 1) -> str:
    """Per-currency totals, in the order given (main currency first): `$182k +2 cur`.

    Amounts in different currencies are never added together: there is no exchange
    rate here. The first `limit` are shown; the rest are counted.
    """
    if not totals:
        return "-"
    ranked = list(totals.items())
    shown = " ".join(format_compact(v, c) for c, v in ranked[:limit])
    rest = len(ranked) - limit
    return f"{shown} +{rest} cur" if rest > 0 else shown


def sum_by_currency(items: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Add up (currency, minor units) pairs per currency; the most used currency comes first."""
    totals: dict[str, int] = {}
    counts: dict[str, int] = {}
    for currency, minor in items:
        totals[currency] = totals.get(currency, 0) + minor
        counts[currency] = counts.get(currency, 0) + 1
    return {c: totals[c] for c in sorted(totals, key=lambda c: (-counts[c], c))}
