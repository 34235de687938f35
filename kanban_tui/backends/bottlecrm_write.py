"""BottleCRM's writes other than moves (issue 23): an edit, a comment (the board's note), a new deal, the users a
deal can be given to. A mixin of `BottleCrmBackend` (`bottlecrm.py` keeps the reading, polling and moving).

Facts used, from `bottlecrm-openapi.yml` and from what a running 1.35.0 answered (`tests/live/` checks them):

- `PATCH api/opportunities/<id>/` takes any subset of the deal's fields and changes only those: `name`,
  `amount` (a decimal string in major units, at most 12 digits with 2 decimals; null clears it), `currency`
  (one of `CURRENCIES`, else a 400 naming it), `probability` (0..100), `closed_on` (`YYYY-MM-DD`, or null),
  `assigned_to` (profile ids; an id it does not know is dropped, silently). It answers `{"error": false,
  "message": "Opportunity Updated Successfully"}`, no deal: the deal is read back (`GET api/opportunities/<id>/`).
  Refusals are 400s in its words: a won deal keeps an amount and a close date; names are unique in the org.
  A deal has no payment period (BottleCRM's values are paid once): the board offers no period.
- `closed_on` is the deal's close date: expected while the deal is open, the day it closed once it is won or
  lost. It is the card's `close_date` (and, for a won deal, its `date_won`).
- Comments are the deal's notes: `POST api/opportunities/<id>/ {"comment": text}` answers the deal with its
  comments (`id`, `comment`, `commented_on`, `commented_by.user_details.email`); the detail (`GET`) carries
  them too. Both order them by id, in no time order: the board sorts them by `commented_on`. An empty
  comment is answered 200 and not kept: the board refuses it first. A comment leaves no event in the
  activity feed.
- `GET api/users/`: `active_users.active_users`, each a profile (`id`, `user_details.name`/`email`): the owner
  picker; a deal's `assigned_to` holds those profiles.
- `POST api/opportunities/ {"name", "pipeline", "stage", ...}` answers `{"id": ...}`; the spec lists
  `assigned_to`, `closed_on`, `contacts`, `teams` as required, the server asks only for `closed_on` in a won or
  lost stage. A new deal is given to the token's owner (`GET api/profile/`: `user_obj.id`), with no account
  and no contacts, its close date left empty unless its stage is closed (then today). Names being unique,
  `find_created` asks the list for the name (`?name=` matches a part of it, any case) and keeps the exact one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..models import Edit, NewDeal, Note, Opportunity, Pipeline, StatusKind, User
from ..money import CURRENCIES as MONEY
from ..text import safe_text
from .base import NOTE_LOOKBACK
from .errors import BackendError, NotFoundError, RefusedError, UnavailableError
from .settings import BOTTLECRM as CRM

if TYPE_CHECKING:
    from .http import HttpApi

CURRENCIES = ("USD", "EUR", "GBP", "INR", "CAD", "AUD", "JPY", "CNY", "CHF", "SGD", "AED", "BRL", "MXN", "ZAR")
"""BottleCRM's `CurrencyEnum`: what a deal's currency may be."""
MAX_AMOUNT = Decimal(10) ** 10
"""An amount has at most 12 digits, 2 of them decimals."""
EDITABLE = frozenset({"value", "currency", "confidence", "close_date", "owner", "name"})
FOUND_AT_MOST = 100
"""Deals `find_created` reads of those whose name contains the new one's."""


def amount_of(minor: int | None, currency: str) -> str | None:
    """Minor units as BottleCRM's decimal string (`12345` USD -> `"123.45"`); RefusedError past what it keeps."""
    if minor is None:
        return None
    digits = MONEY.get(currency.upper(), ("", 2))[1]
    major = Decimal(minor).scaleb(-digits)
    if abs(major) >= MAX_AMOUNT:
        raise RefusedError("BottleCRM keeps amounts below 10,000,000,000", crm=CRM)
    return f"{major:.{min(digits, 2)}f}"


