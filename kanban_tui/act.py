"""`dealboard set DEAL field=value …`, `dealboard note DEAL "text"`, `dealboard move DEAL STATUS`: a change to one deal
from a script, through the same session and journal as the board (the change is on disk before it is sent; an
earlier send whose outcome is unknown is read back first; a note is made at most once).

Nothing is left half-done: the command waits for the CRM's answer (retrying a 500 as the board does, for at most
`WAIT_AT_MOST` seconds). Confirmed: exit 0. Refused (a value the CRM does not take, a field it cannot change): exit
2, nothing changed. The CRM cannot be reached: exit 3, and the change is taken back out of the journal — unless its
request may have reached the CRM (no answer came), in which case it stays in the journal, said, and the next
`dealboard` (board or command) reads the deal back and finishes it. Exit codes as `summary`'s: 2 usage or
configuration, 3 the CRM cannot be reached.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from typing import Any

from .backends.base import Backend
from .backends.errors import BackendError
from .models import Edit, Opportunity, Pipeline, Status
from .report_io import ReportError, printed, printed_json, read_pipeline, unreachable
from .store.journal import MoveJournal
from .sync import opening
from .sync.edits import FIELD_WORDS, shown_value
from .sync.phase import Live
from .sync.protocol import SettleMove, SettleWrites, Update
from .sync.session import BoardSession
from .text import safe_text

WAIT_AT_MOST = 60.0
"""Seconds a command waits for retries (a 500, a rate limit) before it gives up, says so, and takes its change back."""
ACT_VERSION = 1


def find_status(pipeline: Pipeline, wanted: str) -> Status:
    """The status named (case-insensitive, a unique prefix will do) or with this id."""
    key = wanted.strip().casefold()
    exact = [s for s in pipeline.statuses if s.id == wanted or s.label.casefold() == key]
    found = exact or [s for s in pipeline.statuses if s.label.casefold().startswith(key)]
    if len(found) != 1:
        names = ", ".join(s.label for s in pipeline.statuses)
        how = "no status" if not found else "more than one status"
        raise ReportError(f"{how} of {pipeline.name} is called {safe_text(wanted)!r}: say one of {names}", 2)
    return found[0]


async def act(backend: Backend, backend_name: str, journal: MoveJournal, *, wanted: str | None, command: str,
              deal: str, words: list[str], as_json: bool, lost_reason: str | None = None,
              today: date | None = None) -> tuple[int, str]:
    """Make the change; (exit code, what to print on stdout). A problem before anything is sent: ReportError."""
    pipeline = await read_pipeline(backend, wanted, cached=False)
    try:
        card = await backend.fetch_one(pipeline, deal)
    except BackendError as exc:
        raise unreachable(exc, backend.name, cached=False) from None
    if card is None:
        raise ReportError(f"no deal {safe_text(deal)!r} in {pipeline.name} on {backend.name} (the id as the board's"
                          " details show it; --pipeline for another pipeline)", 2)
    change: Edit | None = None
    status: Status | None = None
    text = ""
    if command == "set":
        change = await _edit_of(backend, card, words, today or date.today())
    elif command == "note":
        text = " ".join(words).strip()
        if not text:
            raise ReportError("the note is empty: dealboard note DEAL \"text\"", 2)
        if not backend.can_note:
            raise ReportError(f"{backend.name} takes no notes from here: {backend.cannot_note}", 2)
    else:
        if len(words) != 1:
            raise ReportError("say one status: dealboard move DEAL STATUS", 2)
        status = find_status(pipeline, words[0])
    if not journal.acquire():
        raise ReportError(f"another dealboard ({safe_text(journal.holder or 'another process')}) is saving changes for"
                          f" this {backend.name} account: make the change there, or quit it first", 2)
    session = BoardSession(backend, poll_interval=15, journal=journal)
    try:
        return await _run(session, pipeline, card, change, status, text, lost_reason, backend_name, as_json)
    finally:
        session.close()


async def _edit_of(backend: Backend, card: Opportunity, words: list[str], today: date) -> Edit:
    from .fields import parse_assignments

    if not backend.editable:
        raise ReportError(f"{backend.name} cannot be edited from here: {backend.cannot_edit}", 2)
    users = None
    if any(w.partition("=")[0].strip().casefold() == "owner" for w in words) and "owner" in backend.editable:
        try:
            users = await backend.users()
        except BackendError as exc:
            raise unreachable(exc, backend.name, cached=False) from None
    parsed = parse_assignments(words, card, users, today)
    if isinstance(parsed, str):
        raise ReportError(parsed, 2)
    refused = [f for f in parsed.fields if f not in backend.editable]
    if refused:
        raise ReportError(f"{backend.name} does not take the {', '.join(FIELD_WORDS[f] for f in refused)} from here:"
                          f" {backend.cannot_edit}", 2)
    return parsed


async def _run(s: BoardSession, pipeline: Pipeline, card: Opportunity, change: Edit | None, status: Status | None,
               text: str, lost_reason: str | None, backend_name: str, as_json: bool) -> tuple[int, str]:
    opening.new_board(s, pipeline)
    board = s.board
    assert board is not None
    s.gen += 1
    board.add([card])
    s.state, s.complete, s.last_synced = Live(), True, datetime.now(UTC)
    s.busy = True  # no poll, no load: the one deal was just read
    said: list[str] = []
    kept = await s.runner.read_kept(s.gen, pipeline.id)  # what the journal owes for this pipeline (this card's first)
    await _drive(s, s.handle(kept), said)
    if change is not None:
        u = s.edit(card.id, change)
    elif status is not None:
        u = s.move(card.id, status.id, lost_reason=lost_reason)
    else:
        u = s.add_note(card.id, text)
    said += [n.text for n in u.notices if n.severity != "information"]
    await _drive(s, u, said)
    deadline = time.monotonic() + WAIT_AT_MOST
    while _owed(s, card.id) and time.monotonic() < deadline and not s.offline and not s.health.auth_blocked:
        await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        await _drive(s, s.tick(), said)
    left = _owed(s, card.id)
    kept_for_later = [what for what, unknown in left if unknown]
    taken_back = [what for what, unknown in left if not unknown]
    if taken_back:  # never sent, or surely not received: out of the journal, nothing half-done
        u = Update()
        for seq_kind, seq in _rows(s, card.id, unknown=False):
            u.jobs.append(SettleMove(card.id, seq) if seq_kind == "move" else SettleWrites((seq,)))
        await _drive(s, u, said)
    outcomes = [o.how for o in s.moves.outcomes if o.card == card.id] + [
        how for c, _, _, how in s.writes.outcomes if c == card.id]
    done = not left and outcomes and all(h == "confirmed" for h in outcomes)
    now = board.shown(card.id) if card.id in board else card
    what = ("moved to " + status.label) if status is not None else (
        "note added" if change is None else "set " + ", ".join(
            f"{FIELD_WORDS[f]} {shown_value(now, f, getattr(change, f))}" for f in change.fields))
    already = not left and not outcomes and not said and (change is not None or status is not None)
    if already:  # the deal already has what was asked: nothing to send
        done, what = True, "already " + ("in " + status.label if status is not None else "has " + what[4:])
    if done:
        code, line = 0, f"{now.name}: {what}"
    elif left and (s.offline or s.health.error is not None):
        code = 3
        why = s.health.error.summary if s.health.error else f"{backend_name} did not answer"
        line = (f"{now.name}: not done, {why}"
                + ("; it may have reached the CRM: kept on this machine, the next dealboard run checks and finishes"
                   " it" if kept_for_later else "; nothing was changed"))
    else:
        code = 2
        line = f"{now.name}: not done" + (f": {said[-1]}" if said else "")
    if as_json:
        document: dict[str, Any] = {
            "version": ACT_VERSION, "backend": backend_name, "crm": s.backend.name, "pipeline": pipeline.name,
            "deal": {"id": safe_text(card.id), "name": now.name, "status": board.status(board.shown_status(card.id))
                     .label if card.id in board else None, "value": now.value, "currency": now.currency,
                     "confidence": now.confidence, "close_date": now.close_date.isoformat() if now.close_date else None,
                     "owner": now.owner},
            "command": "set" if change is not None else "move" if status is not None else "note",
            "done": bool(done), "kept": bool(kept_for_later), "message": line, "exit": code,
        }
        return code, printed_json(document)
    return code, printed([line])


def _owed(s: BoardSession, card: str) -> list[tuple[str, bool]]:
    """What this command still owes for the card: (what, whether its outcome is unknown)."""
    owed = [("move", intent.unknown) for c, intent in s.moves.intents.items() if c == card]
    owed += [(f"edit {i.field}", i.unknown) for i in s.writes.fields.get(card, {}).values()]
    owed += [("note", shot.unknown) for shot in s.writes.shots.values() if shot.card == card]
    return owed


def _rows(s: BoardSession, card: str, *, unknown: bool) -> list[tuple[str, int]]:
    rows = [("move", i.seq) for c, i in s.moves.intents.items() if c == card and i.unknown == unknown]
    rows += [("write", seq) for i in s.writes.fields.get(card, {}).values() if i.unknown == unknown
             for seq in (*i.older, i.seq)]
    rows += [("write", shot.seq) for shot in s.writes.shots.values() if shot.card == card and shot.unknown == unknown]
    return rows


async def _drive(s: BoardSession, update: Update, said: list[str], rounds: int = 50) -> None:
    """Run the jobs an update asks for, and those their events ask for, until none is left (bounded)."""
    jobs = list(update.jobs)
    runner = s.runner
    while jobs and rounds > 0:
        rounds -= 1
        job = jobs.pop(0)
        if runner.immediate(job):
            runner.write(job)  # type: ignore[arg-type]
            continue
        async for event in runner.run(job):
            u = s.handle(event)
            said += [n.text for n in u.notices if n.severity != "information"]
            jobs += u.jobs
