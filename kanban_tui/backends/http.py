"""What every HTTP CRM backend shares: the client, retries, rate limits, typed errors.

`HttpApi` wraps one `httpx.AsyncClient` (inject a `transport` in tests: a stateful
`httpx.MockTransport` handler is a fine fake CRM; inject `sleep` and `clock` to run
without waiting). It

- sends a User-Agent naming the app and its version, and refuses plain http except
  to loopback addresses (TLS verification is always on);
- keeps one rate-limit gate for all its requests: `blocked_until`, a `clock()` deadline
  (`time.monotonic` by default) that only ever moves later while set. A 429 closes it
  for as long as the server asked (`Retry-After` in seconds or as an HTTP date, else
  the `reset` of a `RateLimit: limit=…, remaining=…, reset=…` header, else exponential
  backoff), never less, but never more than `MAX_RATE_WAIT` (15 minutes: a `Retry-After:
  inf` or `1e12` must not freeze the session; a value that is not a finite number is no
  value at all); as `remaining` falls, each request and each
  answer close it for `RateLimit.pace()` seconds, so the window is not used up. Every
  request passes the gate before it is sent: a wait of up to `max_wait` seconds is
  slept through, a longer one raises `RateLimitedError(retry_after=<seconds left>)`
  at once without sending (the sync layer shows `~ waiting Ns` and comes back then).
  `rate_wait_left()` is the seconds until the gate opens, > 0 while any request is
  held back; once a request has waited the gate out, it is cleared. `wake()` (the user
  pressed `r`) opens it at once and ends every wait on it: the next request is sent;
- repeats only what is safe to repeat. Idempotent requests (GET and HEAD, or
  `idempotent=True`, e.g. a POST that only searches) are retried with exponential
  backoff and jitter on 5xx answers, timeouts and dropped connections, up to
  `retries` times, and a 429 is waited out inline when the wait is at most `max_wait`.
  A write is never sent twice behind the caller's back: a timeout or a connection
  lost after sending raises `OutcomeUnknownError` (it may or may not have been
  applied: read the record back before sending it again); a connection that was
  never made (`ConnectError`, `ConnectTimeout`, `PoolTimeout`) raises
  `UnavailableError("cannot connect (…)")`; a 5xx answer raises its typed error and a
  429 closes the gate and raises `RateLimitedError`, all at once;
- turns every failure into a `BackendError` naming the CRM, the status code (kept
  for every HTTP answer, 5xx included: the sync layer tells 502/503/504, unreachable,
  from 500, a failed write; None for transport errors) and what to do. A CRM module
  adds its own wording through `describe`.

Every request is logged with its method, URL, status and timing; headers never are
(they hold the key).

Two things save a start its waits. The client's TLS context (the certificate bundle read and parsed,
~40 ms) is built in a thread from the moment the `HttpApi` is made, while the app starts, and the
client is made when the first request needs it (`httpx.create_ssl_context()`, what `verify=True`
builds: the same checks). A caller that knows a GET it will need before it can use the answer sends
it early (`send_early`: a warm start's questions go out beside the pipeline listing); the same GET
asked for then takes that answer rather than being sent again (`drop_early` forgets what was not
asked for).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import __version__
from .._lazy import lazy_module
from .base import Backend
from .errors import (
    AuthError,
    BackendError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RefusedError,
    UnavailableError,
    wait_seconds,
)

if TYPE_CHECKING:
    import ssl

    import httpx
else:
    httpx = lazy_module("httpx")
    """Loaded on first use: a board on the local workspace never pays for it (~50 ms at start).
    The CRM modules take it from here (`from .http import httpx`)."""

USER_AGENT = f"dealboard/{__version__}"

RATE_LIMIT_RE = re.compile(r"limit=(\d+),\s*remaining=(\d+),\s*reset=([^,;\s]+)")

MAX_JSON_DEPTH = 64
"""JSON nested deeper than this is refused (a CRM's records are a few levels deep): deeper, and reading it
(parsing, hashing, printing) can exhaust Python's stack."""
MAX_PAGES = 10_000
"""The most pages one listing follows (a million cards at 100 a page): a CRM that says "more" for ever is
not followed for ever."""

RETRYABLE_STATUS = {500, 502, 503, 504}
"""Answers an idempotent request is sent again for (after a backoff)."""

def _not_sent() -> tuple[type[Exception], ...]:
    return (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError, httpx.UnsupportedProtocol)
"""Transport errors raised before the request left this machine: safe to send again, even a write.
Any other transport error (a timeout, a dropped connection) may come after the server got it."""

log = logging.getLogger("kanban_tui.http")
"""Method, URL, status and timing of every request; never headers (they hold the key)."""


@dataclass(frozen=True)
class RateLimit:
    """A parsed `RateLimit: limit=100, remaining=50, reset=5` header."""

    limit: int
    remaining: int
    reset: float

    @classmethod
    def parse(cls, header: str | None) -> RateLimit | None:
        """The header's numbers; None when it is missing or they are not numbers (`reset` not finite, digits
        beyond what an int reads). A `reset` beyond `MAX_RATE_WAIT` is read as `MAX_RATE_WAIT`."""
        match = RATE_LIMIT_RE.search(header or "")
        if match is None:
            return None
        try:
            limit, remaining, reset = int(match[1]), int(match[2]), wait_seconds(float(match[3]))
        except ValueError:
            return None
        return None if reset is None else cls(limit, remaining, reset)

    def pace(self) -> float:
        """Seconds to wait before the next request so the window is not used up.

        Nothing while more than a fifth of the window is left; then the rest of the
        window is spread over the requests that remain.
        """
        if self.limit <= 0 or self.remaining > self.limit / 5:
            return 0.0
        return self.reset / max(self.remaining, 1)


def http_date(text: str | None) -> datetime | None:
    """An HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`) as an aware datetime; None when it is not one."""
    if not text:
        return None
    try:
        from email.utils import parsedate_to_datetime  # rarely needed: not at start

        when = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def retry_after_seconds(response: httpx.Response, now: datetime | None = None) -> float | None:
    """How long a 429 asks us to wait: `Retry-After` (seconds, or an HTTP date: the seconds
    until then by the answer's own `Date`, 0 when it is past), else the RateLimit reset; None when
    it does not say. A wait that is not a finite number (`inf`, `nan`) says nothing; none is more
    than `MAX_RATE_WAIT`.

    `now`: the wall-clock time to count a date from when the answer has no `Date` (default: now)."""
    header = (response.headers.get("retry-after") or "").strip()
    if header:
        try:
            seconds = float(header)
        except ValueError:
            when = http_date(header)  # neither seconds nor a date: fall back to the RateLimit header
            if when is not None:
                # counted on the CRM's clock when it gives it: its clock and ours may disagree
                base = http_date(response.headers.get("date")) or now or datetime.now(UTC)
                return wait_seconds((when - base).total_seconds())
        else:
            if (wait := wait_seconds(seconds)) is not None:
                return wait
    limit = RateLimit.parse(response.headers.get("ratelimit"))
    if limit is not None:
        return limit.reset
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, crm: str) -> str:
    """A base URL with a trailing slash; https unless it points at this machine.

    A URL with a user name or password (`http://user:pass@host/`) is refused: it would reach the
    log, the journal's identity and every error message. No message here ever shows them: any
    `@` means the text before it (after `scheme://`) is dropped from what is shown.
    """
    if "@" in url:
        scheme, sep, rest = url.partition("://")
        shown = f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url.rpartition("@")[2]
        raise BackendError(
            f"base URL {shown!r} has a user name or password in it: not allowed",
            crm=crm,
            hint="put the key in the API key setting (its environment variable or the config), not in the URL",
        )
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise BackendError(f"base URL {url!r} is not a valid URL: {exc}", crm=crm, hint="check --base-url") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BackendError(f"base URL {url!r} is not an http(s) URL", crm=crm, hint="check --base-url")
    if parsed.scheme == "http" and not is_loopback(parsed.host):
        raise BackendError(
            f"refusing plain http to {parsed.host}", crm=crm, hint="use https (plain http only to localhost)"
        )
    return url if url.endswith("/") else url + "/"


