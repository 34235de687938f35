"""How Pipedrive's answers read: times, money, errors, the API root, and the small readers of a deal's
fields. Pure functions over what Pipedrive sends (`pipedrive.py` holds the backend that asks for it)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..models import Pipeline
from ..money import CURRENCIES
from .errors import AuthError, BackendError, NotFoundError, RefusedError
from .http import httpx, json_dict
from .settings import PIPEDRIVE as CRM
from .settings import PIPEDRIVE_TOKEN_ENV as TOKEN_ENV

V2 = "api/v2/"
"""Every path but "who am I" is under it."""
LIVE = "open,won,lost"
"""`status` of a listing of the deals the board shows."""
DEFAULT_CURRENCY = "USD"
WEB_URL = "https://{domain}/deal/{id}"
PALETTE_OPEN = ("#5f87d7", "#5fafd7", "#5fd7d7", "#87afaf", "#d7af5f", "#d7875f", "#af87d7", "#87afd7")
PALETTE_WON = "#5faf5f"
PALETTE_LOST = "#d75f5f"


def parse_when(text: Any) -> datetime:
    """A Pipedrive time (`2025-01-01T10:20:00Z`; naive = UTC). Raises on anything else."""
    if not isinstance(text, str):
        raise ValueError("no time")
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def rfc3339(when: datetime) -> str:
    """`updated_since` as the description shows it: `2025-01-01T10:20:00Z` (whole seconds, UTC)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def describe_error(response: httpx.Response) -> BackendError | None:
    """Pipedrive's own words (`error`, `error_info`) for what a user can act on."""
    code = response.status_code
    body = json_dict(response)
    said = [str(body[k]) for k in ("error", "error_info") if body.get(k)]
    message = "; ".join(dict.fromkeys(said))[:300]
    if code == 401:
        return AuthError("Pipedrive did not accept the API token", crm=CRM, status_code=code,
                         hint=f"check {TOKEN_ENV} (Pipedrive: Personal preferences > API)")
    if code == 403:
        return AuthError(message or "not allowed", crm=CRM, status_code=code,
                         hint="ask a Pipedrive admin for access")
    if code == 404:
        return NotFoundError(message or "not found", crm=CRM, status_code=code)
    if 400 <= code < 500 and code != 429:
        return RefusedError(message or "request refused", crm=CRM, status_code=code)
    return None


def api_root(base_url: str) -> str:
    """The API root from what the user gave: `…/api/v2/`, `…/api/v1/` and `…/api/` are cut back to it."""
    base = base_url.strip().rstrip("/")
    for tail in ("/api/v2", "/api/v1", "/api"):
        if base.endswith(tail):
            base = base[: -len(tail)]
            break
    return base + "/"


def required_int(data: dict[str, Any], key: str) -> int:
    value = int_or_none(data.get(key))
    if value is None:
        raise ValueError(f"no {key}")
    return value


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def maybe_when(value: Any) -> datetime | None:
    try:
        return parse_when(value)
    except ValueError:
        return None


def is_gone(record: dict[str, Any]) -> bool:
    """Deleted (or archived: no longer listed) as the record says."""
    return bool(record.get("is_deleted")) or record.get("status") == "deleted" or bool(record.get("is_archived"))


def is_rotting(stage: dict[str, Any] | None, updated: datetime, now: datetime) -> bool:
    """Pipedrive's rotting: not updated for the stage's `days_to_rotten` days, where rotting is on."""
    if stage is None or not stage.get("is_deal_rot_enabled"):
        return False
    days = int_or_none(stage.get("days_to_rotten"))
    return days is not None and days > 0 and (now - updated) >= timedelta(days=days)


def data_of(body: Any) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BackendError("answered without a data list", crm=CRM,
                           hint="check the base URL (the API root, https://api.pipedrive.com/)")
    return body["data"]


def next_cursor(body: Any) -> str | None:
    extra = body.get("additional_data") if isinstance(body, dict) else None
    cursor = extra.get("next_cursor") if isinstance(extra, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None


def stage_shape(pipeline: Pipeline) -> list[tuple[str, str, int, str]]:
    return [(s.id, s.label, s.position, s.kind.value) for s in pipeline.statuses]


def expected_close(value: Any) -> date | None:
    """A deal's `expected_close_date` (`2026-03-01`), or None when it has none or it is not a date."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def float_amount(minor: int, currency: str) -> int | float:
    """Minor units (cents) as the major-unit number Pipedrive's `value` is (`123456` USD -> `1234.56`); whole
    amounts as integers."""
    digits = CURRENCIES.get(currency.upper(), ("", 2))[1]
    amount = Decimal(minor).scaleb(-digits)
    return int(amount) if amount == amount.to_integral_value() else float(amount)
