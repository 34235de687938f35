"""The `--demo` workspace, made once per size and kept in the user's cache dir (issue 25).

A demo of 10,000 deals takes ~0.4 s to draw (the same deals every time: Python's `random`, one draw at a time),
before the board can show anything. Its deals are dated back from the moment they were made, so a kept copy is
the same deals made at another moment: `demo_workspace` copies the kept file and moves every date of it forward
by the whole seconds since (one UPDATE per table, ~30 ms at 10,000), which gives exactly the workspace
`create_workspace(now=...)` would make now (tests/test_demo_cache.py). Small demos (the default 64) are made as
before: they cost less than the copy. The dir keeps at most `KEEP` files; one that cannot be written or read is
no error (the demo is then made in place).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .. import paths
from . import demo_data, local_schema

CACHE_FROM = 1000
"""Demos of at least this many deals are kept; smaller ones are quicker to make than to copy."""
KEEP = 4
"""Kept files at most (the newest); a 50,000-deal demo is ~20 MB."""
_DATES = {"opportunities": ("created", "updated", "status_changed"), "notes": ("at",)}


def _version() -> str:
    """Changes whenever the code that makes a demo does (a file made by older code is never used)."""
    digest = hashlib.sha256()
    for module in (demo_data, local_schema):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:16]


def demo_workspace(path: Path, size: int, *, cache: Path | None = None, now: datetime | None = None) -> bool:
    """A demo workspace of `size` deals at `path` (which must not exist), dated back from `now` (default: the
    clock's, to the second); from the cache dir (default `paths.cache_dir()`) when one of that size is kept
    there. True when it came from the cache."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    if size < CACHE_FROM:
        local_schema.create_workspace(path, demo_size=size, now=now)
        return False
    cache = paths.cache_dir() if cache is None else cache
    prefix = f"demo-{size}-{_version()}-"
    try:
        kept = max(cache.glob(prefix + "*.sqlite3"), default=None)
        if kept is not None:
            made = datetime.fromtimestamp(int(kept.stem.removeprefix(prefix)), UTC)
            shutil.copyfile(kept, path)
            _move_dates(path, now - made)
            return True
    except (OSError, ValueError, sqlite3.Error):
        path.unlink(missing_ok=True)
    local_schema.create_workspace(path, demo_size=size, now=now)
    try:
        paths.private_dir(cache)
        kept = cache / f"{prefix}{int(now.timestamp())}.sqlite3"
        part = kept.with_name(f"{kept.name}.{os.getpid()}.part")
        shutil.copyfile(path, part)  # closed by `create_workspace`: its write-ahead log is in the file
        os.chmod(part, 0o600)
        os.replace(part, kept)
        for old in sorted(cache.glob("demo-*.sqlite3"), key=lambda f: f.stat().st_mtime, reverse=True)[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # no cache: the next demo is made again
    return False


def _move_dates(path: Path, by: timedelta) -> None:
    """Every date the demo made, `by` (a whole number of seconds) later; the change log's triggers off meanwhile."""
    seconds = int(by.total_seconds())
    shift = f"strftime('%Y-%m-%dT%H:%M:%S', {{0}}, '{seconds:+d} seconds') || '+00:00'"
    with closing(sqlite3.connect(path)) as conn, conn:
        for name in local_schema.TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        for table, columns in _DATES.items():
            sets = ", ".join(f"{c} = {shift.format(c)}" for c in columns)
            conn.execute(f"UPDATE {table} SET {sets}")  # noqa: S608 - names from _DATES
        conn.execute("UPDATE opportunities SET date_won = substr(updated, 1, 10) WHERE date_won IS NOT NULL")
        for name, body in local_schema.TRIGGERS.items():
            conn.execute(f"CREATE TRIGGER {name} {body}")
        conn.execute("DELETE FROM changelog")
