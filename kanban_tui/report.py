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

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from .backends.base import Backend
from .backends.errors import AuthError, BackendError
from .models import History, HistoryEvent, Opportunity, Pipeline, Status, StatusKind
from .money import format_compact, format_money
from .store.board_copy import BoardCopy, SavedBoard
from .store.seen import SeenStore
from .sync.board import ColumnTotals, contribution_of
from .sync.opening import choose_pipeline
from .sync.phase import ago
from .text import cells, escape_json, fit, pad, safe_text

SUMMARY_VERSION = 1
CHANGES_VERSION = 1
SCHEMAS = Path(__file__).with_name("schemas")
"""`summary-v1.json`, `changes-v1.json`: the JSON Schemas of the two outputs."""
WIDTH = 80
LABEL_WIDTH = 18
COLUMN_WIDTHS = (7, 16, 16, 7, 6)
"""`summary`'s table: the status label, then count, total, expected, stalled, oldest (each at least this wide)."""
DETAIL_WIDTH = WIDTH - 16 - 2 - 9 - 1 - 24 - 2
"""`changes`' last column: what changed (after the time, the kind and the deal's name)."""
KINDS = ("created", "moved", "won", "lost", "revalued", "removed", "changed")
"""What `changes` reports of a deal; `changed`: the CRM says it was updated, not what (BottleCRM's feed)."""


class ReportError(Exception):
    """A report that cannot be made: `str()` is the one line to show, `code` the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def now() -> datetime:
    """The wall clock (tests replace it)."""
    return datetime.now(UTC)


# -- reading the CRM -------------------------------------------------------------------------------------


def _unreachable(exc: BackendError, label: str, *, cached: bool) -> ReportError:
    """A rejected key is configuration (2); anything else is the CRM not answering as it should (3), with
    the way out where there is one: the saved board."""
    if isinstance(exc, AuthError):
        return ReportError(str(exc), 2)
    way_out = " - dealboard summary --cached answers from the saved board" if cached else ""
    return ReportError(f"cannot reach {label}: {exc.summary}{way_out}", 3)


async def _pipeline(backend: Backend, wanted: str | None, *, cached: bool) -> Pipeline:
    try:
        pipelines = await backend.list_pipelines()
    except BackendError as exc:
        raise _unreachable(exc, backend.name, cached=cached) from None
    try:
        return choose_pipeline(pipelines, wanted, backend.name)
    except BackendError as exc:
        raise ReportError(f"--pipeline: {exc}", 2) from None


async def _cards(backend: Backend, pipeline: Pipeline, *, cached: bool) -> list[Opportunity]:
    cards: dict[str, Opportunity] = {}
    try:
        async for page in backend.load_opportunities(pipeline):
            cards.update((o.id, o) for o in page.opportunities)
    except BackendError as exc:
        raise _unreachable(exc, backend.name, cached=cached) from None
    return [o for o in cards.values() if pipeline.status(o.status_id) is not None]


# -- summary ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One status's numbers (or a group's: `status` None)."""

    label: str
    status: Status | None = None
    totals: ColumnTotals = field(default_factory=ColumnTotals)
    stalled: int = 0
    oldest: int | None = None
    """Days in status of the deal longest in it, among those whose CRM says when it entered (None: no deal's)."""

    def add(self, card: Opportunity, today: datetime) -> None:
        self.totals.add(contribution_of(card))
        self.stalled += card.stalled
        if card.status_changed is not None:
            days = max(0, (today - card.status_changed).days)
            self.oldest = days if self.oldest is None else max(self.oldest, days)

    def merge(self, other: Row) -> None:
        for currency, (valued, total, weighted) in other.totals.by_currency.items():
            sums = self.totals.by_currency.setdefault(currency, [0, 0, 0])
            sums[0] += valued
            sums[1] += total
            sums[2] += weighted
        self.totals.count += other.totals.count
        self.totals.recurring += other.totals.recurring
        self.stalled += other.stalled
        if other.oldest is not None:
            self.oldest = other.oldest if self.oldest is None else max(self.oldest, other.oldest)


