"""Money formatting: minor units + currency + period -> text for cards and headers.

Pure functions, no I/O. Currencies we do not know are shown with their ISO code.
"""

from __future__ import annotations

from collections.abc import Iterable

from .models import Period

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


def major_units(minor: int, currency: str) -> float:
    """Minor units (cents) to major units (dollars)."""
    return minor / (10 ** _parts(currency)[1])


def format_money(minor: int | None, currency: str, period: Period = Period.ONE_TIME) -> str:
    """`$12,500/mo`: whole units, cents only when there are some; '-' for no value."""
    if minor is None:
        return "-"
    symbol, digits = _parts(currency)
    amount = major_units(minor, currency)
    if digits and minor % (10**digits):
        text = f"{amount:,.{digits}f}"
    else:
        text = f"{round(amount):,}"
    sign = "-" if minor < 0 else ""
    return f"{sign}{symbol}{text.lstrip('-')}{PERIOD_SUFFIX[period]}"


def format_compact(minor: int, currency: str) -> str:
    """`$182k`, `€1.2M`: short totals for column headers."""
    symbol, _ = _parts(currency)
    amount = abs(major_units(minor, currency))
    sign = "-" if minor < 0 else ""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if amount >= limit:
            scaled = amount / limit
            text = f"{scaled:.1f}".rstrip("0").rstrip(".") if scaled < 100 else f"{scaled:.0f}"
            return f"{sign}{symbol}{text}{suffix}"
    return f"{sign}{symbol}{amount:.0f}"


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
