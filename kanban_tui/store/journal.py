"""The move journal: every move is on disk before it is sent, until the CRM confirms it.

A small SQLite file in the user state dir, one row per intent (a move the user made).
A row is written when the user makes the move (`queued`), marked `sent` just before its
request goes out, and deleted when the CRM confirms it or refuses it for good. Whatever
is left at the next start (the app was killed, the CRM unreachable) is what is still owed:
per card, the newest row is the user's intent; an older row still marked `sent` is a move
whose outcome is unknown (it may have reached the CRM), so the card is read back before
anything is sent again.

Rows are keyed by the backend's `identity` (never a secret), so a move made on one CRM
account is never replayed on another. **Only one process drains a journal**: `acquire()`
takes an exclusive lock per identity (a lock file next to the journal, held for the life
of the process); a second instance gets False and runs read-only.

Rows are read one by one (`recall`): a row with a bad field (a date that is not one, garbage bytes, a
NULL, a wrong type, an id with control characters) is *set aside*: moved, as it was, to the `set_aside`
table (kept, never deleted, never sent) and said in one line naming what it held; every good row is
still owed. When a card's latest row is the bad one, its older rows are set aside with it (they are no
longer the user's intent).

Writes go through one writer thread in order (`submit`), so the UI never waits on the disk;
a move's request waits on its row (`mark_sent` is submitted after `record`, FIFO). With
`background=False` (tests) every write happens at once, in the caller's thread.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from ..text import safe_text
from . import check_writable, connect_private, damaged, move_aside

SCHEMA = """
CREATE TABLE IF NOT EXISTS intents (
    seq INTEGER PRIMARY KEY,
    identity TEXT NOT NULL,
    pipeline_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    opportunity_name TEXT NOT NULL DEFAULT '',
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    made_at TEXT NOT NULL,
    base_updated TEXT NOT NULL,
    lost_reason TEXT,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent')),
    sent_at TEXT
);
CREATE TABLE IF NOT EXISTS set_aside (
    seq, identity, pipeline_id, opportunity_id, opportunity_name, from_status, to_status, made_at, base_updated,
    lost_reason, state, sent_at, why TEXT, set_aside_at TEXT
);
"""
COLUMNS = ("seq", "identity", "pipeline_id", "opportunity_id", "opportunity_name", "from_status", "to_status",
           "made_at", "base_updated", "lost_reason", "state", "sent_at")
"""An intent row's columns; `set_aside` keeps a bad row in them as it was (no types, no constraints: any
value fits), with why and when."""
SAID = 3
"""Set-aside rows said one line each; beyond, one line says how many more."""

MIGRATE_V1 = """
INSERT INTO intents (seq, identity, pipeline_id, opportunity_id, opportunity_name, from_status, to_status,
                     made_at, base_updated, lost_reason)
    SELECT id, identity, pipeline_id, opportunity_id, opportunity_name, from_status, to_status, made_at,
           base_updated, lost_reason FROM moves;
