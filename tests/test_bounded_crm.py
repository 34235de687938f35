"""Issue 21 "Live board truth", items 5, 6, 12, 13 and 14: a hostile or broken CRM gets bounded, honest
behaviour, and the CRM's clock is the one its times are read by.

5.  One deal dated in the future does not blind polling: no changes cursor runs ahead of the CRM's clock
    (its `Date` header, else this machine's), Close and BottleCRM alike.
6.  A board saved by a clock that was ahead still learns of the deletions made since.
12. `Retry-After: inf` or `1e12` does not freeze the session: waits are capped (15 minutes), a wait that is
    not a finite number is no wait at all, and `r` always tries (it ends any wait).
13. A listing that says "more" for ever ends (a page that adds nothing new, or too many pages) with a
    line saying so, in every backend, and removes nothing from the board.
14. Deeply nested JSON is one typed error, for the board and for `dealboard summary`.

Property tests (derandomized by the suite's profile, few examples each) grow the strategies for these
classes: far future and far past dates, non-finite and huge numbers, text, endless pages.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanban_tui.backends.bottlecrm import BottleCrmBackend
from kanban_tui.backends.close import CloseBackend, parse_when
from kanban_tui.backends.clustr import ClustrBackend
from kanban_tui.backends.errors import MAX_RATE_WAIT, RateLimitedError, RefusedError, UnavailableError
from kanban_tui.backends.http import MAX_JSON_DEPTH, HttpApi, Listing, RateLimit, retry_after_seconds
from kanban_tui.backends.telecrm import TeleCrmBackend
from kanban_tui.models import Page, Pipeline
from kanban_tui.sync.phase import ago
from kanban_tui.sync.protocol import Poll
from kanban_tui.widgets.status_bar import status_line

from .fakes.base import deep_json, no_wait
from .fakes.bottlecrm import FakeBottleCrm
from .fakes.close import FakeClose
from .fakes.clustr import FakeClustr
from .fakes.telecrm import FakeTeleCrm
from .test_http import FakeTime, Server, answer, make, settle
from .test_session import _one
from .test_session_states import SessionMachine

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KEY = "test-close-key"
CLOSE = "https://api.close.com/api/v1/"
FUTURE = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
ENDLESS = 1000
"""How many answers an endless listing gets in these tests: a bound the fix must stay far below (code that
follows it for ever would run out of them and then read the real, short list)."""


class Clock:
    """A wall clock the test moves on (the fake CRM's and the backend's)."""

    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def close_fake(clock: Clock, sales: int = 30, validate: bool = True) -> FakeClose:
    fake = FakeClose(KEY, clock=clock, validate=validate)
    fake.seed(sales=sales, other=5)
    return fake


def close_backend(fake: FakeClose, clock: Clock, **options: Any) -> CloseBackend:
    return CloseBackend(KEY, base_url=CLOSE, transport=httpx.MockTransport(fake.handler), sleep=no_wait, now=clock,
                        **options)


async def sales_of(backend: Any) -> Pipeline:
    return next(p for p in await backend.list_pipelines() if p.name in ("Sales", "Opportunities", "Leads"))


async def pages_of(backend: Any, pipeline: Pipeline) -> list[Page]:
    return [page async for page in backend.load_opportunities(pipeline)]


def cursor_time(cursor: str | None) -> datetime:
    """When a changes cursor stands (a test that expects one fails here if there is none)."""
    assert cursor is not None, "no cursor"
    return parse_when(cursor)


def in_sales(fake: FakeClose) -> list[str]:
    ids = {s["id"] for s in fake.pipelines[0]["statuses"]}
    return [i for i, o in fake.opportunities.items() if o["status_id"] in ids]


def another_status(fake: FakeClose, opportunity_id: str) -> str:
    current = fake.opportunities[opportunity_id]["status_id"]
    return next(s["id"] for s in fake.pipelines[0]["statuses"] if s["id"] != current)


# -- 5. one deal dated in the future ------------------------------------------------------------------------


@pytest.mark.parametrize("date_header", [True, False], ids=["date-header", "no-date-header"])
async def test_5_one_close_deal_dated_in_the_future_does_not_hide_later_changes(date_header: bool) -> None:
    clock = Clock()
    fake = close_fake(clock)
    if not date_header:
        fake.date = None  # then this machine's clock is the ceiling
    close = close_backend(fake, clock)
    pipeline = await sales_of(close)
    cursor = (await close.changes_since(pipeline, None)).cursor
    await pages_of(close, pipeline)
    dated, moved = in_sales(fake)[:2]

    clock.at += timedelta(minutes=1)
    fake.write_dated(dated, FUTURE, lead_name="Dated 2030 by an integration")
    changes = await close.changes_since(pipeline, cursor)
    assert [o.id for o in changes.upserted] == [dated]
    assert cursor_time(changes.cursor) <= clock.at, "the cursor never runs ahead of Close's clock"

    clock.at += timedelta(minutes=1)
    fake.teammate_move(moved, another_status(fake, moved))
    later = await close.changes_since(pipeline, changes.cursor)
    assert [o.id for o in later.upserted] == [moved], "seen, and the future-dated deal not reported again"
    assert cursor_time(later.cursor) <= clock.at
    await close.aclose()


async def test_5_the_first_cursor_is_not_the_future_deal_and_a_cursor_from_the_future_is_pulled_back() -> None:
    clock = Clock()
    fake = close_fake(clock)
    dated, moved, third = in_sales(fake)[:3]
    fake.write_dated(dated, FUTURE)
    close = close_backend(fake, clock)
    pipeline = await sales_of(close)
    cursor = (await close.changes_since(pipeline, None)).cursor  # the newest date_updated: the 2030 one
    assert cursor_time(cursor) <= clock.at
    await pages_of(close, pipeline)

    clock.at += timedelta(minutes=1)
    fake.teammate_move(moved, another_status(fake, moved))
    changes = await close.changes_since(pipeline, cursor)
    assert moved in {o.id for o in changes.upserted}

    clock.at += timedelta(minutes=1)
    fake.teammate_move(third, another_status(fake, third))
    kept_by_an_older_version = FUTURE.isoformat()
    changes = await close.changes_since(pipeline, kept_by_an_older_version)
    assert third in {o.id for o in changes.upserted}, "a cursor ahead of the clock is pulled back to it"
    assert cursor_time(changes.cursor) <= clock.at
    await close.aclose()


async def test_5_one_bottlecrm_event_dated_in_the_future_does_not_hide_later_ones() -> None:
    fake = FakeBottleCrm(clock=lambda: NOW)
    fake.seed(40)
    backend = BottleCrmBackend(fake.token, base_url="http://127.0.0.1:8000",
                               transport=httpx.MockTransport(fake.handler), sleep=no_wait, now=lambda: NOW)
    pipeline = next(p for p in await backend.list_pipelines() if p.name == "Sales")
    cursor = (await backend.changes_since(pipeline, None)).cursor
    held = {o.id: o for page in await pages_of(backend, pipeline) for o in page.opportunities}
    dated, moved = list(held)[:2]

    fake.edit_dated(dated, FUTURE, name="Dated 2030 by a wrong clock")
    changes = await backend.changes_since(pipeline, cursor)
    assert [o.id for o in changes.upserted] == [dated]
    assert changes.cursor is not None
    assert datetime.fromisoformat(changes.cursor) <= NOW + timedelta(seconds=1), "not the event's 2030"

    target = next(s.id for s in pipeline.statuses if s.id != held[moved].status_id)
    fake.teammate_move(moved, target)
    later = await backend.changes_since(pipeline, changes.cursor)
    assert [o.id for o in later.upserted] == [moved] and later.upserted[0].status_id == target
    await backend.aclose()


# -- 6. a copy saved by a clock that was ahead ---------------------------------------------------------------


async def test_6_a_board_saved_by_a_clock_that_was_ahead_still_learns_of_the_deletions_since() -> None:
    clock = Clock()
    fake = close_fake(clock)
    close = close_backend(fake, clock)
    pipeline = await sales_of(close)
    cursor = (await close.changes_since(pipeline, None)).cursor
    cards = [o for page in await pages_of(close, pipeline) for o in page.opportunities]
    await close.aclose()
    saved_at = NOW + timedelta(hours=3)  # this machine's clock was 3 hours ahead when it kept the board

    clock.at = NOW + timedelta(minutes=20)  # the app is closed; the clock has been put right
    gone = cards[0].id
    fake.delete_opportunity(gone)
    warm = close_backend(fake, clock)
    pipeline = await sales_of(warm)
    changes = await warm.resume(pipeline, cards, cursor, saved_at)
    assert changes is not None and changes.removed == [gone], "asked from a sane time, not from the future"
    deletions = [r for r in fake.requests if r.url.path.endswith("/event/")]
    assert all(parse_when(r.url.params["date_updated__gte"]) <= clock.at for r in deletions if
               "date_updated__gte" in r.url.params)
    await warm.aclose()


async def test_6_a_saved_cursor_ahead_of_the_clock_is_not_used_the_board_loads_whole() -> None:
    clock = Clock()
    fake = close_fake(clock)
    close = close_backend(fake, clock)
    pipeline = await sales_of(close)
    cards = [o for page in await pages_of(close, pipeline) for o in page.opportunities]
    start = len(fake.requests)
    assert await close.resume(pipeline, cards, FUTURE.isoformat(), NOW) is None
    assert len(fake.requests) == start, "no request: the caller loads the board whole behind the copy"
    await close.aclose()


def test_6_a_time_ahead_of_the_clock_is_not_said_to_be_just_now() -> None:
    assert ago(NOW + timedelta(hours=3), NOW) == "an unknown time ago (clock ahead)"
    assert ago(NOW + timedelta(seconds=5), NOW) == "just now", "a few seconds of skew is still now"
    assert ago(NOW - timedelta(minutes=5), NOW) == "5m ago"


# -- 12. Retry-After: inf, 1e12; r always tries -----------------------------------------------------------


def test_12_a_wait_that_is_not_a_finite_number_is_no_wait_and_none_is_over_15_minutes() -> None:
    request = httpx.Request("GET", "https://crm.example/")

    def after(headers: dict[str, str]) -> float | None:
        return retry_after_seconds(httpx.Response(429, headers=headers, request=request), now=NOW)

    for text in ("inf", "Infinity", "-inf", "nan", "NaN", "1e400"):
        assert after({"Retry-After": text}) is None, text
    assert after({"Retry-After": "inf", "RateLimit": "limit=100, remaining=0, reset=9"}) == 9.0
    assert after({"Retry-After": "1e12"}) == MAX_RATE_WAIT == 900.0
    assert after({"Retry-After": "-5"}) == 0.0
    assert after({"RateLimit": "limit=100, remaining=0, reset=1e12"}) is not None
    assert after({"RateLimit": "limit=100, remaining=0, reset=99999999999999"}) == MAX_RATE_WAIT
    assert after({"RateLimit": "limit=100, remaining=0, reset=..."}) is None
    assert RateLimit.parse("limit=100, remaining=0, reset=...") is None
    assert RateLimit.parse("limit=" + "9" * 5000 + ", remaining=0, reset=1") is None
    far = format_datetime(NOW + timedelta(days=400), usegmt=True)
    assert after({"Retry-After": far}) == MAX_RATE_WAIT
    assert after({"Retry-After": format_datetime(NOW + timedelta(seconds=90), usegmt=True),
                  "Date": format_datetime(NOW + timedelta(seconds=60), usegmt=True)}) == 30.0, \
        "a date is counted on the CRM's own clock"
    assert RateLimitedError("slow", retry_after=math.inf).retry_after is None
    assert RateLimitedError("slow", retry_after=1e12).retry_after == MAX_RATE_WAIT


async def test_12_retry_after_inf_does_not_freeze_the_client() -> None:
    clock = FakeTime()
    server = Server(clock, answer(429, {"Retry-After": "inf"}))
    api = make(server, clock)
    assert await api.request("GET", "things") == {"ok": True}, "treated as absent: a short backoff, then again"
    assert all(math.isfinite(s) and s <= 1.0 for s in clock.sleeps) and len(server.requests) == 2
    assert api.rate_wait_left() == 0.0


async def test_12_retry_after_1e12_waits_15_minutes_at_most_and_wake_sends_at_once() -> None:
    clock = FakeTime()
    server = Server(clock, answer(429, {"Retry-After": "1e12"}))
    api = make(server, clock)
    with pytest.raises(RateLimitedError) as info:
        await api.request("GET", "things")
    assert info.value.retry_after == MAX_RATE_WAIT and api.rate_wait_left() == MAX_RATE_WAIT
    with pytest.raises(RateLimitedError):
        await api.request("GET", "things")
    assert len(server.requests) == 1, "held back: not sent"
    api.wake()  # the user pressed r
    assert api.rate_wait_left() == 0.0
    assert await api.request("GET", "things") == {"ok": True}
    assert len(server.requests) == 2 and clock.sleeps == []


async def test_12_wake_ends_a_wait_in_progress() -> None:
    clock = FakeTime(auto=False)
    server = Server(clock, answer(429, {"Retry-After": "30"}))
    api = make(server, clock)
    task = asyncio.ensure_future(api.request("GET", "things"))
    await settle()
    assert len(clock.sleepers) == 1 and not task.done(), "waiting the 30 s out inside the request"
    api.wake()
    await settle()
    assert task.done() and task.result() == {"ok": True} and clock.now == 1000.0
    assert len(server.requests) == 2


def test_12_the_session_never_waits_for_ever_and_r_always_tries() -> None:
    m = SessionMachine()
    m.start()
    try:
        for wait in (math.inf, 1e12, 600.0):
            poll = next(j for j in m.outstanding if isinstance(j, Poll))
            m.outstanding.remove(poll)
            error = RateLimitedError("slow", crm="Fake", status_code=429, retry_after=wait)
            error.__dict__["_retry_after"] = wait  # unchecked, as an error made elsewhere might carry it
            for event in m.loop.run_until_complete(_one(m, poll, error)):
                m.take(m.session.handle(event))
            snap = m.session.snapshot()
            line = status_line(snap, m.now())[0]
            assert 0 < snap.rate_wait <= MAX_RATE_WAIT and "inf" not in line, line
            assert not m.outstanding, "nothing goes by itself while it waits"
            m.take(m.session.refresh())  # r
            assert any(isinstance(j, Poll) for j in m.outstanding), f"r tries at once ({wait})"
            assert m.session.snapshot().rate_wait == 0.0
    finally:
        m.teardown()


# -- 13. a listing that says "more" for ever -----------------------------------------------------------------


def close_page(fake: FakeClose) -> dict[str, Any]:
    record = fake.opportunities[in_sales(fake)[0]]
    return {"data": [dict(record)], "has_more": True, "total_results": 1_000_000_000}


async def test_13_a_close_load_that_says_more_for_ever_ends_with_a_line_and_an_honest_total() -> None:
    clock = Clock()
    fake = close_fake(clock)
    close = close_backend(fake, clock)
    pipeline = await sales_of(close)
    start = len(fake.requests)
    fake.say_more_forever("GET", "opportunity/", close_page(fake), times=ENDLESS)
    pages = await pages_of(close, pipeline)
    assert len(fake.requests) - start < 20, "a handful of requests, not one per promised page"
    last = pages[-1]
    assert last.loaded == 1 and last.total == 1, "the last page says what was loaded: not 1 of 1,000,000,000"
    lines = [line for page in pages for line in page.skipped]
    assert len(lines) == 1 and "sent only ones it had sent already" in lines[0] and "Close" in lines[0], lines
    await close.aclose()


async def test_13_a_close_poll_against_an_endless_listing_ends_and_removes_nothing() -> None:
    clock = Clock()
    fake = close_fake(clock)
    close = close_backend(fake, clock, reconcile_every=0.0)  # every poll reconciles: the listing too
    pipeline = await sales_of(close)
    cursor = (await close.changes_since(pipeline, None)).cursor
    await pages_of(close, pipeline)
    start = len(fake.requests)
    fake.say_more_forever("GET", "opportunity/", close_page(fake), times=ENDLESS)
    changes = await close.changes_since(pipeline, cursor)
    assert len(fake.requests) - start < 20
    assert changes.removed == [], "a listing cut short is not the whole pipeline"
    assert changes.skipped and all("the listing stops" in line for line in changes.skipped)
    await close.aclose()


async def test_13_a_close_page_cap_ends_a_listing_of_ever_new_records() -> None:
    clock = Clock()
    fake = close_fake(clock, validate=False)
    n = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal n
        if request.url.path.endswith("/opportunity/"):
            n += 1
            record = dict(fake.opportunities[in_sales(fake)[0]], id=f"oppo_{n:022d}")
            return httpx.Response(200, json={"data": [record], "has_more": True, "total_results": 10**9})
        return fake.handler(request)

    close = CloseBackend(KEY, base_url=CLOSE, transport=httpx.MockTransport(handler), sleep=no_wait, now=clock)
    listing = Listing("Close", "opportunities", max_pages=7)
    got = [records async for _, records in close._pages({}, listing)]
    assert len(got) == 7 == n and listing.ended is not None and "after 7 pages" in listing.ended
    await close.aclose()


async def test_13_clustr_endless_listing_ends_and_a_poll_removes_nothing() -> None:
    fake = FakeClustr("test-clustr-key")
    fake.seed(30)
    backend = ClustrBackend("test-clustr-key", base_url="https://api.clustr-ai.com/api/public/",
                            transport=httpx.MockTransport(fake.handler), sleep=no_wait)
    [pipeline] = await backend.list_pipelines()
    held = [o for page in await pages_of(backend, pipeline) for o in page.opportunities]
    record = next(iter(fake.opportunities.values()))
    body = {"success": True, "data": {"opportunities": [record], "pagination": {
        "page": 1, "limit": 100, "total": 10**9, "has_more": True}}}
    fake.say_more_forever("GET", "opportunities", body, times=ENDLESS)
    start = len(fake.requests)
    changes = await backend.changes_since(pipeline, "cursor")
    assert len(fake.requests) - start == 2 and changes.removed == [], "cut short: nothing removed"
    assert any("the listing stops" in line for line in changes.skipped)
    pages = await pages_of(backend, pipeline)
    assert pages[-1].total == pages[-1].loaded == 1 and len(held) == 30
    await backend.aclose()


async def test_13_telecrm_endless_search_ends_and_a_poll_removes_nothing() -> None:
    fake = FakeTeleCrm("test-telecrm-token", "ent_demo")
    fake.seed(150)
    backend = TeleCrmBackend("test-telecrm-token", "ent_demo", base_url="https://next.telecrm.in/autoupdate/v2/",
                             transport=httpx.MockTransport(fake.handler), sleep=no_wait)
    pipeline = await sales_of(backend)
    await pages_of(backend, pipeline)
    first = [{"id": i, "fields": f} for i, f in list(fake.leads.items())[:100]]
    fake.say_more_forever("POST", "lead/search", {"data": first, "total_count": 10**9}, times=ENDLESS)
    start = len(fake.requests)
    changes = await backend.changes_since(pipeline, "cursor")
    assert len(fake.requests) - start == 2 and changes.removed == []
    assert any("TeleCRM said there were more leads" in line for line in changes.skipped)
    await backend.aclose()


async def test_13_bottlecrm_listing_whose_offset_creeps_on_for_ever_ends() -> None:
    fake = FakeBottleCrm(clock=lambda: NOW)
    fake.seed(40)
    served = 0
    first: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        """The list's first deal at every offset, and a next `offset` one further on: "more" for ever."""
        nonlocal served
        if request.url.path == "/api/opportunities/" and request.method == "GET" and served < ENDLESS:
            served += 1
            body = fake.handler(request).json()
            first[:] = first or body["opportunities"][:1]
            body.update(opportunities=first, offset=int(request.url.params.get("offset", "0")) + 1,
                        opportunities_count=10**9)
            return httpx.Response(200, json=body)
        return fake.handler(request)

    backend = BottleCrmBackend(fake.token, base_url="http://127.0.0.1:8000", transport=httpx.MockTransport(handler),
                               sleep=no_wait, now=lambda: NOW)
    pipeline = next(p for p in await backend.list_pipelines() if p.name == "Sales")
    pages = await pages_of(backend, pipeline)
    assert served < 10 and pages[-1].total == pages[-1].loaded
    assert any("BottleCRM said there were more deals" in line for page in pages for line in page.skipped)
    await backend.aclose()


