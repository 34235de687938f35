"""HubSpot (CRM v3, a private app's access token): pipelines, loads, polls, moves and notes read.

Facts used, from HubSpot's OpenAPI descriptions (shared reference `hubspot/deals.json`, `pipelines.json`,
`crmOwners.json`) and the issue:

- Base `https://api.hubapi.com/`; `Authorization: Bearer <private app token>` (never in the query string).
- `GET crm/v3/pipelines/deals` -> `{"results": [Pipeline]}`; a pipeline has `displayOrder`, `archived` and
  `stages`, a stage `displayOrder`, `archived` and `metadata` whose values are strings: `probability`
  ("0.0".."1.0") and `isClosed`. A closed stage of probability 1.0 is won, of 0.0 lost. Ties in
  `displayOrder` go by label (as the description says). No colours: the board's palette by kind.
- Deals (object type `0-3`): `POST crm/v3/objects/deals/search` with a `PublicObjectSearchRequest` (`after`,
  `filterGroups`, `limit` up to 200, `properties`, `sorts`: all required; a sort is a property name, the
  description types it as a string) -> `{total, results, paging.next.after}`. One query gives at most
  10,000 results, so a listing sorts by `hs_object_id` and, before its paging would pass the 10,000th
  result, starts a new query from the last id (`hs_object_id GT …`): a pipeline of any size loads whole.
- `GET crm/v3/objects/deals/{id}` reads one, `PATCH` it with `{"properties": {"dealstage", "pipeline"}}`
  moves it; `GET crm/v3/objects/deals?archived=true` lists the deleted (archived) ones.
- Property values are strings; an empty one may come as null or be left out. `amount` is in major units;
  `deal_currency_code` names its currency where the account has several (else the configured `currency`).
- `GET crm/v3/owners` pages the owners (`hubspot_owner_id` on a deal); a private app token cannot say who
  "me" is: the config's `me`.
- Errors have HubSpot's `Error` body (`category`, `message`, `errors[]`). Rate limits: a rolling 10 s
  window (`X-HubSpot-RateLimit-Max`, `-Remaining`, `-Interval-Milliseconds` on answers) and, apart, a
  stricter one for search (5 a second; its answers carry no rate headers). A 429 carries no `Retry-After`
  but names its `policyName` in its body: `SECONDLY` waits a second, `TEN_SECONDLY_ROLLING` the window,
  `DAILY` as long as dealboard ever waits (then asks again). `RateHeaders` turns these into the
  `RateLimit` / `Retry-After` headers `HttpApi` paces and waits by; searches are also spaced
  `SEARCH_SPACING` apart here, so that a load does not run into the search limit at all.

Its answers are read by `hubspot_api.py`; edits, notes and new deals (issue 23) are `hubspot_write.py`
(`HubSpotWrites`, mixed into `HubSpotBackend`).

Polling: one search of the deals modified since the cursor (`hs_lastmodifieddate GTE cursor - OVERLAP`,
across pipelines so that a deal moved to another pipeline is seen leaving; the overlap's repeats are
dropped by their modification time), and one search counting the pipeline's deals. A count that is not the
number held means deletions: the archived deals are listed and those held are removed; when that does not
explain it (a deal deleted for good, a load that lost a page), an id-only listing of the pipeline (at most
every `RECONCILE_EVERY` seconds) finds the gone and the missing. The cursor is the newest modification
seen, never ahead of HubSpot's clock (its `Date` header). A warm start (`resume`) primes what is held
from the saved board and runs the same poll from its cursor: two searches when nothing changed.

No history (`dealboard changes` compares saved snapshots): HubSpot keeps per-property history, but no
feed of deals changed or deleted since a time that a poll could read.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from ..models import Changes, Note, Opportunity, Page, Pipeline, Status, StatusKind, User
from ..money import minor_units
from .errors import (
    AuthError,
    BackendError,
    NotFoundError,
    UnavailableError,
    read_each,
)
from .http import HttpApi, HttpBackend, Listing, httpx
from .hubspot_api import (
    DEALS,
    PALETTE_OPEN,
    RateHeaders,
    describe_error,
    millis,
    next_after,
    note_text,
    parse_when,
    prop,
    stage_kind,
)
from .hubspot_write import HubSpotWrites
from .settings import HUBSPOT as CRM
from .settings import HUBSPOT_APP_URL, HUBSPOT_BASE_URL, HubSpotSettings
from .settings import HUBSPOT_TOKEN_ENV as TOKEN_ENV

SEARCH_LIMIT = 200
"""`PublicObjectSearchRequest.limit`: "up to 200 objects"."""
SEARCH_CAP = 10_000
"""The most results one search query gives: a listing starts a new query (from the last id) before it."""
SEARCH_SPACING = 0.22
"""Seconds between two searches: HubSpot allows 5 a second per token."""
LIST_LIMIT = 100
ARCHIVED_PAGES_AT_MOST = 50
"""The archived deals listed per check (5,000); past that, the id-only listing says what is gone."""
OVERLAP = timedelta(seconds=30)
"""How far before the cursor a poll looks again: HubSpot's search index catches up with writes a little late."""
RECONCILE_EVERY = 300.0
"""Seconds between id-only listings of the pipeline (when the count says something is amiss)."""
OWNERS_EVERY = 600.0
"""Seconds between readings of the owners."""
FETCH_AT_ONCE = 100
"""Deals read by one `hs_object_id IN (…)` search."""
PROPERTIES = ["dealname", "amount", "deal_currency_code", "dealstage", "pipeline", "hubspot_owner_id", "closedate",
              "createdate", "hs_lastmodifieddate", "description", "closed_lost_reason", "hs_object_id"]
