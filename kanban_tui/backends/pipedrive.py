"""Pipedrive: pipelines, loads, polls and moves.

Facts used, from Pipedrive's API v2 description (`pipedrive-openapi-v2.yml` in the shared reference) and
its rate-limiting page (pipedrive.readme.io, "Rate limiting"):

- The base URL is the API root (`https://api.pipedrive.com/`, or a company domain
  `https://acme.pipedrive.com/`); every path is under `api/v2/`, but "who am I", which is only in v1
  (`api/v1/users/me`: the user's `id`, `name` and the company's `company_domain`). Auth: the `x-api-token`
  header (the description's `api_key` scheme), never the `api_token` query parameter (it would land in logs).
- `GET api/v2/pipelines` (`order_nr`: the lowest is the default), `GET api/v2/stages[?pipeline_id=]`
  (`order_nr`, `deal_probability`, `is_deal_rot_enabled`, `days_to_rotten`, `is_deleted`); no colours.
- `GET api/v2/deals?pipeline_id=&status=open,won,lost`: cursor paging, `limit` up to 500, the next page's
  `additional_data.next_cursor` (null on the last); `updated_since` (RFC 3339, "later than or equal");
  `status=deleted` gives deals deleted up to 30 days ago; `sort_by` id / update_time / add_time. No total.
  A deal: `id`, `title`, `owner_id`, `pipeline_id`, `stage_id`, `value` (major units), `currency`,
  `add_time`, `update_time`, `stage_change_time`, `status` (open / won / lost), `probability` (nullable),
  `lost_reason`, `won_time`, `lost_time`, `is_deleted`, `is_archived`. Archived deals are not listed.
- `GET api/v2/deals/{id}`, `PATCH api/v2/deals/{id}` (`stage_id`, `status`, `lost_reason`: "can only be set
  if deal status is lost") -> `{"success": true, "data": <deal>}`. Errors:
  `{"success": false, "error": "…", "error_info": "…"}`.
- Rate limits: a daily token budget (each operation's `x-token-cost`) and a burst window, told in the
  `x-ratelimit-limit` / `x-ratelimit-remaining` / `x-ratelimit-reset` headers; a 429 carries `Retry-After`.
  Those headers are read as `HttpApi` reads a `RateLimit` header (pacing as `remaining` runs low; a 429
  waited out, capped, like Close's).

Its answers are read by `pipedrive_api.py`; edits and new deals (issue 23) are `pipedrive_write.py`
(`PipedriveWrites`, mixed into `PipedriveBackend`).

Won and lost are a deal's **status** in Pipedrive, not stages: they are the board's last two columns
(`WON_ID` ✓ Won, `LOST_ID` ✗ Lost). A move there sends `status` (and the `lost_reason` picked from the
configured list), a move from there back to a stage sends `status: open` with the `stage_id`.

Polling: one `GET api/v2/deals?updated_since=<cursor less OVERLAP>&status=open,won,lost,deleted` across
pipelines (a deal moved to another pipeline is seen leaving; a deleted one is removed), de-duplicated by
each deal's `update_time`. Every `RECONCILE_EVERY` seconds the pipeline's deleted deals are listed too (in
case a deletion did not move `update_time`), and every `PIPELINES_EVERY` seconds (or when a deal turns up
in a stage the board does not know) the pipeline's stages are read again: a changed pipeline is reported
(`Changes.pipeline`) with its deals re-listed in its terms. The cursor never runs ahead of Pipedrive's
clock (the `Date` of its answer). A warm start (`resume`) is that same delta from the saved cursor, while
the gap is shorter than deleted deals are kept (30 days); past that the board is loaded whole.

`history` is None: v2 has no deal changelog (the report compares saved snapshots). Owners: Pipedrive gives
an `owner_id` only; the key's own user is named (from `users/me`), others are `user <id>`. Contacts are not
shown (ids only: naming them would cost a request per page).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from ..models import Changes, Opportunity, Page, Pipeline, Status, StatusKind
from ..money import minor_units
from ..text import safe_text
from .errors import (
    AuthError,
    BackendError,
    NotFoundError,
    RefusedError,
    read_each,
)
from .http import HttpApi, HttpBackend, Listing, httpx
from .pipedrive_api import (
    DEFAULT_CURRENCY,
    LIVE,
    PALETTE_LOST,
    PALETTE_OPEN,
    PALETTE_WON,
    V2,
    WEB_URL,
    api_root,
    data_of,
    describe_error,
    expected_close,
    int_or_none,
    is_gone,
    is_rotting,
    maybe_when,
    next_cursor,
    parse_when,
    required_int,
    rfc3339,
    stage_shape,
    text_or_none,
)
from .pipedrive_write import PipedriveWrites
from .settings import PIPEDRIVE as CRM
from .settings import PIPEDRIVE_BASE_URL as DEFAULT_BASE_URL
from .settings import PIPEDRIVE_LOST_REASONS, PipedriveSettings
from .settings import PIPEDRIVE_TOKEN_ENV as TOKEN_ENV

log = logging.getLogger("kanban_tui.pipedrive")

ME = "api/v1/users/me"
WON_ID = "won"
LOST_ID = "lost"
"""The ids of the two status columns (stage ids are numbers: these never collide with one)."""
PAGE_LIMIT = 500
"""`limit` asked for: the most Pipedrive allows."""
EVERY_STATUS = "open,won,lost,deleted"
OVERLAP = timedelta(seconds=2)
"""How far before the cursor a poll asks again (Pipedrive's times are whole seconds)."""
DELETED_KEPT = timedelta(days=30)
"""`status=deleted` lists "deals that have been deleted up to 30 days ago"."""
DELETED_MARGIN = timedelta(hours=1)
"""A warm start older than `DELETED_KEPT` less this is loaded whole: deletions might have been forgotten."""
RECONCILE_EVERY = 300.0
"""Seconds between listings of the pipeline's deleted deals during polls."""
PIPELINES_EVERY = 120.0
"""Seconds between reads of the open pipeline's stages during polls."""


async def _rate_headers(response: httpx.Response) -> None:
    """Pipedrive's `x-ratelimit-*` headers as the `RateLimit` header `HttpApi` paces by."""
    headers = response.headers
    if "ratelimit" in headers:
        return
    limit, remaining, reset = (headers.get(f"x-ratelimit-{k}") for k in ("limit", "remaining", "reset"))
    if limit and remaining and reset:
        headers["RateLimit"] = f"limit={limit.strip()}, remaining={remaining.strip()}, reset={reset.strip()}"


class PipedriveBackend(PipedriveWrites, HttpBackend):
    """One Pipedrive company's deals, pipeline by pipeline, as one API token's user sees them."""

    name = CRM

    def __init__(
        self,
        api_token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        lost_reasons: tuple[str, ...] = PIPEDRIVE_LOST_REASONS,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
        reconcile_every: float = RECONCILE_EVERY,
        pipelines_every: float = PIPELINES_EVERY,
        **http_options: Any,
    ) -> None:
        if not api_token:
            raise AuthError(f"no API token: set {TOKEN_ENV}", crm=CRM)
        self.api = HttpApi(CRM, api_root(base_url or DEFAULT_BASE_URL), headers={"x-api-token": api_token},
                           transport=transport, describe=describe_error, **http_options)
        self.api.client.event_hooks["response"] = [_rate_headers]
        self._set_account("pipedrive", api_token)
        self.lost_reasons = tuple(r for r in lost_reasons if r.strip())
        self.clock = clock
        self.now = now or (lambda: datetime.now(UTC))
        self.reconcile_every = reconcile_every
        self.pipelines_every = pipelines_every
        host = self.api.client.base_url.host
        self.domain: str | None = host if host.endswith(".pipedrive.com") and host != "api.pipedrive.com" else None
        """The company's web address (`acme.pipedrive.com`): cards link to their deal there."""
        self.has_links = self.domain is not None
        self._me: tuple[int, str] | None = None
        self._asked_me = False
        self._pipelines: dict[str, Pipeline] = {}
        self._stages: dict[str, dict[str, Any]] = {}
        """Stage id -> the stage as listed (probability, rotting)."""
        self._probability_on: dict[str, bool] = {}
        self._known: dict[str, datetime] = {}
        """Every deal of the open pipeline delivered (a load, a poll, a move) -> its `update_time`."""
        self._next_reconcile = 0.0
        self._next_pipelines = 0.0
        self.stages_changed: dict[str, Pipeline] = {}

    # -- who, where ------------------------------------------------------------------------------------

    async def _whoami(self) -> None:
        """`GET api/v1/users/me`, once: the user's id and name (cards' owner), the company's domain (links).
        A key that may not read it costs nothing more than names and links."""
        if self._asked_me:
            return
        self._asked_me = True
        try:
            body = await self.api.request("GET", ME)
        except AuthError as exc:
            if exc.status_code == 401:
                raise
            return
        except (NotFoundError, RefusedError):
            return
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return
        if int_or_none(data.get("id")) is not None and isinstance(data.get("name"), str) and data["name"].strip():
            self._me = (data["id"], safe_text(data["name"]))
        domain = data.get("company_domain")
        if self.domain is None and isinstance(domain, str) and domain.replace("-", "").isalnum():
            self.domain = f"{domain.lower()}.pipedrive.com"
            self.has_links = True

    async def me(self) -> str | None:
        await self._whoami()
        return self._me[1] if self._me else None

    # -- pipelines -------------------------------------------------------------------------------------

    async def _list(self, path: str, params: dict[str, Any], what: str) -> list[Any]:
        """Every record of a cursor-paged v2 listing (bounded by a `Listing`)."""
        records: list[Any] = []
        listing = Listing(CRM, what)
        cursor: str | None = None
        while True:
            asked = {**params, "limit": PAGE_LIMIT, **({"cursor": cursor} if cursor else {})}
            body = await self.api.request("GET", V2 + path, params=asked)
            page = data_of(body)
            records += page
            cursor = next_cursor(body)
            if not cursor or not listing.page(page):
                if listing.ended is not None:
                    log.warning("%s", listing.ended)
                return records

    async def list_pipelines(self) -> list[Pipeline]:
        await self._whoami()
        pipelines = await self._list("pipelines", {}, "pipelines")
        stages = await self._list("stages", {"sort_by": "order_nr"}, "stages")
        try:
            found = [self._pipeline(p, stages) for p in sorted(
                (p for p in pipelines if isinstance(p, dict) and not p.get("is_deleted")),
                key=lambda p: (int_or_none(p.get("order_nr")) or 0, int_or_none(p.get("id")) or 0))]
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise BackendError(f"pipelines answer not understood ({exc.__class__.__name__})", crm=CRM,
                               hint="check the base URL (the API root, https://api.pipedrive.com/)") from None
        self._pipelines = {p.id: p for p in found}
        self._next_pipelines = self.clock() + self.pipelines_every
        return found

    def _pipeline(self, data: dict[str, Any], stages: list[Any]) -> Pipeline:
        pipeline_id = str(required_int(data, "id"))
        mine = [s for s in stages if isinstance(s, dict) and str(s.get("pipeline_id")) == pipeline_id
                and not s.get("is_deleted") and int_or_none(s.get("id")) is not None]
        mine.sort(key=lambda s: (int_or_none(s.get("order_nr")) or 0, s["id"]))
        statuses = []
        for position, stage in enumerate(mine):
            self._stages[str(stage["id"])] = stage
            statuses.append(Status(id=str(stage["id"]), label=text_or_none(stage.get("name")) or f"Stage {stage['id']}",
                                   color=PALETTE_OPEN[position % len(PALETTE_OPEN)], position=position))
        statuses.append(Status(id=WON_ID, label="Won", color=PALETTE_WON, position=len(mine),
                               kind=StatusKind.WON))
        statuses.append(Status(id=LOST_ID, label="Lost", color=PALETTE_LOST, position=len(mine) + 1,
                               kind=StatusKind.LOST))
        self._probability_on[pipeline_id] = data.get("is_deal_probability_enabled") is not False
        name = text_or_none(data.get("name")) or "(no name)"
        return Pipeline(id=pipeline_id, name=name, statuses=tuple(statuses), lost_reasons=self.lost_reasons)

    async def _check_stages(self, pipeline: Pipeline) -> Pipeline | None:
        """The open pipeline's stages read again: the pipeline as Pipedrive has it now when they changed."""
        self._next_pipelines = self.clock() + self.pipelines_every
        try:
            stages = await self._list("stages", {"pipeline_id": pipeline.id, "sort_by": "order_nr"}, "stages")
            fresh = self._pipeline({"id": int(pipeline.id), "name": pipeline.name,
                                    "is_deal_probability_enabled": self._probability_on.get(pipeline.id, True)},
                                   stages)
        except (BackendError, KeyError, TypeError, ValueError, ValidationError):
            return None  # the poll itself says what is wrong, if it persists
        if stage_shape(fresh) == stage_shape(pipeline):
            self.stages_changed.pop(pipeline.id, None)
            return None
        self._pipelines[pipeline.id] = fresh
        self.stages_changed[pipeline.id] = fresh
        return fresh

    # -- deals -----------------------------------------------------------------------------------------

    def to_opportunity(self, data: dict[str, Any], pipeline: Pipeline) -> Opportunity:
        """A Pipedrive deal of `pipeline` as a card. Raises on bad data."""
        deal_id = required_int(data, "id")
        status = data.get("status")
        stage_id = int_or_none(data.get("stage_id"))
        if status == "won":
            status_id = WON_ID
        elif status == "lost":
            status_id = LOST_ID
        elif status == "open":
            if stage_id is None:
                raise ValueError("no stage_id")
            status_id = str(stage_id)
        else:
            raise ValueError(f"status {str(status)[:20]!r} is not open, won or lost")
        currency = data.get("currency") if isinstance(data.get("currency"), str) and data["currency"] else None
        currency = (currency or DEFAULT_CURRENCY).upper()
        created = parse_when(data.get("add_time"))
        updated = parse_when(data["update_time"]) if data.get("update_time") else created
        stage = self._stages.get(str(stage_id)) if stage_id is not None else None
        probability = data.get("probability")
        if isinstance(probability, int | float) and not isinstance(probability, bool):
            confidence: int | None = max(0, min(100, round(probability)))
        elif status == "open" and stage is not None and self._probability_on.get(pipeline.id, True) \
                and int_or_none(stage.get("deal_probability")) is not None:
            confidence = max(0, min(100, stage["deal_probability"]))
        else:
            confidence = None
        since_key = {"won": "won_time", "lost": "lost_time"}.get(status, "stage_change_time")
        since = maybe_when(data.get(since_key)) or (maybe_when(data.get("stage_change_time"))
                                                     if status != "open" else None) or created
        won = maybe_when(data.get("won_time")) if status == "won" else None
        owner_id = int_or_none(data.get("owner_id"))
        owner = None
        if owner_id is not None:
            owner = self._me[1] if self._me and self._me[0] == owner_id else f"user {owner_id}"
        reason = data.get("lost_reason")
        note = f"Lost reason: {reason}" if status == "lost" and isinstance(reason, str) and reason.strip() else ""
        title = text_or_none(data.get("title")) or "(no title)"
        return Opportunity(
            id=str(deal_id),
            name=title,
            status_id=status_id,
            value=minor_units(data.get("value"), currency),
            currency=currency,
            confidence=confidence,
            owner=owner,
            created=created,
            updated=updated,
            date_won=won.date() if won else None,
            note=note,
            url=WEB_URL.format(domain=self.domain, id=deal_id) if self.domain else None,
            stalled=status == "open" and is_rotting(stage, updated, self.now()),
            status_changed=since,
            close_date=expected_close(data.get("expected_close_date")),
            owner_id=str(owner_id) if owner_id is not None else None,
        )

    def _read(self, records: list[Any], pipeline: Pipeline, skipped: list[str]) -> list[Opportunity]:
        """The live deals of `pipeline` among `records` as cards; a stage the board does not know is said."""
        live = [r for r in records if isinstance(r, dict) and not is_gone(r)
                and str(r.get("pipeline_id")) == pipeline.id]
        cards = read_each(live, lambda r: self.to_opportunity(r, pipeline), "Pipedrive deal", skipped)
        known = []
        for card in cards:
            if pipeline.status(card.status_id) is None:
                self._next_pipelines = 0.0  # read the stages again at the next poll
                skipped.append(f"Pipedrive deal {card.id} skipped: its stage {card.status_id} is not a column here"
                               " (yet)")
            else:
                known.append(card)
        return known

    async def _pages(self, params: dict[str, Any], listing: Listing) -> AsyncIterator[tuple[list[Any], bool]]:
        """`GET api/v2/deals` page by page, following `next_cursor`: each page's records, and whether more
        follow. `listing` ends it (a cursor that brings nothing new, too many pages)."""
        cursor: str | None = None
        while True:
            asked = {**params, "limit": PAGE_LIMIT, **({"cursor": cursor} if cursor else {})}
            body = await self.api.request("GET", V2 + "deals", params=asked)
            records = data_of(body)
            cursor = next_cursor(body)
            more = bool(cursor) and listing.page(records)
            yield records, more
            if not more:
                return

    async def load_opportunities(self, pipeline: Pipeline) -> AsyncIterator[Page]:
        self._known.clear()
        loaded = 0
        listing = Listing(CRM, "deals")
        async for records, more in self._pages({"pipeline_id": pipeline.id, "status": LIVE}, listing):
            skipped: list[str] = []
            new = [c for c in self._read(records, pipeline, skipped) if c.id not in self._known]
            self._known.update((c.id, c.updated) for c in new)
            loaded += len(new)
            if listing.ended is not None:
                skipped.append(f"{listing.ended}; the board may be incomplete")
            yield Page(opportunities=new, loaded=loaded, total=None if more else loaded, skipped=skipped)
        self._next_reconcile = self.clock() + self.reconcile_every

    async def fetch_one(self, pipeline: Pipeline, opportunity_id: str) -> Opportunity | None:
        """`GET api/v2/deals/{id}`: None when it is not there (404, deleted, archived) or not in `pipeline`."""
        if not opportunity_id.isdigit():
            return None
        try:
            body = await self.api.request("GET", f"{V2}deals/{opportunity_id}")
        except NotFoundError:
            return None
        record = body.get("data") if isinstance(body, dict) else None
        found = self._read([record], pipeline, []) if isinstance(record, dict) else []
        return found[0] if found else None

    # -- polling ---------------------------------------------------------------------------------------

    def _not_ahead(self, when: datetime) -> datetime:
        return min(when, self.api.crm_now(self.now()))

    async def changes_since(self, pipeline: Pipeline, cursor: str | None) -> Changes:
        if cursor is None:
            body = await self.api.request("GET", V2 + "deals", params={
                "status": EVERY_STATUS, "sort_by": "update_time", "sort_direction": "desc", "limit": 1})
            newest = next((w for r in data_of(body) if isinstance(r, dict)
                           if (w := maybe_when(r.get("update_time"))) is not None), None)
            return Changes(cursor=self._not_ahead(newest or self.now()).isoformat())
        try:
            since = parse_when(cursor)
        except ValueError:
            since = self._not_ahead(self.now()) - OVERLAP  # an unreadable cursor: from now on
        upserted: dict[str, Opportunity] = {}
        removed: set[str] = set()
        skipped: list[str] = []
        newest = await self._delta(pipeline, since, upserted, removed, skipped)
        restaged = None
        if self.clock() >= self._next_pipelines:
            restaged = await self._check_stages(pipeline)
            if restaged is not None:  # every deal again, in the new stages' terms
                again = await self._relist(restaged, skipped)
                upserted = {c.id: c for c in again.upserted}
                removed = set(again.removed)
        if restaged is None and self.clock() >= self._next_reconcile:
            for deal_id in await self._deleted(pipeline):
                upserted.pop(deal_id, None)
                if self._known.pop(deal_id, None) is not None:
                    removed.add(deal_id)
        return Changes(upserted=list(upserted.values()), removed=sorted(removed), cursor=newest.isoformat(),
                       skipped=skipped, pipeline=restaged)

    async def _delta(self, pipeline: Pipeline, cursor: datetime, upserted: dict[str, Opportunity],
                     removed: set[str], skipped: list[str]) -> datetime:
        """Deals updated since `cursor` (less `OVERLAP`) across pipelines, deleted ones included: changes into
        `upserted`, held deals now deleted, archived or in another pipeline into `removed`. The newest
        `update_time` seen, never ahead of Pipedrive's clock."""
        newest = cursor = self._not_ahead(cursor)
        params = {"updated_since": rfc3339(cursor - OVERLAP), "status": EVERY_STATUS, "sort_by": "update_time",
                  "sort_direction": "asc"}
        listing = Listing(CRM, "changed deals")
        async for records, _ in self._pages(params, listing):
            for record in records:
                if not isinstance(record, dict) or int_or_none(record.get("id")) is None:
                    continue
                deal_id = str(record["id"])
                when = maybe_when(record.get("update_time"))
                if when is not None:
                    newest = max(newest, when)
                if is_gone(record) or str(record.get("pipeline_id")) != pipeline.id:
                    upserted.pop(deal_id, None)
                    if self._known.pop(deal_id, None) is not None:
                        removed.add(deal_id)
                    continue
                if when is not None and self._known.get(deal_id) == when:
                    continue  # seen already: the overlap brought it again
                cards = self._read([record], pipeline, skipped)
                if cards:
                    self._known[deal_id] = cards[0].updated
                    upserted[deal_id] = cards[0]
                    removed.discard(deal_id)
        if listing.ended is not None:
            skipped.append(listing.ended)
        return self._not_ahead(newest)

    async def _deleted(self, pipeline: Pipeline) -> list[str]:
        """Ids of the pipeline's deals deleted in the last 30 days (`status=deleted`)."""
        self._next_reconcile = self.clock() + self.reconcile_every
        listing = Listing(CRM, "deleted deals")
        ids: list[str] = []
        async for records, _ in self._pages({"pipeline_id": pipeline.id, "status": "deleted"}, listing):
            ids += [str(r["id"]) for r in records if isinstance(r, dict) and int_or_none(r.get("id")) is not None]
        return ids

    async def _relist(self, pipeline: Pipeline, skipped: list[str]) -> Changes:
        """The whole pipeline again: every card (in the new stages' terms), and what is no longer there."""
        seen: dict[str, Opportunity] = {}
        listing = Listing(CRM, "deals")
        async for records, _ in self._pages({"pipeline_id": pipeline.id, "status": LIVE}, listing):
            seen.update((c.id, c) for c in self._read(records, pipeline, skipped))
        if listing.ended is not None:  # not the whole list: what it did not reach may be there still
            skipped.append(listing.ended)
            self._known.update((i, c.updated) for i, c in seen.items())
            return Changes(upserted=list(seen.values()))
        removed = sorted(set(self._known) - seen.keys())
        self._known = {i: c.updated for i, c in seen.items()}
        return Changes(upserted=list(seen.values()), removed=removed)

    async def resume(self, pipeline: Pipeline, cards: list[Opportunity], cursor: str | None,
                     saved_at: datetime) -> Changes | None:
        """The delta from the saved cursor (deletions included: they stay listed 30 days), with `_known`
        primed with `cards`: one request when nothing changed. None (a whole load) when the cursor is missing
        or unreadable, a saved card's status is not in `pipeline`, or the copy is older than Pipedrive keeps
        deleted deals."""
        if cursor is None:
            return None
        try:
            since = parse_when(cursor)
        except ValueError:
            return None
        now = self.now()
        if saved_at.tzinfo is None:
            saved_at = saved_at.replace(tzinfo=UTC)
        oldest = min(since, saved_at)
        if oldest < now - DELETED_KEPT + DELETED_MARGIN or since > now + OVERLAP:
            return None
        if any(pipeline.status(card.status_id) is None for card in cards):
            return None
        self._known = {card.id: card.updated for card in cards}
        upserted: dict[str, Opportunity] = {}
        removed: set[str] = set()
        skipped: list[str] = []
        newest = await self._delta(pipeline, since, upserted, removed, skipped)
        self._next_reconcile = self.clock() + self.reconcile_every
        return Changes(upserted=list(upserted.values()), removed=sorted(removed), cursor=newest.isoformat(),
                       skipped=skipped)

    # -- moving ----------------------------------------------------------------------------------------

    async def move(self, opportunity: Opportunity, status: Status, *, lost_reason: str | None = None) -> Opportunity:
        """`PATCH api/v2/deals/{id}`: `status` won / lost (with `lost_reason`) into ✓ Won / ✗ Lost; `stage_id`
        into a stage, with `status: open` when the deal was won or lost."""
        body: dict[str, Any]
        if status.kind is StatusKind.WON:
            body = {"status": "won"}
        elif status.kind is StatusKind.LOST:
            body = {"status": "lost", **({"lost_reason": lost_reason} if lost_reason else {})}
        else:
            if not status.id.isdigit():
                raise RefusedError(f"{status.label!r} is not a Pipedrive stage", crm=CRM)
            body = {"stage_id": int(status.id)}
            if opportunity.status_id in (WON_ID, LOST_ID):
                body["status"] = "open"
        if not opportunity.id.isdigit():
            raise NotFoundError("the deal has no Pipedrive id", crm=CRM)
        return await self._patch(opportunity, body, "move")


def from_settings(settings: PipedriveSettings, values: Mapping[str, str], **options: Any) -> PipedriveBackend:
    """The registry's factory: `values` holds the API token ($PIPEDRIVE_API_TOKEN or the table)."""
    return PipedriveBackend(values["api_token"], base_url=settings.base_url, lost_reasons=settings.lost_reasons,
                            **options)
