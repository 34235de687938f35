"""The local workspace's writes other than moves (issue 23): an edit of a deal's fields, a note, a new deal, and
the owners a deal can be given to. Plain functions over one connection, run by `LocalBackend` in its worker
thread inside one transaction; every write to `opportunities` leaves its changelog row through the triggers
(`local_schema.TRIGGERS`), as a move's does.

The workspace keeps an owner as a name (`opportunities.owner`): a name is its own id (`User(id=name,
name=name)`, `Opportunity.owner_id`). A new deal is numbered as the demo's are (`oppo_000065`) and keeps the
`client_id` it was made with, so that a read-back (`find_created`) is exact.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from ..models import Edit, NewDeal, Note, Opportunity, Pipeline, User
from .errors import NotFoundError, RefusedError
from .local_schema import _read_rows, _select
from .settings import LOCAL as CRM

MAX_USERS = 500
"""The most owners `users` lists (a workspace written by hand could name thousands)."""
ID_PREFIX = "oppo_"


def _now() -> datetime:
    return datetime.now(UTC)


def _card(conn: sqlite3.Connection, opportunity_id: str) -> Opportunity:
    good, skipped = _read_rows(_select(conn, "id = ?", [opportunity_id]))
    if skipped:
        raise RefusedError(skipped[opportunity_id], hint="fix the record in the workspace file")
    if not good:
        raise NotFoundError("this opportunity no longer exists", crm=CRM)
    return good[0]


def _column_values(edit: Edit) -> dict[str, object]:
    """The `opportunities` columns `edit` sets, as stored."""
    columns: dict[str, object] = {}
    for name in edit.fields:
        value = getattr(edit, name)
        if name == "owner":
            columns["owner"] = value.name if isinstance(value, User) else None
        elif name == "period":
            columns["period"] = value.value
        elif name == "close_date":
            columns["close_date"] = value.isoformat() if value is not None else None
        else:
            columns[name] = value
    return columns


def update(conn: sqlite3.Connection, opportunity_id: str, edit: Edit) -> Opportunity:
    """Set the columns of `edit.fields` (no others) and `updated`; the deal as it now is."""
    columns = _column_values(edit)
    if not columns:
        return _card(conn, opportunity_id)
    assignments = ", ".join(f"{column} = ?" for column in columns)
    cursor = conn.execute(f"UPDATE opportunities SET {assignments}, updated = ? WHERE id = ?",
                          (*columns.values(), _now().isoformat(), opportunity_id))
    if cursor.rowcount == 0:
        raise NotFoundError("this opportunity no longer exists", crm=CRM)
    return _card(conn, opportunity_id)


def add_note(conn: sqlite3.Connection, opportunity_id: str, text: str, author: str | None) -> Note:
    """A row in `notes` for a deal that exists, made now."""
    if not text.strip():
        raise RefusedError("a note cannot be empty", crm=CRM)
    if conn.execute("SELECT 1 FROM opportunities WHERE id = ?", (opportunity_id,)).fetchone() is None:
        raise NotFoundError("this opportunity no longer exists", crm=CRM)
    note = Note(when=_now(), text=text, author=author)
    conn.execute("INSERT INTO notes (opportunity_id, at, author, text) VALUES (?, ?, ?, ?)",
                 (opportunity_id, note.when.isoformat(), author, text))
    return note


def users(conn: sqlite3.Connection) -> list[User]:
    """Every owner the workspace's deals name, by name (at most `MAX_USERS`)."""
    rows = conn.execute("SELECT DISTINCT owner FROM opportunities WHERE owner IS NOT NULL AND trim(owner) != ''"
                        " ORDER BY owner LIMIT ?", (MAX_USERS,)).fetchall()
    return [User(id=str(row[0]), name=str(row[0])) for row in rows]


def _next_id(conn: sqlite3.Connection) -> str:
    """One more than the highest `oppo_NNNNNN` (six digits at least, as the demo's)."""
    top = conn.execute("SELECT max(CAST(substr(id, ?) AS INTEGER)) FROM opportunities WHERE id GLOB ?",
                       (len(ID_PREFIX) + 1, f"{ID_PREFIX}[0-9]*")).fetchone()[0]
    return f"{ID_PREFIX}{(top if isinstance(top, int) else 0) + 1:06d}"


def create(conn: sqlite3.Connection, pipeline: Pipeline, draft: NewDeal) -> Opportunity:
    """The deal `draft` in its status, numbered after the highest; made once per `client_id` (a second call with
    the same one gives the deal the first made)."""
    status = pipeline.status(draft.status_id)
    target = conn.execute("SELECT can_move_to FROM statuses WHERE id = ? AND pipeline_id = ?",
                          (draft.status_id, pipeline.id)).fetchone()
    if status is None or target is None:
        raise RefusedError("that column no longer exists", crm=CRM, hint="press r to refresh")
    if not target[0]:
        raise RefusedError(f"status {status.label!r} does not accept cards", crm=CRM)
    conn.execute("BEGIN IMMEDIATE")  # the next number and the row together, whoever else writes the file
    made = find_created(conn, pipeline, draft.client_id)
    if made is not None:
        return made
    deal_id, now = _next_id(conn), _now().isoformat()
    won = _now().astimezone().date().isoformat() if status.kind.value == "won" else None
    conn.execute(
        "INSERT INTO opportunities (id, name, status_id, value, currency, confidence, created, updated,"
        " status_changed, date_won, client_id) VALUES (?, ?, ?, ?, coalesce(?, 'USD'), ?, ?, ?, ?, ?, ?)",
        (deal_id, draft.name, draft.status_id, draft.value, draft.currency, draft.confidence, now, now, now, won,
         draft.client_id),
    )
    return _card(conn, deal_id)


def find_created(conn: sqlite3.Connection, pipeline: Pipeline, client_id: str) -> Opportunity | None:
    """The deal made with `client_id`, if it is in one of `pipeline`'s statuses."""
    good, _ = _read_rows(_select(conn, "client_id = ? ORDER BY created DESC LIMIT 1", [client_id]))
    return good[0] if good and pipeline.status(good[0].status_id) is not None else None