@settings(max_examples=60)
@given(pages=st.lists(st.lists(st.integers(0, 30), max_size=6), min_size=1, max_size=40),
       most=st.integers(1, 12))
def test_13_property_a_listing_ends_at_the_first_page_with_nothing_new_or_at_the_cap(pages: list[list[int]],
                                                                                    most: int) -> None:
    listing = Listing("Test", "things", max_pages=most)
    seen: set[int] = set()
    asked = 0
    for page in pages:
        asked += 1
        new = {*page} - seen
        seen |= new
        go_on = listing.page([{"id": i} for i in page])
        if page and not new:
            assert not go_on and "sent only ones it had sent already" in (listing.ended or "")
            break
        if asked >= most:
            assert not go_on and f"after {asked:,} pages" in (listing.ended or "")
            break
        assert go_on and listing.ended is None
    assert asked <= most and listing.read == len(seen)


# -- 14. deeply nested JSON ----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
async def test_14_deeply_nested_json_is_one_typed_error(depth: int) -> None:
    clock = FakeTime()
    server = Server(clock, answer(200, text=deep_json(depth), headers={"Content-Type": "application/json"}))
    api = make(server, clock)
    with pytest.raises(UnavailableError) as info:
        await api.request("GET", "things")
    assert "nested more than 64 levels deep" in str(info.value) and "\n" not in str(info.value)
    assert await api.request("GET", "things") == {"ok": True}, "and the next answer is read as ever"