def summarize(pipeline: Pipeline, cards: Iterable[Opportunity], at: datetime) -> tuple[list[Row], Row, Row]:
    """Per status (in order), the open statuses together, and the whole pipeline."""
    rows = {s.id: Row(s.label, s) for s in pipeline.statuses}
    for card in cards:
        if card.status_id in rows:
            rows[card.status_id].add(card, at)
    open_row, whole = Row("Open"), Row("Pipeline")
    for row in rows.values():
        whole.merge(row)
        if row.status is not None and row.status.kind is StatusKind.OPEN:
            open_row.merge(row)
    return list(rows.values()), open_row, whole


def _money_json(row: Row) -> dict[str, Any]:
    summary = row.totals.summary()
    return {"count": summary.count, "totals": summary.totals, "expected": summary.weighted,
            "annualized": summary.annualized, "stalled": row.stalled, "oldest_days_in_status": row.oldest}


def _amount(totals: dict[str, int], annualized: bool, width: int = 16) -> str:
    """`$182k/yr +2 cur`: the main currency, and how many others (never added in); shorter where that is wider
    than `width` (`$182k/yr +2`, `US$ 3e18/yr +2`: the magnitude, the period and the count of others kept)."""
    if not totals:
        return "-"
    currency, minor = next(iter(totals.items()))
    per = "/yr" if annualized else ""
    others = len(totals) - 1
    notes = (f" +{others} cur", f" +{others}") if others else ("",)
    forms = [format_compact(minor, currency, places=places) + per + note for note in notes for places in (1, 0)]
    return next((form for form in forms if cells(form) <= width), forms[-1])


