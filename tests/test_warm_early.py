"""Issue 25: a warm start asks Close what changed beside the pipeline listing, as soon as the saved board's cursor
is read (`CloseBackend.resume_early`, `HttpApi.send_early`): its answers are taken by `resume`, never asked twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from kanban_tui.backends.close import EARLY_FOR, CloseBackend
from kanban_tui.models import Opportunity, Pipeline

from .fakes.base import no_wait
from .fakes.close import FakeClose
from .helpers import MakeApp, board_on_top, screen_text, settle
from .test_warm_start import KEY, app_on, data_requests

BASE = "https://api.close.com/api/v1/"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(fake: FakeClose, clock: Clock | None = None) -> CloseBackend:
    return CloseBackend(KEY, base_url=BASE, transport=httpx.MockTransport(fake.handler), sleep=no_wait,
                        clock=clock or Clock())


async def saved(fake: FakeClose) -> tuple[Pipeline, list[Opportunity], str, datetime]:
    first = make(fake)
    pipeline = next(p for p in await first.list_pipelines() if p.name == "Sales")
    cursor = (await first.changes_since(pipeline, None)).cursor
    assert cursor is not None
    cards = [o for page in [p async for p in first.load_opportunities(pipeline)] for o in page.opportunities]
    await first.aclose()
    return pipeline, cards, cursor, datetime.now(UTC)


def paths(fake: FakeClose, start: int) -> list[str]:
    return [r.url.path.rsplit("/", 2)[-2] for r in fake.requests[start:]]


async def test_the_questions_sent_early_are_answered_to_the_resume_not_sent_again(fake_close: FakeClose) -> None:
    pipeline, cards, cursor, saved_at = await saved(fake_close)
    moved, deleted = cards[0], cards[1]
    fake_close.teammate_move(moved.id, pipeline.statuses[-1].id)
    fake_close.delete_opportunity(deleted.id)
    close = make(fake_close)
    start = len(fake_close.requests)
    close.resume_early(cursor, saved_at)
    for _ in range(5):
        await asyncio.sleep(0)
    assert sorted(paths(fake_close, start)) == ["event", "opportunity"], "sent at once, before the resume"
    changes = await close.resume(pipeline, cards, cursor, saved_at)
    assert changes is not None
    assert [o.id for o in changes.upserted] == [moved.id] and changes.removed == [deleted.id]
    assert len(fake_close.requests) - start == 2, "the resume took their answers"
    assert close.api.requests_sent == 2
    await close.aclose()


async def test_early_answers_for_another_cursor_or_too_old_are_not_taken(fake_close: FakeClose) -> None:
    pipeline, cards, cursor, saved_at = await saved(fake_close)
    clock = Clock()
    close = make(fake_close, clock)
    start = len(fake_close.requests)
    close.resume_early("2026-01-01T00:00:00+00:00", saved_at)  # another board's
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(fake_close.requests) - start == 2
    assert await close.resume(pipeline, cards, cursor, saved_at) is not None
    asked = fake_close.requests[start:]
    assert len(asked) == 4 and not close.api._early, "its own two asked; the others dropped"  # noqa: SLF001
    assert all("2026-01-01" not in str(r.url) for r in asked[2:])

    start = len(fake_close.requests)
    close.resume_early(cursor, saved_at)
    for _ in range(5):
        await asyncio.sleep(0)
    clock.now += EARLY_FOR + 1  # the listing failed and was retried: asked anew
    assert await close.resume(pipeline, cards, cursor, saved_at) is not None
    assert len(fake_close.requests) - start == 2 + 2
    await close.aclose()


async def test_an_early_question_that_failed_is_asked_again(fake_close: FakeClose) -> None:
    pipeline, cards, cursor, saved_at = await saved(fake_close)
    failing = {"event": 1}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/event/") and failing["event"]:
            failing["event"] -= 1
            return httpx.Response(404, json={"error": "gone for now"})
        return fake_close.handler(request)

    close = CloseBackend(KEY, base_url=BASE, transport=httpx.MockTransport(handler), sleep=no_wait)
    close.resume_early(cursor, saved_at)
    for _ in range(5):
        await asyncio.sleep(0)
    start = len(fake_close.requests)
    changes = await close.resume(pipeline, cards, cursor, saved_at)
    assert changes is not None and changes.empty
    assert paths(fake_close, start) == ["event"], "the failed one again, the delta's answer taken"
    await close.aclose()


async def test_no_early_question_where_the_resume_would_ask_nothing(fake_close: FakeClose) -> None:
    _, _, cursor, _ = await saved(fake_close)
    close = make(fake_close)
    start = len(fake_close.requests)
    close.resume_early(None, datetime.now(UTC))
    close.resume_early("not a time", datetime.now(UTC))
    close.resume_early(cursor, datetime(2020, 1, 1, tzinfo=UTC))  # older than the Event Log keeps
    await asyncio.sleep(0)
    assert fake_close.requests[start:] == [] and not close.api._early  # noqa: SLF001
    await close.aclose()


class Holding:
    """In front of the fake: notes each request as it arrives, and answers none while `open` is clear."""

    def __init__(self, fake: FakeClose) -> None:
        self.fake = fake
        self.open = asyncio.Event()
        self.open.set()
        self.arrived: list[str] = []

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.arrived.append(request.url.path.rsplit("/", 2)[-2])
        if not request.url.path.endswith("/me/"):
            await self.open.wait()
        return self.fake.handler(request)


async def test_a_warm_start_asks_what_changed_beside_the_pipeline_listing(make_app: MakeApp) -> None:
    fake = FakeClose(KEY)
    fake.seed(sales=200, other=10)
    gate = Holding(fake)
    async with app_on(make_app, gate).run_test(size=(120, 36)) as pilot:  # type: ignore[arg-type]
        await settle(pilot)
    sales = next(p for p in fake.pipelines if p["name"] == "Sales")
    ours = [o for o in fake.opportunities.values() if o["status_id"] in {s["id"] for s in sales["statuses"]}]
    fake.teammate_move(ours[0]["id"], sales["statuses"][-1]["id"])

    gate.open.clear()
    gate.arrived.clear()
    start = len(fake.requests)
    app = app_on(make_app, gate)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(20):
            await pilot.pause(0.05)
            if len(gate.arrived) >= 3:
                break
        assert sorted(gate.arrived) == ["event", "opportunity", "pipeline"], "all three in flight, none answered"
        gate.open.set()
        await settle(pilot)
        await settle(pilot)
        board = board_on_top(app).session.board
        assert board is not None and board.shown_status(ours[0]["id"]) == sales["statuses"][-1]["id"]
        assert "✓ synced" in screen_text(app).splitlines()[-2]
        assert len(data_requests(fake, start)) == 3, data_requests(fake, start)


def test_the_tls_context_is_built_beside_the_start_and_verifies(monkeypatch: object) -> None:
    import ssl
    import threading

    import pytest

    from kanban_tui.backends.http import HttpApi

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    built_on: list[str] = []
    make_context = ssl.create_default_context

    def recording(*args: object, **kwargs: object) -> ssl.SSLContext:
        built_on.append(threading.current_thread().name)
        return make_context(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl, "create_default_context", recording)
    api = HttpApi("Close", BASE)
    assert threading.current_thread().name not in built_on, "not on the caller's thread (the app's start)"
    pool = api.client._transport._pool  # type: ignore[attr-defined]  # noqa: SLF001 - what connections use
    context = pool._ssl_context  # noqa: SLF001
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert built_on == ["tls-context"]


def test_the_saved_boards_cursor_is_handed_on_before_its_cards_are_read(tmp_path: object) -> None:
    from pathlib import Path

    from kanban_tui.backends.demo_data import DEMO_PIPELINE, demo_opportunities
    from kanban_tui.store import board_copy
    from kanban_tui.store.board_copy import BoardCopy

    assert isinstance(tmp_path, Path)
    copy = BoardCopy(tmp_path / "last-board.sqlite3", "acct")
    saved_at = datetime.now(UTC)
    assert copy.save(DEMO_PIPELINE, demo_opportunities(5), saved_at, cursor="2026-11-23T09:00:00+00:00") is None
    order: list[str] = []
    validate = board_copy._saved  # noqa: SLF001

    def saved(*args: object) -> object:
        order.append("cards")
        return validate(*args)

    board_copy._saved = saved  # type: ignore[assignment]  # noqa: SLF001
    try:
        loaded = copy.load("Sales", lambda cursor, when: order.append(f"head {cursor} {when == saved_at}"))
    finally:
        board_copy._saved = validate  # noqa: SLF001
    assert loaded is not None and len(loaded.opportunities) == 5
    assert order == ["head 2026-11-23T09:00:00+00:00 True", "cards"]
    heads: list[object] = []
    assert copy.save(DEMO_PIPELINE, demo_opportunities(5), saved_at) is None  # no cursor: nothing to ask from
    assert copy.load(None, lambda *head: heads.append(head)) is not None and heads == []
