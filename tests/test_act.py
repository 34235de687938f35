"""`dealboard set / note / move` (issue 23, headless): one change to one deal through the board's journal; exit 0
done, 2 refused or bad input (nothing changed), 3 the CRM cannot be reached (nothing changed, or kept when it may have
got the change, and finished exactly once by the next run). Against the local workspace and the fake Close."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from kanban_tui import cli
from kanban_tui.act import act
from kanban_tui.backends.close import CloseBackend
from kanban_tui.backends.local import LocalBackend
from kanban_tui.report_io import ReportError
from kanban_tui.store import writes
from kanban_tui.store.journal import MoveJournal

from .fakes.close import FakeClose

KEY = "test-close-key"
BASE = "https://api.close.com/api/v1/"
TODAY = date(2026, 12, 2)

pytestmark = pytest.mark.fake_seed(sales=20, other=5)


async def no_wait(_: float) -> None:
    return None


@pytest.fixture
async def close(fake_close: FakeClose) -> AsyncIterator[CloseBackend]:
    backend = CloseBackend(KEY, base_url=BASE, transport=httpx.MockTransport(fake_close.handler), sleep=no_wait)
    yield backend
    await backend.aclose()


def an_open_deal(fake: FakeClose) -> str:
    return next(i for i, o in fake.opportunities.items() if o.get("status_type") == "active")


async def test_set_changes_only_the_fields_named_and_says_what(close: CloseBackend, fake_close: FakeClose,
                                                               tmp_path: Path) -> None:
    deal = an_open_deal(fake_close)
    before = dict(fake_close.opportunities[deal])
    journal = MoveJournal(tmp_path / "journal.sqlite3", close.identity, background=False)
    code, text = await act(close, "close", journal, wanted="Sales", command="set", deal=deal,
                           words=["value=12.5k", "close=+2w"], as_json=False, today=TODAY)
    assert code == 0, text
    after = fake_close.opportunities[deal]
    assert after["value"] == 1_250_000 and after["date_won"] == "2026-12-16"
    assert after["confidence"] == before["confidence"], "only the fields named"
    assert "value $12,500" in text and "2026-12-16" in text
    assert writes.owed(journal) == ([], []), "nothing left in the journal"


async def test_a_bad_value_is_one_line_exit_2_and_nothing_is_sent(close: CloseBackend, fake_close: FakeClose,
                                                                  tmp_path: Path) -> None:
    deal = an_open_deal(fake_close)
    before = dict(fake_close.opportunities[deal])
    journal = MoveJournal(tmp_path / "journal.sqlite3", close.identity, background=False)
    for words in (["confidence=140"], ["close=2026-02-30"], ["value=abc"], ["name=Other"]):
        with pytest.raises(ReportError) as raised:
            await act(close, "close", journal, wanted="Sales", command="set", deal=deal, words=words,
                      as_json=False, today=TODAY)
        assert raised.value.code == 2 and "\n" not in str(raised.value)
    assert fake_close.opportunities[deal] == before


async def test_offline_nothing_is_changed_and_nothing_is_kept(close: CloseBackend, fake_close: FakeClose,
                                                              tmp_path: Path) -> None:
    deal = an_open_deal(fake_close)
    fake_close.fail_next("PUT", f"opportunity/{deal}", 0, exc=httpx.ConnectError("connection refused"), times=100)
    journal = MoveJournal(tmp_path / "journal.sqlite3", close.identity, background=False)
    code, text = await act(close, "close", journal, wanted="Sales", command="set", deal=deal, words=["value=1k"],
                           as_json=True, today=TODAY)
    document = json.loads(text)
    assert code == 3 and document["done"] is False and document["kept"] is False
    assert "nothing was changed" in document["message"]
    assert writes.owed(journal)[0] == [], "taken back out of the journal: nothing half-done"


async def test_a_note_whose_answer_was_lost_is_kept_and_made_exactly_once_by_the_next_run(
        close: CloseBackend, fake_close: FakeClose, tmp_path: Path) -> None:
    deal = an_open_deal(fake_close)
    fake_close.lose_next("POST", "activity/note")  # the CRM makes it; the answer never comes
    journal = MoveJournal(tmp_path / "journal.sqlite3", close.identity, background=False)
    code, text = await act(close, "close", journal, wanted="Sales", command="note", deal=deal,
                           words=["Called", "them"], as_json=False, today=TODAY)
    assert code == 3 and "next dealboard run" in text
    assert [w.kind for w in writes.owed(journal)[0]] == ["note"], "kept: it may have reached the CRM"
    journal.close()
    journal = MoveJournal(tmp_path / "journal.sqlite3", close.identity, background=False)
    code, text = await act(close, "close", journal, wanted="Sales", command="set", deal=deal, words=["value=2k"],
                           as_json=False, today=TODAY)
    assert code == 0, text
    lead = fake_close.opportunities[deal]["lead_id"]
    notes = [n for n in fake_close.notes if n.get("lead_id") == lead and n.get("note") == "Called them"]
    assert len(notes) == 1, "the note the first run may have made was found, not made again"
    assert writes.owed(journal)[0] == []


async def test_move_by_status_name(close: CloseBackend, fake_close: FakeClose, tmp_path: Path) -> None:
    deal = an_open_deal(fake_close)
    journal = MoveJournal(tmp_path / "journal.sqlite3", close.identity, background=False)
    pipeline = next(p for p in await close.list_pipelines() if p.name == "Sales")
    target = next(s for s in pipeline.statuses if s.id != fake_close.opportunities[deal]["status_id"]
                  and not s.kind.is_final)
    code, text = await act(close, "close", journal, wanted="Sales", command="move", deal=deal,
                           words=[target.label.lower()], as_json=False)
    assert code == 0, text
    assert fake_close.opportunities[deal]["status_id"] == target.id


def test_the_commands_from_the_command_line_on_the_local_workspace(tmp_path: Path, workspace: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    flags = ["--backend", "local", "--workspace", str(workspace)]
    assert cli.main(["set", "oppo_000001", "value=3k", "confidence=55", *flags]) == 0
    assert "value $3,000" in capsys.readouterr().out
    assert cli.main(["note", "oppo_000001", "Sent the contract", *flags]) == 0
    assert cli.main(["move", "oppo_000001", "nope", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "say one of" in err
    assert cli.main(["set", "oppo_000001", "value=3k", *flags, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deal"]["value"] == 300_000
    backend = LocalBackend(workspace)
    import asyncio

    async def check() -> None:
        pipeline = (await backend.list_pipelines())[0]
        deal = await backend.fetch_one(pipeline, "oppo_000001")
        assert deal is not None and deal.value == 300_000 and deal.confidence == 55
        notes = await backend.notes(deal)
        assert notes is not None and any(n.text == "Sent the contract" for n in notes)

    asyncio.run(check())
