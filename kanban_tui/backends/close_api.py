"""Close's API as the Close backend reads it: its records, its errors, its paged lists.

Part of the Close backend (`close.py`, which the registry names; its module docstring has the API facts).
Plain functions over Close's JSON and an `HttpApi`: what an opportunity, a pipeline and an error answer mean
(`to_opportunity`, `pipeline_of`, `describe_error`), and how `GET opportunity/` pages (`pages`, one at a time;
`pages_together`, `PARALLEL_PAGES` in flight), each bounded by a `Listing`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from ..models import Edit, Note, Opportunity, Period, Pipeline, Status, StatusKind, User
from .errors import AuthError, BackendError, RefusedError, read_each
from .http import HttpApi, Listing, httpx, json_dict
from .settings import CLOSE as CRM
from .settings import CLOSE_API_KEY_ENV as API_KEY_ENV

log = logging.getLogger("kanban_tui.close")

WEB_URL = "https://app.close.com/lead/{lead_id}/"

PAGE_LIMIT = 100
"""`_limit` asked for; Close caps it per resource (and may return fewer)."""
PARALLEL_PAGES = 6
"""Pages of a load in flight at once (fewer as the rate-limit window runs low: `HttpApi.room`)."""

FIELDS = (
    "id,lead_id,lead_name,contact_name,status_id,value,value_currency,value_period,"
    "confidence,user_id,user_name,date_created,date_updated,date_won,status_type,note,is_stalled"
)
"""`_fields`: only what a card and its detail screen show (`status_type` says what `date_won` means)."""

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
        body = json_dict(response)
        fields = body.get("field-errors")
        errors = body.get("errors")
        parts = [f"{field}: {message}" for field, message in (fields or {}).items()]
        parts += [str(e) for e in errors or [] if e]
        if isinstance(body.get("error"), str):
            parts.append(body["error"])
        return RefusedError("; ".join(parts)[:300] or "bad request", crm=CRM, status_code=code)
    return None


def parse_when(text: str) -> datetime:
    """A Close timestamp (`2024-05-01T12:48:23.392000+00:00`, maybe naive = UTC)."""
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def to_opportunity(data: dict[str, Any]) -> Opportunity:
    """A Close opportunity as a card. Raises ValueError / ValidationError on bad data.

    `date_won` means two things in Close: on an active opportunity it is the expected close date (the only
    date a user sets there; moving into won keeps it as the won date), on a won or lost one the day it was won.
    So an active one's is its `close_date` (and it has no won date yet); any other's stays its `date_won`."""
    active = data.get("status_type") == "active"
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
        owner_id=data.get("user_id") or None,
        created=parse_when(data["date_created"]),
        updated=parse_when(data["date_updated"]),
        date_won=None if active else data.get("date_won"),
        close_date=data.get("date_won") if active else None,
        note=data.get("note") or "",
        url=WEB_URL.format(lead_id=data["lead_id"]) if data.get("lead_id") else None,
        stalled=bool(data.get("is_stalled")),
    )


EDIT_FIELD = {"value": "value", "currency": "value_currency", "period": "value_period", "confidence": "confidence",
              "close_date": "date_won", "owner": "user_id"}
"""An `Edit` field's name in Close's `PUT opportunity/{id}/` (the expected close date is an active deal's
`date_won`; the owner is its `user_id`)."""


def edit_body(edit: Edit) -> dict[str, Any]:
    """The `PUT opportunity/{id}/` body of an edit: only the fields it sets, in Close's names and forms (cents, a
    `YYYY-MM-DD` date, a user's id, a period's name); null clears a value or a date."""
    body: dict[str, Any] = {}
    for name in edit.fields:
        value = getattr(edit, name)
        if isinstance(value, User):
            value = value.id
        elif isinstance(value, Period):
            value = value.value
        elif value is not None and name == "close_date":
            value = value.isoformat()
        body[EDIT_FIELD[name]] = value
    return body


def to_note(data: dict[str, Any]) -> Note:
    """A Close note activity (`GET activity/note/`): when it happened (`activity_at`, else `date_created`), its
    plain text (`note`; `note_html` is not drawn) and who wrote it. Raises ValueError / ValidationError."""
    return Note(
        when=parse_when(data.get("activity_at") or data["date_created"]),
        text=data.get("note") or data.get("title") or "",
        author=data.get("user_name") or data.get("created_by_name"),
    )


def lead_of(opportunity: Opportunity) -> str | None:
    """The lead id in a card's link (`WEB_URL`, built from its `lead_id`); None when it has none."""
    prefix, suffix = WEB_URL.split("{lead_id}")
    url = opportunity.url or ""
    if url.startswith(prefix) and url.endswith(suffix) and len(url) > len(prefix) + len(suffix):
        lead = url[len(prefix):-len(suffix)]
        return lead if "/" not in lead else None
    return None


