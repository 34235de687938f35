"""Contract tests: the Close backend against the fake Close server (no network)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from kanban_tui.backends.close import FIELDS, CloseBackend, status_color
from kanban_tui.backends.errors import (
    AuthError,
    BackendError,
    NotFoundError,
    RefusedError,
    UnavailableError,
)
from kanban_tui.backends.http import RateLimit
from kanban_tui.models import Period, Pipeline, StatusKind

from .fakes.close import FakeClose

KEY = "test-close-key"
BASE = "https://api.close.com/api/v1/"

pytestmark = pytest.mark.fake_seed(sales=300, other=150)


class Sleeps(list[float]):
    """Stands in for asyncio.sleep: records the waits instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make(fake_close: FakeClose, sleeps: Sleeps, key: str = KEY, **options: object) -> CloseBackend:
    return CloseBackend(
        key, base_url=BASE, transport=httpx.MockTransport(fake_close.handler), sleep=sleeps, **options  # type: ignore[arg-type]
    )


@pytest.fixture
async def close(fake_close: FakeClose, sleeps: Sleeps) -> AsyncIterator[CloseBackend]:
    backend = make(fake_close, sleeps)
    yield backend
    await backend.aclose()


async def sales(close: CloseBackend) -> Pipeline:
    return next(p for p in await close.list_pipelines() if p.name == "Sales")


async def load_all(close: CloseBackend, pipeline: Pipeline) -> list:
    pages = [page async for page in close.load_opportunities(pipeline)]
    return pages


def sales_ids(fake_close: FakeClose, pipeline: Pipeline) -> set[str]:
    ids = {s.id for s in pipeline.statuses}
    return {o["id"] for o in fake_close.opportunities.values() if o["status_id"] in ids}


def requests_since(fake_close: FakeClose, start: int) -> list[httpx.Request]:
    return fake_close.requests[start:]


# -- pipelines ------------------------------------------------------------------------------


async def test_pipelines_come_with_statuses_in_close_order_and_a_palette(close: CloseBackend,
                                                                         fake_close: FakeClose) -> None:
    pipelines = await close.list_pipelines()
    assert [p.name for p in pipelines] == [p["name"] for p in fake_close.pipelines]
    pipeline = await sales(close)
    raw = next(p for p in fake_close.pipelines if p["name"] == "Sales")
    assert [s.id for s in pipeline.statuses] == [s["id"] for s in raw["statuses"]]
    kinds = {s.label: s.kind for s in pipeline.statuses}
    assert kinds["Won"] is StatusKind.WON and kinds["Lost"] is StatusKind.LOST and kinds["Lead"] is StatusKind.OPEN
    colors = [s.color for s in pipeline.statuses]
    assert colors[-2:] == [status_color(StatusKind.WON, 0), status_color(StatusKind.LOST, 0)]
    assert len(set(colors[:-2])) == len(colors) - 2, "open statuses get distinct colors"


async def test_requests_use_basic_auth_with_the_key_and_name_the_app(close: CloseBackend,
                                                                     fake_close: FakeClose) -> None:
    await close.list_pipelines()
    request = fake_close.requests[-1]
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert request.headers["user-agent"].startswith("dealboard/")
    assert request.url.path == "/api/v1/pipeline/"


async def test_a_wrong_key_says_close_rejected_it(fake_close: FakeClose, sleeps: Sleeps) -> None:
    backend = make(fake_close, sleeps, key="wrong")
    with pytest.raises(AuthError) as info:
        await backend.list_pipelines()
    assert info.value.status_code == 401
    assert str(info.value) == "Close 401: Close rejected the API key - check CLOSE_API_KEY"
    assert "wrong" not in str(info.value)


@pytest.mark.parametrize("url", ["http://api.close.com/api/v1/", "ftp://x/"])
def test_plain_http_is_refused_except_to_loopback(url: str) -> None:
    with pytest.raises(BackendError):
        CloseBackend(KEY, base_url=url)
    CloseBackend(KEY, base_url="http://127.0.0.1:8765/api/v1/")
    CloseBackend(KEY, base_url="http://localhost:8765/api/v1/")


