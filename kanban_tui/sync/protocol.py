"""What the session and the runner say to each other and to the UI: typed values, no behaviour.

- `Update`: what the UI must do after an event (redraw, focus, notices, a question, jobs to start).
- Jobs: the I/O the session asks for (`Job`). The runner (`runner.py`) is the only code that executes
  them; each yields events. Writes to this machine's files are jobs too (`SaveCopy`, `SavePrefs`,
  `SaveSeen`, and the move journal's `JournalWrite`s, which the runner applies at once, in order).
- Events: what came of a job (`Event`), handed back to `BoardSession.handle`. Every event that
  belongs to one board carries its `gen`: a result for a board no longer shown is dropped in one
  place (`BoardSession.handle`).

Named tuples rather than dataclasses: two dozen frozen dataclasses cost ~15 ms at every start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from ..backends.errors import BackendError
from ..models import (
    Changes,
    ColumnStart,
    Edit,
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
from ..store.board_copy import SavedBoard
from ..store.journal import JournaledMove
from ..store.writes import JournaledWrite

# -- what the session asks the UI to do -----------------------------------------------------------


class Notice(NamedTuple):
    text: str
    title: str = ""
    severity: str = "information"
    timeout: float = 6.0


class PipelineChoice(NamedTuple):
    """Ask which pipeline to open (`current`: the one open now, if any)."""

    pipelines: list[Pipeline]
    current: str | None


class Conflict(NamedTuple):
    """The card changed in the CRM after the user moved (or edited) it: keep theirs, or mine?"""

    card: str
    name: str
    theirs: str
    mine: str
    field: str = ""
    """The field a teammate changed while the user's edit of it was owed ("value", ...); "": the card's status."""


@dataclass
class Update:
    """What the UI must do after an event."""

    redraw: set[str] = field(default_factory=set)
    """Columns (status ids) whose content changed."""
    rebuild: bool = False
    """A new board (another pipeline, or the saved copy): build the columns again."""
    focus: str | None = None
    """Put the focus on this card (the user's own move or undo)."""
    follow: str | None = None
    """This card moved back: if the focus is on it, follow it."""
    first_cards: bool = False
    """The first cards arrived: focus the first card if nothing is focused."""
    notices: list[Notice] = field(default_factory=list)
    ask: PipelineChoice | Conflict | None = None
    jobs: list[Job] = field(default_factory=list)
    progress: bool = False
    """The load's progress changed (or the load ended)."""
    columns: bool = False
    """Which columns are hidden changed (remembered preferences arrived): lay the columns out again."""
    weeks: WeeksKnown | None = None
    """The CRM's won and lost per week (`ask_weeks`), for the pipeline picture if it is open."""
    notes: NotesKnown | None = None
    """A deal's latest notes (`ask_notes`), for its details if they are still open."""
    noted: str | None = None
    """A note reached the CRM on this card: its details, if open, read the notes again."""
    renamed: tuple[str, str] | None = None
    """A new deal the CRM made: its card's id on the board until then, and the CRM's id (the focus follows)."""

    def notice(self, text: str, **kw: object) -> None:
        self.notices.append(Notice(text, **kw))  # type: ignore[arg-type]


# -- jobs (I/O to start) and the events they yield --------------------------------------------------
# (named tuples rather than dataclasses: two dozen frozen dataclasses cost ~15 ms at every start)


class ListPipelines(NamedTuple):
    switching: bool


class Load(NamedTuple):
    gen: int
    pipeline: Pipeline
    recall: bool = False
    """First read what this machine kept for the board (owed moves, preferences): a fresh open."""
    first: bool = False
    """An empty board: ask for every column's first screen together before the pages (a cold start)."""


class Resume(NamedTuple):
    """A warm start: the saved board is on screen; ask the CRM only for what changed since it was kept."""

    gen: int
    pipeline: Pipeline
    saved: SavedBoard


class OpenCopy(NamedTuple):
    gen: int
    wanted: str | None
    error: BackendError | None
    """Why the CRM's board could not be had (offline); None: a warm start, the copy first at every start."""


class Poll(NamedTuple):
    gen: int
    pipeline: Pipeline
    cursor: str | None


class Send(NamedTuple):
    gen: int
    card: str
    seq: int
    opportunity: Opportunity
    status: Status
    lost_reason: str | None


class Read(NamedTuple):
    gen: int
    card: str
    seq: int
    pipeline: Pipeline


class SavePrefs(NamedTuple):
    pipeline_id: str
    prefs: dict[str, Any]


class SaveSeen(NamedTuple):
    """What the user saw of the board. `whole`: the board's record, the board's own dict, copied when the job
    runs (a card kept since it was asked for stays as kept); else only these cards, the rest as kept."""

    pipeline_id: str
    seen: dict[str, tuple[str, int | None, str]]
    at: str
    """When (ISO 8601): the session's clock."""
    whole: bool = True


class Drain(NamedTuple):
    """This window took the journal over from another one: read the moves it left (they go out from here).
    While it is still read-only: read them only to know which cards the user moved in the other window."""

    gen: int
    pipeline_id: str


class WhoAmI(NamedTuple):
    """Ask the CRM who its key acts for (the owner filter's "me")."""


class AskWeeks(NamedTuple):
    """The pipeline picture (`P`): won and lost deals per week over the last `weeks` weeks, asked of the CRM."""

    pipeline: Pipeline
    weeks: int


class AskNotes(NamedTuple):
    """The details view (⏎): the deal's latest `limit` notes, newest first, asked of the CRM."""

    card: str
    opportunity: Opportunity
    limit: int


class SaveCopy(NamedTuple):
    pipeline: Pipeline
    cards: list[Opportunity]
    synced_at: datetime
    cursor: str | None = None


# The move journal's writes: applied by the runner at once and in order (the journal's one writer thread
# keeps that order), so a move is on disk before the `Send` that follows it marks it sent.


class RecordMove(NamedTuple):
    """A new intent, kept before it is sent."""

    move: JournaledMove


class SettleMove(NamedTuple):
    """The card's intents up to `seq` are over (confirmed, refused, dropped...)."""

    card: str
    seq: int


class ForgetMove(NamedTuple):
    """An older intent whose answer came after a newer one was made."""

    seq: int


class UnsendMove(NamedTuple):
    """The request surely did not reach the CRM: the row is owed again, not in doubt."""

    seq: int


class KeepSeen(NamedTuple):
    """What the user saw of a card their own move left, on disk before the move leaves the journal (the next
    write after it), so that their own move is never marked as a change, even after a kill -9."""

    pipeline_id: str
    cards: dict[str, tuple[str, int | None, str]]


class RebaseMove(NamedTuple):
    """The card's `updated` as our own move left it: not a teammate's change after a restart."""

    seq: int
    updated: datetime


class RecordWrite(NamedTuple):
    """A new edit (of one field), note or new deal, kept before it is sent (`store/writes.py`)."""

    write: JournaledWrite


class SettleWrites(NamedTuple):
    """These edits, notes or new deals are over (confirmed, refused, replaced...)."""

    seqs: tuple[int, ...]


class UnsendWrites(NamedTuple):
    """Their request surely did not reach the CRM: owed again, not in doubt."""

    seqs: tuple[int, ...]


class RebaseWrite(NamedTuple):
    """The deal's `updated` as our own write left it: not a teammate's change after a restart; `base` (JSON), the
    field's value our own earlier write gave it, where that changed."""

    seq: int
    updated: datetime
    base: str | None = None


JournalWrite = (RecordMove | SettleMove | ForgetMove | UnsendMove | RebaseMove | KeepSeen | RecordWrite | SettleWrites
                | UnsendWrites | RebaseWrite)
JOURNAL_WRITES = (RecordMove, SettleMove, ForgetMove, UnsendMove, RebaseMove, KeepSeen, RecordWrite, SettleWrites,
                  UnsendWrites, RebaseWrite)


class SendEdit(NamedTuple):
    """Send the user's edits of one deal (`seqs`: the journal rows it carries, marked sent first)."""

    gen: int
    card: str
    seqs: tuple[int, ...]
    opportunity: Opportunity
    edit: Edit


class ReadDeal(NamedTuple):
    """Read one deal back: an edit of it whose outcome is unknown is settled against it before it is sent again."""

    gen: int
    card: str
    pipeline: Pipeline


class SendNote(NamedTuple):
    """Add a note (its row marked sent first); `check`: an earlier send's outcome is unknown, look for it first."""

    gen: int
    seq: int
    card: str
    opportunity: Opportunity
    text: str
    made_at: datetime
    check: bool


class SendCreate(NamedTuple):
    """Make a new deal (its row marked sent first); `check`: an earlier send's outcome is unknown, look for it
    first."""

    gen: int
    seq: int
    pipeline: Pipeline
    draft: NewDeal
    check: bool


class AskUsers(NamedTuple):
    """Who deals can be given to, for the owner picker."""


class AskLeads(NamedTuple):
    """Leads whose name matches `query`, for the new-deal form."""

    query: str


Job = (
    ListPipelines | Load | Resume | OpenCopy | Poll | Send | Read | SaveCopy | SavePrefs | SaveSeen | WhoAmI | Drain
    | AskWeeks | AskNotes | JournalWrite | SendEdit | ReadDeal | SendNote | SendCreate | AskUsers | AskLeads
)


class PipelinesListed(NamedTuple):
    pipelines: list[Pipeline]
    switching: bool


class PipelinesFailed(NamedTuple):
    error: BackendError
    switching: bool


class LoadStarted(NamedTuple):
    gen: int
    cursor: str | None


class PageArrived(NamedTuple):
    gen: int
    page: Page


class LoadDone(NamedTuple):
    gen: int


class FirstScreen(NamedTuple):
    gen: int
    starts: list[ColumnStart]


class Resumed(NamedTuple):
    gen: int
    changes: Changes | None
    """What changed since the saved board; None: the CRM cannot say (the board is loaded whole behind it)."""


class LoadFailed(NamedTuple):
    gen: int
    error: BackendError


class CopyRead(NamedTuple):
    gen: int
    saved: SavedBoard | None
    error: BackendError | None
    kept: Recalled | None = None
    """What this machine kept for the copy's board (read with it, off the UI thread)."""


class Recalled(NamedTuple):
    """What this machine kept for a board: its owed moves (None: the journal could not be read, why in
    `problem`) and its preferences."""

    gen: int
    rows: list[JournaledMove] | None
    prefs: dict[str, Any]
    problem: str | None = None
    seen: dict[str, tuple[str, int | None, str]] | None = None
    """What the user last saw of the board (None: nothing kept)."""
    taken_over: bool = False
    """Read when this window took the journal over from another (`Drain`): only its owed moves."""
    set_aside: tuple[str, ...] = ()
    """A line for each journal row that could not be read (set aside, kept, not sent)."""
    elsewhere: dict[str, str] | None = None
    """A read-only window: where the moves the other window owes put their cards (the user's own moves, never
    marked as a change here)."""
    elsewhere_values: dict[str, str] | None = None
    """A read-only window: the values the other window's owed edits give their deals (each the one-field `Edit` as
    JSON): the user's own, never marked `re-valued` here."""
    writes: list[JournaledWrite] | None = None
    """The owed edits, notes and new deals (None: none read: a read-only window, or no journal)."""


class MeKnown(NamedTuple):
    """Who the CRM's key acts for (None: the CRM cannot tell)."""

    name: str | None


class Polled(NamedTuple):
    gen: int
    changes: Changes


class PollFailed(NamedTuple):
    gen: int
    error: BackendError


class MoveAnswered(NamedTuple):
    gen: int
    card: str
    seq: int
    result: Opportunity | BackendError


class CardRead(NamedTuple):
    gen: int
    card: str
    seq: int
    result: Opportunity | None | BackendError


class CopySaved(NamedTuple):
    problem: str | None


class WeeksKnown(NamedTuple):
    """The CRM's answer to `AskWeeks` (`weeks` None: it cannot group them), or why it could not be had (`error`).
    Not dropped when another board is shown: the picture it is for shows the pipeline it was opened on."""

    pipeline_id: str
    weeks: list[WeekCount] | None
    error: str | None = None


class NotesKnown(NamedTuple):
    """The CRM's answer to `AskNotes` (`notes` None: it has no notes the board can read), or why it could not be
    had (`error`). Not dropped when another board is shown: the details it is for name their card."""

    card: str
    notes: list[Note] | None
    error: str | None = None


class EditAnswered(NamedTuple):
    gen: int
    card: str
    seqs: tuple[int, ...]
    result: Opportunity | BackendError


class DealRead(NamedTuple):
    gen: int
    card: str
    result: Opportunity | None | BackendError


class NoteAnswered(NamedTuple):
    """The note as made (or found already made: `found`), or the failure."""

    gen: int
    seq: int
    card: str
    result: Note | BackendError
    found: bool = False


class CreateAnswered(NamedTuple):
    """The deal as made (or found already made: `found`), or the failure."""

    gen: int
    seq: int
    card: str
    result: Opportunity | BackendError
    found: bool = False


class UsersKnown(NamedTuple):
    users: list[User] | None
    error: str | None = None


class LeadsKnown(NamedTuple):
    query: str
    leads: list[Lead] | None
    error: str | None = None


Event = (
    PipelinesListed | PipelinesFailed | Recalled | LoadStarted | PageArrived | LoadDone | LoadFailed | CopyRead | Polled
    | FirstScreen | Resumed
    | PollFailed | MoveAnswered | CardRead | CopySaved | MeKnown | WeeksKnown | NotesKnown
    | EditAnswered | DealRead | NoteAnswered | CreateAnswered | UsersKnown | LeadsKnown
)

BOARD_EVENTS = (Recalled, LoadStarted, PageArrived, LoadDone, FirstScreen, Resumed, LoadFailed, Polled, PollFailed,
                MoveAnswered, CardRead, EditAnswered, DealRead, NoteAnswered, CreateAnswered)
"""Results for one board (its `gen`): dropped when another board is shown now. (`CopyRead` is not among them:
a warm start's copy read also lets the pipeline listing go on, whatever board it was for.)"""