def read_records(records: Any, skipped: list[str]) -> list[Opportunity]:
    """Turn a `data` list into opportunities; one line in `skipped` per bad record."""
    if not isinstance(records, list):
        raise BackendError("answered with a list that is not a list", crm=CRM, hint="report this to Close support")
    return read_each(records, to_opportunity, "Close opportunity", skipped)


def pipeline_of(data: dict[str, Any]) -> Pipeline:
    """A Close pipeline with its statuses in board order, colored by kind (`status_color`)."""
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


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def _cancel(planned: deque[tuple[int, asyncio.Task[Any]]]) -> None:
    """Cancel the requests in flight and wait for them to end (their errors unread, on purpose)."""
    tasks = [task for _, task in planned]
    planned.clear()
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


def data_of(body: Any) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BackendError("answered without a data list", crm=CRM, hint="check the base URL")
    return body["data"]


def first_page(params: dict[str, Any]) -> dict[str, Any]:
    """The query of a listing's first page (`pages`): what a request sent early for it must ask."""
    return {**params, "_skip": 0, "_limit": PAGE_LIMIT}


async def pages(
    api: HttpApi, params: dict[str, Any], listing: Listing | None = None
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
        asked = first_page(params) if skip == 0 else {**params, "_skip": skip, "_limit": PAGE_LIMIT}
        body = await api.request("GET", "opportunity/", params=asked)
        records = data_of(body)
        go_on = listing.page(records)
        yield body, records
        skip += len(records)
        if not body.get("has_more") or not records or not go_on:
            if listing.ended is not None:
                log.warning("%s", listing.ended)
            return

async def pages_together(
    api: HttpApi, params: dict[str, Any], listing: Listing | None = None
) -> AsyncIterator[tuple[dict[str, Any], list[Any]]]:
    """What `pages` yields, in the same order, with up to `PARALLEL_PAGES` requests in flight.

    The first page says how many records a page holds (the server may cap `_limit`) and
    `total_results`; the pages after it are asked for together, never past the total the latest
    answer gave (one at a time when it gives none). A page shorter than planned (the listing
    changed, or a smaller cap) drops what was planned after it, and paging goes on from where it
    ended. Leaving early (an error, the caller stopping) cancels what is in flight. `listing` ends it as
    in `pages` (what was planned after the page that ended it is cancelled).
    """
    listing = listing or Listing(CRM, "opportunities")

    async def page(skip: int) -> tuple[dict[str, Any], list[Any]]:
        body = await api.request("GET", "opportunity/", params={**params, "_skip": skip, "_limit": PAGE_LIMIT})
        return body, data_of(body)

    body, records = await page(0)
    go_on = listing.page(records)
    yield body, records
    step = next_skip = len(records)
    planned: deque[tuple[int, asyncio.Task[tuple[dict[str, Any], list[Any]]]]] = deque()
    try:
        while body.get("has_more") and records and go_on:
            total = body.get("total_results") if isinstance(body.get("total_results"), int) else None
            width = api.room(PARALLEL_PAGES)
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