# -- the first load -------------------------------------------------------------------------


async def test_the_first_load_pages_through_every_opportunity_of_the_pipeline(
    close: CloseBackend, fake_close: FakeClose
) -> None:
    pipeline = await sales(close)
    start = len(fake_close.requests)
    pages = await load_all(close, pipeline)
    got = [o.id for page in pages for o in page.opportunities]
    assert len(got) == len(set(got)) == 300
    assert set(got) == sales_ids(fake_close, pipeline)
    assert [p.loaded for p in pages] == [100, 200, 300]
    assert pages[-1].total == 300 and pages[0].total == 300
    for request in requests_since(fake_close, start):
        params = request.url.params
        assert params["_limit"] == "100" and "_fields" in params
        assert set(params["status_id__in"].split(",")) == {s.id for s in pipeline.statuses}


async def test_paging_follows_has_more_when_the_server_returns_less_than_asked(sleeps: Sleeps) -> None:
    fake_close = FakeClose(KEY, limit_cap=30)
    fake_close.seed(sales=95, other=10)
    backend = make(fake_close, sleeps)
    pipeline = await sales(backend)
    pages = await load_all(backend, pipeline)
    assert [p.loaded for p in pages] == [30, 60, 90, 95]
    assert {o.id for page in pages for o in page.opportunities} == sales_ids(fake_close, pipeline)


