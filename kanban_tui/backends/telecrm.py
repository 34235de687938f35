"""TeleCRM (Sync API, autoupdate v2): the whole dialect in one file.

Facts used (seed 002, crm-api-notes §3):
- Base `https://next.telecrm.in/autoupdate/v2/`, every path under `enterprise/{id}/`;
  `Authorization: Bearer <Sync token>` (an Async token gets 401 NOT_AUTHORIZED).
- `GET lead-stage-pipeline`: stages (`stageType` OPEN / WON / LOST) each with
  `activeStatuses` and `archivedStatuses` (`statusid`, `label`, `color`), and
  `activeLeadLostReasons` (`reasonLabel`, `isDefault`). Columns: stage order OPEN, WON, LOST,
  then listed order. Archived statuses are not move targets.
- Leads carry their status as the **label** (case-sensitive) in `fields.status`; a status's
  id here *is* its label.
- `POST lead/search?skip=&limit=` (limit 1..100), body `{"fields": {...}}` (empty = all);
  `total_count` and `data[].fields`. No updated-since filter: a poll re-scans and reports
  only leads whose fields changed (`rescan.RescanBackend`). A search only reads: it is sent
  as repeatable (`idempotent=True`), a move is not.
- `GET lead/{leadId}` -> `{"fields": {...}}`, 404 `LEAD_NOT_FOUND`: `fetch_one` in one request.
- `POST lead/{leadId}` with `{"fields": {"status": label}}` moves a lead; unknown labels are
  dropped *silently*, so the answer's status is compared with the label sent.
- Errors: `{"error": {"code": "UPPER_SNAKE", "message": ...}}`.
- Editing (issue 23): the update call changes "only the fields supplied"; of a deal's fields a lead has a
  `name` only (no value, confidence or close date). Its owner is `assignee`, but the team members list is not
  described well enough here to offer a picker: the name alone is editable. No notes call is documented, and
  a new lead must carry the workspace's identifier field (phone by default), which a new deal does not ask
  for: neither is offered.

ASSUMED (the docs disagree or are silent): the lead id in a search result is read from the
first of `LEAD_ID_KEYS` present; a lead without one is shown read-only. The lost-reason
field is `LOST_REASON_FIELD`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncGenerator, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ..models import Edit, Opportunity, Pipeline, Status, StatusKind
from .errors import AuthError, BackendError, NotFoundError, RefusedError, read_each
from .http import HttpApi, Listing, httpx, json_dict
from .rescan import RescanBackend, ScanPage
from .settings import TELECRM as CRM
from .settings import TELECRM_BASE_URL as DEFAULT_BASE_URL
from .settings import TELECRM_ENTERPRISE_ENV as ENTERPRISE_ENV
from .settings import TELECRM_TOKEN_ENV as TOKEN_ENV
from .settings import TeleCrmSettings

PAGE_LIMIT = 100
LEAD_ID_KEYS = ("id", "lead_id", "leadId", "_id")
LOST_REASON_FIELD = "lostReason"
STAGE_ORDER = {"OPEN": 0, "WON": 1, "LOST": 2}
KINDS = {"OPEN": StatusKind.OPEN, "WON": StatusKind.WON, "LOST": StatusKind.LOST}
NO_ID = "TeleCRM's search result carried no lead id, so this board cannot address the lead to move it"


def error_code(response: httpx.Response) -> tuple[str, str]:
    error = json_dict(response).get("error") or {}
    if not isinstance(error, dict):
        return "", str(error)[:200]
    return str(error.get("code") or ""), str(error.get("message") or "")[:200]


class TeleCrmBackend(RescanBackend):
    """One TeleCRM enterprise's leads, in its lead stage pipeline."""

    name = CRM
    has_values = False
    records_won_date = False
    editable = frozenset({"name"})
    cannot_edit = "keeps no value, confidence or close date on a lead, and its team members are not listed here"
    cannot_note = "documents no call that adds a note to a lead"
    cannot_create = "makes a lead only with its identifier field (a phone number by default), not asked for here"
    real_update_times = False
    """Search results carry no modification time: `updated` is when the board saw a change."""

    def __init__(self, token: str, enterprise_id: str, *, base_url: str = DEFAULT_BASE_URL,
                 transport: httpx.AsyncBaseTransport | None = None, **http_options: Any) -> None:
        if not token:
            raise AuthError(f"no Sync token: set {TOKEN_ENV}", crm=CRM)
        if not enterprise_id:
            raise BackendError(f"no enterprise id: set {ENTERPRISE_ENV}", crm=CRM)
        super().__init__()
        self.enterprise_id = enterprise_id
        self.api = HttpApi(CRM, base_url, headers={"Authorization": f"Bearer {token}"}, transport=transport,
                           describe=self.describe_error, **http_options)
        self._set_account(f"telecrm/{enterprise_id}", token)

    def describe_error(self, response: httpx.Response) -> BackendError | None:
        code, message = error_code(response)
        status = response.status_code
        if code == "ENTERPRISE_NOT_FOUND" or (status == 404 and "lead-stage-pipeline" in str(response.request.url)):
            return NotFoundError(f"no enterprise {self.enterprise_id!r}", crm=CRM, status_code=status,
                                 hint=f"check {ENTERPRISE_ENV} (Settings > Website and API)")
        if status == 401:
            return AuthError("TeleCRM refused the token: a Sync API token is needed", crm=CRM, status_code=status,
                             hint=f"check {TOKEN_ENV} (an Async token does not work here)")
        if code or message:
            kind: type[BackendError] | None = (
                NotFoundError if status == 404 else AuthError if status == 403 and code != "INVALID_LEAD" else None)
            kind = kind or (RefusedError if status < 500 else None)
            if kind is not None:
                return kind(f"{code}: {message}" if code else message, crm=CRM, status_code=status, hint="")
        return None

    def _path(self, rest: str) -> str:
        return f"enterprise/{self.enterprise_id}/{rest}"

    async def list_pipelines(self) -> list[Pipeline]:
        body = await self.api.request("GET", self._path("lead-stage-pipeline"))
        try:
            stages = sorted(body["leadStages"], key=lambda s: STAGE_ORDER.get(s["stageType"], 9))
            statuses: list[Status] = []
            archived: list[Status] = []
            for stage in stages:
                kind = KINDS.get(stage["stageType"], StatusKind.OPEN)
                for s in stage.get("activeStatuses") or []:
                    statuses.append(Status(id=s["label"], label=s["label"], color=s.get("color"),
                                           position=len(statuses), kind=kind))
                for s in stage.get("archivedStatuses") or []:
                    archived.append(Status(id=s["label"], label=f"{s['label']} (archived)", color="#767676",
                                           kind=kind, can_move_to=False))
            reasons = sorted(body.get("activeLeadLostReasons") or [], key=lambda r: not r.get("isDefault"))
            lost_reasons = tuple(r["reasonLabel"] for r in reasons)
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise BackendError(f"pipeline answer not understood ({exc.__class__.__name__})", crm=CRM) from None
        # an archived status is a column only if leads sit in it (read-only), never a target
        for status in archived:
            if await self._count({"status": [status.id]}):
                statuses.append(status.model_copy(update={"position": len(statuses)}))
        return [Pipeline(id=f"telecrm-{self.enterprise_id}", name="Leads", statuses=tuple(statuses),
                         lost_reasons=lost_reasons)]

    async def _count(self, fields: dict[str, Any]) -> int:
        body = await self.api.request("POST", self._path("lead/search"), params={"skip": 0, "limit": 1},
                                      json={"fields": fields}, idempotent=True)
        total = body.get("total_count") if isinstance(body, dict) else None
        return total if isinstance(total, int) else 0

    def to_opportunity(self, record: dict[str, Any], now: datetime) -> Opportunity:
        fields = record["fields"]
        lead_id = next((str(record[k]) for k in LEAD_ID_KEYS if record.get(k)), None)
        read_only = None
        if lead_id is None:
            read_only = NO_ID
            lead_id = "noid-" + hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
        contact = ", ".join(str(fields[k]) for k in ("phone", "email") if fields.get(k)) or None
        return Opportunity(
            id=lead_id, name=str(fields.get("name") or fields.get("phone") or "(no name)"), status_id=fields["status"],
            contact=contact, owner=fields.get("assignee"), created=now, updated=now, read_only=read_only,
            note=str(fields.get(LOST_REASON_FIELD) or ""),
        )

    @staticmethod
    def _fingerprint(record: Any) -> str:
        """Search results carry no modification time: a hash of the whole record stands in."""
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()

    async def _scan(self) -> AsyncGenerator[ScanPage]:
        """Every page of an empty search (all leads, newest first); a lead's fingerprint hashes its record.
        A `Listing` ends a search that goes on for ever (a page adding nothing new, too many pages)."""
        skip = 0
        listing = Listing(CRM, "leads")
        while True:
            body = await self.api.request("POST", self._path("lead/search"), params={"skip": skip, "limit": PAGE_LIMIT},
                                          json={}, idempotent=True)
            records = body.get("data") if isinstance(body, dict) else None
            if not isinstance(records, list):
                raise BackendError("search answered without a data list", crm=CRM, hint="check the base URL")
            now = datetime.now(UTC)
            skipped: list[str] = []

            def card_of(record: Any, now: datetime = now) -> tuple[Opportunity, str]:
                return self.to_opportunity(record, now), self._fingerprint(record)

            cards = read_each(records, card_of, "TeleCRM lead", skipped)
            total = body.get("total_count") if isinstance(body.get("total_count"), int) else None
            skip += len(records)
            cut_short = not listing.page(records)
            if cut_short:
                skipped.append(f"{listing.ended}; the board may be incomplete")
            has_more = not (not records or len(records) < PAGE_LIMIT or (total is not None and skip >= total)
                            or cut_short)
            yield ScanPage(cards, skipped, total, has_more, cut_short)
            if not has_more:
                return

    async def fetch_one(self, pipeline: Pipeline, opportunity_id: str) -> Opportunity | None:
        """One `GET lead/{leadId}` (documented: docs.telecrm.in sync-api/leads/get; the fake serves it):
        None on 404 `LEAD_NOT_FOUND` or when the lead's status is not a column of `pipeline`. A lead
        the search gave no id for (`noid-…`) cannot be addressed: it is looked for by a scan."""
        if opportunity_id.startswith("noid-"):
            return await super().fetch_one(pipeline, opportunity_id)
        try:
            body = await self.api.request("GET", self._path(f"lead/{opportunity_id}"))
        except NotFoundError:
            return None
        try:
            found = self.to_opportunity({"id": opportunity_id, "fields": body["fields"]}, datetime.now(UTC))
        except (KeyError, TypeError, ValueError, ValidationError, AttributeError):
            raise BackendError("the lead's answer was not understood", crm=CRM, hint="press r to refresh") from None
        return found if pipeline.status(found.status_id) is not None else None

    async def move(self, opportunity: Opportunity, status: Status, *, lost_reason: str | None = None) -> Opportunity:
        if opportunity.read_only:
            raise RefusedError(opportunity.read_only, crm=CRM)
        fields: dict[str, str] = {"status": status.id}
        if lost_reason and status.kind is StatusKind.LOST:
            fields[LOST_REASON_FIELD] = lost_reason
        try:
            body = await self.api.request("POST", self._path(f"lead/{opportunity.id}"), json={"fields": fields},
                                          idempotent=False)  # a write: never repeated blindly
        except NotFoundError as exc:
            raise NotFoundError("the lead no longer exists in TeleCRM", crm=CRM, status_code=exc.status_code,
                                hint="it has been removed from the board") from None
        got = (body.get("fields") or {}).get("status") if isinstance(body, dict) else None
        if got != status.id:
            raise RefusedError(
                f"TeleCRM did not take the status {status.id!r} (the lead is in {got!r}): it drops labels it does"
                " not know", crm=CRM, hint="the status may have been renamed or archived; press r",
            )
        now = datetime.now(UTC)
        moved = opportunity.model_copy(update={"status_id": got, "updated": now})
        self._remember(opportunity.id, "")  # the next scan reports it as it now is
        return moved

    async def update(self, opportunity: Opportunity, edit: Edit) -> Opportunity:
        """`POST lead/{leadId}` with `{"fields": {"name": …}}` (only the fields supplied are changed); the answer's
        name is compared with the one sent (TeleCRM drops what it does not take silently)."""
        unknown = set(edit.fields) - self.editable
        if unknown:
            raise RefusedError(f"TeleCRM {self.cannot_edit} ({', '.join(sorted(unknown))})", crm=CRM)
        if opportunity.read_only:
            raise RefusedError(opportunity.read_only, crm=CRM)
        if not edit.fields:
            return opportunity
        try:
            body = await self.api.request("POST", self._path(f"lead/{opportunity.id}"),
                                          json={"fields": {"name": edit.name}}, idempotent=False)
        except NotFoundError as exc:
            raise NotFoundError("the lead no longer exists in TeleCRM", crm=CRM, status_code=exc.status_code,
                                hint="it has been removed from the board") from None
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict) or fields.get("name") != edit.name:
            raise RefusedError("TeleCRM did not take the new name", crm=CRM, hint="press r to see the lead as it is")
        edited = edit.apply(opportunity).model_copy(update={"updated": datetime.now(UTC)})
        self._remember(opportunity.id, "")  # the next scan reports it as it now is
        return edited


def from_settings(settings: TeleCrmSettings, values: Mapping[str, str], **options: Any) -> TeleCrmBackend:
    """The registry's factory: `values` holds the Sync token and the enterprise id (environment or table)."""
    return TeleCrmBackend(values["api_key"], values["enterprise_id"], base_url=settings.base_url, **options)
