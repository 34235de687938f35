"""The `--demo` workspace kept in the cache dir (`backends/demo_cache.py`, issue 25): a kept copy, its dates moved
forward, is exactly the workspace a fresh demo would be at that moment."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kanban_tui.backends import demo_cache
from kanban_tui.backends.local_schema import create_workspace

THEN = datetime(2026, 11, 20, 9, 30, 12, tzinfo=UTC)


def dump(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return sorted(line for line in conn.iterdump() if "sqlite_sequence" not in line)


def test_a_kept_demo_moved_forward_is_the_demo_made_now(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, second, fresh = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3", tmp_path / "c.sqlite3"
    assert demo_cache.demo_workspace(first, 1500, cache=cache, now=THEN) is False  # made, and kept
    assert len(list(cache.glob("demo-1500-*.sqlite3"))) == 1
    later = THEN + timedelta(days=3, hours=7, minutes=13, seconds=5)
    assert demo_cache.demo_workspace(second, 1500, cache=cache, now=later) is True  # copied, dates moved
    create_workspace(fresh, demo_size=1500, now=later)
    assert dump(second) == dump(fresh)
    assert dump(second) != dump(first)  # (the dates did move)
    with closing(sqlite3.connect(second)) as conn:  # nothing logged as a change; the triggers are back
        assert conn.execute("SELECT count(*) FROM changelog").fetchone()[0] == 0
        conn.execute("UPDATE opportunities SET value = 1 WHERE id = 'oppo_000001'")
        assert conn.execute("SELECT count(*) FROM changelog").fetchone()[0] == 1


def test_small_demos_are_not_kept_and_the_cache_is_bounded(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    demo_cache.demo_workspace(tmp_path / "small.sqlite3", 64, cache=cache, now=THEN)
    assert not cache.exists()
    for n, size in enumerate(range(1000, 1000 + demo_cache.KEEP + 2)):
        demo_cache.demo_workspace(tmp_path / f"{n}.sqlite3", size, cache=cache, now=THEN)
    assert len(list(cache.glob("demo-*.sqlite3"))) == demo_cache.KEEP


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a dir")
    path = tmp_path / "demo.sqlite3"
    assert demo_cache.demo_workspace(path, 1200, cache=blocked / "cache", now=THEN) is False
    fresh = tmp_path / "fresh.sqlite3"
    create_workspace(fresh, demo_size=1200, now=THEN)
    assert dump(path) == dump(fresh)
