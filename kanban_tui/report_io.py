"""What `dealboard summary` and `dealboard changes` share: reading the CRM, and printing text or JSON.

Reading: a CRM that cannot be reached becomes a `ReportError` with the exit code (2: configuration, 3: the
CRM not answering as it should). Printing: every line made safe once more (`printed`), JSON with control
characters escaped (`printed_json`), times as `local_time` + `utc_offset` for the eyes and `iso_utc` for scripts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from .backends.base import Backend
from .backends.errors import AuthError, BackendError
from .models import Opportunity, Pipeline
from .sync.opening import choose_pipeline
from .text import escape_json, safe_text

WIDTH = 80


class ReportError(Exception):
    """A report that cannot be made: `str()` is the one line to show, `code` the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# -- reading the CRM -------------------------------------------------------------------------------------


def unreachable(exc: BackendError, label: str, *, cached: bool) -> ReportError:
    """A rejected key is configuration (2); anything else is the CRM not answering as it should (3), with
    the way out where there is one: the saved board."""
    if isinstance(exc, AuthError):
        return ReportError(str(exc), 2)
    way_out = " - dealboard summary --cached answers from the saved board" if cached else ""
    return ReportError(f"cannot reach {label}: {exc.summary}{way_out}", 3)


async def read_pipeline(backend: Backend, wanted: str | None, *, cached: bool) -> Pipeline:
    try:
        pipelines = await backend.list_pipelines()
    except BackendError as exc:
        raise unreachable(exc, backend.name, cached=cached) from None
    try:
        return choose_pipeline(pipelines, wanted, backend.name)
    except BackendError as exc:
        raise ReportError(f"--pipeline: {exc}", 2) from None


async def read_cards(backend: Backend, pipeline: Pipeline, *, cached: bool) -> list[Opportunity]:
    cards: dict[str, Opportunity] = {}
    try:
        async for page in backend.load_opportunities(pipeline):
            cards.update((o.id, o) for o in page.opportunities)
    except BackendError as exc:
        raise unreachable(exc, backend.name, cached=cached) from None
    return [o for o in cards.values() if pipeline.status(o.status_id) is not None]


# -- output ----------------------------------------------------------------------------------------------


def local_time(moment: datetime) -> str:
    """`2026-11-20 14:05 UTC+01:00`-style local time (the offset given once, in headers)."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def utc_offset(moment: datetime) -> str:
    offset = moment.astimezone().utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return "UTC" if not minutes else f"UTC{'+' if minutes > 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def printed(lines: list[str]) -> str:
    """The lines as printed: each made safe once more (its fields already were, before they were cut), so
    that whatever a CRM, a file or a backend's wording puts in one, no line carries a control character."""
    return "\n".join(safe_text(line) for line in lines) + "\n"


def printed_json(document: dict[str, Any]) -> str:
    """JSON with the CRM's values exact, every control character in them written as an escape."""
    return escape_json(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
