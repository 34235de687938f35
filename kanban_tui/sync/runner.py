"""The runner: the only code that executes the session's jobs (backend calls and this machine's files).

The UI (or a test) hands every job of an `Update` to `Runner.start` in order: a journal write is
applied at once (queued on the journal's own writer thread, which keeps the order), anything else
is I/O to run in a worker with `Runner.run`, whose events go back to `BoardSession.handle`.
`run` never raises: a failure is an event too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, assert_never

from ..backends.base import Backend
from ..backends.errors import BackendError, unexpected_error
from ..models import Opportunity
from ..store import writes
from ..store.board_copy import BoardCopy, SavedBoard
from ..store.journal import MoveJournal
from ..store.prefs import BoardPrefs
from ..store.seen import SeenStore
from ..text import safe_text
from .protocol import (
    JOURNAL_WRITES,
    AskLeads,
    AskNotes,
    AskUsers,
    AskWeeks,
    CardRead,
    CopyRead,
    CopySaved,
    CreateAnswered,
    DealRead,
    Drain,
    EditAnswered,
    Event,
    FirstScreen,
    ForgetMove,
    Job,
    JournalWrite,
    KeepSeen,
    LeadsKnown,
    ListPipelines,
    Load,
    LoadDone,
    LoadFailed,
    LoadStarted,
    MeKnown,
    MoveAnswered,
    NoteAnswered,
    NotesKnown,
    OpenCopy,
    PageArrived,
    PipelinesFailed,
    PipelinesListed,
    Poll,
    Polled,
    PollFailed,
    Read,
    ReadDeal,
    RebaseMove,
    RebaseWrite,
    Recalled,
    RecordMove,
    RecordWrite,
    Resume,
    Resumed,
    SaveCopy,
    SavePrefs,
    SaveSeen,
    Send,
    SendCreate,
    SendEdit,
    SendNote,
    SettleMove,
    SettleWrites,
    UnsendMove,
    UnsendWrites,
    UsersKnown,
    WeeksKnown,
    WhoAmI,
)

log = logging.getLogger("kanban_tui.sync")


class Runner:
    """Executes jobs against one backend and this machine's stores for its board."""

    def __init__(
        self,
        backend: Backend,
        *,
        journal: MoveJournal | None = None,
        board_copy: BoardCopy | None = None,
        prefs: BoardPrefs | None = None,
        seen: SeenStore | None = None,
    ) -> None:
        self.backend = backend
        self.journal = journal
        self.board_copy = board_copy
        self.prefs = prefs
        self.seen = seen
        self.screenful = 10
        """Cards a column shows on one screen (the UI sets it from the terminal's height): a cold start asks
        for that many per column first."""

    def claim_journal(self) -> str | None:
        """Take the move journal for this process; None, or why this instance is read-only (another drains it:
        the line names it, from the lock file, made safe)."""
        journal = self.journal
        if journal is None:
            return None
        try:
            if journal.acquire():
                return None
        except OSError as exc:  # the lock file cannot be opened now: read-only, tried again later
            log.warning("could not try the journal's lock %s: %s", journal.lock_path, exc)
        holder = safe_text(journal.holder or "another process")  # read from the lock file: untrusted
        return (f"another dealboard ({holder}) is saving moves for this {self.backend.name} account:"
                " this one is read-only; quit the other to move cards here")

    def save_now(self, job: SaveCopy | SaveSeen) -> str | None:
        """At quit, on the caller's thread: keep the board (~40 ms at 10,000 cards) or what was seen; a problem."""
        if isinstance(job, SaveCopy):
            if self.board_copy is None:
                return None
            return self.board_copy.save(job.pipeline, job.cards, job.synced_at, job.cursor)
        if self.seen is None:
            return None
        return self.seen.save(job.pipeline_id, job.seen, job.at)

    def close(self) -> None:
        """Finish the journal's writes in hand and let it go."""
        if self.journal is not None:
            self.journal.close()

    def wake(self) -> None:
        """`r`: the backend's own waits (a rate limit's gate) end now."""
        self.backend.wake()

    def immediate(self, job: Job) -> bool:
        """Applied at once with `write` (a journal write, in order), rather than run in a worker with `run`."""
        return isinstance(job, JOURNAL_WRITES) and self.journal is not None

    def write(self, job: JournalWrite) -> None:
        """Queue a journal write on the journal's writer thread (in order; a failure is logged there)."""
        journal = self.journal
        if journal is None:
            return
        match job:
            case RecordMove(move):
                journal.submit(journal.record, move)
            case SettleMove(card, seq):
                journal.submit(journal.settle, card, seq)
            case ForgetMove(seq):
                journal.submit(journal.forget, seq)
            case UnsendMove(seq):
                journal.submit(journal.unsend, seq)
            case RebaseMove(seq, updated):
                journal.submit(journal.rebase, seq, updated)
            case KeepSeen(pipeline_id, cards):  # on the journal's writer: before the settle that follows it
                if self.seen is not None:
                    journal.submit(self.seen.keep, pipeline_id, cards)
            case RecordWrite(write):
                journal.submit(writes.record, journal, write)
            case SettleWrites(seqs):
                journal.submit(writes.settle, journal, seqs)
            case UnsendWrites(seqs):
                journal.submit(writes.unsend, journal, seqs)
            case RebaseWrite(seq, updated, base):
                journal.submit(writes.rebase, journal, seq, updated, base)
            case _:
                assert_never(job)

    async def read_kept(self, gen: int, pipeline_id: str) -> Recalled:
        """What this machine kept for a board (its owed moves and changes, its preferences), as a `Recalled` event
        for the session (the headless commands read it so, before their one change)."""
        return await self._read_kept(gen, pipeline_id)

    async def _read_kept(self, gen: int, pipeline_id: str, *, taken_over: bool = False) -> Recalled:
        """What this machine kept for the board (a worker thread: never on the UI's); `taken_over`: only the
        journal's owed moves (this window took it over from another)."""
        prefs: dict[str, Any] = {}
        seen = None
        if not taken_over:
            prefs = await asyncio.to_thread(self.prefs.load, pipeline_id) if self.prefs is not None else {}
            seen = await asyncio.to_thread(self.seen.load, pipeline_id) if self.seen is not None else None
        journal = self.journal
        if journal is None:
            return Recalled(gen, None, prefs, seen=seen)
        if not journal.held:  # another window drains it: only which cards the user moved there (never sent here)
            try:
                rows = await asyncio.to_thread(journal.pending, pipeline_id)
            except Exception as exc:  # noqa: BLE001 - the marks may then count them as changes; logged
                log.warning("could not read the move journal %s: %s", journal.path, exc)
                rows = []
            try:
                owed = (await asyncio.to_thread(writes.owed, journal, pipeline_id))[0]
            except Exception as exc:  # noqa: BLE001 - the marks may then count them as changes; logged
                log.warning("could not read the journal's edits %s: %s", journal.path, exc)
                owed = []
            values = {w.opportunity_id: w.payload for w in owed if w.kind == "edit" and w.field == "value"}
            return Recalled(gen, None, prefs, seen=seen, elsewhere={r.opportunity_id: r.to_status for r in rows},
                            elsewhere_values=values)
        try:  # row by row: a row that cannot be read is set aside (kept) and said, the others are owed
            rows, set_aside = await asyncio.to_thread(journal.recall, pipeline_id)
            owed, also_aside = await asyncio.to_thread(writes.owed, journal, pipeline_id)
        except Exception as exc:  # noqa: BLE001 - said; the board opens anyway
            return Recalled(gen, None, prefs, f"Could not read the move journal {journal.path}: {exc}", seen)
        return Recalled(gen, rows, prefs, seen=seen, taken_over=taken_over, set_aside=(*set_aside, *also_aside),
                        writes=owed)

    async def run(self, job: Job) -> AsyncIterator[Event]:
        """Do a job's I/O and yield what came of it. Never raises: failures are events too."""
        try:
            async for event in self._run(job):
                yield event
        except Exception as exc:  # noqa: BLE001 - a bug must not take the board down: it is a failure event
            error = unexpected_error(exc)
            match job:
                case Load() | Resume():
                    yield LoadFailed(job.gen, error)
                case Poll():
                    yield PollFailed(job.gen, error)
                case ListPipelines():
                    yield PipelinesFailed(error, job.switching)
                case Send():
                    yield MoveAnswered(job.gen, job.card, job.seq, error)
                case Read():
                    yield CardRead(job.gen, job.card, job.seq, error)
                case SendEdit():
                    yield EditAnswered(job.gen, job.card, job.seqs, error)
                case ReadDeal():
                    yield DealRead(job.gen, job.card, error)
                case SendNote():
                    yield NoteAnswered(job.gen, job.seq, job.card, error)
                case SendCreate():
                    yield CreateAnswered(job.gen, job.seq, job.draft.card_id, error)
                case OpenCopy():
                    yield CopyRead(job.gen, None, job.error)
            log.exception("%s failed", type(job).__name__)

    async def _run(self, job: Job) -> AsyncIterator[Event]:
        backend = self.backend
        match job:
            case ListPipelines():
                try:
                    yield PipelinesListed(await backend.list_pipelines(), job.switching)
                except BackendError as exc:
                    yield PipelinesFailed(exc, job.switching)
            case Load():
                async for event in self._load(job):
                    yield event
            case Resume():
                try:
                    saved = job.saved
                    yield Resumed(job.gen, await backend.resume(job.pipeline, saved.opportunities, saved.cursor,
                                                                saved.saved_at))
                except BackendError as exc:
                    yield LoadFailed(job.gen, exc)
            case OpenCopy():
                copy = None
                if self.board_copy is not None:
                    early = getattr(self.backend, "resume_early", None) if job.error is None else None  # warm
                    copy = await asyncio.to_thread(self._read_copy, self.board_copy, job.wanted, early,
                                                   asyncio.get_running_loop())
                kept = await self._read_kept(job.gen, copy.pipeline.id) if copy is not None else None
                yield CopyRead(job.gen, copy, job.error, kept)
            case Poll():
                try:
                    yield Polled(job.gen, await backend.changes_since(job.pipeline, job.cursor))
                except BackendError as exc:
                    yield PollFailed(job.gen, exc)
            case Send():
                yield await self._send(job)
            case Read():
                try:
                    read: Opportunity | None | BackendError = await backend.fetch_one(job.pipeline, job.card)
                except BackendError as exc:
                    read = exc
                yield CardRead(job.gen, job.card, job.seq, read)
            case SavePrefs():
                if self.prefs is not None:
                    if problem := await asyncio.to_thread(self.prefs.save, job.pipeline_id, job.prefs):
                        log.warning(problem)
            case SaveSeen():
                if self.seen is not None:
                    seen = dict(job.seen)  # (a whole record: the board's own, as it stands now)
                    if job.whole:
                        problem = await asyncio.to_thread(self.seen.save, job.pipeline_id, seen, job.at)
                    else:
                        problem = await asyncio.to_thread(self.seen.keep, job.pipeline_id, seen)
                    if problem:
                        log.warning(problem)
            case Drain():
                yield await self._read_kept(job.gen, job.pipeline_id, taken_over=True)
            case KeepSeen() if self.journal is None:  # no journal to keep the order: a thread of its own
                if self.seen is not None and (problem := await asyncio.to_thread(self.seen.keep, job.pipeline_id,
                                                                                    job.cards)):
                    log.warning(problem)
            case WhoAmI():
                try:
                    yield MeKnown(await backend.me())
                except BackendError as exc:  # the filter offers the owners by name; "me" waits for the config
                    log.info("could not ask %s who this key is: %s", backend.name, exc)
                    yield MeKnown(None)
            case AskWeeks():
                try:
                    yield WeeksKnown(job.pipeline.id, await backend.won_lost_by_week(job.pipeline, job.weeks))
                except Exception as exc:  # noqa: BLE001 - a line in the picture, never a crash
                    yield WeeksKnown(job.pipeline.id, None, str(exc) or exc.__class__.__name__)
            case AskNotes():
                try:
                    yield NotesKnown(job.card, await backend.notes(job.opportunity, job.limit))
                except Exception as exc:  # noqa: BLE001 - a line in the details, never a crash
                    yield NotesKnown(job.card, None, safe_text(str(exc) or exc.__class__.__name__))
            case SaveCopy():
                if self.board_copy is not None:
                    problem = await asyncio.to_thread(self.board_copy.save, job.pipeline, job.cards, job.synced_at,
                                                      job.cursor)
                    yield CopySaved(problem)
            case (RecordMove() | SettleMove() | ForgetMove() | UnsendMove() | RebaseMove() | KeepSeen() | RecordWrite()
                  | SettleWrites() | UnsendWrites() | RebaseWrite()):
                self.write(job)
            case SendEdit() | ReadDeal() | SendNote() | SendCreate():
                yield await self._write(job)
            case AskUsers():
                try:
                    yield UsersKnown(await backend.users())
                except Exception as exc:  # noqa: BLE001 - a line under the owner field, never a crash
                    yield UsersKnown(None, safe_text(str(exc) or exc.__class__.__name__))
            case AskLeads(query):
                try:
                    yield LeadsKnown(query, await backend.find_leads(query))
                except Exception as exc:  # noqa: BLE001 - a line under the name field, never a crash
                    yield LeadsKnown(query, None, safe_text(str(exc) or exc.__class__.__name__))
            case _:
                assert_never(job)

    @staticmethod
    def _read_copy(board_copy: BoardCopy, wanted: str | None, early: Callable[[str, datetime], None] | None,
                   loop: asyncio.AbstractEventLoop) -> SavedBoard | None:
        """The saved board (a worker thread). A warm start (`early`: the backend's `resume_early`) has the loop ask
        the CRM what changed since as soon as the copy's cursor and time are read, beside the pipeline listing and
        while the cards are validated here (`resume` then takes the answers)."""
        if early is None:
            return board_copy.load(wanted)

        def ask(cursor: str, saved_at: datetime) -> None:
            loop.call_soon_threadsafe(early, cursor, saved_at)

        return board_copy.load(wanted, ask)

    async def _load(self, job: Load) -> AsyncIterator[Event]:
        """A whole load: what this machine kept (a fresh open), the cursor, every column's first screen (a
        cold start), then the pages."""
        backend = self.backend
        if job.recall:
            yield await self._read_kept(job.gen, job.pipeline.id)
        try:
            starts = None
            if job.first:  # the cursor and every column's first screen, together: one round trip
                start, starts = await asyncio.gather(backend.changes_since(job.pipeline, None),
                                                     backend.first_screen(job.pipeline, self.screenful))
                cursor = start.cursor
            else:
                cursor = (await backend.changes_since(job.pipeline, None)).cursor
            yield LoadStarted(job.gen, cursor)
            if starts:
                yield FirstScreen(job.gen, starts)
            async for page in backend.load_opportunities(job.pipeline):
                yield PageArrived(job.gen, page)
            yield LoadDone(job.gen)
        except BackendError as exc:
            yield LoadFailed(job.gen, exc)

    async def _mark_sent(self, seqs: tuple[int, ...]) -> BackendError | None:
        """The rows marked sent (on disk) before their request goes; why not (then nothing is sent)."""
        try:
            if self.journal is not None:
                await asyncio.wrap_future(self.journal.submit(writes.mark_sent, self.journal, seqs))
        except Exception as exc:  # noqa: BLE001
            path = self.journal.path if self.journal else ""
            return BackendError(f"could not write the journal {path}: {exc}", hint="check the disk; nothing was sent")
        return None

    async def _write(self, job: SendEdit | ReadDeal | SendNote | SendCreate) -> Event:
        """An edit, a read-back, a note or a new deal: marked sent in the journal before the request goes; a note or
        a deal whose earlier send's outcome is unknown looked for first (at most once)."""
        backend = self.backend
        match job:
            case SendEdit(gen, card, seqs, opportunity, edit):
                edited: Opportunity | BackendError | None = await self._mark_sent(seqs)
                if edited is None:
                    try:
                        edited = await backend.update(opportunity, edit)
                    except BackendError as exc:
                        edited = exc
                return EditAnswered(gen, card, seqs, edited)
            case ReadDeal(gen, card, pipeline):
                try:
                    read: Opportunity | None | BackendError = await backend.fetch_one(pipeline, card)
                except BackendError as exc:
                    read = exc
                return DealRead(gen, card, read)
            case SendNote(gen, seq, card, opportunity, text, made_at, check):
                try:
                    if check and (found := await backend.find_note(opportunity, text, made_at)) is not None:
                        return NoteAnswered(gen, seq, card, found, found=True)
                    if (failed := await self._mark_sent((seq,))) is not None:
                        return NoteAnswered(gen, seq, card, failed)
                    return NoteAnswered(gen, seq, card, await backend.add_note(opportunity, text))
                except BackendError as exc:
                    return NoteAnswered(gen, seq, card, exc)
            case SendCreate(gen, seq, pipeline, draft, check):
                try:
                    if check and (made := await backend.find_created(pipeline, draft)) is not None:
                        return CreateAnswered(gen, seq, draft.card_id, made, found=True)
                    if (failed := await self._mark_sent((seq,))) is not None:
                        return CreateAnswered(gen, seq, draft.card_id, failed)
                    return CreateAnswered(gen, seq, draft.card_id, await backend.create(pipeline, draft))
                except BackendError as exc:
                    return CreateAnswered(gen, seq, draft.card_id, exc)
            case _:
                assert_never(job)

    async def _send(self, job: Send) -> MoveAnswered:
        """A move: marked sent in the journal (on disk) before the request goes."""
        try:
            if self.journal is not None:
                await asyncio.wrap_future(self.journal.submit(self.journal.mark_sent, job.seq))
        except Exception as exc:  # noqa: BLE001
            path = self.journal.path if self.journal else ""
            return MoveAnswered(job.gen, job.card, job.seq, BackendError(
                f"could not write the move journal {path}: {exc}", hint="check the disk; the move was not sent"))
        try:
            result: Opportunity | BackendError = await self.backend.move(
                job.opportunity, job.status, lost_reason=job.lost_reason)
        except BackendError as exc:
            result = exc
        return MoveAnswered(job.gen, job.card, job.seq, result)
