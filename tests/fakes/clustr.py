"""A stateful fake Clustr server: the documented status endpoint, and the opportunity
endpoints as kanban-tui assumes them (`ASSUMED` in kanban_tui/backends/clustr.py): the list,
`GET opportunities/{id}` and `PUT opportunities/{id}`; and the documented `GET owners` (`id`, `email`,
`firstName`, `lastName`, `fullName`, ordered by name), whose ids the update takes as `assigned_to_user_id`
(and whose emails as `owner_email`). The update takes those and `status_id`, nothing else: any other field,
an unknown status or owner, or a wrong type is a 400 `VALIDATION_ERROR` (Clustr's error body is not
documented; the fake answers in the `{"success": false, "error": {...}}` envelope).

    python -m tests.fakes.clustr --port 8766 --size 120

then `CLUSTR_API_KEY=test-clustr-key kanban-tui --backend clustr --base-url
http://127.0.0.1:8766/api/public/`. stdin takes `move`, `fail`, `list`, `help`.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from kanban_tui.backends.clustr import ASSUMED

from .base import (
    FakeServer,
    OpportunityContractFake,
    failure_command,
    loopback_parser,
    run_on_loopback,
)

API = "/api/public/"
STATUSES = [  # as the status page shows them: positions with gaps, terminal ones last
    ("Assigned", "#3B82F6", 0, False), ("Contacted", "#6366F1", 1, False), ("Meeting Booked", "#06B6D4", 3, False),
    ("Proposal Sent", "#F59E0B", 4, False), ("Not Interested", "#EF4444", 5, True), ("Won", "#22C55E", 6, True),
]
PEOPLE = ["Maya Berg", "Liam Costa", "Noor Ito", "Ivo Kern", "Sana Mori", "Teo Nash", "Lena Ruiz", "Omar Sato"]
TITLES = ["VP Sales", "CTO", "Head of Ops", "CFO", "Founder"]
COMPANIES = ["Acme", "Globex", "Initech", "Hooli", "Stark", "Wayne", "Tyrell", "Umbrella", "Wonka", "Vandelay"]
OWNERS = [("Ada Park", "ada@example.com"), ("Bo Lindqvist", "bo@example.com"), ("Cyrus Okafor", "cy@example.com")]


def _ok(data: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"success": True, "data": data})


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"success": False, "error": {"code": code, "message": message}})


class FakeClustr(FakeServer):
    """One Clustr workspace in memory."""

    default_error = {"success": False, "error": {"code": "INTERNAL", "message": "Failure."}}

    def __init__(self, api_key: str = "test-clustr-key", *, limit_cap: int = 100) -> None:
        super().__init__()
        self.api_key = api_key
        self.limit_cap = limit_cap
        self.statuses: list[dict[str, Any]] = []
        self.opportunities: dict[str, dict[str, Any]] = {}
        self.owners: list[dict[str, Any]] = [
            {"id": str(uuid.UUID(int=n + 1)), "email": email, "firstName": name.split()[0],
             "lastName": name.split()[-1], "fullName": name} for n, (name, email) in enumerate(OWNERS)]
        self._rng = random.Random(0)
        self._last = datetime(2000, 1, 1, tzinfo=UTC)

    def _tick(self) -> datetime:
        self._last = max(datetime.now(UTC), self._last + timedelta(milliseconds=1))
        return self._last

    def seed(self, size: int = 120, seed: int = 5) -> None:
        rng = random.Random(seed)
        self._rng = random.Random(seed + 1)
        self.statuses = [
            {"id": str(uuid.UUID(int=self._rng.getrandbits(128))), "name": n, "color": c, "position": p,
             "is_terminal": t}
            for n, c, p, t in STATUSES
        ]
        rng_order = list(self.statuses)
        rng.shuffle(rng_order)  # the API returns them ordered; store them in any order
        self.statuses = rng_order
        now = datetime.now(UTC)
        for n in range(size):
            status = rng.choices(sorted(self.statuses, key=lambda s: s["position"]), [30, 22, 15, 10, 12, 8])[0]
            created = now - timedelta(days=rng.uniform(1, 120))
            updated = created + (now - created) * rng.uniform(0, 0.9)
            self._last = max(self._last, updated)
            owner = rng.choice(self.owners)
            record = {
                "id": f"opp_{self._rng.getrandbits(48):012x}",
                "status_id": status["id"],
                "prospect": {"name": rng.choice(PEOPLE), "job_title": rng.choice(TITLES),
                             "company_name": f"{rng.choice(COMPANIES)} {n}"},
                "company": {"name": f"{rng.choice(COMPANIES)} {n}", "domain": f"c{n}.example.com"},
                "owner": {"id": owner["id"], "fullName": owner["fullName"], "email": owner["email"]},
                "relationship": {"confidence_score": rng.choice([35, 50, 72, 88])},
                "notes": rng.choice(["", "Warm intro via a former colleague."]),
                "created_at": created.isoformat().replace("+00:00", "Z"),
                "updated_at": updated.isoformat().replace("+00:00", "Z"),
            }
            self.opportunities[record["id"]] = record

    def status_named(self, name: str) -> dict[str, Any]:
        return next(s for s in self.statuses if s["name"].lower() == name.lower())

    def teammate_move(self, opportunity_id: str, status_id: str) -> dict[str, Any]:
        record = self.opportunities[opportunity_id]
        record.update(status_id=status_id, updated_at=self._tick().isoformat().replace("+00:00", "Z"))
        return record

    def delete_opportunity(self, opportunity_id: str) -> None:
        del self.opportunities[opportunity_id]

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not path.startswith(API):
            return _error(404, "NOT_FOUND", "Not found")
        resource = path[len(API):]
        if (injected := self.injected(request, resource)) is not None:
            return injected
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "UNAUTHORIZED", "Missing or invalid API key")
        if resource == ASSUMED.OWNERS_PATH and request.method == "GET":
            return _ok({"owners": sorted(self.owners, key=lambda o: o["fullName"])})
        if resource == "opportunity-statuses" and request.method == "GET":
            return _ok({"statuses": sorted(self.statuses, key=lambda s: s["position"])})
        if resource == ASSUMED.LIST_PATH and request.method == "GET":
            try:
                page = int(request.url.params.get(ASSUMED.PAGE_PARAM, "1"))
                limit = min(int(request.url.params.get(ASSUMED.LIMIT_PARAM, "50")), self.limit_cap)
            except ValueError:
                return _error(400, "VALIDATION_ERROR", "page and limit must be integers")
            records = sorted(self.opportunities.values(), key=lambda r: (r["created_at"], r["id"]))
            chunk = records[(page - 1) * limit: page * limit]
            return _ok({ASSUMED.LIST_KEY: chunk, "pagination": {
                "page": page, "limit": limit, "total": len(records), "has_more": page * limit < len(records)}})
        match = re.fullmatch(ASSUMED.GET_PATH.replace("{id}", r"([A-Za-z0-9_-]+)"), resource)
        if match and request.method == "GET":
            record = self.opportunities.get(match[1])
            return _ok(record) if record is not None else _error(404, "NOT_FOUND", "Opportunity not found")
        match = re.fullmatch(ASSUMED.UPDATE_PATH.replace("{id}", r"([A-Za-z0-9_-]+)"), resource)
        if match and request.method == ASSUMED.UPDATE_METHOD:
            record = self.opportunities.get(match[1])
            if record is None:
                return _error(404, "NOT_FOUND", "Opportunity not found")
            try:
                changes = json.loads(request.content or b"{}")
            except ValueError:
                return _error(400, "VALIDATION_ERROR", "invalid JSON body")
            if not isinstance(changes, dict):
                return _error(400, "VALIDATION_ERROR", "the body must be an object")
            unknown = set(changes) - {ASSUMED.STATUS_FIELD, ASSUMED.OWNER_FIELD, "owner_email"}
            if unknown:
                return _error(400, "VALIDATION_ERROR", f"{sorted(unknown)[0]}: not a field the update takes")
            if any(not isinstance(v, str) for v in changes.values()):
                return _error(400, "VALIDATION_ERROR", "every field the update takes is a string")
            status_id = changes.get(ASSUMED.STATUS_FIELD)
            if status_id is not None and not any(s["id"] == status_id for s in self.statuses):
                return _error(400, "VALIDATION_ERROR", "status_id: unknown status")
            owner = next((o for o in self.owners if o["id"] == changes.get(ASSUMED.OWNER_FIELD)
                          or o["email"] == changes.get("owner_email")), None)
            if (ASSUMED.OWNER_FIELD in changes or "owner_email" in changes) and owner is None:
                return _error(400, "VALIDATION_ERROR", "assigned_to_user_id: unknown owner")
            if status_id is not None:
                record.update(status_id=status_id)
            if owner is not None:
                record["owner"] = {"id": owner["id"], "fullName": owner["fullName"], "email": owner["email"]}
            record["updated_at"] = self._tick().isoformat().replace("+00:00", "Z")
            return _ok(record)
        return _error(404, "NOT_FOUND", "Not found")


class Contract(OpportunityContractFake):
    """The fake Clustr for tests/test_contract.py: 150 opportunities (two pages)."""

    unknown_id = "opp_000000000000"

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.fake = FakeClustr("test-clustr-key")
        self.fake.seed(150)

    def settings(self) -> dict[str, Any]:
        return {"base_url": "https://api.clustr-ai.com/api/public/"}

    def environ(self, *, key_ok: bool = True) -> dict[str, str]:
        return {"CLUSTR_API_KEY": self.fake.api_key if key_ok else "clstr_wrong"}


def command(fake: FakeClustr, line: str) -> str:
    words = line.split()
    if not words:
        return ""
    try:
        if words[0] == "list":
            names = {s["id"]: s["name"] for s in fake.statuses}
            return "\n".join(f"{r['id']}  {names[r['status_id']]:<15} {r['company']['name']}"
                             for r in list(fake.opportunities.values())[:10])
        if words[0] == "move":
            card = words[1] if words[1] != "first" else next(iter(fake.opportunities))
            status = fake.status_named(" ".join(words[2:]))
            fake.teammate_move(card, status["id"])
            return f"moved {card} to {status['name']}"
        if (reply := failure_command(fake, words)) is not None:
            return reply
    except (IndexError, KeyError, ValueError, StopIteration) as exc:
        return f"cannot: {exc!r}"
    return "commands: list | move ID|first STATUS NAME | fail METHOD PATH STATUS [N] | drop METHOD PATH [N]"


def main(argv: list[str] | None = None) -> None:
    parser = loopback_parser("A fake Clustr API server on loopback, for trying kanban-tui.", 8766)
    parser.add_argument("--key", default="test-clustr-key")
    parser.add_argument("--size", type=int, default=120)
    args = parser.parse_args(argv)
    fake = FakeClustr(args.key)
    fake.seed(args.size)
    run_on_loopback(fake, args.host, args.port, f"fake Clustr on http://{args.host}:{args.port}{API}; type help",
                    lambda line: command(fake, line), quiet=args.quiet, latency_ms=args.latency)


if __name__ == "__main__":
    main()
