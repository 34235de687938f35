"""`dealboard changes`: what changed in a pipeline since a time, newest first.

From the CRM's own history where it keeps one (`Backend.history`: `from_history`), else by comparing the board
now with a snapshot this machine kept (the saved board, what the user last saw: `snapshots`, `compare`).
`collect_changes` picks the source and says how far back it is complete (`Coverage`); `changes_text` and
`changes_json` print them (`schemas/changes-v1.json`); `report.changes_report` is the entry point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .backends.base import Backend
from .backends.errors import BackendError
from .models import History, HistoryEvent, Opportunity, Pipeline, StatusKind
from .money import format_compact, format_money
from .report_io import WIDTH, iso_utc, local_time, printed, read_cards, unreachable, utc_offset
from .store.board_copy import BoardCopy, SavedBoard
from .store.seen import SeenStore
from .text import cells, fit, pad, safe_text

CHANGES_VERSION = 1
DETAIL_WIDTH = WIDTH - 16 - 2 - 9 - 1 - 24 - 2
"""`changes`' last column: what changed (after the time, the kind and the deal's name)."""
KINDS = ("created", "moved", "won", "lost", "revalued", "removed", "changed")
"""What `changes` reports of a deal; `changed`: the CRM says it was updated, not what (BottleCRM's feed)."""


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
        raise unreachable(exc, backend.name, cached=board_copy is not None) from None
    if history is not None:
        coverage = Coverage("history", f"from {history.source}", history.complete_from)
        if history.complete_from is not None:
            coverage.notes.append(f"{history.source[0].upper()}{history.source[1:]} goes back to"
                                  f" {local_time(history.complete_from)} only: older changes are not listed.")
        return _order(from_history(pipeline, history, snapshot)), coverage
    if snapshot is None:
        coverage = Coverage("snapshot", f"{backend.name} keeps no history, and no snapshot of this board is kept"
                            " here yet")
        coverage.notes.append("Open the board once (dealboard): changes are then compared with it.")
        return [], coverage
    cards = await read_cards(backend, pipeline, cached=True)
    coverage = Coverage("snapshot", f"{backend.name} keeps no history: compared with {snapshot.what} of"
                        f" {local_time(snapshot.at)}", snapshot_at=snapshot.at)
    if snapshot.at > since:
        coverage.complete_from = snapshot.at
        coverage.notes.append(f"The oldest snapshot kept is of {local_time(snapshot.at)}: older changes are unknown.")
    else:
        coverage.notes.append(f"A change of unknown time may be older than asked (after {local_time(snapshot.at)}).")
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
    lines = [f"Changes in {pipeline.name} ({crm}) since {local_time(since)} {utc_offset(since)}, newest first",
             f"{coverage.description[0].upper()}{coverage.description[1:]}.", *coverage.notes, ""]
    words = {"revalued": "re-valued"}
    for change in changes:
        when = local_time(change.when) if change.when is not None else "(time unknown)"
        name = fit(safe_text(change.name or change.id), 24)  # made safe before it is cut
        detail = fit(_detail(pipeline, change, DETAIL_WIDTH), DETAIL_WIDTH)
        lines.append(f"{when:<16}  {words.get(change.kind, change.kind):<9} {pad(name, 24)}  {detail}".rstrip())
    if changes:
        lines.append("")
    counts = {k: sum(c.kind == k for c in changes) for k in KINDS}
    said = ", ".join(f"{n} {words.get(k, k)}" for k, n in counts.items() if n)
    lines.append(f"{len(changes)} change{'s' if len(changes) != 1 else ''}" + (f": {said}." if said else "."))
    return printed(lines)


def changes_json(pipeline: Pipeline, crm: str, backend_name: str, since: datetime, at: datetime,
                 changes: Sequence[Change], coverage: Coverage) -> dict[str, Any]:
    def status(status_id: str | None) -> dict[str, str] | None:
        return None if status_id is None else {"id": status_id, "label": _label(pipeline, status_id)}

    return {
        "version": CHANGES_VERSION,
        "kind": "changes",
        "generated_at": iso_utc(at),
        "crm": crm,
        "backend": backend_name,
        "pipeline": {"id": pipeline.id, "name": pipeline.name},
        "since": iso_utc(since),
        "source": {"kind": coverage.kind, "description": coverage.description,
                   "complete_from": iso_utc(coverage.complete_from) if coverage.complete_from else None,
                   "snapshot_at": iso_utc(coverage.snapshot_at) if coverage.snapshot_at else None,
                   "notes": coverage.notes},
        "changes": [
            {"when": iso_utc(c.when) if c.when else None, "kind": c.kind, "id": c.id, "name": c.name,
             "from": status(c.status_from), "to": status(c.status_to), "value_from": c.value_from,
             "value_to": c.value_to, "currency": c.currency}
            for c in changes
        ],
    }
