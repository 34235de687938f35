"""Fault injection: the board against the fake Close with one fault at a time.

Every case asserts: no crash (the board is still up), a clear message, the board consistent
with the server, and no move lost (the server has it, or the journal holds it to send again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from kanban_tui.app import KanbanApp
from kanban_tui.backends.close import CloseBackend
from kanban_tui.config import Settings
from kanban_tui.screens.board import BoardScreen
from kanban_tui.store.journal import MoveJournal

from .fakes.close import FakeClose
from .helpers import MakeApp, focused_card, notices, screen_text, settle

KEY = "test-close-key"
BASE = "https://api.close.com/api/v1/"


async def no_wait(_: float) -> None:
    return None


@dataclass
class Rig:
    fake: FakeClose
    app: KanbanApp
    journal: MoveJournal

    @property
    def screen(self) -> BoardScreen:
        screen = next(s for s in self.app.screen_stack if isinstance(s, BoardScreen))
        return screen

    def said(self) -> str:
        self.screen.update_status()
        return screen_text(self.app) + "\n".join(notices(self.app))


def rig(make_app: MakeApp, sales: int = 40) -> Rig:
    fake = FakeClose(KEY)
    fake.seed(sales=sales, other=5)
    backend = CloseBackend(KEY, base_url=BASE, transport=httpx.MockTransport(fake.handler), sleep=no_wait)
    app = make_app(backend, Settings(pipeline="Sales"))
    assert app.journal is not None
    return Rig(fake, app, app.journal)


@dataclass
class MoveFault:
    status: int = 0
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    exc: Exception | None = None
    text: str | None = None
    outcome: str = "applied"
    """applied: Close has the move; back: refused, the card went back; kept: queued in the
    journal; gone: the card was removed."""
    message: str = ""
    deleted: bool = False
    """Instead of an injected answer: a teammate deleted the card just before the move."""


MOVE_FAULTS = {
    "400 field errors": MoveFault(400, {"errors": [], "field-errors": {"status_id": "Locked."}}, outcome="back",
                                  message="Close 400: status_id: Locked."),
    "401": MoveFault(401, {"error": "bad key"}, times=100, outcome="kept",
                     message="Close 401: Close rejected the API key - check CLOSE_API_KEY"),
    "403": MoveFault(403, {"error": "no"}, outcome="back", message="Close 403: the API key lacks access"),
    "404 on move": MoveFault(deleted=True, outcome="gone", message="no longer exists in Close"),
    "409": MoveFault(409, {"error": "Conflict: the lead is being merged."}, outcome="back",
                     message="Close 409: Conflict: the lead is being merged."),
    "422": MoveFault(422, {"error": "Unprocessable."}, outcome="back", message="Close 422: Unprocessable."),
    "429 Retry-After": MoveFault(429, {}, {"Retry-After": "2"}, outcome="waits", message="waiting 2s on the Close"),
    "429 RateLimit only": MoveFault(429, {}, {"RateLimit": "limit=100, remaining=0, reset=1.5"}, outcome="waits",
                                    message="on the Close rate limit"),
    "500": MoveFault(500, {"error": "boom"}, outcome="retrying", message="1 retrying · ✓ synced"),
    "502": MoveFault(502, text="<html>Bad gateway</html>", outcome="offline", message="○ offline"),
    "503 for good": MoveFault(503, {"error": "down"}, times=100, outcome="kept", message="Close 503: down"),
    "timeout": MoveFault(exc=httpx.ReadTimeout("read timed out"), times=100, outcome="kept",
                         message="Close: no answer to the PUT (it may or may not have been applied)"),
    "dropped mid-body": MoveFault(exc=httpx.RemoteProtocolError("peer closed connection without sending complete"
                                                                " message body"), times=100, outcome="kept",
                                  message="no answer to the PUT"),
    "connection refused": MoveFault(exc=httpx.ConnectError("[Errno 111] Connection refused"), times=100,
                                    outcome="kept", message="cannot connect ([Errno 111] Connection refused)"),
    # a 200 that cannot be read: the move probably landed, so the card is read back, not sent again
    "invalid JSON": MoveFault(200, text="{\"id\": \"oppo_", outcome="applied"),
    # the same: read back (Close never applied it here, so it is sent again, once)
    "wrong shape": MoveFault(200, {"id": 7, "status_id": None}, outcome="applied"),
}


@pytest.mark.parametrize("name", list(MOVE_FAULTS))
async def test_a_fault_on_a_move(make_app: MakeApp, name: str) -> None:
    fault = MOVE_FAULTS[name]
    r = rig(make_app)
    async with r.app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = r.screen
        card = focused_card(screen)
        before = r.fake.opportunities[card]["status_id"]
        target = screen.columns[1].status.id
        if fault.deleted:
            r.fake.delete_opportunity(card)
        else:
            r.fake.fail_next("PUT", "opportunity/", fault.status, json=fault.json, headers=fault.headers,
                             times=fault.times, exc=fault.exc, text=fault.text)
        await pilot.press("shift+right")
        await settle(pilot)
        assert r.app.is_running and isinstance(r.app.screen, BoardScreen), "no crash"
        board = screen.session.board
        assert board is not None
        said = r.said()
        if fault.message:
            assert fault.message in said, said[-600:]
        journaled = [m.opportunity_id for m in r.journal.pending()]
        if fault.outcome in ("waits", "retrying", "offline"):  # kept for now, and said; then it goes
            assert r.fake.opportunities[card]["status_id"] == before and journaled == [card]
            badge = {"waits": "queued", "retrying": "retrying", "offline": "queued"}[fault.outcome]
            assert board.shown_status(card) == target and board.badges[card] == badge
            screen.session.health.rate_until = 0  # the wait is over (it is not slept in a test)
            await pilot.press("r")
            await settle(pilot)
            assert r.fake.opportunities[card]["status_id"] == target == board.shown_status(card)
            assert not board.is_pending(card) and [m.opportunity_id for m in r.journal.pending()] == []
            assert len([q for q in r.fake.requests if q.method == "PUT"]) == 2, "sent again once, not more"
        elif fault.outcome == "applied":
            assert r.fake.opportunities[card]["status_id"] == target == board.shown_status(card)
            assert not board.is_pending(card) and journaled == []
        elif fault.outcome == "back":
            assert r.fake.opportunities[card]["status_id"] == before == board.shown_status(card)
            assert journaled == [], "refused for good: nothing owed"
        elif fault.outcome == "kept":
            assert r.fake.opportunities[card]["status_id"] == before
            assert board.shown_status(card) == target and board.badges[card] == "queued" and journaled == [card]
            assert "1 move queued" in said
        else:
            assert card not in board and card not in r.fake.opportunities and journaled == []


@dataclass
class PollFault:
    answer: dict[str, Any] | None = None
    status: int = 200
    text: str | None = None
    message: str = ""


def _record(fake: FakeClose, **changes: Any) -> dict[str, Any]:
    sales = next(p for p in fake.pipelines if p["name"] == "Sales")
    base = next(o for o in fake.opportunities.values() if o["pipeline_id"] == sales["id"])
    return dict(base, **changes)


POLL_FAULTS = {
    "missing fields": PollFault(message="skipped"),
    "wrong types": PollFault(message="skipped"),
    "unknown status id": PollFault(),
    "duplicate id": PollFault(),
    "empty page with has_more": PollFault(),
    "invalid JSON": PollFault(status=200, text="<html>maintenance</html>", message="not JSON"),
    "500 on a poll": PollFault(status=500, message="Close 500"),
}


@pytest.mark.parametrize("name", list(POLL_FAULTS))
async def test_a_fault_on_a_poll(make_app: MakeApp, name: str) -> None:
    fault = POLL_FAULTS[name]
    r = rig(make_app)
    async with r.app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = r.screen
        board = screen.session.board
        assert board is not None
        count = len(board)
        some = next(iter(r.fake.opportunities.values()))
        answer = {
            "missing fields": {"data": [{"id": some["id"]}], "has_more": False},
            "wrong types": {"data": [_record(r.fake, confidence="high", date_updated="2099-01-01T00:00:00+00:00")],
                            "has_more": False},
            "unknown status id": {"data": [_record(r.fake, status_id="stat_unknown",
                                                   date_updated="2099-01-01T00:00:00+00:00")], "has_more": False},
            "duplicate id": {"data": [_record(r.fake, date_updated="2099-01-01T00:00:00+00:00")] * 2,
                             "has_more": False},
            "empty page with has_more": {"data": [], "has_more": True},
        }.get(name)
        r.fake.fail_next("GET", "opportunity/", fault.status, json=answer, text=fault.text, times=4)
        await pilot.press("r")
        await settle(pilot)
        assert r.app.is_running and isinstance(r.app.screen, BoardScreen), "no crash"
        if fault.message:
            assert fault.message in r.said(), r.said()[-600:]
        if name == "unknown status id":
            assert _record(r.fake)["id"] not in board, "a card in a status this pipeline lacks leaves the board"
            assert len(board) == count - 1
        else:
            assert len(board) == count
        # once Close answers properly again, the board is what the server has
        r.fake._failures.clear()
        screen.session.cursor = None  # the next refresh loads the board again
        await pilot.press("r")
        await settle(pilot)
        statuses = {s.id for s in screen.session.pipeline.statuses}
        for opportunity_id, record in r.fake.opportunities.items():
            if record["status_id"] in statuses and opportunity_id in board:
                assert board.shown_status(opportunity_id) == record["status_id"]


async def test_a_very_large_page_loads(tmp_path: Path, make_app: MakeApp) -> None:
    fake = FakeClose(KEY, limit_cap=5000, validate=False)
    fake.seed(sales=3000, other=5)
    backend = CloseBackend(KEY, base_url=BASE, transport=httpx.MockTransport(fake.handler), sleep=no_wait)
    app = make_app(backend, Settings(pipeline="Sales"))
    fake.fail_next(
        "GET", "opportunity/", 200, json={"data": [o for o in fake.opportunities.values()
                                                   if o["pipeline_name"] == "Sales"], "has_more": False},
        times=2,  # the cursor's query and the first page: one answer of 3,000
    )
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = next(s for s in app.screen_stack if isinstance(s, BoardScreen))
        assert screen.session.board is not None and len(screen.session.board) == 3000
        assert "3,000 deals" in screen_text(app)

