"""What CRMs that cannot ask "what changed since" share: a poll re-scans the whole list.

Clustr and TeleCRM document no updated-since filter. A `RescanBackend` keeps a
fingerprint of every card it delivered (the CRM's `updated_at`, or a hash of the record
where the CRM has no modification time); a poll pages through the list again and reports
only the cards whose fingerprint changed, and the ids no longer listed as removed.

A subclass implements one abstract async generator, `_scan()`, yielding `ScanPage`s:
the page's cards each with its fingerprint, the skipped-record lines, the total the CRM
announced (or None), whether more pages follow, and whether the scan was cut short (an
`http.Listing` ended it: a page that added nothing new, too many pages). `load_opportunities`,
`changes_since` and a `fetch_one` that never disturbs what is held are built on it. A poll
whose scan was cut short removes nothing: what it did not reach may be there still.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Hashable, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import NamedTuple

from ..models import Changes, Opportunity, Page, Pipeline
from .http import HttpBackend


class ScanPage(NamedTuple):
    """One page of a full listing."""

    cards: Sequence[tuple[Opportunity, Hashable]]
    """Each card with its fingerprint: equal fingerprints mean nothing changed."""
    skipped: list[str]
    total: int | None
    has_more: bool
    cut_short: bool = False
    """The scan stopped before the CRM said it was done (its line is in `skipped`): not the whole list."""


class RescanBackend(HttpBackend):
    """An HTTP CRM whose polls re-scan every card and report what differs from what is held."""

    poll_interval = 60.0
    """No updated-since filter: every poll pages through the whole list, so poll less often."""

    def __init__(self) -> None:
        self._known: dict[str, Hashable] = {}
        """Card id -> its fingerprint when last delivered (by a load, a poll or a move)."""

    @abstractmethod
    def _scan(self) -> AsyncGenerator[ScanPage]:
        """Every page of the CRM's list, in order (an async generator)."""

    def _remember(self, opportunity_id: str, fingerprint: Hashable) -> None:
        """What a move left the card as; a fingerprint no scan gives makes the next poll report it."""
        self._known[opportunity_id] = fingerprint

    async def load_opportunities(self, pipeline: Pipeline) -> AsyncIterator[Page]:
        self._known.clear()
        loaded = 0
        async for page in self._scan():
            new = [(c, f) for c, f in page.cards if c.id not in self._known]
            self._known.update((c.id, f) for c, f in new)
            loaded += len(new)
            total = max(page.total or 0, loaded) if page.has_more else loaded
            yield Page(opportunities=[c for c, _ in new], loaded=loaded, total=total, skipped=page.skipped)

    async def changes_since(self, pipeline: Pipeline, cursor: str | None) -> Changes:
        """A re-scan: only what differs from what we hold is reported."""
        now = datetime.now(UTC).isoformat()
        if cursor is None:
            return Changes(cursor=now)
        seen: dict[str, Hashable] = {}
        upserted: list[Opportunity] = []
        skipped_all: list[str] = []
        whole = True
        async for page in self._scan():
            skipped_all += page.skipped
            whole = whole and not page.cut_short
            for card, fingerprint in page.cards:
                seen[card.id] = fingerprint
                if self._known.get(card.id) != fingerprint:
                    upserted.append(card)
        if not whole:  # not the whole list: nothing is removed for not being in it
            self._known.update(seen)
            return Changes(upserted=upserted, removed=[], cursor=now, skipped=skipped_all)
        removed = sorted(set(self._known) - seen.keys())
        self._known = seen
        return Changes(upserted=upserted, removed=removed, cursor=now, skipped=skipped_all)

    async def fetch_one(self, pipeline: Pipeline, opportunity_id: str) -> Opportunity | None:
        """By a scan that stops at the card (what is held is left as it is); a CRM that can read
        one record overrides this with one request."""
        async with aclosing(self._scan()) as pages:
            async for page in pages:
                for card, _ in page.cards:
                    if card.id == opportunity_id:
                        return card if pipeline.status(card.status_id) is not None else None
        return None
