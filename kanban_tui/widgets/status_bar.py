"""The line under the board that says how true it is: synced when, or what failed."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.widgets import Static


def ago(when: datetime, now: datetime | None = None) -> str:
    """`just now`, `40s ago`, `3m ago`, `2h ago`, `3d ago`."""
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < 10:
        return "just now"
    if seconds < 60:
        return f"{seconds // 10 * 10}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


class SyncStatus(Static):
    """Card count, moves being saved, and the sync state in words (with a glyph, not only color)."""

    def show(
        self,
        *,
        cards: int,
        pending: int,
        last_synced: datetime | None,
        error: str | None,
        retry_in: float | None,
        loading: bool = False,
        rate_wait: float = 0.0,
        crm: str = "",
        choosing: bool = False,
        offline: bool = False,
        queued: int = 0,
        copy_of: datetime | None = None,
    ) -> None:
        if rate_wait > 0:
            state = f"~ waiting {rate_wait:.0f}s on the {crm} rate limit".replace("  ", " ")
        elif choosing:
            state = "choose a pipeline"
        elif loading:
            state = "… loading"
        elif offline:
            retry = f", retrying in {retry_in:.0f}s" if retry_in is not None else ""
            moves = f" · {queued} move{'s' if queued != 1 else ''} queued" if queued else ""
            shown = f" · board as of {ago(copy_of)}" if copy_of is not None else ""
            state = f"[b]○ offline[/b]{shown}{moves}{retry}: {(error or crm + ' unreachable').replace('[', chr(92) + '[')}"
        elif error:
            retry = f", retrying in {retry_in:.0f}s" if retry_in is not None else ""
            moves = f" · {queued} move{'s' if queued != 1 else ''} queued" if queued else ""
            state = f"[b]! sync failed{retry}[/b]{moves}: {error.replace('[', chr(92) + '[')}"
        elif last_synced is None:
            state = "… connecting"
        else:
            state = f"✓ synced {ago(last_synced)}"
        saving = f" · {pending - queued} saving" if pending > queued else ""
        self.set_class(bool(error) or offline, "-error")
        text = f"{cards:,} deals{saving} · {state}"
        if text != getattr(self, "_shown", None):
            self._shown = text
            self.update(text, layout=False)
