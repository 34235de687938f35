"""`dealboard summary` and `dealboard changes`: the pipeline's numbers and its recent changes, for scripts
and for the eyes, without the full-screen app.

Headless (no Textual): the CLI calls `summary_report` / `changes_report` with a backend and gets the text
or the JSON to print, or a `ReportError` carrying the exit code (2: usage or configuration; 3: the CRM
cannot be reached). The JSON of each is versioned (`"version": 1`) and described by a JSON Schema shipped
in the package: `kanban_tui/schemas/summary-v1.json`, `kanban_tui/schemas/changes-v1.json`. A change that
would break a script reading version 1 makes a version 2 (and a new schema file); fields may be added.

Money is formatted as the board's headers do (`money.py`): totals per currency, never added across
currencies (no exchange rate here): the main currency (the most used) and `+N cur`; the JSON gives each.

What a CRM or a file supplies is untrusted, ids, status ids and currencies included (the models keep ids
as sent): the text goes through `text.safe_text` field by field before it is cut to its column (a cut
never leaves half an escape sequence), and line by line once more; the JSON keeps every value exact
and writes every control character as a `\\uXXXX` escape (`text.escape_json`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from .backends.base import Backend
from .report_changes import CHANGES_VERSION, KINDS, Change, Coverage, changes_json, changes_text, collect_changes
from .report_io import ReportError, printed_json, read_cards, read_pipeline
from .report_summary import SUMMARY_VERSION, Row, summarize, summary_json, summary_text
from .store.board_copy import BoardCopy
from .store.seen import SeenStore
from .text import fit, safe_text

__all__ = [
    "CHANGES_VERSION", "EARLIEST", "KINDS", "SCHEMAS", "SINCE_FORMS", "SUMMARY_VERSION", "Change", "Coverage",
    "ReportError", "Row", "changes_report", "now", "parse_since", "summary_report",
]

SCHEMAS = Path(__file__).with_name("schemas")
"""`summary-v1.json`, `changes-v1.json`: the JSON Schemas of the two outputs."""


def now() -> datetime:
    """The wall clock (tests replace it)."""
    return datetime.now(UTC)


# -- summary ---------------------------------------------------------------------------------------------


async def summary_report(backend: Backend, backend_name: str, *, wanted: str | None, as_json: bool,
                         board_copy: BoardCopy | None = None, cached: bool = False) -> str:
    """The summary as text or JSON. `cached`: from `board_copy` (the saved board), no network at all."""
    at = now()
    saved_at = None
    if cached and board_copy is not None:
        saved = board_copy.load(wanted)
        if saved is None:
            which = f"pipeline {wanted!r}" if wanted else "any pipeline"
            raise ReportError(f"no saved board of {which} for {backend.name} on this machine (open it once with"
                              " dealboard to keep one), or leave out --cached", 2)
        pipeline, cards, saved_at = saved.pipeline, saved.opportunities, saved.saved_at
    else:  # a local workspace is read as it is (it is on this machine: no network)
        pipeline = await read_pipeline(backend, wanted, cached=board_copy is not None)
        cards = await read_cards(backend, pipeline, cached=board_copy is not None)
    rows, open_row, whole = summarize(pipeline, cards, at)
    if as_json:
        return printed_json(summary_json(pipeline, backend.name, backend_name, rows, open_row, whole, at, saved_at))
    return summary_text(pipeline, backend.name, rows, open_row, whole, at, saved_at, backend.has_values)


# -- changes ---------------------------------------------------------------------------------------------

_AGO = re.compile(r"^(\d{1,30})\s*([mhdw])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
"""The earliest `--since` taken: no CRM keeps history from before it (and every clock can hold it)."""
SINCE_FORMS = "say 30m, 12h, 1d, 2w back from now, a date (2026-11-20) or a time (2026-11-20T09:00, +01:00 or Z)"


def parse_since(text: str, at: datetime | None = None) -> datetime:
    """`30m`, `12h`, `1d`, `2w` back from now; `2026-11-20` (local midnight) or an ISO time, naive = local.

    Bounded: from 1970-01-01 (`EARLIEST`) to now, so that no arithmetic on it can overflow (a huge number of
    days, year 1 or 9999 with an offset). ValueError: one line naming the value and the forms taken."""
    at = at or now()
    said = text.strip()
    shown = repr(fit(safe_text(said), 40))
    if match := _AGO.match(said.lower()):
        amount, unit = int(match.group(1)), match.group(2)
        if amount * _UNIT_SECONDS[unit] > (at - EARLIEST).total_seconds():  # ints: no overflow
            raise ValueError(f"--since {shown} is before {EARLIEST:%Y-%m-%d}: {SINCE_FORMS}")
        return at - timedelta(seconds=amount * _UNIT_SECONDS[unit])
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", said):
            moment = datetime.combine(date.fromisoformat(said), time()).astimezone()
        else:
            moment = datetime.fromisoformat(said)
            moment = moment if moment.tzinfo else moment.astimezone()
        utc = moment.astimezone(UTC)  # year 1 at +05:00, 9999-12-31 at -05:00: past what a datetime holds
    except (ValueError, OverflowError):
        raise ValueError(f"--since {shown} is not a time: {SINCE_FORMS}") from None
    if utc < EARLIEST:
        raise ValueError(f"--since {shown} is before {EARLIEST:%Y-%m-%d}: {SINCE_FORMS}")
    if utc > at:
        raise ValueError(f"--since {shown} is in the future: {SINCE_FORMS}")
    return moment


async def changes_report(backend: Backend, backend_name: str, *, wanted: str | None, since: datetime,
                         as_json: bool, board_copy: BoardCopy | None = None, seen: SeenStore | None = None) -> str:
    at = now()
    pipeline = await read_pipeline(backend, wanted, cached=board_copy is not None)
    changes, coverage = await collect_changes(backend, pipeline, since, board_copy, seen)
    if as_json:
        return printed_json(changes_json(pipeline, backend.name, backend_name, since, at, changes, coverage))
    return changes_text(pipeline, backend.name, since, at, changes, coverage)
