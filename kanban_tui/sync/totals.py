"""A column's count and value totals: what each card adds, kept card by card as cards come and go.

Plain Python, no I/O. `contribution_of` says what one card adds (currency, a year's worth of its value, the same
weighted by confidence, whether it recurs); `ColumnTotals` adds and takes away contributions; its `summary()` is the
`ColumnSummary` a column header shows. Currencies are never added together. `report.py` counts with the same
pieces, so the board's headers and `dealboard summary` agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Opportunity, Period


@dataclass(frozen=True)
class ColumnSummary:
    """What a column header shows."""

    count: int
    totals: dict[str, int]
    """Annualized value per currency, minor units (one-time + 12 x monthly + annual)."""
    weighted: dict[str, int]
    """The same, weighted by confidence (expected value)."""
    annualized: bool = False
    """Some values recur (monthly / annual): the totals are a year's worth."""
    approximate: bool = False
    """The CRM's own aggregate while the column's cards are still loading (Close adds up every currency's
    values as one): the header marks it `≈`."""


Contribution = tuple[str, int, int, bool] | None
"""What one card adds to its column's totals: currency, annualized value, weighted, recurring."""


def contribution_of(opportunity: Opportunity) -> Contribution:
    if not opportunity.value:
        return None
    annual = opportunity.annualized_value
    weighted = annual * (opportunity.confidence or 0) // 100
    return opportunity.currency, annual, weighted, opportunity.period is not Period.ONE_TIME


class ColumnTotals:
    """A column's count and per-currency sums, updated as cards come and go."""

    def __init__(self) -> None:
        self.count = 0
        self.recurring = 0
        self.by_currency: dict[str, list[int]] = {}
        """currency -> [cards, annualized total, confidence-weighted total]"""

    def add(self, contribution: Contribution) -> None:
        self.count += 1
        if contribution is not None:
            currency, annual, weighted, recurring = contribution
            sums = self.by_currency.setdefault(currency, [0, 0, 0])
            sums[0] += 1
            sums[1] += annual
            sums[2] += weighted
            self.recurring += recurring

    def remove(self, contribution: Contribution) -> None:
        self.count -= 1
        if contribution is not None:
            currency, annual, weighted, recurring = contribution
            sums = self.by_currency[currency]
            sums[0] -= 1
            sums[1] -= annual
            sums[2] -= weighted
            self.recurring -= recurring
            if sums[0] == 0:
                del self.by_currency[currency]

    def summary(self) -> ColumnSummary:
        """Main currency (the most used) first, as `sum_by_currency` orders them."""
        order = sorted(self.by_currency, key=lambda c: (-self.by_currency[c][0], c))
        return ColumnSummary(
            count=self.count,
            totals={c: self.by_currency[c][1] for c in order},
            weighted={c: self.by_currency[c][2] for c in order},
            annualized=self.recurring > 0,
        )