async def test_14_a_deep_error_body_is_still_a_refusal_not_a_crash() -> None:
    clock = Clock()
    fake = close_fake(clock)
    close = close_backend(fake, clock)
    fake.fail_next("GET", "pipeline/", 400, text=deep_json(100_000))
    with pytest.raises(RefusedError):
        await close.list_pipelines()
    await close.aclose()


def test_14_summary_against_deep_json_says_one_line(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from .test_report import run, serve

    fake = close_fake(Clock())
    fake.answer_deep_json("GET", "pipeline/")
    serve(monkeypatch, "close", fake.handler, now=lambda: NOW)
    code, out, err = run(["summary", "--backend", "close"], capsys)
    assert code != 0 and not out
    assert err.count("\n") == 1 and "nested more than 64 levels deep" in err and "Traceback" not in err, err


# -- properties: the CRM's numbers and clock ------------------------------------------------------------------

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["inf", "-inf", "nan", "Infinity", "1e400", "1e12", "9" * 5000, "...", "", " 5 "]),
    st.text(max_size=30),
)
DATES = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
"""Far past to far future (an HTTP date has a four-digit year; below 100 it is read as 19xx/20xx)."""


@settings(max_examples=150)
@given(retry_after=NUMBERS, reset=NUMBERS, date=st.one_of(st.none(), DATES, st.text(max_size=30)))
def test_property_every_wait_a_crm_asks_for_is_none_or_finite_and_at_most_15_minutes(
        retry_after: str, reset: str, date: datetime | str | None) -> None:
    headers = {"Retry-After": retry_after, "RateLimit": f"limit=100, remaining=0, reset={reset}"}
    if isinstance(date, datetime):
        headers["Date"] = format_datetime(date, usegmt=True)
    elif date is not None:
        headers["Date"] = date
    headers = {k: v for k, v in headers.items() if v.isprintable() and v.isascii()}
    wait = retry_after_seconds(httpx.Response(429, headers=headers, request=httpx.Request("GET", CLOSE)), now=NOW)
    assert wait is None or (math.isfinite(wait) and 0.0 <= wait <= MAX_RATE_WAIT)
    limit = RateLimit.parse(headers.get("RateLimit"))
    assert limit is None or (math.isfinite(limit.reset) and 0.0 <= limit.reset <= MAX_RATE_WAIT
                             and math.isfinite(limit.pace()))


