"""`dealboard summary` and `dealboard changes` against absurd input (issue 21, items 15-18): a `--since` no
clock can hold, a CRM's currency that is not an ISO code, totals past any column, a workspace this user
may only read, a pipeline without statuses. One line and exit code 2 for what the user typed; the rest
answered, within 80 columns and the shipped schemas."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kanban_tui import report
from kanban_tui.backends.local import insert_opportunities
from kanban_tui.models import Opportunity, Period
from kanban_tui.text import cells

from .test_report import check_schema, fixed_workspace, run

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(report, "now", lambda: NOW)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# -- 15: --since ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("since", [
    "99999999999d", "999999999w", "99999999999999999999999m", "1" * 5000 + "h",  # past what a timedelta holds
    "0001-01-01T00:00+05:00", "9999-12-31T23:59-05:00",  # past what a datetime holds, in UTC
    "0001-01-01", "0001-01-01T00:00:00+00:00", "1969-12-31T23:59Z", "30000d",  # before any CRM's history
    "9999-12-31", "2026-11-21",  # after now
    "yesterday-ish", "", "1.5d", "-3d",
], ids=lambda v: v[:24])
def test_a_since_no_clock_can_use_is_one_line_and_exit_2(tmp_path: Path, since: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    workspace = fixed_workspace(tmp_path / "w.sqlite3")
    for json_flag in ([], ["--json"]):
        code, out, err = run(["changes", f"--since={since}", "--workspace", str(workspace), *json_flag], capsys)
        assert code == 2 and not out, (since, out, err)
        assert err.count("\n") == 1 and err.startswith("dealboard: --since "), err
        assert repr(since[:30]).rstrip("'") in err, "names the value"
        assert "30m, 12h, 1d, 2w" in err and "2026-11-20T09:00" in err, "names the forms it takes"
        assert len(err) < 300


@pytest.mark.parametrize(("since", "moment"), [
    ("90d", NOW - timedelta(days=90)),
    ("1h", NOW - timedelta(hours=1)),
    (" 2W ", NOW - timedelta(weeks=2)),
    ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
    ("2026-11-20T09:00", datetime(2026, 11, 20, 9, tzinfo=UTC)),
    ("2026-11-20T09:00+05:00", datetime(2026, 11, 20, 4, tzinfo=UTC)),
    ("2026-11-19T23:00Z", datetime(2026, 11, 19, 23, tzinfo=UTC)),
    ("1970-01-01T00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),
    ("0m", NOW),
])
def test_every_form_of_since_within_bounds_is_taken(since: str, moment: datetime) -> None:
    assert report.parse_since(since) == moment


# -- 16: a CRM's own currencies, totals past any column ------------------------------------------------


def odd_deals(workspace: Path) -> None:
    """Deals in currencies that are not ISO codes (as a CRM sends them), some near the most SQLite holds."""
    at = NOW - timedelta(days=3)
    cards = [
        Opportunity(id=f"odd_{i}", name=f"Odd {i}", status_id="st_lead", value=value, currency=currency,
                    period=Period.MONTHLY, confidence=50, created=at, updated=at, status_changed=at)
        for i, (currency, value) in enumerate([("US$", 9 * 10**18), ("US$", 9 * 10**18), ("US$", 9 * 10**18),
                                               ("BITCOIN", 5 * 10**18), ("usdollar", 100), ("", 100),
                                               ("日本円", 7 * 10**18)])
    ]
    cards.append(Opportunity(id="odd_won", name="Odd won", status_id="st_won", value=9 * 10**18, currency="XBT1",
                             created=at, updated=at, status_changed=datetime(1, 1, 2, tzinfo=UTC)))  # 739,938 days
    with closing(sqlite3.connect(workspace)) as conn, conn:
        insert_opportunities(conn, cards)


def test_summary_json_keeps_a_crms_own_currency_and_passes_the_shipped_schema(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace = fixed_workspace(tmp_path / "w.sqlite3", size=0)
    odd_deals(workspace)
    code, out, err = run(["summary", "--workspace", str(workspace), "--json"], capsys)
    assert code == 0 and not err
    document = check_schema("summary", out)
    lead = next(s for s in document["statuses"] if s["id"] == "st_lead")
    assert lead["totals"]["US$"] == 3 * 9 * 10**18 * 12, "exact, as sent: never added to USD"
    assert {"BITCOIN", "usdollar", "", "日本円"} <= lead["totals"].keys()
    assert document["total"]["totals"]["XBT1"] == 9 * 10**18


def test_summary_text_fits_huge_totals_in_80_columns_without_cutting_a_digit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace = fixed_workspace(tmp_path / "w.sqlite3", size=0)
    odd_deals(workspace)
    code, out, err = run(["summary", "--workspace", str(workspace)], capsys)
    assert code == 0 and not err
    lines = out.splitlines()
    assert all(cells(line) <= 80 for line in lines), "\n".join(line for line in lines if cells(line) > 80)
    lead = next(line for line in lines if line.startswith("Lead "))
    assert "US$ 3.2e18/yr" in lead and "US$ 1.6e18/yr" in lead, lead  # total, expected: the magnitude kept
    won = next(line for line in lines if line.startswith("✓ Won"))
    assert "XBT1 9e16" in won and won.endswith(f" {(NOW - datetime(1, 1, 2, tzinfo=UTC)).days}d"), won
    table = lines[lines.index(next(line for line in lines if line.startswith("Status"))):]
    assert not any("…" in line for line in table if not line.startswith(("Lead", "✓", "✗"))), out


async def test_changes_text_shows_a_huge_revalue_short_instead_of_cut(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace = fixed_workspace(tmp_path / "w.sqlite3")
    with closing(sqlite3.connect(workspace)) as conn, conn:
        conn.execute("UPDATE opportunities SET value = ?, currency = 'EUR' WHERE id = 'oppo_000003'", (9 * 10**18,))
        conn.execute("UPDATE opportunities SET value = ?, currency = 'EUR' WHERE id = 'oppo_000003'", (8 * 10**18,))
    with closing(sqlite3.connect(workspace)) as conn, conn:
        conn.execute("UPDATE changelog SET at = ?", ((NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),))
    code, out, err = run(["changes", "--since", "1d", "--workspace", str(workspace)], capsys)
    assert code == 0 and not err
    revalued = [line for line in out.splitlines() if " re-valued " in line]
    assert len(revalued) == 2 and all(cells(line) <= 80 and "…" not in line for line in revalued), revalued
    assert "€9e16 → €8e16" in revalued[0], revalued


# -- 17: a workspace this user may only read ------------------------------------------------------------


@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """`paths` (files, directories) that cannot be written: their modes, and as root (who writes anyway)
    the immutable attribute."""
    locked: list[Path] = []
    try:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        if os.geteuid() == 0:
            for path in paths:
                if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
                    pytest.skip("root, and chattr +i is refused here: nothing can make a file read-only")
                locked.append(path)
        yield
    finally:
        for path in locked:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        for path in paths:
            path.chmod(0o700 if path.is_dir() else 0o600)


@pytest.mark.parametrize("directory_too", [False, True], ids=["file", "file-and-directory"])
def test_summary_and_changes_read_a_read_only_workspace(tmp_path: Path, directory_too: bool,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ro").mkdir()
    workspace = fixed_workspace(tmp_path / "ro" / "w.sqlite3")
    argvs = [["summary"], ["summary", "--json"], ["changes", "--since", "1d"], ["changes", "--since", "1d", "--json"]]
    writable = [run([*argv, "--workspace", str(workspace)], capsys) for argv in argvs]
    assert all(code == 0 for code, _, _ in writable)
    before = workspace.read_bytes()
    with read_only(workspace, *([workspace.parent] if directory_too else [])):
        for argv, expected in zip(argvs, writable, strict=True):
            code, out, err = run([*argv, "--workspace", str(workspace)], capsys)
            assert (code, out, err) == expected, (argv, err)
    assert workspace.read_bytes() == before, "nothing written"


def test_an_older_read_only_workspace_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ro").mkdir()
    workspace = fixed_workspace(tmp_path / "ro" / "w.sqlite3")
    with closing(sqlite3.connect(workspace)) as conn, conn:  # as an older version made it: a changelog of ids
        for trigger in ("opportunity_inserted", "opportunity_updated", "opportunity_deleted"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE changelog")
        conn.execute("CREATE TABLE changelog (seq INTEGER PRIMARY KEY AUTOINCREMENT, opportunity_id TEXT NOT NULL)")
    with read_only(workspace, workspace.parent):
        code, out, err = run(["summary", "--workspace", str(workspace)], capsys)
    assert code == 2 and not out and err.count("\n") == 1, err
    assert str(workspace) in err and "older" in err and "read-only" in err, err
    code, out, err = run(["summary", "--workspace", str(workspace)], capsys)
    assert code == 0 and out and not err, "where it can be written, it is upgraded (as before)"
