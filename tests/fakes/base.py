"""What every fake CRM server shares: the request log, injected failures, and serving on loopback.

A fake subclasses `FakeServer` and implements `_handle(request)`; at its top it calls
`self.injected(request, resource)` so that `fail_next()` can answer instead.

Each backend of the registry has a module here named as it is (`tests/fakes/<name>.py`) with
a `Contract` class (a `ContractFake`): what `tests/test_contract.py` needs to run the same
contract against every backend, written once per fake.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx


@dataclass
class Failure:
    """What the next `times` requests matching `method` and `path_contains` get instead."""

    method: str
    path_contains: str
    status: int
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    exc: Exception | None = None
    text: str | None = None
    """A raw body instead of JSON (an HTML error page, a truncated answer)."""


class FakeServer:
    """A fake CRM in memory. Not thread-safe by itself; `serve` locks around every request."""

    default_error: Any = {"error": "Failure."}

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._failures: list[Failure] = []
        self._lost: list[list[Any]] = []
        self.log: Callable[[str], None] | None = None
        self.lock = threading.Lock()
        """Held around every request when served, and around stdin commands."""
        self.date: Callable[[], datetime] | None = None
        """The server's clock: when set, every answer carries it as its `Date` header (as a real server's
        does), unless an injected answer brings its own. A fake sets it to its `clock`."""

    def fail_next(
        self,
        method: str,
        path_contains: str,
        status: int,
        json: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        exc: Exception | None = None,
        text: str | None = None,
    ) -> None:
        """The next `times` matching requests answer `status` with `json` or `text` (or raise `exc`)."""
        self._failures.append(Failure(method.upper(), path_contains, status, json, headers or {}, times, exc, text))

    def say_more_forever(self, method: str, path_contains: str, body: Any, times: int = 10**9) -> None:
        """Every matching request (a listing's pages) answers 200 with `body`: the same records, a page that
        says there are more, a huge total, whatever offset or cursor is asked for. A hostile CRM's listing."""
        self.fail_next(method, path_contains, 200, json=body, times=times)

    def answer_deep_json(self, method: str, path_contains: str, depth: int = 100_000, times: int = 1) -> None:
        """The next `times` matching requests answer 200 with JSON nested `depth` levels deep."""
        self.fail_next(method, path_contains, 200, text=deep_json(depth), times=times,
                       headers={"Content-Type": "application/json"})

    def lose_next(self, method: str, path_contains: str, times: int = 1) -> None:
        """The next `times` matching requests are carried out, then their answer is lost (the
        connection drops): a write the CRM applied whose client never heard back."""
        self._lost.append([method.upper(), path_contains, times])

    def _loses(self, request: httpx.Request) -> bool:
        for lost in self._lost:
            if lost[0] == request.method and lost[1] in request.url.path:
                lost[2] -= 1
                if lost[2] <= 0:
                    self._lost.remove(lost)
                return True
        return False

    def injected(self, request: httpx.Request, resource: str) -> httpx.Response | None:
        """The injected answer for this request, if one is due."""
        for failure in self._failures:
            if failure.method == request.method and failure.path_contains in resource:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                if failure.exc is not None:
                    raise failure.exc
                if failure.text is not None:
                    return httpx.Response(failure.status, text=failure.text, headers=failure.headers)
                body = failure.json if failure.json is not None else self.default_error
                return httpx.Response(failure.status, json=body, headers=failure.headers)
        return None

    def handler(self, request: httpx.Request) -> httpx.Response:
        """The `httpx.MockTransport` handler: log, answer."""
        self.requests.append(request)
        lose = self._loses(request)
        response = self._handle(request)
        if self.date is not None and "date" not in response.headers:
            response.headers["Date"] = format_datetime(self.date(), usegmt=True)
        if lose:
            if self.log is not None:
                self.log(f"{request.method} {request.url.path} -> {response.status_code}, answer lost")
            raise httpx.ReadTimeout("the answer was lost", request=request)
        if self.log is not None:
            body = request.content.decode(errors="replace")[:120]
            params = " ".join(
                f"{k}={v if len(v) <= 36 else v[:20] + f'…({v.count(chr(44)) + 1} items)'}"
                for k, v in request.url.params.multi_items()
            )
            self.log(f"{request.method} {request.url.path} {params} -> {response.status_code} {body}".rstrip())
        return response

    def _handle(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError

    def serve(self, host: str = "127.0.0.1", port: int = 8765, latency: float = 0.0) -> ThreadingHTTPServer:
        """A real HTTP server on loopback; call `serve_forever()` on what it returns.

        `latency` (seconds) is waited before each answer, outside the lock, as a network
        round trip and a real CRM's own time would be: requests in flight overlap.
        """
        fake, lock = self, self.lock

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real CRM: a client reuses its connection
            wbufsize = 1 << 16  # headers and body leave in one write (no Nagle / delayed-ACK stall)
            disable_nagle_algorithm = True

            def _any(self) -> None:
                if latency:
                    time.sleep(latency)
                length = int(self.headers.get("content-length") or 0)
                request = httpx.Request(
                    self.command, f"http://{host}:{port}{self.path}",
                    headers=list(self.headers.items()), content=self.rfile.read(length) if length else b"",
                )
                try:
                    with lock:
                        response = fake.handler(request)
                except httpx.TransportError:
                    self.close_connection = True  # a dropped connection: answer nothing
                    return
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the fake's own log says more

        return ThreadingHTTPServer((host, port), Handler)


def run_on_loopback(fake: FakeServer, host: str, port: int, banner: str, command: Callable[[str], str],
                    quiet: bool = False, latency_ms: float = 0.0) -> None:
    """Serve `fake` until interrupted, reading commands on stdin (each answered on stderr)."""
    if not quiet:
        fake.log = lambda line: print(line, file=sys.stderr, flush=True)
    server = fake.serve(host, port, latency=latency_ms / 1000)
    print(banner, file=sys.stderr)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for line in sys.stdin:
            with fake.lock:
                reply = command(line)
            if reply:
                print(reply, file=sys.stderr, flush=True)
        threading.Event().wait()  # stdin closed (run in the background): keep serving
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()


def loopback_parser(description: str, port: int) -> argparse.ArgumentParser:
    """The command line every fake shares: where to listen, and whether to log requests."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--quiet", action="store_true", help="no request log")
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS",
                        help="wait this long before each answer, as a real CRM across a network would")
    return parser


def failure_command(fake: FakeServer, words: list[str]) -> str | None:
    """`fail METHOD PATH STATUS [N]` and `drop METHOD PATH [N]`, for every fake's stdin; None if neither."""
    verb, args = words[0], words[1:]
    if verb == "fail":
        times = int(args[3]) if len(args) > 3 else 1
        fake.fail_next(args[0], args[1], int(args[2]), times=times)
        return f"next {times} {args[0]} {args[1]} -> {args[2]}"
    if verb == "drop":
        times = int(args[2]) if len(args) > 2 else 1
        fake.fail_next(args[0], args[1], 0, exc=httpx.RemoteProtocolError("dropped"), times=times)
        return f"next {times} {args[0]} {args[1]} drops the connection"
    if verb == "lose":
        times = int(args[2]) if len(args) > 2 else 1
        fake.lose_next(args[0], args[1], times)
        return f"next {times} {args[0]} {args[1]} carried out, answer lost"
    if verb == "slowdown":  # slowdown METHOD PATH date|seconds|reset N: a 429 asking to wait N s (N may be inf)
        how, seconds = args[2], int(args[3]) if args[2] != "seconds" else 0
        if how == "date":
            from datetime import UTC, timedelta
            headers = {"Retry-After": format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)}
        elif how == "reset":
            headers = {"RateLimit": f"limit=100, remaining=0, reset={seconds}"}
        else:
            headers = {"Retry-After": args[3]}  # as given: `inf`, `1e12` and `nan` too
        fake.fail_next(args[0], args[1], 429, json={"error": "Too many requests."}, headers=headers)
        return f"next {args[0]} {args[1]} -> 429 {headers}"
    return None


def deep_json(depth: int) -> str:
    """`{"data": [[[ … ]]]}`, `depth` lists deep: valid JSON that overflows a recursive reader."""
    return '{"data": ' + "[" * depth + "]" * depth + "}"


async def no_wait(_: float) -> None:
    """Stands in for asyncio.sleep in tests: retries and rate waits take no time."""


class ContractFake(ABC):
    """A backend's fake as the contract suite drives it, the same way for every CRM.

    The suite builds the backend through its registry entry: `spec.factory(spec.settings(**settings()),
    environ(), **options())`. The rest acts on the fake as a teammate (or the CRM itself) would.
    """

    has_key: bool = True
    """False where there is no key to reject (the local workspace)."""
    unknown_id: str = "nope"
    """An id of the CRM's shape that no card has."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """The backend's config table, pointing at the fake."""

    def environ(self, *, key_ok: bool = True) -> dict[str, str]:
        """The environment the factory reads: the fake's key, or one it rejects."""
        return {}

    def options(self) -> dict[str, Any]:
        """Passed on to the backend: the fake's transport, no real sleeps."""
        return {}

    @abstractmethod
    def teammate_move(self, card_id: str, status_id: str) -> None:
        """Someone else moves the card, in the CRM itself."""

    @abstractmethod
    def delete(self, card_id: str) -> None:
        """Someone deletes the card in the CRM."""

    @abstractmethod
    def status_of(self, card_id: str) -> str | None:
        """The card's status id as the CRM holds it now; None when there is no such card."""


class HttpContractFake(ContractFake):
    """A `ContractFake` for a `FakeServer`: the transport is its handler."""

    fake: FakeServer

    def options(self) -> dict[str, Any]:
        import httpx

        return {"transport": httpx.MockTransport(self.fake.handler), "sleep": no_wait}


class OpportunityContractFake(HttpContractFake):
    """For fakes that keep `opportunities` by id, each with a `status_id`, and move and delete
    them as a teammate would (`teammate_move`, `delete_opportunity`): Close, Clustr."""

    fake: Any

    def teammate_move(self, card_id: str, status_id: str) -> None:
        self.fake.teammate_move(card_id, status_id)

    def delete(self, card_id: str) -> None:
        self.fake.delete_opportunity(card_id)

    def status_of(self, card_id: str) -> str | None:
        record = self.fake.opportunities.get(card_id)
        return None if record is None else record["status_id"]