def _when(moment: datetime) -> str:
    """`2026-11-20 14:05 UTC+01:00`-style local time (the offset given once, in headers)."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _zone(moment: datetime) -> str:
    offset = moment.astimezone().utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return "UTC" if not minutes else f"UTC{'+' if minutes > 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def summary_text(pipeline: Pipeline, crm: str, rows: list[Row], open_row: Row, whole: Row, at: datetime,
                 saved_at: datetime | None, has_values: bool) -> str:
    lines = [f"{pipeline.name} ({crm}): {whole.totals.count:,} deals, {_when(at)} {_zone(at)}"]
    if saved_at is not None:
        lines.append(f"From the saved board of {_when(saved_at)} ({ago(saved_at, at)}): not refreshed (--cached).")
    lines.append("")

    def label_fit(label: str, width: int) -> str:
        """Cut to `width`, a trailing `(archived)` kept (as the board's headers do)."""
        label = safe_text(label)
        head, paren, tail = label.rpartition(" (")
        if paren and tail.endswith(")") and cells(label) > width and cells(tail) + 3 < width // 2 + 4:
            return fit(head, width - cells(tail) - 2) + " (" + tail
        return fit(label, width)

    def numbers(row: Row) -> list[str]:
        summary = row.totals.summary()
        total = _amount(summary.totals, summary.annualized) if has_values else "-"
        expected = _amount(summary.weighted, summary.annualized) if has_values else "-"
        oldest = "-" if row.oldest is None else f"{row.oldest}d"
        return [f"{summary.count:,}", total, expected, f"{row.stalled:,}", oldest]

    glyph = {StatusKind.OPEN: "", StatusKind.WON: "✓ ", StatusKind.LOST: "✗ "}
    table = [(f"{glyph[row.status.kind]}{row.label}" if row.status else row.label, numbers(row)) for row in rows]
    table += [("Open statuses", numbers(open_row)), ("Whole pipeline", numbers(whole))]
    # a column wider than usual (a huge total, a count in the billions) takes its room from the labels
    widths = [max([least, *(cells(values[i]) for _, values in table)]) for i, least in enumerate(COLUMN_WIDTHS)]
    label_w = max(8, LABEL_WIDTH - (sum(widths) - sum(COLUMN_WIDTHS)))

    def line(label: str, values: list[str]) -> str:
        count, total, expected, stalled, oldest = (" " * (w - cells(v)) + v
                                                   for v, w in zip(values, widths, strict=True))
        return f"{pad(label_fit(label, label_w), label_w)}{count}  {total}  {expected}  {stalled}  {oldest}"

    head = line("Status", ["Count", "Total", "Expected", "Stalled", "Oldest"])
    lines += [head, "-" * cells(head)]
    for label, values in table[:-2]:
        lines.append(line(label, values))
    lines.append("-" * cells(head))
    for label, values in table[-2:]:
        lines.append(line(label, values))
    lines.append("")
    if has_values:
        lines.append("/yr: a year's worth where values recur. Expected: weighted by confidence.")
        lines.append("Currencies are never added up: +N cur counts the others (--json gives each).")
    else:
        lines.append(f"{crm} keeps no deal values: counts only.")
    if not pipeline.statuses:  # a CRM's new pipeline, or every stage deleted
        lines.append(f"{pipeline.name} has no statuses in {crm}: no deals to count.")
    elif not whole.totals.count:
        pass  # no deal to say anything of
    elif whole.oldest is None:
        lines.append(f"Oldest (days in status): {crm} does not say when deals entered theirs (-).")
    else:
        lines.append("Oldest: the most days a deal has been in the status (-: the CRM does not say).")
    return _text(lines)


def summary_json(pipeline: Pipeline, crm: str, backend_name: str, rows: list[Row], open_row: Row, whole: Row,
                 at: datetime, saved_at: datetime | None) -> dict[str, Any]:
    return {
        "version": SUMMARY_VERSION,
        "kind": "summary",
        "generated_at": _iso(at),
        "crm": crm,
        "backend": backend_name,
        "pipeline": {"id": pipeline.id, "name": pipeline.name},
        "cached": None if saved_at is None else {
            "saved_at": _iso(saved_at), "age_seconds": max(0, int((at - saved_at).total_seconds()))},
        "statuses": [
            {"id": row.status.id, "label": row.label, "kind": row.status.kind.value, **_money_json(row)}
            for row in rows if row.status is not None
        ],
        "open": _money_json(open_row),
        "total": _money_json(whole),
    }


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
        pipeline = await _pipeline(backend, wanted, cached=board_copy is not None)
        cards = await _cards(backend, pipeline, cached=board_copy is not None)
    rows, open_row, whole = summarize(pipeline, cards, at)
    if as_json:
        return _dump(summary_json(pipeline, backend.name, backend_name, rows, open_row, whole, at, saved_at))
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


@dataclass
class Change:
    """One line of `changes`."""

    when: datetime | None
    kind: str
    id: str
    name: str | None
    status_from: str | None = None
    status_to: str | None = None
    value_from: int | None = None
    value_to: int | None = None
    currency: str | None = None


@dataclass
class Snapshot:
    """A board as this machine kept it: per deal (status, value, name, currency)."""

    at: datetime
    what: str
    cards: dict[str, tuple[str, int | None, str, str | None]]


def snapshots(pipeline: Pipeline, board_copy: BoardCopy | None, seen: SeenStore | None) -> list[Snapshot]:
    """The snapshots kept of this pipeline (the saved board, what the user last saw), oldest first."""
    found = []
    saved: SavedBoard | None = board_copy.load(pipeline.id) if board_copy is not None else None
    if saved is not None and saved.pipeline.id == pipeline.id:
        found.append(Snapshot(saved.saved_at, "the saved board",
                              {o.id: (o.status_id, o.value, o.name, o.currency) for o in saved.opportunities}))
    if seen is not None and (kept := seen.saved_at(pipeline.id)) is not None:
        cards = seen.load(pipeline.id) or {}
        try:
            at = datetime.fromisoformat(kept)
            found.append(Snapshot(at if at.tzinfo else at.replace(tzinfo=UTC), "what you last saw on the board",
                                  {i: (s, v, n, None) for i, (s, v, n) in cards.items()}))
        except ValueError:
            pass
    return sorted(found, key=lambda s: s.at)


def _pick(found: list[Snapshot], since: datetime) -> Snapshot | None:
    """The newest snapshot kept at or before `since` (it covers the whole time asked); else the oldest."""
    before = [s for s in found if s.at <= since]
    return before[-1] if before else (found[0] if found else None)


def compare(pipeline: Pipeline, snapshot: Snapshot, cards: list[Opportunity], since: datetime,
            real_times: bool) -> list[Change]:
    """What differs between the snapshot and the board now. A change's time is the deal's own where the CRM
    keeps one (when it entered its status, its last update), else unknown (None)."""
    changes: list[Change] = []
    now_ids = set()
    for card in cards:
        now_ids.add(card.id)
        before = snapshot.cards.get(card.id)
        updated = card.updated if real_times else None
        if before is None:
            when = card.created if real_times else None
            if when is None or when >= since:
                changes.append(Change(when, "created", card.id, card.name, status_to=card.status_id,
                                      value_to=card.value, currency=card.currency))
            continue
        status, value, _, _ = before
        if status != card.status_id:
            when = card.status_changed or updated
            if when is None or when >= since:
                changes.append(Change(when, _moved_kind(pipeline, card.status_id), card.id, card.name,
                                      status_from=status, status_to=card.status_id))
        if value != card.value:
            if updated is None or updated >= since:
                changes.append(Change(updated, "revalued", card.id, card.name, value_from=value,
                                      value_to=card.value, currency=card.currency))
    for card_id, (status, value, name, currency) in snapshot.cards.items():
        if card_id not in now_ids:
            changes.append(Change(None, "removed", card_id, name, status_from=status, value_from=value,
                                  currency=currency))
    return changes


def _moved_kind(pipeline: Pipeline, status_id: str | None) -> str:
    status = pipeline.status(status_id) if status_id else None
    if status is not None and status.kind is StatusKind.WON:
        return "won"
    if status is not None and status.kind is StatusKind.LOST:
        return "lost"
    return "moved"


def from_history(pipeline: Pipeline, history: History, snapshot: Snapshot | None) -> list[Change]:
    """A CRM's history as changes; where it does not say where a deal came from (or what changed), the
    snapshot does when it can."""
    changes: list[Change] = []
    newest_of: dict[str, HistoryEvent] = {}
    moves_of: dict[str, list[HistoryEvent]] = {}
    for event in history.events:  # newest first
        newest_of.setdefault(event.opportunity_id, event)
        if event.moved:
            moves_of.setdefault(event.opportunity_id, []).append(event)
    kept = snapshot.cards if snapshot is not None else {}
    for event in history.events:
        before = kept.get(event.opportunity_id)
        name = event.name or (before[2] if before else None)
        if event.action == "created":
            changes.append(Change(event.when, "created", event.opportunity_id, name, status_to=event.status_to,
                                  value_to=event.value_to, currency=event.currency))
        elif event.action == "deleted":
            changes.append(Change(event.when, "removed", event.opportunity_id, name,
                                  status_from=event.status_from or (before[0] if before else None),
                                  value_from=event.value_from if event.value_from is not None or not before
                                  else before[1], currency=event.currency or (before[3] if before else None)))
        else:
            moved, revalued = event.moved, event.revalued
            status_from, value_from = event.status_from, event.value_from
            if moved and status_from is None and before and moves_of[event.opportunity_id][-1] is event:
                status_from = before[0] if before[0] != event.status_to else None  # the deal's first move since
            if not event.known:
                newest = newest_of[event.opportunity_id] is event
                if newest and before and not moves_of.get(event.opportunity_id) and before[0] != event.status_to:
                    moved, status_from = True, before[0]
                if newest and before and before[1] != event.value_to:
                    revalued, value_from = True, before[1]
                if not moved and not revalued:
                    changes.append(Change(event.when, "changed", event.opportunity_id, name,
                                          status_to=event.status_to))
                    continue
            if moved:
                changes.append(Change(event.when, _moved_kind(pipeline, event.status_to), event.opportunity_id,
                                      name, status_from=status_from, status_to=event.status_to))
            if revalued:
                changes.append(Change(event.when, "revalued", event.opportunity_id, name, value_from=value_from,
                                      value_to=event.value_to, currency=event.currency))
    return changes


def _order(changes: list[Change]) -> list[Change]:
    """Newest first; changes of unknown time last (by name)."""
    timed = sorted((c for c in changes if c.when is not None), key=lambda c: c.when, reverse=True)  # type: ignore[arg-type, return-value]
    untimed = sorted((c for c in changes if c.when is None), key=lambda c: ((c.name or "").casefold(), c.id))
    return timed + untimed


@dataclass
class Coverage:
    """Where the changes come from and how far back they are complete."""

    kind: str
    """`history` (the CRM's own) or `snapshot` (a comparison with a board this machine kept)."""
    description: str
    complete_from: datetime | None = None
    snapshot_at: datetime | None = None
    notes: list[str] = field(default_factory=list)


async def collect_changes(backend: Backend, pipeline: Pipeline, since: datetime, board_copy: BoardCopy | None,
                          seen: SeenStore | None) -> tuple[list[Change], Coverage]:
    found = snapshots(pipeline, board_copy, seen)
    snapshot = _pick(found, since)
    try:
        history = await backend.history(pipeline, since)
    except BackendError as exc:
        raise _unreachable(exc, backend.name, cached=board_copy is not None) from None
    if history is not None:
        coverage = Coverage("history", f"from {history.source}", history.complete_from)
        if history.complete_from is not None:
            coverage.notes.append(f"{history.source[0].upper()}{history.source[1:]} goes back to"
                                  f" {_when(history.complete_from)} only: older changes are not listed.")
        return _order(from_history(pipeline, history, snapshot)), coverage
    if snapshot is None:
        coverage = Coverage("snapshot", f"{backend.name} keeps no history, and no snapshot of this board is kept"
                            " here yet")
        coverage.notes.append("Open the board once (dealboard): changes are then compared with it.")
        return [], coverage
    cards = await _cards(backend, pipeline, cached=True)
    coverage = Coverage("snapshot", f"{backend.name} keeps no history: compared with {snapshot.what} of"
                        f" {_when(snapshot.at)}", snapshot_at=snapshot.at)
    if snapshot.at > since:
        coverage.complete_from = snapshot.at
        coverage.notes.append(f"The oldest snapshot kept is of {_when(snapshot.at)}: older changes are unknown.")
    else:
        coverage.notes.append(f"A change of unknown time may be older than asked (after {_when(snapshot.at)}).")
    return _order(compare(pipeline, snapshot, cards, since, backend.real_update_times)), coverage


def _label(pipeline: Pipeline, status_id: str | None) -> str:
    """A status's label; an id the pipeline does not have (a CRM's, as sent) made safe."""
    if status_id is None:
        return "?"
    status = pipeline.status(status_id)
    return status.label if status is not None else safe_text(status_id)


def _detail(pipeline: Pipeline, change: Change, width: int = WIDTH) -> str:
    """What changed, in `width` cells where it can be: a value too long for it is shown short (`€9e16`), never
    cut; a status's label may be (it is a name)."""
    if change.kind in ("moved", "won", "lost"):
        return f"{_label(pipeline, change.status_from)} → {_label(pipeline, change.status_to)}"
    currency = safe_text(change.currency or "USD")

    def money(minor: int | None, places: int | None) -> str:
        return format_money(minor, currency) if places is None or minor is None else format_compact(
            minor, currency, places=places)

    if change.kind == "revalued":
        forms = [f"{money(change.value_from, p)} → {money(change.value_to, p)}" for p in (None, 1, 0)]
        return next((form for form in forms if cells(form) <= width), forms[-1])
    if change.kind == "created":
        label = _label(pipeline, change.status_to)
        if change.value_to is None:
            return f"in {label}"
        values = [money(change.value_to, p) for p in (None, 1, 0)]
        value = next((v for v in values if cells(f"in {label} {v}") <= width), None)
        if value is None:  # the label gives way, the value does not
            value = next((v for v in values if cells(v) <= width - 6), values[-1])
            label = fit(label, max(1, width - 4 - cells(value)))
        return f"in {label} {value}"
    if change.kind == "removed":
        return f"was in {_label(pipeline, change.status_from)}" if change.status_from else ""
    return "updated (the CRM does not say what)"


def changes_text(pipeline: Pipeline, crm: str, since: datetime, at: datetime, changes: Sequence[Change],
                 coverage: Coverage) -> str:
    lines = [f"Changes in {pipeline.name} ({crm}) since {_when(since)} {_zone(since)}, newest first",
             f"{coverage.description[0].upper()}{coverage.description[1:]}.", *coverage.notes, ""]
    words = {"revalued": "re-valued"}
    for change in changes:
        when = _when(change.when) if change.when is not None else "(time unknown)"
        name = fit(safe_text(change.name or change.id), 24)  # made safe before it is cut
        detail = fit(_detail(pipeline, change, DETAIL_WIDTH), DETAIL_WIDTH)
        lines.append(f"{when:<16}  {words.get(change.kind, change.kind):<9} {pad(name, 24)}  {detail}".rstrip())
    if changes:
        lines.append("")
    counts = {k: sum(c.kind == k for c in changes) for k in KINDS}
    said = ", ".join(f"{n} {words.get(k, k)}" for k, n in counts.items() if n)
    lines.append(f"{len(changes)} change{'s' if len(changes) != 1 else ''}" + (f": {said}." if said else "."))
    return _text(lines)


def changes_json(pipeline: Pipeline, crm: str, backend_name: str, since: datetime, at: datetime,
                 changes: Sequence[Change], coverage: Coverage) -> dict[str, Any]:
    def status(status_id: str | None) -> dict[str, str] | None:
        return None if status_id is None else {"id": status_id, "label": _label(pipeline, status_id)}

    return {
        "version": CHANGES_VERSION,
        "kind": "changes",
        "generated_at": _iso(at),
        "crm": crm,
        "backend": backend_name,
        "pipeline": {"id": pipeline.id, "name": pipeline.name},
        "since": _iso(since),
        "source": {"kind": coverage.kind, "description": coverage.description,
                   "complete_from": _iso(coverage.complete_from) if coverage.complete_from else None,
                   "snapshot_at": _iso(coverage.snapshot_at) if coverage.snapshot_at else None,
                   "notes": coverage.notes},
        "changes": [
            {"when": _iso(c.when) if c.when else None, "kind": c.kind, "id": c.id, "name": c.name,
             "from": status(c.status_from), "to": status(c.status_to), "value_from": c.value_from,
             "value_to": c.value_to, "currency": c.currency}
            for c in changes
        ],
    }


async def changes_report(backend: Backend, backend_name: str, *, wanted: str | None, since: datetime,
                         as_json: bool, board_copy: BoardCopy | None = None, seen: SeenStore | None = None) -> str:
    at = now()
    pipeline = await _pipeline(backend, wanted, cached=board_copy is not None)
    changes, coverage = await collect_changes(backend, pipeline, since, board_copy, seen)
    if as_json:
        return _dump(changes_json(pipeline, backend.name, backend_name, since, at, changes, coverage))
    return changes_text(pipeline, backend.name, since, at, changes, coverage)


# -- output ----------------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(lines: list[str]) -> str:
    """The lines as printed: each made safe once more (its fields already were, before they were cut), so
    that whatever a CRM, a file or a backend's wording puts in one, no line carries a control character."""
    return "\n".join(safe_text(line) for line in lines) + "\n"


def _dump(document: dict[str, Any]) -> str:
    """JSON with the CRM's values exact, every control character in them written as an escape."""
    return escape_json(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
