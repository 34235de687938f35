"""A stateful fake HubSpot CRM v3 API: deal pipelines, owners, deals (search, list, read, update, archive).

    python -m tests.fakes.hubspot --port 8769 --size 12000

then `HUBSPOT_ACCESS_TOKEN=pat-test-board dealboard --backend hubspot --base-url http://127.0.0.1:8769/`.
It logs every request on stderr and reads commands on stdin (`help` lists them): move a deal as a
teammate would, add one, delete (archive) one, make the next requests fail, use up a rate limit.

Written from HubSpot's OpenAPI descriptions (shared/reference/hubspot: `deals.json`, `pipelines.json`,
`crmOwners.json`, CRM v3) and the issue's facts; what it answers is checked against their schemas
(`hubspot_schemas.json`, extracted by `extract_hubspot_schema.py`), and what it is sent too:

- `Authorization: Bearer <private app token>`, else 401 with HubSpot's `Error` body (`category`,
  `correlationId`, `message`).
- `GET /crm/v3/pipelines/deals`: `CollectionResponsePipelineNoPaging` (`results`), each `Pipeline` with
  `stages` (`displayOrder`, `metadata` whose values are strings: `probability` "0.0".."1.0", `isClosed`).
- `GET /crm/v3/owners` (`limit` default 100, `after`, `archived`): `CollectionResponsePublicOwnerForwardPaging`.
- Deals are object type `0-3`, reachable as `/crm/v3/objects/0-3` and as `/crm/v3/objects/deals`:
  - `POST …/search`: the body must be a `PublicObjectSearchRequest` (its required `after`, `filterGroups`,
    `limit`, `properties`, `sorts`); `limit` up to 200 ("up to 200 objects"), else 400; up to 6 filter
    groups (ORed; filters within a group ANDed; operators EQ NEQ LT LTE GT GTE BETWEEN IN NOT_IN
    HAS_PROPERTY NOT_HAS_PROPERTY); `sorts` are property names (the description types them as strings),
    ascending, `-name` descending; `after` is the offset as a string. At most 10,000 results per query:
    an `after` at or past 10,000 is a 400, and no page reaches past the 10,000th result (its `paging`
    still offers the next `after`, as the limit is on the server's side). Answers
    `CollectionResponseWithTotalSimplePublicObject` (`total`, `results`, `paging.next.after`). Every
    result carries `hs_object_id`, `createdate` and `hs_lastmodifieddate` besides the asked properties.
  - `GET …?archived=true` (or false; `limit` default 10, at most 100; `after`; `properties`): the
    archived (deleted) deals, each with `archivedAt`.
  - `GET …/{dealId}` (`properties`, `archived`): one deal; 404 when there is none (or it is archived).
  - `PATCH …/{dealId}`: the body must be a `SimplePublicObjectInput`; a `dealstage` that is not a stage
    of the deal's pipeline (or of the `pipeline` it is sent with) is a 400 `VALIDATION_ERROR`; answers
    the deal (`SimplePublicObject`). Every write moves `hs_lastmodifieddate` / `updatedAt` on.
  - `DELETE …/{dealId}`: archives it (204).
  - `POST …` (create): a `SimplePublicObjectInputForCreate` (`properties`, `associations`); `pipeline` and a
    `dealstage` of it required (400 otherwise); answers 201 with the deal.
  - A write's properties must exist on deals (else 400 `PROPERTY_DOESNT_EXIST`), `amount` be a number,
    `closedate` a date-time and `hubspot_owner_id` an owner's id (else 400 naming the property); an empty
    string clears a property.
- Notes (`notes.json`, and the notes guide for their properties): `POST /crm/v3/objects/notes` (a
  `SimplePublicObjectInputForCreate`; `hs_timestamp` required, `hs_note_body` up to 65,536 characters; an
  association to a deal of the HubSpot-defined type 214) answers 201; `POST /crm/v3/objects/notes/search`
  filters as deals' search does, with `associations.deal` the deal a note is on.
- Property values are strings (`additionalProperties: {type: string}`): an empty property is left out.
- Rate limits: 100 requests per rolling 10 s window (`X-HubSpot-RateLimit-Max`, `-Remaining`,
  `-Interval-Milliseconds` on every answer) and, apart, 5 searches per second (search answers carry no
  rate headers: the description exempts search from the "ten-secondly" limit). Over either: 429 with
  HubSpot's body (`status`, `message`, `errorType: RATE_LIMIT`, `correlationId`, `policyName`
  `TEN_SECONDLY_ROLLING` / `SECONDLY`) and no `Retry-After`. Off unless `rate_limits=True` (or on
  loopback); the windows run on `rate_clock`.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from .base import FakeServer, HttpContractFake, failure_command, loopback_parser, run_on_loopback

SCHEMA_FILE = Path(__file__).with_name("hubspot_schemas.json")
DEALS_PATHS = ("/crm/v3/objects/deals", "/crm/v3/objects/0-3")
SEARCH_LIMIT = 200
"""`PublicObjectSearchRequest.limit`: "The maximum results to return, up to 200 objects"."""
SEARCH_CAP = 10_000
"""The most results one search query gives (the issue: "the search API returns at most 10,000 results")."""
FILTER_GROUPS = 6
"""`filterGroups`: "Up to 6 groups of filters"."""
LIST_LIMIT = 100
ALWAYS = ("hs_object_id", "createdate", "hs_lastmodifieddate")
"""Returned with every deal whatever properties are asked for."""
DEFAULT_PROPERTIES = ("dealname", "amount", "closedate", "pipeline", "dealstage")
"""The deals the description says are "returned by default"."""
SALES_STAGES = [("appointmentscheduled", "Appointment Scheduled", "0.2"), ("qualifiedtobuy", "Qualified To Buy", "0.4"),
                ("presentationscheduled", "Presentation Scheduled", "0.6"),
                ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"), ("contractsent", "Contract Sent", "0.9"),
                ("closedwon", "Closed Won", "1.0"), ("closedlost", "Closed Lost", "0.0")]
OWNERS = [("Ada", "Park", "ada@example.com"), ("Bo", "Lindqvist", "bo@example.com"),
          ("Cy", "Okafor", "cy@example.com")]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Wonka"]
WINDOW = 10.0
WINDOW_MAX = 100
SEARCHES_PER_SECOND = 5
DEAL_PROPERTIES = {"dealname", "amount", "deal_currency_code", "dealstage", "pipeline", "hubspot_owner_id", "closedate",
                   "description", "closed_lost_reason", "createdate", "hs_lastmodifieddate", "hs_object_id"}
"""The deal properties this account has (a write naming another is a 400 `PROPERTY_DOESNT_EXIST`)."""
NOTE_TO_DEAL = 214
"""HubSpot's default association type id of a note to a deal (`HUBSPOT_DEFINED`)."""
NOTE_BODY_MAX = 65_536
"""`hs_note_body`: "limited to 65,536 characters" (the notes guide)."""


