"""How HubSpot's answers read: times, money, a stage's kind, errors, a deal's properties, and the rate-limit
headers turned into what the shared HTTP client reads. Pure functions over what HubSpot sends (`hubspot.py` holds
the backend that asks for it)."""

from __future__ import annotations

import html
import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..models import Edit, StatusKind
from ..money import CURRENCIES
from .errors import (
    MAX_RATE_WAIT,
    AuthError,
    BackendError,
    NotFoundError,
    RateLimitedError,
    RefusedError,
)
from .http import httpx, json_dict
from .settings import HUBSPOT as CRM
from .settings import HUBSPOT_TOKEN_ENV as TOKEN_ENV

DEALS = "crm/v3/objects/deals"
"""The deals' objects path (object type `0-3`)."""
POLICY_WAITS = {"SECONDLY": 1.0, "TEN_SECONDLY_ROLLING": 10.0, "DAILY": MAX_RATE_WAIT}
"""A 429's `policyName` -> seconds to wait (when the answer does not say); the daily limit: as long as dealboard
ever waits (it resets at midnight in the account's time zone, which the answer does not say)."""
NOTE_TO_DEAL = 214
"""HubSpot's default association type of a note to a deal (category `HUBSPOT_DEFINED`), from its list of default
association type ids (developers.hubspot.com, Associations v4: "note to deal")."""
_TAGS = re.compile(r"<[^>]{0,500}>")
_BREAKS = re.compile(r"<\s*(br|/p|/div|/li)\s*/?\s*>", re.IGNORECASE)
PALETTE_OPEN = ("#5f87d7", "#5fafd7", "#5fd7d7", "#87afaf", "#d7af5f", "#d7875f", "#af87d7", "#87afd7")


def parse_when(text: str) -> datetime:
    """A HubSpot timestamp (`2019-10-30T03:30:17.883Z`, or epoch milliseconds)."""
    text = text.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def millis(when: datetime) -> str:
    """A time as a search filter takes it: epoch milliseconds."""
    return str(int(when.timestamp() * 1000))


