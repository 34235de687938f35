"""Clustr (clustr-ai.com): the whole dialect in one file.

Documented (docs.clustr-ai.com, seed 000, crm-api-notes §2):
- Base `https://api.clustr-ai.com/api/public/`; `Authorization: Bearer <api key>`;
  401 = missing or invalid key, 403 = the key lacks access.
- Every answer is `{"success": bool, "data": ...}`; `_unwrap` is the one place that reads it.
- `GET opportunity-statuses` -> `data.statuses[]` with `id`, `name`, `color` (hex),
  `position` (0-based, gaps are normal) and `is_terminal`. "Use the returned status IDs
  with the Update Opportunity endpoint" as `status_id`.

ASSUMED (not in the public material; see `ASSUMED` below, the only place to correct):
the opportunity list and update endpoints, their paging and their field names. Clustr has
no documented updated-since filter, so a poll pages through the list again and reports
only what differs from what the board holds.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import ValidationError

from ..models import Changes, Opportunity, Page, Pipeline, Status, StatusKind
from .errors import AuthError, BackendError, NotFoundError, read_each
from .http import HttpApi, HttpBackend

CRM = "Clustr"
DEFAULT_BASE_URL = "https://api.clustr-ai.com/api/public/"
API_KEY_ENV = "CLUSTR_API_KEY"
PIPELINE_ID = "clustr"
"""Clustr has one list of statuses per workspace: one pipeline."""


class ASSUMED:
    """Clustr's opportunity endpoints as assumed here. A user with the real docs fixes them here.

    Most plausible shape, by analogy with the documented status endpoints (`PUT` updates
    "only the fields you provide") and the `{"success", "data"}` envelope:

        GET  opportunities?page=1&limit=100
             -> {"success": true, "data": {"opportunities": [...],
                                           "pagination": {"page": 1, "limit": 100, "total": 412,
                                                          "has_more": true}}}
        PUT  opportunities/{id}   {"status_id": "<status uuid>"}
             -> {"success": true, "data": {<opportunity>}}

    An opportunity: `id`, `status_id`, `prospect` {`name`, `job_title`, `company_name`},
    `company` {`name`}, `owner` {`fullName`, `email`}, `relationship` {`confidence_score`},
    `notes`, `created_at`, `updated_at` (ISO 8601). No deal value is documented: cards show none.
    """

    LIST_PATH = "opportunities"
    LIST_KEY = "opportunities"
    PAGE_PARAM, LIMIT_PARAM, LIMIT = "page", "limit", 100
    UPDATE_METHOD, UPDATE_PATH = "PUT", "opportunities/{id}"
    STATUS_FIELD = "status_id"


WON_NAME = re.compile(r"\b(won|win|signed|closed[- ]won|customer|converted|booked deal)\b", re.IGNORECASE)
"""Clustr marks final statuses (`is_terminal`) without saying won or lost: these names mean won."""


def status_kind(name: str, is_terminal: bool) -> StatusKind:
    if not is_terminal:
        return StatusKind.OPEN
    return StatusKind.WON if WON_NAME.search(name) else StatusKind.LOST


def describe_error(response: httpx.Response) -> BackendError | None:
    code = response.status_code
    if code == 401:
        return AuthError("Clustr rejected the API key", crm=CRM, status_code=code, hint=f"check {API_KEY_ENV}")
    if code == 403:
        return AuthError(
            "the API key does not have access to this", crm=CRM, status_code=code,
            hint="use a key of this workspace with access to opportunities",
        )
    return None


def _unwrap(body: Any) -> Any:
    """The envelope, read in one place: `data` on success, a typed error otherwise."""
    if not isinstance(body, dict) or "success" not in body:
        raise BackendError("answered without the success/data envelope", crm=CRM, hint="check the base URL")
    if body["success"] is not True:
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else error if isinstance(error, str) else None
        raise BackendError(str(message or "the request was not successful")[:200], crm=CRM)
    return body.get("data")


def parse_when(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def to_opportunity(data: dict[str, Any]) -> Opportunity:
    """A Clustr opportunity as a card. Raises KeyError / TypeError / ValueError / ValidationError."""
    prospect = data.get("prospect") or {}
    company = (data.get("company") or {}).get("name") or prospect.get("company_name")
    person = prospect.get("name")
    name = " · ".join(part for part in (company, person) if part) or "(no name)"
    owner = data.get("owner") or {}
    confidence = (data.get("relationship") or {}).get("confidence_score")
    return Opportunity(
        id=data["id"],
        name=name,
        status_id=data[ASSUMED.STATUS_FIELD],
        contact=", ".join(p for p in (person, prospect.get("job_title")) if p) or None,
        confidence=None if confidence is None else round(float(confidence)),
        owner=owner.get("fullName") or owner.get("email"),
        created=parse_when(data["created_at"]),
        updated=parse_when(data["updated_at"]),
        note=data.get("notes") or "",
    )


class ClustrBackend(HttpBackend):
    """A Clustr workspace's opportunities, in its one list of statuses."""

    name = CRM
    has_values = False
    poll_interval = 60.0
    """No updated-since filter: a poll pages through every opportunity, so poll less often."""

    def __init__(self, api_key: str, *, base_url: str = DEFAULT_BASE_URL, transport: httpx.AsyncBaseTransport | None = None,
                 **http_options: Any) -> None:
        if not api_key:
            raise AuthError(f"no API key: set {API_KEY_ENV}", crm=CRM)
        self.api = HttpApi(
            CRM, base_url, headers={"Authorization": f"Bearer {api_key}"}, transport=transport,
            describe=describe_error, **http_options,
        )
        self._set_account("clustr", api_key)
        self._known: dict[str, datetime] = {}

    async def list_pipelines(self) -> list[Pipeline]:
        data = _unwrap(await self.api.request("GET", "opportunity-statuses"))
        try:
            raw = sorted(data["statuses"], key=lambda s: s["position"])
            statuses = tuple(
                Status(id=s["id"], label=s["name"], color=s.get("color"), position=i,
                       kind=status_kind(s["name"], bool(s.get("is_terminal"))))
                for i, s in enumerate(raw)
            )
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise BackendError(f"statuses answer not understood ({exc.__class__.__name__})", crm=CRM) from None
        return [Pipeline(id=PIPELINE_ID, name="Opportunities", statuses=statuses)]

    async def _pages(self) -> AsyncIterator[tuple[list[Opportunity], list[str], int | None, bool]]:
        """Every page of the list: cards, skipped-record lines, total, has_more."""
        page = 1
        while True:
            data = _unwrap(await self.api.request(
                "GET", ASSUMED.LIST_PATH, params={ASSUMED.PAGE_PARAM: page, ASSUMED.LIMIT_PARAM: ASSUMED.LIMIT}
            ))
            records = data.get(ASSUMED.LIST_KEY) if isinstance(data, dict) else None
            if not isinstance(records, list):
                raise BackendError("answered without an opportunity list", crm=CRM, hint="see ASSUMED in clustr.py")
            paging = data.get("pagination") or {}
            skipped: list[str] = []
            cards = read_each(records, to_opportunity, "Clustr opportunity", skipped)
            has_more = bool(paging.get("has_more")) and bool(records)
            total = paging.get("total") if isinstance(paging.get("total"), int) else None
            yield cards, skipped, total, has_more
            if not has_more:
                return
            page += 1

    async def load_opportunities(self, pipeline: Pipeline) -> AsyncIterator[Page]:
        self._known.clear()
        loaded = 0
        async for cards, skipped, total, has_more in self._pages():
            new = [c for c in cards if c.id not in self._known]
            self._known.update((c.id, c.updated) for c in new)
            loaded += len(new)
            yield Page(opportunities=new, loaded=loaded, total=max(total or 0, loaded) if has_more else loaded,
                       skipped=skipped)

    async def changes_since(self, pipeline: Pipeline, cursor: str | None) -> Changes:
        """A re-scan (no updated-since filter): only what differs from what we hold is reported."""
        now = datetime.now(UTC).isoformat()
        if cursor is None:
            return Changes(cursor=now)
        seen: dict[str, datetime] = {}
        upserted, skipped_all = [], []
        async for cards, skipped, _, _ in self._pages():
            skipped_all += skipped
            for card in cards:
                seen[card.id] = card.updated
                if self._known.get(card.id) != card.updated:
                    upserted.append(card)
        removed = sorted(set(self._known) - seen.keys())
        self._known = seen
        return Changes(upserted=upserted, removed=removed, cursor=now, skipped=skipped_all)

    async def move(self, opportunity: Opportunity, status: Status, *, lost_reason: str | None = None) -> Opportunity:
        try:
            body = await self.api.request(
                ASSUMED.UPDATE_METHOD, ASSUMED.UPDATE_PATH.format(id=opportunity.id),
                json={ASSUMED.STATUS_FIELD: status.id},
            )
        except NotFoundError as exc:
            raise NotFoundError("the opportunity no longer exists in Clustr", crm=CRM, status_code=exc.status_code,
                                hint="it was deleted; it has been removed from the board") from None
        data = _unwrap(body)
        try:
            moved = to_opportunity(data)
        except (KeyError, TypeError, ValueError, ValidationError, AttributeError):
            raise BackendError("the move was sent but the answer was not understood", crm=CRM,
                               hint="press r to refresh") from None
        if moved.status_id != status.id:
            raise BackendError(f"Clustr kept the opportunity in another status ({moved.status_id})", crm=CRM,
                               hint="the status may not accept this card")
        self._known[moved.id] = moved.updated
        return moved
