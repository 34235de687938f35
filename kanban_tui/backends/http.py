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
  backoff), never less and never capped; as `remaining` falls, each request and each
  answer close it for `RateLimit.pace()` seconds, so the window is not used up. Every
  request passes the gate before it is sent: a wait of up to `max_wait` seconds is
  slept through, a longer one raises `RateLimitedError(retry_after=<seconds left>)`
  at once without sending (the sync layer shows `~ waiting Ns` and comes back then).
  `rate_wait_left()` is the seconds until the gate opens, > 0 while any request is
  held back; once a request has waited the gate out, it is cleared;
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
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import random
import re
import time
from collections.abc import Callable
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
)

if TYPE_CHECKING:
    import httpx
else:
    httpx = lazy_module("httpx")
    """Loaded on first use: a board on the local workspace never pays for it (~50 ms at start).
    The CRM modules take it from here (`from .http import httpx`)."""

USER_AGENT = f"dealboard/{__version__}"

RATE_LIMIT_RE = re.compile(r"limit=(\d+),\s*remaining=(\d+),\s*reset=([\d.]+)")

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
        match = RATE_LIMIT_RE.search(header or "")
        if match is None:
            return None
        return cls(int(match[1]), int(match[2]), float(match[3]))

    def pace(self) -> float:
        """Seconds to wait before the next request so the window is not used up.

        Nothing while more than a fifth of the window is left; then the rest of the
        window is spread over the requests that remain.
        """
        if self.limit <= 0 or self.remaining > self.limit / 5:
            return 0.0
        return self.reset / max(self.remaining, 1)


def retry_after_seconds(response: httpx.Response, now: datetime | None = None) -> float | None:
    """How long a 429 asks us to wait: `Retry-After` (seconds, or an HTTP date: the seconds
    until then, 0 when it is past), else the RateLimit reset; None when it does not say.

    `now`: the wall-clock time to count a date from (default: now)."""
    header = (response.headers.get("retry-after") or "").strip()
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            from email.utils import parsedate_to_datetime  # rarely needed: not at start

            when = parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            when = None  # neither seconds nor a date: fall back to the RateLimit header
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    limit = RateLimit.parse(response.headers.get("ratelimit"))
    if limit is not None:
        return max(0.0, limit.reset)
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
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            auth=auth,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            transport=transport,
            timeout=timeout,
            verify=True,
            follow_redirects=False,
        )
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
        self.requests_sent = 0
        self.bytes_read = 0

    async def aclose(self) -> None:
        await self.client.aclose()

    def rate_wait_left(self) -> float:
        """Seconds until the rate-limit gate opens (0 when it is open)."""
        if self.blocked_until is None:
            return 0.0
        return max(0.0, self.blocked_until - self.clock())

    def room(self, most: int) -> int:
        """How many requests to have in flight at once: `most`, fewer as the last `RateLimit` header's
        `remaining` falls (its last fifth is left to the gate's pacing, one request at a time); at least 1."""
        limit = self.rate_limit
        if limit is None or limit.limit <= 0:
            return max(1, most)
        return max(1, min(most, limit.remaining - limit.limit // 5))

    def _block(self, now: float, seconds: float) -> float:
        """Close the gate until `now + seconds` (or later, if it already is); the seconds left from `now`."""
        until = now + max(0.0, seconds)
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
            await self.sleep(left)

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
                    await self.sleep(left)
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


def _json(response: httpx.Response, crm: str) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise UnavailableError(
            "answered with something that is not JSON", crm=crm, status_code=response.status_code,
            hint="check the base URL",
        ) from None


def _error_text(response: httpx.Response) -> str:
    """A short message from an error body: `{"error": "..."}`, `{"message": ...}`, or none."""
    try:
        body = response.json()
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
