"""The board model: what the CRM last told us, with the user's intents on top, as columns.

Plain Python, no I/O. `Board` holds every card's server version and, per card, at most one
intent (the status the user last put it in, not yet confirmed by the CRM). A card is drawn
where its intent says, else where the CRM has it. Every change reports which columns it
touched, so the UI redraws only those. Column counts and value totals are kept card by card.

Ordering within a column: most recently updated first (ties by id). A card that has just
been moved counts as updated at the time of the move, so it lands at the top of its new column.

Beside it: `totals.py` (what a card adds to its column's count and totals: `ColumnTotals`, `ColumnSummary`,
`contribution_of`, re-exported here) and `search.py` (`ColumnSearch`: one column as the search and the owner
filter read it, fast at 50,000 cards).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime
from sys import intern

from ..models import Changes, ColumnStart, Edit, NewDeal, Opportunity, Pipeline, Status
from ..money import major_units
from .search import ColumnSearch
from .totals import ColumnSummary, ColumnTotals, Contribution, contribution_of

__all__ = [
    "CHANGE_WORDS", "SORTS", "SORT_NAMES", "UNASSIGNED", "Board", "ColumnSummary", "ColumnTotals", "Contribution",
    "Seen", "SortKey", "contribution_of",
]

SortKey = tuple[float, str]
SORTS = ("updated", "value", "expected", "days", "stalled")
"""Orders within a column: last updated (a move counts), value, expected value, days in status (oldest
first; cards whose CRM does not say last), stalled first."""
SORT_NAMES = {"updated": "last updated", "value": "value", "expected": "expected value", "days": "days in status",
              "stalled": "stalled first"}
UNASSIGNED = ""
"""The owner filter's value for cards with no owner."""
Seen = tuple[str, int | None, str]
"""What the user last saw of a card: its status, its value, its name (to say what is gone)."""
CHANGE_WORDS = ("new", "moved", "re-valued")


def _sort_key(when: datetime, opportunity_id: str) -> SortKey:
    return (-when.timestamp(), opportunity_id)


_SHARED_TEXTS = ("status_id", "currency", "owner", "owner_id")
"""An opportunity's text fields that many cards hold the same value of: held once (`_lighten`)."""
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
"""One `__pydantic_fields_set__` per distinct set of fields (a model's own set is ~700 bytes)."""


def _lighten(opportunity: Opportunity) -> None:
    """Hold what many cards share once: status id, currency and owner texts (`sys.intern`) and one pydantic fields
    set per distinct set of fields, each replaced by an equal one (the model stays frozen, reads the same; a fields
    set is only ever read: `model_copy` copies it first). At 50,000 demo cards ~45 MB less."""
    fields = opportunity.__dict__
    for name in _SHARED_TEXTS:
        value = fields[name]
        if type(value) is str:
            fields[name] = intern(value)
    own = opportunity.__pydantic_fields_set__
    shared = _FIELDS_SETS.get(key := frozenset(own))
    if shared is None:
        if len(_FIELDS_SETS) >= 64:  # bounded: a CRM sending ever other fields keeps its sets
            return
        shared = _FIELDS_SETS[key] = set(own)
    if shared is not own:
        object.__setattr__(opportunity, "__pydantic_fields_set__", shared)