async def test_cents_periods_and_stalls_arrive_as_close_has_them(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    cards = {o.id: o for page in await load_all(close, pipeline) for o in page.opportunities}
    for opportunity_id, card in cards.items():
        raw = fake_close.opportunities[opportunity_id]
        assert card.value == raw["value"] and card.currency == (raw["value_currency"] or "USD")
        assert card.period is Period(raw["value_period"])
        assert card.stalled is bool(raw["is_stalled"])
        assert card.name == raw["lead_name"] and card.owner == raw["user_name"]
    assert any(c.stalled for c in cards.values()) and any(c.period is Period.MONTHLY for c in cards.values())


async def test_an_empty_page_that_claims_more_ends_the_load_with_a_warning(close: CloseBackend,
                                                                           fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    fake_close.fail_next("GET", "opportunity/", 200, json={"data": [], "has_more": True, "total_results": 300})
    pages = await load_all(close, pipeline)
    assert len(pages) == 1 and pages[0].loaded == 0
    assert "more opportunities but sent none" in pages[0].skipped[0]


async def test_records_of_the_wrong_shape_are_skipped_and_named(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline = await sales(close)
    status_id = pipeline.statuses[0].id
    good = {
        "id": "oppo_ok", "lead_id": "lead_1", "lead_name": "Good Co", "status_id": status_id, "value": 100,
        "value_currency": "USD", "value_period": "one_time", "confidence": 50, "user_name": "A B",
        "date_created": "2026-01-01T00:00:00+00:00", "date_updated": "2026-01-02T00:00:00+00:00",
    }
    bad = dict(good, id="oppo_bad", confidence=250)
    missing = {"id": "oppo_missing", "status_id": status_id}
    fake_close.fail_next("GET", "opportunity/", 200, json={"data": [good, bad, missing], "has_more": False,
                                                           "total_results": 3})
    pages = await load_all(close, pipeline)
    assert [o.id for o in pages[0].opportunities] == ["oppo_ok"]
    assert len(pages[0].skipped) == 2 and "oppo_bad" in pages[0].skipped[0] and "confidence" in pages[0].skipped[0]


# -- polling --------------------------------------------------------------------------------


async def loaded_board(close: CloseBackend) -> tuple[Pipeline, str]:
    pipeline = await sales(close)
    cursor = (await close.changes_since(pipeline, None)).cursor
    assert cursor is not None
    await load_all(close, pipeline)
    return pipeline, cursor


async def test_an_idle_poll_is_one_small_request(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline, cursor = await loaded_board(close)
    start = len(fake_close.requests)
    changes = await close.changes_since(pipeline, cursor)
    assert changes.empty
    polled = requests_since(fake_close, start)
    assert len(polled) == 1
    assert "date_updated__gt" in polled[0].url.params and "status_id__in" not in polled[0].url.params


async def test_a_teammates_move_arrives_once(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline, cursor = await loaded_board(close)
    some = sorted(sales_ids(fake_close, pipeline))[0]
    won = next(s for s in pipeline.statuses if s.kind is StatusKind.WON)
    fake_close.teammate_move(some, won.id)
    changes = await close.changes_since(pipeline, cursor)
    assert [(o.id, o.status_id) for o in changes.upserted] == [(some, won.id)]
    again = await close.changes_since(pipeline, changes.cursor)
    assert again.empty, "the overlap brings it again; it is de-duplicated"


async def test_a_card_moved_to_another_pipeline_leaves_the_board(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline, cursor = await loaded_board(close)
    some = sorted(sales_ids(fake_close, pipeline))[0]
    other = next(p for p in fake_close.pipelines if p["name"] != "Sales")["statuses"][0]["id"]
    fake_close.teammate_move(some, other)
    changes = await close.changes_since(pipeline, cursor)
    assert changes.removed == [some] and not changes.upserted


async def test_deletions_are_found_by_the_periodic_id_only_reconcile(fake_close: FakeClose, sleeps: Sleeps) -> None:
    clock = [0.0]
    backend = make(fake_close, sleeps, reconcile_every=300.0, clock=lambda: clock[0])
    pipeline, cursor = await loaded_board(backend)
    gone = sorted(sales_ids(fake_close, pipeline))[5]
    fake_close.delete_opportunity(gone)
    changes = await backend.changes_since(pipeline, cursor)
    assert changes.empty, "not yet time to reconcile: a poll stays one request"
    clock[0] = 301.0
    start = len(fake_close.requests)
    changes = await backend.changes_since(pipeline, changes.cursor)
    assert changes.removed == [gone]
    reconcile = [r for r in requests_since(fake_close, start) if "status_id__in" in r.url.params]
    assert reconcile and all(r.url.params["_fields"] == "id" for r in reconcile)


def per_card_gets(fake_close: FakeClose, start: int) -> list[httpx.Request]:
    return [r for r in requests_since(fake_close, start)
            if r.method == "GET" and r.url.path.startswith("/api/v1/opportunity/oppo_")]


async def test_a_load_that_lost_pages_is_completed_by_listing_pages_never_a_request_per_card(
    fake_close: FakeClose, sleeps: Sleeps
) -> None:
    clock = [0.0]
    backend = make(fake_close, sleeps, reconcile_every=300.0, clock=lambda: clock[0])
    pipeline = await sales(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    pages = backend.load_opportunities(pipeline)
    assert isinstance(pages, AsyncGenerator)
    first = await anext(pages)  # the load stops after its first page: 200 of 300 cards never arrived
    await pages.aclose()
    assert first.loaded == 100
    start = len(fake_close.requests)
    changes = await backend.changes_since(pipeline, cursor)
    assert {o.id for o in changes.upserted} == sales_ids(fake_close, pipeline) - {o.id for o in first.opportunities}
    assert not changes.removed
    assert not per_card_gets(fake_close, start), "the 200 missing cards come by pages, not one GET each"
    assert len(requests_since(fake_close, start)) <= 1 + 3 + 3, "the delta, the id-only listing, the full listing"
    listings = [r for r in requests_since(fake_close, start) if "status_id__in" in r.url.params]
    assert {r.url.params["_fields"] for r in listings} == {"id", FIELDS}, "ids first, then full pages"


async def test_a_few_missing_cards_are_fetched_one_get_each(fake_close: FakeClose, sleeps: Sleeps) -> None:
    clock = [0.0]
    backend = make(fake_close, sleeps, reconcile_every=300.0, clock=lambda: clock[0])
    pipeline, cursor = await loaded_board(backend)
    status_id = pipeline.statuses[0].id
    old = datetime(2001, 1, 1, tzinfo=UTC)  # older than the cursor: the delta query does not bring them
    added = [fake_close.add_opportunity(status_id, lead_name=f"Late {i}", created=old,
                                        updated=old)["id"] for i in range(3)]
    clock[0] = 301.0
    start = len(fake_close.requests)
    changes = await backend.changes_since(pipeline, cursor)
    assert sorted(o.id for o in changes.upserted) == sorted(added)
    assert sorted(r.url.path.split("/")[-2] for r in per_card_gets(fake_close, start)) == sorted(added)


async def test_fetch_one_is_one_get_and_none_when_gone_or_in_another_pipeline(
    close: CloseBackend, fake_close: FakeClose
) -> None:
    pipeline = await sales(close)
    some, other, gone = sorted(sales_ids(fake_close, pipeline))[:3]
    start = len(fake_close.requests)
    found = await close.fetch_one(pipeline, some)
    assert found == _card(fake_close, some)
    assert len(requests_since(fake_close, start)) == 1 and per_card_gets(fake_close,
                                                                         start)[0].url.params["_fields"] == FIELDS
    elsewhere = next(p for p in fake_close.pipelines if p["name"] != "Sales")["statuses"][0]["id"]
    fake_close.teammate_move(other, elsewhere)
    assert await close.fetch_one(pipeline, other) is None
    fake_close.delete_opportunity(gone)
    assert await close.fetch_one(pipeline, gone) is None


async def test_after_the_first_load_no_request_fetches_the_whole_board(close: CloseBackend,
                                                                       fake_close: FakeClose) -> None:
    pipeline, first = await loaded_board(close)
    cursor: str | None = first
    start = len(fake_close.requests)
    ids = sorted(sales_ids(fake_close, pipeline))
    for i in range(5):
        fake_close.teammate_move(ids[i], pipeline.statuses[(i + 1) % 5].id)
        cursor = (await close.changes_since(pipeline, cursor)).cursor
    await close.move(_card(fake_close, ids[9]), pipeline.statuses[2])
    for request in requests_since(fake_close, start):
        full_listing = request.url.path.endswith("/opportunity/") and "date_updated__gt" not in request.url.params
        assert not (full_listing and request.url.params.get("_fields") != "id"), request.url


def _card(fake_close: FakeClose, opportunity_id: str):
    from kanban_tui.backends.close import to_opportunity

    return to_opportunity(fake_close.opportunities[opportunity_id])


# -- moves ----------------------------------------------------------------------------------


async def test_a_move_puts_only_the_status_id_and_won_sets_date_won(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline, _ = await loaded_board(close)
    some = next(i for i in sorted(sales_ids(fake_close,
                                            pipeline)) if fake_close.opportunities[i]["status_type"] == "active")
    won = next(s for s in pipeline.statuses if s.kind is StatusKind.WON)
    moved = await close.move(_card(fake_close, some), won)
    put = fake_close.requests[-1]
    assert put.method == "PUT" and put.url.path == f"/api/v1/opportunity/{some}/"
    assert json.loads(put.content) == {"status_id": won.id}
    assert moved.status_id == won.id and moved.date_won is not None
    assert fake_close.opportunities[some]["status_id"] == won.id


async def test_a_move_of_a_deleted_card_says_it_is_gone(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline, _ = await loaded_board(close)
    some = sorted(sales_ids(fake_close, pipeline))[0]
    card = _card(fake_close, some)
    fake_close.delete_opportunity(some)
    with pytest.raises(NotFoundError, match="no longer exists in Close"):
        await close.move(card, pipeline.statuses[1])


async def test_a_400_names_the_field_and_the_message(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline, _ = await loaded_board(close)
    some = sorted(sales_ids(fake_close, pipeline))[0]
    fake_close.fail_next("PUT", "opportunity/", 400, json={"errors": [], "field-errors": {"status_id": "Not allowed."}})
    with pytest.raises(RefusedError) as info:
        await close.move(_card(fake_close, some), pipeline.statuses[1])
    assert str(info.value) == "Close 400: status_id: Not allowed."


async def test_a_500_on_a_read_is_retried_with_backoff_and_on_a_move_is_not(
    close: CloseBackend, fake_close: FakeClose, sleeps: Sleeps
) -> None:
    pipeline, _ = await loaded_board(close)
    some = sorted(sales_ids(fake_close, pipeline))[0]
    fake_close.fail_next("GET", "opportunity/", 500, json={"error": "boom"}, times=2)
    assert await close.fetch_one(pipeline, some) is not None
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 0.9, "exponential, with jitter"
    fake_close.fail_next("PUT", "opportunity/", 500, json={"error": "boom"})
    start = len(fake_close.requests)
    with pytest.raises(UnavailableError):
        await close.move(_card(fake_close, some), pipeline.statuses[3])
    assert len(requests_since(fake_close, start)) == 1, "a write is not repeated by the client (the session retries it)"


async def test_a_move_that_keeps_failing_raises_unavailable(close: CloseBackend, fake_close: FakeClose) -> None:
    pipeline, _ = await loaded_board(close)
    some = sorted(sales_ids(fake_close, pipeline))[0]
    before = fake_close.opportunities[some]["status_id"]
    fake_close.fail_next("PUT", "opportunity/", 503, times=10)
    with pytest.raises(UnavailableError) as info:
        await close.move(_card(fake_close, some), pipeline.statuses[3])
    assert info.value.status_code == 503 and fake_close.opportunities[some]["status_id"] == before


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")])
async def test_timeouts_and_dropped_connections_retry_then_fail_plainly(
    close: CloseBackend, fake_close: FakeClose, sleeps: Sleeps, exc: Exception
) -> None:
    fake_close.fail_next("GET", "pipeline/", 0, exc=exc, times=10)
    with pytest.raises(UnavailableError) as info:
        await close.list_pipelines()
    assert len(sleeps) == 3 and str(info.value).startswith("Close: ")


# -- rate limits ----------------------------------------------------------------------------


async def test_a_429_waits_as_retry_after_says(close: CloseBackend, fake_close: FakeClose, sleeps: Sleeps) -> None:
    fake_close.fail_next("GET", "pipeline/", 429, headers={"Retry-After": "3",
                                                           "RateLimit": "limit=100, remaining=0, reset=2.5"})
    assert await close.list_pipelines()
    assert sleeps == [3.0]


async def test_a_429_with_only_a_ratelimit_header_waits_for_its_reset(
    close: CloseBackend, fake_close: FakeClose, sleeps: Sleeps
) -> None:
    fake_close.fail_next("GET", "pipeline/", 429, headers={"RateLimit": "limit=100, remaining=0, reset=1.5"})
    assert await close.list_pipelines()
    assert sleeps == [1.5]


async def test_the_client_slows_down_as_remaining_falls(close: CloseBackend, fake_close: FakeClose,
                                                        sleeps: Sleeps) -> None:
    fake_close.rate_limit, fake_close.rate_remaining = 100, 10
    await close.list_pipelines()
    assert close.api.rate_limit is not None and close.api.rate_limit.remaining <= 10
    await close.list_pipelines()
    assert sleeps and 0 < sleeps[0] <= 5.0, "paced before the window runs out"


def test_ratelimit_headers_parse_with_decimal_resets() -> None:
    assert RateLimit.parse("limit=100, remaining=50, reset=2.5") == RateLimit(100, 50, 2.5)
    assert RateLimit.parse("nonsense") is None
    assert RateLimit(100, 80, 5).pace() == 0.0 and RateLimit(100, 5, 5).pace() == 1.0