@settings(max_examples=80)
@given(when=DATES, seconds=st.floats(allow_nan=True, allow_infinity=True))
def test_property_a_retry_after_date_is_counted_on_the_crms_clock_and_capped(when: datetime, seconds: float) -> None:
    try:
        until = when + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        return
    headers = {"Date": format_datetime(when, usegmt=True),
               "Retry-After": format_datetime(until.replace(microsecond=0), usegmt=True)}
    wait = retry_after_seconds(httpx.Response(429, headers=headers, request=httpx.Request("GET", CLOSE)), now=NOW)
    expected = min(max(0.0, (until.replace(microsecond=0) - when.replace(microsecond=0)).total_seconds()),
                   MAX_RATE_WAIT)
    assert wait == pytest.approx(expected)


@settings(max_examples=60)
@given(date=st.one_of(DATES, st.text(max_size=40)))
def test_property_the_crms_clock_is_its_date_header_or_this_machines(date: datetime | str) -> None:
    text = format_datetime(date, usegmt=True) if isinstance(date, datetime) else date

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={}, headers={"Date": text} if text.isprintable() and text.isascii() else {})

    async def ask() -> datetime:
        api = HttpApi("Test", "https://crm.example/", transport=httpx.MockTransport(handler), sleep=no_wait)
        await api.request("GET", "x")
        await api.aclose()
        return api.crm_now(NOW)

    clock = asyncio.run(ask())
    if isinstance(date, datetime):
        assert clock == date.replace(microsecond=0)
    else:
        assert clock.tzinfo is not None


@settings(max_examples=25)
@given(dated=DATES)
def test_property_whatever_date_a_deal_carries_the_next_change_is_seen(dated: datetime) -> None:
    async def run() -> None:
        clock = Clock()
        fake = close_fake(clock, sales=4, validate=False)
        close = close_backend(fake, clock)
        pipeline = await sales_of(close)
        cursor = (await close.changes_since(pipeline, None)).cursor
        await pages_of(close, pipeline)
        first, second = in_sales(fake)[:2]
        clock.at += timedelta(minutes=1)
        fake.write_dated(first, dated)
        changes = await close.changes_since(pipeline, cursor)
        assert cursor_time(changes.cursor) <= clock.at
        assert cursor_time(changes.cursor) >= cursor_time(cursor) - timedelta(seconds=1), "never far behind either"
        clock.at += timedelta(minutes=1)
        fake.teammate_move(second, another_status(fake, second))
        later = await close.changes_since(pipeline, changes.cursor)
        assert second in {o.id for o in later.upserted}
        assert cursor_time(later.cursor) <= clock.at
        await close.aclose()

    asyncio.run(run())
