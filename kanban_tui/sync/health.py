"""Connection health: how each failure is handled, when to try again, and what the line says of it.

Failures by class (`classify`), each with its line in the README's status table:

- unreachable (refused, DNS, read timeouts, 502/503/504): offline; moves wait; polls retry
  with backoff up to 5 minutes;
- a failed write while reads work (500 and the like): that move alone is retried with its
  own backoff, its card says `retrying`; after `WRITE_TRIES` tries it goes back, and the
  message names the error; nothing else waits behind it;
- refusals (4xx): the card goes back at once, and the message says why;
- rate limits (429): `~ waiting Ns`, as long as the CRM asked (at most 15 minutes), board usable;
  `r` tries at once all the same;
- a rejected key (401): moves are kept (journaled) until the CRM accepts the key.

Pure decisions over a clock: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ..backends.errors import (
    AuthError,
    BackendError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    UnavailableError,
    wait_seconds,
)

MAX_BACKOFF = 300.0
"""Longest wait between tries of a poll or a load that failed (seconds)."""
WRITE_TRIES = 5
"""A move whose write keeps failing (500s while reads work) goes back after this many tries."""
WRITE_BACKOFF = 2.0
WRITE_MAX_BACKOFF = 60.0
DEFAULT_RATE_WAIT = 30.0
"""A 429 that says nothing of how long to wait."""


class Failure(StrEnum):
    UNREACHABLE = "unreachable"
    RATE = "rate"
    SERVER = "server"
    AUTH = "auth"
    GONE = "gone"
    REFUSED = "refused"


UNREACHABLE_STATUS = {502, 503, 504}


def classify(error: BackendError) -> Failure:
    """Which kind of failure this is; see the module docstring for what each one does."""
    if isinstance(error, RateLimitedError):
        return Failure.RATE
    if isinstance(error, OutcomeUnknownError):
        return Failure.UNREACHABLE
    if isinstance(error, UnavailableError):
        if error.status_code is None or error.status_code in UNREACHABLE_STATUS:
            return Failure.UNREACHABLE
        return Failure.SERVER
    if isinstance(error, AuthError) and error.status_code == 401:
        return Failure.AUTH
    if isinstance(error, NotFoundError):
        return Failure.GONE
    return Failure.REFUSED


def retries_by_itself(error: BackendError) -> bool:
    """A board that failed to open for this reason tries again by itself (else: press r)."""
    return classify(error) in (Failure.UNREACHABLE, Failure.RATE, Failure.SERVER)


def write_backoff(tries: int) -> float:
    """Seconds before a move whose write failed `tries` times is tried again."""
    return min(WRITE_MAX_BACKOFF, WRITE_BACKOFF * 2 ** (tries - 1))


@dataclass
class Health:
    """The CRM's answers so far: the failure the board is in, when to try again, waits the CRM asked for."""

    clock: Callable[[], float]
    rand: Callable[[], float]
    poll_interval: float
    error: BackendError | None = None
    """The failure the board is in (None: the last exchange went well)."""
    auto_retry: bool = True
    """False: it waits for the user's `r`."""
    failures: int = 0
    next_try: float = 0.0
    """When the next poll (or load, or listing) is due, on `clock`."""
    rate_until: float = 0.0
    auth_blocked: bool = False
    """The CRM rejected the key: moves wait (journaled) until it accepts it."""

    def schedule_retry(self, error: BackendError | None) -> None:
        """Back off after a failed poll or load: interval x 2^n with jitter, at most MAX_BACKOFF."""
        self.failures += 1
        backoff = min(MAX_BACKOFF, self.poll_interval * 2 ** (self.failures - 1))
        if self.failures > 1:
            backoff *= 0.8 + 0.2 * self.rand()
        self.next_try = self.clock() + backoff
        if isinstance(error, RateLimitedError):
            self.rate_limited(error)

    def rate_limited(self, error: BackendError) -> None:
        wait = wait_seconds(getattr(error, "retry_after", None))  # never inf, never beyond MAX_RATE_WAIT
        self.rate_until = max(self.rate_until, self.clock() + (DEFAULT_RATE_WAIT if wait is None else wait))

    def succeeded(self, poll_interval: float) -> None:
        """A whole load or a poll went well: no failure, the next poll one interval away."""
        self.error = None
        self.auth_blocked = False
        self.failures = 0
        self.next_try = self.clock() + poll_interval

    def answered(self) -> None:
        """The CRM answered something: an "unreachable" failure is over."""
        if self.error is not None and classify(self.error) is Failure.UNREACHABLE:
            self.error = None
            self.failures = 0

    def line(self) -> str | None:
        """The failure the board is in, one line (CRM, status code, message, what to do)."""
        if self.error is None:
            return None
        if not self.auto_retry:
            return f"{self.error} - press r to retry"  # with the error's own hint, if it has one
        return self.error.summary

    def due(self) -> bool:
        """A poll, load or listing may start now (nothing waits for the user, no backoff or rate wait)."""
        now = self.clock()
        return self.auto_retry and now >= self.next_try and now >= self.rate_until