def stamp(when: datetime) -> str:
    """HubSpot's timestamps: `2019-10-30T03:30:17.883Z`."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_when(text: str) -> datetime:
    """A timestamp as HubSpot takes it in a filter: epoch milliseconds or ISO 8601."""
    if re.fullmatch(r"-?\d+", text.strip()):
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class Problem(Exception):
    """An error answer: HubSpot's `Error` body."""

    def __init__(self, status: int, message: str, category: str = "VALIDATION_ERROR", **extra: Any) -> None:
        self.status, self.message, self.category, self.extra = status, message, category, extra


class SchemaCheck:
    """Validates bodies against the descriptions' component schemas."""

    def __init__(self) -> None:
        from jsonschema import Draft202012Validator, FormatChecker

        checker = FormatChecker()

        @checker.checks("date-time", raises=ValueError)
        def is_datetime(value: object) -> bool:
            return not isinstance(value, str) or (datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo
                                                  is not None and "T" in value)

        self._specs = json.loads(SCHEMA_FILE.read_text())
        self._validators: dict[tuple[str, str], Any] = {}
        self._cls, self._checker = Draft202012Validator, checker

    def errors(self, spec: str, name: str, body: Any) -> list[str]:
        validator = self._validators.get((spec, name))
        if validator is None:
            schema = {"$ref": f"#/$defs/{name}", "$defs": self._specs[spec]["$defs"]}
            validator = self._validators[(spec, name)] = self._cls(schema, format_checker=self._checker)
        return [f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
                for e in sorted(validator.iter_errors(body), key=str)]

    def answer(self, spec: str, name: str, body: Any) -> None:
        """What the fake answers must fit the description: a failure here is the fake's bug."""
        errors = self.errors(spec, name, body)
        if errors:
            raise AssertionError(f"fake HubSpot answered an invalid {name}: {errors[0]}")


