"""Where the board is: the session's phase as a value carrying its own data, and the status line's snapshot.

`Phase` names the five kinds (the status line and the tests compare kinds); each kind's value holds
what belongs to it: which pipeline is loading, since when and why the CRM cannot be reached, why the
board could not be opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from ..backends.errors import BackendError

if TYPE_CHECKING:
    from .session import BoardSession


class Phase(StrEnum):
    CHOOSING = "choosing"
    """Several pipelines and none chosen yet: the picker asks."""
    LOADING = "loading"
    """The pipeline's cards are arriving (n of total)."""
    LIVE = "live"
    """The whole board is loaded and the CRM answers."""
    OFFLINE = "offline"
    """The CRM cannot be reached: the board shown is the last known one (or what had loaded)."""
    FAILED = "failed"
    """The board could not be opened (or loaded whole): why, and retrying by itself or waiting for `r`."""


@dataclass(frozen=True)
class Choosing:
    """Several pipelines and none chosen yet."""

    kind: ClassVar[Phase] = Phase.CHOOSING


@dataclass(frozen=True)
class Loading:
    """A pipeline's cards are on their way (`pipeline`: its name; None while the CRM lists its pipelines)."""

    pipeline: str | None = None
    kind: ClassVar[Phase] = Phase.LOADING


@dataclass(frozen=True)
class Live:
    """The whole board is loaded and the CRM answers."""

    kind: ClassVar[Phase] = Phase.LIVE


@dataclass(frozen=True)
class Offline:
    """The CRM cannot be reached since `since` (the first failure of this spell), for `why`."""

    since: datetime
    why: BackendError | None
    kind: ClassVar[Phase] = Phase.OFFLINE


@dataclass(frozen=True)
class Failed:
    """The board could not be opened (or loaded whole), for `why`."""

    why: BackendError
    kind: ClassVar[Phase] = Phase.FAILED


State = Choosing | Loading | Live | Offline | Failed


@dataclass(frozen=True)
class Snapshot:
    """Everything the status line and the board's title row say, taken at one moment."""

    phase: Phase
    crm: str
    cards: int
    loaded: int
    total: int | None
    saving: int
    """Cards with a request out for their move."""
    queued: int
    """Cards whose move waits (offline, rate limit, the load, a rejected key)."""
    retrying: int
    asking: int
    rate_wait: float
    retry_in: float | None
    """Seconds until the next automatic try (a poll or a load), when something failed."""
    last_synced: datetime | None
    error: str | None
    """The failure the board is in, one line (CRM, status code, message, what to do)."""
    waits_for_user: bool
    copy_of: datetime | None
    read_only: str | None
    shown: int | None = None
    """During a search or an owner filter: how many cards it shows (the line says `3 of 412 deals`)."""
    refreshing: bool = False
    """A warm start: the saved board is on screen while the CRM says what changed since."""
    busy: bool = False
    """A poll, a load or a pipeline listing is out (while loading: the progress bar shows)."""
    hidden: frozenset[str] = frozenset()
    """Status ids of the columns the user hid (`x`)."""
    owner: str | None = None
    """The owner filter as the title says it: `me`, a name, `unassigned`; None when there is none."""
    me: str | None = None
    """The user's own name as cards give it as owner (the owner filter's "me"), if known."""
    marked: int = 0
    """Cards the user marked (`space`): the line says `3 marked`."""
    changes: bool = False
    """Among what is owed are edits, notes or new deals (the line says `changes`, not `moves`)."""
    marked_unseen: int = 0
    """Of those, how many the board does not show now (a search, the owner filter, a hidden column): the line
    says `3 marked (1 out of sight)`; a bulk move moves them too."""


def ago(when: datetime, now: datetime | None = None) -> str:
    """`just now`, `40s ago`, `3m ago`, `2h ago`, `3d ago`; a time more than a minute ahead of `now` (kept by
    a clock that was ahead) is not `just now` but `an unknown time ago (clock ahead)`."""
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < -60:
        return "an unknown time ago (clock ahead)"
    if seconds < 10:
        return "just now"
    if seconds < 60:
        return f"{seconds // 10 * 10}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def snapshot(s: BoardSession) -> Snapshot:
    """The session as the status line and the title row say it."""
    from .bulk import marked_unseen

    now = s.clock()
    health = s.health
    states = [i.state for i in s.moves.intents.values()]
    writing = s.writes.states()
    states += writing
    failing = health.error is not None or s.phase in (Phase.OFFLINE, Phase.FAILED)
    retry_in = None
    if failing and health.auto_retry and not s.busy:
        retry_in = max(0.0, max(health.next_try, health.rate_until) - now)
    return Snapshot(
        phase=s.phase,
        crm=s.backend.name,
        cards=len(s.board) if s.board is not None else 0,
        loaded=s.loaded,
        total=s.total,
        saving=len(s.moves.out) + writing.count("out"),
        queued=states.count("queued"),
        retrying=states.count("retrying"),
        asking=states.count("asking"),
        rate_wait=max(health.rate_until - now, s.backend.rate_wait_left(), 0.0),
        retry_in=retry_in,
        last_synced=s.last_synced,
        error=health.line(),
        waits_for_user=failing and not health.auto_retry,
        copy_of=s.copy_of,
        read_only=s.read_only,
        shown=s.board.shown_count() if s.board is not None and s.board.filtering else None,
        refreshing=s.warm is not None and s.copy_of is not None,
        busy=s.busy,
        hidden=frozenset(s.hidden),
        owner=s.owner_label,
        me=s.me,
        marked=len(s.board.marked) if s.board is not None else 0,
        marked_unseen=marked_unseen(s),
        changes=bool(writing),
    )
