"""A stateful fake Pipedrive API v2 (pipelines, stages, deals), built from Pipedrive's published description.

In tests: `httpx.MockTransport(FakePipedrive().handler)`. By hand, on loopback:

    python -m tests.fakes.pipedrive --port 8769 --size 150

then `PIPEDRIVE_API_TOKEN=test-pipedrive-token dealboard --backend pipedrive --base-url
http://127.0.0.1:8769/`. It logs every request on stderr and reads commands on stdin (`help` lists
them): move a deal as a teammate would (to a stage, to won, to lost), add one, delete one, make the next
requests fail, use up the rate-limit window.

What it does, from `pipedrive-openapi-v2.yml` (shared/reference) as extracted into `pipedrive_schemas.json`
(`extract_pipedrive_schema.py`), and Pipedrive's rate-limiting page:

- Auth: the `x-api-token` header (the description's only API key scheme), else 401. A token in the
  `api_token` query parameter is refused (400): the board must never put it there.
- `GET /api/v2/pipelines`, `GET /api/v2/stages[?pipeline_id=]`, `GET|POST /api/v2/deals`, `GET|PATCH|DELETE
  /api/v2/deals/{id}`. Query parameters: only those the operation declares (else 400), enums checked
  (`status` a comma-separated list of them), `limit` default 100, at most 500 (else 400). Cursor paging
  (`cursor` in, `additional_data.next_cursor` out, null on the last page), sorted by `sort_by` /
  `sort_direction`. `updated_since` is "later than or equal", `updated_until` "earlier than".
- Deals: `status` open / won / lost; `status=deleted` lists deals deleted up to 30 days ago (a deletion
  marks the deal `is_deleted` and moves its `update_time`); archived deals are not listed.
- `PATCH` takes only the body properties the description names (else 400); `stage_id` sets the deal's
  pipeline from the stage and `stage_change_time`; `status` won / lost sets `won_time` / `lost_time` and
  `close_time`, open clears them; `lost_reason` "can only be set if deal status is lost" (else 400).
  A deleted or unknown deal is a 404 in the description's error envelope.
- `PATCH` and `POST /deals` bodies are checked against the description's request schemas (types, `format:
  date` for `expected_close_date`, no `null` where it is not `nullable`: `value` and `expected_close_date`
  cannot be cleared, `probability` can); a failure is a 400 in the error envelope. `POST` needs a `title`;
  it puts the deal in `stage_id` (which must be in `pipeline_id` when both are sent), else in the first
  stage of `pipeline_id`. There is no users list and no notes call in the v2 description: the fake has none.
- Every answer carries `x-ratelimit-limit` / `x-ratelimit-remaining` / `x-ratelimit-reset` (a 2-second
  window) and spends the operation's `x-token-cost` from a daily budget; either used up: 429 with
  `Retry-After`.
- "Who am I" is only in v1: `GET /api/v1/users/me` (`id`, `name`, `email`, `company_domain`); not part
  of the v2 description, so not schema-checked.

Every answer of a described operation is validated against its 200 schema (errors against the error
envelope), every object closed: the fake sends no field the description does not name.
"""

from __future__ import annotations

import base64
import json
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from .base import FakeServer, HttpContractFake, failure_command, loopback_parser, run_on_loopback

SCHEMA_FILE = Path(__file__).with_name("pipedrive_schemas.json")
V2 = "/api/v2/"
ME = "/api/v1/users/me"
TOKEN = "test-pipedrive-token"
DELETED_KEPT = timedelta(days=30)
SALES: list[tuple[str, int, int | None]] = [
    ("Lead In", 10, 14), ("Contact Made", 25, 14), ("Demo Scheduled", 50, 10), ("Proposal Made", 75, 10),
    ("Negotiations Started", 90, None)]
