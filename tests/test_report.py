"""`dealboard summary` and `dealboard changes` (issue 17), through the command line, against every fake.

Each output is compared with a golden file under tests/golden/ (reviewed by eye; `UPDATE_GOLDEN=1 pytest
tests/test_report.py` writes them again, then read the diff) and every JSON one is checked against the
schema shipped in the package. The clock is fixed (`report.now`, each fake's clock) and the time zone
is UTC, so that the goldens are the same on every machine.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from kanban_tui import cli, paths, report
from kanban_tui.backends import registry
from kanban_tui.backends.base import Backend
from kanban_tui.backends.demo_data import DEMO_PIPELINE, demo_opportunities
from kanban_tui.backends.local import (
    LocalBackend,
    create_workspace,
    insert_opportunities,
    write_pipeline,
)
from kanban_tui.models import Opportunity, Pipeline
from kanban_tui.store.board_copy import BoardCopy

from .fakes.base import no_wait
from .fakes.bottlecrm import FakeBottleCrm
from .fakes.close import FakeClose
from .fakes.clustr import FakeClustr
from .fakes.telecrm import FakeTeleCrm
from .helpers import MakeApp

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
GOLDEN = Path(__file__).with_name("golden")
SCHEMAS = Path(report.__file__).with_name("schemas")
KEYS = {"close": "test-close-key", "clustr": "test-clustr-key", "telecrm": "test-telecrm-token",
        "bottlecrm": "bcrm_pat_test-board"}


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(report, "now", lambda: NOW)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class Clock:
    """A fake's clock the test moves on."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`dealboard ARGV`: exit code, stdout, stderr (in a thread: an async test's loop is running)."""
    with ThreadPoolExecutor(1) as pool:
        code = pool.submit(cli.main, argv).result()
    out, err = capsys.readouterr()
    return code, out, err


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if name.endswith(".txt"):
        too_long = [line for line in text.splitlines() if len(line) > 80]
        assert not too_long, too_long
    if os.environ.get("UPDATE_GOLDEN") or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"differs from {path} (UPDATE_GOLDEN=1 rewrites it: then read the diff)"


def check_schema(kind: str, text: str) -> dict[str, Any]:
    document = json.loads(text)
    schema = json.loads((SCHEMAS / f"{kind}-v1.json").read_text())
    errors = sorted(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(document), key=str)
    assert not errors, errors[0]
    assert document["version"] == 1 and document["kind"] == kind
    return document


def serve(monkeypatch: pytest.MonkeyPatch, name: str, handler: Callable[[httpx.Request], httpx.Response],
          **options: Any) -> None:
    """`open_crm` builds the backend `name` as the app does, talking to `handler` (no network)."""
    spec = registry.get(name)

    def open_crm(settings: Any, environ: Any = None) -> Backend:
        env = {variable: KEYS.get(name, "x") for variable in spec.env.values()}
        env.update({"TELECRM_ENTERPRISE_ID": "ent_demo", "BOTTLECRM_URL": "http://127.0.0.1:8000"})
        return spec.factory(getattr(settings, name), env, transport=httpx.MockTransport(handler), sleep=no_wait,
                            **options)

    monkeypatch.setattr(cli, "open_crm", open_crm)


def refused(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the network was used: {request.method} {request.url}")


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


async def load(backend: Backend) -> tuple[Pipeline, list[Opportunity]]:
    pipeline = (await backend.list_pipelines())[0]
    cards = [o async for page in backend.load_opportunities(pipeline) for o in page.opportunities]
    return pipeline, cards


async def save_board(name: str, fake: Any, saved_at: datetime, **options: Any) -> None:
    """The board as the app keeps it on this machine (its board copy), saved at `saved_at`."""
    spec = registry.get(name)
    env = {variable: KEYS.get(name, "x") for variable in spec.env.values()}
    env.update({"TELECRM_ENTERPRISE_ID": "ent_demo", "BOTTLECRM_URL": "http://127.0.0.1:8000"})
    backend = spec.factory(spec.settings(), env, transport=httpx.MockTransport(fake.handler), sleep=no_wait, **options)
    pipeline, cards = await load(backend)
    assert BoardCopy(paths.board_copy_file(), backend.identity).save(pipeline, cards, saved_at) is None
    await backend.aclose()


# -- the local workspace ------------------------------------------------------------------------------------


def fixed_workspace(path: Path, size: int = 64) -> Path:
    """The demo pipeline as of NOW (so that days in status are the same every run), no changes logged."""
    create_workspace(path, demo_size=None)
    with closing(sqlite3.connect(path)) as conn, conn:
        write_pipeline(conn, DEMO_PIPELINE)
        insert_opportunities(conn, demo_opportunities(size, now=NOW))
        conn.execute("DELETE FROM changelog")
    return path


def stamp_log(path: Path, times: list[datetime]) -> None:
    """Give the changelog's rows (oldest first) these times: the triggers write the real clock's."""
    with closing(sqlite3.connect(path)) as conn, conn:
        seqs = [row[0] for row in conn.execute("SELECT seq FROM changelog ORDER BY seq")]
        assert len(seqs) == len(times)
        for seq, when in zip(seqs, times, strict=True):
            conn.execute("UPDATE changelog SET at = ? WHERE seq = ?",
                         (when.strftime("%Y-%m-%dT%H:%M:%S.000Z"), seq))


def test_local_summary_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace = fixed_workspace(tmp_path / "w.sqlite3")
    code, out, err = run(["summary", "--workspace", str(workspace)], capsys)
    assert code == 0 and not err
    assert all(len(line) <= 80 for line in out.splitlines())
    golden("summary-local.txt", out)
    code, out, _ = run(["--workspace", str(workspace), "summary", "--json"], capsys)
    document = check_schema("summary", out)
    golden("summary-local.json", out)
    assert sum(s["count"] for s in document["statuses"]) == document["total"]["count"] == 64
    assert document["cached"] is None
    assert document["total"]["oldest_days_in_status"] is not None


async def test_local_changes_from_the_changelog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace = fixed_workspace(tmp_path / "w.sqlite3")
    backend = LocalBackend(workspace)
    pipeline, cards = await load(backend)
    by_id = {c.id: c for c in cards}
    won = next(s for s in pipeline.statuses if s.kind.value == "won")
    lost = next(s for s in pipeline.statuses if s.kind.value == "lost")
    open_cards = [c for c in cards if pipeline.status(c.status_id).kind.value == "open"]
    await backend.move(open_cards[0], pipeline.statuses[4])  # moved, in the app
    await backend.move(open_cards[1], won)
    await backend.move(open_cards[2], lost)
    with closing(sqlite3.connect(workspace)) as conn, conn:  # another process: a re-value, a deletion, a new deal
        conn.execute("UPDATE opportunities SET value = value + 250000 WHERE id = ?", (open_cards[3].id,))
        conn.execute("DELETE FROM opportunities WHERE id = ?", (open_cards[4].id,))
        conn.execute("UPDATE opportunities SET note = 'called' WHERE id = ?", (open_cards[5].id,))  # not listed
    new = by_id[open_cards[6].id].model_copy(update={"id": "oppo_new001", "name": "Newcomer Ltd", "value": 990000})
    with closing(sqlite3.connect(workspace)) as conn, conn:
        insert_opportunities(conn, [new])
    stamp_log(workspace, [NOW - timedelta(days=3), NOW - timedelta(hours=20), NOW - timedelta(hours=5),
                          NOW - timedelta(hours=4), NOW - timedelta(hours=3), NOW - timedelta(hours=2),
                          NOW - timedelta(minutes=30)])
    code, out, err = run(["changes", "--since", "1d", "--workspace", str(workspace)], capsys)
    assert code == 0 and not err
    golden("changes-local.txt", out)
    assert open_cards[0].name not in out, "older than a day"
    code, out, _ = run(["changes", "--since", "1d", "--workspace", str(workspace), "--json"], capsys)
    document = check_schema("changes", out)
    golden("changes-local.json", out)
    assert [c["kind"] for c in document["changes"]] == ["created", "removed", "revalued", "lost", "won"]
    assert document["source"]["kind"] == "history" and document["source"]["complete_from"] is None


async def test_an_older_workspace_is_upgraded_and_says_how_far_back_its_log_goes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace = fixed_workspace(tmp_path / "w.sqlite3")
    with closing(sqlite3.connect(workspace)) as conn, conn:  # as an older version made it: ids only
        for trigger in ("opportunity_inserted", "opportunity_updated", "opportunity_deleted"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE changelog")
        conn.execute("CREATE TABLE changelog (seq INTEGER PRIMARY KEY AUTOINCREMENT, opportunity_id TEXT NOT NULL)")
        conn.execute("CREATE TRIGGER opportunity_updated AFTER UPDATE ON opportunities"
                     " BEGIN INSERT INTO changelog (opportunity_id) VALUES (NEW.id); END")
        conn.execute("UPDATE opportunities SET status_id = 'st_demo' WHERE id = 'oppo_000001'")
    backend = LocalBackend(workspace)
    pipeline, cards = await load(backend)  # upgrades it
    await backend.move(next(c for c in cards if c.id == "oppo_000002"), pipeline.statuses[3])
    with closing(sqlite3.connect(workspace)) as conn:
        rows = conn.execute("SELECT opportunity_id, at, action FROM changelog ORDER BY seq").fetchall()
    assert rows[0] == ("oppo_000001", None, None), "an older row keeps its nulls"
    assert rows[1][0] == "oppo_000002" and rows[1][1] and rows[1][2] == "updated"
    report.now = lambda: datetime.now(UTC)  # the changelog's times are the real clock's here
    code, out, _ = run(["changes", "--since", "2d", "--workspace", str(workspace), "--json"], capsys)
    document = check_schema("changes", out)
    assert [(c["id"], c["kind"]) for c in document["changes"]] == [("oppo_000002", "moved")]
    assert document["source"]["complete_from"] is not None and document["source"]["notes"]


# -- Close ------------------------------------------------------------------------------------------------


def close_fake() -> tuple[FakeClose, Clock]:
    clock = Clock(NOW - timedelta(days=2))
    fake = FakeClose(clock=clock)
    fake.seed(sales=40, other=10)
    return fake, clock


def close_changes(fake: FakeClose, clock: Clock) -> dict[str, str]:
    """What teammates do in Close over the last day (and one thing before it)."""
    sales = fake.pipelines[0]["statuses"]
    ids = {s["label"]: s["id"] for s in sales}
    deals = [o for o in fake.opportunities.values() if o["status_id"] == ids["Lead"]]
    clock.at = NOW - timedelta(days=1, hours=2)
    fake.teammate_move(deals[0]["id"], ids["Qualified"])  # too old for --since 1d
    clock.at = NOW - timedelta(hours=9)
    fake.teammate_move(deals[1]["id"], ids["Demo"])
    clock.at = NOW - timedelta(hours=7)
    fake.teammate_move(deals[2]["id"], ids["Won"])
    clock.at = NOW - timedelta(hours=6)
    fake.teammate_edit(deals[3]["id"], value=1_234_500)
    clock.at = NOW - timedelta(hours=5)
    fake.teammate_edit(deals[4]["id"], note="called them")  # not a change the report lists
    clock.at = NOW - timedelta(hours=3)
    fake.delete_opportunity(deals[5]["id"])
    clock.at = NOW - timedelta(hours=1)
    fake.add_opportunity(ids["Lead"], lead_name="Fresh Prospect Ltd", value=2_500_000)
    partners = fake.pipelines[1]["statuses"]
    other = next(o["id"] for o in fake.opportunities.values() if o["status_id"] in {s["id"] for s in partners})
    fake.teammate_move(other, next(s["id"] for s in partners if s["id"] != fake.opportunities[other]["status_id"]))
    # (another pipeline's move: not listed)
    clock.at = NOW
    return {"old": deals[0]["lead_name"], "deleted": deals[5]["lead_name"]}


def test_close_summary(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake, clock = close_fake()
    clock.at = NOW
    serve(monkeypatch, "close", fake.handler, now=lambda: NOW)
    code, out, err = run(["summary", "--backend", "close"], capsys)
    assert code == 0 and not err
    assert all(len(line) <= 80 for line in out.splitlines())
    golden("summary-close.txt", out)
    code, out, _ = run(["summary", "--backend", "close", "--json"], capsys)
    document = check_schema("summary", out)
    golden("summary-close.json", out)
    sales = [o for o in fake.opportunities.values() if o["pipeline_name"] == "Sales"]
    assert document["total"]["count"] == len(sales) == 40
    assert document["total"]["stalled"] == sum(o["is_stalled"] for o in sales)
    assert document["total"]["oldest_days_in_status"] is None, "Close does not say when a deal entered its status"
    assert set(document["total"]["totals"]) == {"USD", "EUR"}, "every currency, none added to another"
    assert KEYS["close"] not in out + err


async def test_close_changes_from_the_event_log(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    fake, clock = close_fake()
    clock.at = NOW - timedelta(days=1, hours=12)
    await save_board("close", fake, NOW - timedelta(days=1, hours=12), now=lambda: NOW)  # names the deleted deal
    names = close_changes(fake, clock)
    serve(monkeypatch, "close", fake.handler, now=lambda: NOW)
    code, out, err = run(["changes", "--backend", "close", "--since", "1d"], capsys)
    assert code == 0 and not err
    golden("changes-close.txt", out)
    assert names["old"] not in out and names["deleted"] in out
    code, out, _ = run(["changes", "--backend", "close", "--since", "1d", "--json"], capsys)
    document = check_schema("changes", out)
    golden("changes-close.json", out)
    assert [c["kind"] for c in document["changes"]] == ["created", "removed", "revalued", "won", "moved"]
    assert document["source"] == {"kind": "history", "description": "from Close's Event Log",
                                  "complete_from": None, "snapshot_at": None, "notes": []}
    assert KEYS["close"] not in out + err


def test_close_changes_beyond_the_event_log_say_how_far_back_it_goes(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake, clock = close_fake()
    clock.at = NOW
    serve(monkeypatch, "close", fake.handler, now=lambda: NOW)
    code, out, _ = run(["changes", "--backend", "close", "--since", "2026-09-01", "--json"], capsys)
    document = check_schema("changes", out)
    assert code == 0 and document["source"]["complete_from"] == "2026-10-21T12:00:00Z"


async def test_close_cached_summary_never_touches_the_network(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake, clock = close_fake()
    clock.at = NOW
    await save_board("close", fake, NOW - timedelta(hours=2, minutes=5), now=lambda: NOW)
    serve(monkeypatch, "close", refused)
    code, out, err = run(["summary", "--backend", "close", "--cached"], capsys)
    assert code == 0, err
    golden("summary-close-cached.txt", out)
    assert "From the saved board of 2026-11-20 09:55 (2h ago)" in out
    code, out, _ = run(["summary", "--backend", "close", "--cached", "--json"], capsys)
    document = check_schema("summary", out)
    assert document["cached"] == {"saved_at": "2026-11-20T09:55:00Z", "age_seconds": 7500}
    assert document["total"]["count"] == 40


def test_close_unreachable_is_exit_3_naming_close_and_cached(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    serve(monkeypatch, "close", unreachable)
    for argv in (["summary", "--backend", "close"], ["changes", "--backend", "close", "--since", "1h"]):
        code, out, err = run(argv, capsys)
        assert code == 3 and not out
        assert err.count("\n") == 1 and err.startswith("dealboard: cannot reach Close: ") and "--cached" in err
        assert KEYS["close"] not in err


def test_cached_without_a_saved_board_is_exit_2(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    serve(monkeypatch, "close", refused)
    code, out, err = run(["summary", "--backend", "close", "--cached"], capsys)
    assert code == 2 and not out and err.count("\n") == 1 and "no saved board" in err


def test_usage_and_configuration_errors_are_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CLOSE_API_KEY", raising=False)
    code, out, err = run(["summary", "--backend", "close"], capsys)  # the real open_crm: no key
    assert code == 2 and not out and err.strip() == ("dealboard: no Close API key: set CLOSE_API_KEY"
                                                     " (or api_key in the [close] table of the config);"
                                                     " or run: dealboard connect close")
    workspace = fixed_workspace(tmp_path / "w.sqlite3")
    code, out, err = run(["summary", "--workspace", str(workspace), "--pipeline", "Nope"], capsys)
    assert code == 2 and not out and err.count("\n") == 1 and "no pipeline named 'Nope'" in err
    for argv in (["changes"], ["summary", "--bogus"]):
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        assert exited.value.code == 2
    capsys.readouterr()
    code, out, err = run(["changes", "--since", "yesterday-ish"], capsys)  # one line, not argparse's usage
    assert code == 2 and not out and err.count("\n") == 1 and "--since 'yesterday-ish' is not a time" in err
    fake = FakeClose("another-key")
    fake.seed(sales=5, other=1)
    serve(monkeypatch, "close", fake.handler)  # the key is refused: configuration, not the network
    code, out, err = run(["summary", "--backend", "close"], capsys)
    assert code == 2 and "Close 401" in err and KEYS["close"] not in err


# -- Clustr and TeleCRM: compared with the snapshots the board keeps ---------------------------------------


async def test_clustr_summary_and_changes_against_the_saved_board(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeClustr()
    fake.seed(30)
    serve(monkeypatch, "clustr", fake.handler)
    code, out, _ = run(["summary", "--backend", "clustr"], capsys)
    assert code == 0
    golden("summary-clustr.txt", out)
    code, out, _ = run(["summary", "--backend", "clustr", "--json"], capsys)
    document = check_schema("summary", out)
    golden("summary-clustr.json", out)
    assert document["total"]["count"] == 30 and document["total"]["totals"] == {}

    code, out, _ = run(["changes", "--backend", "clustr", "--since", "1d"], capsys)
    assert code == 0 and "no snapshot of this board is kept" in out, "says why it cannot tell"

    await save_board("clustr", fake, NOW - timedelta(days=2))
    records = sorted(fake.opportunities.values(), key=lambda r: r["id"])
    statuses = sorted(fake.statuses, key=lambda s: s["position"])
    moved = fake.teammate_move(records[0]["id"], next(s["id"] for s in statuses if s["id"] != records[0]["status_id"]))
    moved["updated_at"] = "2026-11-20T08:00:00Z"
    fake.delete_opportunity(records[1]["id"])
    fake.opportunities["opp_0000000new1"] = dict(records[2], id="opp_0000000new1", created_at="2026-11-20T10:00:00Z",
                                                 updated_at="2026-11-20T10:00:00Z")
    code, out, _ = run(["changes", "--backend", "clustr", "--since", "1d"], capsys)
    golden("changes-clustr.txt", out)
    code, out, _ = run(["changes", "--backend", "clustr", "--since", "1d", "--json"], capsys)
    document = check_schema("changes", out)
    golden("changes-clustr.json", out)
    assert [c["kind"] for c in document["changes"]][:2] == ["created", "moved"]
    assert document["changes"][-1]["kind"] == "removed" and document["changes"][-1]["when"] is None
    assert document["source"]["kind"] == "snapshot" and document["source"]["snapshot_at"] == "2026-11-18T12:00:00Z"


async def test_telecrm_summary_and_changes_against_the_saved_board(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeTeleCrm()
    fake.seed(40)
    serve(monkeypatch, "telecrm", fake.handler)
    code, out, _ = run(["summary", "--backend", "telecrm"], capsys)
    assert code == 0
    golden("summary-telecrm.txt", out)
    code, out, _ = run(["summary", "--backend", "telecrm", "--json"], capsys)
    check_schema("summary", out)
    golden("summary-telecrm.json", out)

    await save_board("telecrm", fake, NOW - timedelta(hours=6))  # newer than asked: says how far back it goes
    leads = sorted(fake.leads)
    fake.teammate_move(next(i for i in leads if fake.leads[i]["status"] == "Fresh"), "Won")
    fake.delete_lead(next(i for i in leads if fake.leads[i]["status"] == "Contacted"))
    code, out, _ = run(["changes", "--backend", "telecrm", "--since", "1d"], capsys)
    golden("changes-telecrm.txt", out)
    code, out, _ = run(["changes", "--backend", "telecrm", "--since", "1d", "--json"], capsys)
    document = check_schema("changes", out)
    golden("changes-telecrm.json", out)
    assert sorted(c["kind"] for c in document["changes"]) == ["removed", "won"]
    assert all(c["when"] is None for c in document["changes"]), "TeleCRM does not say when"
    assert document["source"]["complete_from"] == "2026-11-20T06:00:00Z"


# -- BottleCRM: its activity feed -------------------------------------------------------------------------


async def test_bottlecrm_summary_and_changes_from_the_activity_feed(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock(NOW - timedelta(days=2))
    fake = FakeBottleCrm(clock=clock)
    fake.seed(30)
    await save_board("bottlecrm", fake, NOW - timedelta(days=2), now=lambda: NOW)
    sales = fake.pipelines[0]["id"]
    deals = sorted((d for d in fake.deals.values() if d["pipeline"] == sales and d["stage"] == "PROSPECTING"),
                   key=lambda d: d["name"])
    clock.at = NOW - timedelta(hours=8)
    fake.teammate_move(deals[0]["id"], "PROPOSAL")
    clock.at = NOW - timedelta(hours=6)
    fake.teammate_move(deals[1]["id"], "CLOSED_WON")
    clock.at = NOW - timedelta(hours=5)
    fake.teammate_edit(deals[2]["id"], amount="77700.00")
    clock.at = NOW - timedelta(hours=3)
    fake.delete_deal(deals[3]["id"])
    clock.at = NOW - timedelta(hours=1)
    fake.add_deal(sales, "QUALIFICATION", name="Brand New Deal", amount="5000.00", user=fake.teammate_token)
    clock.at = NOW
    serve(monkeypatch, "bottlecrm", fake.handler, now=lambda: NOW)

    code, out, _ = run(["summary", "--backend", "bottlecrm"], capsys)
    assert code == 0
    golden("summary-bottlecrm.txt", out)
    code, out, _ = run(["summary", "--backend", "bottlecrm", "--json"], capsys)
    document = check_schema("summary", out)
    golden("summary-bottlecrm.json", out)
    assert document["total"]["count"] == 30 and document["total"]["oldest_days_in_status"] is not None

    code, out, _ = run(["changes", "--backend", "bottlecrm", "--since", "1d"], capsys)
    golden("changes-bottlecrm.txt", out)
    code, out, _ = run(["changes", "--backend", "bottlecrm", "--since", "1d", "--json"], capsys)
    document = check_schema("changes", out)
    golden("changes-bottlecrm.json", out)
    kinds = [(c["kind"], c["from"] and c["from"]["id"], c["to"] and c["to"]["id"]) for c in document["changes"]]
    assert kinds == [("created", None, "QUALIFICATION"), ("removed", "PROSPECTING", None),
                     ("revalued", None, None), ("won", "PROSPECTING", "CLOSED_WON"),
                     ("moved", "PROSPECTING", "PROPOSAL")]
    assert KEYS["bottlecrm"] not in out


# -- done when (issue 17) ---------------------------------------------------------------------------------


def test_summary_json_of_the_10000_card_demo_adds_up(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--demo-size", "10000", "summary", "--json"], capsys)
    document = check_schema("summary", out)
    assert code == 0
    assert sum(s["count"] for s in document["statuses"]) == document["total"]["count"] == 10_000


async def test_changes_since_1h_lists_two_moves_made_in_the_app(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str],
                                                               make_app: MakeApp) -> None:
    report.now = lambda: datetime.now(UTC)  # the app's moves happen now
    workspace = tmp_path / "w.sqlite3"
    create_workspace(workspace, demo_size=64)

    from .helpers import settle

    app = make_app(LocalBackend(workspace))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        for _ in range(2):  # the focused card, Lead -> Qualified -> Demo, as a user moves it
            await pilot.press("shift+right")
            await settle(pilot)
    code, out, _ = run(["changes", "--since", "1h", "--workspace", str(workspace), "--json"], capsys)
    document = check_schema("changes", out)
    assert code == 0
    moves = [c for c in document["changes"] if c["kind"] in ("moved", "won", "lost")]
    assert len(moves) == 2, document["changes"]
    assert all(c["from"] and c["to"] and c["from"] != c["to"] for c in moves)


def test_the_wheel_ships_the_json_schemas(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).parent.parent
    result = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
                            cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"kanban_tui/schemas/summary-v1.json", "kanban_tui/schemas/changes-v1.json"} <= set(names)


def test_help_lists_the_subcommands_and_no_subcommand_still_opens_the_board(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "summary" in out and "changes" in out and "exit codes" in out
    opened: list[Any] = []

    def run(backend: object, settings: object, *args: object, **kwargs: object) -> int:
        opened.append(backend)
        return 0

    monkeypatch.setattr(cli, "run", run)
    assert cli.main(["--demo-size", "3"]) == 0 and len(opened) == 1, "no subcommand: the board, as before"
    assert cli.build_parser().parse_args(["--backend", "local"]).command is None


def test_demo_flags_work_after_the_subcommand_too(capsys) -> None:
    """`dealboard summary --demo-size 300` as `dealboard --demo-size 300 summary` (seen by hand: it was refused)."""
    import json

    from kanban_tui.cli import main

    assert main(["summary", "--demo-size", "300", "--json"]) == 0
    assert sum(s["count"] for s in json.loads(capsys.readouterr().out)["statuses"]) == 300
    try:
        main(["summary", "--demo-size", "-3"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("a negative size is a usage error")
