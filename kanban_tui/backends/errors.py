"""Typed errors every backend raises, so the UI can say what happened and what to do.

Each error carries the CRM's name, the HTTP status code when there is one, and a hint.
`str(error)` is the one-line message shown to the user. Never put a secret in one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from ..text import safe_text

T = TypeVar("T")

MAX_RATE_WAIT = 15 * 60.0
"""The longest a rate limit holds requests back (seconds), whatever the CRM asks: `Retry-After: 1e12`
waits this long, then asks again."""


def wait_seconds(value: float | None) -> float | None:
    """A wait a CRM asked for, as dealboard honours it: None when it is not a finite number (inf, nan: as if
    it had said nothing), else between 0 and `MAX_RATE_WAIT`."""
    if value is None or not math.isfinite(value):
        return None
    return min(max(0.0, value), MAX_RATE_WAIT)


class BackendError(Exception):
    """Something a backend could not do. The base of every backend error."""

    hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        crm: str = "",
        status_code: int | None = None,
        hint: str | None = None,
    ) -> None:
        message = safe_text(message)  # often the CRM's own words: untrusted
        super().__init__(message)
        self.message = message
        self.crm = crm
        self.status_code = status_code
        if hint is not None:
            self.hint = safe_text(hint)

    @property
    def summary(self) -> str:
        """`Close 401: message`: who said what, without the hint."""
        where = self.crm
        if self.status_code is not None:
            where = f"{where} {self.status_code}".strip()
        return f"{where}: {self.message}" if where else self.message

    def __str__(self) -> str:
        return f"{self.summary} - {self.hint}" if self.hint else self.summary


class AuthError(BackendError):
    """The CRM refused the credentials (401/403)."""

    hint = "check the API key"


class NotFoundError(BackendError):
    """The thing asked for is not there (any more)."""

    hint = "it may have been deleted; press r to refresh"


class RefusedError(BackendError):
    """The CRM understood the request and said no (400/409/422, or a rule of ours)."""

    hint = ""


class ConflictError(BackendError):
    """The card changed in the CRM after the user last saw it: the move was not sent."""

    hint = "keep your move or take the CRM's"


class RateLimitedError(BackendError):
    """Too many requests; `retry_after` seconds until the next may go."""

    hint = "waiting before trying again"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait, at most `MAX_RATE_WAIT`; None: not said (or not a finite number)."""
        return self._retry_after

    @retry_after.setter
    def retry_after(self, seconds: float | None) -> None:
        self._retry_after = wait_seconds(seconds)


class UnavailableError(BackendError):
    """The CRM could not be reached or failed (network, timeout, 5xx)."""

    hint = "will retry at the next poll"


class OutcomeUnknownError(UnavailableError):
    """A write was sent but no answer came (a timeout, a dropped connection after sending):
    the CRM may or may not have applied it. Read the record before sending it again."""

    hint = "the card is read back before the move is sent again"


def unexpected_error(exc: Exception) -> BackendError:
    """A bug or an answer we did not expect, as one line (the details go to the log)."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return BackendError(f"unexpected {type(exc).__name__}: {first}".rstrip(": "))


def describe_validation_error(exc: Exception) -> str:
    """A pydantic ValidationError as one short line: `confidence: must be <= 100`."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc).splitlines()[0]
    parts = []
    for error in errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ())) or "value"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


RECORD_ERRORS = (KeyError, TypeError, ValueError, AttributeError)
"""What turning a CRM's record into a card may raise (pydantic's ValidationError is a ValueError)."""


def read_each(records: list[Any], convert: Callable[[Any], T], what: str, skipped: list[str]) -> list[T]:
    """Convert every record; one line in `skipped` per record that does not fit (`Close opportunity X skipped: ...`)."""
    converted = []
    for record in records:
        try:
            converted.append(convert(record))
        except RECORD_ERRORS as exc:
            record_id = safe_text(str(record.get("id", "?"))) if isinstance(record, dict) else "?"
            reason = safe_text(describe_validation_error(exc) if hasattr(exc, "errors") else f"{exc!s}"[:80])
            skipped.append(f"{what} {record_id} skipped: {reason}")
    return converted
