"""The one interface every CRM implements.

A backend is the only code that speaks a CRM's dialect (HTTP or SQL). It turns the
CRM's answers into `kanban_tui.models` types and its failures into
`kanban_tui.backends.errors` types. It never imports Textual.

To add a CRM: subclass `Backend` in `backends/<crm>.py`, implement the abstract
methods, and register a factory in `backends/__init__.py`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import datetime

from ..models import (
    Changes,
    ColumnStart,
    Edit,
    History,
    Lead,
    NewDeal,
    Note,
    Opportunity,
    Page,
    Pipeline,
    Status,
    User,
    WeekCount,
)

NOTE_LOOKBACK = 300.0
"""Seconds before a note (or a new deal) was sent that a read-back still takes as its own (clocks differ)."""


class Backend(ABC):
    """A source of pipelines and opportunities that accepts status moves."""

    name: str = "backend"
    """Shown to the user: 'Local workspace', 'Close', ..."""

    @property
    def identity(self) -> str:
        """Which CRM account this is, for the move journal (never a secret: hash keys)."""
        return self.name

    has_values: bool = True
    """The CRM has deal values; False (Clustr, TeleCRM): cards show the contact instead."""

    real_update_times: bool = True
    """The CRM says when a card last changed; False where `updated` is only when we saw it
    (then a queued move cannot be checked for conflicts, and is sent as it is)."""

    poll_interval: float | None = None
    """A backend's own default poll interval in seconds; None uses the app's default."""

    @abstractmethod
    async def list_pipelines(self) -> list[Pipeline]:
        """Every pipeline with its statuses (in position order)."""

    @abstractmethod
    def load_opportunities(self, pipeline: Pipeline) -> AsyncIterator[Page]:
        """Yield the pipeline's opportunities page by page, with loaded/total progress."""

    @abstractmethod
    async def changes_since(self, pipeline: Pipeline, cursor: str | None) -> Changes:
        """What was added, changed or removed in the pipeline since `cursor`.

        `cursor=None` means "from now on": return no changes, only a cursor. Call it
        before the first page is loaded so that nothing changed during the load is missed.
        """

    @abstractmethod
    async def move(
        self, opportunity: Opportunity, status: Status, *, lost_reason: str | None = None
    ) -> Opportunity:
        """Move an opportunity to a status; return it as the CRM now has it.

        Raises a `BackendError` subclass when the CRM refuses or cannot be reached.
        """

    async def first_screen(self, pipeline: Pipeline, per_column: int) -> list[ColumnStart] | None:
        """Each column's count, totals and first `per_column` cards (newest first), fetched together,
        one `ColumnStart` per status in the pipeline's order; None: the CRM cannot (the caller loads pages).

        `load_opportunities` still yields every card afterwards, these included."""
        return None

    async def resume(
        self, pipeline: Pipeline, cards: list[Opportunity], cursor: str | None, saved_at: datetime
    ) -> Changes | None:
        """After the board opened from a saved copy (`cards`, kept with `cursor` at `saved_at`): what
        changed since, deletions included, priming whatever the backend tracks (as a load would);
        `Changes.cursor` is where polling goes on from. `pipeline` is the one the caller has just listed
        (`list_pipelines`); the caller compares its statuses with the saved board's.

        None when the CRM cannot say (no changed-since question, a gap older than its log keeps, an
        unusable cursor): the caller then loads the pipeline whole in the background."""
        return None

    async def fetch_one(self, pipeline: Pipeline, opportunity_id: str) -> Opportunity | None:
        """One opportunity as the CRM has it now; None when it no longer exists (or left
        the pipeline's statuses). Used to settle a move whose outcome is unknown (a write
        that timed out) before sending it again. This default pages through the pipeline;
        a CRM that can read one record overrides it with one request.
        """
        async for page in self.load_opportunities(pipeline):
            for opportunity in page.opportunities:
                if opportunity.id == opportunity_id:
                    return opportunity
        return None

    async def history(self, pipeline: Pipeline, since: datetime) -> History | None:
        """What the CRM's own history says changed in the pipeline's deals since `since`, newest first:
        created, moved (from -> to), re-valued, deleted. None where the CRM keeps no history that can
        say (the caller then compares with the snapshots this machine keeps)."""
        return None

    async def me(self) -> str | None:
        """The owner name the CRM gives the user this key acts for, as cards show it in `owner`;
        None where the CRM cannot tell (then the config's `me = "..."` is used)."""
        return None

    records_won_date: bool = True
    """A move into a won status records the day it was won (`Opportunity.date_won`); False where the CRM
    keeps no won date (TeleCRM, Clustr): the board then promises none."""

    async def won_lost_by_week(self, pipeline: Pipeline, weeks: int) -> list[WeekCount] | None:
        """Deals of `pipeline` won and lost per week over the last `weeks` weeks (this one, still going, last;
        a `WeekCount` for every week, oldest first), for the pipeline picture (`P`); None (this default):
        the CRM cannot group them, and the picture says so. `won_lost_basis` says what dates them."""
        return None

    won_lost_basis: str = ""
    """What dates a deal in `won_lost_by_week`, in a line the picture shows under its chart."""

    async def notes(self, opportunity: Opportunity, limit: int = 5) -> list[Note] | None:
        """The deal's latest `limit` notes, newest first, for the details view; None (this default): the CRM
        has no notes the board can read (the details say so; nothing is asked)."""
        return None

    notes_of: str = "the deal"
    """What the notes belong to, in the details' words: "the lead" where every deal of it shares them (Close)."""

    # -- acting on a deal: edit, note, create (each only where the CRM's API allows it) -------------------

    editable: frozenset[str] = frozenset()
    """The `Edit` fields `update` can change here (`models.EDIT_FIELDS`); empty: the board offers no edit."""

    cannot_edit: str = "its API takes only status changes from here"
    """Why a field or the whole edit is not offered (the key says it, after the CRM's name)."""

    async def update(self, opportunity: Opportunity, edit: Edit) -> Opportunity:
        """Change the deal's `edit.fields` (only those: a teammate's change to another field stands); return the
        deal as the CRM now has it. Setting a value is idempotent: sending the same edit twice ends the same.
        Raises a `BackendError` subclass when the CRM refuses or cannot be reached."""
        raise NotImplementedError(f"{self.name} takes no edits")

    async def users(self) -> list[User] | None:
        """Who a deal can be given to (the owner picker); None: the CRM cannot list them here."""
        return None

    can_note: bool = False
    """`add_note` works here."""

    cannot_note: str = "its API takes no notes from here"

    async def add_note(self, opportunity: Opportunity, text: str) -> Note:
        """Add a note to the deal (or to what the CRM hangs notes on: Close's lead); return it as made.
        Not idempotent: the caller reads back (`find_note`) before sending again a note whose outcome is unknown."""
        raise NotImplementedError(f"{self.name} takes no notes")

    async def find_note(self, opportunity: Opportunity, text: str, since: datetime) -> Note | None:
        """The deal's note with exactly `text` made at or after `since` (less `NOTE_LOOKBACK`), if the CRM has
        one: a note sent before whose answer never came. This default reads the latest notes."""
        notes = await self.notes(opportunity, limit=50)
        for note in notes or []:
            if note.text == text and note.when.timestamp() >= since.timestamp() - NOTE_LOOKBACK:
                return note
        return None

    can_create: bool = False
    """`create` works here."""

    cannot_create: str = "its API takes no new deals from here"

    async def find_leads(self, query: str, limit: int = 8) -> list[Lead] | None:
        """Existing leads whose name matches `query`, for a new deal to belong to; None: deals here stand alone
        (no lead to choose)."""
        return None

    async def create(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity:
        """Make the deal in `draft.status_id` (Close: for the lead `draft.lead_id`, or a new lead named
        `draft.name`); return it as the CRM has it. Not idempotent: the caller reads back (`find_created`) before
        sending again a deal whose outcome is unknown."""
        raise NotImplementedError(f"{self.name} takes no new deals")

    async def find_created(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity | None:
        """The deal `draft` made, if the CRM has it (one sent before whose answer never came): the newest deal of
        the pipeline named `draft.name`, made at or after `draft.made_at` (less `NOTE_LOOKBACK`). This default
        pages through the pipeline; a CRM that can search overrides it."""
        since = draft.made_at.timestamp() - NOTE_LOOKBACK
        found: Opportunity | None = None
        async for page in self.load_opportunities(pipeline):
            for opportunity in page.opportunities:
                if opportunity.name == draft.name and opportunity.created.timestamp() >= since and (
                        found is None or opportunity.created > found.created):
                    found = opportunity
        return found

    has_links: bool = False
    """Cards carry a link to the deal in the CRM's web app (`Opportunity.url`)."""

    def rate_wait_left(self) -> float:
        """Seconds the backend is holding requests back for the CRM's rate limit (0: not waiting)."""
        return 0.0

    def wake(self) -> None:
        """The user asked to try now (`r`): stop holding requests back for the rate limit, end any wait."""
        return None

    async def aclose(self) -> None:
        """Release connections and files. Safe to call twice."""
        return None