Describer = Callable[["httpx.Response"], "BackendError | None"]


class HttpApi:
    """One CRM's HTTP API: requests through one rate-limit gate, safe retries, typed errors."""

    def __init__(
        self,
        crm: str,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        describe: Describer | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        timeout: float = 20.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.crm = crm
        self.base_url = check_base_url(base_url, crm)
        self._client: httpx.AsyncClient | None = None
        self._client_options: dict[str, Any] = {
            "base_url": self.base_url,
            "auth": auth,
            "headers": {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            "transport": transport,
            "timeout": timeout,
            "follow_redirects": False,
        }
        self._tls: Future[ssl.SSLContext] | None = None if transport is not None else _tls_context()
        """The TLS context being built in a thread (None: a test's transport, which needs none)."""
        self._early: dict[tuple[str, str], asyncio.Future[Any]] = {}
        """GETs sent ahead of the code that asks for them (`send_early`), by path and query."""
        self.describe = describe
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        """The longest rate-limit wait slept through; a longer one raises RateLimitedError."""
        self.sleep = sleep
        self.clock = clock
        self.rate_limit: RateLimit | None = None
        """The last `RateLimit` header seen (None after a 429: its wait covers the window)."""
        self.blocked_until: float | None = None
        """`clock()` deadline before which no request is sent; only ever moves later while set."""
        self._woken: asyncio.Event | None = None
        """Set by `wake()`: ends the waits on the gate in progress (a new one for the waits after)."""
        self._date: str | None = None
        """The `Date` header of the latest answer: the CRM's clock (`crm_now`)."""
        self.requests_sent = 0
        self.bytes_read = 0

    @property
    def client(self) -> httpx.AsyncClient:
        """The httpx client, made at its first use with the TLS context built meanwhile (verification on: the
        context `verify=True` makes; waited for here if it is not ready yet, a matter of milliseconds)."""
        if self._client is None:
            verify: ssl.SSLContext | bool = True
            if self._tls is not None:
                try:
                    verify = self._tls.result()
                except Exception:  # noqa: BLE001 - `verify=True` then raises the same error here, as it did
                    verify = True
            self._client = httpx.AsyncClient(**self._client_options, verify=verify)
        return self._client

    async def aclose(self) -> None:
        self.drop_early()
        if self._client is not None:
            await self._client.aclose()

    def send_early(self, path: str, params: dict[str, Any]) -> None:
        """Send `GET path?params` now, as `request` sends it (the gate, retries), for a caller that will ask for
        it later (it cannot use the answer yet): the next `request` of the same GET (path and query alike) takes
        this one's answer, or waits for it, instead of sending it again; one that has failed by then is sent
        again. Needs a running event loop."""
        key = _early_key(path, params)
        if key in self._early:
            return
        answer = asyncio.ensure_future(self._send("GET", path, None, {"params": params}))
        answer.add_done_callback(_retrieve)
        self._early[key] = answer

    def drop_early(self) -> None:
        """Forget the early GETs not asked for (cancelled if still in flight)."""
        early, self._early = self._early, {}
        for answer in early.values():
            answer.cancel()

    def _take_early(self, method: str, path: str, kwargs: dict[str, Any]) -> asyncio.Future[Any] | None:
        """The early GET this request is, if there is one and it did not fail."""
        if method != "GET" or set(kwargs) - {"params"}:
            return None
        answer = self._early.pop(_early_key(path, kwargs.get("params") or {}), None)
        if answer is None or (answer.done() and (answer.cancelled() or answer.exception() is not None)):
            return None
        return answer

    def rate_wait_left(self) -> float:
        """Seconds until the rate-limit gate opens (0 when it is open)."""
        if self.blocked_until is None:
            return 0.0
        return max(0.0, self.blocked_until - self.clock())

    def wake(self) -> None:
        """Open the rate-limit gate now and end every wait on it (the user asked to try now: `r`). The
        next request is sent; if the CRM still refuses it, its answer closes the gate again."""
        self.blocked_until = None
        if self._woken is not None:
            self._woken.set()
            self._woken = None

    async def _wait(self, seconds: float) -> None:
        """Sleep through a rate-limit wait, unless `wake()` ends it first."""
        if self._woken is None:
            self._woken = asyncio.Event()
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        waker = asyncio.ensure_future(self._woken.wait())
        try:
            await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()

    def crm_now(self, now: datetime) -> datetime:
        """The CRM's clock: the `Date` header of its latest answer; `now` (this machine's clock) when it
        sent none or one that is not a date. A changes cursor is never let run ahead of it."""
        return http_date(self._date) or now

    def room(self, most: int) -> int:
        """How many requests to have in flight at once: `most`, fewer as the last `RateLimit` header's
        `remaining` falls (its last fifth is left to the gate's pacing, one request at a time); at least 1."""
        limit = self.rate_limit
        if limit is None or limit.limit <= 0:
            return max(1, most)
        return max(1, min(most, limit.remaining - limit.limit // 5))

    def _block(self, now: float, seconds: float) -> float:
        """Close the gate until `now + seconds` (or later, if it already is); the seconds left from `now`.
        Never beyond `MAX_RATE_WAIT` from now (nor for a wait that is not a number)."""
        seconds = wait_seconds(seconds) or 0.0
        until = now + seconds
        if self.blocked_until is None or until > self.blocked_until:
            self.blocked_until = until
            return max(0.0, seconds)
        return self.blocked_until - now

    def _held_back(self, seconds: float) -> RateLimitedError:
        """The error for a request the gate holds back longer than `max_wait` (it was not sent)."""
        return RateLimitedError("rate limit reached", crm=self.crm, status_code=429, retry_after=seconds)

    async def _gate(self, method: str, path: str, waited_for: float | None = None) -> None:
        """Wait until the gate opens, or raise RateLimitedError (nothing sent) if that is over `max_wait`.

        `waited_for`: a deadline the caller has already slept through."""
        while self.blocked_until is not None:
            if self.blocked_until == waited_for:
                self.blocked_until = None  # waited out (even if a fake sleep did not move the clock)
                return
            left = self.blocked_until - self.clock()
            if left <= 0:
                self.blocked_until = None
                return
            if left > self.max_wait:
                log.info("%s %s %s: held back, rate limit for %.1f s more", self.crm, method, path, left)
                raise self._held_back(left)
            waited_for = self.blocked_until
            log.debug("%s %s %s: waiting %.2f s on the rate limit", self.crm, method, path, left)
            await self._wait(left)

    def _pace(self) -> None:
        """As `remaining` falls, close the gate for `RateLimit.pace()` seconds from now."""
        if self.rate_limit is not None and (pace := self.rate_limit.pace()) > 0:
            self._block(self.clock(), pace)

    def _backoff(self, attempt: int) -> float:
        return self.backoff * 2**attempt * random.uniform(0.5, 1.0)

    def _transport_error(self, exc: httpx.TransportError, method: str, idempotent: bool) -> BackendError:
        """The typed error for a request that got no answer. Transport errors have no status code."""
        if idempotent:
            if isinstance(exc, httpx.TimeoutException):
                return UnavailableError("timed out", crm=self.crm)
            return UnavailableError(f"cannot connect ({_first_line(exc)})", crm=self.crm)
        if isinstance(exc, _not_sent()):
            if isinstance(exc, httpx.PoolTimeout):
                return UnavailableError("timed out waiting for a free connection", crm=self.crm)
            return UnavailableError(f"cannot connect ({_first_line(exc)})", crm=self.crm)
        return OutcomeUnknownError(f"no answer to the {method} (it may or may not have been applied)", crm=self.crm)

    async def request(self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any) -> Any:
        """Send a request through the rate-limit gate and return its JSON body.

        `idempotent`: whether the request may be repeated when it fails or its answer is
        lost; default: GET and HEAD only (a POST that only searches passes True). Only an
        idempotent request is retried here; a write raises at its first failure, an
        `OutcomeUnknownError` when it may have been applied."""
        method = method.upper()
        if self._early and (early := self._take_early(method, path, kwargs)) is not None:
            return await early
        return await self._send(method, path, idempotent, kwargs)

    async def _send(self, method: str, path: str, idempotent: bool | None, kwargs: dict[str, Any]) -> Any:
        """`request`, sent (never an early answer)."""
        if idempotent is None:
            idempotent = method in ("GET", "HEAD")
        attempt = 0
        waited_for: float | None = None
        while True:
            await self._gate(method, path, waited_for)
            waited_for = None
            self._pace()
            started = time.monotonic()
            try:
                response = await self.client.request(method, path, **kwargs)
                self.requests_sent += 1
                self.bytes_read += len(response.content)
                self._date = response.headers.get("date") or self._date
            except httpx.TransportError as exc:
                error = self._transport_error(exc, method, idempotent)
                log.warning(
                    "%s %s %s: %s after %.0f ms (try %d)", self.crm, method, path, _first_line(exc),
                    (time.monotonic() - started) * 1000, attempt + 1,
                )
                if not idempotent:
                    raise error from None
            else:
                log.info(
                    "%s %s %s -> %d, %d bytes, %.0f ms", self.crm, method, response.request.url, response.status_code,
                    len(response.content), (time.monotonic() - started) * 1000,
                )
                if response.status_code == 429:
                    wait = retry_after_seconds(response)
                    wait = self._backoff(attempt) if wait is None else wait
                    self.rate_limit = None  # the wait covers the window
                    left = self._block(self.clock(), wait)
                    if not idempotent or attempt >= self.retries or left > self.max_wait:
                        raise self._rate_limited(self.error_for(response), left)
                    waited_for = self.blocked_until
                    await self._wait(left)
                    attempt += 1
                    continue
                self.rate_limit = RateLimit.parse(response.headers.get("ratelimit")) or self.rate_limit
                self._pace()
                if response.is_success:
                    return _json(response, self.crm)
                error = self.error_for(response)
                if not idempotent or response.status_code not in RETRYABLE_STATUS:
                    raise error
            if attempt >= self.retries:
                raise error
            await self.sleep(self._backoff(attempt))
            attempt += 1

    def _rate_limited(self, error: BackendError, seconds: float) -> RateLimitedError:
        """A 429 as a RateLimitedError saying how long the gate stays closed (whatever `describe` made of it)."""
        if isinstance(error, RateLimitedError):
            error.retry_after = seconds
            return error
        return RateLimitedError(
            error.message or "rate limit reached", crm=error.crm or self.crm, status_code=429, retry_after=seconds
        )

    def error_for(self, response: httpx.Response) -> BackendError:
        """The typed error for a failed response: the CRM's own wording, else a generic one."""
        if self.describe is not None and (error := self.describe(response)) is not None:
            return error
        code, crm = response.status_code, self.crm
        message = _error_text(response)
        if code in (401, 403):
            return AuthError(message or "not authorized", crm=crm, status_code=code)
        if code == 404:
            return NotFoundError(message or "not found", crm=crm, status_code=code)
        if code == 429:
            return RateLimitedError(
                "rate limit reached", crm=crm, status_code=code, retry_after=retry_after_seconds(response)
            )
        if code >= 500:
            return UnavailableError(message or "server error", crm=crm, status_code=code)
        return RefusedError(message or "request refused", crm=crm, status_code=code)


class TooDeepError(ValueError):
    """JSON nested deeper than `MAX_JSON_DEPTH`."""


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether parsed JSON nests lists and objects more than `limit` deep (walked without recursion)."""
    if not isinstance(value, dict | list):
        return False
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def json_of(response: httpx.Response) -> Any:
    """A CRM's answer parsed: ValueError when it is not JSON, `TooDeepError` (a ValueError) when it nests
    deeper than `MAX_JSON_DEPTH`, so that nothing reading it later can exhaust the stack. Every backend reads
    a body through here (its `describe` too), never `response.json()`."""
    try:
        body = json.loads(response.content)
    except RecursionError:
        raise TooDeepError("nested too deep to read") from None
    if too_deep(body):
        raise TooDeepError("nested too deep to read")
    return body


def json_dict(response: httpx.Response) -> dict[str, Any]:
    """A CRM's answer as an object, for reading its error words: `{}` when it is not JSON, too deep, or not an
    object (a `describe` never fails on the body it explains)."""
    try:
        body = json_of(response)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _json(response: httpx.Response, crm: str) -> Any:
    if not response.content:
        return {}
    try:
        return json_of(response)
    except TooDeepError:
        raise UnavailableError(
            f"answered with JSON nested more than {MAX_JSON_DEPTH} levels deep: not read",
            crm=crm, status_code=response.status_code, hint="report this to the CRM's support",
        ) from None
    except ValueError:
        raise UnavailableError(
            "answered with something that is not JSON", crm=crm, status_code=response.status_code,
            hint="check the base URL",
        ) from None


def _error_text(response: httpx.Response) -> str:
    """A short message from an error body: `{"error": "..."}`, `{"message": ...}`, or none."""
    try:
        body = json_of(response)
    except ValueError:
        return ""
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, str):
                return value[:200]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"][:200]
    return ""


def _tls_context() -> Future[ssl.SSLContext]:
    """`httpx.create_ssl_context()` (what `verify=True` builds: certifi's bundle, or `SSL_CERT_FILE` /
    `SSL_CERT_DIR`), built in a daemon thread: reading the bundle lets go of the GIL, so the app's start goes
    on meanwhile."""
    built: Future[ssl.SSLContext] = Future()

    def build() -> None:
        try:
            built.set_result(httpx.create_ssl_context())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever makes the client
            built.set_exception(exc)

    threading.Thread(target=build, name="tls-context", daemon=True).start()
    return built


def _early_key(path: str, params: dict[str, Any]) -> tuple[str, str]:
    return path, str(httpx.QueryParams(params))


def _retrieve(answer: asyncio.Future[Any]) -> None:
    """An early GET's failure is its asker's to see (it is sent again then), never "never retrieved"."""
    if not answer.cancelled():
        answer.exception()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__


class HttpBackend(Backend):
    """What every HTTP CRM backend shares around its `HttpApi`: identity, closing, rate waits."""

    api: HttpApi
    _identity: str = ""

    def _set_account(self, kind: str, api_key: str) -> None:
        """Identity for the move journal: the base URL and a hash of the key, never the key."""
        self._identity = f"{kind}:{self.api.base_url}#" + hashlib.sha256(api_key.encode()).hexdigest()[:12]

    @property
    def identity(self) -> str:
        """Moves journaled for one account never go to another."""
        return self._identity

    async def aclose(self) -> None:
        await self.api.aclose()

    def rate_wait_left(self) -> float:
        return self.api.rate_wait_left()

    def wake(self) -> None:
        self.api.wake()


class Listing:
    """One paging loop's guard against a CRM that says "more" for ever: `page(records)` after each page
    says whether to ask for the next. A page that adds nothing new (every record one this listing has
    had already: an offset ignored, a cursor that does not move) ends it, and so does page `max_pages`;
    `ended` then says so in one line (for `Page.skipped`), and the listing is not the whole list."""

    def __init__(self, crm: str, what: str, max_pages: int = MAX_PAGES) -> None:
        self.crm = crm
        self.what = what
        self.max_pages = max_pages
        self.pages = 0
        self.read = 0
        self._seen: set[Any] = set()
        self.ended: str | None = None
        """Why the listing stopped before the CRM said it was done; None: it was not stopped."""

    @staticmethod
    def _key(record: Any) -> Any:
        if isinstance(record, dict) and isinstance(record.get("id"), str | int):
            return ("id", record["id"])
        return ("record", json.dumps(record, sort_keys=True, default=str))

    def page(self, records: Iterable[Any]) -> bool:
        """Count a page in; False (and `ended` says why) when no more pages are to be asked for."""
        self.pages += 1
        keys = {self._key(r) for r in records}
        new = keys - self._seen
        self._seen |= new
        self.read += len(new)
        if keys and not new:
            self.ended = (f"{self.crm} said there were more {self.what} but sent only ones it had sent already:"
                          f" the listing stops at {self.read:,}")
        elif self.pages >= self.max_pages:
            self.ended = (f"{self.crm} still said there were more {self.what} after {self.pages:,} pages:"
                          f" the listing stops at {self.read:,}")
        return self.ended is None
