"""BottleCRM (self-hosted, PyPI `django-crm`): the whole dialect in one file.

Facts used, from the OpenAPI schema of a running 1.35.0 (`bottlecrm-openapi.yml` in the shared
reference) and from that server itself (`scripts/bottlecrm-up`; `tests/live/` checks them):

- The base URL is the server's origin (`http://127.0.0.1:8000`); every path is under `api/`.
  `Authorization: Bearer bcrm_pat_…`, a personal access token acting as its owner in one org. A
  token the server does not know is a 403 `{"detail": "Organization context is required. …"}`.
- `GET api/opportunities/pipelines/`: `{"pipelines": [{id, name, is_default, stages: [{id, code,
  label, order, kind, expected_days, warning_days}]}]}`, the default pipeline first. A deal stores
  its stage's `code` (made from the label, never changed), so a status id here is that code. No
  colour (BottleCRM's own board colours by kind): the UI picks one.
- `GET api/opportunities/?pipeline=&limit=&offset=`: `opportunities_count`, `opportunities`, and the
  next `offset` (null on the last page, 0 on an empty one); no maximum limit. Rows carry
  `created_at` and `stage_changed_at` but no `updated_at`; `GET api/opportunities/kanban/?pipeline=`
  does (at most 100 cards per column), as does the answer to a move.
- `GET api/opportunities/<id>/` -> `{"opportunity_obj": {...}}`; 404 `{"errors": "Opportunity not found."}`.
- `PATCH api/opportunities/<id>/move/` `{"column_id": "<code>"}` -> `{"opportunity": <card>}`; into
  won or lost it sets `closed_on` (when the deal had none) and the probability. Refusals are 400
  `{"error": true, "errors": {"column_id": "That is not a stage of this deal's pipeline."}}` (a stage
  deleted meanwhile) or `{"amount": "A won deal has to record what it was worth."}`.
- `GET api/activities/?entity_type=Opportunity&limit=50`: the latest 50 events (CREATE / UPDATE /
  DELETE with `entity_id` and `timestamp`), newest first, no paging, no since-filter. A move or an
  edit through the API is an UPDATE. Deletion is permanent. Stage edits are not logged.
- `GET api/profile/` -> `user_obj.user_details.name`: the name deals' `assigned_to` show.
- Amounts are decimal strings in major units (`"1200.50"`); a deal without a currency is in the
  org's default (taken as USD). Names and notes are stored as sent, escape sequences included.
- A deal is rotting (the card's stalled marker) after `ceil(expected_days * 1.5)` whole days in an
  open stage that has `expected_days`; BottleCRM's `aging_thresholds` rule, its board's red.

Polling: one `GET api/activities/` per poll. The deals named by events newer than the cursor (with
a small overlap, de-duplicated by event id) are read one GET each and reported when they differ from
what the board holds; a DELETE reports the deal removed. When all 50 events are newer than the
cursor some may have been cut off, and more than `FETCH_ONE_AT_MOST` deals would cost a request
each: then the poll re-scans the pipeline's list and reports what differs (as `rescan.py` does).
Every `PIPELINES_EVERY` seconds, and whenever a deal turns up in a stage the board does not know,
the pipelines are read again: stage edits leave no event. When the open pipeline's stages changed
(added, removed, renamed, reordered), the poll reports it as BottleCRM now has it (`Changes.pipeline`,
also kept in `stages_changed`) with the whole list re-scanned in its terms: deals in a new stage are
upserted, deals no longer in any of its stages removed. The board moves to it in place.

The poll's cursor (the newest event's time) is never let run ahead of BottleCRM's clock (the `Date`
of its answer, else this machine's): one event dated in the future would hide every later one. A
listing that says "more" but adds nothing new, or goes on past `MAX_PAGES`, is ended with a line
saying so, and removes nothing from the board.

The web UI is not part of the package (a separate SvelteKit app, its `FRONTEND_URL`): cards link to
`<web_url>/pipeline/<id>` only when `web_url` is configured.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from pydantic import ValidationError

from ..models import (
    Changes,
    History,
    HistoryEvent,
    Opportunity,
    Page,
    Pipeline,
    Status,
    StatusKind,
)
from ..money import minor_units
from ..text import safe_text
from .bottlecrm_write import BottleCrmWrites
from .errors import (
    AuthError,
    BackendError,
    NotFoundError,
    RefusedError,
    UnavailableError,
    read_each,
)
from .http import HttpApi, HttpBackend, Listing, httpx, json_dict
from .settings import BOTTLECRM as CRM
from .settings import BOTTLECRM_TOKEN_ENV as TOKEN_ENV
from .settings import BOTTLECRM_URL_ENV as URL_ENV
from .settings import BottleCrmSettings

PAGE_LIMIT = 100
"""Deals asked for per page (the server has no maximum; 100 keeps the load's progress moving)."""
ACTIVITY_LIMIT = 50
"""The most events `api/activities/` gives (its maximum); no paging."""
OVERLAP = timedelta(seconds=2)
"""How far before the cursor a poll looks again (events committed late), de-duplicated by event id."""
FETCH_ONE_AT_MOST = 10
"""A poll that names more deals than this re-scans the list instead of one GET per deal."""
PIPELINES_EVERY = 120.0
"""Seconds between reads of the pipelines during polls: stage edits leave no event."""
ROTTEN_MULTIPLIER = 1.5
"""BottleCRM's `opportunity.workflow.ROTTEN_MULTIPLIER`."""
DEFAULT_CURRENCY = "USD"
KINDS = {"open": StatusKind.OPEN, "won": StatusKind.WON, "lost": StatusKind.LOST}
UNKNOWN_TOKEN = "Organization context is required"


class Event(NamedTuple):
    """One entry of the activity feed."""

    id: str
    action: str
    entity_id: str
    when: datetime


def parse_when(text: str) -> datetime:
    """A BottleCRM timestamp (`2026-11-23T16:19:23.895134Z`; naive = UTC)."""
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def is_rotting(kind: StatusKind, expected_days: Any, since: datetime | None, now: datetime) -> bool:
    """BottleCRM's red: `ceil(expected_days * 1.5)` whole days in an open stage with expected days."""
    if kind is not StatusKind.OPEN or not isinstance(expected_days, int) or expected_days <= 0 or since is None:
        return False
    return (now - since).days >= math.ceil(expected_days * ROTTEN_MULTIPLIER)


def fingerprint(card: Opportunity) -> str:
    """What the board shows of a card, hashed: equal fingerprints mean nothing a poll must report.
    Not `updated` (not every answer carries it) nor `stalled` (it changes with the clock alone)."""
    shown = (card.name, card.status_id, card.value, card.currency, card.confidence, card.owner, card.contact,
             card.date_won, card.note, card.status_changed, card.close_date, card.owner_id)
    return hashlib.sha256(json.dumps(shown, default=str).encode()).hexdigest()


def describe_error(response: httpx.Response) -> BackendError | None:
    """BottleCRM's own words for what a user can act on."""
    code = response.status_code
    body = json_dict(response)
    detail = body.get("detail")
    if code == 401 or (code == 403 and isinstance(detail, str) and UNKNOWN_TOKEN in detail):
        return AuthError("BottleCRM did not accept the token", crm=CRM, status_code=code,
                         hint=f"check {TOKEN_ENV} (a personal access token, bcrm_pat_…, of an active user)")
    if code == 403:
        return AuthError(str(detail or "not allowed")[:200], crm=CRM, status_code=code,
                         hint="ask a BottleCRM admin for access")
    errors = body.get("errors")
    if code == 404:
        return NotFoundError(str(errors or detail or "not found")[:200], crm=CRM, status_code=code)
    if 400 <= code < 500 and code != 429 and (errors or detail):
        if isinstance(errors, dict):
            parts = []
            for field, message in errors.items():
                text = " ".join(map(str, message)) if isinstance(message, list) else str(message)
                parts.append(text if field in ("column_id", "amount", "non_field_errors") else f"{field}: {text}")
            message = "; ".join(parts)
        else:
            message = str(errors or detail)
        return RefusedError(message[:300] or "request refused", crm=CRM, status_code=code)
    return None


class BottleCrmBackend(BottleCrmWrites, HttpBackend):
    """One BottleCRM org's deals, pipeline by pipeline, as one token's owner sees them."""

    name = CRM

    def __init__(
        self,
        token: str,
        *,
        base_url: str,
        web_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        pipelines_every: float = PIPELINES_EVERY,
        clock: Any = time.monotonic,
        now: Any = None,
        **http_options: Any,
    ) -> None:
        if not token:
            raise AuthError(f"no token: set {TOKEN_ENV}", crm=CRM)
        if not base_url:
            raise BackendError(f"no server address: set {URL_ENV}", crm=CRM, hint="e.g. http://127.0.0.1:8000")
        base = base_url.rstrip("/")
        if base.endswith("/api"):
            base = base[: -len("/api")]  # the origin or its /api/: either works
        self.api = HttpApi(CRM, base + "/", headers={"Authorization": f"Bearer {token}"}, transport=transport,
                           describe=describe_error, **http_options)
        self._set_account("bottlecrm", token)
        self.web_url = web_url.rstrip("/") + "/" if web_url else None
        self.has_links = self.web_url is not None
        self.pipelines_every = pipelines_every
        self.clock = clock
        self.now = now or (lambda: datetime.now(UTC))
        self._pipelines: dict[str, Pipeline] = {}
        """As last listed, by id."""
        self._expected_days: dict[tuple[str, str], Any] = {}
        """(pipeline id, stage code) -> the stage's expected_days: what ages a deal."""
        self._held: dict[str, str] = {}
        """Every deal of the open pipeline delivered (by a load, a poll or a move) -> its fingerprint."""
        self._touched: dict[str, datetime] = {}
        """Deal id -> the newest change time known for it (kanban `updated_at`, an event, a move's answer)."""
        self._seen_events: dict[str, datetime] = {}
        """Event ids within the overlap window of the newest cursor: not reported twice."""
        self._next_pipelines = 0.0
        self.stages_changed: dict[str, Pipeline] = {}
        """Pipelines whose stages differ from what the board opened, as BottleCRM has them now (by id)."""

    # -- pipelines ----------------------------------------------------------------------------------------

    async def list_pipelines(self) -> list[Pipeline]:
        body = await self.api.request("GET", "api/opportunities/pipelines/")
        try:
            records = body["pipelines"]
            pipelines = [self._pipeline(p) for p in sorted(records, key=lambda p: not p.get("is_default"))]
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise BackendError(f"pipelines answer not understood ({exc.__class__.__name__})", crm=CRM,
                               hint=f"check that {URL_ENV} is a BottleCRM server") from None
        self._pipelines = {p.id: p for p in pipelines}
        self._next_pipelines = self.clock() + self.pipelines_every
        return pipelines

    def _pipeline(self, data: dict[str, Any]) -> Pipeline:
        statuses = []
        for stage in sorted(data["stages"], key=lambda s: (s["order"], s["label"])):
            statuses.append(Status(id=stage["code"], label=stage["label"] or stage["code"], position=stage["order"],
                                   kind=KINDS.get(stage.get("kind"), StatusKind.OPEN)))
            self._expected_days[(str(data["id"]), stage["code"])] = stage.get("expected_days")
        return Pipeline(id=str(data["id"]), name=data["name"] or "(no name)", statuses=tuple(statuses))

    async def _check_stages(self, pipeline: Pipeline) -> Pipeline | None:
        """Read the pipelines again: the open one as BottleCRM has it now when its stages changed, else None."""
        try:
            fresh = {p.id: p for p in await self.list_pipelines()}.get(pipeline.id)
        except BackendError:
            return None  # the poll itself will say what is wrong, if it persists
        if fresh is None or _shape(fresh) == _shape(pipeline):
            self.stages_changed.pop(pipeline.id, None)
            return None
        self.stages_changed[pipeline.id] = fresh
        return fresh

    # -- cards ----------------------------------------------------------------------------------------------

    def to_opportunity(self, data: dict[str, Any], pipeline: Pipeline) -> Opportunity:
        """A BottleCRM deal (a list row, a detail, a kanban card) as a card. Raises on bad data."""
        if str(data.get("pipeline")) != pipeline.id:
            raise ValueError("not in this pipeline")
        deal_id = str(data["id"])
        currency = (data.get("currency") or DEFAULT_CURRENCY).upper()
        created = parse_when(data["created_at"])
        stage_changed = parse_when(data["stage_changed_at"]) if data.get("stage_changed_at") else None
        times = [created, stage_changed, self._touched.get(deal_id)]
        if data.get("updated_at"):
            times.append(parse_when(data["updated_at"]))
        updated = max(t for t in times if t is not None)
        status = pipeline.status(str(data["stage"]))
        kind = status.kind if status is not None else KINDS.get(str(data.get("stage_kind")), StatusKind.OPEN)
        assigned = [p for p in data.get("assigned_to") or [] if isinstance(p, dict)]
        owner = (assigned[0].get("user_details") or {}).get("name") if assigned else None
        owner_id = assigned[0].get("id") if assigned else None
        account = data.get("account") if isinstance(data.get("account"), dict) else None
        probability = data.get("probability")
        closed_on = data.get("closed_on")
        return Opportunity(
            id=deal_id,
            name=data.get("name") or "(no name)",
            status_id=str(data["stage"]),
            contact=account.get("name") if account else None,
            value=minor_units(data.get("amount"), currency),
            currency=currency,
            confidence=max(0, min(100, probability)) if isinstance(probability, int) else None,
            owner=owner or None,
            created=created,
            updated=updated,
            date_won=date.fromisoformat(closed_on) if closed_on and kind is StatusKind.WON else None,
            close_date=date.fromisoformat(closed_on) if closed_on else None,
            owner_id=str(owner_id) if owner and owner_id else None,
            note=data.get("description") or "",
            url=f"{self.web_url}pipeline/{deal_id}" if self.web_url else None,
            stalled=is_rotting(kind, self._expected_days.get((pipeline.id, str(data["stage"]))), stage_changed,
                               self.now()),
            status_changed=stage_changed,
        )

    def _read(self, records: Any, pipeline: Pipeline, skipped: list[str]) -> list[Opportunity]:
        if not isinstance(records, list):
            raise BackendError("answered without a list of deals", crm=CRM, hint=f"check {URL_ENV}")
        return read_each(records, lambda r: self.to_opportunity(r, pipeline), "BottleCRM deal", skipped)

    async def _kanban_times(self, pipeline: Pipeline) -> None:
        """`updated_at` of the first 100 cards of each column: the list does not carry it."""
        body = await self.api.request("GET", "api/opportunities/kanban/", params={"pipeline": pipeline.id})
        for column in body.get("columns") or [] if isinstance(body, dict) else []:
            for card in column.get("items") or [] if isinstance(column, dict) else []:
                try:
                    self._touch(str(card["id"]), parse_when(card["updated_at"]))
                except (KeyError, TypeError, ValueError):
                    continue

    def _touch(self, deal_id: str, when: datetime) -> None:
        if deal_id not in self._touched or when > self._touched[deal_id]:
            self._touched[deal_id] = when

    async def _scan(self, pipeline: Pipeline, listing: Listing | None = None,
                    ) -> AsyncIterator[tuple[list[Opportunity], list[str], int | None, bool]]:
        """The pipeline's deals page by page: (cards in its stages, skipped lines, total, more to come).
        `listing` ends it early (a page adding nothing new, too many pages): its line is in the last page's
        skipped lines, and `listing.ended` says the scan was not the whole list."""
        listing = listing or Listing(CRM, "deals")
        offset = 0
        while True:
            body = await self.api.request("GET", "api/opportunities/",
                                          params={"pipeline": pipeline.id, "limit": PAGE_LIMIT, "offset": offset})
            if not isinstance(body, dict):
                raise BackendError("answered without a deal list", crm=CRM, hint=f"check {URL_ENV}")
            records = body.get("opportunities")
            skipped: list[str] = []
            cards = self._read(records, pipeline, skipped)
            if isinstance(records, list) and not listing.page(records):
                skipped.append(f"{listing.ended}; the board may be incomplete")
            unknown = [c for c in cards if pipeline.status(c.status_id) is None]
            if unknown:
                self._next_pipelines = 0.0  # a stage the board does not know: the pipelines are read again
                skipped += [f"BottleCRM deal {c.id} skipped: its stage {c.status_id!r} is not a column here (yet)"
                            for c in unknown]
            total = body.get("opportunities_count") if isinstance(body.get("opportunities_count"), int) else None
            following = body.get("offset")
            more = bool(records) and isinstance(following, int) and following > offset and listing.ended is None
            yield [c for c in cards if pipeline.status(c.status_id) is not None], skipped, total, more
            if not more or not isinstance(following, int):
                return
            offset = following

    async def load_opportunities(self, pipeline: Pipeline) -> AsyncIterator[Page]:
        self._held.clear()
        await self._kanban_times(pipeline)
        loaded = 0
        async for cards, skipped, total, more in self._scan(pipeline):
            new = [c for c in cards if c.id not in self._held]
            self._held.update((c.id, fingerprint(c)) for c in new)
            loaded += len(new)
            yield Page(opportunities=new, loaded=loaded, total=max(total or 0, loaded) if more else loaded,
                       skipped=skipped)

    # -- polling -------------------------------------------------------------------------------------------

    async def _events(self) -> list[Event]:
        body = await self.api.request("GET", "api/activities/",
                                      params={"entity_type": "Opportunity", "limit": ACTIVITY_LIMIT})
        records = body.get("activities") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise BackendError("answered without an activity list", crm=CRM, hint=f"check {URL_ENV}")
        events = []
        for record in records:
            try:
                events.append(Event(str(record["id"]), str(record["action"]), str(record["entity_id"]),
                                    parse_when(record["timestamp"])))
            except (KeyError, TypeError, ValueError):
                continue
        return sorted(events, key=lambda e: e.when, reverse=True)

    def _remember_events(self, events: list[Event], newest: datetime) -> None:
        keep_after = newest - OVERLAP
        self._seen_events = {k: v for k, v in self._seen_events.items() if v > keep_after}
        self._seen_events.update((e.id, e.when) for e in events if e.when > keep_after)

    async def changes_since(self, pipeline: Pipeline, cursor: str | None) -> Changes:
        events = await self._events()
        clock = self.api.crm_now(self.now())  # BottleCRM's clock: no cursor runs ahead of it
        newest = min(max([e.when for e in events], default=clock), clock)
        if cursor is None:
            self._remember_events(events, newest)
            return Changes(cursor=newest.isoformat())
        start = min(parse_when(cursor), clock)
        newest = max(newest, start)
        since = start - OVERLAP
        fresh = [e for e in events if e.when > since and e.id not in self._seen_events]
        cut_off = len(events) >= ACTIVITY_LIMIT and events[-1].when > since
        self._remember_events(events, newest)
        for event in fresh:
            self._touch(event.entity_id, event.when)
        skipped: list[str] = []
        restaged = await self._check_stages(pipeline) if self.clock() >= self._next_pipelines else None
        if restaged is not None:  # every deal again, in the new stages' terms
            changes = await self._rescan(restaged, skipped)
        else:
            deleted = {e.entity_id for e in fresh if e.action == "DELETE"}
            named = list(dict.fromkeys(e.entity_id for e in fresh if e.entity_id not in deleted))
            if cut_off or len(named) > FETCH_ONE_AT_MOST:
                changes = await self._rescan(pipeline, skipped)
            else:
                changes = await self._read_named(pipeline, named, deleted, skipped)
            if self.clock() >= self._next_pipelines:  # a deal turned up in a stage the board does not know
                restaged = await self._check_stages(pipeline)
                if restaged is not None:
                    changes = _merged(changes, await self._rescan(restaged, []))
        changes.pipeline = restaged
        changes.cursor = newest.isoformat()
        return changes

    async def history(self, pipeline: Pipeline, since: datetime) -> History:
        """The activity feed's events since `since` (its latest `ACTIVITY_LIMIT`: when all are newer, the
        history is complete only from the oldest, `complete_from`), read with the pipeline's deals as they
        are now. The feed says which deal was created, updated or deleted, and when, not what changed: an
        update at the time the deal entered its stage (`stage_changed_at`) is a move into that stage (from
        where, the feed does not say); another update is a change of unknown fields."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        body = await self.api.request("GET", "api/activities/",
                                      params={"entity_type": "Opportunity", "limit": ACTIVITY_LIMIT})
        records = body.get("activities") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise BackendError("answered without an activity list", crm=CRM, hint=f"check {URL_ENV}")
        feed: list[tuple[datetime, str, str, str | None]] = []
        for record in records:
            try:
                feed.append((parse_when(record["timestamp"]), str(record["action"]), str(record["entity_id"]),
                             record.get("entity_name") if isinstance(record.get("entity_name"), str) else None))
            except (KeyError, TypeError, ValueError):
                continue
        feed.sort(key=lambda e: e[0], reverse=True)
        complete_from = feed[-1][0] if len(records) >= ACTIVITY_LIMIT and feed and feed[-1][0] > since else None
        fresh = [e for e in feed if e[0] >= since]
        deals: dict[str, Opportunity] = {}
        if any(action != "DELETE" for _, action, _, _ in fresh):
            async for cards, _, _, _ in self._scan(pipeline):
                deals.update((c.id, c) for c in cards)
        near = timedelta(seconds=5)
        moves: dict[str, datetime] = {}  # deal -> the time of its update nearest to its stage change
        for when, action, deal_id, _ in fresh:
            deal = deals.get(deal_id)
            if action == "UPDATE" and deal is not None and deal.status_changed is not None \
                    and abs(when - deal.status_changed) <= near:
                best = moves.get(deal_id)
                if best is None or abs(when - deal.status_changed) < abs(best - deal.status_changed):
                    moves[deal_id] = when
        events = []
        for when, action, deal_id, name in fresh:
            deal = deals.get(deal_id)
            if action == "DELETE":
                events.append(HistoryEvent(when=when, opportunity_id=deal_id, action="deleted", name=name))
            elif deal is None:
                continue  # another pipeline's deal (or deleted since, which its own event says)
            elif action == "CREATE":
                same_stage = deal.status_changed is None or deal.status_changed <= when + near
                events.append(HistoryEvent(when=when, opportunity_id=deal_id, action="created", name=deal.name,
                                           status_to=deal.status_id if same_stage else None, value_to=deal.value,
                                           currency=deal.currency))
            elif action == "UPDATE":
                moved = moves.get(deal_id) == when
                events.append(HistoryEvent(when=when, opportunity_id=deal_id, action="updated", name=deal.name,
                                           moved=moved, status_to=deal.status_id, value_to=deal.value,
                                           currency=deal.currency, known=False))
        return History(events=events, source="BottleCRM's activity feed", complete_from=complete_from)

    async def _read_named(self, pipeline: Pipeline, named: list[str], deleted: set[str],
                          skipped: list[str]) -> Changes:
        """One GET per deal an event named; report those that differ from what is held."""
        upserted: list[Opportunity] = []
        removed = {d for d in deleted if d in self._held}
        for deal_id in named:
            card = await self._fetch(pipeline, deal_id, skipped)
            if card is None:
                if deal_id in self._held:
                    removed.add(deal_id)
                continue
            if self._held.get(deal_id) != fingerprint(card):
                upserted.append(card)
        for deal_id in removed:
            del self._held[deal_id]
        for card in upserted:
            self._held[card.id] = fingerprint(card)
        return Changes(upserted=upserted, removed=sorted(removed), skipped=skipped)

    async def _rescan(self, pipeline: Pipeline, skipped: list[str]) -> Changes:
        """The whole list again: what differs from what is held, and what is no longer there."""
        seen: dict[str, str] = {}
        upserted: list[Opportunity] = []
        listing = Listing(CRM, "deals")
        async for cards, page_skipped, _, _ in self._scan(pipeline, listing):
            skipped += page_skipped
            for card in cards:
                seen[card.id] = fingerprint(card)
                if self._held.get(card.id) != seen[card.id]:
                    upserted.append(card)
        if listing.ended is not None:  # not the whole list: what it did not reach may be there still
            self._held.update(seen)
            return Changes(upserted=upserted, removed=[], skipped=skipped)
        removed = sorted(set(self._held) - seen.keys())
        self._held = seen
        return Changes(upserted=upserted, removed=removed, skipped=skipped)

    async def _fetch(self, pipeline: Pipeline, deal_id: str, skipped: list[str]) -> Opportunity | None:
        """`GET api/opportunities/<id>/`: None on 404 or when the deal is not in `pipeline`'s stages."""
        try:
            body = await self.api.request("GET", f"api/opportunities/{deal_id}/")
        except NotFoundError:
            return None
        record = body.get("opportunity_obj") if isinstance(body, dict) else None
        if not isinstance(record, dict) or str(record.get("pipeline")) != pipeline.id:
            return None
        found = self._read([record], pipeline, skipped)
        if not found:
            return None
        if pipeline.status(found[0].status_id) is None:
            self._next_pipelines = 0.0
            return None
        return found[0]

    async def fetch_one(self, pipeline: Pipeline, opportunity_id: str) -> Opportunity | None:
        """One request; what the next poll reports is left as it is."""
        return await self._fetch(pipeline, opportunity_id, [])

    # -- moving -------------------------------------------------------------------------------------------

    async def move(self, opportunity: Opportunity, status: Status, *, lost_reason: str | None = None) -> Opportunity:
        try:
            body = await self.api.request("PATCH", f"api/opportunities/{opportunity.id}/move/",
                                          json={"column_id": status.id})
        except NotFoundError as exc:
            raise NotFoundError("the deal no longer exists in BottleCRM", crm=CRM, status_code=exc.status_code,
                                hint="it was deleted; it has been removed from the board") from None
        card = body.get("opportunity") if isinstance(body, dict) else None
        pipeline = self._pipelines.get(str(card.get("pipeline"))) if isinstance(card, dict) else None
        if pipeline is None and isinstance(card, dict):
            pipeline = {p.id: p for p in await self.list_pipelines()}.get(str(card.get("pipeline")))
        skipped: list[str] = []
        moved = self._read([card], pipeline, skipped) if isinstance(card, dict) and pipeline is not None else []
        if not moved:
            raise UnavailableError("the move was sent but the answer was not understood", crm=CRM, status_code=200,
                                   hint="the card is read back")
        # the move's answer is a kanban card: it has no notes; the card keeps the ones it had
        result = moved[0].model_copy(update={"note": opportunity.note})
        self._touch(result.id, result.updated)
        self._held[result.id] = fingerprint(result)
        return result

    async def me(self) -> str | None:
        """`GET api/profile/`: the name this token's owner has on the deals assigned to them."""
        body = await self.api.request("GET", "api/profile/")
        user = body.get("user_obj") if isinstance(body, dict) else None
        details = user.get("user_details") if isinstance(user, dict) else None
        name = details.get("name") if isinstance(details, dict) else None
        return safe_text(str(name)) if name else None


def _shape(pipeline: Pipeline) -> list[tuple[str, str, int, str]]:
    return [(s.id, s.label, s.position, s.kind.value) for s in pipeline.statuses]


def _merged(first: Changes, then: Changes) -> Changes:
    """Two reports of one poll as one (`then` was made after `first`: it wins)."""
    upserted = {o.id: o for o in [*first.upserted, *then.upserted] if o.id not in then.removed}
    return Changes(upserted=list(upserted.values()), removed=sorted({*first.removed, *then.removed} - upserted.keys()),
                   skipped=first.skipped + then.skipped)


def from_settings(settings: BottleCrmSettings, values: Mapping[str, str], **options: Any) -> BottleCrmBackend:
    """The registry's factory: `values` holds the address and the token ($BOTTLECRM_URL / $BOTTLECRM_TOKEN
    or the table)."""
    return BottleCrmBackend(values["token"], base_url=values["base_url"], web_url=settings.web_url, **options)
