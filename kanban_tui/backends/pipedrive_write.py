"""Pipedrive's write calls beyond a move: edit a deal's fields, make a new one (issue 23).

Part of the Pipedrive backend: `PipedriveWrites` is mixed into `PipedriveBackend` (`pipedrive.py`), whose `api`,
`_pipelines`, `_known`, `_read` and `_pages` it uses. API facts (Pipedrive's API v2 description,
`pipedrive-openapi-v2.yml`):

- `PATCH api/v2/deals/{id}` takes `title`, `value` (a number: major units), `currency`,
  `probability` (nullable), `expected_close_date` (`format: date`, not nullable; nor is `value`), `owner_id`;
  `POST api/v2/deals` the same with `title` required, `pipeline_id`, `stage_id` and `status`. The v2
  description has no users list (so no owner picker: no owner edit) and no notes call (Pipedrive's notes are
  v1, not described here): neither is offered. A new deal is read back (`find_created`) from the pipeline's
  deals newest first (`sort_by=add_time`): v2 takes no client-made id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..models import Edit, NewDeal, Opportunity, Pipeline, StatusKind
from .base import NOTE_LOOKBACK
from .errors import NotFoundError, RefusedError, UnavailableError
from .http import HttpApi, Listing
from .pipedrive_api import DEFAULT_CURRENCY, LIVE, V2, float_amount
from .settings import PIPEDRIVE as CRM


class PipedriveWrites:
    """Edits and new deals on a Pipedrive company (mixed into `PipedriveBackend`)."""

    api: HttpApi
    _pipelines: dict[str, Pipeline]
    _known: dict[str, datetime]

    if TYPE_CHECKING:  # `PipedriveBackend`'s readers, which these calls share
        def _read(self, records: list[Any], pipeline: Pipeline, skipped: list[str]) -> list[Opportunity]: ...

        def _pages(self, params: dict[str, Any], listing: Listing) -> AsyncIterator[tuple[list[Any], bool]]: ...

    editable = frozenset({"value", "currency", "confidence", "close_date", "name"})
    cannot_edit = "has no payment period, and its API v2 description lists no users to give a deal to"
    cannot_note = "takes notes through its v1 API only, which this board's description of it does not cover"
    can_create = True

    # -- editing and creating ----------------------------------------------------------------------------

    async def _patch(self, opportunity: Opportunity, body: dict[str, Any], what: str) -> Opportunity:
        """`PATCH api/v2/deals/{id}` (a move or an edit), a deal gone said as such; the card it answered."""
        try:
            answer = await self.api.request("PATCH", f"{V2}deals/{opportunity.id}", json=body)
        except NotFoundError as exc:
            raise NotFoundError("the deal no longer exists in Pipedrive", crm=CRM, status_code=exc.status_code,
                                hint="it was deleted; it has been removed from the board") from None
        return self._answered(answer, what)

    def _answered(self, answer: Any, what: str) -> Opportunity:
        """The deal a write answered (`data`), as a card of its pipeline; unreadable: the card is read back."""
        record = answer.get("data") if isinstance(answer, dict) else None
        pipeline = self._pipelines.get(str(record.get("pipeline_id"))) if isinstance(record, dict) else None
        skipped: list[str] = []
        cards = self._read([record], pipeline, skipped) if isinstance(record, dict) and pipeline else []
        if not cards:
            why = f" ({skipped[0]})" if skipped else ""
            raise UnavailableError(f"the {what} was sent but the answer was not understood{why}", crm=CRM,
                                   status_code=200, hint="the card is read back")
        self._known[cards[0].id] = cards[0].updated
        return cards[0]

    async def update(self, opportunity: Opportunity, edit: Edit) -> Opportunity:
        """`PATCH api/v2/deals/{id}` with the changed fields only: `title`, `value` (major units of the deal's
        currency, or of the new one sent with it), `currency`, `probability`,
        `expected_close_date`. The description types `value` and `expected_close_date` as not nullable: they
        are changed, never cleared (said, nothing sent). Nor is the probability: a deal without one shows its
        stage's, so a cleared one would never read back as cleared."""
        unknown = set(edit.fields) - self.editable
        if unknown:
            raise RefusedError(f"Pipedrive {self.cannot_edit} ({', '.join(sorted(unknown))})", crm=CRM)
        if not opportunity.id.isdigit():
            raise NotFoundError("the deal has no Pipedrive id", crm=CRM)
        currency = edit.currency if "currency" in edit.fields and edit.currency else opportunity.currency
        body: dict[str, Any] = {}
        for field in edit.fields:
            value = getattr(edit, field)
            if field in ("value", "close_date", "confidence") and value is None:
                what = {"value": "value", "close_date": "expected close date", "confidence": "probability"}[field]
                raise RefusedError(f"Pipedrive keeps a {what} on a deal once set: its API takes a new one, not none",
                                   crm=CRM, hint="set another value instead")
            if field == "value":
                body["value"] = float_amount(value, currency)
            elif field == "currency":
                body["currency"] = value
            elif field == "confidence":
                body["probability"] = value
            elif field == "close_date":
                body["expected_close_date"] = value.isoformat()
            elif field == "name":
                body["title"] = value
        if not body:
            return opportunity
        return await self._patch(opportunity, body, "edit")

    async def create(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity:
        """`POST api/v2/deals` with `title`, `pipeline_id` and `stage_id` (a deal always sits in a stage: one made
        in ✓ Won or ✗ Lost goes in the pipeline's first stage with that `status`), and the value, currency and
        probability the draft has."""
        if not pipeline.id.isdigit():
            raise RefusedError("not a Pipedrive pipeline", crm=CRM)
        status = pipeline.status(draft.status_id)
        stages = [s for s in pipeline.statuses if s.id.isdigit()]
        if status is None or not stages:
            raise RefusedError("the column is not a stage of this pipeline", crm=CRM, hint="press r to refresh")
        body: dict[str, Any] = {"title": draft.name, "pipeline_id": int(pipeline.id)}
        if status.id.isdigit():
            body["stage_id"] = int(status.id)
        else:
            body["stage_id"] = int(stages[0].id)
            body["status"] = "won" if status.kind is StatusKind.WON else "lost"
        currency = (draft.currency or DEFAULT_CURRENCY).upper()
        if draft.currency:
            body["currency"] = currency
        if draft.value is not None:
            body["value"] = float_amount(draft.value, currency)
        if draft.confidence is not None:
            body["probability"] = draft.confidence
        self._pipelines.setdefault(pipeline.id, pipeline)
        return self._answered(await self.api.request("POST", f"{V2}deals", json=body, idempotent=False), "new deal")

    async def find_created(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity | None:
        """The pipeline's newest deals (`sort_by=add_time` descending), read until they are older than the draft
        (less `NOTE_LOOKBACK`): the newest titled `draft.name`. Bounded by a `Listing`."""
        since = draft.made_at.timestamp() - NOTE_LOOKBACK
        listing = Listing(CRM, "new deals", max_pages=20)
        params = {"pipeline_id": pipeline.id, "status": LIVE, "sort_by": "add_time", "sort_direction": "desc"}
        async for records, _ in self._pages(params, listing):
            older = False
            for card in self._read(records, pipeline, []):
                if card.created.timestamp() < since:
                    older = True
                elif card.name == draft.name:
                    return card
            if older:
                return None
        return None