DROP TABLE moves;
"""
"""Journals of kanban-tui 0.1 (a `moves` table, no states): their rows become queued intents."""


@dataclass(frozen=True)
class JournaledMove:
    """A move as the journal keeps it."""

    seq: int
    pipeline_id: str
    opportunity_id: str
    opportunity_name: str
    from_status: str
    to_status: str
    made_at: datetime
    base_updated: datetime
    lost_reason: str | None = None
    state: str = "queued"
    """`queued` (not sent yet) or `sent` (a request went out; its answer never came back)."""


class MoveJournal:
    """Moves not yet confirmed by the CRM, for one backend identity."""

    def __init__(self, path: Path, identity: str, *, background: bool = True) -> None:
        self.path = Path(path)
        self.identity = identity
        self.background = background
        self._writer: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock_fd: int | None = None
        self.holder: str | None = None
        """When `acquire()` failed: who holds the lock (`pid 1234`), for the message."""

    @property
    def lock_path(self) -> Path:
        account = hashlib.sha256(self.identity.encode()).hexdigest()[:12]
        return self.path.with_name(f"{self.path.name}.{account}.lock")

    # -- one process drains a journal ------------------------------------------------------

    def acquire(self) -> bool:
        """Take the journal for this process (non-blocking). False: another process has it."""
        if self._lock_fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(fd):
            try:
                self.holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            finally:
                os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._lock_fd = fd
        self.holder = None
        return True

    @property
    def held(self) -> bool:
        """This process holds the journal (it drains it)."""
        return self._lock_fd is not None

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the lock
            self._lock_fd = None

    def close(self) -> None:
        """Finish the writes in hand, then let the journal go."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        self.release()

    # -- writes, in order ----------------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Run a write on the writer thread, after every write submitted before it."""
        if self.background and self._writer is None:
            self._writer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        if self._writer is None:
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            try:
                future.set_result(fn(*args))
            except Exception as exc:  # noqa: BLE001 - handed to whoever waits on it
                future.set_exception(exc)
            return future
        return self._writer.submit(fn, *args)

    def _connect(self) -> sqlite3.Connection:
        # synchronous=FULL: on disk when a write returns, even on power loss
        conn = connect_private(self.path, SCHEMA, "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL")
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'moves'").fetchone():
            with conn:
                conn.executescript(MIGRATE_V1)
        return conn

    def record(self, move: JournaledMove) -> None:
        """Write a move down when the user makes it (state `queued`)."""
        self._insert(self.identity, replace(move, state="queued"))

    def mark_sent(self, seq: int) -> None:
        """Its request is about to go out: from now on its outcome is unknown until answered."""
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "UPDATE intents SET state = 'sent', sent_at = ? WHERE seq = ? AND identity = ?",
                (datetime.now(UTC).isoformat(), seq, self.identity),
            )

    def rebase(self, seq: int, base_updated: datetime) -> None:
        """The card as the user's own earlier move left it: what a teammate's change is told apart from."""
        with closing(self._connect()) as conn, conn:
            conn.execute("UPDATE intents SET base_updated = ? WHERE seq = ? AND identity = ?",
                         (base_updated.isoformat(), seq, self.identity))

    def unsend(self, seq: int) -> None:
        """Its request certainly did not reach the CRM (refused before sending): queued again."""
        with closing(self._connect()) as conn, conn:
            conn.execute("UPDATE intents SET state = 'queued' WHERE seq = ? AND identity = ?", (seq, self.identity))

    def forget(self, seq: int) -> None:
        """This one move is no longer owed (confirmed while a newer one of its card waits)."""
        with closing(self._connect()) as conn, conn:
            conn.execute("DELETE FROM intents WHERE seq = ? AND identity = ?", (seq, self.identity))

    def settle(self, opportunity_id: str, seq: int) -> None:
        """The card's intent `seq` is settled (confirmed, refused for good, or the user took the
        CRM's version): it and every older row of the card are no longer owed."""
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "DELETE FROM intents WHERE identity = ? AND opportunity_id = ? AND seq <= ?",
                (self.identity, opportunity_id, seq),
            )

    # -- at start: damaged or unwritable ----------------------------------------------------------

    def prepare(self) -> list[str]:
        """Check the journal before the board opens: a damaged one is moved aside (kept) and a fresh
        one made with every owed move still readable from it; one that cannot be written is a
        StoreError (a move must be on disk before it is sent). Returns lines to tell the user."""
        notes = []
        why = damaged(self.path, "intents")
        if why is not None:
            good, bad = self._salvage()
            aside = move_aside(self.path)
            set_aside = f"; {len(bad)} set aside (unreadable, kept in its set_aside table)" if bad else ""
            notes.append(
                f"The move journal {safe_text(str(self.path))} was damaged ({safe_text(why)}): kept as"
                f" {safe_text(aside.name)}; {len(good)} owed move{'s' if len(good) != 1 else ''} read from it kept"
                " and sent" + ("" if good or bad else " (none could be read)") + set_aside
            )
            check_writable(self.path, "the move journal")
            for identity, move in good:
                self._insert(identity, move)
            if bad:
                now = datetime.now(UTC).isoformat()
                with closing(self._connect()) as conn, conn:
                    conn.executemany(
                        f"INSERT INTO set_aside ({', '.join(COLUMNS)}, why, set_aside_at)"  # noqa: S608 - constants
                        f" VALUES ({', '.join('?' * (len(COLUMNS) + 2))})",
                        ([_storable(raw.get(c)) for c in COLUMNS] + [why, now] for raw, why in bad),
                    )
        check_writable(self.path, "the move journal")
        return notes

    def _salvage(self) -> tuple[list[tuple[str, JournaledMove]], list[tuple[dict[str, object], str]]]:
        """Whatever rows a damaged journal still yields, row by row (best effort): the good ones with their
        identity, and the bad ones as they were, with why."""
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            return [], []
        try:
            rows = _read(conn, None)
        except sqlite3.Error:  # not even the table can be read
            rows = []
        finally:
            conn.close()
        good, bad = _sort_out(rows)
        return [(str(raw["identity"]), move) for raw, move in good], bad

    def _insert(self, identity: str, move: JournaledMove) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT OR REPLACE INTO intents (seq, identity, pipeline_id, opportunity_id, opportunity_name,"
                " from_status, to_status, made_at, base_updated, lost_reason, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (move.seq, identity, move.pipeline_id, move.opportunity_id, move.opportunity_name,
                 move.from_status, move.to_status, move.made_at.isoformat(), move.base_updated.isoformat(),
                 move.lost_reason, move.state),
            )

    # -- reading ---------------------------------------------------------------------------------

    def pending(self, pipeline_id: str | None = None) -> list[JournaledMove]:
        """Rows still owed to this CRM account (optionally one pipeline's), oldest first; rows that cannot be
        read are left out (`recall` sets them aside)."""
        return self._owed(pipeline_id)[0]

    def recall(self, pipeline_id: str | None = None) -> tuple[list[JournaledMove], list[str]]:
        """At start (by the process that holds the journal): the rows owed (as `pending`), and the rows that
        cannot be read set aside (moved to `set_aside`, kept as they were), each said in one line."""
        good, bad = self._owed(pipeline_id)
        if bad:
            self.submit(self._set_aside, [(_seq(raw), why) for raw, why in bad]).result()
        return good, self._say(bad)

    def _owed(self, pipeline_id: str | None) -> tuple[list[JournaledMove], list[tuple[dict[str, object], str]]]:
        if not self.path.exists():
            return [], []
        with closing(self._connect()) as conn:
            good, bad = _sort_out(_read(conn, self.identity))
        return [m for _, m in good if pipeline_id is None or m.pipeline_id == pipeline_id], bad

    def _set_aside(self, rows: list[tuple[int, str]]) -> None:
        now = datetime.now(UTC).isoformat()
        with closing(self._connect()) as conn, conn:
            present = {row[1] for row in conn.execute("PRAGMA table_info(intents)")}
            columns = ", ".join(c for c in COLUMNS if c in present)
            for seq, why in rows:  # as it was: copied by SQLite, never through Python
                conn.execute(f"INSERT INTO set_aside ({columns}, why, set_aside_at) SELECT {columns}, ?, ?"  # noqa: S608
                             " FROM intents WHERE seq = ? AND identity = ?", (why, now, seq, self.identity))
                conn.execute("DELETE FROM intents WHERE seq = ? AND identity = ?", (seq, self.identity))

    def _say(self, bad: list[tuple[dict[str, object], str]]) -> list[str]:
        """One line per move set aside (what it held, why, where it is kept, what to do), at most SAID; a
        card's earlier rows set aside because its latest could not be read are counted in that one's line."""
        earlier: dict[object, int] = {}
        for raw, why in bad:
            if why == SUPERSEDED:
                earlier[raw["opportunity_id"]] = earlier.get(raw["opportunity_id"], 0) + 1
        where = safe_text(str(self.path))
        said = []
        for raw, why in reversed(bad):  # newest first: a card's latest row takes its earlier ones' count
            if why == SUPERSEDED:
                continue
            card = raw.get("opportunity_id")
            n = earlier.pop(card, 0) if isinstance(card, str) else 0
            also = f" (and {n} earlier move{'s' if n != 1 else ''} of it)" if n else ""
            said.append(
                f"A move from last time could not be read ({why}) and was set aside, not sent{also}: card"
                f" {_shown(card)} to {_shown(raw.get('to_status'))}, made {_shown(raw.get('made_at'))}; kept in"
                f" {where} - move the card again if you still want it there"
            )
        said.reverse()
        if len(said) > SAID:
            said[SAID:] = [f"{len(said) - SAID} more moves from last time could not be read and were set aside,"
                           f" not sent; kept in {where}"]
        return said


