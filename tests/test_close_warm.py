"""The Close backend's warm and cold start against the fake Close: the first screen, the load in
pages fetched together, the Event Log's deletions, and resuming a saved board."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kanban_tui.backends.close import EVENT_LIMIT, FIELDS, PARALLEL_PAGES, CloseBackend
from kanban_tui.backends.errors import AuthError
from kanban_tui.models import Opportunity, Pipeline, StatusKind

from .fakes.base import no_wait
from .fakes.close import FakeClose

KEY = "test-close-key"
BASE = "https://api.close.com/api/v1/"

pytestmark = pytest.mark.fake_seed(sales=450, other=120)


class Overlapping(httpx.AsyncBaseTransport):
    """The fake behind a network: each answer takes a while (`delay`, or a random part of it), and
    the transport counts how many requests were in flight at once."""

    def __init__(self, fake_close: FakeClose, delay: float = 0.005, jitter: bool = False,
                 later_slower: bool = False) -> None:
        self.fake = fake_close
        self.delay = delay
        self.jitter = random.Random(3) if jitter else None
        self.later_slower = later_slower
        """Each page takes longer the further it is into the listing (by `_skip`)."""
        self.in_flight = 0
        self.most = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            delay = self.delay if self.jitter is None else self.jitter.uniform(0, self.delay)
            if self.later_slower:
                delay *= 1 + int(request.url.params.get("_skip", 0)) / 100
            await asyncio.sleep(delay)
            await request.aread()
            return self.fake.handler(request)
        finally:
            self.in_flight -= 1


def make(fake_close: FakeClose, transport: httpx.AsyncBaseTransport | None = None, **options: object) -> CloseBackend:
    return CloseBackend(KEY, base_url=BASE, transport=transport or httpx.MockTransport(fake_close.handler),
                        sleep=no_wait, **options)  # type: ignore[arg-type]


async def sales(close: CloseBackend) -> Pipeline:
    return next(p for p in await close.list_pipelines() if p.name == "Sales")


def in_pipeline(fake_close: FakeClose, pipeline: Pipeline) -> list[dict]:
    ids = {s.id for s in pipeline.statuses}
    return [o for o in fake_close.opportunities.values() if o["status_id"] in ids]


def since(fake_close: FakeClose, start: int) -> list[httpx.Request]:
    return fake_close.requests[start:]


# -- the first screen ---------------------------------------------------------------------------


async def test_the_first_screen_gives_each_column_its_count_totals_and_newest_cards(fake_close: FakeClose) -> None:
    transport = Overlapping(fake_close)
    close = make(fake_close, transport)
    pipeline = await sales(close)
    start = len(fake_close.requests)
    columns = await close.first_screen(pipeline, 12)
    assert [c.status_id for c in columns] == [s.id for s in pipeline.statuses]
    for column in columns:
        records = [o for o in in_pipeline(fake_close, pipeline) if o["status_id"] == column.status_id]
        assert column.count == len(records) > 12
        assert column.total == sum(o["annualized_value"] or 0 for o in records)
        assert column.expected == sum(o["annualized_expected_value"] or 0 for o in records)
        newest = sorted(records, key=lambda o: o["date_updated"], reverse=True)[:12]
        assert [c.id for c in column.cards] == [o["id"] for o in newest], "the newest 12, newest first"
        assert column.currency == "USD", "the currency most cards carry"
        assert column.recurring == any(o["value_period"] != "one_time" for o in records)
    requests = since(fake_close, start)
    assert len(requests) == len(pipeline.statuses), "one request per column"
    assert all(r.url.params["_limit"] == "12" and r.url.params["_order_by"] == "-date_updated"
               and r.url.params["_fields"] == FIELDS for r in requests)
    assert transport.most == len(pipeline.statuses), "sent together"
    await close.aclose()


async def test_the_first_screen_skips_what_it_cannot_read_and_counts_an_empty_column(fake_close: FakeClose) -> None:
    close = make(fake_close)
    pipeline = await sales(close)
    lost = next(s for s in pipeline.statuses if s.kind is StatusKind.LOST)
    for record in [o for o in fake_close.opportunities.values() if o["status_id"] == lost.id]:
        fake_close.delete_opportunity(record["id"])
    fake_close.fail_next("GET", "opportunity/", 200, json={
        "data": [{"id": "oppo_bad", "status_id": pipeline.statuses[0].id}], "has_more": False, "total_results": 1,
    })
    columns = {c.status_id: c for c in await close.first_screen(pipeline, 5)}
    assert columns[lost.id].count == 0 and columns[lost.id].cards == [] and columns[lost.id].total == 0
    assert columns[lost.id].recurring is False and columns[pipeline.statuses[1].id].recurring is True
    broken = [c for c in columns.values() if c.skipped]
    assert len(broken) == 1 and "oppo_bad" in broken[0].skipped[0] and broken[0].cards == []
    await close.aclose()


# -- the whole load, pages fetched together -----------------------------------------------------


@pytest.mark.parametrize("cap", [100, 30])
async def test_the_load_fetches_pages_together_and_yields_them_in_order(cap: int) -> None:
    fake_close = FakeClose(KEY, limit_cap=cap)
    fake_close.seed(sales=1234, other=50)
    transport = Overlapping(fake_close, delay=0.004, jitter=True)  # answers come back out of order
    close = make(fake_close, transport)
    pipeline = await sales(close)
    start = len(fake_close.requests)
    pages = [page async for page in close.load_opportunities(pipeline)]
    ids = [o.id for page in pages for o in page.opportunities]
    expected = sorted(in_pipeline(fake_close, pipeline), key=lambda o: (o["date_created"], o["id"]))
    assert ids == [o["id"] for o in expected], "every card, once, in the listing's order"
    assert [p.loaded for p in pages] == [min(cap * (i + 1), 1234) for i in range(len(pages))]
    assert all(p.total == 1234 for p in pages)
    assert 1 < transport.most <= PARALLEL_PAGES
    assert len(since(fake_close, start)) == len(pages), "no page asked for twice, none past the end"
    await close.aclose()


async def test_the_load_goes_one_page_at_a_time_when_the_rate_limit_runs_low() -> None:
    fake_close = FakeClose(KEY)
    fake_close.seed(sales=800, other=0)
    fake_close.rate_limit, fake_close.rate_remaining = 100, 22
    transport = Overlapping(fake_close)
    close = make(fake_close, transport)
    pipeline = await sales(close)
    pages = [page async for page in close.load_opportunities(pipeline)]
    assert pages[-1].loaded == 800
    assert transport.most == 1, "the last fifth of the window is left to the gate's pacing"
    await close.aclose()


async def test_a_page_shorter_than_planned_is_followed_from_where_it_ended(fake_close: FakeClose) -> None:
    close = make(fake_close, Overlapping(fake_close))
    pipeline = await sales(close)
    listing = sorted(in_pipeline(fake_close, pipeline), key=lambda o: (o["date_created"], o["id"]))
    short = [{name: o[name] for name in FIELDS.split(",")} for o in listing[100:150]]
    pages = close.load_opportunities(pipeline)
    first = await anext(pages)
    # the second page comes back with 50 cards: the pages planned from 200 on no longer line up
    fake_close.fail_next("GET", "opportunity/", 200, json={"data": short, "has_more": True, "total_results": 450})
    start = len(fake_close.requests)
    rest = [page async for page in pages]
    ids = [o.id for page in [first, *rest] for o in page.opportunities]
    assert ids == [o["id"] for o in listing], "every card once, in order"
    assert [p.loaded for p in rest] == [150, 250, 350, 450]
    skips = sorted(int(r.url.params["_skip"]) for r in since(fake_close, start))
    assert {150, 250, 350} <= set(skips) and 450 not in skips


async def test_a_failing_page_cancels_the_pages_in_flight(fake_close: FakeClose) -> None:
    transport = Overlapping(fake_close, later_slower=True)
    close = make(fake_close, transport)
    pipeline = await sales(close)
    pages = close.load_opportunities(pipeline)
    await anext(pages)
    fake_close.fail_next("GET", "opportunity/", 403, json={"error": "no"}, times=10)
    with pytest.raises(AuthError):
        async for _ in pages:
            pass
    assert transport.most > 1 and transport.in_flight == 0, "none left running"
    await close.aclose()


# -- the Event Log ------------------------------------------------------------------------------


async def test_deleted_since_pages_through_the_event_log_with_its_cursor(fake_close: FakeClose) -> None:
    close = make(fake_close)
    before = datetime.now(UTC) - timedelta(seconds=1)
    doomed = list(fake_close.opportunities)[:120]
    for opportunity_id in doomed:
        fake_close.delete_opportunity(opportunity_id)
    fake_close.teammate_move(list(fake_close.opportunities)[0],  # not a deletion
                             fake_close.pipelines[0]["statuses"][1]["id"])
    start = len(fake_close.requests)
    deleted = await close.deleted_since(before)
    assert deleted == doomed[::-1], "every deletion once, newest first"
    requests = since(fake_close, start)
    assert len(requests) == 3 and all(r.url.path == "/api/v1/event/" for r in requests)
    assert all(int(r.url.params["_limit"]) <= EVENT_LIMIT for r in requests)
    assert [bool(r.url.params.get("_cursor")) for r in requests] == [False, True, True]
    assert all(r.url.params["object_type"] == "opportunity" and r.url.params["action"] == "deleted"
               for r in requests)
    assert await close.deleted_since(datetime.now(UTC) + timedelta(seconds=5)) == []
    await close.aclose()


async def test_deleted_since_beyond_what_the_log_keeps_is_none_without_asking(fake_close: FakeClose) -> None:
    close = make(fake_close)
    start = len(fake_close.requests)
    assert await close.deleted_since(datetime.now(UTC) - timedelta(days=31)) is None
    assert since(fake_close, start) == []
    assert await close.deleted_since(datetime.now(UTC) - timedelta(days=29)) == []
    await close.aclose()


# -- resuming a saved board ---------------------------------------------------------------------


async def saved_board(fake_close: FakeClose) -> tuple[Pipeline, list[Opportunity], str, datetime]:
    """What a first run leaves behind: the pipeline, its cards, the cursor and when it was saved."""
    first = make(fake_close)
    pipeline = await sales(first)
    cursor = (await first.changes_since(pipeline, None)).cursor
    assert cursor is not None
    cards = [o for page in [p async for p in first.load_opportunities(pipeline)] for o in page.opportunities]
    await first.aclose()
    return pipeline, cards, cursor, datetime.now(UTC)


async def test_resuming_when_nothing_changed_costs_two_requests(fake_close: FakeClose) -> None:
    pipeline, cards, cursor, saved_at = await saved_board(fake_close)
    close = make(fake_close)
    start = len(fake_close.requests)
    changes = await close.resume(pipeline, cards, cursor, saved_at)
    assert changes is not None and changes.empty and changes.cursor is not None
    assert len(since(fake_close, start)) <= 2
    start = len(fake_close.requests)
    assert (await close.changes_since(pipeline, changes.cursor)).empty, "primed: the overlap is not news"
    assert len(since(fake_close, start)) == 1
    await close.aclose()


async def test_a_deal_moved_added_and_deleted_while_closed_all_come_with_the_resume(fake_close: FakeClose) -> None:
    pipeline, cards, cursor, saved_at = await saved_board(fake_close)
    moved, deleted, left, untouched = (c.id for c in cards[:4])
    won = next(s for s in pipeline.statuses if s.kind is StatusKind.WON)
    fake_close.teammate_move(moved, won.id)
    added = fake_close.add_opportunity(pipeline.statuses[0].id, lead_name="New While Closed")["id"]
    fake_close.delete_opportunity(deleted)
    fake_close.teammate_move(left, fake_close.pipelines[1]["statuses"][0]["id"])
    fake_close.teammate_edit(untouched, note="")  # touched, not changed as the board shows it: harmless
    close = make(fake_close)
    start = len(fake_close.requests)
    changes = await close.resume(pipeline, cards, cursor, saved_at)
    assert changes is not None
    upserted = {o.id: o for o in changes.upserted}
    assert upserted[moved].status_id == won.id and added in upserted
    assert sorted(changes.removed) == sorted([deleted, left])
    assert len(since(fake_close, start)) == 2
    # the next poll starts from what the resume saw: nothing again
    assert (await close.changes_since(pipeline, changes.cursor)).empty
    await close.aclose()


async def test_a_saved_board_older_than_the_event_log_keeps_means_a_full_load(fake_close: FakeClose) -> None:
    pipeline, cards, cursor, _ = await saved_board(fake_close)
    close = make(fake_close)
    start = len(fake_close.requests)
    assert await close.resume(pipeline, cards, cursor, datetime.now(UTC) - timedelta(days=31)) is None
    assert since(fake_close, start) == [], "decided without asking"
    await close.aclose()


async def test_a_shorter_log_in_the_fake_is_honored_when_the_backend_is_told(fake_close: FakeClose) -> None:
    pipeline, cards, cursor, saved_at = await saved_board(fake_close)
    fake_close.event_retention = timedelta(hours=1)
    close = make(fake_close, event_log_keeps=timedelta(hours=1))
    assert await close.resume(pipeline, cards, cursor, saved_at - timedelta(hours=2)) is None
    assert await close.resume(pipeline, cards, cursor, saved_at) is not None
    await close.aclose()


@pytest.mark.parametrize("what", ["no cursor", "bad cursor", "unknown status"])
async def test_a_resume_it_cannot_trust_is_none(fake_close: FakeClose, what: str) -> None:
    pipeline, cards, cursor, saved_at = await saved_board(fake_close)
    if what == "no cursor":
        cursor = None  # type: ignore[assignment]
    elif what == "bad cursor":
        cursor = "yesterday-ish"
    else:
        cards = [cards[0].model_copy(update={"status_id": "stat_gone"}), *cards[1:]]
    close = make(fake_close)
    start = len(fake_close.requests)
    assert await close.resume(pipeline, cards, cursor, saved_at) is None
    assert since(fake_close, start) == []
    await close.aclose()


# -- polling after a load: deletions from the Event Log -----------------------------------------


async def test_the_periodic_reconcile_reads_the_event_log_not_the_whole_pipeline(fake_close: FakeClose) -> None:
    clock = [0.0]
    close = make(fake_close, reconcile_every=300.0, clock=lambda: clock[0])
    pipeline = await sales(close)
    cursor = (await close.changes_since(pipeline, None)).cursor
    [page async for page in close.load_opportunities(pipeline)]
    gone = in_pipeline(fake_close, pipeline)[7]["id"]
    fake_close.delete_opportunity(gone)
    clock[0] = 301.0
    start = len(fake_close.requests)
    changes = await close.changes_since(pipeline, cursor)
    assert changes.removed == [gone]
    requests = since(fake_close, start)
    assert len(requests) == 3, "the delta, the deletions, the count"
    assert sum(r.url.path == "/api/v1/event/" for r in requests) == 1
    assert not [r for r in requests if r.url.params.get("_fields") == "id" and r.url.params.get("_limit") != "1"]


async def test_a_reconcile_beyond_what_the_log_keeps_lists_the_pipeline(fake_close: FakeClose) -> None:
    clock = [0.0]
    wall = [datetime.now(UTC)]
    close = make(fake_close, reconcile_every=300.0, clock=lambda: clock[0], now=lambda: wall[0])
    pipeline = await sales(close)
    cursor = (await close.changes_since(pipeline, None)).cursor
    [page async for page in close.load_opportunities(pipeline)]
    gone = in_pipeline(fake_close, pipeline)[3]["id"]
    fake_close.delete_opportunity(gone)
    clock[0], wall[0] = 301.0, wall[0] + timedelta(days=40)  # the laptop slept for 40 days
    start = len(fake_close.requests)
    changes = await close.changes_since(pipeline, cursor)
    assert changes.removed == [gone]
    requests = since(fake_close, start)
    assert not [r for r in requests if r.url.path == "/api/v1/event/"]
    listing = [r for r in requests if r.url.params.get("_fields") == "id"]
    assert len(listing) == 5 and len(requests) == 1 + 5, "the delta, then the id-only listing's 5 pages: no count"
