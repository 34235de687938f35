"""Close (close.com): the whole dialect in one file.

API facts used here (see the README's Close section and crm-api-notes):

- Base `https://api.close.com/api/v1/`, every path ends in `/`. HTTP Basic auth with
  the API key as the user name and an empty password.
- `GET pipeline/`: pipelines with their statuses in board order; a status has `id`,
  `label` and `type` (active / won / lost) and no color: colors come from `PALETTE`.
- `GET opportunity/`: `status_id__in`, `date_updated__gt`, `_order_by`, `_fields`,
  `_skip` / `_limit` paging with `has_more` and `total_results`. The server may return
  fewer than `_limit` per page, so paging follows `has_more` and counts what came back.
- `PUT opportunity/{id}/` with `{"status_id": ...}` moves a card (PUT acts as PATCH);
  moving into a won status makes the server set `date_won`.
- Values are in cents; `value_period` is one_time / monthly / annual.
- Errors: 400 `{"errors": [...], "field-errors": {field: message}}`; 401 a bad key;
  429 with `Retry-After` and `RateLimit: limit=…, remaining=…, reset=…`.

- `GET event/` (the Event Log, developer.close.com/api/resources/events.md): "up to 30 days back
  in history", latest first, `_cursor` / `cursor_next` paging (no `_skip`), `_limit` "capped at
  and defaulting to 50"; `object_type` + `action` is an allowed filter pair, `date_updated__gte`
  may be added to any. A deleted opportunity leaves an `action=deleted` event (`data` null).
- The list's aggregates (spec `/opportunity/` GET description), whatever the paging:
  `total_results`, `total_value_annualized` (monthly values x 12) and `expected_value_annualized`
  (the same weighted by confidence), all in cents, added up whatever each value's currency.

A cold start asks for the first screen (`first_screen`): one `GET opportunity/?status_id=…`
per status, newest first, sent together; their aggregates give each column's count and totals.
The whole load (`load_opportunities`) then fetches pages `PARALLEL_PAGES` at a time (fewer as the
`RateLimit` window runs low), yielding them in order.

Polling costs what changed: one `GET opportunity/?date_updated__gt=<newest seen>`
(minus a small overlap, de-duplicated) per poll, across all pipelines so that a card
moved to another pipeline is seen leaving. Deletions leave no trace in that query, so
every `RECONCILE_EVERY` seconds the Event Log is asked for the deletions since the last check,
and the pipeline's count for cards that are present but were never delivered, two requests
sent together. Where the log cannot say (the gap is older than it keeps, or the board was never
loaded whole) or the count disagrees, an id-only listing of the pipeline finds the deleted and
the missing cards: up to `FETCH_ONE_AT_MOST` by one GET each, more by the pipeline's pages, never
a request per card.

A warm start (`resume`) reopens a saved board: the delta query from its cursor and the Event
Log's deletions since it was saved, together: two requests when nothing changed. They need only the
saved board's cursor and time, not the pipeline listing nor the cards: `resume_early` sends them as soon
as those are read, beside the listing, and `resume` takes their answers (`HttpApi.send_early`).

The cursor is never let run ahead of Close's own clock (the `Date` of its answer, this machine's
clock when there is none): one deal dated in the future (an integration writing dates, a server
clock) would otherwise hide every later change. Such a deal comes back with every poll (the
overlap's de-duplication keeps it from being reported again). A saved board whose time is ahead of
this machine's clock was kept by a clock that was wrong: its deletions are asked for from its cursor
(Close's time of the newest change it held, which came before it was saved) instead, and a cursor
ahead of the clock is not used at all (the board is loaded whole behind the copy).

Every listing (`close_api.pages`, `close_api.pages_together`) is bounded by a `Listing`: a page that
adds nothing new, or page `MAX_PAGES`, ends it with a line saying so, and a listing cut short is not
taken for the whole pipeline (nothing is removed for not being in it).

The dialect is one backend in four modules: this one (`CloseBackend`: loads, first screens, polling,
reconciling, warm starts, moves; what the registry names), `close_api.py` (what Close's records and
errors mean, and how its lists page), `close_history.py` (`CloseHistory`, mixed into the backend: the
Event Log's deletions and history, the weekly won / lost counts) and `close_write.py` (`CloseWrites`, mixed
in too: edits, notes, new deals and the read-backs that keep a note or a deal from being made twice).
Names are importable from here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from ..models import Changes, ColumnStart, Note, Opportunity, Page, Pipeline, Status
from ..text import safe_text
from .close_api import (
    FIELDS,
    KIND,
    PAGE_LIMIT,
    PALETTE_LOST,
    PALETTE_OPEN,
    PALETTE_WON,
    PARALLEL_PAGES,
    WEB_URL,
    data_of,
    describe_error,
    first_page,
    is_int,
    pages,
    pages_together,
    parse_when,
    pipeline_of,
    read_records,
    status_color,
    to_note,
    to_opportunity,
)
from .close_history import (
    EVENT_LIMIT,
    EVENT_LOG_KEEPS,
    EVENT_MARGIN,
    EVENT_PAGES_AT_MOST,
    CloseHistory,
    deletions_query,
)
from .close_write import CloseWrites
from .errors import AuthError, BackendError, NotFoundError, read_each
from .http import HttpApi, HttpBackend, Listing, httpx
from .settings import CLOSE as CRM
from .settings import CLOSE_API_KEY_ENV as API_KEY_ENV
from .settings import CLOSE_BASE_URL as DEFAULT_BASE_URL
from .settings import CloseSettings

__all__ = [
    "EVENT_LIMIT", "EVENT_LOG_KEEPS", "EVENT_MARGIN", "EVENT_PAGES_AT_MOST", "FETCH_ONE_AT_MOST", "FIELDS", "KIND",
    "OVERLAP", "PAGE_LIMIT", "PALETTE_LOST", "PALETTE_OPEN", "PALETTE_WON", "PARALLEL_PAGES", "RECONCILE_EVERY",
    "WEB_URL", "CloseBackend", "describe_error", "from_settings", "parse_when", "read_records", "status_color",
    "to_opportunity",
]

log = logging.getLogger("kanban_tui.close")

OVERLAP = timedelta(seconds=2)
"""How far before the newest `date_updated` seen a delta query starts (clock jitter)."""
RECONCILE_EVERY = 300.0
"""Seconds between id-only listings that find deleted opportunities."""
NOTE_PAGES_AT_MOST = 10
"""Pages of a lead's notes read at most (the spec gives `GET activity/note/` no order: all are read, then sorted)."""
FETCH_ONE_AT_MOST = 10
"""A reconcile that finds more cards we never saw than this lists the pipeline's pages for them
(a load that lost a page) instead of one GET per card."""
EARLY_FOR = 30.0
"""Seconds a warm start's questions sent early (`resume_early`) stay good for its `resume`: later (the listing
failed and was retried), they are asked anew."""


