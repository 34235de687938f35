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
from typing import Any

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
"""

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
            rows = self._salvage()
            aside = move_aside(self.path)
            notes.append(
                f"The move journal {self.path} was damaged ({why}): kept as {aside.name};"
                f" {len(rows)} owed move{'s' if len(rows) != 1 else ''} read from it kept and sent"
                + ("" if rows else " (none could be read)")
            )
            check_writable(self.path, "the move journal")
            for identity, move in rows:
                self._insert(identity, move)
        check_writable(self.path, "the move journal")
        return notes

    def _salvage(self) -> list[tuple[str, JournaledMove]]:
        """Whatever rows a damaged journal still yields, row by row (best effort)."""
        rows: list[tuple[str, JournaledMove]] = []
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            return rows
        try:
            cursor = conn.execute(
                "SELECT seq, identity, pipeline_id, opportunity_id, opportunity_name, from_status, to_status,"
                " made_at, base_updated, lost_reason, state FROM intents ORDER BY seq"
            )
            while True:
                try:
                    row = cursor.fetchone()
                except sqlite3.Error:
                    break
                if row is None:
                    break
                try:
                    rows.append((row[1], JournaledMove(
                        seq=int(row[0]), pipeline_id=row[2], opportunity_id=row[3], opportunity_name=row[4],
                        from_status=row[5], to_status=row[6], made_at=datetime.fromisoformat(row[7]),
                        base_updated=datetime.fromisoformat(row[8]), lost_reason=row[9], state=row[10],
                    )))
                except (TypeError, ValueError):
                    continue
        except sqlite3.Error:
            pass
        finally:
            conn.close()
        return rows

    def _insert(self, identity: str, move: JournaledMove) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT OR REPLACE INTO intents (seq, identity, pipeline_id, opportunity_id, opportunity_name,"
                " from_status, to_status, made_at, base_updated, lost_reason, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (move.seq, identity, move.pipeline_id, move.opportunity_id, move.opportunity_name,
                 move.from_status, move.to_status, move.made_at.isoformat(), move.base_updated.isoformat(),
                 move.lost_reason, move.state),
            )

    # -- reading ---------------------------------------------------------------------------------

    def pending(self, pipeline_id: str | None = None) -> list[JournaledMove]:
        """Rows still owed to this CRM account (optionally one pipeline's), oldest first."""
        if not self.path.exists():
            return []
        query = "SELECT * FROM intents WHERE identity = ?"
        args: list[str] = [self.identity]
        if pipeline_id is not None:
            query += " AND pipeline_id = ?"
            args.append(pipeline_id)
        with closing(self._connect()) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(query + " ORDER BY seq", args).fetchall()
        return [
            JournaledMove(
                seq=r["seq"], pipeline_id=r["pipeline_id"], opportunity_id=r["opportunity_id"],
                opportunity_name=r["opportunity_name"], from_status=r["from_status"], to_status=r["to_status"],
                made_at=datetime.fromisoformat(r["made_at"]), base_updated=datetime.fromisoformat(r["base_updated"]),
                lost_reason=r["lost_reason"], state=r["state"],
            )
            for r in rows
        ]


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