PARTNERS: list[tuple[str, int, int | None]] = [("Intro", 20, None), ("Talking", 60, None)]
USERS = {1: ("Ada Park", "ada@example.com"), 2: ("Bo Lindqvist", "bo@example.com")}
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Wonka", "Vandelay"]
WINDOW = 2.0
"""Seconds of the burst window (Pipedrive: "the rate limit window duration is 2 seconds")."""
HELP = """commands:
  list [N]                         the first N deals (default 10)
  move ID|first TARGET             a teammate moves the deal: TARGET a stage name, won or lost [REASON]
  add STAGE TITLE                  a teammate adds a deal in that stage (by name)
  delete ID|first                  a teammate deletes the deal
  rename ID|first TITLE            a teammate renames it (\\x1b-style escapes are sent as those characters)
  fail METHOD PATH STATUS [N]      the next N matching requests answer STATUS
  drop METHOD PATH [N]             the next N matching requests drop the connection
  lose METHOD PATH [N]             carried out, then the answer is lost
  slowdown METHOD PATH seconds N   the next matching request is a 429 asking to wait N s
  rate N                           what is left of the 2-second window (0: 429s until it resets)
  budget N                         what is left of the daily token budget
  help"""


def stamp(when: datetime) -> str:
    """Pipedrive's times: RFC 3339, whole seconds, UTC."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Refused(Exception):
    def __init__(self, status: int, error: str, info: str = "") -> None:
        self.status, self.error, self.info = status, error, info


class SchemaCheck:
    """Each answer against its operation's 200 schema (or the error envelope), from the description."""

    def __init__(self) -> None:
        from jsonschema import Draft7Validator, FormatChecker

        self.described = json.loads(SCHEMA_FILE.read_text())
        self.operations = self.described["operations"]
        self._answers = {name: Draft7Validator(op["response"]) for name, op in self.operations.items()}
        self._bodies = {name: Draft7Validator(op["body"], format_checker=FormatChecker())
                        for name, op in self.operations.items() if op["body"]}
        self._error = Draft7Validator(self.described["error"])

    def answer(self, operation: str, status: int, body: Any) -> None:
        validator = self._answers[operation] if status == 200 else self._error
        errors = sorted(validator.iter_errors(body), key=str)
        if errors:
            raise AssertionError(f"fake Pipedrive answered {operation} with what the description does not allow:"
                                 f" {errors[0].message} at {list(errors[0].absolute_path)}")

    def params(self, operation: str, params: httpx.QueryParams) -> None:
        """Refused: a query parameter the operation does not declare, or a value outside its enum."""
        declared = self.operations[operation]["params"]
        for name, value in params.multi_items():
            if name == "api_token":
                raise Refused(400, "The API token goes in the x-api-token header, not in the query string")
            if name not in declared:
                raise Refused(400, f"Unknown parameter {name!r}")
            schema = declared[name]
            values = value.split(",") if name == "status" else [value]
            for one in values:
                if "enum" in schema and one not in schema["enum"]:
                    raise Refused(400, f"Parameter {name!r} must be one of {', '.join(schema['enum'])}")
                if schema.get("type") == "integer" and not one.lstrip("-").isdigit():
                    raise Refused(400, f"Parameter {name!r} must be an integer")

    def body(self, operation: str, body: Any) -> None:
        errors = sorted(self._bodies[operation].iter_errors(body), key=str)
        if errors:
            raise Refused(400, f"Invalid body: {errors[0].message}")


