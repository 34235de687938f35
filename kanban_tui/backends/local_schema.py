"""The local workspace's file: its schema, how an older one is upgraded, and rows in and out.

`local.py` (the backend) reads and writes deals through these; tests and the benchmarks seed workspaces
with `create_workspace`, `write_pipeline`, `insert_opportunities` and `insert_notes`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from ..models import Note, Opportunity, Pipeline
from .demo_data import demo_note_rows, demo_pipeline, demo_rows
from .errors import describe_validation_error
from .settings import LOCAL as CRM

NOTES_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    opportunity_id TEXT NOT NULL, at TEXT NOT NULL, author TEXT, text TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS notes_by_opportunity ON notes(opportunity_id, at DESC);
"""
"""A deal's notes (`LocalBackend.notes`), newest first by `at` (ISO 8601, UTC)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS pipelines (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, position INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS statuses (
    id TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    label TEXT NOT NULL,
    color TEXT,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('open', 'won', 'lost')),
    can_move_to INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS opportunities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status_id TEXT NOT NULL REFERENCES statuses(id),
    contact TEXT,
    value INTEGER,
    currency TEXT NOT NULL DEFAULT 'USD',
    period TEXT NOT NULL DEFAULT 'one_time',
    confidence INTEGER,
    owner TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    date_won TEXT,
    note TEXT NOT NULL DEFAULT '',
    url TEXT,
    lost_reason TEXT,
    status_changed TEXT,
    close_date TEXT,
    client_id TEXT);
CREATE INDEX IF NOT EXISTS opportunities_by_status ON opportunities(status_id);
CREATE INDEX IF NOT EXISTS opportunities_by_status_updated ON opportunities(status_id, updated DESC, id);
CREATE TABLE IF NOT EXISTS changelog (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, opportunity_id TEXT NOT NULL,
    at TEXT, action TEXT, name TEXT, currency TEXT,
    old_status TEXT, new_status TEXT, old_value INTEGER, new_value INTEGER);
""" + NOTES_SCHEMA  # and the triggers: `TRIGGERS`, below

TRIGGERS = {
    "opportunity_inserted": "AFTER INSERT ON opportunities BEGIN INSERT INTO changelog"
    " (opportunity_id, at, action, name, currency, new_status, new_value)"
    " VALUES (NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'created', NEW.name, NEW.currency, NEW.status_id,"
    " NEW.value); END",
    "opportunity_updated": "AFTER UPDATE ON opportunities BEGIN INSERT INTO changelog"
    " (opportunity_id, at, action, name, currency, old_status, new_status, old_value, new_value)"
    " VALUES (NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'updated', NEW.name, NEW.currency, OLD.status_id,"
    " NEW.status_id, OLD.value, NEW.value); END",
    "opportunity_deleted": "AFTER DELETE ON opportunities BEGIN INSERT INTO changelog"
    " (opportunity_id, at, action, name, currency, old_status, old_value)"
    " VALUES (OLD.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'deleted', OLD.name, OLD.currency, OLD.status_id,"
    " OLD.value); END",
}
"""Every write to `opportunities`, by this app or any other process, leaves a row in `changelog`: when (UTC),
what (created / updated / deleted), and the status and value before and after: the polls read which deals
changed, `history` what changed. Rows written before a workspace was upgraded to this keep nulls there."""
SCHEMA += "".join(f"CREATE TRIGGER IF NOT EXISTS {name} {body};\n" for name, body in TRIGGERS.items())

_COLUMNS = (
    "id, name, status_id, contact, value, currency, period, confidence, owner,"
    " created, updated, date_won, note, url, status_changed, close_date"
)
_NAMES = tuple(name.strip() for name in _COLUMNS.split(","))
_ID, _STATUS_ID = _NAMES.index("id"), _NAMES.index("status_id")


def _select(conn: sqlite3.Connection, where: str, params: Iterable[object]) -> list[tuple[object, ...]]:
    """Opportunity rows as plain tuples of `_COLUMNS` (cheaper to read than `sqlite3.Row`)."""
    cursor = conn.cursor()
    cursor.row_factory = None
    return cursor.execute(f"SELECT {_COLUMNS} FROM opportunities WHERE {where}", tuple(params)).fetchall()


def _read_rows(rows: Iterable[tuple[object, ...]]) -> tuple[list[Opportunity], dict[str, str]]:
    """Rows to opportunities; a row that does not validate is left out, and described by id."""
    good, skipped = [], {}
    for row in rows:
        try:
            data = dict(zip(_NAMES, row, strict=False))
            data["owner_id"] = data.get("owner")  # the workspace's owners are names: a name is its own id
            good.append(Opportunity.model_validate(data))
        except ValidationError as exc:
            skipped[str(row[_ID])] = f"{CRM}: opportunity {row[_ID]} skipped: {describe_validation_error(exc)}"
    return good, skipped


NEW_COLUMNS = ("close_date", "client_id")
"""Columns of `opportunities` added since workspaces were first made (issue 23)."""


def missing_columns(conn: sqlite3.Connection) -> list[str]:
    """`NEW_COLUMNS` an older workspace that could not be upgraded (read-only here) lacks."""
    columns = {row[1] for row in conn.execute("PRAGMA main.table_info(opportunities)")}
    return [c for c in NEW_COLUMNS if columns and c not in columns]


def read_as_upgraded(conn: sqlite3.Connection, missing: list[str]) -> None:
    """On this connection only, `opportunities` with the `missing` columns as nulls (a temporary view over
    the file's table): an older workspace this user may only read is read as a current one."""
    extra = "".join(f", NULL AS {column}" for column in missing)
    conn.execute(f"CREATE TEMP VIEW IF NOT EXISTS opportunities AS SELECT *{extra} FROM main.opportunities")