def stage_kind(metadata: Any) -> tuple[StatusKind, int | None]:
    """A stage's kind and probability (percent) from its `metadata` (strings, or numbers and booleans)."""
    if not isinstance(metadata, dict):
        return StatusKind.OPEN, None
    try:
        probability = float(metadata.get("probability"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        probability = math.nan
    percent = round(probability * 100) if 0.0 <= probability <= 1.0 else None
    closed = str(metadata.get("isClosed", "")).lower() == "true"
    if closed and probability == 1.0:
        return StatusKind.WON, percent
    if closed and probability == 0.0:
        return StatusKind.LOST, percent
    return StatusKind.OPEN, percent


def describe_error(response: httpx.Response) -> BackendError | None:
    """HubSpot's own words (its `Error` body's `message`, `errors[].message`) for what a user can act on."""
    code = response.status_code
    body = json_dict(response)
    message = str(body.get("message") or "")[:200]
    listed = body.get("errors")
    errors: list[Any] = listed if isinstance(listed, list) else []
    details = [str(e.get("message"))[:120] for e in errors if isinstance(e, dict) and e.get("message")]
    if code == 401:
        return AuthError("HubSpot did not accept the access token", crm=CRM, status_code=code,
                         hint=f"check {TOKEN_ENV} (a private app's access token)")
    if code == 403:
        return AuthError(message or "the private app is not allowed this", crm=CRM, status_code=code,
                         hint="give the private app the scopes crm.objects.deals.read, crm.objects.deals.write"
                              ", crm.objects.owners.read (and, for notes, crm.objects.contacts.read and .write)")
    if code == 404:
        return NotFoundError(message or "not found", crm=CRM, status_code=code)
    if code == 429:
        return RateLimitedError(message or "rate limit reached", crm=CRM, status_code=code)
    if 400 <= code < 500:
        return RefusedError("; ".join([message, *details]).strip("; ")[:300] or "request refused", crm=CRM,
                            status_code=code)
    return None


class RateHeaders(httpx.AsyncBaseTransport):
    """HubSpot's rate-limit answers in the terms `HttpApi` reads: `X-HubSpot-RateLimit-*` as `RateLimit:
    limit=…, remaining=…, reset=<the window>`, and a 429's `policyName` as its `Retry-After` (when it sent none)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        headers = response.headers
        extra: dict[str, str] = {}
        top, left = headers.get("x-hubspot-ratelimit-max"), headers.get("x-hubspot-ratelimit-remaining")
        window = headers.get("x-hubspot-ratelimit-interval-milliseconds")
        if top and left and top.isdigit() and left.isdigit() and "ratelimit" not in headers:
            seconds = int(window) / 1000 if window and window.isdigit() else 10.0
            extra["RateLimit"] = f"limit={top}, remaining={left}, reset={seconds:g}"
        if response.status_code == 429 and "retry-after" not in headers:
            await response.aread()
            policy = json_dict(response).get("policyName")
            wait = POLICY_WAITS.get(str(policy).upper()) if policy else None
            if wait is None and window and window.isdigit():
                wait = int(window) / 1000
            if wait is not None:
                extra["Retry-After"] = f"{wait:g}"
        if not extra:
            return response
        content = await response.aread()
        return httpx.Response(response.status_code, headers=[*headers.multi_items(), *extra.items()],
                              content=content, request=request, extensions=response.extensions)

    async def aclose(self) -> None:
        await self.inner.aclose()


def prop(record: dict[str, Any], name: str) -> str | None:
    props = record.get("properties")
    value = props.get(name) if isinstance(props, dict) else None
    if value is None and name == "hs_object_id":
        value = record.get("id")
    if value is not None and name == "hs_lastmodifieddate":
        try:
            return millis(parse_when(str(value)))
        except ValueError:
            return None
    return None if value is None else str(value)


def next_after(body: Any) -> str | None:
    """`paging.next.after`, or None at the last page."""
    paging = body.get("paging") if isinstance(body, dict) else None
    following = paging.get("next") if isinstance(paging, dict) else None
    after = following.get("after") if isinstance(following, dict) else None
    return str(after) if isinstance(after, str | int) and not isinstance(after, bool) and str(after) else None


def amount_text(minor: int, currency: str) -> str:
    """Minor units as HubSpot's `amount` property: a decimal string of major units (`123456` USD -> `1234.56`)."""
    digits = CURRENCIES.get(currency.upper(), ("", 2))[1]
    return format(Decimal(minor).scaleb(-digits).normalize(), "f")


def close_date_text(day: Any) -> str:
    """A close date as `closedate` (a date-time property) takes it: noon UTC, the same calendar day for every user
    of the account whatever their time zone (midnight UTC is the day before west of Greenwich)."""
    return f"{day.isoformat()}T12:00:00.000Z"


def edit_properties(edit: Edit, currency: str) -> dict[str, str]:
    """The deal properties an `Edit` changes (only its fields), as strings; an empty string clears one. The
    amount is in the edit's currency when it sets one, else the deal's."""
    currency = edit.currency if "currency" in edit.fields and edit.currency else currency
    properties: dict[str, str] = {}
    for field in edit.fields:
        value = getattr(edit, field)
        if field == "value":
            properties["amount"] = "" if value is None else amount_text(value, currency)
        elif field == "currency":
            properties["deal_currency_code"] = str(value).upper()
        elif field == "close_date":
            properties["closedate"] = "" if value is None else close_date_text(value)
        elif field == "owner":
            properties["hubspot_owner_id"] = "" if value is None else value.id
        elif field == "name":
            properties["dealname"] = value
    return properties


def note_text(body: Any) -> str:
    """A note's `hs_note_body` as plain text: HubSpot's editor writes HTML (`<div><p>…</p></div>`); line breaks
    kept, tags dropped, entities read."""
    text = _BREAKS.sub("\n", str(body or ""))
    return html.unescape(_TAGS.sub("", text)).strip()
