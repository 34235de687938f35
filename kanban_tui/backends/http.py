"""What every HTTP CRM backend shares: the client, retries, rate limits, typed errors.

`HttpApi` wraps one `httpx.AsyncClient` (inject a `transport` in tests: a stateful
`httpx.MockTransport` handler is a fine fake CRM). It

- sends a User-Agent naming the app and its version, and refuses plain http except
  to loopback addresses (TLS verification is always on);
- retries 5xx answers, timeouts and dropped connections with exponential backoff and
  jitter, and 429 answers after the wait the server asked for (`Retry-After`, or the
  `reset` of a `RateLimit: limit=…, remaining=…, reset=…` header);
- slows down before the limit is hit, as `remaining` falls;
- turns every failure into a `BackendError` naming the CRM, the status code and what
  to do. A CRM module adds its own wording through `describe`.

`waiting_until` tells the UI when the client is sleeping on a rate limit.
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
from typing import Any

import httpx

from .. import __version__
from .base import Backend
from .errors import (
    AuthError,
    BackendError,
    NotFoundError,
    RateLimitedError,
    RefusedError,
    UnavailableError,
)

USER_AGENT = f"kanban-tui/{__version__} (+https://github.com/kanban-tui/kanban-tui)"

RATE_LIMIT_RE = re.compile(r"limit=(\d+),\s*remaining=(\d+),\s*reset=([\d.]+)")

RETRYABLE_STATUS = {500, 502, 503, 504}

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


def retry_after_seconds(response: httpx.Response) -> float | None:
    """How long a 429 asks us to wait: `Retry-After`, else the RateLimit reset."""
    header = response.headers.get("retry-after")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass  # an HTTP date: fall back to the RateLimit header
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
    """A base URL with a trailing slash; https unless it points at this machine."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BackendError(f"base URL {url!r} is not an http(s) URL", crm=crm, hint="check --base-url")
    if parsed.scheme == "http" and not is_loopback(parsed.host):
        raise BackendError(
            f"refusing plain http to {parsed.host}", crm=crm, hint="use https (plain http only to localhost)"
        )
    return url if url.endswith("/") else url + "/"


Describer = Callable[[httpx.Response], BackendError | None]


class HttpApi:
    """One CRM's HTTP API: requests with retries, pacing and typed errors."""

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
        self.sleep = sleep
        self.rate_limit: RateLimit | None = None
        self.waiting_until: float | None = None
        """`time.monotonic()` until which a request is held back by the rate limit."""
        self.requests_sent = 0
        self.bytes_read = 0

    async def aclose(self) -> None:
        await self.client.aclose()

    def rate_wait_left(self) -> float:
        """Seconds the client will still wait on the rate limit (0 when it is not waiting)."""
        if self.waiting_until is None:
            return 0.0
        return max(0.0, self.waiting_until - time.monotonic())

    async def _wait(self, seconds: float) -> None:
        self.waiting_until = time.monotonic() + seconds
        try:
            await self.sleep(seconds)
        finally:
            self.waiting_until = None

    def _backoff(self, attempt: int) -> float:
        return self.backoff * 2**attempt * random.uniform(0.5, 1.0)

    async def request(self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any) -> Any:
        """Send a request and return its JSON body, retrying what is worth retrying.

        `idempotent`: whether the request may be repeated when its answer is lost; default:
        GET and HEAD only (a POST that only searches passes True)."""
        attempt = 0
        while True:
            if self.rate_limit is not None and (pace := self.rate_limit.pace()) > 0:
                await self._wait(min(pace, self.max_wait))
            started = time.monotonic()
            try:
                response = await self.client.request(method, path, **kwargs)
                self.requests_sent += 1
                self.bytes_read += len(response.content)
            except httpx.TimeoutException:
                error: BackendError = UnavailableError("timed out", crm=self.crm)
                log.warning("%s %s %s: timed out (try %d)", self.crm, method, path, attempt + 1)
            except httpx.TransportError as exc:
                error = UnavailableError(f"cannot connect ({_first_line(exc)})", crm=self.crm)
                log.warning("%s %s %s: %s (try %d)", self.crm, method, path, _first_line(exc), attempt + 1)
            else:
                log.info(
                    "%s %s %s -> %d, %d bytes, %.0f ms", self.crm, method, response.request.url, response.status_code,
                    len(response.content), (time.monotonic() - started) * 1000,
                )
                self.rate_limit = RateLimit.parse(response.headers.get("ratelimit")) or self.rate_limit
                if response.is_success:
                    return _json(response, self.crm)
                error = self.error_for(response)
                if response.status_code == 429:
                    wait = retry_after_seconds(response)
                    wait = self._backoff(attempt) if wait is None else wait
                    if attempt < self.retries and wait <= self.max_wait:
                        attempt += 1
                        self.rate_limit = None  # the wait below covers the window
                        await self._wait(wait)
                        continue
                    raise error
                if response.status_code not in RETRYABLE_STATUS:
                    raise error
            if attempt >= self.retries:
                raise error
            await self.sleep(self._backoff(attempt))
            attempt += 1

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
