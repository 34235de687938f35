"""HubSpot's write calls beyond a move: edit a deal's fields, note it, make a new one (issue 23).

Part of the HubSpot backend: `HubSpotWrites` is mixed into `HubSpotBackend` (`hubspot.py`), whose `api`, owners,
`_known`, `_search`, `_read` and `to_opportunity` it uses. API facts (HubSpot's OpenAPI descriptions, shared
reference `hubspot/deals.json`, `notes.json`, `crmOwners.json`):

- `PATCH` a deal's `dealname`, `amount`, `deal_currency_code`, `closedate` (sent at noon UTC:
  the same day for every user) and `hubspot_owner_id` (the owners not archived are the picker's users); an empty
  string clears one. A deal's confidence is its stage's probability and deals have no payment period: neither is
  offered. `POST crm/v3/objects/deals` (`SimplePublicObjectInputForCreate`: `properties`, `associations`) makes
  one in a stage; no client-made id, so a lost answer is read back by a search (name, pipeline, `createdate`).
  Notes: `POST crm/v3/objects/notes` (`notes.json`; `hs_note_body`, `hs_timestamp` from HubSpot's notes guide)
  associated with the deal by the HubSpot-defined type 214, read by a notes search on `associations.deal`
  (`HubSpotBackend.notes`, which the default `find_note` reads back by).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..models import Edit, NewDeal, Note, Opportunity, Pipeline, User
from .base import NOTE_LOOKBACK
from .errors import NotFoundError, RefusedError, UnavailableError
from .http import HttpApi
from .hubspot_api import DEALS, NOTE_TO_DEAL, amount_text, edit_properties, millis, parse_when
from .settings import HUBSPOT as CRM


class HubSpotWrites:
    """Edits, notes and new deals on a HubSpot account (mixed into `HubSpotBackend`)."""

    api: HttpApi
    currency: str
    now: Callable[[], datetime]
    _owners: dict[str, str]
    _active: list[User]
    _known: dict[str, datetime]

    if TYPE_CHECKING:  # `HubSpotBackend`'s readers, which these calls share
        async def _read_owners(self) -> None: ...

        async def _search(self, filters: list[dict[str, Any]], *, after: str = ..., limit: int = ...,
                          sorts: list[str] | None = None, properties: list[str] | None = None) -> dict[str, Any]: ...

        def _read(self, records: list[Any], pipeline: Pipeline, skipped: list[str]) -> list[Opportunity]: ...

        def to_opportunity(self, data: dict[str, Any], pipeline: Pipeline) -> Opportunity: ...

    editable = frozenset({"value", "currency", "close_date", "owner", "name"})
    cannot_edit = "sets a deal's confidence from its stage, and deals have no payment period"
    can_note = True
    can_create = True

    # -- editing, notes, new deals --------------------------------------------------------------------------

    async def _patch(self, opportunity: Opportunity, properties: dict[str, Any]) -> Any:
        """`PATCH crm/v3/objects/deals/{id}` with `properties` (a move or an edit), a deal gone said as such: the
        answer's body."""
        try:
            return await self.api.request("PATCH", f"{DEALS}/{opportunity.id}", json={"properties": properties})
        except NotFoundError as exc:
            raise NotFoundError("the deal no longer exists in HubSpot", crm=CRM, status_code=exc.status_code,
                                hint="it was deleted; it has been removed from the board") from None

    async def users(self) -> list[User] | None:
        """The owners who are not archived (`GET crm/v3/owners`), as the owner picker offers them."""
        await self._read_owners()
        return list(self._active)

    async def update(self, opportunity: Opportunity, edit: Edit) -> Opportunity:
        """`PATCH crm/v3/objects/deals/{id}` with the changed properties only (`dealname`, `amount`,
        `deal_currency_code`, `closedate`, `hubspot_owner_id`; an empty string clears one); the deal as edited,
        modified when HubSpot says."""
        unknown = set(edit.fields) - self.editable
        if unknown:
            raise RefusedError(f"HubSpot {self.cannot_edit} ({', '.join(sorted(unknown))})", crm=CRM)
        if not opportunity.id.isdigit():
            raise NotFoundError("not a HubSpot deal id", crm=CRM, hint="it has been removed from the board")
        properties = edit_properties(edit, opportunity.currency)
        if not properties:
            return opportunity
        body = await self._patch(opportunity, properties)
        props = body.get("properties") if isinstance(body, dict) else None
        try:
            if not isinstance(props, dict):
                raise ValueError("no properties")
            updated = parse_when(str(props.get("hs_lastmodifieddate") or body["updatedAt"]))
        except (KeyError, TypeError, ValueError):
            raise UnavailableError("the edit was sent but the answer was not understood", crm=CRM, status_code=200,
                                   hint="the card is read back") from None
        edited = edit.apply(opportunity).model_copy(update={"updated": max(updated, opportunity.updated)})
        if "owner" in edit.fields and edit.owner is not None:
            self._owners.setdefault(edit.owner.id, edit.owner.name)
        self._known[edited.id] = updated
        return edited

    async def add_note(self, opportunity: Opportunity, text: str) -> Note:
        """`POST crm/v3/objects/notes` with `hs_note_body`, `hs_timestamp` (now) and an association to the deal
        (HubSpot-defined type `NOTE_TO_DEAL`)."""
        if not opportunity.id.isdigit():
            raise NotFoundError("not a HubSpot deal id", crm=CRM)
        when = self.now()  # this machine's clock, as the caller's `since` of a read-back (`find_note`) is
        try:
            body = await self.api.request("POST", "crm/v3/objects/notes", idempotent=False, json={
                "properties": {"hs_note_body": text, "hs_timestamp": when.isoformat(timespec="milliseconds")},
                "associations": [{"to": {"id": opportunity.id}, "types": [
                    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_DEAL}]}]})
        except NotFoundError as exc:
            raise NotFoundError("the deal no longer exists in HubSpot", crm=CRM, status_code=exc.status_code,
                                hint="it has been removed from the board") from None
        props = body.get("properties") if isinstance(body, dict) else None
        made = parse_when(str(props.get("hs_timestamp"))) if isinstance(props, dict) and props.get(
            "hs_timestamp") else when
        return Note(when=made, text=text)

    async def create(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity:
        """`POST crm/v3/objects/deals` with `dealname`, `pipeline`, `dealstage` and the `amount` and
        `deal_currency_code` the draft has. A deal's confidence is its stage's here: the draft's is not sent."""
        if pipeline.status(draft.status_id) is None:
            raise RefusedError("the column is not a stage of this pipeline", crm=CRM, hint="press r to refresh")
        currency = (draft.currency or self.currency).upper()
        properties = {"dealname": draft.name, "pipeline": pipeline.id, "dealstage": draft.status_id}
        if draft.currency:
            properties["deal_currency_code"] = currency
        if draft.value is not None:
            properties["amount"] = amount_text(draft.value, currency)
        body = await self.api.request("POST", DEALS, idempotent=False,
                                      json={"properties": properties, "associations": []})
        try:
            made = self.to_opportunity(body, pipeline)
        except (KeyError, TypeError, ValueError, ValidationError):
            raise UnavailableError("the new deal was sent but the answer was not understood", crm=CRM,
                                   status_code=201, hint="it is looked for before anything is sent again") from None
        self._known[made.id] = made.updated
        return made

    async def find_created(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity | None:
        """One search: the pipeline's deals named `draft.name` created since the draft (less `NOTE_LOOKBACK`),
        newest first."""
        since = datetime.fromtimestamp(draft.made_at.timestamp() - NOTE_LOOKBACK, UTC)
        body = await self._search([
            {"propertyName": "pipeline", "operator": "EQ", "value": pipeline.id},
            {"propertyName": "dealname", "operator": "EQ", "value": draft.name},
            {"propertyName": "createdate", "operator": "GTE", "value": millis(since)}], limit=10,
            sorts=["-createdate"])
        cards = [c for c in self._read(body["results"], pipeline, []) if c.name == draft.name
                 and c.created >= since]
        return max(cards, key=lambda c: c.created) if cards else None