class FakePipedrive(FakeServer):
    """One Pipedrive company in memory. Not thread-safe by itself; `serve` locks around it."""

    def __init__(self, token: str = TOKEN, *, clock: Callable[[], datetime] | None = None,
                 validate: bool = True) -> None:
        super().__init__()
        self.token = token
        self.clock = clock or (lambda: datetime.now(UTC))
        self.check = SchemaCheck()
        self.validate = validate
        self.pipelines: list[dict[str, Any]] = []
        self.stages: list[dict[str, Any]] = []
        self.deals: dict[int, dict[str, Any]] = {}
        self.company_domain = "fakeco"
        self.me = 1
        self.rate_limit = 80
        self.rate_remaining = 80
        self._window_start: float | None = None
        self.budget = 30_000
        """Tokens left today (each operation costs its `x-token-cost`)."""
        self._next_id = {"pipeline": 1, "stage": 1, "deal": 1}
        self._last = datetime(2000, 1, 1, tzinfo=UTC)
        self.date = self.clock  # every answer's `Date` header

    # -- building the company ---------------------------------------------------------------------

    def _id(self, kind: str) -> int:
        self._next_id[kind] += 1
        return self._next_id[kind] - 1

    def _tick(self) -> datetime:
        """Now (whole seconds, as Pipedrive's times are), never before an earlier write."""
        self._last = max(self.clock().replace(microsecond=0), self._last)
        return self._last

    def add_pipeline(self, name: str, stages: list[tuple[str, int, int | None]]) -> dict[str, Any]:
        when = stamp(self._tick())
        pipeline = {"id": self._id("pipeline"), "name": name, "order_nr": len(self.pipelines) + 1,
                    "is_selected": not self.pipelines, "is_deleted": False, "is_deal_probability_enabled": True,
                    "add_time": when, "update_time": when}
        self.pipelines.append(pipeline)
        for order, (label, probability, rotten) in enumerate(stages, start=1):
            self.stages.append({"id": self._id("stage"), "order_nr": order, "name": label, "is_deleted": False,
                                "deal_probability": probability, "pipeline_id": pipeline["id"],
                                "is_deal_rot_enabled": rotten is not None, "days_to_rotten": rotten,
                                "add_time": when, "update_time": when})
        return pipeline

    def stage(self, stage_id: int) -> dict[str, Any] | None:
        return next((s for s in self.stages if s["id"] == stage_id and not s["is_deleted"]), None)

    def stage_named(self, name: str) -> dict[str, Any]:
        return next(s for s in self.stages if s["name"].lower() == name.lower() and not s["is_deleted"])

    def add_deal(self, stage_id: int, title: str, *, value: float | None = 1000, currency: str = "USD",
                 status: str = "open", owner_id: int = 1, created: datetime | None = None,
                 stage_changed: datetime | None = None, probability: float | None = None) -> dict[str, Any]:
        stage = self.stage(stage_id)
        assert stage is not None, stage_id
        now = created or self._tick()
        deal: dict[str, Any] = {
            "id": self._id("deal"), "title": title, "owner_id": owner_id, "pipeline_id": stage["pipeline_id"],
            "stage_id": stage_id, "value": value or 0, "currency": currency, "add_time": stamp(now),
            "update_time": stamp(now), "stage_change_time": stamp(stage_changed or now), "is_deleted": False,
            "is_archived": False, "status": "open", "probability": probability, "lost_reason": None,
            "visible_to": 3, "close_time": None, "label_ids": [], "origin": "API", "origin_id": None,
            "channel": None, "channel_id": None, "custom_fields": {},
        }
        if status != "open":
            self._set_status(deal, status, stage_changed or now, None)
        self.deals[deal["id"]] = deal
        return deal

    def seed(self, size: int = 150, other: int = 20, seed: int = 5) -> None:
        """"Sales" (5 stages, `size` deals, a few won and lost) and "Partners" (2 stages, `other` deals)."""
        rng = random.Random(seed)
        now = self.clock()
        sales = self.add_pipeline("Sales", SALES)
        partners = self.add_pipeline("Partners", PARTNERS)
        for pipeline, count in ((sales, size), (partners, other)):
            stages = [s for s in self.stages if s["pipeline_id"] == pipeline["id"]]
            for n in range(count):
                created = (now - timedelta(days=rng.uniform(1, 90))).replace(microsecond=0)
                status = rng.choices(["open", "won", "lost"], [8, 1, 1])[0]
                self.add_deal(rng.choice(stages)["id"], f"{rng.choice(COMPANIES)} {pipeline['name']} {n:04d}",
                              value=None if n % 17 == 3 else rng.randint(5, 500) * 100,
                              currency=rng.choice(["USD", "USD", "EUR"]), status=status,
                              owner_id=rng.choice(list(USERS)), created=created,
                              stage_changed=created + (now - created) * rng.uniform(0, 0.9))

    # -- what teammates do ---------------------------------------------------------------------------

    def _set_status(self, deal: dict[str, Any], status: str, when: datetime, reason: str | None) -> None:
        deal["status"] = status
        for key in ("won_time", "lost_time"):
            deal.pop(key, None)
        deal["lost_reason"] = reason if status == "lost" else None
        deal["close_time"] = stamp(when) if status != "open" else None
        if status in ("won", "lost"):
            deal[f"{status}_time"] = stamp(when)

    def update(self, deal_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """`PATCH /deals/{id}` as Pipedrive does it (and as a teammate's edit is)."""
        deal = self.deals.get(deal_id)
        if deal is None or deal["is_deleted"]:
            raise Refused(404, "Entity was not found", "Object was not found.")
        status = fields.get("status", deal["status"])
        if status not in ("open", "won", "lost"):
            raise Refused(400, "Invalid status", "The status must be open, won or lost.")
        if fields.get("lost_reason") is not None and status != "lost":
            raise Refused(400, "lost_reason can only be set if deal status is lost")
        now = self._tick()
        if "stage_id" in fields:
            stage = self.stage(fields["stage_id"])
            if stage is None:
                raise Refused(400, "Stage not found", f"No stage with id {fields['stage_id']}.")
            if stage["id"] != deal["stage_id"]:
                deal["stage_change_time"] = stamp(now)
            deal.update(stage_id=stage["id"], pipeline_id=stage["pipeline_id"])
        if status != deal["status"] or "lost_reason" in fields:
            self._set_status(deal, status, now, fields.get("lost_reason"))
        for key in ("title", "value", "currency", "probability", "owner_id", "expected_close_date"):
            if key in fields:
                deal[key] = fields[key]
        deal["update_time"] = stamp(now)
        return deal

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        """`POST /deals` as Pipedrive does it: in `stage_id` (its pipeline), else the first stage of
        `pipeline_id` (else of the first pipeline); `status` won / lost closes it at once."""
        stage = self.stage(fields["stage_id"]) if "stage_id" in fields else None
        if "stage_id" in fields and stage is None:
            raise Refused(400, "Stage not found", f"No stage with id {fields['stage_id']}.")
        if stage is not None and "pipeline_id" in fields and stage["pipeline_id"] != fields["pipeline_id"]:
            raise Refused(400, "The stage is not in the pipeline", "stage_id and pipeline_id disagree.")
        if stage is None:
            pipeline_id = fields.get("pipeline_id", self.pipelines[0]["id"])
            stage = next((s for s in sorted(self.stages, key=lambda s: s["order_nr"])
                          if s["pipeline_id"] == pipeline_id and not s["is_deleted"]), None)
            if stage is None:
                raise Refused(400, "Pipeline not found", f"No pipeline with id {pipeline_id}.")
        status = fields.get("status", "open")
        if status not in ("open", "won", "lost"):
            raise Refused(400, "Invalid status", "The status must be open, won or lost.")
        if fields.get("lost_reason") is not None and status != "lost":
            raise Refused(400, "lost_reason can only be set if deal status is lost")
        deal = self.add_deal(stage["id"], fields["title"], value=fields.get("value"),
                             currency=fields.get("currency", "USD"), status=status,
                             owner_id=fields.get("owner_id", self.me), probability=fields.get("probability"))
        if "expected_close_date" in fields:
            deal["expected_close_date"] = fields["expected_close_date"]
        return deal

    def teammate_move(self, deal_id: int | str, target: str, reason: str | None = None) -> dict[str, Any]:
        """To a board status: `won`, `lost`, or a stage id (a won or lost deal is reopened there)."""
        if target in ("won", "lost"):
            fields: dict[str, Any] = {"status": target, **({"lost_reason": reason} if reason else {})}
        else:
            fields = {"stage_id": int(target), "status": "open"}
        return self.update(int(deal_id), fields)

    def delete_deal(self, deal_id: int | str) -> None:
        deal = self.deals.get(int(deal_id))
        if deal is None or deal["is_deleted"]:
            raise Refused(404, "Entity was not found", "Object was not found.")
        deal.update(is_deleted=True, update_time=stamp(self._tick()))

    def board_status(self, deal_id: int | str) -> str | None:
        """The deal's column on the board (a stage id, `won`, `lost`); None when deleted or unknown."""
        deal = self.deals.get(int(deal_id))
        if deal is None or deal["is_deleted"]:
            return None
        return deal["status"] if deal["status"] != "open" else str(deal["stage_id"])

    # -- the API ---------------------------------------------------------------------------------------

    def _spend(self, cost: int) -> dict[str, str] | None:
        """Count a request against the 2-second window and the day's budget: its headers, None when used up."""
        now = time.monotonic()
        if self._window_start is None or now - self._window_start >= WINDOW:
            if self._window_start is not None:
                self.rate_remaining = self.rate_limit
            self._window_start = now
        reset = max(1, math.ceil(WINDOW - (now - self._window_start)))
        if self.rate_remaining <= 0 or self.budget < cost:
            return None
        self.rate_remaining -= 1
        self.budget -= cost
        return {"x-ratelimit-limit": str(self.rate_limit), "x-ratelimit-remaining": str(self.rate_remaining),
                "x-ratelimit-reset": str(reset)}

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == ME:
            resource, operation = "users/me", None
        elif path.startswith(V2):
            resource = path[len(V2):].rstrip("/")
            operation = _operation(request.method, resource)
        else:
            return _error(404, "Unknown method", "")
        if (injected := self.injected(request, resource)) is not None:
            return injected
        if request.headers.get("x-api-token") != self.token:
            return _error(401, "Unauthorized access", "Please check the provided API token.")
        if operation is None and resource != "users/me":
            return _error(404, "Unknown method", "")
        cost = self.check.operations[operation]["cost"] if operation else 1
        headers = self._spend(cost)
        if headers is None:
            wait = 2 if self.rate_remaining <= 0 else 60
            return _error(429, "Request over limit", "Wait and try again.",
                          {"Retry-After": str(wait), "x-ratelimit-limit": str(self.rate_limit),
                           "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(wait)})
        try:
            if operation is None:
                name, email = USERS[self.me]
                return httpx.Response(200, json={"success": True, "data": {
                    "id": self.me, "name": name, "email": email, "company_id": 1,
                    "company_domain": self.company_domain}}, headers=headers)
            self.check.params(operation, request.url.params)
            body = self._route(operation, request, resource)
        except Refused as exc:
            answer = {"success": False, "error": exc.error, "error_info": exc.info, "data": None,
                      "additional_data": None}
            if operation and self.validate:
                self.check.answer(operation, exc.status, answer)
            return httpx.Response(exc.status, json=answer, headers=headers)
        if self.validate:
            self.check.answer(operation, 200, body)
        return httpx.Response(200, json=body, headers=headers)

    def _route(self, operation: str, request: httpx.Request, resource: str) -> dict[str, Any]:
        params = request.url.params
        if operation == "getPipelines":
            return self._page([p for p in self.pipelines if not p["is_deleted"]], params)
        if operation == "getStages":
            wanted = params.get("pipeline_id")
            return self._page([s for s in self.stages if not s["is_deleted"]
                               and (wanted is None or str(s["pipeline_id"]) == wanted)], params)
        if operation == "getDeals":
            return self._page(self._deals(params), params)
        if operation == "addDeal":
            body = self._body(request)
            self.check.body("addDeal", body)
            return {"success": True, "data": dict(self.create(body))}
        deal_id = int(resource.split("/")[1])
        if operation == "getDeal":
            deal = self.deals.get(deal_id)
            if deal is None or deal["is_deleted"]:
                raise Refused(404, "Entity was not found", "Object was not found.")
            return {"success": True, "data": dict(deal)}
        if operation == "deleteDeal":
            self.delete_deal(deal_id)
            return {"success": True, "data": {"id": deal_id}}
        body = self._body(request)
        self.check.body("updateDeal", body)
        return {"success": True, "data": dict(self.update(deal_id, body))}

    @staticmethod
    def _body(request: httpx.Request) -> Any:
        try:
            return json.loads(request.content or b"{}")
        except ValueError:
            raise Refused(400, "Invalid JSON body") from None

    def _deals(self, params: httpx.QueryParams) -> list[dict[str, Any]]:
        statuses = set((params.get("status") or "open,won,lost").split(","))
        now = self.clock()
        since = parse(params["updated_since"]) if "updated_since" in params else None
        until = parse(params["updated_until"]) if "updated_until" in params else None
        ids = {int(i) for i in params["ids"].split(",")} if params.get("ids") else None
        found = []
        for deal in self.deals.values():
            if deal["is_archived"]:
                continue
            if deal["is_deleted"]:
                if "deleted" not in statuses or parse(deal["update_time"]) < now - DELETED_KEPT:
                    continue
            elif deal["status"] not in statuses:
                continue
            if any(k in params and str(deal[k]) != params[k] for k in ("pipeline_id", "stage_id", "owner_id")):
                continue
            when = parse(deal["update_time"])
            if (since is not None and when < since) or (until is not None and when >= until):
                continue
            if ids is not None and deal["id"] not in ids:
                continue
            found.append(deal)
        return found

    def _page(self, records: list[dict[str, Any]], params: httpx.QueryParams) -> dict[str, Any]:
        """Sorted by `sort_by` (then id), from `cursor` on, `limit` of them, with the next cursor."""
        limit = int(params.get("limit", "100"))
        if not 1 <= limit <= 500:
            raise Refused(400, "Invalid limit", "A maximum value of 500 is allowed.")
        key_name = params.get("sort_by", "id")
        descending = params.get("sort_direction", "asc") == "desc"

        def key(record: dict[str, Any]) -> tuple[Any, int]:
            return (record.get(key_name) or "", record["id"])

        ordered = sorted(records, key=key, reverse=descending)
        start = 0
        if params.get("cursor"):
            try:
                after = json.loads(base64.urlsafe_b64decode(params["cursor"] + "==="))
                mark = (after["value"], after["id"])
            except (ValueError, KeyError, TypeError):
                raise Refused(400, "Invalid cursor") from None
            start = next((n for n, r in enumerate(ordered)
                          if (key(r) < tuple(mark) if descending else key(r) > tuple(mark))), len(ordered))
        page = ordered[start:start + limit]
        following = None
        if start + limit < len(ordered) and page:
            last = key(page[-1])
            following = base64.urlsafe_b64encode(json.dumps({"field": key_name, "value": last[0],
                                                             "id": last[1]}).encode()).decode().rstrip("=")
        return {"success": True, "data": [dict(r) for r in page], "additional_data": {"next_cursor": following}}


def _operation(method: str, resource: str) -> str | None:
    parts = resource.split("/")
    if parts == ["pipelines"] and method == "GET":
        return "getPipelines"
    if parts == ["stages"] and method == "GET":
        return "getStages"
    if parts == ["deals"] and method in ("GET", "POST"):
        return "getDeals" if method == "GET" else "addDeal"
    if len(parts) == 2 and parts[0] == "deals" and parts[1].isdigit():
        return {"GET": "getDeal", "PATCH": "updateDeal", "DELETE": "deleteDeal"}.get(method)
    return None


def _error(status: int, error: str, info: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"success": False, "error": error, "error_info": info, "data": None,
                                        "additional_data": None}, headers=headers)


def _deal_id(fake: FakePipedrive, word: str) -> int:
    if word != "first":
        return int(word)
    sales = fake.pipelines[0]["id"]
    return next(d["id"] for d in fake.deals.values()
                if d["pipeline_id"] == sales and not d["is_deleted"] and d["status"] == "open")


def command(fake: FakePipedrive, line: str) -> str:
    """One stdin command; what to print back."""
    words = line.split()
    if not words:
        return ""
    verb, args = words[0], words[1:]
    try:
        if verb == "list":
            live = [d for d in fake.deals.values() if not d["is_deleted"]][: int(args[0]) if args else 10]
            return "\n".join(f"{d['id']:>6}  {fake.board_status(d['id']) or '':<6} {d['title']}" for d in live)
        if verb == "move":
            deal_id = _deal_id(fake, args[0])
            target = " ".join(args[1:])
            if args[1].lower() in ("won", "lost"):
                deal = fake.teammate_move(deal_id, args[1].lower(), " ".join(args[2:]) or None)
            else:
                deal = fake.teammate_move(deal_id, str(fake.stage_named(target)["id"]))
            return f"moved {deal_id} ({deal['title']}) to {target}"
        if verb == "add":
            stage = fake.stage_named(args[0].replace("_", " "))
            deal = fake.add_deal(stage["id"], " ".join(args[1:]) or "New deal")
            return f"added {deal['id']} ({deal['title']}) to {stage['name']}"
        if verb == "delete":
            deal_id = _deal_id(fake, args[0])
            fake.delete_deal(deal_id)
            return f"deleted {deal_id}"
        if verb == "rename":
            import re

            deal_id = _deal_id(fake, args[0])
            title = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m[1], 16)), line.split(None, 2)[2].rstrip("\n"))
            fake.update(deal_id, {"title": title})
            return f"renamed {deal_id} to {title!r}"
        if (reply := failure_command(fake, words)) is not None:
            return reply
        if verb == "rate":
            fake.rate_remaining = int(args[0])
            return f"rate remaining {fake.rate_remaining}"
        if verb == "budget":
            fake.budget = int(args[0])
            return f"budget {fake.budget} tokens"
    except (IndexError, KeyError, ValueError, StopIteration, Refused) as exc:
        return f"cannot: {exc!r}\n{HELP}"
    return HELP