def upgrade(conn: sqlite3.Connection) -> None:
    """Bring a workspace made by an older version up to this schema (idempotent)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(opportunities)")}
    if columns and "status_changed" not in columns:  # when each deal entered its status: days in status
        conn.execute("ALTER TABLE opportunities ADD COLUMN status_changed TEXT")
    for column in NEW_COLUMNS:  # the expected close date; the id a new deal was made with (`find_created`)
        if columns and column not in columns:
            try:  # a workspace this user may only read opens without them (`missing_columns`: read as nulls)
                conn.execute(f"ALTER TABLE opportunities ADD COLUMN {column} TEXT")
            except sqlite3.OperationalError as exc:
                if "readonly" not in str(exc):
                    raise
    if columns and not missing_columns(conn):
        conn.execute("CREATE INDEX IF NOT EXISTS opportunities_by_client_id ON opportunities(client_id)"
                     " WHERE client_id IS NOT NULL")
    if columns:  # each column's first screen, newest first, without a sort (the progressive first paint)
        conn.execute("CREATE INDEX IF NOT EXISTS opportunities_by_status_updated"
                     " ON opportunities(status_id, updated DESC, id)")
    logged = {row[1] for row in conn.execute("PRAGMA table_info(changelog)")}
    if logged and "new_status" not in logged:  # what each change was, for `history` (older rows keep nulls)
        for column, kind in (("at", "TEXT"), ("action", "TEXT"), ("name", "TEXT"), ("currency", "TEXT"),
                             ("old_status", "TEXT"), ("new_status", "TEXT"), ("old_value", "INTEGER"),
                             ("new_value", "INTEGER")):
            if column not in logged:
                conn.execute(f"ALTER TABLE changelog ADD COLUMN {column} {kind}")
    if columns and not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notes'").fetchone():
        try:  # a deal's notes (the details view); a workspace this user may only read opens without them
            conn.executescript(NOTES_SCHEMA)
        except sqlite3.OperationalError as exc:
            if "readonly" not in str(exc):
                raise
    if logged:  # triggers of an older version record the id alone: made again as `TRIGGERS` has them
        current = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())
        for name, body in TRIGGERS.items():
            if "action" not in (current.get(name) or ""):  # (the deletion's never had a `new_status`)
                conn.execute(f"DROP TRIGGER IF EXISTS {name}")
                conn.execute(f"CREATE TRIGGER {name} {body}")


def create_workspace(path: Path, *, demo_size: int | None = 64, seed: int = 7, statuses: int = 7,
                     now: datetime | None = None) -> None:
    """Create the schema at `path`; seed the demo pipeline (7 or 8 statuses) when `demo_size` is given (its deals
    dated back from `now`, default the clock's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        upgrade(conn)
        if demo_size is None:
            return
        if conn.execute("SELECT 1 FROM pipelines LIMIT 1").fetchone():
            return
        pipeline = demo_pipeline(statuses)
        write_pipeline(conn, pipeline)
        # the seed is the starting point, not a change anyone needs to see: written with the change log's
        # triggers off (rather than logged and deleted), as plain rows (the models' fields, not the models)
        for name in TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        rows = demo_rows(demo_size, seed=seed, pipeline=pipeline, now=now)
        conn.executemany(
            f"INSERT OR REPLACE INTO opportunities ({_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL)",
            [(*row[:6], row.period.value, *row[7:9], row.created.isoformat(), row.updated.isoformat(),
              row.date_won.isoformat() if row.date_won else None, row.note, row.status_changed.isoformat())
             for row in rows],
        )
        conn.executemany(
            "INSERT INTO notes (opportunity_id, at, author, text) VALUES (?, ?, ?, ?)",
            [(deal, when.isoformat(), author, text) for deal, when, text, author in demo_note_rows(rows, seed=seed)],
        )
        for name, body in TRIGGERS.items():
            conn.execute(f"CREATE TRIGGER {name} {body}")
        conn.execute("DELETE FROM changelog")


def write_pipeline(conn: sqlite3.Connection, pipeline: Pipeline, position: int = 0) -> None:
    """Insert or replace a pipeline and its statuses."""
    conn.execute(
        "INSERT OR REPLACE INTO pipelines (id, name, position) VALUES (?, ?, ?)",
        (pipeline.id, pipeline.name, position),
    )
    conn.executemany(
        "INSERT OR REPLACE INTO statuses"
        " (id, pipeline_id, label, color, position, kind, can_move_to)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (s.id, pipeline.id, s.label, s.color, s.position, s.kind.value, int(s.can_move_to))
            for s in pipeline.statuses
        ],
    )


def insert_opportunities(conn: sqlite3.Connection, opportunities: Iterable[Opportunity]) -> None:
    """Insert or replace opportunities (as another process writing the file would)."""
    conn.executemany(
        f"INSERT OR REPLACE INTO opportunities ({_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                o.id, o.name, o.status_id, o.contact, o.value, o.currency, o.period.value,
                o.confidence, o.owner, o.created.isoformat(), o.updated.isoformat(),
                o.date_won.isoformat() if o.date_won else None, o.note, o.url,
                o.status_changed.isoformat() if o.status_changed else None,
                o.close_date.isoformat() if o.close_date else None,
            )
            for o in opportunities
        ],
    )


def insert_notes(conn: sqlite3.Connection, notes: Iterable[tuple[str, Note]]) -> None:
    """Add notes, each to the deal whose id it comes with."""
    conn.executemany(
        "INSERT INTO notes (opportunity_id, at, author, text) VALUES (?, ?, ?, ?)",
        [(opportunity_id, note.when.astimezone(UTC).isoformat(), note.author, note.text)
         for opportunity_id, note in notes],
    )
