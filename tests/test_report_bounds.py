"""`dealboard summary` and `dealboard changes` against absurd input (issue 21, items 15-18): a `--since` no
clock can hold, a CRM's currency that is not an ISO code, totals past any column, a workspace this user
may only read, a pipeline without statuses. One line and exit code 2 for what the user typed; the rest
answered, within 80 columns and the shipped schemas."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kanban_tui import report

from .test_report import fixed_workspace, run

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
