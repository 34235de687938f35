"""The local workspace: pipelines and opportunities in a SQLite file.

The embedded default backend, and the demo. Every write to `opportunities`, by this
app or by any other process, is recorded by triggers in `changelog`, so
`changes_since` costs one indexed query per poll whatever the board's size.

Each call opens its own short-lived connection in a thread (`asyncio.to_thread`):
SQLite connections are cheap, and this keeps the event loop free and the file
consistent with writers in other processes (WAL mode).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from .. import paths
from ..models import (
    EDIT_FIELDS,
    Changes,
    ColumnStart,
    Edit,
    History,
    HistoryEvent,
    NewDeal,
    Note,
    Opportunity,
    Page,
    Pipeline,
    Status,
    StatusKind,
    User,
    WeekCount,
)
from . import local_write
from .base import Backend
from .errors import BackendError, NotFoundError, RefusedError
from .local_schema import (  # noqa: F401 - the workspace's file, as tests and the CLI import it from here
    _COLUMNS,
    _ID,
    _NAMES,
    _STATUS_ID,
    NOTES_SCHEMA,
    SCHEMA,
    TRIGGERS,
    _read_rows,
    _select,
    create_workspace,
    insert_notes,
    insert_opportunities,
    missing_columns,
    read_as_upgraded,
    upgrade,
    write_pipeline,
)
from .settings import DEFAULT_DEMO_SIZE, LocalSettings
from .settings import LOCAL as CRM

_T = TypeVar("_T")

FIRST_PAGE_SIZE = 1000
PAGE_SIZE = 10000
"""Rows per page of the first load: a small first page so cards show at once, then big ones."""


def _now() -> datetime:
    return datetime.now(UTC)


_RawPage = tuple[list[Opportunity], dict[str, str], int, str, int]
"""One page as read in the worker thread: cards, skipped rows, rows read, last id, total."""


def _exact_sums(conn: sqlite3.Connection, status_id: str, currency: str) -> tuple[int, int]:
    """A column's annualized and weighted totals in one currency, as `sync.board.contribution_of` adds them, in
    Python's ints: where SQLite's 64-bit sum overflows (or its product turns into a float). A value that is not
    an integer is left out, as its card is (`_read_rows`)."""
    total = weighted = 0
    for value, period, confidence in conn.execute(
            "SELECT value, period, confidence FROM opportunities WHERE status_id = ? AND currency = ? AND value",
            (status_id, currency)):
        if isinstance(value, int):
            annual = value * (12 if period == "monthly" else 1)
            total += annual
            weighted += annual * (confidence if isinstance(confidence, int) else 0) // 100
    return total, weighted


class LocalBackend(Backend):
    """Pipelines and opportunities in a SQLite file on this machine."""

    name = CRM

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        """Open the file read-only (`dealboard summary` / `changes`: they write nothing, and a workspace this user
        may only read is still read); moves then fail as SQLite refuses them."""
        self._upgraded = False
        why = self._cannot_write()
        if why:  # said by the keys that would write (the move itself is refused as SQLite refuses it)
            self.editable, self.can_note, self.can_create = frozenset(), False, False
            self.cannot_edit = self.cannot_note = self.cannot_create = why

    editable = frozenset(EDIT_FIELDS)
    can_note = True
    can_create = True

    def _cannot_write(self) -> str | None:
        """Why nothing can be written here, or None."""
        if self.read_only:
            return "the workspace is open read-only here"
        if self.path.exists() and not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)):
            return f"this user cannot write {self.path.name} (or its directory)"
        return None

    @property
    def identity(self) -> str:
        return f"local:{self.path.resolve()}"

    # -- plumbing -----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if not self.path.exists():
            raise BackendError(
                f"workspace file {self.path} does not exist", crm=CRM, hint="run without --workspace to create one"
            )
        try:
            conn = self._connect_read_only() if self.read_only else sqlite3.connect(self.path, timeout=5)
            conn.row_factory = sqlite3.Row
            if not self._upgraded:
                try:
                    with conn:
                        upgrade(conn)
                except sqlite3.OperationalError as exc:
                    if not (self.read_only and "readonly" in str(exc)):
                        raise
                    conn.close()  # an older workspace: upgraded once where it can be written, then read
                    self._upgrade_writable()
                    conn = self._connect_read_only()
                    conn.row_factory = sqlite3.Row
                self._upgraded = True
            if missing := missing_columns(conn):  # an older workspace this user may only read
                read_as_upgraded(conn, missing)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open {self.path}: {exc}", crm=CRM) from exc
        return conn

    def _upgrade_writable(self) -> None:
        try:
            with closing(sqlite3.connect(self.path, timeout=5)) as conn, conn:
                upgrade(conn)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot read {self.path}: it was made by an older dealboard and is read-only"
                               " here", crm=CRM, hint="open it once with dealboard where it can be written, to"
                               " upgrade it") from exc

    def _connect_read_only(self) -> sqlite3.Connection:
        """`mode=ro`; where SQLite cannot make the shared-memory file a WAL workspace needs beside it (a
        directory this user cannot write either), the file as it is (`immutable`: read without locks)."""
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=5)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            conn.close()
            conn = sqlite3.connect(uri + "&immutable=1", uri=True, timeout=5)
        return conn

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        def call() -> _T:
            try:
                with closing(self._connect()) as conn, conn:
                    return fn(conn, *args)
            except sqlite3.Error as exc:
                if "readonly" in str(exc):  # (a write: what may be read is read, however old the file)
                    raise RefusedError(f"{self.path} cannot be written here: nothing was changed", crm=CRM) from exc
                raise BackendError(f"{self.path}: {exc}", crm=CRM,
                                   hint="is it a dealboard workspace? a damaged one can be moved aside: a new one is"
                                   " made with the demo pipeline") from exc

        return await asyncio.to_thread(call)

    # -- the interface ------------------------------------------------------------------

    async def list_pipelines(self) -> list[Pipeline]:
        return await self._run(self._list_pipelines)

    @staticmethod
    def _list_pipelines(conn: sqlite3.Connection) -> list[Pipeline]:
        pipelines = []
        for p in conn.execute("SELECT id, name FROM pipelines ORDER BY position, name").fetchall():
            rows = conn.execute(
                "SELECT id, label, color, position, kind, can_move_to FROM statuses WHERE pipeline_id = ?",
                (p["id"],),
            ).fetchall()
            statuses = tuple(
                Status(
                    id=r["id"], label=r["label"], color=r["color"], position=r["position"],
                    kind=StatusKind(r["kind"]), can_move_to=bool(r["can_move_to"]),
                )
                for r in rows
            )
            pipelines.append(Pipeline(id=p["id"], name=p["name"], statuses=statuses))
        return pipelines

    async def load_opportunities(self, pipeline: Pipeline) -> AsyncIterator[Page]:
        """A small first page (the board shows at once), then big ones: fewer thread hops.

        Rows are read and validated in the worker thread, and the first page's query
        also counts the pipeline, so the event loop only places cards.
        """
        ids = [s.id for s in pipeline.statuses]
        marks = ",".join("?" * len(ids))

        def read_page(conn: sqlite3.Connection, after: str, size: int, total: int | None) -> _RawPage:
            if total is None:
                query = f"SELECT count(*) FROM opportunities WHERE status_id IN ({marks})"
                total = conn.execute(query, ids).fetchone()[0]
            rows = _select(
                # `+status_id`: walk the primary key in order and stop at the limit, rather
                # than collect the whole pipeline through the status index and sort it
                conn, f"+status_id IN ({marks}) AND id > ? ORDER BY id LIMIT ?", [*ids, after, size]
            )
            good, skipped = _read_rows(rows)
            return good, skipped, len(rows), str(rows[-1][_ID]) if rows else after, total

        loaded, after, size = 0, "", FIRST_PAGE_SIZE
        total: int | None = None
        while True:
            good, skipped, count, after, counted = await self._run(read_page, after, size, total)
            loaded, total = loaded + len(good), counted
            yield Page(opportunities=good, loaded=loaded, total=max(counted, loaded), skipped=list(skipped.values()))
            if count < size:
                return
            size = PAGE_SIZE

    async def first_screen(self, pipeline: Pipeline, per_column: int) -> list[ColumnStart]:
        """Every column's count and exact totals from one GROUP BY, and its first `per_column` cards (newest
        first) from the (status, updated) index: the board's first paint, whatever the workspace's size."""
        return await self._run(self._first_screen, pipeline, per_column)

    @staticmethod
    def _first_screen(conn: sqlite3.Connection, pipeline: Pipeline, per_column: int) -> list[ColumnStart]:
        ids = [s.id for s in pipeline.statuses]
        marks = ",".join("?" * len(ids))
        # per status and currency: cards, cards with a value, annualized total, weighted total, recurring ones
        # (as `sync.board.contribution_of` counts them: a value of 0 or none adds nothing)
        query = (
            "SELECT status_id, currency, count(*),"
            " sum(CASE WHEN value THEN 1 ELSE 0 END),"
            " {sum}(CASE WHEN value THEN value * (CASE period WHEN 'monthly' THEN 12 ELSE 1 END) ELSE 0 END),"
            " {sum}(CASE WHEN value THEN value * (CASE period WHEN 'monthly' THEN 12 ELSE 1 END)"
            "     * coalesce(confidence, 0) / 100 ELSE 0 END),"
            " sum(CASE WHEN value AND period != 'one_time' THEN 1 ELSE 0 END)"
            f" FROM opportunities WHERE status_id IN ({marks}) GROUP BY status_id, currency"
        )
        try:
            sums = conn.execute(query.format(sum="sum"), ids).fetchall()
        except sqlite3.OperationalError as exc:  # "integer overflow": totals past 64 bits, added up below
            if "overflow" not in str(exc):
                raise
            sums = conn.execute(query.format(sum="total"), ids).fetchall()  # floats: each added up exactly below
        columns: dict[str, dict[str, Any]] = {i: {"count": 0, "by": {}, "recurring": 0} for i in ids}
        for status_id, currency, count, valued, total, weighted, recurring in sums:
            if not (isinstance(total, int) and isinstance(weighted, int)):  # past what SQLite adds up in 64 bits
                total, weighted = _exact_sums(conn, status_id, currency)
            column = columns[status_id]
            column["count"] += count
            column["recurring"] += recurring
            if valued:
                column["by"][currency] = (valued, total, weighted)
        starts = []
        for status_id in ids:
            column = columns[status_id]
            order = sorted(column["by"], key=lambda c: (-column["by"][c][0], c))  # the main currency first
            good, skipped = _read_rows(_select(
                conn, "status_id = ? ORDER BY updated DESC, id LIMIT ?", [status_id, per_column]))
            starts.append(ColumnStart(
                status_id=status_id, count=column["count"], cards=good, skipped=list(skipped.values()),
                totals={c: column["by"][c][1] for c in order}, weighted={c: column["by"][c][2] for c in order},
                recurring=column["recurring"] > 0, currency=order[0] if order else None,
                total=column["by"][order[0]][1] if order else None,
                expected=column["by"][order[0]][2] if order else None,
            ))
        return starts

    won_lost_basis = "dated: won by date won, lost by entering a lost status (no lost date is kept)"

    async def won_lost_by_week(self, pipeline: Pipeline, weeks: int) -> list[WeekCount]:
        """Two GROUP BYs over the week's Monday: won deals by `date_won`, lost ones by `status_changed` (when
        they entered their lost status; `updated` where a row does not say)."""
        today = _now().astimezone().date()
        this_week = today - timedelta(days=today.weekday())
        first = this_week - timedelta(weeks=weeks - 1)
        return await self._run(self._won_lost_by_week, pipeline, first, weeks)

    @staticmethod
    def _won_lost_by_week(conn: sqlite3.Connection, pipeline: Pipeline, first: date, weeks: int) -> list[WeekCount]:
        monday = "'weekday 0', '-6 days'"  # the Sunday that ends the week (or the day itself), less six days
        counts: dict[str, list[int]] = {}
        for kind, day in ((StatusKind.WON, f"date(date_won, {monday})"),
                          (StatusKind.LOST, f"date(coalesce(status_changed, updated), 'localtime', {monday})")):
            ids = [s.id for s in pipeline.statuses if s.kind is kind]
            rows = conn.execute(
                f"SELECT {day} AS week, count(*) FROM opportunities"
                f" WHERE status_id IN ({','.join('?' * len(ids))}) AND week >= ? GROUP BY week",
                [*ids, first.isoformat()],
            ).fetchall() if ids else []
            for week, count in rows:
                counts.setdefault(week, [0, 0])[kind is StatusKind.LOST] = count
        shown = [first + timedelta(weeks=n) for n in range(weeks)]
        return [WeekCount(week=w, won=counts.get(w.isoformat(), [0, 0])[0], lost=counts.get(w.isoformat(), [0, 0])[1])
                for w in shown]

    async def notes(self, opportunity: Opportunity, limit: int = 5) -> list[Note]:
        """The deal's latest `limit` notes from the `notes` table, newest first (none in a read-only workspace
        made before notes were kept; a row that does not validate is left out)."""
        return await self._run(self._notes, opportunity.id, limit)

    @staticmethod
    def _notes(conn: sqlite3.Connection, opportunity_id: str, limit: int) -> list[Note]:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notes'").fetchone():
            return []
        notes = []
        for at, author, text in conn.execute(
                "SELECT at, author, text FROM notes WHERE opportunity_id = ? ORDER BY at DESC, rowid DESC LIMIT ?",
                (opportunity_id, limit)).fetchall():
            try:
                when = datetime.fromisoformat(at)
                notes.append(Note(when=when if when.tzinfo else when.replace(tzinfo=UTC), text=text, author=author))
            except (TypeError, ValueError):  # (a ValidationError is a ValueError) a row written by hand, unreadable
                continue
        return notes

    async def fetch_one(self, pipeline: Pipeline, opportunity_id: str) -> Opportunity | None:
        """One SELECT: None when the row is gone, unreadable, or in a status outside `pipeline`."""
        def read(conn: sqlite3.Connection) -> Opportunity | None:
            good, _ = _read_rows(_select(conn, "id = ?", [opportunity_id]))
            return good[0] if good and pipeline.status(good[0].status_id) is not None else None

        return await self._run(read)

    async def changes_since(self, pipeline: Pipeline, cursor: str | None) -> Changes:
        return await self._run(self._changes_since, pipeline, cursor)

    @staticmethod
    def _changes_since(conn: sqlite3.Connection, pipeline: Pipeline, cursor: str | None) -> Changes:
        newest = conn.execute("SELECT coalesce(max(seq), 0) FROM changelog").fetchone()[0]
        if cursor is None or int(cursor) >= newest:
            return Changes(cursor=str(newest))
        changed = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT opportunity_id FROM changelog WHERE seq > ? AND seq <= ?", (int(cursor), newest)
            )
        ]
        status_ids = {s.id for s in pipeline.statuses}
        upserted: list[Opportunity] = []
        skipped: dict[str, str] = {}
        for start in range(0, len(changed), 500):
            chunk = changed[start : start + 500]
            rows = _select(conn, f"id IN ({','.join('?' * len(chunk))})", chunk)
            good, bad = _read_rows(r for r in rows if r[_STATUS_ID] in status_ids)
            upserted += good
            skipped |= bad
        # an unreadable row is left as it was on the board, not removed
        present = {o.id for o in upserted} | skipped.keys()
        removed = [i for i in changed if i not in present]
        return Changes(upserted=upserted, removed=removed, cursor=str(newest), skipped=list(skipped.values()))

    async def history(self, pipeline: Pipeline, since: datetime) -> History:
        """The changelog's rows since `since` for deals in (or leaving) the pipeline's statuses, newest first.
        Rows from before the workspace was upgraded carry no time: the history is then complete only from
        the first row that has one (`complete_from`)."""
        return await self._run(self._history, pipeline, since)

    @staticmethod
    def _history(conn: sqlite3.Connection, pipeline: Pipeline, since: datetime) -> History:
        since_text = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{since.microsecond // 1000:03d}Z"
        rows = conn.execute(
            "SELECT opportunity_id, at, action, name, currency, old_status, new_status, old_value, new_value"
            " FROM changelog WHERE at >= ? ORDER BY seq DESC", (since_text,)).fetchall()
        ids = {s.id for s in pipeline.statuses}
        events = []
        for row in rows:
            if row["old_status"] not in ids and row["new_status"] not in ids:
                continue
            action: Literal["created", "updated", "deleted"] = (
                row["action"] if row["action"] in ("created", "updated", "deleted") else "updated")
            moved = action == "updated" and row["old_status"] != row["new_status"]
            revalued = action == "updated" and row["old_value"] != row["new_value"]
            events.append(HistoryEvent(
                when=datetime.fromisoformat(row["at"]), opportunity_id=str(row["opportunity_id"]), action=action,
                name=row["name"], currency=row["currency"], moved=moved, revalued=revalued,
                status_from=row["old_status"] if moved or action == "deleted" else None,
                status_to=row["new_status"] if moved or action == "created" else None,
                value_from=row["old_value"], value_to=row["new_value"],
            ))
        untimed = conn.execute("SELECT max(seq) FROM changelog WHERE at IS NULL").fetchone()[0]
        complete_from = None
        if untimed is not None:  # an older version's rows: no time, no what
            first = conn.execute("SELECT min(at) FROM changelog WHERE seq > ?", (untimed,)).fetchone()[0]
            complete_from = datetime.fromisoformat(first) if first else _now()
            complete_from = max(complete_from, since)
        return History(events=events, source="the workspace's changelog",
                       complete_from=complete_from if complete_from is not None and complete_from > since else None)

    async def move(
        self, opportunity: Opportunity, status: Status, *, lost_reason: str | None = None
    ) -> Opportunity:
        return await self._run(self._move, opportunity.id, status, lost_reason)

    @staticmethod
    def _move(conn: sqlite3.Connection, opportunity_id: str, status: Status, lost_reason: str | None) -> Opportunity:
        target = conn.execute("SELECT can_move_to FROM statuses WHERE id = ?", (status.id,)).fetchone()
        if target is None:
            raise RefusedError(f"status {status.label!r} no longer exists", crm=CRM, hint="press r to refresh")
        if not target["can_move_to"]:
            raise RefusedError(f"status {status.label!r} does not accept cards", crm=CRM)
        now = _now()
        won = date.fromtimestamp(now.timestamp()).isoformat() if status.kind is StatusKind.WON else None
        cursor = conn.execute(
            "UPDATE opportunities SET"
            " status_changed = CASE WHEN status_id = ? THEN status_changed ELSE ? END,"
            " status_id = ?, updated = ?,"
            " date_won = CASE WHEN ? IS NULL THEN NULL ELSE coalesce(date_won, ?) END,"
            " lost_reason = ? WHERE id = ?",
            (status.id, now.isoformat(), status.id, now.isoformat(), won, won, lost_reason, opportunity_id),
        )
        if cursor.rowcount == 0:
            raise NotFoundError("this opportunity no longer exists", crm=CRM)
        good, skipped = _read_rows(_select(conn, "id = ?", [opportunity_id]))
        if skipped:
            raise RefusedError(skipped[opportunity_id], hint="fix the record in the workspace file")
        return good[0]


    # -- acting on a deal (`local_write`) ----------------------------------------------------------------

    async def update(self, opportunity: Opportunity, edit: Edit) -> Opportunity:
        """`edit.fields` only, and `updated`; the changelog has the row (the triggers), as for a move."""
        return await self._run(local_write.update, opportunity.id, edit)

    async def users(self) -> list[User]:
        """The owners the workspace's deals name (a name is its own id here)."""
        return await self._run(local_write.users)

    async def add_note(self, opportunity: Opportunity, text: str) -> Note:
        return await self._run(local_write.add_note, opportunity.id, text, None)

    async def create(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity:
        """Numbered as the workspace numbers deals; made once per `draft.client_id`."""
        return await self._run(local_write.create, pipeline, draft)

    async def find_created(self, pipeline: Pipeline, draft: NewDeal) -> Opportunity | None:
        """Exact: the deal that was made with `draft.client_id` (kept in its row)."""
        return await self._run(local_write.find_created, pipeline, draft.client_id)


def from_settings(settings: LocalSettings, values: Mapping[str, str], **options: Any) -> LocalBackend:
    """The registry's factory: the `[local]` path (default: in the user data dir), created and
    seeded with the demo pipeline when it does not exist yet. `read_only=True`: one that exists is only read."""
    workspace = settings.path or paths.workspace_file()
    if options.get("read_only") and workspace.exists():
        backend = LocalBackend(workspace, **options)
        with closing(backend._connect()):  # a file it cannot read (or upgrade) is said now, as a setup problem
            return backend
    try:
        create_workspace(workspace, demo_size=None if workspace.exists() else DEFAULT_DEMO_SIZE)
    except Exception as exc:  # noqa: BLE001 - a one-line message, not a traceback
        raise BackendError(f"cannot open the workspace: {exc}") from None
    return LocalBackend(workspace, **options)
