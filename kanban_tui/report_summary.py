"""`dealboard summary`: the pipeline's numbers per status, the open statuses and the whole pipeline.

Counted as the board's headers count (`sync.totals`): a year's worth where values recur, weighted by
confidence for the expected value, per currency and never added across currencies. `summarize` makes the
rows, `summary_text` and `summary_json` print them (`schemas/summary-v1.json`); `report.summary_report`
is the entry point.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .models import Opportunity, Pipeline, Status, StatusKind
from .money import format_compact
from .report_io import iso_utc, local_time, printed, utc_offset
from .sync.phase import ago
from .sync.totals import ColumnTotals, contribution_of
from .text import cells, fit, pad, safe_text

SUMMARY_VERSION = 1
LABEL_WIDTH = 18
COLUMN_WIDTHS = (7, 16, 16, 7, 6)
"""`summary`'s table: the status label, then count, total, expected, stalled, oldest (each at least this wide)."""


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


def summary_text(pipeline: Pipeline, crm: str, rows: list[Row], open_row: Row, whole: Row, at: datetime,
                 saved_at: datetime | None, has_values: bool) -> str:
    lines = [f"{pipeline.name} ({crm}): {whole.totals.count:,} deals, {local_time(at)} {utc_offset(at)}"]
    if saved_at is not None:
        lines.append(f"From the saved board of {local_time(saved_at)} ({ago(saved_at, at)}): not refreshed (--cached).")
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
    return printed(lines)


def summary_json(pipeline: Pipeline, crm: str, backend_name: str, rows: list[Row], open_row: Row, whole: Row,
                 at: datetime, saved_at: datetime | None) -> dict[str, Any]:
    return {
        "version": SUMMARY_VERSION,
        "kind": "summary",
        "generated_at": iso_utc(at),
        "crm": crm,
        "backend": backend_name,
        "pipeline": {"id": pipeline.id, "name": pipeline.name},
        "cached": None if saved_at is None else {
            "saved_at": iso_utc(saved_at), "age_seconds": max(0, int((at - saved_at).total_seconds()))},
        "statuses": [
            {"id": row.status.id, "label": row.label, "kind": row.status.kind.value, **_money_json(row)}
            for row in rows if row.status is not None
        ],
        "open": _money_json(open_row),
        "total": _money_json(whole),
    }
