"""The last known board: what a CRM's pipeline looked like at the last sync, kept on disk.

When dealboard starts and the CRM cannot be reached (no network, the CRM down), it opens
this copy instead of an empty screen, says so, and takes moves into the journal, to be sent
once the CRM answers. Written after each full load and when the app quits; one row per
backend identity (never a secret) and pipeline, in a small SQLite file in the user state dir,
readable by the user alone (it holds CRM data). Plain, synchronous SQLite: callers run it
in a worker thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from ..models import Opportunity, Pipeline
from . import StoreError, check_writable, connect_private, damaged, move_aside

SCHEMA = """
CREATE TABLE IF NOT EXISTS boards (
    identity TEXT NOT NULL,
    pipeline_id TEXT NOT NULL,
    pipeline_name TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    opportunities TEXT NOT NULL,
    cursor TEXT,
    PRIMARY KEY (identity, pipeline_id)
);
"""

_CARDS = TypeAdapter(list[Opportunity])


@dataclass(frozen=True)
class SavedBoard:
    """A pipeline and its opportunities as they were at `saved_at` (the last sync)."""

    pipeline: Pipeline
    opportunities: list[Opportunity]
    saved_at: datetime
    cursor: str | None = None
    """The CRM's changes cursor as of `saved_at`: a warm start asks only for what changed since."""


class BoardCopy:
    """The last known board of each pipeline, for one backend identity."""

    def __init__(self, path: Path, identity: str) -> None:
        self.path = Path(path)
        self.identity = identity

    def _connect(self) -> sqlite3.Connection:
        conn = connect_private(self.path, SCHEMA)
        if "cursor" not in {row[1] for row in conn.execute("PRAGMA table_info(boards)")}:
            conn.execute("ALTER TABLE boards ADD COLUMN cursor TEXT")  # a copy kept by an older version
        return conn

    def prepare(self) -> list[str]:
        """At start: a damaged copy is moved aside (kept) so that a fresh one is written at the next
        load, and said; one that cannot be written is said (the board works without it)."""
        notes = []
        why = damaged(self.path, "boards")
        if why is not None:
            aside = move_aside(self.path)
            notes.append(f"The saved board {self.path} was damaged ({why}): kept as {aside.name}; a new one is"
                         " written at the next load")
        try:
            check_writable(self.path, "the saved board")
        except StoreError as exc:
            notes.append(f"{exc}: starting offline will not show your board")
        return notes

    def save(self, pipeline: Pipeline, opportunities: Iterable[Opportunity], saved_at: datetime,
             cursor: str | None = None) -> str | None:
        """Replace the copy of `pipeline` with these opportunities (and the changes cursor as of `saved_at`);
        None, or why it could not."""
        try:
            with closing(self._connect()) as conn, conn:
                conn.execute(
                    "INSERT OR REPLACE INTO boards (identity, pipeline_id, pipeline_name, saved_at, pipeline,"
                    " opportunities, cursor) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        self.identity, pipeline.id, pipeline.name, saved_at.isoformat(),
                        pipeline.model_dump_json(), _CARDS.dump_json(list(opportunities)).decode(), cursor,
                    ),
                )
        except (sqlite3.Error, OSError) as exc:
            return f"could not keep a copy of the board in {self.path}: {exc}"
        return None

    def load(self, wanted: str | None, on_head: Callable[[str, datetime], None] | None = None) -> SavedBoard | None:
        """The copy of the pipeline `wanted` (id or name, any case), else the last one saved.

        None when there is none, or when it cannot be read (a copy is a convenience: a
        damaged one is ignored, never an error). Rows are read one by one: a damaged one
        (garbage bytes, a wrong type, a date that is not one) is passed over, not the file,
        and is written anew at the next load of its pipeline.

        `on_head`: called with the changes cursor and saved time of the first row tried, once they are read and
        before its cards are validated (most of the time here): a warm start asks the CRM what changed since
        meanwhile. (A row whose cards then turn out damaged gives no board: what was asked is not used.)
        """
        if not self.path.exists():
            return None
        try:
            with closing(self._connect()) as conn:
                conn.text_factory = _text
                cursor = conn.execute(
                    "SELECT pipeline_id, pipeline_name, saved_at, pipeline, opportunities, cursor FROM boards"
                    " WHERE identity = ? ORDER BY saved_at DESC",
                    (self.identity,),
                )
                rows = []
                while (row := cursor.fetchone()) is not None:
                    rows.append(row)
        except (sqlite3.Error, OSError):
            return None
        for pipeline_id, name, saved_at, pipeline, opportunities, cursor_text in rows:
            if wanted is not None and not (  # as the board chooses: the id, or the name in any case
                wanted == pipeline_id or (isinstance(name, str) and wanted.casefold() == name.casefold())
            ):
                continue
            if on_head is not None:
                if (head := _head(saved_at, cursor_text)) is not None:
                    on_head(*head)
                on_head = None
            saved = _saved(saved_at, pipeline, opportunities, cursor_text)
            if saved is not None or wanted is not None:
                return saved
        return None


def _text(raw: bytes) -> str | bytes:
    """TEXT as read: a value that is not UTF-8 (garbage on disk) stays bytes, and its row is passed over."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _head(saved_at: object, cursor: object) -> tuple[str, datetime] | None:
    """A row's cursor and saved time, when both can be read (as `_saved` reads them)."""
    if not (isinstance(saved_at, str) and isinstance(cursor, str)):
        return None
    try:
        when = datetime.fromisoformat(saved_at)
    except ValueError:
        return None
    return (cursor, when) if when.utcoffset() is not None else None


def _saved(saved_at: object, pipeline: object, opportunities: object, cursor: object) -> SavedBoard | None:
    """One row as a saved board, or None when any of it cannot be read."""
    if not (isinstance(saved_at, str) and isinstance(pipeline, str) and isinstance(opportunities, str)):
        return None
    try:
        when = datetime.fromisoformat(saved_at)
        if when.utcoffset() is None:  # a time without a zone cannot be compared with now
            return None
        return SavedBoard(
            pipeline=Pipeline.model_validate_json(pipeline),
            opportunities=_CARDS.validate_json(opportunities),
            saved_at=when,
            cursor=cursor if isinstance(cursor, str) else None,
        )
    except (ValidationError, ValueError):
        return None
