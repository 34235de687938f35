"""Close's write calls beyond a move: edit a deal's fields, note it, make a new one (issue 23).

Part of the Close backend: `CloseWrites` is mixed into `CloseBackend` (`close.py`), whose `api` and `_known` it
uses. API facts (close-openapi.yml; crm-api-notes 1.7, 1.14):

- `PUT opportunity/{id}/` acts as a PATCH: only the fields sent change. `value` (cents or null), `value_currency`,
  `value_period`, `confidence` (a whole number: Close's `Opportunity` has no null one), `date_won` (an active
  opportunity's expected close date, `YYYY-MM-DD`), `user_id` (a user of the organization; never null).
- An opportunity has no name of its own: the card shows its lead's, and renaming the lead renames every deal of
  it, so the board does not offer it.
- `GET user/`: the organization's users (`_skip` / `_limit`); each `first_name`, `last_name`, `email`.
- `POST activity/note/` `{lead_id, note}`: a note belongs to the lead (every deal of it shares it).
  `GET activity/note/` takes `lead_id` and `date_created__gte`.
- `POST lead/` `{name}`; `GET lead/?query=` (a search; deprecated in favour of `POST data/search/`, which the
  stored spec does not describe); `POST opportunity/` (`CreateOpportunity`) `{lead_id, status_id, value,
  value_currency, confidence}`; `GET opportunity/` filters by `lead_id` and `date_created__gte`.
- No client-supplied ids, no idempotency keys: a note or a deal whose answer was lost is found again by a
  read-back (`find_note`, `find_created`) before it is sent again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from ..models import Edit, Lead, NewDeal, Note, Opportunity, Pipeline, User
from ..text import safe_text
from .base import NOTE_LOOKBACK
from .close_api import FIELDS, PAGE_LIMIT, data_of, edit_body, lead_of, read_records, to_note
from .errors import NotFoundError, RefusedError, UnavailableError, read_each
from .http import HttpApi, Listing
from .settings import CLOSE as CRM

log = logging.getLogger("kanban_tui.close")

USER_PAGES_AT_MOST = 10
"""Pages of `GET user/` read at most (1,000 users at Close's default page)."""
LEAD_PAGES_AT_MOST = 5
"""Pages of a lead search read at most when a lead is looked for by its exact name."""
LEADS_AT_MOST = 10
"""Leads of the same name (made since the new deal's moment) whose opportunities a read-back asks for, at most."""
CREATED_AT_MOST = 25
"""Opportunities of one lead made since the new deal's moment that a read-back reads, at most."""


def _user(data: dict[str, Any]) -> User:
    """A Close user (`GET user/`) as the owner picker names it: first and last name, as opportunities'
    `user_name` do; the email when there is no name. Raises KeyError / ValueError on bad data."""
    name = " ".join(str(data.get(part) or "").strip() for part in ("first_name", "last_name")).strip()
    if not isinstance(data["id"], str):
        raise ValueError("an id that is not a string")
    return User(id=data["id"], name=name or str(data.get("email") or data["id"]))


def _lead(data: dict[str, Any]) -> Lead:
    """A Close lead (`GET lead/`): its `name`, else its `display_name`."""
    if not isinstance(data["id"], str):
        raise ValueError("an id that is not a string")
    return Lead(id=data["id"], name=str(data.get("name") or data.get("display_name") or "(no name)"))


class CloseWrites:
    """Edits, notes and new deals on a Close organization (mixed into `CloseBackend`)."""

    api: HttpApi
    _known: dict[str, datetime]
    _me_id: str | None = None

    editable = frozenset({"value", "currency", "period", "confidence", "close_date", "owner"})
    cannot_edit = ("a deal's name is its lead's there (renaming the lead renames every deal of it):"
                   " rename the lead in Close")
    can_note = True
    can_create = True

    # -- editing -------------------------------------------------------------------------------------

    async def _put(self, opportunity: Opportunity, body: dict[str, Any], what: str) -> Opportunity:
        """One `PUT opportunity/{id}/` with `body`; the opportunity as Close answered it. A 404 says the deal is
        gone; an answer that cannot be read raises `UnavailableError` (it was probably applied: read it back)."""
        try:
            answer = await self.api.request("PUT", f"opportunity/{opportunity.id}/", json=body)
        except NotFoundError as exc:
            raise NotFoundError(
                "the opportunity no longer exists in Close", crm=CRM, status_code=exc.status_code,
                hint="it was deleted or merged; it has been removed from the board",
            ) from None
        skipped: list[str] = []
        read = read_records([answer], skipped)
        if not read:
            raise UnavailableError(f"the {what} was sent but the answer was not understood ({skipped[0]})", crm=CRM,
                                   status_code=200, hint="the card is read back")
        self._known[read[0].id] = read[0].updated
        return read[0]

    async def update(self, opportunity: Opportunity, edit: Edit) -> Opportunity:
        """One `PUT opportunity/{id}/` carrying only `edit.fields` (`close_api.edit_body`); nothing is sent for an
        edit that changes nothing. A name, a cleared owner or a cleared confidence is refused before anything is
        sent (Close keeps neither empty)."""
        if not edit.fields:
            return opportunity
        if refused := [f for f in edit.fields if f not in self.editable]:
            raise RefusedError(f"cannot change the {', '.join(refused)} from here: {self.cannot_edit}", crm=CRM)
        for name, why in (("owner", "a deal always has an owner there"),
                          ("confidence", "a deal always has a confidence there (0 to 100)")):
            if name in edit.fields and getattr(edit, name) is None:
                raise RefusedError(f"cannot clear the {name}: {why}", crm=CRM)
        return await self._put(opportunity, edit_body(edit), "edit")

    async def users(self) -> list[User]:
        """`GET user/` page by page (`_skip` / `_limit`, following `has_more`, at most `USER_PAGES_AT_MOST`
        pages), sorted by name; a user that cannot be read is left out (and logged)."""
        listing = Listing(CRM, "users", max_pages=USER_PAGES_AT_MOST)
        found: dict[str, User] = {}
        skipped: list[str] = []
        skip = 0
        while True:
            body = await self.api.request("GET", "user/", params={"_skip": skip, "_limit": PAGE_LIMIT})
            records = data_of(body)
            go_on = listing.page(records)
            for user in read_each(records, _user, "Close user", skipped):
                found.setdefault(user.id, user)
            skip += len(records)
            if not body.get("has_more") or not records or not go_on:
                break
        for line in [*skipped, *([listing.ended] if listing.ended else [])]:
            log.warning("%s", line)
        return sorted(found.values(), key=lambda u: (u.name.casefold(), u.id))

    async def _my_id(self) -> str | None:
        """The id of the user this key acts for (`GET me/`, asked once); None when Close does not say."""
        if self._me_id is None:
            body = await self.api.request("GET", "me/", params={"_fields": "id"})
            found = body.get("id") if isinstance(body, dict) else None
            self._me_id = found if isinstance(found, str) and found else None
        return self._me_id

    # -- notes ----------------------------------------------------------------------------------------

    async def _lead_id(self, opportunity: Opportunity) -> str | None:
        """The deal's lead: the one in the card's link, else asked for (`GET opportunity/{id}/?_fields=lead_id`)."""
        lead = lead_of(opportunity)
        if lead is None:
            body = await self.api.request("GET", f"opportunity/{opportunity.id}/", params={"_fields": "lead_id"})
            found = body.get("lead_id") if isinstance(body, dict) else None
            lead = found if isinstance(found, str) and found else None
        return lead

    async def add_note(self, opportunity: Opportunity, text: str) -> Note:
        """`POST activity/note/` `{lead_id, note}`: the note lands on the deal's lead. Not idempotent: a lost
        answer raises `OutcomeUnknownError`, and the caller reads back (`find_note`) before sending it again."""
        lead = await self._lead_id(opportunity)
        if lead is None:
            raise RefusedError("the deal has no lead in Close to note", crm=CRM)
        body = await self.api.request("POST", "activity/note/", json={"lead_id": lead, "note": text})
        try:
            return to_note(body)
        except (KeyError, TypeError, ValueError, AttributeError):  # made, in words we cannot read: say it as sent
            return Note(when=datetime.now(UTC), text=text)

    async def find_note(self, opportunity: Opportunity, text: str, since: datetime) -> Note | None:
        """The lead's note with exactly `text` made since `since` less `NOTE_LOOKBACK`: one bounded question,
        `GET activity/note/?lead_id=&date_created__gte=` (only the recent notes, a page or two), never a
        reading of every note the lead has."""
        lead = await self._lead_id(opportunity)
        if lead is None:
            return None
        wanted = Note(when=since, text=text).text  # compared as a read note is made safe
        start = (since - timedelta(seconds=NOTE_LOOKBACK)).astimezone(UTC).isoformat()
        listing = Listing(CRM, "notes", max_pages=LEAD_PAGES_AT_MOST)
        skip, found = 0, None
        while True:
            body = await self.api.request("GET", "activity/note/", params={
                "lead_id": lead, "date_created__gte": start, "_skip": skip, "_limit": PAGE_LIMIT})
            records = data_of(body)
            go_on = listing.page(records)
            for note in read_each(records, to_note, "Close note", []):
                if note.text == wanted and (found is None or note.when > found.when):
                    found = note
            skip += len(records)
            if not body.get("has_more") or not records or not go_on:
                return found

    # -- new deals ------------------------------------------------------------------------------------

    async def find_leads(self, query: str, limit: int = 8) -> list[Lead]:
        """`GET lead/?query=`: one page of at most `limit` leads (names made safe by `Lead`); nothing is asked
        for an empty query."""
        query = safe_text(query).strip()
        if not query:
            return []
        body = await self.api.request("GET", "lead/", params={
            "query": query, "_limit": max(1, limit), "_fields": "id,name,display_name"})
        skipped: list[str] = []
        leads = read_each(data_of(body)[:limit], _lead, "Close lead", skipped)
        for line in skipped:
            log.warning("%s", line)
        return leads

    async def _leads_named(self, name: str, since: datetime) -> list[str]:
        """Ids of the leads named exactly `name`, made since `since` by this key's user (when Close says who
        that is), newest first: `GET lead/?query=name` page by page, at most `LEAD_PAGES_AT_MOST` pages."""
        me = await self._my_id()
        listing = Listing(CRM, "leads", max_pages=LEAD_PAGES_AT_MOST)
        found: list[tuple[datetime, str]] = []
        skip = 0
        while True:
            body = await self.api.request("GET", "lead/", params={
                "query": name, "_skip": skip, "_limit": PAGE_LIMIT,
                "_fields": "id,name,display_name,date_created,created_by"})
            records = data_of(body)
            go_on = listing.page(records)
            for record in records:
                try:
                    lead, made = _lead(record), datetime.fromisoformat(record["date_created"])
                except (KeyError, TypeError, ValueError):
                    continue
                made = made if made.tzinfo else made.replace(tzinfo=UTC)
                if lead.name == name and made >= since and (me is None or record.get("created_by") == me):
                    found.append((made, lead.id))
            skip += len(records)
            if not body.get("has_more") or not records or not go_on:
                break
        return [lead for _, lead in sorted(found, reverse=True)]

    async def create(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity:
        """`POST opportunity/` `{lead_id, status_id, value, value_currency, confidence}` (those given) for
        `draft.lead_id`, or for a new lead named `draft.name`: first a lead of that exact name this key's user made
        since `draft.made_at` (less `NOTE_LOOKBACK`) is looked for (`_leads_named`), so that a resend after a lead
        was made but its opportunity was not never makes a second lead; only when there is none, `POST lead/`
        `{name}`. Returns the deal as a listing reads it (named after its lead)."""
        if pipeline.status(draft.status_id) is None:
            raise RefusedError("that column is not a status of the pipeline", crm=CRM)
        lead = draft.lead_id
        if lead is None:
            since = draft.made_at - timedelta(seconds=NOTE_LOOKBACK)
            made = await self._leads_named(draft.name, since)
            lead = made[0] if made else await self._new_lead(draft.name)
        body: dict[str, Any] = {"lead_id": lead, "status_id": draft.status_id}
        if draft.value is not None:
            body["value"] = draft.value
        if draft.currency is not None:
            body["value_currency"] = draft.currency
        if draft.confidence is not None:
            body["confidence"] = draft.confidence
        answer = await self.api.request("POST", "opportunity/", json=body)
        skipped: list[str] = []
        read = read_records([answer], skipped)
        if not read:
            raise UnavailableError(f"the new deal was made but the answer was not understood ({skipped[0]})",
                                   crm=CRM, status_code=200, hint="it is read back")
        self._known[read[0].id] = read[0].updated
        return read[0]

    async def _new_lead(self, name: str) -> str:
        """`POST lead/` `{name}`: the new lead's id."""
        body = await self.api.request("POST", "lead/", json={"name": name})
        lead = body.get("id") if isinstance(body, dict) else None
        if not isinstance(lead, str) or not lead:
            raise UnavailableError("the new lead was made but the answer was not understood", crm=CRM,
                                   status_code=200, hint="it is looked for by its name before another is made")
        return lead

    async def find_created(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity | None:
        """The deal `draft` made, if Close has it: at most once, because Close takes no client id, so what was
        sent is recognised instead. The leads are `draft.lead_id`, or those named exactly `draft.name` that this
        key's user made since `draft.made_at` less `NOTE_LOOKBACK` (at most `LEADS_AT_MOST`); for each,
        `GET opportunity/?lead_id=&date_created__gte=` (newest first, at most `CREATED_AT_MOST`) gives the deals
        made since then, and the newest that this key's user made in `draft.status_id` with the value, currency
        and confidence sent is it. None: it was never made (send it again: `create` finds its lead first)."""
        since = draft.made_at - timedelta(seconds=NOTE_LOOKBACK)
        me = await self._my_id()
        leads = [draft.lead_id] if draft.lead_id else (await self._leads_named(draft.name, since))[:LEADS_AT_MOST]
        best: Opportunity | None = None
        for lead in leads:
            body = await self.api.request("GET", "opportunity/", params={
                "lead_id": lead, "date_created__gte": since.astimezone(UTC).isoformat(),
                "_order_by": "-date_created", "_limit": CREATED_AT_MOST, "_fields": FIELDS + ",created_by"})
            records = [r for r in data_of(body)[:CREATED_AT_MOST] if isinstance(r, dict)
                       and (me is None or r.get("created_by") == me)]
            for deal in read_records(records, []):
                if (deal.status_id == draft.status_id and deal.value == draft.value
                        and (draft.currency is None or deal.currency == draft.currency)
                        and (draft.confidence is None or deal.confidence == draft.confidence)
                        and deal.created >= since and (best is None or deal.created > best.created)):
                    best = deal
        return best
