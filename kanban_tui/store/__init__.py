"""What this machine keeps: the move journal and the last known board of each pipeline.

Called by the sync layer (`BoardSession`), never by the screens. Plain SQLite files in the
user state dir, readable by the user alone (they hold CRM data). Each is checked at start
(`prepare`): a damaged file is moved aside (kept, its new name said) and a fresh one made.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path


class StoreError(Exception):
    """A file this machine keeps cannot be used; `str()` is the one line to show (file, what to do)."""


def move_aside(path: Path) -> Path:
    """Rename a damaged file (and its WAL / shared-memory files) out of the way; return its new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            os.replace(extra, aside.with_name(aside.name + suffix))
    return aside


def damaged(path: Path, table: str) -> str | None:
    """Why this SQLite file cannot be used (None: it can, or it does not exist yet)."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                return f"integrity check: {check[0] if check else 'no answer'}"
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone():
                conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - a constant name
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None


def connect_private(path: Path, schema: str, *pragmas: str) -> sqlite3.Connection:
    """A connection to one of this machine's files: its directory made, the file created 0600 (it holds CRM data),
    the `pragmas` run and its `schema` (CREATE ... IF NOT EXISTS) ensured."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.touch(mode=0o600)
    conn = sqlite3.connect(path, timeout=5)
    for pragma in pragmas:
        conn.execute(pragma)
    conn.executescript(schema)
    return conn


def check_writable(path: Path, what: str) -> None:
    """StoreError naming the file when it cannot be written (a read-only dir or file, a full disk)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)
        with sqlite3.connect(path, timeout=5) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS _writable (x)")
            conn.execute("DROP TABLE _writable")
        conn.close()
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(
            f"cannot write {what} {path}: {exc} - make {path.parent} writable (or set XDG_STATE_HOME"
            " to a folder you can write)"
        ) from None
