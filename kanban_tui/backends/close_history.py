"""Close's history: the Event Log (deletions, a pipeline's changes) and the weekly won / lost counts.

Part of the Close backend: `CloseHistory` is mixed into `CloseBackend` (`close.py`), whose `api` and clocks
(`now`, `event_log_keeps`) it uses. `deleted_since` finds deletions for polling and warm starts (`_deletions`:
None where the log is not there for the key); `history` is `dealboard changes`' source; `won_lost_by_week`
is the picture's won / lost chart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..models import History, HistoryEvent, Pipeline, StatusKind, WeekCount
from .close_api import PAGE_LIMIT, data_of, is_int, pages_together, parse_when
from .errors import AuthError, NotFoundError, RefusedError
from .http import HttpApi, Listing
from .settings import CLOSE as CRM

log = logging.getLogger("kanban_tui.close")

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


class CloseHistory:
    """The Event Log and the won / lost counts of a Close organization (mixed into `CloseBackend`)."""

    api: HttpApi
    now: Callable[[], datetime]
    """The wall clock: how old a gap is, against what the Event Log keeps."""
    event_log_keeps: timedelta
    """How far back the Event Log goes (`EVENT_LOG_KEEPS`, or what the backend was given)."""

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
                asked = {**params, "_skip": skip, "_limit": PAGE_LIMIT}
                body = await self.api.request("GET", "opportunity/", params=asked)
                objects = 0
                listing.page([o for g in data_of(body) if isinstance(g, dict) and isinstance(g.get("objects"), list)
                              for o in g["objects"]])
                for group in data_of(body):
                    if not isinstance(group, dict) or not all(is_int(group.get(k)) for k in ("weekyear", "week")):
                        continue
                    try:
                        week = date.fromisocalendar(group["weekyear"], group["week"], 1)
                    except ValueError:
                        continue
                    if is_int(group.get("total_results")):
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
            async for _, records in pages_together(self.api, params):
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
        params = _DELETIONS
        ids: dict[str, None] = {}
        cursor: str | None = None
        for _ in range(EVENT_PAGES_AT_MOST):
            asked = {**params, "_cursor": cursor} if cursor else deletions_query(since)
            body = await self.api.request("GET", "event/", params=asked)
            for event in data_of(body):
                if not isinstance(event, dict):
                    continue
                try:
                    if parse_when(event["date_updated"]) < since:
                        return list(ids)
                except (KeyError, TypeError, ValueError):
                    pass  # no readable date: keep it (a deletion reported twice is harmless)
                deletion = event.get("object_type", "opportunity") == "opportunity" and event.get(
                    "action", "deleted") == "deleted"
                if deletion and isinstance(event.get("object_id"), str):
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
                    asked = {**params, "_cursor": cursor} if cursor else {
                        **params, "date_updated__gte": start.isoformat()}
                    body = await self.api.request("GET", "event/", params=asked)
                    page = [e for e in data_of(body) if isinstance(e, dict)]
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


_DELETIONS: dict[str, Any] = {"object_type": "opportunity", "action": "deleted", "_limit": EVENT_LIMIT}


def deletions_query(since: datetime) -> dict[str, Any]:
    """The query of the Event Log's first page of deletions since `since` (`deleted_since`): what a request
    sent early for it must ask."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return {**_DELETIONS, "date_updated__gte": since.isoformat()}


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