class Board:
    """Server state plus pending moves, as ordered columns of opportunity ids."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._statuses = {s.id: s for s in pipeline.statuses}
        self._server: dict[str, Opportunity] = {}
        self._target: dict[str, tuple[str, datetime]] = {}
        self._edits: dict[str, Edit] = {}
        """The user's edits of a card not yet confirmed (drawn over the server's version: `shown`)."""
        """Per card with an intent: the status the user put it in, and when."""
        self.elsewhere: dict[str, str] = {}
        self.elsewhere_values: dict[str, int | None] = {}
        """A read-only window: the values the other window's owed edits give their cards (the user's own)."""
        """A read-only window: the cards with a move of the user's owed by another window (where it puts them):
        the user's move decides where they end, so they are not marked as moved here."""
        self._columns: dict[str, list[SortKey]] = {s.id: [] for s in pipeline.statuses}
        self._placed: dict[str, tuple[str, SortKey, Contribution]] = {}
        self._totals: dict[str, ColumnTotals] = {s.id: ColumnTotals() for s in pipeline.statuses}
        self._summaries: dict[str, ColumnSummary] = {}
        self.real_update_times = True
        """False where the CRM does not say when a card changed: cards then show no age."""
        self.has_values = True
        """False where the CRM has no deal values: cards show the contact instead."""
        self.badges: dict[str, str] = {}
        """What a card with an intent says of it (`saving…`, `queued`, `retrying`, `asking`): set by the session."""
        self.marked: dict[str, None] = {}
        """The cards the user marked (`space`), in the order marked (an ordered set): set by the session; a card
        that leaves the board leaves the marks."""
        self.sort = "updated"
        """The order within columns: one of SORTS."""
        self._query: tuple[str, ...] = ()
        """The search's words (casefolded): only cards holding every one are shown."""
        self._searches: dict[str, ColumnSearch] = {}
        """Per column, its cards as the search reads them (and what it shows); dropped when the column changes."""
        self._haystack: dict[str, str] = {}
        """Per card, the text a search looks in (name, contact, owner, note), casefolded; dropped when the card
        changes."""
        self._owner: str | None = None
        """The owner filter: only this owner's cards are shown (UNASSIGNED: cards with no owner); None: everyone's."""
        self.loaded = False
        """The whole pipeline has been loaded (an empty column is empty, not waiting for its cards)."""
        self._known: dict[str, ColumnSummary] = {}
        """Columns whose count and totals the CRM gave before their cards (a cold start's first screen): what
        the header says until the column's cards are all here. The one place that idea lives."""
        self.seen: dict[str, Seen] | None = None
        """Per card, what the user last saw of it (the session keeps it across sessions); a card that differs
        from it is marked (`change`). None: nothing was kept, nothing is marked."""

    # -- reading ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._placed)

    def __contains__(self, opportunity_id: object) -> bool:
        return opportunity_id in self._placed

    def card_ids(self) -> list[str]:
        return list(self._placed)

    def has_version(self, opportunity: Opportunity) -> bool:
        """The board already holds this version of the card (or a newer one): a poll's echo of what it knows."""
        known = self._server.get(opportunity.id)
        return known is not None and known.updated >= opportunity.updated and opportunity.id in self._placed

    def server_versions(self) -> list[Opportunity]:
        """Every card on the board as the server last reported it (pending moves and edits not applied; new deals
        the CRM does not have yet left out)."""
        server = self._server
        return [server[opportunity_id] for opportunity_id in self._placed if not opportunity_id.startswith("new:")]

    def status(self, status_id: str) -> Status:
        return self._statuses[status_id]

    def opportunity(self, opportunity_id: str) -> Opportunity:
        """The opportunity as the server last reported it."""
        return self._server[opportunity_id]

    def shown(self, opportunity_id: str) -> Opportunity:
        """The opportunity as it is drawn: the server's version with the user's edits not yet confirmed."""
        edit = self._edits.get(opportunity_id)
        opportunity = self._server[opportunity_id]
        return edit.apply(opportunity) if edit is not None else opportunity

    def edited(self, opportunity_id: str) -> Edit | None:
        """The user's edits of the card not yet confirmed."""
        return self._edits.get(opportunity_id)

    def set_edit(self, opportunity_id: str, edit: Edit | None) -> set[str]:
        """Draw the card with `edit` over the server's version (None: as the server has it)."""
        if edit is None and opportunity_id not in self._edits:
            return set()
        if edit is None:
            del self._edits[opportunity_id]
        else:
            self._edits[opportunity_id] = edit
        self._haystack.pop(opportunity_id, None)
        return self._place(opportunity_id)

    def add_new(self, draft: NewDeal) -> set[str]:
        """A deal the user made that the CRM does not have yet, drawn at once (`draft.card_id`)."""
        if draft.card_id in self._server or self._statuses.get(draft.status_id) is None:
            return set()
        self._server[draft.card_id] = Opportunity(
            id=draft.card_id, name=draft.name, status_id=draft.status_id, value=draft.value,
            currency=draft.currency or "USD", confidence=draft.confidence, created=draft.made_at,
            updated=draft.made_at, read_only="it is not in the CRM yet (saving…)")
        return self._place(draft.card_id)

    def shown_status(self, opportunity_id: str) -> str:
        """The column the card is drawn in (its pending target, if it has one)."""
        return self._placed[opportunity_id][0]

    def target(self, opportunity_id: str) -> str | None:
        """The status the user put the card in, while the CRM has not confirmed it."""
        target = self._target.get(opportunity_id)
        return target[0] if target else None

    def pending_count(self) -> int:
        """Cards with an intent not yet confirmed."""
        return len(self._target)

    def is_pending(self, opportunity_id: str) -> bool:
        return opportunity_id in self._target

    @property
    def filtering(self) -> bool:
        """A search or an owner filter leaves cards out."""
        return bool(self._query) or self._owner is not None

    def _shown(self, status_id: str) -> list[SortKey]:
        """The column as drawn: all its cards, or the search's and the owner filter's matches."""
        if not self._query and self._owner is None:
            return self._columns[status_id]
        search = self._search(status_id)
        if search.query != self._query or search.owner != self._owner:
            self._filter(search)
        return search.shown

    def _search(self, status_id: str) -> ColumnSearch:
        """The column as the search reads it (made now if the column changed since)."""
        search = self._searches.get(status_id)
        if search is None:
            keys = self._columns[status_id]
            haystack, make, placed = self._haystack, self._make_haystack, self._placed
            ids = [key[1] for key in keys]
            search = self._searches[status_id] = ColumnSearch(
                keys, [haystack.get(i) or make(i) for i in ids], [placed[i][2] for i in ids])
        return search

    def _filter(self, search: ColumnSearch) -> bool:
        server = self._server

        def owners() -> list[str]:
            return [server[key[1]].owner or UNASSIGNED for key in search.keys]

        return search.filter(self._query, self._owner, owners)

    def _forget(self, status_ids: Iterable[str]) -> None:
        """These columns changed: what the search made of them goes (made again on the next read)."""
        for status_id in status_ids:
            self._searches.pop(status_id, None)

    def _make_haystack(self, opportunity_id: str) -> str:
        # fields a space apart (a word has none, so it matches within one field); never empty
        o = self.shown(opportunity_id)
        text = self._haystack[opportunity_id] = f"{o.name} {o.contact or ''} {o.owner or ''} {o.note or ''}".casefold()
        return text

    def column_len(self, status_id: str) -> int:
        return len(self._shown(status_id))

    def column_ids(self, status_id: str, start: int = 0, stop: int | None = None) -> list[str]:
        """Ids of the cards drawn in a column, in display order, from `start` to `stop`."""
        return [key[1] for key in self._shown(status_id)[start:stop]]

    def index_of(self, opportunity_id: str) -> int | None:
        """Where the card is drawn in its column, or None if it is not (not on the board, or not a match)."""
        placed = self._placed.get(opportunity_id)
        if placed is None or (self.filtering and not self.matches(opportunity_id)):
            return None
        column = self._shown(placed[0])
        return bisect_left(column, placed[1])

    def summary(self, status_id: str) -> ColumnSummary:
        """Count and value totals of the cards drawn in a column (O(currencies) without a search); while a cold
        load brings a column's cards, what the CRM said of the whole column."""
        known = self._known.get(status_id) if self._known and not self.loaded else None
        if known is not None and not self.filtering and known.count > len(self._columns[status_id]):
            return known
        if self.filtering:
            if len(self._shown(status_id)) < len(self._columns[status_id]):
                return self._searches[status_id].summary()
            # every card shown (a search for `a`): the column's own totals, kept card by card
        summary = self._summaries.get(status_id)
        if summary is None:
            summary = self._summaries[status_id] = self._totals[status_id].summary()
        return summary

    def total_count(self, status_id: str) -> int:
        """Every card of the column, shown by the search or not."""
        return len(self._columns[status_id])

    # -- the order ------------------------------------------------------------------------

    def _key(self, opportunity: Opportunity, moved_at: datetime | None = None) -> SortKey:
        """Where a card sorts in its column, by the board's order (`moved_at`: the user's move)."""
        when = moved_at or opportunity.updated
        if self.sort == "value":  # in major units (¥1,000 is not 100 times $1,000); currencies are not converted
            return (-major_units(opportunity.annualized_value, opportunity.currency), opportunity.id)
        if self.sort == "expected":
            return (-major_units(opportunity.annualized_value, opportunity.currency) * (opportunity.confidence or 0),
                    opportunity.id)
        if self.sort == "days":  # longest in its status first; where the CRM does not say when, last
            since = moved_at or opportunity.status_changed
            return (since.timestamp() if since is not None else 1e12, opportunity.id)
        if self.sort == "stalled":  # stalled deals first, each group most recently updated first
            return ((0.0 if opportunity.stalled else 1e11) - when.timestamp(), opportunity.id)
        return _sort_key(when, opportunity.id)

    def set_sort(self, sort: str) -> set[str]:
        """Order every column anew (one of SORTS); returns the columns to redraw."""
        if sort not in SORTS:
            raise ValueError(f"unknown order {sort!r} (one of {', '.join(SORTS)})")
        if sort == self.sort:
            return set()
        self.sort = sort
        columns: dict[str, list[SortKey]] = {status_id: [] for status_id in self._columns}
        for opportunity_id, (status_id, _, contribution) in list(self._placed.items()):
            target = self._target.get(opportunity_id)
            key = self._key(self._server[opportunity_id], target[1] if target else None)
            self._placed[opportunity_id] = (status_id, key, contribution)
            columns[status_id].append(key)
        for column in columns.values():
            column.sort()
        self._columns = columns
        self._searches.clear()
        return set(columns)

    # -- the search -----------------------------------------------------------------------

    @property
    def query(self) -> str:
        return " ".join(self._query)

    def set_query(self, text: str) -> set[str]:
        """Show only the cards holding every word of `text` (any case; name, contact, owner, note).
        An empty text shows every card. Returns the columns to redraw: those whose cards shown changed
        (every column when the headers go from `412` to `3 of 412` or back)."""
        words = tuple(text.casefold().split())
        if words == self._query:
            return set()
        was_filtering = self.filtering
        self._query = words
        return self._refilter(was_filtering)

    def _refilter(self, was_filtering: bool) -> set[str]:
        """Filter every column now (typing on tests only the cards shown so far); the columns to redraw."""
        if not self.filtering:
            return set(self._columns) if was_filtering else set()
        changed = {status_id for status_id in self._columns if self._filter(self._search(status_id))}
        return set(self._columns) if not was_filtering else changed

    def prepare_search(self) -> None:
        """Make what a search looks in now (the first keystroke at 50,000 cards then costs no more than the next)."""
        for status_id in self._columns:
            self._search(status_id)._by_currency()

    def matches(self, opportunity_id: str) -> bool:
        """The card holds every word of the search and is the filtered owner's (True without either)."""
        if self._owner is not None and (self._server[opportunity_id].owner or UNASSIGNED) != self._owner:
            return False
        if not self._query:
            return True
        haystack = self._haystack.get(opportunity_id) or self._make_haystack(opportunity_id)
        return all(word in haystack for word in self._query)

    # -- the owner filter ------------------------------------------------------------------

    @property
    def owner(self) -> str | None:
        return self._owner

    def set_owner(self, owner: str | None) -> set[str]:
        """Show only `owner`'s cards (UNASSIGNED: those with none; None: everyone's). Returns the columns to redraw."""
        if owner == self._owner:
            return set()
        self._owner = owner  # each column filters again when next read
        return set(self._columns)

    def owners(self) -> list[tuple[str, int]]:
        """The board's owners with their card counts, most cards first (UNASSIGNED for cards with none)."""
        counts: dict[str, int] = {}
        server = self._server
        for opportunity_id in self._placed:
            owner = server[opportunity_id].owner or UNASSIGNED
            counts[owner] = counts.get(owner, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0].casefold()))

    # -- what changed since the user last looked ------------------------------------------------

    def seen_now(self, opportunity_id: str) -> Seen:
        """The card as it is drawn now, in the terms `seen` keeps."""
        o = self.shown(opportunity_id)
        return self._placed[opportunity_id][0], o.value, o.name

    def change(self, opportunity_id: str) -> str | None:
        """How the card differs from what the user last saw of it: `new`, `moved`, `re-valued`, or None.

        A card with a move of the user's not yet confirmed (one made now, or kept in the journal across a
        restart, or owed by another window of the user's: `elsewhere`) is where the user put it: seen there, never
        `moved` (nor `new`: the user moved it)."""
        seen = self.seen
        if seen is None or opportunity_id not in self._placed:
            return None
        before = seen.get(opportunity_id)
        own = opportunity_id in self._target or opportunity_id in self.elsewhere
        if before is None:
            return None if own else "new"
        if before[0] != self._placed[opportunity_id][0] and not own:
            return "moved"
        value = self.shown(opportunity_id).value
        own_value = opportunity_id in self._edits or self.elsewhere_values.get(opportunity_id, before[1]) == value
        if before[1] != value and not own_value:
            return "re-valued"
        return None

    def look(self, opportunity_id: str) -> set[str]:
        """The user has seen the card as it is now: its mark goes; returns the column to redraw."""
        if self.seen is None or opportunity_id not in self._placed or self.change(opportunity_id) is None:
            return set()
        self.seen[opportunity_id] = self.seen_now(opportunity_id)
        return {self._placed[opportunity_id][0]}

    def saw_own(self, opportunity_id: str) -> None:
        """The user's own edit of the card: its value and name as drawn now are what the user saw (never marked
        `re-valued` for it); a mark for another change (a teammate's move) stays."""
        before = self.seen.get(opportunity_id) if self.seen is not None else None
        if before is not None and opportunity_id in self._placed:
            shown = self.shown(opportunity_id)
            self.seen[opportunity_id] = (before[0], shown.value, shown.name)  # type: ignore[index]

    def changed(self) -> list[str]:
        """The marked cards, column by column in board order, each column as drawn."""
        if self.seen is None:
            return []
        change = self.change
        return [
            opportunity_id
            for status in self.pipeline.statuses
            for opportunity_id in self.column_ids(status.id)
            if change(opportunity_id) is not None
        ]

    def gone(self) -> list[str]:
        """Names of the cards the user saw that are no longer on the board."""
        if self.seen is None:
            return []
        return [seen[2] for opportunity_id, seen in self.seen.items() if opportunity_id not in self._placed]

    def seen_to_keep(self) -> dict[str, Seen]:
        """What to keep for the next session: the cards the user has seen as they are, the marked ones as
        they were last seen (a mark not looked at stays); gone cards are dropped (they were said)."""
        seen = self.seen or {}
        kept: dict[str, Seen] = {}
        for opportunity_id in self._placed:
            if self.seen is None or self.change(opportunity_id) is None:
                kept[opportunity_id] = self.seen_now(opportunity_id)
            elif opportunity_id in seen:
                kept[opportunity_id] = seen[opportunity_id]
        return kept

    def shown_count(self) -> int:
        """Cards drawn on the board: all of them, or the search's matches."""
        return sum(len(self._shown(status_id)) for status_id in self._columns)

    # -- placing cards ------------------------------------------------------------------

    def _place(self, opportunity_id: str) -> set[str]:
        """Put a card where server state + pending moves say; return touched columns."""
        touched: set[str] = set()
        old = self._placed.pop(opportunity_id, None)
        if old is not None:
            column = self._columns[old[0]]
            index = bisect_left(column, old[1])
            del column[index]
            if (search := self._searches.get(old[0])) is not None:
                search.delete(index)
            self._totals[old[0]].remove(old[2])
            touched.add(old[0])
        opportunity = self._server.get(opportunity_id)
        if opportunity is not None and (edit := self._edits.get(opportunity_id)) is not None:
            opportunity = edit.apply(opportunity)
        if opportunity is not None:
            target = self._target.get(opportunity_id)
            if target is not None:
                status_id, key = target[0], self._key(opportunity, target[1])
            else:
                status_id, key = opportunity.status_id, self._key(opportunity)
            if status_id in self._columns:
                column = self._columns[status_id]
                index = bisect_left(column, key)
                column.insert(index, key)
                contribution = contribution_of(opportunity)
                if (search := self._searches.get(status_id)) is not None:
                    search.insert(index, self._haystack.get(opportunity_id) or self._make_haystack(opportunity_id),
                                  contribution, opportunity.owner or UNASSIGNED)
                self._totals[status_id].add(contribution)
                self._placed[opportunity_id] = (status_id, key, contribution)
                touched.add(status_id)
        for status_id in touched:
            self._summaries.pop(status_id, None)
        return touched

    def _accept(self, opportunity: Opportunity) -> bool:
        """Take a server version unless we already hold a newer one."""
        known = self._server.get(opportunity.id)
        if known is not None and known.updated > opportunity.updated:
            return False
        if known is not opportunity:
            _lighten(opportunity)
        self._server[opportunity.id] = opportunity
        if known is not None and known is not opportunity:
            self._haystack.pop(opportunity.id, None)
        return True

    def add(self, opportunities: Iterable[Opportunity]) -> set[str]:
        """Add or update opportunities the server reported; return touched columns.

        Cards new to the board with no move pending (a load's pages) are appended and each
        touched column sorted once, rather than inserted one by one.
        """
        touched: set[str] = set()
        batches: dict[str, list[SortKey]] = {}
        batched: set[str] = set()

        def merge_batches() -> None:
            for status_id, keys in batches.items():
                column = self._columns[status_id]
                column.extend(keys)
                column.sort()
                touched.add(status_id)
                self._summaries.pop(status_id, None)
            self._forget(batches)
            batches.clear()
            batched.clear()

        for opportunity in opportunities:
            if opportunity.id in batched:
                merge_batches()  # the same card twice in one page: place the later one normally
            if not self._accept(opportunity):
                continue
            opportunity_id, status_id = opportunity.id, opportunity.status_id
            if opportunity_id in self._placed or opportunity_id in self._target or status_id not in self._columns:
                touched |= self._place(opportunity_id)
                continue
            key = _sort_key(opportunity.updated, opportunity_id) if self.sort == "updated" else self._key(opportunity)
            contribution = contribution_of(opportunity)
            self._totals[status_id].add(contribution)
            self._placed[opportunity_id] = (status_id, key, contribution)
            batches.setdefault(status_id, []).append(key)
            batched.add(opportunity_id)
        merge_batches()
        return touched

    def remove(self, opportunity_ids: Iterable[str]) -> set[str]:
        """Drop opportunities the server no longer has in this pipeline."""
        touched: set[str] = set()
        for opportunity_id in opportunity_ids:
            self._server.pop(opportunity_id, None)
            self._target.pop(opportunity_id, None)
            self._edits.pop(opportunity_id, None)
            self.badges.pop(opportunity_id, None)
            self.marked.pop(opportunity_id, None)
            self._haystack.pop(opportunity_id, None)
            touched |= self._place(opportunity_id)
        return touched

    def apply(self, changes: Changes) -> set[str]:
        """Merge a poll's changes. Intents stay on top of whatever it says."""
        return self.add(changes.upserted) | self.remove(changes.removed)

    # -- intents ------------------------------------------------------------------------

    def set_target(self, opportunity_id: str, status_id: str, made_at: datetime) -> set[str]:
        """Show the card in `status_id` (the user's intent) until the CRM confirms it."""
        if status_id not in self._statuses:
            raise KeyError(f"{status_id} is not a status of {self.pipeline.name}")
        self._target[opportunity_id] = (status_id, made_at)
        return self._place(opportunity_id)

    def clear_target(self, opportunity_id: str, confirmed: Opportunity | None = None) -> set[str]:
        """The intent is settled: show the card where the CRM has it (`confirmed`: as it answered)."""
        self._target.pop(opportunity_id, None)
        self.badges.pop(opportunity_id, None)
        if confirmed is not None and opportunity_id in self._server:
            self._accept(confirmed)
        return self._place(opportunity_id)

    def accept(self, opportunity: Opportunity) -> set[str]:
        """One card as the CRM has it now (read back, or answered by a move)."""
        return self.add([opportunity])

    def set_known(self, starts: Iterable[ColumnStart]) -> set[str]:
        """Each column's count and totals as the CRM gave them before its cards (exact per currency where it
        can group them, else its one aggregate, marked approximate). Returns the columns to redraw."""
        touched = set()
        for start in starts:
            if start.status_id not in self._columns:
                continue
            if start.totals is not None:
                totals, weighted, approximate = dict(start.totals), dict(start.weighted or {}), False
            elif start.total and start.currency:
                totals, weighted = {start.currency: start.total}, {start.currency: start.expected or 0}
                approximate = True
            else:
                totals, weighted, approximate = {}, {}, False
            self._known[start.status_id] = ColumnSummary(count=start.count, totals=totals, weighted=weighted,
                                                         annualized=start.recurring, approximate=approximate)
            touched.add(start.status_id)
        return touched

    def known_count(self, status_id: str) -> int | None:
        """The column's whole count as the CRM gave it, while its cards are still loading (else None)."""
        known = self._known.get(status_id) if not self.loaded else None
        return known.count if known is not None and known.count > len(self._columns[status_id]) else None
