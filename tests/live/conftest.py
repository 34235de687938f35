"""A real BottleCRM for the live tests: `scripts/bottlecrm-up` once per session, down again at its end
(unless it was already up). Every test here is marked `live`; the unit suite deselects them
(`-m "not live"` in pyproject's addopts), `pytest -m live tests/live` runs them.

Skipped, with the reason printed, only where the script says a prerequisite is missing (exit 3:
no Python 3.12, or no PostgreSQL it can install); any other failure to start fails the tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
UP = REPO / "scripts" / "bottlecrm-up"
DOWN = REPO / "scripts" / "bottlecrm-down"
MISSING = 3
_skipped: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.live)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for reason in _skipped:
        terminalreporter.write_line(f"live BottleCRM tests skipped: {reason}", yellow=True)


@dataclass
class Server:
    """The running BottleCRM, and an API client for each of its two users."""

    url: str
    token: str = field(repr=False)
    """The board's user (never in a test report)."""
    teammate_token: str = field(repr=False)
    """Another ADMIN of the same org: the changes the board must notice."""
    directory: Path = REPO / ".bottlecrm"
    clients: dict[str, httpx.Client] = field(default_factory=dict, repr=False)

    def client(self, token: str | None = None) -> httpx.Client:
        token = token or self.teammate_token
        if token not in self.clients:
            self.clients[token] = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"},
                                               timeout=60)
        return self.clients[token]

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             expect: int | tuple[int, ...] = (200, 201, 204)) -> Any:
        """A request as the teammate (or `token`); its JSON. Fails the test on another status."""
        response = self.client(token).request(method, path, json=body)
        wanted = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in wanted, f"{method} {path} -> {response.status_code}: {response.text[:300]}"
        return response.json() if response.content else None

    def new_pipeline(self, name: str) -> dict[str, Any]:
        """A pipeline of its own for one test (BottleCRM seeds it with the default stages)."""
        return self.call("POST", "/api/opportunities/pipelines/", {"name": f"{name} {uuid.uuid4().hex[:6]}"})

    def add_deals(self, pipeline: dict[str, Any], stages: list[str], count: int, **fields: Any) -> list[str]:
        """`count` deals spread over `stages` in turn, through the API; their ids."""
        tag = uuid.uuid4().hex[:6]
        closed = {s["code"] for s in pipeline["stages"] if s["kind"] != "open"}

        def one(n: int) -> str:
            stage = stages[n % len(stages)]
            body = {"name": f"Live {tag} {n:04d}", "pipeline": pipeline["id"], "stage": stage,
                    "amount": f"{100 + n}.00", "currency": "USD", "assigned_to": [], "contacts": [], "teams": [],
                    **fields}
            if stage in closed:  # BottleCRM: "A deal cannot be closed without the date it closed on."
                body.setdefault("closed_on", "2026-01-15")
            return self.call("POST", "/api/opportunities/", body)["id"]

        with ThreadPoolExecutor(max_workers=6) as pool:
            return list(pool.map(one, range(count)))

    def kanban(self, pipeline_id: str) -> dict[str, list[str]]:
        """BottleCRM's own board: stage code -> the ids of the cards it shows there."""
        board = self.call("GET", f"/api/opportunities/kanban/?pipeline={pipeline_id}", token=self.token)
        return {column["id"]: [card["id"] for card in column["items"]] for column in board["columns"]}


def _running(directory: Path) -> bool:
    try:
        state = json.loads((directory / "state.json").read_text())
        return Path(f"/proc/{state['server_pid']}").exists()
    except (OSError, KeyError, ValueError):
        return False


def _up(directory: Path, *args: str) -> dict[str, str]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(UP), str(directory), *args], capture_output=True, text=True,
                            timeout=3600)
    if result.returncode == MISSING:
        reason = (result.stderr.strip().splitlines() or ["a prerequisite is missing"])[-1]
        _skipped.append(reason)
        pytest.skip(reason)
    assert result.returncode == 0, f"scripts/bottlecrm-up failed:\n{result.stderr[-3000:]}"
    lines = result.stdout.splitlines()
    assert len(lines) == 2, f"bottlecrm-up printed {len(lines)} lines on stdout, not 2"
    values = dict(line.split("=", 1) for line in lines)
    print(f"\nbottlecrm-up {' '.join(args)}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    return values


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    directory = Path(os.environ.get("BOTTLECRM_DIR") or REPO / ".bottlecrm")
    was_up = _running(directory)
    main = _up(directory)
    teammate = _up(directory, "--token", "teammate")
    assert teammate["BOTTLECRM_URL"] == main["BOTTLECRM_URL"]
    assert teammate["BOTTLECRM_TOKEN"] != main["BOTTLECRM_TOKEN"]
    server = Server(main["BOTTLECRM_URL"], main["BOTTLECRM_TOKEN"], teammate["BOTTLECRM_TOKEN"], directory)
    # the default pipeline (the contract tests use it) holds enough deals to move, delete and page through
    pipelines = server.call("GET", "/api/opportunities/pipelines/")["pipelines"]
    default = next(p for p in pipelines if p["is_default"])
    count = server.call("GET", f"/api/opportunities/?pipeline={default['id']}&limit=1")["opportunities_count"]
    if count < 120:
        open_codes = [s["code"] for s in default["stages"] if s["kind"] == "open"]
        server.add_deals(default, open_codes, 120 - count)
    yield server
    for client in server.clients.values():
        client.close()
    if not was_up:
        subprocess.run([sys.executable, str(DOWN), str(directory)], timeout=120)