class CloseBackend(CloseWrites, CloseHistory, HttpBackend):
    """A Close organization's opportunities, pipeline by pipeline."""

    name = CRM

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        reconcile_every: float = RECONCILE_EVERY,
        clock: Any = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        event_log_keeps: timedelta = EVENT_LOG_KEEPS,
        **http_options: Any,
    ) -> None:
        if not api_key:
            raise AuthError(f"no API key: set {API_KEY_ENV}", crm=CRM)
        self.api = HttpApi(
            CRM,
            base_url,
            auth=httpx.BasicAuth(api_key, ""),
            transport=transport,
            describe=describe_error,
            **http_options,
        )
        self._set_account("close", api_key)
        self.reconcile_every = reconcile_every
        self.clock = clock
        self._known: dict[str, datetime] = {}
        """Every opportunity of the open pipeline we delivered, with its date_updated."""
        self._next_reconcile = 0.0
        self.now = now
        """The wall clock: how old a gap is, against what the Event Log keeps."""
        self.event_log_keeps = event_log_keeps
        self._deletions_from: datetime | None = None
        """Deletions before this (wall clock) are reflected in `_known`; None: not tracked (no cursor yet)."""
        self._whole = False
        """`_known` is the whole pipeline (a load that ran to its end, or a resumed saved board): the Event
        Log and a count can reconcile it; False: only an id-only listing can (a load lost pages)."""
        self._early: tuple[str, datetime, datetime, float] | None = None
        """The warm start asked early (`resume_early`): its cursor, saved time, this clock then, `clock()` then."""

    has_links = True

    async def me(self) -> str | None:
        """`GET /me/`: the user this key acts for, named as opportunities' `user_name` name them."""
        body = await self.api.request("GET", "me/")
        if not isinstance(body, dict):
            return None
        name = " ".join(str(body.get(part) or "").strip() for part in ("first_name", "last_name")).strip()
        return safe_text(name) if name else None

    async def list_pipelines(self) -> list[Pipeline]:
        body = await self.api.request("GET", "pipeline/")
        try:
            return [pipeline_of(p) for p in body["data"]]
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise BackendError(
                f"pipelines answer not understood ({exc.__class__.__name__})", crm=CRM, hint="report this"
            ) from None

    @staticmethod
    def _status_filter(pipeline: Pipeline) -> str:
        return ",".join(s.id for s in pipeline.statuses)

    def _pages(
        self, params: dict[str, Any], listing: Listing | None = None
    ) -> AsyncIterator[tuple[dict[str, Any], list[Any]]]:
        """`GET opportunity/` page by page with this backend's API (`close_api.pages`)."""
        return pages(self.api, params, listing)

    def _pages_together(
        self, params: dict[str, Any], listing: Listing | None = None
    ) -> AsyncIterator[tuple[dict[str, Any], list[Any]]]:
        """`GET opportunity/`, `PARALLEL_PAGES` pages in flight, in order (`close_api.pages_together`)."""
        return pages_together(self.api, params, listing)

    async def load_opportunities(self, pipeline: Pipeline) -> AsyncIterator[Page]:
        self._drop_early()  # a whole load: the warm start asked early is not coming
        self._known.clear()
        self._whole = False
        loaded = 0
        params = {"status_id__in": self._status_filter(pipeline), "_order_by": "date_created", "_fields": FIELDS}
        complete = True
        listing = Listing(CRM, "opportunities")
        async for body, records in self._pages_together(params, listing):
            skipped: list[str] = []
            new = [o for o in read_records(records, skipped) if o.id not in self._known]
            for opportunity in new:
                self._known[opportunity.id] = opportunity.updated
            loaded += len(new)
            total = body.get("total_results") if isinstance(body.get("total_results"), int) else None
            has_more = bool(body.get("has_more")) and bool(records) and listing.ended is None
            if body.get("has_more") and not records:
                complete = False
                skipped.append("Close said there were more opportunities but sent none; the board may be incomplete")
            if listing.ended is not None:
                complete = False
                skipped.append(f"{listing.ended}; the board may be incomplete")
            if not has_more:
                total = loaded
            elif total is not None:
                total = max(total, loaded + 1)
            yield Page(opportunities=new, loaded=loaded, total=total, skipped=skipped)
        self._whole = complete
        self._next_reconcile = self.clock() + self.reconcile_every

    async def first_screen(self, pipeline: Pipeline, per_column: int) -> list[ColumnStart]:
        """One `GET opportunity/?status_id=…&_order_by=-date_updated&_limit=per_column` per status, sent
        together (through the one rate-limit gate). Each answer's aggregates are the column's count and
        totals (`count_by_value_period` says whether any recur); `currency` is the one most of the cards
        carry (Close adds up values whatever their `value_currency`, an org-wide setting: the cards say
        which it is, without another request). No per-currency `totals`: Close cannot group by currency."""

        async def column(status: Status) -> ColumnStart:
            body = await self.api.request("GET", "opportunity/", params={
                "status_id": status.id, "_order_by": "-date_updated", "_limit": max(1, per_column), "_fields": FIELDS,
            })
            skipped: list[str] = []
            cards = [o for o in read_records(data_of(body), skipped) if o.status_id == status.id][:per_column]
            count = body.get("total_results")
            periods = body.get("count_by_value_period")
            recurring = isinstance(periods, dict) and any(
                is_int(periods.get(p)) and periods[p] > 0 for p in ("monthly", "annual"))
            return ColumnStart(
                status_id=status.id,
                count=max(count, len(cards)) if is_int(count) else len(cards),
                total=body.get("total_value_annualized") if is_int(body.get("total_value_annualized")) else None,
                expected=body.get("expected_value_annualized")
                if is_int(body.get("expected_value_annualized")) else None,
                recurring=recurring,
                cards=cards,
                skipped=skipped,
            )

        columns = list(await asyncio.gather(*(column(s) for s in pipeline.statuses)))
        used = Counter(card.currency for c in columns for card in c.cards if card.value)
        currency = min(used, key=lambda c: (-used[c], c)) if used else None
        for start in columns:
            start.currency = currency
            for card in start.cards:
                self._known[card.id] = card.updated
        return columns

    async def changes_since(self, pipeline: Pipeline, cursor: str | None) -> Changes:
        if cursor is None:
            self._deletions_from = self.now()
            return Changes(cursor=await self._newest_update())
        upserted: dict[str, Opportunity] = {}
        removed: set[str] = set()
        skipped: list[str] = []
        newest = await self._delta(pipeline, parse_when(cursor), upserted, removed, skipped)
        if self.clock() >= self._next_reconcile:
            gone, missing = await self._reconcile(pipeline, skipped)
            removed |= gone
            for opportunity_id in gone:
                upserted.pop(opportunity_id, None)
            for opportunity in await self._fetch_missing(pipeline, missing - upserted.keys(), skipped):
                self._known[opportunity.id] = opportunity.updated
                upserted[opportunity.id] = opportunity
                removed.discard(opportunity.id)
        return Changes(
            upserted=list(upserted.values()), removed=sorted(removed), cursor=newest.isoformat(), skipped=skipped
        )

    async def _delta(
        self, pipeline: Pipeline, cursor: datetime, upserted: dict[str, Opportunity], removed: set[str],
        skipped: list[str],
    ) -> datetime:
        """`date_updated__gt` the cursor (less `OVERLAP`), across pipelines: what changed into `upserted`,
        known cards now in another pipeline into `removed`; `_known` kept up. The newest update seen, but
        never ahead of Close's clock (`_not_ahead`): a deal dated in the future must not hide later changes."""
        newest = cursor = self._not_ahead(cursor)
        params = self._delta_params(cursor)
        listing = Listing(CRM, "changed opportunities")
        async for _, records in self._pages(params, listing):
            for opportunity in read_records(records, skipped):
                newest = max(newest, opportunity.updated)
                if pipeline.status(opportunity.status_id) is None:
                    if opportunity.id in self._known:
                        removed.add(opportunity.id)
                        del self._known[opportunity.id]
                    upserted.pop(opportunity.id, None)
                    continue
                if self._known.get(opportunity.id) == opportunity.updated:
                    continue  # seen already: the overlap brought it again
                self._known[opportunity.id] = opportunity.updated
                upserted[opportunity.id] = opportunity
                removed.discard(opportunity.id)
        if listing.ended is not None:
            skipped.append(listing.ended)
        return self._not_ahead(newest)

    @staticmethod
    def _delta_params(cursor: datetime) -> dict[str, Any]:
        """The delta query's filters from `cursor` (already kept from running ahead)."""
        return {"date_updated__gt": (cursor - OVERLAP).isoformat(), "_order_by": "date_updated", "_fields": FIELDS}

    def _not_ahead(self, when: datetime) -> datetime:
        """`when`, or Close's clock (the `Date` of its latest answer, else this machine's) if that is earlier:
        where a cursor may be."""
        return min(when, self.api.crm_now(self.now()))
    def resume_early(self, cursor: str | None, saved_at: datetime) -> None:
        """A warm start's two requests sent now, as soon as the saved board's cursor and time are read: before
        the pipeline listing has answered and the saved cards are read (the runner calls this; it needs a
        running event loop). `resume` with the same cursor and time, within `EARLY_FOR` seconds, takes their
        answers (the same GETs, not sent again; one that failed is sent again). Nothing is sent where `resume`
        would send nothing for this cursor and time. The cards' statuses and the pipeline are checked by
        `resume` and by the caller (a changed pipeline is a whole load): then these two were asked for nothing.
        """
        self._drop_early()
        checked_at = self.now()
        plan = self._resume_plan(cursor, saved_at, checked_at)
        if plan is None or cursor is None:
            return
        since, deletions_from = plan
        self._early = (cursor, saved_at, checked_at, self.clock())
        self.api.send_early("opportunity/", first_page(self._delta_params(self._not_ahead(since))))
        self.api.send_early("event/", deletions_query(deletions_from))

    def _drop_early(self) -> None:
        self._early = None
        self.api.drop_early()

    def _resume_plan(
        self, cursor: str | None, saved_at: datetime, checked_at: datetime
    ) -> tuple[datetime, datetime] | None:
        """Where a warm start asks from: the delta's cursor and the Event Log's time (`resume`); None where it
        cannot be trusted (nothing is asked then)."""
        if cursor is None:
            return None
        try:
            since = parse_when(cursor)
        except (TypeError, ValueError):
            return None
        if saved_at.tzinfo is None:
            saved_at = saved_at.replace(tzinfo=UTC)
        if since > checked_at + EVENT_MARGIN:
            log.info("Close warm start: the saved cursor %s is ahead of this clock: loading whole", cursor)
            return None
        if saved_at > checked_at:
            log.info("Close warm start: the board was saved at %s, ahead of this clock: deletions since its cursor",
                     saved_at.isoformat())
            saved_at = min(since, checked_at)
        if saved_at - EVENT_MARGIN < checked_at - self.event_log_keeps:
            return None
        return since, saved_at - EVENT_MARGIN

    async def resume(
        self, pipeline: Pipeline, cards: list[Opportunity], cursor: str | None, saved_at: datetime
    ) -> Changes | None:
        """Reopen a saved board: `_known` primed with `cards`, then, sent together, the delta query from
        `cursor` (across pipelines, as `changes_since`: a card now in another pipeline is removed) and the
        Event Log's deletions since `saved_at` less `EVENT_MARGIN`. Two requests when nothing changed; none
        here when `resume_early` sent them already (their answers are taken).

        `pipeline` is the one the caller has just listed; the caller compares its statuses with the saved
        board's (a changed pipeline is a full load). None, with no request sent, when `cursor` is missing,
        unreadable or ahead of this machine's clock (a deal dated in the future was its newest: what changed
        since cannot be asked from it), a saved card's status is not in `pipeline`, or `saved_at` is older than
        the Event Log keeps; None too when the log holds too many deletions to page through
        (`EVENT_PAGES_AT_MOST`).

        A `saved_at` ahead of this machine's clock was written by a clock that was ahead: when the board was
        really kept is unknown, so deletions are asked for from the cursor (Close's time of the newest change
        the copy held: it was kept after that) less `EVENT_MARGIN`, never from a time still to come."""
        early, self._early = self._early, None
        checked_at = self.now()
        if early is not None and early[:2] == (cursor, saved_at) and self.clock() - early[3] <= EARLY_FOR:
            checked_at = early[2]  # asked then: deletions are known up to then
        else:
            self.api.drop_early()  # asked for another board, or too long ago: asked anew
        try:
            plan = self._resume_plan(cursor, saved_at, checked_at)
            statuses = {status.id for status in pipeline.statuses}
            if plan is None or any(card.status_id not in statuses for card in cards):
                return None
            since, deletions_from = plan
            self._known = {card.id: card.updated for card in cards}
            self._whole = False
            upserted: dict[str, Opportunity] = {}
            removed: set[str] = set()
            skipped: list[str] = []
            newest, deleted = await asyncio.gather(
                self._delta(pipeline, since, upserted, removed, skipped), self._deletions(deletions_from)
            )
        finally:
            self.api.drop_early()  # what was asked early and not taken here (another cursor, too late)
        if deleted is None:
            return None
        for opportunity_id in deleted:
            upserted.pop(opportunity_id, None)
            if self._known.pop(opportunity_id, None) is not None:
                removed.add(opportunity_id)
        self._whole = True
        self._deletions_from = checked_at
        self._next_reconcile = self.clock() + self.reconcile_every
        return Changes(
            upserted=list(upserted.values()), removed=sorted(removed), cursor=newest.isoformat(), skipped=skipped
        )

    async def _newest_update(self) -> str:
        """The newest `date_updated` in the organization: where polling starts."""
        body = await self.api.request(
            "GET", "opportunity/", params={"_order_by": "-date_updated", "_fields": "id,date_updated", "_limit": 1}
        )
        records = data_of(body)
        try:
            newest = parse_when(records[0]["date_updated"])
        except (IndexError, KeyError, TypeError, ValueError):
            newest = self.now()
        return self._not_ahead(newest).isoformat()

    async def _reconcile(self, pipeline: Pipeline, skipped: list[str]) -> tuple[set[str], set[str]]:
        """Which known cards are gone, and which present ones we never saw.

        While `_known` is the whole pipeline and the Event Log reaches back to the last check: its
        deletions and the pipeline's count, sent together (two requests); when the count then matches,
        nothing is missing. Otherwise, ids only: the pipeline's id-only listing."""
        checked_at = self.now()
        since = None if self._deletions_from is None else self._deletions_from - EVENT_MARGIN
        if self._whole and since is not None and since >= checked_at - self.event_log_keeps:
            count_params = {"status_id__in": self._status_filter(pipeline), "_fields": "id", "_limit": 1}
            deleted, body = await asyncio.gather(
                self._deletions(since), self.api.request("GET", "opportunity/", params=count_params)
            )
            if deleted is not None:
                self._deletions_from = checked_at
                self._next_reconcile = self.clock() + self.reconcile_every
                gone = {i for i in deleted if self._known.pop(i, None) is not None}
                if isinstance(body, dict) and body.get("total_results") == len(self._known):
                    return gone, set()
                listed_gone, missing = await self._reconcile_by_listing(pipeline, skipped)
                return gone | listed_gone, missing
        return await self._reconcile_by_listing(pipeline, skipped)

    async def _reconcile_by_listing(self, pipeline: Pipeline, skipped: list[str]) -> tuple[set[str], set[str]]:
        """Ids only: which known cards are gone, and which present ones we never saw (they are fetched
        next: `_known` is then the whole pipeline again, deletions known up to now). A listing cut short
        (`Listing`) removes nothing: what it did not list may be there still (its line goes in `skipped`)."""
        checked_at = self.now()
        present: set[str] = set()
        params = {"status_id__in": self._status_filter(pipeline), "_order_by": "date_created", "_fields": "id"}
        listing = Listing(CRM, "opportunities")
        async for _, records in self._pages(params, listing):
            present.update(r["id"] for r in records if isinstance(r, dict) and isinstance(r.get("id"), str))
        self._next_reconcile = self.clock() + self.reconcile_every
        if listing.ended is not None:
            skipped.append(listing.ended)
            self._whole = False
            return set(), present - set(self._known)
        gone = set(self._known) - present
        for opportunity_id in gone:
            del self._known[opportunity_id]
        self._whole = True
        self._deletions_from = checked_at
        return gone, present - set(self._known)

    async def _fetch_missing(self, pipeline: Pipeline, missing: set[str], skipped: list[str]) -> list[Opportunity]:
        """The present cards we never saw, never a request per card when there are many.

        Up to `FETCH_ONE_AT_MOST`: one `GET opportunity/{id}/` each. More (a load that lost a
        page): the pipeline's pages with full `_fields`, as a load lists them, keeping those missing.
        """
        if not missing:
            return []
        if len(missing) <= FETCH_ONE_AT_MOST:
            found = [await self._fetch_one(pipeline, opportunity_id, skipped) for opportunity_id in sorted(missing)]
            return [o for o in found if o is not None]
        found_by_page: list[Opportunity] = []
        params = {"status_id__in": self._status_filter(pipeline), "_order_by": "date_created", "_fields": FIELDS}
        async for _, records in self._pages(params):
            found_by_page += [
                o for o in read_records(records, skipped)
                if o.id in missing and pipeline.status(o.status_id) is not None
            ]
        return list({o.id: o for o in found_by_page}.values())

    async def fetch_one(self, pipeline: Pipeline, opportunity_id: str) -> Opportunity | None:
        """One `GET opportunity/{id}/`: None on 404 or when its status is not in `pipeline`."""
        return await self._fetch_one(pipeline, opportunity_id, [])

    async def _fetch_one(self, pipeline: Pipeline, opportunity_id: str, skipped: list[str]) -> Opportunity | None:
        try:
            body = await self.api.request("GET", f"opportunity/{opportunity_id}/", params={"_fields": FIELDS})
        except NotFoundError:
            return None
        found = read_records([body], skipped)
        if not found or pipeline.status(found[0].status_id) is None:
            return None
        return found[0]

    notes_of = "the lead (every deal of the lead shares them)"

    async def notes(self, opportunity: Opportunity, limit: int = 5) -> list[Note]:
        """`GET activity/note/?lead_id=`: a note belongs to the deal's lead. The spec gives the list no
        `_order_by` and no order, so its pages are read (`_skip` / `_limit`, following `has_more`, at most
        `NOTE_PAGES_AT_MOST`) and the newest `limit` kept. The lead is the one in the card's link; a card
        without one asks for it (`GET opportunity/{id}/?_fields=lead_id`)."""
        lead = await self._lead_id(opportunity)
        if lead is None:
            return []
        listing = Listing(CRM, "notes", max_pages=NOTE_PAGES_AT_MOST)
        notes: list[Note] = []
        skipped: list[str] = []
        skip = 0
        while True:
            body = await self.api.request("GET", "activity/note/",
                                          params={"lead_id": lead, "_skip": skip, "_limit": PAGE_LIMIT})
            records = data_of(body)
            go_on = listing.page(records)
            notes += read_each(records, to_note, "Close note", skipped)
            skip += len(records)
            if not body.get("has_more") or not records or not go_on:
                break
        for line in [*skipped, *([listing.ended] if listing.ended else [])]:
            log.warning("%s", line)
        return sorted(notes, key=lambda n: n.when, reverse=True)[:limit]

    async def move(self, opportunity: Opportunity, status: Status, *, lost_reason: str | None = None) -> Opportunity:
        return await self._put(opportunity, {"status_id": status.id}, "move")


def from_settings(settings: CloseSettings, values: Mapping[str, str], **options: Any) -> CloseBackend:
    """The registry's factory: `values` holds the API key (from $CLOSE_API_KEY or the table)."""
    return CloseBackend(values["api_key"], base_url=settings.base_url, **options)