def patch_body(card: Opportunity, edit: Edit) -> dict[str, Any]:
    """The PATCH body of `edit`: its fields alone, in BottleCRM's names."""
    body: dict[str, Any] = {}
    currency = edit.currency if "currency" in edit.fields and edit.currency else card.currency
    for name in edit.fields:
        value = getattr(edit, name)
        if name == "period":
            raise RefusedError("BottleCRM keeps no payment period: its deals are paid once", crm=CRM)
        if name == "value":
            body["amount"] = amount_of(value, currency)
        elif name == "currency":
            if value.upper() not in CURRENCIES:
                raise RefusedError(f"BottleCRM takes these currencies only: {', '.join(CURRENCIES)}", crm=CRM)
            body["currency"] = value.upper()
        elif name == "confidence":
            body["probability"] = value
        elif name == "close_date":
            body["closed_on"] = value.isoformat() if value is not None else None
        elif name == "owner":
            body["assigned_to"] = [value.id] if value is not None else []
        else:
            body[name] = value
    return body


def parse_when(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def comment_note(record: Any) -> Note | None:
    """A comment as a note; None when it is not one."""
    try:
        by = record.get("commented_by") or {}
        details = by.get("user_details") if isinstance(by, dict) else None
        author = details.get("email") if isinstance(details, dict) else None
        return Note(when=parse_when(record["commented_on"]), text=str(record["comment"]),
                    author=str(author) if author else None)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


class BottleCrmWrites:
    """Edit, comment, create, users: the part of `BottleCrmBackend` that writes more than a stage."""

    api: HttpApi
    _pipelines: dict[str, Pipeline]
    _held: dict[str, str]

    if TYPE_CHECKING:  # BottleCrmBackend's own

        async def list_pipelines(self) -> list[Pipeline]: ...

        async def _fetch(self, pipeline: Pipeline, deal_id: str, skipped: list[str]) -> Opportunity | None: ...

        def _touch(self, deal_id: str, when: datetime) -> None: ...

    editable = EDITABLE
    cannot_edit = "it keeps no payment period (its deals are paid once)"
    can_note = True
    can_create = True
    _me: str | None = None

    async def _detail(self, deal_id: str) -> dict[str, Any]:
        """`GET api/opportunities/<id>/`; NotFoundError when it is gone."""
        try:
            body = await self.api.request("GET", f"api/opportunities/{deal_id}/")
        except NotFoundError as exc:
            raise NotFoundError("the deal no longer exists in BottleCRM", crm=CRM, status_code=exc.status_code,
                                hint="it was deleted; press r to refresh") from None
        if not isinstance(body, dict) or not isinstance(body.get("opportunity_obj"), dict):
            raise UnavailableError("the deal's answer was not understood", crm=CRM, status_code=200)
        return body

    async def _read_back(self, deal_id: str, pipeline: Pipeline | None = None) -> Opportunity:
        """The deal as BottleCRM has it now, after a write (the write's own answer carries no deal)."""
        if pipeline is None:
            record = (await self._detail(deal_id))["opportunity_obj"]
            pipeline_id = str(record.get("pipeline"))
            pipeline = self._pipelines.get(pipeline_id) or {p.id: p for p in await self.list_pipelines()}.get(
                pipeline_id)
        card = await self._fetch(pipeline, deal_id, []) if pipeline is not None else None
        if card is None:
            raise UnavailableError("the change was sent but the deal could not be read back", crm=CRM,
                                   hint="the card is read back again")
        self._touch(card.id, card.updated)
        from .bottlecrm import fingerprint  # (bottlecrm.py imports this module)

        self._held[card.id] = fingerprint(card)  # our own change: not a teammate's at the next poll
        return card

    async def update(self, opportunity: Opportunity, edit: Edit) -> Opportunity:
        """`PATCH api/opportunities/<id>/` with `edit.fields` alone in BottleCRM's names, then the deal read back."""
        body = patch_body(opportunity, edit)
        if body:
            try:
                await self.api.request("PATCH", f"api/opportunities/{opportunity.id}/", json=body)
            except NotFoundError as exc:
                raise NotFoundError("the deal no longer exists in BottleCRM", crm=CRM, status_code=exc.status_code,
                                    hint="it was deleted; it has been removed from the board") from None
        return await self._read_back(opportunity.id)

    async def users(self) -> list[User]:
        """`GET api/users/`: the org's active users (profiles), as deals' `assigned_to` holds them."""
        body = await self.api.request("GET", "api/users/")
        block = body.get("active_users") if isinstance(body, dict) else None
        rows = block.get("active_users") if isinstance(block, dict) else None
        if not isinstance(rows, list):
            raise BackendError("answered without a user list", crm=CRM)
        users = []
        for row in rows:
            details = row.get("user_details") if isinstance(row, dict) else None
            if not isinstance(details, dict) or not row.get("id"):
                continue
            name = details.get("name") or details.get("email")
            if name:
                users.append(User(id=str(row["id"]), name=str(name)))
        return sorted(users, key=lambda u: u.name.casefold())

    async def notes(self, opportunity: Opportunity, limit: int = 5) -> list[Note]:
        """The deal's comments, newest first by `commented_on` (from its detail)."""
        body = await self._detail(opportunity.id)
        return _notes(body.get("comments"))[:limit]

    async def add_note(self, opportunity: Opportunity, text: str) -> Note:
        """`POST api/opportunities/<id>/ {"comment": text}`; the comment as BottleCRM answers it."""
        if not text.strip():
            raise RefusedError("a note cannot be empty", crm=CRM)
        try:
            body = await self.api.request("POST", f"api/opportunities/{opportunity.id}/", json={"comment": text})
        except NotFoundError as exc:
            raise NotFoundError("the deal no longer exists in BottleCRM", crm=CRM, status_code=exc.status_code,
                                hint="it was deleted; press r to refresh") from None
        safe = safe_text(text, multiline=True)
        mine = [n for n in _notes(body.get("comments") if isinstance(body, dict) else None) if n.text == safe]
        if not mine:
            raise UnavailableError("the note was sent but the answer was not understood", crm=CRM, status_code=200,
                                   hint="it is looked for before it is sent again")
        return mine[0]

    async def _my_profile(self) -> str | None:
        """The profile id of the token's owner (`GET api/profile/`), asked once."""
        if self._me is None:
            body = await self.api.request("GET", "api/profile/")
            user = body.get("user_obj") if isinstance(body, dict) else None
            self._me = str(user["id"]) if isinstance(user, dict) and user.get("id") else ""
        return self._me or None

    async def create(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity:
        """`POST api/opportunities/`: the deal in its stage, given to the token's owner; then read back."""
        status = pipeline.status(draft.status_id)
        if status is None:
            raise RefusedError("that column is not a stage of this pipeline", crm=CRM, hint="press r to refresh")
        me = await self._my_profile()
        body: dict[str, Any] = {"name": draft.name, "pipeline": pipeline.id, "stage": draft.status_id,
                                "assigned_to": [me] if me else [], "contacts": [], "teams": []}
        currency = (draft.currency or "USD").upper()
        if draft.currency is not None:
            if currency not in CURRENCIES:
                raise RefusedError(f"BottleCRM takes these currencies only: {', '.join(CURRENCIES)}", crm=CRM)
            body["currency"] = currency
        if draft.value is not None:
            body["amount"] = amount_of(draft.value, currency)
        if draft.confidence is not None:
            body["probability"] = draft.confidence
        if status.kind is not StatusKind.OPEN:  # "A deal cannot be closed without the date it closed on."
            body["closed_on"] = datetime.now(UTC).astimezone().date().isoformat()
        answer = await self.api.request("POST", "api/opportunities/", json=body)
        made = answer.get("id") if isinstance(answer, dict) else None
        if not made:
            raise UnavailableError("the deal was sent but the answer was not understood", crm=CRM, status_code=200,
                                   hint="it is looked for before it is sent again")
        return await self._read_back(str(made), pipeline)

    async def find_created(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity | None:
        """The pipeline's deal named exactly `draft.name`, made at or after `draft.made_at` (less the lookback):
        one `GET api/opportunities/?name=` (names are unique in a BottleCRM org)."""
        body = await self.api.request("GET", "api/opportunities/",
                                      params={"pipeline": pipeline.id, "name": draft.name, "limit": FOUND_AT_MOST})
        records = body.get("opportunities") if isinstance(body, dict) else None
        since = draft.made_at.timestamp() - NOTE_LOOKBACK
        for record in records if isinstance(records, list) else []:
            if isinstance(record, dict) and safe_text(str(record.get("name"))) == draft.name and record.get("id"):
                card = await self._fetch(pipeline, str(record["id"]), [])
                if card is not None and card.created.timestamp() >= since:
                    return card
        return None


def _notes(comments: Any) -> list[Note]:
    """Comments as notes, newest first (those that are not one left out)."""
    found = [comment_note(c) for c in comments] if isinstance(comments, list) else []
    return sorted((n for n in found if n is not None), key=lambda n: n.when, reverse=True)