class Contract(HttpContractFake):
    """The fake Pipedrive for tests/test_contract.py: "Sales" first (150 deals), "Partners"."""

    unknown_id = "999999"
    fake: FakePipedrive

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.fake = FakePipedrive()
        self.fake.seed(150, 20)

    def settings(self) -> dict[str, Any]:
        return {"base_url": "https://api.pipedrive.com/"}

    def environ(self, *, key_ok: bool = True) -> dict[str, str]:
        return {"PIPEDRIVE_API_TOKEN": self.fake.token if key_ok else "wrong-token"}

    def teammate_move(self, card_id: str, status_id: str) -> None:
        self.fake.teammate_move(card_id, status_id)

    def delete(self, card_id: str) -> None:
        self.fake.delete_deal(card_id)

    def status_of(self, card_id: str) -> str | None:
        return self.fake.board_status(card_id)


def main(argv: list[str] | None = None) -> None:
    parser = loopback_parser("A fake Pipedrive API v2 on loopback, for trying dealboard.", 8769)
    parser.add_argument("--token", default=TOKEN, help="the API token it accepts")
    parser.add_argument("--size", type=int, default=150, help="deals in the Sales pipeline")
    parser.add_argument("--other", type=int, default=20, help="deals in the Partners pipeline")
    parser.add_argument("--rate-limit", type=int, default=80, help="requests per 2-second window")
    args = parser.parse_args(argv)
    fake = FakePipedrive(args.token)
    fake.rate_limit = fake.rate_remaining = args.rate_limit
    fake.seed(args.size, args.other)
    run_on_loopback(
        fake, args.host, args.port,
        f"fake Pipedrive on http://{args.host}:{args.port}/ (token {args.token!r}); type help",
        lambda line: command(fake, line), quiet=args.quiet, latency_ms=args.latency,
    )


if __name__ == "__main__":
    main()