class _Garbled(bytes):
    """A TEXT value on disk that is not UTF-8 (garbage): read as its bytes, never as a string."""


def _text(raw: bytes) -> str | bytes:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _Garbled(raw)


def _read(conn: sqlite3.Connection, identity: str | None) -> list[tuple[dict[str, object], JournaledMove | str]]:
    """Every intent row (of `identity`, or all), oldest first, each with its move or why it cannot be read.
    Whatever a field holds (garbage bytes, NULL, a wrong type), nothing here raises; a fetch that fails (a
    damaged page) ends the read with what it had."""
    conn.text_factory = _text
    present = {row[1] for row in conn.execute("PRAGMA table_info(intents)")}
    columns = [c for c in COLUMNS if c in present]
    query = f"SELECT {', '.join(columns)} FROM intents"  # noqa: S608 - constants
    cursor = conn.execute(query + (" WHERE identity = ? ORDER BY seq" if identity is not None else " ORDER BY seq"),
                          () if identity is None else (identity,))
    rows = []
    while True:
        try:
            row = cursor.fetchone()
        except sqlite3.Error:
            break
        if row is None:
            break
        raw = dict(zip(columns, row, strict=True))
        rows.append((raw, _parse(raw)))
    return rows


def _id(value: object) -> bool:
    """An id as a CRM gives it: text, not empty, nothing a terminal would act on (models make CRM text safe)."""
    return isinstance(value, str) and not isinstance(value, bytes) and value != "" and safe_text(value) == value


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.utcoffset() is not None else None  # a date without a zone cannot be compared


