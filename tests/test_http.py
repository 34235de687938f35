"""HttpApi: the rate-limit gate, Retry-After, pacing, and which failures are retried (no network)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from kanban_tui.backends.errors import (
    MAX_RATE_WAIT,
    BackendError,
    OutcomeUnknownError,
    RateLimitedError,
    RefusedError,
    UnavailableError,
)
from kanban_tui.backends.http import HttpApi, retry_after_seconds

BASE = "https://crm.example/api/"


class FakeTime:
    """A clock and a sleep. `auto`: a sleep moves the clock on at once; else sleepers wait for `advance_to`."""

    def __init__(self, *, auto: bool = True) -> None:
        self.now = 1000.0
        self.auto = auto
        self.sleeps: list[float] = []
        self.sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.auto:
            self.now += seconds
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sleepers.append((self.now + seconds, future))
        await future

    async def advance_to(self, when: float) -> None:
        self.now = when
        for entry in list(self.sleepers):
            if entry[0] <= when + 1e-9:
                self.sleepers.remove(entry)
                entry[1].set_result(None)
        await settle()


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


def answer(status: int = 200, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
    if status == 200 and not kw:
        kw = {"json": {"ok": True}}
    return httpx.Response(status, headers=headers, **kw)


class Server:
    """A fake CRM: answers from a queue (a Response, or an exception to raise), then 200s; counts requests."""

    def __init__(self, clock: FakeTime, *answers: httpx.Response | Exception) -> None:
        self.clock = clock
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sent_at: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.sent_at.append(self.clock.now)
        reply = self.answers.pop(0) if self.answers else answer()
        if isinstance(reply, Exception):
            raise reply
        return reply


def make(server: Any, clock: FakeTime, **options: Any) -> HttpApi:
    return HttpApi(
        "Test", BASE, transport=httpx.MockTransport(server), sleep=clock.sleep, clock=clock, **options
    )


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


# -- Retry-After and the RateLimit reset ----------------------------------------------------


def test_retry_after_reads_seconds_http_dates_and_the_ratelimit_reset() -> None:
    now = datetime(2026, 10, 21, 7, 27, 0, tzinfo=UTC)
    request = httpx.Request("GET", BASE)

    def after(headers: dict[str, str]) -> float | None:
        return retry_after_seconds(httpx.Response(429, headers=headers, request=request), now=now)

    assert after({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}) == 60.0
    assert after({"Retry-After": "Wed, 21 Oct 2026 07:00:00 GMT"}) == 0.0, "a date in the past: go now"
    assert after({"Retry-After": "12"}) == 12.0
    assert after({"Retry-After": "soon", "RateLimit": "limit=100, remaining=0, reset=9"}) == 9.0
    assert after({"RateLimit": "limit=100, remaining=0, reset=600"}) == 600.0
    assert after({"RateLimit": "limit=100, remaining=0, reset=3600"}) == MAX_RATE_WAIT, "at most 15 minutes"
    assert after({}) is None


async def test_a_retry_after_date_is_waited_until(clock: FakeTime) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server = Server(clock, answer(429, {"Retry-After": when}))
    api = make(server, clock)
    assert await api.request("GET", "things") == {"ok": True}
    assert len(clock.sleeps) == 1 and 27.0 <= clock.sleeps[0] <= 30.0
    assert len(server.requests) == 2 and server.sent_at[1] - server.sent_at[0] == pytest.approx(clock.sleeps[0])


async def test_a_retry_after_date_beyond_max_wait_raises_with_the_whole_wait(clock: FakeTime) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)
    server = Server(clock, answer(429, {"Retry-After": when}))
    api = make(server, clock)
    with pytest.raises(RateLimitedError) as info:
        await api.request("GET", "things")
    assert info.value.retry_after is not None and 590 <= info.value.retry_after <= 600
    assert len(server.requests) == 1 and clock.sleeps == []


async def test_retry_after_seconds_are_waited_then_the_request_goes_again(clock: FakeTime) -> None:
    server = Server(clock, answer(429, {"Retry-After": "7", "RateLimit": "limit=100, remaining=0, reset=2"}))
    api = make(server, clock)
    assert await api.request("GET", "things") == {"ok": True}
    assert clock.sleeps == [7.0], "Retry-After wins over the RateLimit reset"
    assert server.sent_at == [1000.0, 1007.0]
    assert api.rate_wait_left() == 0.0


async def test_a_ratelimit_reset_of_ten_minutes_closes_the_gate_for_the_whole_ten_minutes(clock: FakeTime) -> None:
    server = Server(clock, answer(429, {"RateLimit": "limit=100, remaining=0, reset=600"}))
    api = make(server, clock)
    with pytest.raises(RateLimitedError) as info:
        await api.request("GET", "things")
    assert info.value.retry_after == pytest.approx(600) and info.value.status_code == 429
    assert len(server.requests) == 1 and clock.sleeps == []

    clock.now += 300
    assert api.rate_wait_left() == pytest.approx(300)
    with pytest.raises(RateLimitedError) as info:
        await api.request("GET", "other")
    assert info.value.retry_after == pytest.approx(300), "held back, not sent"
    with pytest.raises(RateLimitedError):
        await api.request("PUT", "things/1", json={})
    assert len(server.requests) == 1 and clock.sleeps == []

    clock.now += 300
    assert api.rate_wait_left() == 0.0
    assert await api.request("GET", "things") == {"ok": True}
    assert len(server.requests) == 2


async def test_a_429_beyond_max_wait_raises_with_the_full_retry_after(clock: FakeTime) -> None:
    server = Server(clock, answer(429, {"Retry-After": "90"}))
    api = make(server, clock, max_wait=60.0)
    with pytest.raises(RateLimitedError) as info:
        await api.request("GET", "things")
    assert info.value.retry_after == 90.0, "not capped at max_wait"
    assert len(server.requests) == 1 and api.rate_wait_left() == 90.0


async def test_a_wait_within_max_wait_left_by_another_request_is_slept_before_sending(clock: FakeTime) -> None:
    server = Server(clock, answer(429, {"Retry-After": "5"}))
    api = make(server, clock)
    with pytest.raises(RateLimitedError) as info:
        await api.request("PUT", "things/1", json={"status": "won"})
    assert info.value.retry_after == 5.0 and len(server.requests) == 1 and clock.sleeps == []
    assert await api.request("GET", "things") == {"ok": True}
    assert clock.sleeps == [5.0] and server.sent_at == [1000.0, 1005.0]


async def test_a_429_worded_otherwise_by_the_crm_still_raises_rate_limited(clock: FakeTime) -> None:
    def describe(response: httpx.Response) -> BackendError | None:
        return RefusedError("TOO_MANY: slow down", crm="Test", status_code=response.status_code)

    server = Server(clock, answer(429, {"Retry-After": "5"}))
    api = make(server, clock, describe=describe)
    with pytest.raises(RateLimitedError) as info:
        await api.request("POST", "things", json={})
    assert info.value.retry_after == 5.0 and info.value.message == "TOO_MANY: slow down"


# -- pacing ---------------------------------------------------------------------------------


async def test_the_client_slows_down_as_remaining_falls(clock: FakeTime) -> None:
    low = {"RateLimit": "limit=100, remaining=10, reset=20"}
    server = Server(clock, answer(200, low, json={}), answer(200, low, json={}))
    api = make(server, clock)
    await api.request("GET", "things")
    assert clock.sleeps == [] and api.rate_wait_left() == pytest.approx(2.0), "20 s spread over 10 requests"
    await api.request("GET", "things")
    assert clock.sleeps == [2.0] and server.sent_at == [1000.0, 1002.0]


async def test_plenty_left_means_no_pacing(clock: FakeTime) -> None:
    plenty = {"RateLimit": "limit=100, remaining=90, reset=20"}
    server = Server(clock, answer(200, plenty, json={}), answer(200, plenty, json={}))
    api = make(server, clock)
    await api.request("GET", "things")
    await api.request("GET", "things")
    assert clock.sleeps == [] and api.rate_wait_left() == 0.0


async def test_pacing_beyond_max_wait_holds_the_next_request_back(clock: FakeTime) -> None:
    server = Server(clock, answer(200, {"RateLimit": "limit=100, remaining=1, reset=600"}, json={}))
    api = make(server, clock)
    await api.request("GET", "things")
    with pytest.raises(RateLimitedError) as info:
        await api.request("GET", "things")
    assert info.value.retry_after == pytest.approx(600)
    assert len(server.requests) == 1 and clock.sleeps == []


async def test_concurrent_requests_wait_on_one_gate_that_is_not_forgotten() -> None:
    clock = FakeTime(auto=False)
    requests: list[tuple[str, float]] = []
    seen: dict[str, int] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.rsplit("/", 1)[-1]
        requests.append((path, clock.now))
        seen[path] = seen.get(path, 0) + 1
        if seen[path] > 1:
            return answer()
        if path == "a":
            while "b" not in seen:  # both are sent before either is answered
                await asyncio.sleep(0)
            return answer(429, {"Retry-After": "1"})
        while not clock.sleepers:  # b is answered once a already waits on its short Retry-After
            await asyncio.sleep(0)
        return answer(429, {"Retry-After": "5"})

    api = HttpApi("Test", BASE, transport=httpx.MockTransport(handler), sleep=clock.sleep, clock=clock)
    first = asyncio.create_task(api.request("GET", "a"))
    second = asyncio.create_task(api.request("GET", "b"))
    await settle()
    assert clock.sleeps == [1.0, 5.0]
    assert api.rate_wait_left() == 5.0

    await clock.advance_to(1001.0)  # the first request's own wait is over...
    assert api.rate_wait_left() == 4.0, "...but the second still waits: the gate stays closed"
    assert not first.done() and [p for p, _ in requests] == ["a", "b"], "nothing sent before the gate opens"

    await clock.advance_to(1005.0)
    assert await first == {"ok": True} and await second == {"ok": True}
    assert sorted(requests[2:]) == [("a", 1005.0), ("b", 1005.0)]
    assert api.rate_wait_left() == 0.0


# -- writes are never repeated behind the caller's back --------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.WriteTimeout("write timed out"),
        httpx.ReadError("connection reset"),
        httpx.WriteError("broken pipe"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
    ],
    ids=type,
)
async def test_a_put_with_no_answer_is_sent_once_and_its_outcome_is_unknown(clock: FakeTime, exc: Exception) -> None:
    server = Server(clock, exc, exc, exc, exc)
    api = make(server, clock)
    with pytest.raises(OutcomeUnknownError) as info:
        await api.request("PUT", "things/1", json={"status": "won"})
    assert len(server.requests) == 1 and clock.sleeps == []
    assert info.value.message == "no answer to the PUT (it may or may not have been applied)"
    assert info.value.status_code is None and info.value.crm == "Test"


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("[Errno 111] Connection refused"), httpx.ConnectTimeout("connect timed out"),
            httpx.PoolTimeout("no free connection")], ids=type,
)
async def test_a_put_that_never_reached_the_server_is_unavailable_after_one_try(
    clock: FakeTime, exc: Exception
) -> None:
    server = Server(clock, exc, exc, exc, exc)
    api = make(server, clock)
    with pytest.raises(UnavailableError) as info:
        await api.request("PUT", "things/1", json={"status": "won"})
    assert not isinstance(info.value, OutcomeUnknownError), "it was never sent"
    assert len(server.requests) == 1 and clock.sleeps == []
    assert info.value.status_code is None


async def test_a_connect_error_says_cannot_connect(clock: FakeTime) -> None:
    server = Server(clock, httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(UnavailableError, match=r"cannot connect \(\[Errno 111\] Connection refused\)"):
        await make(server, clock).request("POST", "things", json={})


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_put_answered_5xx_is_not_sent_again_and_keeps_its_status(clock: FakeTime, status: int) -> None:
    server = Server(clock, *[answer(status, json={"error": "boom"})] * 4)
    api = make(server, clock)
    with pytest.raises(UnavailableError) as info:
        await api.request("PUT", "things/1", json={"status": "won"})
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.status_code == status and info.value.message == "boom"
    assert len(server.requests) == 1 and clock.sleeps == []


async def test_a_post_is_a_write_by_default(clock: FakeTime) -> None:
    server = Server(clock, answer(503), answer(503))
    with pytest.raises(UnavailableError):
        await make(server, clock).request("POST", "things", json={})
    assert len(server.requests) == 1


# -- idempotent requests are retried ---------------------------------------------------------


async def test_a_get_answered_500_is_retried_and_succeeds(clock: FakeTime) -> None:
    server = Server(clock, answer(500, json={"error": "boom"}))
    api = make(server, clock)
    assert await api.request("GET", "things") == {"ok": True}
    assert len(server.requests) == 2 and len(clock.sleeps) == 1 and 0.25 <= clock.sleeps[0] <= 0.5


async def test_a_post_marked_idempotent_is_retried_like_a_get(clock: FakeTime) -> None:
    server = Server(clock, answer(502), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"))
    api = make(server, clock)
    assert await api.request("POST", "search", idempotent=True, json={"q": 1}) == {"ok": True}
    assert len(server.requests) == 4 and len(clock.sleeps) == 3
    assert clock.sleeps[2] > clock.sleeps[0], "exponential backoff"


async def test_a_get_marked_not_idempotent_is_not_retried(clock: FakeTime) -> None:
    server = Server(clock, httpx.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknownError, match="no answer to the GET"):
        await make(server, clock).request("GET", "things", idempotent=False)
    assert len(server.requests) == 1


async def test_a_get_answered_503_for_good_keeps_the_status_after_the_retries(clock: FakeTime) -> None:
    server = Server(clock, *[answer(503, json={"error": "down"})] * 10)
    api = make(server, clock, retries=3)
    with pytest.raises(UnavailableError) as info:
        await api.request("GET", "things")
    assert info.value.status_code == 503 and str(info.value).startswith("Test 503: down")
    assert len(server.requests) == 4 and len(clock.sleeps) == 3


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")], ids=type)
async def test_a_get_with_no_answer_is_retried_then_fails_without_a_status(clock: FakeTime, exc: Exception) -> None:
    server = Server(clock, *[exc] * 10)
    with pytest.raises(UnavailableError) as info:
        await make(server, clock).request("GET", "things")
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.status_code is None and len(server.requests) == 4


async def test_a_get_answered_429_waits_inline_and_a_put_does_not(clock: FakeTime) -> None:
    server = Server(clock, answer(429, {"Retry-After": "3"}), answer(), answer(429, {"Retry-After": "3"}))
    api = make(server, clock)
    assert await api.request("GET", "things") == {"ok": True}
    assert clock.sleeps == [3.0] and len(server.requests) == 2
    with pytest.raises(RateLimitedError) as info:
        await api.request("PUT", "things/1", json={})
    assert info.value.retry_after == 3.0 and len(server.requests) == 3 and clock.sleeps == [3.0]


# -- logging --------------------------------------------------------------------------------


async def test_requests_are_logged_with_method_url_and_status_but_no_headers(
    clock: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    server = Server(clock, answer(500), httpx.ReadTimeout("slow"))
    api = HttpApi("Test", BASE, headers={"Authorization": "Bearer sekrit-token"},
                  transport=httpx.MockTransport(server), sleep=clock.sleep, clock=clock)
    with caplog.at_level(logging.DEBUG, logger="kanban_tui.http"):
        with pytest.raises(UnavailableError):
            await api.request("PUT", "things/1", json={})
        with pytest.raises(OutcomeUnknownError):
            await api.request("PUT", "things/1", json={})
    text = caplog.text
    assert "PUT https://crm.example/api/things/1 -> 500" in text and "slow" in text
    assert "sekrit" not in text