class FakeHubSpot(FakeServer):
    """One HubSpot account in memory: deal pipelines, owners, deals. `serve` locks around every request."""

    default_error = {"status": "error", "message": "Failure.", "correlationId": "00000000-0000-4000-8000-000000000000",
                     "category": "INTERNAL_ERROR"}

    def __init__(self, token: str = "pat-test-board", *, clock: Callable[[], datetime] | None = None,
                 rate_limits: bool = False, rate_clock: Callable[[], float] = time.monotonic,
                 validate: bool = True, seed: int = 0) -> None:
        super().__init__()
        self.token = token
        self.clock = clock or (lambda: datetime.now(UTC))
        self.date = self.clock  # every answer's `Date` header
        self.rate_limits = rate_limits
        self.rate_clock = rate_clock
        self.check = SchemaCheck() if validate else None
        """Checks what the fake answers (off for speed: `validate=False`)."""
        self.asked = self.check or SchemaCheck()
        """Checks what the fake is sent, always."""
        self._rng = random.Random(seed)
        self._last = datetime(2000, 1, 1, tzinfo=UTC)
        self._next_id = 9_000_000_001
        self.pipelines: list[dict[str, Any]] = []
        self.owners: list[dict[str, Any]] = []
        self.deals: dict[str, dict[str, Any]] = {}
        """Live deals by id: `{"id", "createdAt", "updatedAt", "archived", "properties"}`."""
        self.archived: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, dict[str, Any]] = {}
        """Notes by id: `{"id", "createdAt", "updatedAt", "archived", "properties", "deal"}` (the deal it is on)."""
        self._calls: list[float] = []
        """`rate_clock()` of the requests in the rolling 10 s window (search apart)."""
        self._searches: list[float] = []
        self.searches = 0
        self.rate_limited = 0
        """429s answered."""

    # -- building the account ---------------------------------------------------------------------------

    def _tick(self) -> datetime:
        """Now, strictly after every earlier write (HubSpot's timestamps are milliseconds)."""
        self._last = max(self.clock().replace(microsecond=self.clock().microsecond // 1000 * 1000),
                         self._last + timedelta(milliseconds=1))
        return self._last

    def _id(self) -> str:
        self._next_id += self._rng.randint(1, 7)
        return str(self._next_id)

    def add_pipeline(self, label: str, stages: list[tuple[str | None, str, str]], pipeline_id: str | None = None,
                     display_order: int | None = None) -> dict[str, Any]:
        """`stages`: (id or None for a generated one, label, probability); 1.0 and 0.0 are closed."""
        made = stamp(self._tick())
        pipeline: dict[str, Any] = {
            "id": pipeline_id or self._id(), "label": label, "archived": False, "createdAt": made, "updatedAt": made,
            "displayOrder": len(self.pipelines) if display_order is None else display_order, "stages": []}
        for order, (stage_id, stage_label, probability) in enumerate(stages):
            closed = probability in ("1.0", "0.0")
            pipeline["stages"].append({
                "id": stage_id or self._id(), "label": stage_label, "displayOrder": order, "archived": False,
                "createdAt": made, "updatedAt": made,
                "metadata": {"isClosed": "true" if closed else "false", "probability": probability}})
        self.pipelines.append(pipeline)
        return pipeline

    def add_owner(self, first: str, last: str, email: str) -> dict[str, Any]:
        made = stamp(self._tick())
        owner = {"id": self._id(), "email": email, "firstName": first, "lastName": last, "type": "PERSON",
                 "userId": self._rng.randint(1, 10**8), "createdAt": made, "updatedAt": made, "archived": False,
                 "teams": []}
        self.owners.append(owner)
        return owner

    def stage(self, pipeline_id: str, stage_id: str) -> dict[str, Any] | None:
        pipeline = next((p for p in self.pipelines if p["id"] == pipeline_id), None)
        return next((s for s in pipeline["stages"] if s["id"] == stage_id), None) if pipeline else None

    def add_deal(self, pipeline_id: str, stage_id: str, name: str, *, amount: str | None = "1000",
                 currency: str | None = None, owner: str | None = None, description: str | None = None,
                 created: datetime | None = None, modified: datetime | None = None) -> dict[str, Any]:
        assert self.stage(pipeline_id, stage_id) is not None, f"no stage {stage_id} in {pipeline_id}"
        created = created or self._tick()
        modified = modified or created
        deal_id = self._id()
        properties = {"hs_object_id": deal_id, "dealname": name, "pipeline": pipeline_id, "dealstage": stage_id,
                      "amount": amount, "deal_currency_code": currency, "hubspot_owner_id": owner,
                      "description": description, "createdate": stamp(created), "hs_lastmodifieddate": stamp(modified)}
        deal = {"id": deal_id, "createdAt": stamp(created), "updatedAt": stamp(modified), "archived": False,
                "properties": {k: v for k, v in properties.items() if v not in (None, "")}}
        self.deals[deal_id] = deal
        return deal

    def seed(self, size: int = 150, other: int = 30, seed: int = 5) -> None:
        """"Sales Pipeline" (HubSpot's default, `default`, seven stages) with `size` deals, "Renewals" with `other`."""
        rng = random.Random(seed)
        now = self.clock()
        owners = [self.add_owner(*o) for o in OWNERS]
        sales = self.add_pipeline("Sales Pipeline", [(i, label, p) for i, label, p in SALES_STAGES], "default", 0)
        renewals = self.add_pipeline("Renewals", [(None, "Due", "0.5"), (None, "Renewed", "1.0"),
                                                  (None, "Churned", "0.0")], display_order=1)
        for pipeline, count in ((sales, size), (renewals, other)):
            ids = [s["id"] for s in pipeline["stages"]]
            weights = [max(1, len(ids) - i) for i in range(len(ids))]
            for n in range(count):
                created = now - timedelta(days=rng.uniform(2, 200))
                self.add_deal(pipeline["id"], rng.choices(ids, weights)[0],
                              f"{rng.choice(COMPANIES)} {pipeline['label'].split()[0]} {n:05d}",
                              amount=None if n % 29 == 3 else str(rng.randint(5, 900) * 100),
                              currency=rng.choice([None, None, "USD", "EUR"]),
                              owner=rng.choice([o["id"] for o in owners] + [None]),
                              description=rng.choice([None, "Wants a pilot first.", "Budget approved."]),
                              created=created, modified=created + (now - created - timedelta(days=1)) * rng.random())

    # -- what teammates do ------------------------------------------------------------------------------

    def _write(self, deal: dict[str, Any], **properties: str | None) -> dict[str, Any]:
        when = stamp(self._tick())
        for name, value in properties.items():
            if value in (None, ""):
                deal["properties"].pop(name, None)
            else:
                deal["properties"][name] = value
        deal["properties"]["hs_lastmodifieddate"] = deal["updatedAt"] = when
        return deal

    def teammate_move(self, deal_id: str, stage_id: str) -> dict[str, Any]:
        deal = self.deals[deal_id]
        if self.stage(deal["properties"]["pipeline"], stage_id) is None:
            pipeline = next(p["id"] for p in self.pipelines if any(s["id"] == stage_id for s in p["stages"]))
            return self._write(deal, dealstage=stage_id, pipeline=pipeline)
        return self._write(deal, dealstage=stage_id)

    def teammate_edit(self, deal_id: str, **properties: str | None) -> dict[str, Any]:
        return self._write(self.deals[deal_id], **properties)

    def archive(self, deal_id: str) -> None:
        """A teammate deletes the deal: archived, listed with `archived=true`."""
        deal = self.deals.pop(deal_id)
        when = stamp(self._tick())
        deal.update(archived=True, archivedAt=when, updatedAt=when)
        self.archived[deal_id] = deal

    # -- rate limits --------------------------------------------------------------------------------------

    def _spend(self, search: bool) -> tuple[dict[str, str], Problem | None]:
        if not self.rate_limits:
            return {}, None
        now = self.rate_clock()
        if search:
            self._searches = [t for t in self._searches if now - t < 1.0]
            if len(self._searches) >= SEARCHES_PER_SECOND:
                return {}, Problem(429, "You have reached your secondly limit.", "RATE_LIMIT",
                                   policyName="SECONDLY")
            self._searches.append(now)
            return {}, None
        self._calls = [t for t in self._calls if now - t < WINDOW]
        headers = {"X-HubSpot-RateLimit-Max": str(WINDOW_MAX), "X-HubSpot-RateLimit-Interval-Milliseconds":
                   str(int(WINDOW * 1000))}
        if len(self._calls) >= WINDOW_MAX:
            headers["X-HubSpot-RateLimit-Remaining"] = "0"
            return headers, Problem(429, "You have reached your ten_secondly_rolling limit.", "RATE_LIMIT",
                                    policyName="TEN_SECONDLY_ROLLING")
        self._calls.append(now)
        headers["X-HubSpot-RateLimit-Remaining"] = str(WINDOW_MAX - len(self._calls))
        return headers, None

    # -- the HTTP side --------------------------------------------------------------------------------------

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        if (injected := self.injected(request, path)) is not None:
            return injected
        if request.headers.get("authorization", "") != f"Bearer {self.token}":
            return self._error(Problem(401, "Authentication credentials not found. This API supports OAuth 2.0"
                                       " authentication and you can find more details at"
                                       " https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                                       "INVALID_AUTHENTICATION"))
        search = request.method == "POST" and path.endswith("/search")
        headers, limited = self._spend(search)
        if limited is not None:
            self.rate_limited += 1
            return self._error(limited, headers)
        try:
            status, body = self._route(request, path)
        except Problem as problem:
            return self._error(problem, headers)
        if status == 204:
            return httpx.Response(204, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    def _error(self, problem: Problem, headers: dict[str, str] | None = None) -> httpx.Response:
        body: dict[str, Any] = {"status": "error", "message": problem.message, "correlationId": str(uuid.uuid4()),
                                "category": problem.category}
        if problem.category == "RATE_LIMIT":
            body = {"status": "error", "message": problem.message, "errorType": "RATE_LIMIT",
                    "correlationId": body["correlationId"], **problem.extra, "groupName": "publicapi"}
        else:
            body.update(problem.extra)
            if self.check is not None:
                self.check.answer("deals", "Error", body)
        return httpx.Response(problem.status, json=body, headers=headers or {})

    def _route(self, request: httpx.Request, path: str) -> tuple[int, Any]:
        method, params = request.method, request.url.params
        if path == "/crm/v3/pipelines/deals" and method == "GET":
            body = {"results": sorted(self.pipelines, key=lambda p: (p["displayOrder"], p["label"]))}
            self._checked("pipelines", "CollectionResponsePipelineNoPaging", body)
            return 200, body
        if path == "/crm/v3/owners" and method == "GET":
            return 200, self._owners(params)
        if path == "/crm/v3/objects/notes" and method == "POST":
            return 201, self._add_note(self._json(request, "SimplePublicObjectInputForCreate", "notes"))
        if path == "/crm/v3/objects/notes/search" and method == "POST":
            return 200, self._search_notes(self._json(request, "PublicObjectSearchRequest", "notes"))
        for base in DEALS_PATHS:
            if path == base and method == "GET":
                return 200, self._list(params)
            if path == base and method == "POST":
                return 201, self._create(self._json(request, "SimplePublicObjectInputForCreate"))
            if path == base + "/search" and method == "POST":
                return 200, self._search(self._json(request, "PublicObjectSearchRequest"))
            if path.startswith(base + "/"):
                deal_id = path[len(base) + 1:]
                if "/" in deal_id:
                    break
                return self._one(request, deal_id)
        raise Problem(404, f"Unable to route {method} request to {path}", "OBJECT_NOT_FOUND")

    def _checked(self, spec: str, name: str, body: Any) -> None:
        if self.check is not None:
            self.check.answer(spec, name, body)

    def _json(self, request: httpx.Request, schema: str, spec: str = "deals") -> dict[str, Any]:
        try:
            body = json.loads(request.content or b"null")
        except ValueError:
            raise Problem(400, "Invalid input JSON on line 1") from None
        errors = self.asked.errors(spec, schema, body)
        if errors or not isinstance(body, dict):
            raise Problem(400, f"Invalid input JSON: {errors[0] if errors else 'not an object'}")
        return body

    def _shown(self, deal: dict[str, Any], properties: list[str] | None) -> dict[str, Any]:
        wanted = set(properties or DEFAULT_PROPERTIES) | set(ALWAYS)
        shown = {k: v for k, v in deal.items() if k != "properties"}
        shown["properties"] = {k: v for k, v in deal["properties"].items() if k in wanted}
        return shown

    def _owners(self, params: httpx.QueryParams) -> dict[str, Any]:
        archived = params.get("archived", "false") == "true"
        owners = [o for o in self.owners if o["archived"] == archived]
        limit = max(1, min(int(params.get("limit", "100")), 500))
        start = int(params.get("after", "0") or 0)
        page = owners[start:start + limit]
        body: dict[str, Any] = {"results": page}
        if start + limit < len(owners):
            body["paging"] = {"next": {"after": str(start + limit)}}
        self._checked("owners", "CollectionResponsePublicOwnerForwardPaging", body)
        return body

    def _list(self, params: httpx.QueryParams) -> dict[str, Any]:
        archived = params.get("archived", "false") == "true"
        deals = sorted((self.archived if archived else self.deals).values(), key=lambda d: int(d["id"]))
        try:
            limit = max(1, min(int(params.get("limit", "10")), LIST_LIMIT))
            after = params.get("after")
        except ValueError:
            raise Problem(400, "limit must be a number") from None
        if after:
            deals = [d for d in deals if int(d["id"]) > int(after)]
        page = deals[:limit]
        properties = [p for v in params.get_list("properties") for p in v.split(",") if p]
        body: dict[str, Any] = {"results": [self._shown(d, properties) for d in page]}
        if len(deals) > limit:
            body["paging"] = {"next": {"after": page[-1]["id"], "link": f"?after={page[-1]['id']}"}}
        self._checked("deals", "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging", body)
        return body

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        self.searches += 1
        limit = body["limit"]
        if not 1 <= limit <= SEARCH_LIMIT:
            raise Problem(400, f"limit must be between 1 and {SEARCH_LIMIT}")
        groups = body["filterGroups"]
        if len(groups) > FILTER_GROUPS:
            raise Problem(400, f"Too many filter groups ({len(groups)}); up to {FILTER_GROUPS}")
        try:
            after = int(body["after"] or 0)
        except ValueError:
            raise Problem(400, f"after {body['after']!r} is not a paging cursor of this search") from None
        if after >= SEARCH_CAP:
            raise Problem(400, f"paging beyond the {SEARCH_CAP:,}th result is not possible: narrow the search")
        found = [d for d in self.deals.values() if not groups or any(_matches(d, g["filters"]) for g in groups)]
        for sort in reversed(body["sorts"] or ["hs_object_id"]):
            name = sort.lstrip("-")
            found.sort(key=lambda d, n=name: _sort_key(d["properties"].get(n)),  # type: ignore[misc]
                       reverse=sort.startswith("-"))
        page = found[after:min(after + limit, SEARCH_CAP)]
        answer: dict[str, Any] = {"total": len(found), "results": [self._shown(d, body["properties"]) for d in page]}
        if after + limit < len(found):
            answer["paging"] = {"next": {"after": str(after + limit), "link": f"?after={after + limit}"}}
        self._checked("deals", "CollectionResponseWithTotalSimplePublicObject", answer)
        return answer

    def _one(self, request: httpx.Request, deal_id: str) -> tuple[int, Any]:
        params = request.url.params
        deal = self.deals.get(deal_id)
        if request.method == "GET" and deal is None and params.get("archived") == "true":
            deal = self.archived.get(deal_id)
        if deal is None:
            raise Problem(404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND")
        if request.method == "GET":
            properties = [p for v in params.get_list("properties") for p in v.split(",") if p]
            body = self._shown(deal, properties)
            self._checked("deals", "SimplePublicObjectWithAssociations", body)
            return 200, body
        if request.method == "PATCH":
            update = self._json(request, "SimplePublicObjectInput")["properties"]
            pipeline = update.get("pipeline", deal["properties"]["pipeline"])
            if "dealstage" in update and self.stage(pipeline, update["dealstage"]) is None:
                raise Problem(400, f"Property values were not valid: dealstage {update['dealstage']!r} is not a stage"
                              f" of pipeline {pipeline!r}", errors=[{"message": f"{update['dealstage']} was not one"
                                                                    " of the allowed options", "code": "INVALID_OPTION",
                                                                    "context": {"propertyName": ["dealstage"]}}])
            read_only = set(update) & {"hs_object_id", "createdate", "hs_lastmodifieddate"}
            if read_only:
                raise Problem(400, f"Property values were not valid: {sorted(read_only)[0]} is read-only")
            self._valid(update)
            self._write(deal, **update)
            body = self._shown(deal, [*DEFAULT_PROPERTIES, *update])
            self._checked("deals", "SimplePublicObject", body)
            return 200, body
        if request.method == "DELETE":
            self.archive(deal_id)
            return 204, None
        raise Problem(405, f"{request.method} is not allowed here")


    # -- writes: a new deal, its properties, notes -----------------------------------------------------------

    def _valid(self, properties: dict[str, str]) -> None:
        """HubSpot's checks of property values: known properties, a number `amount`, a date-time `closedate`,
        an owner that exists; else a 400 naming the property."""
        def invalid(name: str, why: str, code: str = "INVALID_PROPERTY_VALUE") -> Problem:
            return Problem(400, f"Property values were not valid: {why}", errors=[
                {"message": why, "code": code, "context": {"propertyName": [name]}}])

        for name, value in properties.items():
            if name not in DEAL_PROPERTIES:
                raise invalid(name, f"Property \"{name}\" does not exist", "PROPERTY_DOESNT_EXIST")
            if value == "":
                continue
            if name == "amount" and _number(value) is None:
                raise invalid(name, f"{value!r} is not a valid number")
            if name == "closedate":
                try:
                    parse_when(value)
                except ValueError:
                    raise invalid(name, f"{value!r} is not a valid date-time") from None
            if name == "hubspot_owner_id" and not any(o["id"] == value for o in self.owners):
                raise invalid(name, f"{value!r} is not a valid owner id", "INVALID_OPTION")

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        properties = body["properties"]
        pipeline = properties.get("pipeline") or "default"
        stage = properties.get("dealstage")
        if not stage or self.stage(pipeline, stage) is None:
            raise Problem(400, f"Property values were not valid: dealstage {stage!r} is not a stage of pipeline"
                          f" {pipeline!r}", errors=[{"message": f"{stage} was not one of the allowed options",
                                                     "code": "INVALID_OPTION",
                                                     "context": {"propertyName": ["dealstage"]}}])
        read_only = set(properties) & {"hs_object_id", "createdate", "hs_lastmodifieddate"}
        if read_only:
            raise Problem(400, f"Property values were not valid: {sorted(read_only)[0]} is read-only")
        self._valid(properties)
        deal = self.add_deal(pipeline, stage, properties.get("dealname") or "", amount=properties.get("amount"),
                             currency=properties.get("deal_currency_code"), owner=properties.get("hubspot_owner_id"),
                             description=properties.get("description"))
        if properties.get("closedate"):
            deal["properties"]["closedate"] = properties["closedate"]
        shown = self._shown(deal, [*DEFAULT_PROPERTIES, *properties])
        self._checked("deals", "SimplePublicObject", shown)
        return shown

    def _add_note(self, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /crm/v3/objects/notes`: `hs_timestamp` required; associated with a deal by `NOTE_TO_DEAL`."""
        properties = body["properties"]
        if not properties.get("hs_timestamp"):
            raise Problem(400, "Property values were not valid: hs_timestamp is required")
        try:
            parse_when(properties["hs_timestamp"])
        except ValueError:
            raise Problem(400, f"Property values were not valid: {properties['hs_timestamp']!r} is not a"
                          " valid date-time") from None
        if len(properties.get("hs_note_body") or "") > NOTE_BODY_MAX:
            raise Problem(400, f"Property values were not valid: hs_note_body is over {NOTE_BODY_MAX} characters")
        unknown = set(properties) - {"hs_timestamp", "hs_note_body", "hubspot_owner_id", "hs_attachment_ids"}
        if unknown:
            raise Problem(400, f"Property values were not valid: Property \"{sorted(unknown)[0]}\" does not exist")
        deal: str | None = None
        for association in body["associations"]:
            types = {(t["associationCategory"], t["associationTypeId"]) for t in association["types"]}
            if ("HUBSPOT_DEFINED", NOTE_TO_DEAL) not in types:
                raise Problem(400, f"association types {sorted(types)} do not go from a note to a deal")
            if association["to"]["id"] not in self.deals:
                raise Problem(404, f"No deal with id {association['to']['id']}", "OBJECT_NOT_FOUND")
            deal = association["to"]["id"]
        when = stamp(self._tick())
        note_id = self._id()
        note = {"id": note_id, "createdAt": when, "updatedAt": when, "archived": False, "deal": deal,
                "properties": {**properties, "hs_object_id": note_id, "hs_createdate": when,
                               "hs_lastmodifieddate": when}}
        self.notes[note_id] = note
        shown = {k: v for k, v in note.items() if k != "deal"}
        self._checked("notes", "SimplePublicObject", shown)
        return shown

    def _search_notes(self, body: dict[str, Any]) -> dict[str, Any]:
        """Notes, filtered as deals are (and on `associations.deal`, the deal a note is on), sorted, paged."""
        self.searches += 1
        limit, groups = body["limit"], body["filterGroups"]
        if not 1 <= limit <= SEARCH_LIMIT:
            raise Problem(400, f"limit must be between 1 and {SEARCH_LIMIT}")
        views = [{"id": n["id"], "properties": {**n["properties"], "associations.deal": n["deal"]}}
                 for n in self.notes.values()]
        found = [v for v in views if not groups or any(_matches(v, g["filters"]) for g in groups)]
        for sort in reversed(body["sorts"] or ["hs_object_id"]):
            name = sort.lstrip("-")
            found.sort(key=lambda v, n=name: _sort_key(v["properties"].get(n)),  # type: ignore[misc]
                       reverse=sort.startswith("-"))
        after = int(body["after"] or 0)
        wanted = set(body["properties"] or ["hs_note_body", "hs_timestamp"]) | {"hs_object_id", "hs_createdate",
                                                                                  "hs_lastmodifieddate"}
        page = [self.notes[v["id"]] for v in found[after:after + limit]]
        answer: dict[str, Any] = {"total": len(found), "results": [
            {"id": n["id"], "createdAt": n["createdAt"], "updatedAt": n["updatedAt"], "archived": False,
             "properties": {k: v for k, v in n["properties"].items() if k in wanted}} for n in page]}
        if after + limit < len(found):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        self._checked("notes", "CollectionResponseWithTotalSimplePublicObject", answer)
        return answer


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _comparable(value: str) -> Any:
    """A property value as a filter compares it: a number, a time (ISO or epoch ms), else lower-cased text."""
    if (number := _number(value)) is not None:
        return number
    try:
        return parse_when(value).timestamp() * 1000
    except ValueError:
        return value.lower()


def _sort_key(value: str | None) -> tuple[int, Any]:
    if value is None:
        return (1, 0)
    comparable = _comparable(value)
    return (0, comparable) if isinstance(comparable, float) else (0, float("inf"))


def _matches(deal: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    for item in filters:
        op, held = item["operator"], deal["properties"].get(item["propertyName"])
        if op == "HAS_PROPERTY":
            ok = held is not None
        elif op == "NOT_HAS_PROPERTY":
            ok = held is None
        elif held is None:
            ok = op in ("NEQ", "NOT_IN")
        elif op in ("IN", "NOT_IN"):
            values = {str(v).lower() for v in item.get("values") or []}
            ok = (held.lower() in values) == (op == "IN")
        else:
            mine = _comparable(held)
            theirs = _comparable(str(item.get("value", "")))
            if type(mine) is not type(theirs):
                mine, theirs = str(held).lower(), str(item.get("value", "")).lower()
            if op == "BETWEEN":
                high = _comparable(str(item.get("highValue", "")))
                ok = type(high) is type(mine) and theirs <= mine <= high
            else:
                ok = {"EQ": mine == theirs, "NEQ": mine != theirs, "LT": mine < theirs, "LTE": mine <= theirs,
                      "GT": mine > theirs, "GTE": mine >= theirs}.get(op, False)
        if not ok:
            return False
    return True


class Contract(HttpContractFake):
    """The fake HubSpot for tests/test_contract.py: "Sales Pipeline" with 150 deals, "Renewals" with 30."""

    unknown_id = "1"
    fake: FakeHubSpot

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.fake = FakeHubSpot()
        self.fake.seed(150, 30)

    def settings(self) -> dict[str, Any]:
        return {"portal_id": "1234567"}

    def environ(self, *, key_ok: bool = True) -> dict[str, str]:
        return {"HUBSPOT_ACCESS_TOKEN": self.fake.token if key_ok else "pat-revoked"}

    def teammate_move(self, card_id: str, status_id: str) -> None:
        self.fake.teammate_move(card_id, status_id)

    def delete(self, card_id: str) -> None:
        self.fake.archive(card_id)

    def status_of(self, card_id: str) -> str | None:
        deal = self.fake.deals.get(card_id)
        return None if deal is None else deal["properties"]["dealstage"]


HELP = """commands:
  list [N]                      the N most recently modified deals (id, pipeline, stage, name)
  move ID|first STAGE_LABEL     move a deal as a teammate would (first = the latest modified in Sales Pipeline)
  add STAGE_LABEL NAME          add a deal to a stage (of the first pipeline that has it)
  delete ID|first               delete (archive) a deal
  rename ID|first TEXT          set a deal's name (backslash escapes: \\x1b is ESC), as an integration might
  fail METHOD PATH STATUS [N]   the next N requests matching answer STATUS (e.g. fail PATCH objects 500)
  drop METHOD PATH [N]          the next N matching requests drop the connection
  lose METHOD PATH [N]          the next N matching requests are carried out, their answer lost
  rate on|off                   HubSpot's rate limits (100 per 10 s, 5 searches per second)
  help"""


def command(fake: FakeHubSpot, line: str) -> str:
    words = line.split()
    if not words:
        return ""
    verb, args = words[0], words[1:]

    def deal_id(word: str) -> str:
        if word != "first":
            return word
        return max((d for d in fake.deals.values() if d["properties"]["pipeline"] == fake.pipelines[0]["id"]),
                   key=lambda d: d["updatedAt"])["id"]

    def stage_called(label: str) -> tuple[str, str]:
        return next((p["id"], s["id"]) for p in fake.pipelines for s in p["stages"]
                    if s["label"].lower() == label.lower() or s["id"] == label)

    try:
        if verb == "list":
            deals = sorted(fake.deals.values(), key=lambda d: d["updatedAt"], reverse=True)
            deals = deals[: int(args[0]) if args else 10]
            return "\n".join(f"{d['id']}  {d['properties']['pipeline']:<12} {d['properties']['dealstage']:<22}"
                             f" {d['properties'].get('dealname', '')}" for d in deals)
        if verb == "move":
            target = deal_id(args[0])
            _, stage = stage_called(" ".join(args[1:]))
            fake.teammate_move(target, stage)
            return f"moved {target} to {stage}"
        if verb == "add":
            pipeline, stage = stage_called(args[0])
            deal = fake.add_deal(pipeline, stage, " ".join(args[1:]) or "New deal")
            return f"added {deal['id']} to {stage}"
        if verb == "delete":
            target = deal_id(args[0])
            fake.archive(target)
            return f"deleted (archived) {target}"
        if verb == "rename":
            target = deal_id(args[0])
            name = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m[1], 16)), line.split(None, 2)[2].rstrip("\n"))
            fake.teammate_edit(target, dealname=name)
            return f"renamed {target} to {name!r}"
        if verb == "rate":
            fake.rate_limits = args[0] == "on"
            return f"rate limits {'on' if fake.rate_limits else 'off'}"
        if (reply := failure_command(fake, words)) is not None:
            return reply
    except (IndexError, KeyError, ValueError, StopIteration) as exc:
        return f"cannot: {exc!r}\n{HELP}"
    return HELP


def main(argv: list[str] | None = None) -> None:
    parser = loopback_parser("A fake HubSpot CRM v3 API on loopback, for trying dealboard.", 8769)
    parser.add_argument("--token", default="pat-test-board", help="the private app access token it accepts")
    parser.add_argument("--size", type=int, default=12_000, help="deals in the Sales Pipeline")
    parser.add_argument("--other", type=int, default=30, help="deals in the Renewals pipeline")
    parser.add_argument("--no-rate-limits", action="store_true", help="no 429s")
    parser.add_argument("--no-validate", action="store_true", help="skip the schema checks")
    args = parser.parse_args(argv)
    fake = FakeHubSpot(args.token, rate_limits=not args.no_rate_limits, validate=not args.no_validate)
    fake.seed(args.size, args.other)
    run_on_loopback(fake, args.host, args.port,
                    f"fake HubSpot on http://{args.host}:{args.port}/ (token {args.token!r}); type help",
                    lambda line: command(fake, line), quiet=args.quiet, latency_ms=args.latency)


if __name__ == "__main__":
    main()