def _seq(raw: dict[str, object]) -> int:
    """A row's number: `seq` is the INTEGER PRIMARY KEY, which SQLite reads as an int whatever the file holds."""
    return int(cast(int, raw["seq"]))


def _parse(raw: dict[str, object]) -> JournaledMove | str:
    """The row as a move, or why it cannot be one (a few words naming the field)."""
    seq = raw.get("seq")
    if type(seq) is not int:
        return "its number is not one"
    if not isinstance(raw.get("identity"), str):
        return "its account is not readable"
    for column, what in (("opportunity_id", "its card id"), ("pipeline_id", "its pipeline id"),
                         ("to_status", "its status"), ("from_status", "the status it left")):
        if not _id(raw.get(column)):
            return f"{what} is not readable"
    name = raw.get("opportunity_name")
    if name is None:
        name = ""
    if not isinstance(name, str):
        return "its card name is not readable"
    made_at, base_updated = _when(raw.get("made_at")), _when(raw.get("base_updated"))
    if made_at is None:
        return "when it was made is not a date"
    if base_updated is None:
        return "its card's time is not a date"
    lost_reason = raw.get("lost_reason")
    if lost_reason is not None and not _id(lost_reason):
        return "its lost reason is not readable"
    state = raw.get("state")
    if state not in ("queued", "sent"):
        return "its state is not one"
    return JournaledMove(
        seq=seq, pipeline_id=raw["pipeline_id"], opportunity_id=raw["opportunity_id"],  # type: ignore[arg-type]
        opportunity_name=safe_text(name), from_status=raw["from_status"], to_status=raw["to_status"],  # type: ignore[arg-type]
        made_at=made_at, base_updated=base_updated, lost_reason=lost_reason, state=state,  # type: ignore[arg-type]
    )


SUPERSEDED = "the card's latest move could not be read"


def _sort_out(
    rows: list[tuple[dict[str, object], JournaledMove | str]],
) -> tuple[list[tuple[dict[str, object], JournaledMove]], list[tuple[dict[str, object], str]]]:
    """The good rows, and the bad ones with why. A card (of an account) whose latest row is bad has its good
    rows set aside too: they are no longer the user's intent, and what is cannot be read."""
    latest: dict[tuple[object, object], dict[str, object]] = {}
    for raw, _ in rows:
        if _id(raw.get("opportunity_id")):
            latest[(raw.get("identity"), raw["opportunity_id"])] = raw  # oldest first: the last one stays
    lost = {key for key, raw in latest.items() if not isinstance(_parse(raw), JournaledMove)}
    good: list[tuple[dict[str, object], JournaledMove]] = []
    bad: list[tuple[dict[str, object], str]] = []
    for raw, move in rows:
        if isinstance(move, str):
            bad.append((raw, move))
        elif (raw.get("identity"), raw.get("opportunity_id")) in lost:
            bad.append((raw, SUPERSEDED))
        else:
            good.append((raw, move))
    return good, bad


def _shown(value: object) -> str:
    """A value read from disk as a line may show it: safe, and short (a hostile file may hold megabytes)."""
    if value is None:
        return "(none)"
    text = bytes(value).decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
    text = safe_text(text)
    return text if len(text) <= 60 else text[:59] + "…"


def _storable(value: object) -> object:
    return bytes(value) if isinstance(value, _Garbled) else value


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True
