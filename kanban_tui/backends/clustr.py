"""Clustr (clustr-ai.com): the whole dialect in one file.

Documented (docs.clustr-ai.com, seed 000, crm-api-notes §2):
- Base `https://api.clustr-ai.com/api/public/`; `Authorization: Bearer <api key>`;
  401 = missing or invalid key, 403 = the key lacks access.
- Every answer is `{"success": bool, "data": ...}`; `_unwrap` is the one place that reads it.
- `GET opportunity-statuses` -> `data.statuses[]` with `id`, `name`, `color` (hex),
  `position` (0-based, gaps are normal) and `is_terminal`. "Use the returned status IDs
  with the Update Opportunity endpoint" as `status_id`.
- `GET owners` -> `data.owners[]` (`id`, `email`, `firstName`, `lastName`, `fullName`), ordered by name: an
  owner's id is what to "pass as `assigned_to_user_id` when updating an opportunity" (docs.clustr-ai.com,
  list-owners). So an edit changes the owner (issue 23), and nothing else: no other writable field, no notes
  call and no create call are documented.

ASSUMED (not in the public material; see `ASSUMED` below, the only place to correct):
the opportunity list, read and update endpoints, their paging and their field names. Clustr
has no documented updated-since filter, so a poll pages through the list again and reports
only what differs from what the board holds (`rescan.RescanBackend`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ..models import Edit, Opportunity, Pipeline, Status, StatusKind, User
from .errors import AuthError, BackendError, NotFoundError, RefusedError, read_each
from .http import HttpApi, Listing, httpx
from .rescan import RescanBackend, ScanPage
from .settings import CLUSTR as CRM
from .settings import CLUSTR_API_KEY_ENV as API_KEY_ENV
from .settings import CLUSTR_BASE_URL as DEFAULT_BASE_URL
from .settings import ClustrSettings

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
        GET  opportunities/{id}
             -> {"success": true, "data": {<opportunity>}}   (404 when there is none)
        PUT  opportunities/{id}   {"status_id": "<status uuid>"}
             -> {"success": true, "data": {<opportunity>}}

    An opportunity: `id`, `status_id`, `prospect` {`name`, `job_title`, `company_name`},
    `company` {`name`}, `owner` {`fullName`, `email`}, `relationship` {`confidence_score`},
    `notes`, `created_at`, `updated_at` (ISO 8601). No deal value is documented: cards show none.
    """

    LIST_PATH = "opportunities"
    LIST_KEY = "opportunities"
    PAGE_PARAM, LIMIT_PARAM, LIMIT = "page", "limit", 100
    GET_PATH = "opportunities/{id}"
    UPDATE_METHOD, UPDATE_PATH = "PUT", "opportunities/{id}"
    STATUS_FIELD = "status_id"
    OWNER_FIELD = "assigned_to_user_id"
    """Documented (the owners page) as what the update takes; that an opportunity's `owner` carries the owner's
    `id` back is assumed."""
    OWNERS_PATH = "owners"


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
        owner_id=str(owner["id"]) if owner.get("id") else None,
    )


