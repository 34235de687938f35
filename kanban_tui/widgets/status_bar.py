"""The line under the board that says how true it is, drawn from one `Snapshot` of the session.

Every state has a glyph and words, never only a colour; the README's "When things go wrong"
table lists each line `status_line` can write.
"""

from __future__ import annotations

from datetime import UTC, datetime

from textual.widgets import Static

from ..sync import Phase, Snapshot
from ..sync.phase import ago
from ..text import esc

__all__ = ["SyncStatus", "ago", "status_line"]


def _moves(n: int, what: str, changes: bool = False) -> str:
    noun = "change" if changes else "move"
    return f"{n} {noun}{'s' if n != 1 else ''} {what}"


def status_line(s: Snapshot, now: datetime | None = None) -> tuple[str, bool]:
    """The status line (Textual markup, CRM text escaped) and whether it reports a problem."""
    now = now or datetime.now(UTC)
    parts = [f"{s.cards:,} deals" if s.shown is None else f"{s.shown:,} of {s.cards:,} deals"]
    if s.marked:
        parts.append(f"{s.marked} marked" + (f" ({s.marked_unseen} out of sight)" if s.marked_unseen else ""))
    if s.saving:
        parts.append(f"{s.saving} saving")
    if s.retrying:
        parts.append(f"{s.retrying} retrying")
    if s.asking:
        parts.append(f"{s.asking} to decide")
    if s.queued:
        parts.append(_moves(s.queued, "queued", s.changes))
    if s.read_only:
        parts.append("read-only: another window is open")
    error = esc(s.error) if s.error else ""
    retry = f", retrying in {s.retry_in:.0f}s" if s.retry_in is not None else ""
    problem = False
    if s.rate_wait > 0:
        state = f"~ waiting {s.rate_wait:.0f}s on the {s.crm} rate limit"
    elif s.phase is Phase.CHOOSING:
        state = "choose a pipeline"
    elif s.phase is Phase.OFFLINE:
        problem = True
        shown = f" · board as of {ago(s.copy_of, now)}" if s.copy_of is not None else ""
        if s.copy_of is None and s.total and s.cards < s.total:
            shown = f" · {s.cards:,} of {s.total:,} loaded"
        state = f"[b]○ offline[/b]{shown}{retry}: {error or s.crm + ' unreachable'}"
    elif s.phase is Phase.FAILED:
        problem = True
        shown = f" ({s.cards:,} of {s.total:,} loaded)" if s.total and s.cards < s.total else ""
        state = f"[b]! could not load the board{shown}{retry}[/b]: {error}"
    elif s.phase is Phase.LOADING and s.refreshing and s.copy_of is not None:
        state = f"… as of {ago(s.copy_of, now)} · refreshing"
    elif s.phase is Phase.LOADING:
        of = f" {s.loaded:,} of {s.total:,}" if s.total else f" {s.loaded:,}" if s.loaded else ""
        refreshing = f" · board as of {ago(s.copy_of, now)}" if s.copy_of is not None else ""
        state = f"… loading{of}{refreshing}"
    elif s.error:
        problem = True
        state = f"[b]! sync failed{retry}[/b]: {error}"
    elif s.last_synced is None:
        state = "… connecting"
    else:
        state = f"✓ synced {ago(s.last_synced, now)}"
    parts.append(state)
    return " · ".join(parts), problem


class SyncStatus(Static):
    """Card count, moves being saved, and the sync state in words (with a glyph, not only colour)."""

    def show(self, snapshot: Snapshot) -> None:
        text, problem = status_line(snapshot)
        self.set_class(problem, "-error")
        if text != getattr(self, "_shown", None):
            self._shown = text
            self.update(text, layout=False)
