"""The search and the owner filter over one column: its cards in lists a keystroke reads with C built-ins.

Plain Python, no I/O. `Board` keeps one `ColumnSearch` per column it has searched (made on the first read, kept
in step card by card, made again after a load's page) and asks it which cards are shown and what they add up to.
At 50,000 cards a keystroke costs ~1 ms a word: words are tested with `map(contains, ...)`, masks are bytes,
totals are summed with `itemgetter` pickers per currency; typing on (a narrower search) tests only the cards
shown so far; the last `MEMO` searches of a column are remembered (backspace).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import compress, repeat
from operator import and_, contains, eq, itemgetter, not_
from typing import TYPE_CHECKING, Any

from .totals import ColumnSummary, ColumnTotals, Contribution

if TYPE_CHECKING:
    from .board import SortKey

Mask = bytes
"""Per card of a column, 1 where it is shown, 0 where not (a byte each: C built-ins read it as small ints)."""
MEMO = 16
"""Searches remembered per column (their masks and totals), so that backspace costs what the first time did not."""
_NO_CONTRIBUTION = (None, 0, 0, False)


Picker = Callable[[Sequence[Any]], Sequence[Any]]
_Group = tuple[str, Picker, Sequence[int], Sequence[int], tuple[int, int]]


def _picker(positions: list[int]) -> Picker:
    """Picks the items at `positions` out of a sequence, in C (`itemgetter`, which returns a bare item for one)."""
    if len(positions) == 1:
        only = positions[0]
        return lambda items: (items[only],)
    if not positions:
        return lambda items: ()
    return itemgetter(*positions)


def _places(n: int, selected: Iterable[Any]) -> list[int]:
    """The places (0 to n - 1) whose `selected` item is true."""
    return list(compress(range(n), selected))


class ColumnSearch:
    """One column's cards as a search reads them, in lists aligned with the column's keys, so that a
    keystroke filters and totals a column with C built-ins (`map`, `compress`, `sum`, `itemgetter`) and no
    per-card Python: ~1 ms a word over 50,000 cards. Made on a search's first read of the column, kept in
    step as cards come and go one by one (a move, a poll), made again after a load's page."""

    __slots__ = ("keys", "texts", "owners", "currencies", "annual", "weighted", "recurs", "_groups",
                 "query", "owner", "mask", "shown", "memo")

    def __init__(self, keys: list[SortKey], texts: list[str], contributions: list[Contribution]) -> None:
        self.keys = keys
        """The board's own list of the column's keys (the board keeps it sorted; this follows each change)."""
        self.texts = texts
        """Per card, what the search looks in (name, contact, owner, note), casefolded."""
        self.owners: list[str] | None = None
        """Per card, its owner (UNASSIGNED for none): made on the owner filter's first use."""
        rows = [c or _NO_CONTRIBUTION for c in contributions]
        self.currencies: list[str | None] = [row[0] for row in rows]
        """Per card, what it adds to the totals: currency (None: no value), annualized, weighted, recurring."""
        self.annual: list[int] = [row[1] for row in rows]
        self.weighted: list[int] = [row[2] for row in rows]
        self.recurs: list[bool] = [row[3] for row in rows]
        self._groups: tuple[list[_Group], Picker] | None = None
        self.query: tuple[str, ...] | None = None
        """The search and owner filter `mask` and `shown` are for (None: to be filtered)."""
        self.owner: str | None = None
        self.mask: Mask = b""
        self.shown: list[SortKey] = []
        self.memo: dict[tuple[tuple[str, ...], str | None], list[Any]] = {}
        """The last searches of this column: (words, owner) -> [mask, summary or None]; the newest last."""

    # -- kept in step with the column -----------------------------------------------------------

    def insert(self, index: int, text: str, contribution: Contribution, owner: str) -> None:
        """A card was put at `index` of the column."""
        row = contribution or _NO_CONTRIBUTION
        self.texts.insert(index, text)
        self.currencies.insert(index, row[0])
        self.annual.insert(index, row[1])
        self.weighted.insert(index, row[2])
        self.recurs.insert(index, row[3])
        if self.owners is not None:
            self.owners.insert(index, owner)
        self._changed()

    def delete(self, index: int) -> None:
        """The card at `index` left the column."""
        for values in (self.texts, self.currencies, self.annual, self.weighted, self.recurs, self.owners):
            if values is not None:
                del values[index]
        self._changed()

    def _changed(self) -> None:
        self._groups, self.query = None, None
        self.memo.clear()

    # -- the search --------------------------------------------------------------------------------

    def filter(self, words: tuple[str, ...], owner: str | None, owners: Callable[[], list[str]]) -> bool:
        """Show the cards holding every word and of `owner` (None: anyone's). Returns whether the cards
        shown changed."""
        if self.query == words and self.owner == owner:
            return False
        key = (words, owner)
        entry = self.memo.pop(key, None)
        if entry is None:
            entry = [self._mask(words, owner, owners), None]
            if len(self.memo) >= MEMO:
                del self.memo[next(iter(self.memo))]
        self.memo[key] = entry
        shown = list(compress(self.keys, entry[0]))
        changed = shown != self.shown
        self.query, self.owner, self.mask, self.shown = words, owner, entry[0], shown
        return changed

    def _mask(self, words: tuple[str, ...], owner: str | None, owners: Callable[[], list[str]]) -> Mask:
        texts = self.texts
        if self.query and self.owner == owner and _narrows(self.query, words) and len(self.shown) * 4 < len(texts):
            # typing on: only the cards shown so far can match; test those alone
            places, some = _places(len(texts), self.mask), list(compress(texts, self.mask))
            for word in words:
                has = bytes(map(contains, some, repeat(word)))
                places, some = list(compress(places, has)), list(compress(some, has))
            mask = bytearray(len(texts))
            for place in places:
                mask[place] = 1
            return bytes(mask)
        shown: Mask | None = None
        if owner is not None:
            if self.owners is None:
                self.owners = owners()
            shown = bytes(map(eq, self.owners, repeat(owner)))
        for word in words:
            holds = map(contains, texts, repeat(word))
            shown = bytes(holds) if shown is None else bytes(map(and_, shown, holds))
        return b"\x01" * len(texts) if shown is None else shown

    def summary(self) -> ColumnSummary:
        """Count and totals of the shown cards (kept with the search's mask)."""
        entry = self.memo[(self.query, self.owner)]  # type: ignore[index]
        if entry[1] is None:
            groups, recurring = self._by_currency()
            mask, totals = self.mask, ColumnTotals()
            totals.count = len(self.shown)
            for currency, pick, annual, weighted, whole in groups:
                picked = pick(mask)  # 1 / 0 per card of the currency
                cards, n = sum(picked), len(picked)
                if cards * 2 <= n:  # added up from the cards shown, or down from the whole by those left out
                    some = _picker(_places(n, picked))
                    sums = [sum(some(annual)), sum(some(weighted))]
                else:
                    some = _picker(_places(n, map(not_, picked)))
                    sums = [whole[0] - sum(some(annual)), whole[1] - sum(some(weighted))]
                if cards:
                    totals.by_currency[currency] = [cards, *sums]
            totals.recurring = sum(recurring(mask))
            entry[1] = totals.summary()
        return entry[1]

    def _by_currency(self) -> tuple[list[_Group], Picker]:
        """Per currency: a picker of its cards' places in the column, their annualized and weighted values
        and the sums of both; and a picker of the recurring cards."""
        if self._groups is None:
            places: dict[str, list[int]] = {}
            for place, currency in enumerate(self.currencies):
                if currency is not None:
                    if (some := places.get(currency)) is None:
                        some = places[currency] = []
                    some.append(place)
            groups = []
            for currency, some in places.items():
                pick = _picker(some)
                annual, weighted = pick(self.annual), pick(self.weighted)
                groups.append((currency, pick, annual, weighted, (sum(annual), sum(weighted))))
            self._groups = groups, _picker(_places(len(self.recurs), self.recurs))
        return self._groups


def _narrows(old: tuple[str, ...], new: tuple[str, ...]) -> bool:
    """Every card holding all of `new` holds all of `old` (each old word is inside a new one)."""
    return all(any(word in newer for newer in new) for word in old)