class ClustrBackend(RescanBackend):
    """A Clustr workspace's opportunities, in its one list of statuses."""

    name = CRM
    has_values = False
    records_won_date = False
    editable = frozenset({"owner"})
    cannot_edit = "documents only status and owner changes to an opportunity"
    cannot_note = "documents no notes call"
    cannot_create = "documents no call that makes an opportunity"

    def __init__(self, api_key: str, *, base_url: str = DEFAULT_BASE_URL,
                 transport: httpx.AsyncBaseTransport | None = None, **http_options: Any) -> None:
        if not api_key:
            raise AuthError(f"no API key: set {API_KEY_ENV}", crm=CRM)
        super().__init__()
        self.api = HttpApi(
            CRM, base_url, headers={"Authorization": f"Bearer {api_key}"}, transport=transport,
            describe=describe_error, **http_options,
        )
        self._set_account("clustr", api_key)

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

    async def _scan(self) -> AsyncGenerator[ScanPage]:
        """Every page of the list; a card's fingerprint is its `updated_at`. A `Listing` ends a list that
        says `has_more` for ever (a page adding nothing new, too many pages), with a line saying so."""
        page = 1
        listing = Listing(CRM, "opportunities")
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
            cut_short = not listing.page(records)
            if cut_short:
                skipped.append(f"{listing.ended}; the board may be incomplete")
            has_more = bool(paging.get("has_more")) and bool(records) and not cut_short
            total = paging.get("total") if isinstance(paging.get("total"), int) else None
            yield ScanPage([(c, c.updated) for c in cards], skipped, total, has_more, cut_short)
            if not has_more:
                return
            page += 1

    async def fetch_one(self, pipeline: Pipeline, opportunity_id: str) -> Opportunity | None:
        """One `GET opportunities/{id}` (ASSUMED.GET_PATH): None on 404 or when its status is not in
        the pipeline. What the board holds is left as it is: the next poll reports the card if it changed."""
        try:
            body = await self.api.request("GET", ASSUMED.GET_PATH.format(id=opportunity_id))
        except NotFoundError:
            return None
        try:
            found = to_opportunity(_unwrap(body))
        except (KeyError, TypeError, ValueError, ValidationError, AttributeError):
            raise BackendError("the opportunity's answer was not understood", crm=CRM,
                               hint="see ASSUMED in clustr.py") from None
        return found if pipeline.status(found.status_id) is not None else None

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
        self._remember(moved.id, moved.updated)
        return moved

    async def users(self) -> list[User] | None:
        """`GET owners` (documented): everyone an opportunity can be assigned to, as the owner picker offers them."""
        data = _unwrap(await self.api.request("GET", ASSUMED.OWNERS_PATH))
        owners = data.get("owners") if isinstance(data, dict) else None
        if not isinstance(owners, list):
            raise BackendError("answered without an owner list", crm=CRM, hint="check the base URL")
        users = []
        for owner in owners[:1000]:
            if isinstance(owner, dict) and isinstance(owner.get("id"), str | int):
                name = owner.get("fullName") or " ".join(
                    str(owner.get(k) or "") for k in ("firstName", "lastName")).strip() or owner.get("email")
                users.append(User(id=str(owner["id"]), name=str(name or f"owner {owner['id']}")))
        return users

    async def update(self, opportunity: Opportunity, edit: Edit) -> Opportunity:
        """The update call with the owner's id as `assigned_to_user_id` (documented); nothing else is."""
        unknown = set(edit.fields) - self.editable
        if unknown:
            raise RefusedError(f"Clustr {self.cannot_edit} ({', '.join(sorted(unknown))})", crm=CRM)
        if not edit.fields:
            return opportunity
        if edit.owner is None:
            raise RefusedError("Clustr's API documents no way to leave an opportunity unassigned", crm=CRM,
                               hint="give it to someone else instead")
        try:
            body = await self.api.request(ASSUMED.UPDATE_METHOD, ASSUMED.UPDATE_PATH.format(id=opportunity.id),
                                          json={ASSUMED.OWNER_FIELD: edit.owner.id})
        except NotFoundError as exc:
            raise NotFoundError("the opportunity no longer exists in Clustr", crm=CRM, status_code=exc.status_code,
                                hint="it was deleted; it has been removed from the board") from None
        try:
            answered = to_opportunity(_unwrap(body))
        except (KeyError, TypeError, ValueError, ValidationError, AttributeError):
            raise BackendError("the edit was sent but the answer was not understood", crm=CRM,
                               hint="press r to refresh") from None
        if answered.owner_id is not None and answered.owner_id != edit.owner.id:
            raise BackendError("Clustr kept the opportunity with another owner", crm=CRM,
                               hint="the owner may not take opportunities")
        edited = edit.apply(answered) if answered.owner_id is None else answered
        self._remember(edited.id, edited.updated)
        return edited


def from_settings(settings: ClustrSettings, values: Mapping[str, str], **options: Any) -> ClustrBackend:
    """The registry's factory: `values` holds the API key (from $CLUSTR_API_KEY or the table)."""
    return ClustrBackend(values["api_key"], base_url=settings.base_url, **options)
