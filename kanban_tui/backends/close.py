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
Log's deletions since it was saved, together: two requests when nothing changed.

The cursor is never let run ahead of Close's own clock (the `Date` of its answer, this machine's
clock when there is none): one deal dated in the future (an integration writing dates, a server
clock) would otherwise hide every later change. Such a deal comes back with every poll (the
overlap's de-duplication keeps it from being reported again). A saved board whose time is ahead of
this machine's clock was kept by a clock that was wrong: its deletions are asked for from its cursor
(Close's time of the newest change it held, which came before it was saved) instead, and a cursor
ahead of the clock is not used at all (the board is loaded whole behind the copy).

Every listing (`_pages`, `_pages_together`) is bounded by a `Listing`: a page that adds nothing
new, or page `MAX_PAGES`, ends it with a line saying so, and a listing cut short is not taken for
the whole pipeline (nothing is removed for not being in it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from ..models import (
    Changes,
    ColumnStart,
    History,
    HistoryEvent,
    Opportunity,
    Page,
    Period,
    Pipeline,
    Status,
    StatusKind,
    WeekCount,
)
from ..text import safe_text
from .errors import (
    AuthError,
    BackendError,
    NotFoundError,
    RefusedError,
    UnavailableError,
    read_each,
)
from .http import HttpApi, HttpBackend, Listing, httpx, json_of
from .settings import CLOSE as CRM
from .settings import CLOSE_API_KEY_ENV as API_KEY_ENV
from .settings import CLOSE_BASE_URL as DEFAULT_BASE_URL
from .settings import CloseSettings

log = logging.getLogger("kanban_tui.close")

WEB_URL = "https://app.close.com/lead/{lead_id}/"

PAGE_LIMIT = 100
"""`_limit` asked for; Close caps it per resource (and may return fewer)."""
OVERLAP = timedelta(seconds=2)
"""How far before the newest `date_updated` seen a delta query starts (clock jitter)."""
RECONCILE_EVERY = 300.0
"""Seconds between id-only listings that find deleted opportunities."""
FETCH_ONE_AT_MOST = 10
"""A reconcile that finds more cards we never saw than this lists the pipeline's pages for them
(a load that lost a page) instead of one GET per card."""
PARALLEL_PAGES = 6
"""Pages of a load in flight at once (fewer as the rate-limit window runs low: `HttpApi.room`)."""
EVENT_LOG_KEEPS = timedelta(days=30)
"""How far back Close's Event Log goes: "up to 30 days back in history"
(developer.close.com/api/resources/events.md; crm-api-notes 1.10)."""
EVENT_MARGIN = timedelta(minutes=5)
"""How far before the last check the Event Log is read again: events may become visible out of order,
and Close recommends "to scan the latest five minutes of events" (spec `/event/` description)."""
EVENT_LIMIT = 50
"""`_limit` for `GET event/`: "capped at and defaulting to 50"."""
EVENT_PAGES_AT_MOST = 100
"""More deletions than this many pages of events (5,000) and a warm start loads the board whole instead."""

FIELDS = (
    "id,lead_id,lead_name,contact_name,status_id,value,value_currency,value_period,"
    "confidence,user_name,date_created,date_updated,date_won,note,is_stalled"
)
"""`_fields`: only what a card and its detail screen show."""

KIND = {"active": StatusKind.OPEN, "won": StatusKind.WON, "lost": StatusKind.LOST}

# xterm-256 colors, so that 256-color terminals draw them exactly
PALETTE_OPEN = ("#5f87d7", "#5fafd7", "#5fd7d7", "#87afaf", "#d7af5f", "#d7875f", "#af87d7", "#87afd7")
PALETTE_WON = "#5faf5f"
PALETTE_LOST = "#d75f5f"


def status_color(kind: StatusKind, open_index: int) -> str:
    """Won green, lost red, open statuses a progression in pipeline order."""
    if kind is StatusKind.WON:
        return PALETTE_WON
    if kind is StatusKind.LOST:
        return PALETTE_LOST
    return PALETTE_OPEN[open_index % len(PALETTE_OPEN)]


def describe_error(response: httpx.Response) -> BackendError | None:
    """Close's own wording for the errors a user can act on."""
    code = response.status_code
    if code == 401:
        return AuthError("Close rejected the API key", crm=CRM, status_code=code, hint=f"check {API_KEY_ENV}")
    if code == 403:
        return AuthError(
            "the API key lacks access to this", crm=CRM, status_code=code, hint="ask a Close admin for access"
        )
    if code == 400:
        try:
            body = json_of(response)
        except ValueError:
            body = {}
        fields = body.get("field-errors") if isinstance(body, dict) else None
        errors = body.get("errors") if isinstance(body, dict) else None
        parts = [f"{field}: {message}" for field, message in (fields or {}).items()]
        parts += [str(e) for e in errors or [] if e]
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            parts.append(body["error"])
        return RefusedError("; ".join(parts)[:300] or "bad request", crm=CRM, status_code=code)
    return None


def parse_when(text: str) -> datetime:
    """A Close timestamp (`2024-05-01T12:48:23.392000+00:00`, maybe naive = UTC)."""
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def to_opportunity(data: dict[str, Any]) -> Opportunity:
    """A Close opportunity as a card. Raises ValueError / ValidationError on bad data."""
    return Opportunity(
        id=data["id"],
        name=data.get("lead_name") or "(no lead name)",
        status_id=data["status_id"],
        contact=data.get("contact_name"),
        value=data.get("value"),
        currency=data.get("value_currency") or "USD",
        period=Period(data.get("value_period") or "one_time"),
        confidence=data.get("confidence"),
        owner=data.get("user_name"),
        created=parse_when(data["date_created"]),
        updated=parse_when(data["date_updated"]),
        date_won=data.get("date_won"),
        note=data.get("note") or "",
        url=WEB_URL.format(lead_id=data["lead_id"]) if data.get("lead_id") else None,
        stalled=bool(data.get("is_stalled")),
    )


def read_records(records: Any, skipped: list[str]) -> list[Opportunity]:
    """Turn a `data` list into opportunities; one line in `skipped` per bad record."""
    if not isinstance(records, list):
        raise BackendError("answered with a list that is not a list", crm=CRM, hint="report this to Close support")
    return read_each(records, to_opportunity, "Close opportunity", skipped)


class CloseBackend(HttpBackend):
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

    has_links = True

    async def me(self) -> str | None:
        """`GET /me/`: the user this key acts for, named as opportunities' `user_name` name them."""
        body = await self.api.request("GET", "me/")
        if not isinstance(body, dict):
            return None
        name = " ".join(str(body.get(part) or "").strip() for part in ("first_name", "last_name")).strip()
        return safe_text(name) if name else None

    won_lost_basis = "won: Close groups them by date_won week · lost: counted here by date_lost"

    async def won_lost_by_week(self, pipeline: Pipeline, weeks: int) -> list[WeekCount]:
        """Won: `GET opportunity/?_group_by=date_won__week` over the won statuses since the first week's Monday
        (a group per ISO week with its `total_results`; paging applies to the groups' objects, so it pages with
        `_fields=id`). Lost: Close cannot group by `date_lost`, so the lost deals updated since then (a lost
        deal is updated when it is lost) are listed, `_fields=id,date_lost`, and counted by `date_lost`."""
        today = self.now().astimezone().date()
        first = today - timedelta(days=today.weekday(), weeks=weeks - 1)
        won: dict[date, int] = {}
        lost: dict[date, int] = {}
        won_ids = [s.id for s in pipeline.statuses if s.kind is StatusKind.WON]
        lost_ids = [s.id for s in pipeline.statuses if s.kind is StatusKind.LOST]

        async def count_won() -> None:
            params = {"status_id__in": ",".join(won_ids), "date_won__gte": first.isoformat(),
                      "_group_by": "date_won__week", "_fields": "id"}
            skip = 0
            listing = Listing(CRM, "won opportunities")
            while True:
                body = await self.api.request("GET", "opportunity/", params={**params, "_skip": skip, "_limit": PAGE_LIMIT})
                objects = 0
                listing.page([o for g in _data(body) if isinstance(g, dict) and isinstance(g.get("objects"), list)
                              for o in g["objects"]])
                for group in _data(body):
                    if not isinstance(group, dict) or not all(_is_int(group.get(k)) for k in ("weekyear", "week")):
                        continue
                    try:
                        week = date.fromisocalendar(group["weekyear"], group["week"], 1)
                    except ValueError:
                        continue
                    if _is_int(group.get("total_results")):
                        won[week] = max(won.get(week, 0), group["total_results"])
                    objects += len(group["objects"]) if isinstance(group.get("objects"), list) else 0
                skip += objects
                if not body.get("has_more") or not objects or listing.ended is not None:
                    if listing.ended is not None:
                        log.warning("%s", listing.ended)
                    return

        async def count_lost() -> None:
            since = datetime.combine(first, datetime.min.time()).astimezone()
            params = {"status_id__in": ",".join(lost_ids), "date_updated__gte": since.isoformat(),
                      "_fields": "id,date_lost"}
            async for _, records in self._pages_together(params):
                for record in records:
                    when = record.get("date_lost") if isinstance(record, dict) else None
                    try:
                        day = parse_when(when).astimezone().date() if isinstance(when, str) else None
                    except ValueError:
                        day = None
                    if day is not None and day >= first:
                        week = day - timedelta(days=day.weekday())
                        lost[week] = lost.get(week, 0) + 1

        await asyncio.gather(*([count_won()] if won_ids else []), *([count_lost()] if lost_ids else []))
        shown = [first + timedelta(weeks=n) for n in range(weeks)]
        return [WeekCount(week=w, won=won.get(w, 0), lost=lost.get(w, 0)) for w in shown]

    async def list_pipelines(self) -> list[Pipeline]:
        body = await self.api.request("GET", "pipeline/")
        try:
            return [self._pipeline(p) for p in body["data"]]
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise BackendError(
                f"pipelines answer not understood ({exc.__class__.__name__})", crm=CRM, hint="report this"
            ) from None

    @staticmethod
    def _pipeline(data: dict[str, Any]) -> Pipeline:
        statuses, open_index = [], 0
        for position, status in enumerate(data.get("statuses") or []):
            kind = KIND.get(status.get("type"), StatusKind.OPEN)
            statuses.append(
                Status(
                    id=status["id"],
                    label=status["label"],
                    color=status_color(kind, open_index),
                    position=position,
                    kind=kind,
                )
            )
            open_index += kind is StatusKind.OPEN
        return Pipeline(id=data["id"], name=data["name"], statuses=tuple(statuses))

    @staticmethod
    def _status_filter(pipeline: Pipeline) -> str:
        return ",".join(s.id for s in pipeline.statuses)

    async def _pages(
        self, params: dict[str, Any], listing: Listing | None = None
    ) -> AsyncIterator[tuple[dict[str, Any], list[Any]]]:
        """Page through `GET opportunity/` with `_skip`, following `has_more`.

        Yields each answer with its `data` list. `_skip` advances by what came back, not by
        `_limit`: Close may send fewer than asked. An empty page ends the listing, and so does
        `listing` (a page that adds nothing new, too many pages: `listing.ended` says so once the
        page that ended it is yielded).
        """
        listing = listing or Listing(CRM, "opportunities")
        skip = 0
        while True:
            body = await self.api.request("GET", "opportunity/", params={**params, "_skip": skip, "_limit": PAGE_LIMIT})
            records = _data(body)
            go_on = listing.page(records)
            yield body, records
            skip += len(records)
            if not body.get("has_more") or not records or not go_on:
                if listing.ended is not None:
                    log.warning("%s", listing.ended)
                return

    async def _pages_together(
        self, params: dict[str, Any], listing: Listing | None = None
    ) -> AsyncIterator[tuple[dict[str, Any], list[Any]]]:
        """What `_pages` yields, in the same order, with up to `PARALLEL_PAGES` requests in flight.

        The first page says how many records a page holds (the server may cap `_limit`) and
        `total_results`; the pages after it are asked for together, never past the total the latest
        answer gave (one at a time when it gives none). A page shorter than planned (the listing
        changed, or a smaller cap) drops what was planned after it, and paging goes on from where it
        ended. Leaving early (an error, the caller stopping) cancels what is in flight. `listing` ends it as
        in `_pages` (what was planned after the page that ended it is cancelled).
        """
        listing = listing or Listing(CRM, "opportunities")

        async def page(skip: int) -> tuple[dict[str, Any], list[Any]]:
            body = await self.api.request("GET", "opportunity/", params={**params, "_skip": skip, "_limit": PAGE_LIMIT})
            return body, _data(body)

        body, records = await page(0)
        go_on = listing.page(records)
        yield body, records
        step = next_skip = len(records)
        planned: deque[tuple[int, asyncio.Task[tuple[dict[str, Any], list[Any]]]]] = deque()
        try:
            while body.get("has_more") and records and go_on:
                total = body.get("total_results") if isinstance(body.get("total_results"), int) else None
                width = self.api.room(PARALLEL_PAGES)
                skip = planned[-1][0] + step if planned else next_skip
                while len(planned) < width and (not planned or (total is not None and skip < total)):
                    planned.append((skip, asyncio.ensure_future(page(skip))))
                    skip += step
                skip, task = planned.popleft()
                body, records = await task
                go_on = listing.page(records)
                yield body, records
                next_skip = skip + len(records)
                if planned and planned[0][0] != next_skip:
                    await _cancel(planned)
        finally:
            await _cancel(planned)
            if listing.ended is not None:
                log.warning("%s", listing.ended)

    async def load_opportunities(self, pipeline: Pipeline) -> AsyncIterator[Page]:
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
            cards = [o for o in read_records(_data(body), skipped) if o.status_id == status.id][:per_column]
            count = body.get("total_results")
            periods = body.get("count_by_value_period")
            recurring = isinstance(periods, dict) and any(
                _is_int(periods.get(p)) and periods[p] > 0 for p in ("monthly", "annual"))
            return ColumnStart(
                status_id=status.id,
                count=max(count, len(cards)) if _is_int(count) else len(cards),
                total=body.get("total_value_annualized") if _is_int(body.get("total_value_annualized")) else None,
                expected=body.get("expected_value_annualized")
                if _is_int(body.get("expected_value_annualized")) else None,
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
        params = {"date_updated__gt": (cursor - OVERLAP).isoformat(), "_order_by": "date_updated", "_fields": FIELDS}
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

    def _not_ahead(self, when: datetime) -> datetime:
        """`when`, or Close's clock (the `Date` of its latest answer, else this machine's) if that is earlier:
        where a cursor may be."""
        return min(when, self.api.crm_now(self.now()))

    async def deleted_since(self, since: datetime) -> list[str] | None:
        """Ids of the opportunities deleted since `since`, from the Event Log (`GET event/?object_type=
        opportunity&action=deleted&date_updated__gte=…`, following `cursor_next`), newest first; None when
        `since` is older than the log keeps (`event_log_keeps`: 30 days, see `EVENT_LOG_KEEPS`) or when
        there are more than `EVENT_PAGES_AT_MOST` pages of them. No request when `since` is too old.

        Later pages send the cursor with the same filters but `date_updated` (as Close asks), and paging
        stops at the first event older than `since` whether or not the cursor kept the date filter."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        if since < self.now() - self.event_log_keeps:
            return None
        params: dict[str, Any] = {"object_type": "opportunity", "action": "deleted", "_limit": EVENT_LIMIT}
        ids: dict[str, None] = {}
        cursor: str | None = None
        for _ in range(EVENT_PAGES_AT_MOST):
            asked = {**params, "_cursor": cursor} if cursor else {**params, "date_updated__gte": since.isoformat()}
            body = await self.api.request("GET", "event/", params=asked)
            for event in _data(body):
                if not isinstance(event, dict):
                    continue
                try:
                    if parse_when(event["date_updated"]) < since:
                        return list(ids)
                except (KeyError, TypeError, ValueError):
                    pass  # no readable date: keep it (a deletion reported twice is harmless)
                if event.get("object_type", "opportunity") == "opportunity" and event.get("action", "deleted") == "deleted":
                    if isinstance(event.get("object_id"), str):
                        ids[event["object_id"]] = None
            cursor = body.get("cursor_next")
            if not isinstance(cursor, str) or not cursor:
                return list(ids)
        return None

    async def history(self, pipeline: Pipeline, since: datetime) -> History | None:
        """The Event Log's opportunity events since `since` (at most `event_log_keeps` back: `complete_from`
        says so), newest first: `GET event/?object_type=opportunity&action=created|updated|deleted&
        date_updated__gte=…` (`object_type` alone is not an allowed filter), each followed by `cursor_next`.
        An update's `changed_fields` / `previous_data` give a move's from -> to and a value's before and
        after. A deletion's pipeline is unknown unless `previous_data` carries its status: it is listed.
        None when the log is not there for this key (the caller compares snapshots instead)."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        horizon = self.now() - self.event_log_keeps
        start = max(since, horizon)
        ids = {s.id for s in pipeline.statuses}
        events: list[HistoryEvent] = []
        try:
            for action in ("created", "updated", "deleted"):
                params: dict[str, Any] = {"object_type": "opportunity", "action": action, "_limit": EVENT_LIMIT}
                cursor: str | None = None
                for _ in range(EVENT_PAGES_AT_MOST):
                    asked = {**params, "_cursor": cursor} if cursor else {**params, "date_updated__gte": start.isoformat()}
                    body = await self.api.request("GET", "event/", params=asked)
                    page = [e for e in _data(body) if isinstance(e, dict)]
                    for event in page:
                        found = _history_event(event, ids)
                        if found is not None and found.when is not None and found.when >= start:
                            events.append(found)
                    cursor = body.get("cursor_next") if isinstance(body, dict) else None
                    whens = [w for w in map(_event_when, page) if w is not None]
                    if any(w < start for w in whens) or not isinstance(cursor, str) or not cursor:
                        break
        except (NotFoundError, RefusedError) as exc:
            log.info("Close event log not usable (%s): changes come from the saved board", exc)
            return None
        except AuthError as exc:
            if exc.status_code != 403:
                raise
            return None
        events.sort(key=lambda e: e.when or start, reverse=True)
        return History(events=events, source="Close's Event Log", complete_from=start if start > since else None)

    async def _deletions(self, since: datetime) -> list[str] | None:
        """`deleted_since`, None too when the Event Log is not there for this key (404, 400, 403)."""
        try:
            return await self.deleted_since(since)
        except (NotFoundError, RefusedError) as exc:
            log.info("Close event log not usable (%s): deletions are found by listing", exc)
            return None
        except AuthError as exc:
            if exc.status_code != 403:
                raise
            log.info("Close event log not allowed for this key: deletions are found by listing")
            return None

    async def resume(
        self, pipeline: Pipeline, cards: list[Opportunity], cursor: str | None, saved_at: datetime
    ) -> Changes | None:
        """Reopen a saved board: `_known` primed with `cards`, then, sent together, the delta query from
        `cursor` (across pipelines, as `changes_since`: a card now in another pipeline is removed) and the
        Event Log's deletions since `saved_at` less `EVENT_MARGIN`. Two requests when nothing changed.

        `pipeline` is the one the caller has just listed; the caller compares its statuses with the saved
        board's (a changed pipeline is a full load). None, with no request sent, when `cursor` is missing,
        unreadable or ahead of this machine's clock (a deal dated in the future was its newest: what changed
        since cannot be asked from it), a saved card's status is not in `pipeline`, or `saved_at` is older than
        the Event Log keeps; None too when the log holds too many deletions to page through
        (`EVENT_PAGES_AT_MOST`).

        A `saved_at` ahead of this machine's clock was written by a clock that was ahead: when the board was
        really kept is unknown, so deletions are asked for from the cursor (Close's time of the newest change
        the copy held: it was kept after that) less `EVENT_MARGIN`, never from a time still to come."""
        if cursor is None:
            return None
        try:
            since = parse_when(cursor)
        except (TypeError, ValueError):
            return None
        if saved_at.tzinfo is None:
            saved_at = saved_at.replace(tzinfo=UTC)
        if any(pipeline.status(card.status_id) is None for card in cards):
            return None
        checked_at = self.now()
        if since > checked_at + EVENT_MARGIN:
            log.info("Close warm start: the saved cursor %s is ahead of this clock: loading whole", cursor)
            return None
        if saved_at > checked_at:
            log.info("Close warm start: the board was saved at %s, ahead of this clock: deletions since its cursor",
                     saved_at.isoformat())
            saved_at = min(since, checked_at)
        if saved_at - EVENT_MARGIN < checked_at - self.event_log_keeps:
            return None
        self._known = {card.id: card.updated for card in cards}
        self._whole = False
        upserted: dict[str, Opportunity] = {}
        removed: set[str] = set()
        skipped: list[str] = []
        newest, deleted = await asyncio.gather(
            self._delta(pipeline, since, upserted, removed, skipped), self._deletions(saved_at - EVENT_MARGIN)
        )
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
        records = _data(body)
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

    async def move(self, opportunity: Opportunity, status: Status, *, lost_reason: str | None = None) -> Opportunity:
        try:
            body = await self.api.request("PUT", f"opportunity/{opportunity.id}/", json={"status_id": status.id})
        except NotFoundError as exc:
            raise NotFoundError(
                "the opportunity no longer exists in Close", crm=CRM, status_code=exc.status_code,
                hint="it was deleted or merged; it has been removed from the board",
            ) from None
        skipped: list[str] = []
        moved = read_records([body], skipped)
        if not moved:
            # Close said yes in words we cannot read: it probably moved; the card is read back
            raise UnavailableError(f"the move was sent but the answer was not understood ({skipped[0]})", crm=CRM,
                                   status_code=200, hint="the card is read back")
        self._known[moved[0].id] = moved[0].updated
        return moved[0]


def from_settings(settings: CloseSettings, values: Mapping[str, str], **options: Any) -> CloseBackend:
    """The registry's factory: `values` holds the API key (from $CLOSE_API_KEY or the table)."""
    return CloseBackend(values["api_key"], base_url=settings.base_url, **options)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def _cancel(planned: deque[tuple[int, asyncio.Task[Any]]]) -> None:
    """Cancel the requests in flight and wait for them to end (their errors unread, on purpose)."""
    tasks = [task for _, task in planned]
    planned.clear()
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


def _data(body: Any) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BackendError("answered without a data list", crm=CRM, hint="check the base URL")
    return body["data"]


def _event_when(event: dict[str, Any]) -> datetime | None:
    try:
        return parse_when(event["date_updated"])
    except (KeyError, TypeError, ValueError):
        return None


def _history_event(event: dict[str, Any], statuses: set[str]) -> HistoryEvent | None:
    """An Event Log entry as history: None when it is not an opportunity's, not in the pipeline's statuses
    (a deletion whose status is unknown is kept), or unreadable."""
    if event.get("object_type") != "opportunity" or not isinstance(event.get("object_id"), str):
        return None
    action = event.get("action")
    data: dict[str, Any] = event["data"] if isinstance(event.get("data"), dict) else {}
    before: dict[str, Any] = event["previous_data"] if isinstance(event.get("previous_data"), dict) else {}
    changed: list[Any] = event["changed_fields"] if isinstance(event.get("changed_fields"), list) else []
    when = _event_when(event)
    try:
        if action == "created":
            if data.get("status_id") not in statuses:
                return None
            return HistoryEvent(when=when, opportunity_id=event["object_id"], action="created",
                                name=data.get("lead_name"), status_to=data.get("status_id"), value_to=data.get("value"),
                                currency=data.get("value_currency") or "USD")
        if action == "updated":
            now_in, was_in = data.get("status_id"), before.get("status_id", data.get("status_id"))
            if now_in not in statuses and was_in not in statuses:
                return None
            moved = "status_id" in changed and was_in != now_in
            revalued = "value" in changed and before.get("value") != data.get("value")
            return HistoryEvent(
                when=when, opportunity_id=event["object_id"], action="updated", name=data.get("lead_name"),
                moved=moved, status_from=was_in if moved else None, status_to=now_in if moved else None,
                revalued=revalued, value_from=before.get("value", data.get("value")), value_to=data.get("value"),
                currency=data.get("value_currency") or before.get("value_currency") or "USD")
        if action == "deleted":
            last = before or data
            if last.get("status_id") is not None and last.get("status_id") not in statuses:
                return None
            return HistoryEvent(when=when, opportunity_id=event["object_id"], action="deleted",
                                name=last.get("lead_name"), status_from=last.get("status_id"),
                                value_from=last.get("value"), currency=last.get("value_currency"))
    except ValueError:  # pydantic: a field of the wrong shape
        return None
    return None