PALETTE_WON, PALETTE_LOST = "#5faf5f", "#d75f5f"


class HubSpotBackend(HubSpotWrites, HttpBackend):
    """One HubSpot account's deals, pipeline by pipeline, as a private app sees them."""

    name = CRM

    def __init__(
        self,
        access_token: str,
        *,
        base_url: str = HUBSPOT_BASE_URL,
        portal_id: str | None = None,
        app_url: str = HUBSPOT_APP_URL,
        currency: str = "USD",
        transport: httpx.AsyncBaseTransport | None = None,
        reconcile_every: float = RECONCILE_EVERY,
        clock: Any = time.monotonic,
        now: Any = None,
        **http_options: Any,
    ) -> None:
        if not access_token:
            raise AuthError(f"no access token: set {TOKEN_ENV}", crm=CRM)
        inner = transport if transport is not None else httpx.AsyncHTTPTransport(verify=True)
        self.api = HttpApi(CRM, base_url, headers={"Authorization": f"Bearer {access_token}"},
                           transport=RateHeaders(inner), describe=describe_error, **http_options)
        self._set_account("hubspot", access_token)
        portal = str(portal_id).strip() if portal_id else ""
        self.web_url = f"{app_url.rstrip('/')}/contacts/{portal}/record/0-3/" if portal.isdigit() else None
        self.has_links = self.web_url is not None
        self.currency = currency.upper()
        self.reconcile_every = reconcile_every
        self.clock = clock
        self.now = now or (lambda: datetime.now(UTC))
        self._owners: dict[str, str] = {}
        self._active: list[User] = []
        """The owners not archived: who a deal can be given to."""
        self._owners_at: float | None = None
        self._stage_pipeline: dict[str, str] = {}
        """Stage id -> its pipeline's id (a move sends both)."""
        self._probability: dict[str, int | None] = {}
        self._known: dict[str, datetime] = {}
        """Every deal of the open pipeline delivered, with its `hs_lastmodifieddate`."""
        self._whole = False
        """`_known` is the whole pipeline (a load that ran to its end, a resumed board)."""
        self._next_reconcile = 0.0
        self._next_search = 0.0

    # -- requests ---------------------------------------------------------------------------------------

    async def _search(self, filters: list[dict[str, Any]], *, after: str = "0", limit: int = SEARCH_LIMIT,
                      sorts: list[str] | None = None, properties: list[str] | None = None) -> dict[str, Any]:
        """One search (spaced `SEARCH_SPACING` from the last); its answer, checked to hold a result list."""
        wait = self._next_search - self.api.clock()
        if wait > 0:
            await self.api.sleep(wait)
        self._next_search = max(self.api.clock(), self._next_search) + SEARCH_SPACING
        body = await self.api.request("POST", f"{DEALS}/search", idempotent=True, json={
            "after": after, "filterGroups": [{"filters": filters}] if filters else [], "limit": limit,
            "properties": properties or PROPERTIES, "sorts": sorts or ["hs_object_id"]})
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise BackendError("answered a search without a result list", crm=CRM, hint="check the base URL")
        return body

    async def _listing(self, filters: list[dict[str, Any]], listing: Listing, *, sort: str = "hs_object_id",
                       properties: list[str] | None = None) -> AsyncIterator[tuple[list[Any], int | None]]:
        """Every deal the filters match, sorted by `sort` (`hs_object_id`, or `hs_lastmodifieddate`), as pages
        with the first answer's `total`. Before a query's paging would pass `SEARCH_CAP`, the next query
        starts from the last record's `sort` value (GT for ids, GTE for times: repeats are the caller's to
        drop). `listing` ends it (a page that adds nothing new, too many pages)."""
        total: int | None = None
        start: str | None = None
        while True:
            query = filters + ([{"propertyName": sort, "operator": "GT" if sort == "hs_object_id" else "GTE",
                                 "value": start}] if start is not None else [])
            after, delivered, last = "0", 0, None
            while True:
                body = await self._search(query, after=after, sorts=[sort], properties=properties)
                records = [r for r in body["results"] if isinstance(r, dict)]
                if total is None and isinstance(body.get("total"), int):
                    total = body["total"]
                go_on = listing.page(records)
                yield records, total
                delivered += len(records)
                last = prop(records[-1], sort) if records else last
                following = next_after(body)
                if not go_on or not records or following is None:
                    return
                if delivered + SEARCH_LIMIT > SEARCH_CAP:
                    break  # the next page would pass what one query gives: a new query from the last value
                after = following
            if last is None or last == start:
                return
            start = last

    # -- pipelines and owners ---------------------------------------------------------------------------

    async def list_pipelines(self) -> list[Pipeline]:
        body = await self.api.request("GET", "crm/v3/pipelines/deals")
        try:
            records = [p for p in body["results"] if not p.get("archived")]
            records.sort(key=lambda p: (p.get("displayOrder") or 0, str(p.get("label"))))
            pipelines = [self._pipeline(p) for p in records]
        except (KeyError, TypeError, AttributeError, ValueError, ValidationError) as exc:
            raise BackendError(f"pipelines answer not understood ({exc.__class__.__name__})", crm=CRM,
                               hint="check the base URL") from None
        return pipelines

    def _pipeline(self, data: dict[str, Any]) -> Pipeline:
        stages = [s for s in data["stages"] if isinstance(s, dict) and not s.get("archived")]
        stages.sort(key=lambda s: (s.get("displayOrder") or 0, str(s.get("label"))))
        statuses, open_index = [], 0
        for position, stage in enumerate(stages):
            kind, percent = stage_kind(stage.get("metadata"))
            color = PALETTE_WON if kind is StatusKind.WON else PALETTE_LOST if kind is StatusKind.LOST else \
                PALETTE_OPEN[open_index % len(PALETTE_OPEN)]
            open_index += kind is StatusKind.OPEN
            statuses.append(Status(id=str(stage["id"]), label=str(stage.get("label") or stage["id"]), color=color,
                                   position=position, kind=kind))
            self._stage_pipeline[str(stage["id"])] = str(data["id"])
            self._probability[str(stage["id"])] = percent
        return Pipeline(id=str(data["id"]), name=str(data.get("label") or data["id"]), statuses=tuple(statuses))

    async def _read_owners(self) -> None:
        """`GET crm/v3/owners`, active and archived (a deal keeps a departed owner), every `OWNERS_EVERY` s."""
        if self._owners_at is not None and self.clock() - self._owners_at < OWNERS_EVERY:
            return
        owners: dict[str, str] = {}
        active: list[User] = []
        for archived in ("false", "true"):
            after: str | None = None
            listing = Listing(CRM, "owners", max_pages=100)
            while True:
                params = {"limit": LIST_LIMIT, "archived": archived, **({"after": after} if after else {})}
                body = await self.api.request("GET", "crm/v3/owners", params=params)
                records = [o for o in (body.get("results") if isinstance(body, dict) else None) or []
                           if isinstance(o, dict)]
                for owner in records:
                    name = " ".join(str(owner.get(k) or "").strip() for k in ("firstName", "lastName")).strip()
                    if owner.get("id") is not None and str(owner["id"]) not in owners:
                        owners[str(owner["id"])] = name or str(owner.get("email") or "") or f"owner {owner['id']}"
                        if archived == "false":
                            active.append(User(id=str(owner["id"]), name=owners[str(owner["id"])]))
                after = next_after(body)
                if not listing.page(records) or not records or after is None:
                    break
        self._owners, self._active, self._owners_at = owners, active, self.clock()

    # -- cards --------------------------------------------------------------------------------------------

    def to_opportunity(self, data: dict[str, Any], pipeline: Pipeline) -> Opportunity:
        """A HubSpot deal as a card. Raises on bad data."""
        props = data["properties"]
        if not isinstance(props, dict):
            raise ValueError("no properties")
        deal_id = str(data["id"])
        stage = str(props.get("dealstage") or "")
        status = pipeline.status(stage)
        if status is None:
            raise ValueError(f"its stage {stage!r} is not a column here")
        currency = str(props.get("deal_currency_code") or self.currency).upper()
        updated = parse_when(str(props.get("hs_lastmodifieddate") or data["updatedAt"]))
        created = parse_when(str(props.get("createdate") or data["createdAt"]))
        closed = props.get("closedate")
        owner_id = props.get("hubspot_owner_id")
        note = str(props.get("description") or "")
        if status.kind is StatusKind.LOST and props.get("closed_lost_reason"):
            note = (note + "\n" if note else "") + f"Lost: {props['closed_lost_reason']}"
        return Opportunity(
            id=deal_id,
            name=str(props.get("dealname") or "(no name)"),
            status_id=stage,
            value=minor_units(props.get("amount"), currency),
            currency=currency,
            confidence=self._probability.get(stage),
            owner=(self._owners.get(str(owner_id)) or f"owner {owner_id}") if owner_id else None,
            created=created,
            updated=updated,
            date_won=parse_when(str(closed)).date() if closed and status.kind is StatusKind.WON else None,
            note=note,
            url=f"{self.web_url}{deal_id}" if self.web_url and deal_id.isdigit() else None,
            close_date=parse_when(str(closed)).date() if closed else None,
            owner_id=str(owner_id) if owner_id else None,
        )

    def _read(self, records: list[Any], pipeline: Pipeline, skipped: list[str]) -> list[Opportunity]:
        return read_each(records, lambda r: self.to_opportunity(r, pipeline), "HubSpot deal", skipped)

    async def load_opportunities(self, pipeline: Pipeline) -> AsyncIterator[Page]:
        await self._read_owners()
        self._known.clear()
        self._whole = False
        loaded = 0
        listing = Listing(CRM, "deals")
        pipeline_filter = [{"propertyName": "pipeline", "operator": "EQ", "value": pipeline.id}]
        async for records, total in self._listing(pipeline_filter, listing):
            skipped: list[str] = []
            new = [o for o in self._read(records, pipeline, skipped) if o.id not in self._known]
            self._known.update((o.id, o.updated) for o in new)
            loaded += len(new)
            if listing.ended is not None:
                skipped.append(f"{listing.ended}; the board may be incomplete")
            yield Page(opportunities=new, loaded=loaded, total=max(total or 0, loaded), skipped=skipped)
        self._whole = listing.ended is None
        self._next_reconcile = self.clock() + self.reconcile_every

    # -- polling ------------------------------------------------------------------------------------------

    async def _count(self, pipeline: Pipeline) -> int | None:
        body = await self._search([{"propertyName": "pipeline", "operator": "EQ", "value": pipeline.id}], limit=1,
                                  properties=["hs_object_id"])
        total = body.get("total")
        return total if isinstance(total, int) and not isinstance(total, bool) else None

    async def changes_since(self, pipeline: Pipeline, cursor: str | None) -> Changes:
        if cursor is None:
            count = await self._count(pipeline)  # also HubSpot's clock, from its answer
            if count is not None and count == len(self._known):
                self._whole = True
            return Changes(cursor=self._not_ahead(self.now()).isoformat())
        try:
            since = parse_when(cursor)
        except ValueError:
            since = self.now()
        return await self._poll(pipeline, since, force_reconcile=False)

    async def _poll(self, pipeline: Pipeline, since: datetime, *, force_reconcile: bool) -> Changes:
        await self._read_owners()
        since = self._not_ahead(since)
        upserted: dict[str, Opportunity] = {}
        removed: set[str] = set()
        skipped: list[str] = []
        newest = since
        listing = Listing(CRM, "changed deals")
        changed = [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": millis(since - OVERLAP)}]
        async for records, _ in self._listing(changed, listing, sort="hs_lastmodifieddate"):
            for record in records:
                props = record.get("properties") if isinstance(record.get("properties"), dict) else {}
                deal_id = str(record.get("id"))
                if str(props.get("pipeline")) != pipeline.id:
                    if self._known.pop(deal_id, None) is not None:  # moved to another pipeline
                        removed.add(deal_id)
                        upserted.pop(deal_id, None)
                    continue
                for card in self._read([record], pipeline, skipped):
                    newest = max(newest, card.updated)
                    if self._known.get(card.id) == card.updated:
                        continue  # the overlap brought it again
                    self._known[card.id] = card.updated
                    upserted[card.id] = card
                    removed.discard(card.id)
        if listing.ended is not None:
            skipped.append(listing.ended)
        count = await self._count(pipeline)
        if count != len(self._known) or force_reconcile:
            gone = await self._archived_among(set(self._known))
            for deal_id in gone:
                self._known.pop(deal_id, None)
                upserted.pop(deal_id, None)
            removed |= gone
            if gone:
                count = await self._count(pipeline)
            if count != len(self._known) and (self.clock() >= self._next_reconcile or not self._whole):
                listed_gone, found = await self._reconcile(pipeline, skipped)
                removed |= listed_gone
                for deal_id in listed_gone:
                    upserted.pop(deal_id, None)
                for card in found:
                    upserted[card.id] = card
                    removed.discard(card.id)
        return Changes(upserted=list(upserted.values()), removed=sorted(removed),
                       cursor=self._not_ahead(newest).isoformat(), skipped=skipped)

    async def _archived_among(self, held: set[str]) -> set[str]:
        """Which of `held` are archived: `GET crm/v3/objects/deals?archived=true`, at most
        `ARCHIVED_PAGES_AT_MOST` pages."""
        gone: set[str] = set()
        after: str | None = None
        listing = Listing(CRM, "archived deals", max_pages=ARCHIVED_PAGES_AT_MOST)
        while True:
            params = {"archived": "true", "limit": LIST_LIMIT, "properties": "pipeline",
                      **({"after": after} if after else {})}
            body = await self.api.request("GET", DEALS, params=params)
            results = body.get("results") if isinstance(body, dict) else None
            records = [r for r in results or [] if isinstance(r, dict)]
            gone |= {str(r.get("id")) for r in records} & held
            after = next_after(body)
            if not listing.page(records) or not records or after is None:
                return gone

    async def _reconcile(self, pipeline: Pipeline, skipped: list[str]) -> tuple[set[str], list[Opportunity]]:
        """An id-only listing of the pipeline: the held deals gone from it, and the present ones never delivered
        (read `FETCH_AT_ONCE` at a time). A listing cut short removes nothing."""
        present: set[str] = set()
        listing = Listing(CRM, "deals")
        pipeline_filter = [{"propertyName": "pipeline", "operator": "EQ", "value": pipeline.id}]
        async for records, _ in self._listing(pipeline_filter, listing, properties=["hs_object_id"]):
            present |= {str(r.get("id")) for r in records}
        self._next_reconcile = self.clock() + self.reconcile_every
        if listing.ended is not None:
            skipped.append(listing.ended)
            return set(), []
        gone = set(self._known) - present
        for deal_id in gone:
            del self._known[deal_id]
        missing = sorted(present - set(self._known))
        found: list[Opportunity] = []
        for start in range(0, len(missing), FETCH_AT_ONCE):
            ids = missing[start:start + FETCH_AT_ONCE]
            body = await self._search([{"propertyName": "hs_object_id", "operator": "IN", "values": ids}],
                                      limit=SEARCH_LIMIT)
            found += [c for c in self._read(body["results"], pipeline, skipped) if c.id in ids]
        self._known.update((c.id, c.updated) for c in found)
        self._whole = True
        return gone, found

    def _not_ahead(self, when: datetime) -> datetime:
        """`when`, or HubSpot's clock (its latest `Date`, else this machine's) when that is earlier."""
        return min(when, self.api.crm_now(self.now()))

    async def resume(self, pipeline: Pipeline, cards: list[Opportunity], cursor: str | None,
                     saved_at: datetime) -> Changes | None:
        """The saved board's cards held, then the poll from its cursor, deletions checked whatever the count.
        None (nothing sent) when the cursor is missing, unreadable or ahead of this clock, or a saved card's
        stage is not in `pipeline`."""
        if cursor is None:
            return None
        try:
            since = parse_when(cursor)
        except ValueError:
            return None
        if since > self.now() + OVERLAP or any(pipeline.status(c.status_id) is None for c in cards):
            return None
        self._known = {c.id: c.updated for c in cards}
        self._whole = True
        self._next_reconcile = self.clock() + self.reconcile_every
        return await self._poll(pipeline, since, force_reconcile=True)

    async def fetch_one(self, pipeline: Pipeline, opportunity_id: str) -> Opportunity | None:
        """One `GET crm/v3/objects/deals/{id}`: None on 404, or when it is not in `pipeline`."""
        if not opportunity_id.isdigit():
            return None
        try:
            body = await self.api.request("GET", f"{DEALS}/{opportunity_id}",
                                          params={"properties": ",".join(PROPERTIES)})
        except NotFoundError:
            return None
        if not isinstance(body, dict) or body.get("archived") or not isinstance(body.get("properties"), dict):
            return None
        if str(body["properties"].get("pipeline")) != pipeline.id:
            return None
        found = self._read([body], pipeline, [])
        return found[0] if found else None

    # -- moving -------------------------------------------------------------------------------------------

    async def move(self, opportunity: Opportunity, status: Status, *, lost_reason: str | None = None) -> Opportunity:
        """`PATCH crm/v3/objects/deals/{id}` with the stage and its pipeline; into a won stage a deal with no won
        date gets today as its `closedate`; a lost reason goes in `closed_lost_reason`."""
        properties = {"dealstage": status.id}
        if status.id in self._stage_pipeline:
            properties["pipeline"] = self._stage_pipeline[status.id]
        if status.kind is StatusKind.WON and opportunity.date_won is None:
            properties["closedate"] = self._not_ahead(self.now()).isoformat(timespec="milliseconds")
        if status.kind is StatusKind.LOST and lost_reason:
            properties["closed_lost_reason"] = lost_reason
        if not opportunity.id.isdigit():
            raise NotFoundError("not a HubSpot deal id", crm=CRM, hint="it has been removed from the board")
        body = await self._patch(opportunity, properties)
        props = body.get("properties") if isinstance(body, dict) else None
        try:
            if not isinstance(props, dict) or str(props.get("dealstage")) != status.id:
                raise ValueError("no stage")
            updated = parse_when(str(props.get("hs_lastmodifieddate") or body["updatedAt"]))
            closed = props.get("closedate")
            won = parse_when(str(closed)).date() if closed and status.kind is StatusKind.WON else None
        except (KeyError, TypeError, ValueError):
            raise UnavailableError("the move was sent but the answer was not understood", crm=CRM, status_code=200,
                                   hint="the card is read back") from None
        note = opportunity.note
        if lost_reason and status.kind is StatusKind.LOST:
            note = (note + "\n" if note else "") + f"Lost: {lost_reason}"
        moved = opportunity.model_copy(update={
            "status_id": status.id, "updated": max(updated, opportunity.updated),
            "confidence": self._probability.get(status.id), "date_won": won, "note": note})
        self._known[moved.id] = updated
        return moved

    # -- notes ----------------------------------------------------------------------------------------------

    async def notes(self, opportunity: Opportunity, limit: int = 5) -> list[Note] | None:
        """The deal's latest notes: `POST crm/v3/objects/notes/search` on `associations.deal`, newest
        `hs_timestamp` first; the body's HTML (HubSpot's editor writes some) as plain text."""
        if not opportunity.id.isdigit():
            return []
        body = await self.api.request("POST", "crm/v3/objects/notes/search", idempotent=True, json={
            "after": "0", "limit": max(1, min(limit, SEARCH_LIMIT)),
            "filterGroups": [{"filters": [{"propertyName": "associations.deal", "operator": "EQ",
                                           "value": opportunity.id}]}],
            "properties": ["hs_note_body", "hs_timestamp", "hubspot_owner_id"], "sorts": ["-hs_timestamp"]})
        results = body.get("results") if isinstance(body, dict) else None
        notes: list[Note] = []
        for record in results if isinstance(results, list) else []:
            props = record.get("properties") if isinstance(record, dict) else None
            try:
                when = parse_when(str(props.get("hs_timestamp") or record["createdAt"]))  # type: ignore[union-attr]
                owner = str(props.get("hubspot_owner_id") or "")  # type: ignore[union-attr]
                notes.append(Note(when=when, text=note_text(props.get("hs_note_body")),  # type: ignore[union-attr]
                                  author=self._owners.get(owner)))
            except (AttributeError, KeyError, TypeError, ValueError, ValidationError):
                continue
        return sorted(notes, key=lambda n: n.when, reverse=True)[:limit]


def from_settings(settings: HubSpotSettings, values: Mapping[str, str], **options: Any) -> HubSpotBackend:
    """The registry's factory: `values` holds the access token ($HUBSPOT_ACCESS_TOKEN or the table)."""
    return HubSpotBackend(values["access_token"], base_url=settings.base_url, portal_id=settings.portal_id,
                          app_url=settings.app_url, currency=settings.currency, **options)

