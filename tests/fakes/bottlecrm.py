"""A stateful fake BottleCRM 1.35.0 API: pipelines and stages, deals, the kanban board, moves, the activity feed.

    python -m tests.fakes.bottlecrm --port 8768 --size 150

then `BOTTLECRM_URL=http://127.0.0.1:8768 BOTTLECRM_TOKEN=bcrm_pat_test-board kanban-tui --backend
bottlecrm`. stdin: `list`, `move ID|first CODE`, `fail …`, `help`.

Written from the OpenAPI schema and from what the real server answered (`scripts/bottlecrm-up`); the
same contract tests run against both (`tests/test_contract.py`, `tests/live/`), so it cannot drift
far. As the server does: a token it does not know (or none) is a 403 `{"detail": "Organization
context is required. …"}`; the list pages by `limit` (default 10, no maximum) / `offset`, newest id
first, with the next `offset` (null on the last page, 0 on an empty one) and no `updated_at`; the
kanban board gives at most 100 cards per column, with `updated_at`; a move to a code that is not a
stage of the deal's pipeline is a 400 naming `column_id`, into won without an amount a 400 naming
`amount`; into won / lost it sets `closed_on` (when empty), the probability and `closed_by`; every
create, update, move and delete through the API is an event in the activity feed (newest first,
`limit` default 10, at most 50, no paging); a stage holding deals cannot be deleted; deal names are
unique in the org; names and notes are stored as sent.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx

from .base import (
    FakeServer,
    HttpContractFake,
    failure_command,
    loopback_parser,
    run_on_loopback,
)

API = "/api/"
NO_ORG = {"detail": "Organization context is required. Please login again."}
STAGES = [("PROSPECTING", "Prospecting", "open", 14), ("QUALIFICATION", "Qualification", "open", 14),
          ("PROPOSAL", "Proposal", "open", 10), ("NEGOTIATION", "Negotiation", "open", 10),
          ("CLOSED_WON", "Closed Won", "won", None), ("CLOSED_LOST", "Closed Lost", "lost", None)]
PROBABILITIES = {"PROSPECTING": 10, "QUALIFICATION": 25, "PROPOSAL": 50, "NEGOTIATION": 75}
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne"]
KANBAN_CAP = 100
CURRENCIES = ("USD", "EUR", "GBP", "INR", "CAD", "AUD", "JPY", "CNY", "CHF", "SGD", "AED", "BRL", "MXN", "ZAR")
SERVER_ERROR = "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n" \
    "  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n"
CARD_FIELDS = ("id", "name", "pipeline", "stage", "stage_label", "stage_kind", "amount", "opportunity_amount",
               "currency", "probability", "closed_on", "kanban_order", "account", "assigned_to", "tags",
               "line_items", "days_in_stage", "aging_status", "stage_changed_at", "next_activity", "can_move",
               "created_at", "updated_at")
"""What the kanban card serializer (the board, a move's answer) gives: no notes, no contacts."""


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def code_for(label: str, taken: set[str]) -> str:
    """BottleCRM's `_new_code`: the label upper-cased, runs of anything else as `_`, made unique."""
    base = re.sub(r"[^A-Z0-9]+", "_", label.upper()).strip("_")[:56] or "STAGE"
    code, suffix = base, 2
    while code in taken:
        code, suffix = f"{base}_{suffix}", suffix + 1
    return code


def decimal_field(value: Any) -> str:
    """An amount as Django REST framework's `DecimalField(max_digits=12, decimal_places=2)` takes it (its
    words in the ValueError), as it answers it (`"1200.50"`)."""
    try:
        number = Decimal(str(value)) if not isinstance(value, bool) else Decimal("nan")
    except InvalidOperation:
        number = Decimal("nan")
    if not number.is_finite():
        raise ValueError("A valid number is required.")
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    if exponent >= 0:
        total, decimals = len(digits) + exponent, 0
    else:
        total, decimals = max(len(digits), -exponent), -exponent
    if total > 12:
        raise ValueError("Ensure that there are no more than 12 digits in total.")
    if decimals > 2:
        raise ValueError("Ensure that there are no more than 2 decimal places.")
    if total - decimals > 10:
        raise ValueError("Ensure that there are no more than 10 digits before the decimal point.")
    return f"{number.quantize(Decimal('0.01'))}"


class BadRequest(Exception):
    def __init__(self, errors: Any) -> None:
        self.errors = errors


class FakeBottleCrm(FakeServer):
    """One BottleCRM org in memory, with two users (the board's and a teammate's), each with a token."""

    default_error = {"error": True, "errors": "Failure."}

    def __init__(self, token: str = "bcrm_pat_test-board", teammate_token: str = "bcrm_pat_test-teammate", *,
                 clock: Callable[[], datetime] | None = None, seed: int = 0) -> None:
        super().__init__()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._rng = random.Random(seed)
        self._last = datetime(2000, 1, 1, tzinfo=UTC)
        self.org = {"id": self._uuid(), "name": "kanban-tui"}
        self.users = {token: self._profile("board@example.com", "Board"),
                      teammate_token: self._profile("teammate@example.com", "Teammate")}
        self.token, self.teammate_token = token, teammate_token
        self.pipelines: list[dict[str, Any]] = []
        self.deals: dict[str, dict[str, Any]] = {}
        self.activities: list[dict[str, Any]] = []
        """Newest first."""
        self.comments: list[dict[str, Any]] = []
        """Every deal's comments, oldest first (a deal's are answered by id: `_comments_of`)."""
        self.date = self.clock  # every answer's `Date` header, as the server sends it

    # -- building the org ---------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _profile(self, email: str, name: str) -> dict[str, Any]:
        return {"id": self._uuid(), "user_details": {"email": email, "id": self._uuid(), "name": name,
                                                     "is_active": True, "profile_pic": None, "last_login": None},
                "role": "ADMIN", "address": None, "has_marketing_access": True, "has_sales_access": True,
                "phone": None, "date_of_joining": None, "is_active": True, "created_at": stamp(self._tick())}

    def _tick(self) -> datetime:
        """Now, strictly after every earlier write."""
        self._last = max(self.clock(), self._last + timedelta(microseconds=1000))
        return self._last

    def add_pipeline(self, name: str, stages: list[tuple[str, str, str, int | None]] = STAGES,
                     is_default: bool = False) -> dict[str, Any]:
        pipeline: dict[str, Any] = {"id": self._uuid(), "name": name, "is_default": is_default, "stages": []}
        for order, (code, label, kind, expected) in enumerate(stages, start=1):
            pipeline["stages"].append({"id": self._uuid(), "code": code, "label": label, "order": order,
                                       "kind": kind, "expected_days": expected, "warning_days": None})
        self.pipelines.append(pipeline)
        return pipeline

    def pipeline(self, pipeline_id: str) -> dict[str, Any] | None:
        return next((p for p in self.pipelines if p["id"] == pipeline_id), None)

    def stage(self, pipeline_id: str, code: str) -> dict[str, Any] | None:
        pipeline = self.pipeline(pipeline_id)
        return next((s for s in pipeline["stages"] if s["code"] == code), None) if pipeline else None

    def add_deal(self, pipeline_id: str, stage: str, *, name: str, amount: str | None = "1000.00",
                 currency: str | None = "USD", description: str | None = None, closed_on: str | None = None,
                 owner: str | None = None, account: str | None = None, created: datetime | None = None,
                 stage_changed: datetime | None = None, user: str | None = None) -> dict[str, Any]:
        """A deal as BottleCRM stores it (and an event, when `user`, a token, made it through the API)."""
        if any(d["name"] == name for d in self.deals.values()):
            raise BadRequest({"name": ["Opportunity already exists with this name"]})
        found = self.stage(pipeline_id, stage)
        if found is None:
            raise BadRequest({"stage": [f'"{stage}" is not a valid choice.']})
        if user is not None and found["kind"] != "open" and not closed_on:
            raise BadRequest({"closed_on": ["A deal cannot be closed without the date it closed on."]})
        now = created or self._tick()
        profile = next((p for p in self.users.values() if p["user_details"]["name"] == owner), None)
        deal: dict[str, Any] = {
            "id": self._uuid(), "name": name, "pipeline": pipeline_id, "stage": stage,
            "account": {"id": self._uuid(), "name": account} if account else None,
            "opportunity_type": None, "currency": currency, "amount": amount, "amount_source": "MANUAL",
            "probability": PROBABILITIES.get(stage, 100 if found["kind"] == "won" else 0), "closed_on": closed_on,
            "lead_source": None, "source_detail": "", "source_ref": "", "contacts": [], "line_items": [],
            "line_items_total": 0, "assigned_to": [profile] if profile else [], "teams": [], "closed_by": None,
            "tags": [], "description": description, "created_by": None, "created_at": stamp(now),
            "is_active": True, "org": self.org, "created_on_arrow": "just now",
            "stage_changed_at": stamp(stage_changed or now), "custom_fields": {}, "next_activity": None,
            "kanban_order": "0.000000", "updated_at": stamp(now),
        }
        self.deals[deal["id"]] = deal
        if user is not None:
            self._event(user, "CREATE", deal)
        return deal

    def seed(self, size: int = 150, seed: int = 3) -> None:
        """"Sales" (the default, 6 stages) with `size` deals and "Partners" with a few."""
        rng = random.Random(seed)
        now = self.clock()
        sales = self.add_pipeline("Sales", is_default=True)
        partners = self.add_pipeline("Partners", [("INTRO", "Intro", "open", None), ("SIGNED", "Signed", "won", None),
                                                  ("DROPPED", "Dropped", "lost", None)])
        for pipeline, count in ((sales, size), (partners, 12)):
            codes = [s["code"] for s in pipeline["stages"]]
            for n in range(count):
                created = now - timedelta(days=rng.uniform(1, 120))
                self.add_deal(
                    pipeline["id"], rng.choices(codes, [max(1, len(codes) - i) for i in range(len(codes))])[0],
                    name=f"{rng.choice(COMPANIES)} {pipeline['name']} {n:04d}",
                    amount=None if n % 25 == 7 else f"{rng.randint(5, 500) * 100}.00",
                    currency=rng.choice(["USD", "USD", "EUR", None]),
                    description=rng.choice([None, "", "Wants a pilot first."]),
                    owner=rng.choice(["Board", "Teammate", None]), account=rng.choice([None, "Acme Corp"]),
                    created=created, stage_changed=created + (now - created) * rng.uniform(0, 0.9),
                )

    # -- what teammates do (through the API, as the other token) ---------------------------------------

    def _event(self, token: str, action: str, deal: dict[str, Any], when: datetime | None = None) -> None:
        """An activity of `deal` (at `when`: a time from a wrong clock; else now), newest first."""
        user = self.users[token]
        self.activities.insert(0, {
            "id": self._uuid(), "user": {"id": user["user_details"]["id"], "email": user["user_details"]["email"],
                                         "name": user["user_details"]["name"], "profile_pic": None},
            "action": action, "action_display": {"CREATE": "Created", "UPDATE": "Updated",
                                                 "DELETE": "Deleted"}[action],
            "entity_type": "Opportunity", "entity_id": deal["id"], "entity_name": deal["name"], "description": "",
            "timestamp": stamp(when or self._tick()), "humanized_time": "just now",
        })
        if when is not None:  # out of order: the feed is newest first
            self.activities.sort(key=lambda a: datetime.fromisoformat(a["timestamp"].replace("Z", "+00:00")),
                                 reverse=True)

    def edit_dated(self, deal_id: str, when: datetime, **fields: Any) -> dict[str, Any]:
        """An edit logged at `when` (a date in the future, from a wrong clock): the fake's own clock goes on."""
        deal = self.deals[deal_id]
        deal.update(fields, updated_at=stamp(when))
        self._event(self.teammate_token, "UPDATE", deal, when)
        return deal

    def teammate_move(self, deal_id: str, code: str) -> dict[str, Any]:
        return self.move(deal_id, code, self.teammate_token)

    def teammate_edit(self, deal_id: str, **fields: Any) -> dict[str, Any]:
        deal = self.deals[deal_id]
        deal.update(fields, updated_at=stamp(self._tick()))
        self._event(self.teammate_token, "UPDATE", deal)
        return deal

    def delete_deal(self, deal_id: str, token: str | None = None) -> None:
        deal = self.deals.pop(deal_id)
        self._event(token or self.teammate_token, "DELETE", deal)

    def move(self, deal_id: str, code: str, token: str) -> dict[str, Any]:
        """`OpportunityMoveView.patch`: a stage of the deal's own pipeline, a won deal has an amount."""
        deal = self.deals[deal_id]
        new = self.stage(deal["pipeline"], code)
        if new is None:
            raise BadRequest({"column_id": "That is not a stage of this deal's pipeline."})
        if new["kind"] == "won" and not deal["amount"]:
            raise BadRequest({"amount": "A won deal has to record what it was worth."})
        old = self.stage(deal["pipeline"], deal["stage"])
        was_closed = old is not None and old["kind"] != "open"
        now = self._tick()
        if new["kind"] != "open" and not was_closed:
            deal["closed_by"] = self.users[token]
            deal["closed_on"] = deal["closed_on"] or now.date().isoformat()
        elif was_closed and new["kind"] == "open":
            deal["closed_by"] = None
        if deal["stage"] != code:
            deal["probability"] = 100 if new["kind"] == "won" else 0 if new["kind"] == "lost" else \
                PROBABILITIES.get(code, 0)
            deal["stage_changed_at"] = stamp(now)
        deal.update(stage=code, updated_at=stamp(now))
        self._event(token, "UPDATE", deal)
        return deal

    # -- the writes of issue 23, as 1.35.0 answers them (tests/live/test_fake_vs_real.py compares) ------------

    def _fields(self, deal: dict[str, Any] | None, body: dict[str, Any]) -> dict[str, Any]:
        """A create's or an edit's known fields, checked as its serializer checks them (unknown ones ignored)."""
        errors: dict[str, list[str]] = {}
        fields: dict[str, Any] = {}
        if "name" in body:
            name = body["name"]
            if name is None or not str(name).strip():
                errors["name"] = ["This field may not be null." if name is None else "This field may not be blank."]
            elif any(d["name"] == name and d is not deal for d in self.deals.values()):
                errors["name"] = ["Opportunity already exists with this name"]
            else:
                fields["name"] = str(name)
        if "amount" in body:
            try:
                fields["amount"] = None if body["amount"] is None else decimal_field(body["amount"])
            except ValueError as exc:
                errors["amount"] = [str(exc)]
        if "currency" in body:
            if body["currency"] not in (*CURRENCIES, "", None):
                errors["currency"] = [f'"{body["currency"]}" is not a valid choice.']
            else:
                fields["currency"] = body["currency"]
        if "probability" in body:
            value = body["probability"]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                errors["probability"] = ["A valid integer is required."]
            elif value is not None and value > 100:
                errors["probability"] = ["Ensure this value is less than or equal to 100."]
            else:
                fields["probability"] = value
        if "closed_on" in body:
            try:
                fields["closed_on"] = None if body["closed_on"] is None else \
                    datetime.strptime(str(body["closed_on"]), "%Y-%m-%d").date().isoformat()
            except ValueError:
                errors["closed_on"] = ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]
        if "assigned_to" in body:  # profile ids; one it does not know is dropped
            ids = body["assigned_to"]
            fields["assigned_to"] = [p for p in self.users.values() if isinstance(ids, list) and p["id"] in ids]
        if "description" in body:
            fields["description"] = body["description"]
        if errors:
            raise BadRequest(errors)
        return fields

    def _edit(self, deal: dict[str, Any], body: dict[str, Any], token: str) -> None:
        """`PATCH api/opportunities/<id>/`: the fields sent, and no others; a closed deal keeps its close date,
        a won one its amount."""
        fields = self._fields(deal, body)
        kind = (self.stage(deal["pipeline"], deal["stage"]) or {}).get("kind")
        if kind == "won" and "amount" in fields and not fields["amount"]:
            raise BadRequest({"amount": ["A won deal has to record what it was worth."]})
        if kind in ("won", "lost") and "closed_on" in fields and not fields["closed_on"]:
            raise BadRequest({"closed_on": ["A deal cannot be closed without the date it closed on."]})
        deal.update(fields, updated_at=stamp(self._tick()))
        self._event(token, "UPDATE", deal)

    def _create(self, body: dict[str, Any], token: str) -> str:
        """`POST api/opportunities/`: a stage of the pipeline (its first when none is named)."""
        pipeline = self.pipeline(str(body.get("pipeline", "")))
        if pipeline is None:
            raise BadRequest({"pipeline": [f'Invalid pk "{body.get("pipeline")}" - object does not exist.']})
        fields = self._fields(None, {"name": body.get("name"), **body})
        stage = body.get("stage") or min(pipeline["stages"], key=lambda s: s["order"])["code"]
        if self.stage(pipeline["id"], stage) is None:
            raise BadRequest({"stage": ["That is not a stage of this deal's pipeline."]})
        deal = self.add_deal(pipeline["id"], stage, name=fields["name"], amount=fields.get("amount"),
                             currency=fields.get("currency"), description=fields.get("description"),
                             closed_on=fields.get("closed_on"), user=token)
        if "probability" in fields:
            deal["probability"] = fields["probability"]
        deal["assigned_to"] = fields.get("assigned_to", [])
        deal["created_by"] = {k: self.users[token]["user_details"][k] for k in ("id", "email", "name", "profile_pic")}
        return str(deal["id"])

    def _comment(self, deal: dict[str, Any], text: str, token: str) -> dict[str, Any]:
        """A comment on the deal (no event in the activity feed)."""
        user = self.users[token]
        comment = {"id": self._uuid(), "comment": text, "commented_on": stamp(self._tick()),
                   "commented_by": {"id": user["id"], "user_details": {"email": user["user_details"]["email"],
                                                                      "profile_pic": None}},
                   "commented_by_contact": None, "content_type": "opportunity", "object_id": deal["id"],
                   "org": self.org["id"], "is_internal": False}
        self.comments.append(comment)
        return comment

    def teammate_comment(self, deal_id: str, text: str) -> dict[str, Any]:
        return self._comment(self.deals[deal_id], text, self.teammate_token)

    def _comments_of(self, deal: dict[str, Any]) -> list[dict[str, Any]]:
        """As 1.35.0 orders them: by id, descending (random ids: in no time order)."""
        return sorted((c for c in self.comments if c["object_id"] == deal["id"]), key=lambda c: c["id"], reverse=True)

    def _users(self) -> dict[str, Any]:
        rows = [dict(p, active_token_count=1) for p in self.users.values()]
        return {"active_users": {"active_users_count": len(rows), "active_users": rows, "offset": None},
                "inactive_users": {"inactive_users_count": 0, "inactive_users": [], "offset": 0},
                "admin_email": "admin@localhost", "roles": [["ADMIN", "ADMIN"], ["USER", "USER"]],
                "status": [["True", "Active"], ["False", "In Active"]]}

    # -- what the API shows ---------------------------------------------------------------------------------

    def _shown(self, deal: dict[str, Any], fields: tuple[str, ...] | None = None) -> dict[str, Any]:
        stage = self.stage(deal["pipeline"], deal["stage"]) or {}
        days = (self.clock() - datetime.fromisoformat(deal["stage_changed_at"].replace("Z", "+00:00"))).days
        expected = stage.get("expected_days")
        aging = "green"
        if stage.get("kind") == "open" and expected:
            aging = "red" if days >= -(-expected * 3 // 2) else "yellow" if days >= expected else "green"
        shown = dict(deal, stage_label=stage.get("label", deal["stage"]), stage_kind=stage.get("kind"),
                     days_in_stage=days, aging_status=aging, opportunity_amount=deal["amount"], can_move=True)
        if fields is None:  # the list and the detail: no updated_at, nor the kanban's own fields
            return {k: v for k, v in shown.items() if k not in ("updated_at", "kanban_order", "opportunity_amount",
                                                                "can_move")}
        return {k: shown.get(k) for k in fields}

    def _detail(self, deal: dict[str, Any]) -> dict[str, Any]:
        """The detail's deal: the list's, without `next_activity`."""
        return {k: v for k, v in self._shown(deal).items() if k != "next_activity"}

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not path.startswith(API):
            return httpx.Response(404, text="<h1>Not Found</h1>")
        resource = path[len(API):]
        if (injected := self.injected(request, resource)) is not None:
            return injected
        header = request.headers.get("authorization", "")
        token = header[len("Bearer "):].strip() if header.startswith("Bearer ") else ""
        if token not in self.users:
            return httpx.Response(403, json=NO_ORG)
        try:
            status, body = self._route(request, resource, token)
        except BadRequest as exc:
            status, body = 400, {"error": True, "errors": exc.errors}
        if status == 204:
            return httpx.Response(204)
        if status == 500:
            return httpx.Response(500, text=SERVER_ERROR, headers={"Content-Type": "text/html"})
        return httpx.Response(status, json=body)

    def _route(self, request: httpx.Request, resource: str, token: str) -> tuple[int, Any]:
        method, params = request.method, request.url.params
        body = json.loads(request.content) if request.content else {}
        if resource == "opportunities/pipelines/" and method == "GET":
            ordered = sorted(self.pipelines, key=lambda p: (not p["is_default"], p["name"]))
            return 200, {"pipelines": [self._pipeline_shown(p) for p in ordered]}
        if resource == "opportunities/" and method == "GET":
            return 200, self._list(params)
        if resource == "opportunities/" and method == "POST":
            return 200, {"error": False, "message": "Opportunity Created Successfully", "id": self._create(body, token)}
        if resource == "users/" and method == "GET":
            return 200, self._users()
        if resource == "opportunities/kanban/" and method == "GET":
            return self._kanban(params.get("pipeline"))
        if resource == "activities/" and method == "GET":
            return 200, self._activities(params)
        if resource == "profile/" and method == "GET":
            return 200, {"user_obj": dict(self.users[token], teams=[])}
        if match := re.fullmatch(r"opportunities/pipelines/([0-9a-f-]{36})/stages/(reorder/)?", resource):
            return self._stages(match[1], bool(match[2]), body)
        if (match := re.fullmatch(r"opportunities/stages/([0-9a-f-]{36})/", resource)) and method == "DELETE":
            return self._delete_stage(match[1])
        match = re.fullmatch(r"opportunities/([0-9a-f-]{36})/(move/)?", resource)
        if match is None:
            return 404, {"detail": "Not found."}
        deal = self.deals.get(match[1])
        if match[2]:
            if method != "PATCH":
                return 405, {"detail": f'Method "{method}" not allowed.'}
            if deal is None:
                return 404, {"detail": "No Opportunity matches the given query."}
            if not isinstance(body.get("column_id"), str) or not body["column_id"]:
                raise BadRequest({"column_id": ["This field is required."]})
            moved = self.move(deal["id"], body["column_id"], token)
            return 200, {"error": False, "message": "Opportunity moved successfully",
                         "opportunity": self._shown(moved, CARD_FIELDS)}
        if deal is None:
            return 404, {"error": True, "errors": "Opportunity not found."}
        if method == "POST":  # a comment (an empty one is answered, and not kept)
            if str(body.get("comment") or "").strip():
                self._comment(deal, str(body["comment"]), token)
            return 200, {"opportunity_obj": self._detail(deal), "attachments": [], "comments": self._comments_of(deal)}
        if method == "GET":
            return 200, {"opportunity_obj": self._detail(deal), "comments": self._comments_of(deal), "attachments": [],
                         "contacts": [], "users": list(self.users.values()), "stage": [], "lead_source": [],
                         "currency": [], "comment_permission": True,
                         "users_mention": [], "custom_field_definitions": [], "can_delete": True}
        if method == "PATCH":
            if isinstance(body.get("probability"), int) and body["probability"] < 0:
                return 500, None  # as 1.35.0 does: its database refuses, Django's HTML error page
            self._edit(deal, body, token)
            return 200, {"error": False, "message": "Opportunity Updated Successfully"}
        if method == "DELETE":
            self.delete_deal(deal["id"], token)
            return 200, {"error": False, "message": "Opportunity Deleted Successfully."}
        return 405, {"detail": f'Method "{method}" not allowed.'}

    @staticmethod
    def _pipeline_shown(pipeline: dict[str, Any]) -> dict[str, Any]:
        return dict(pipeline, stages=sorted(pipeline["stages"], key=lambda s: s["order"]))

    def _in(self, pipeline_id: str | None) -> list[dict[str, Any]]:
        deals = [d for d in self.deals.values() if not pipeline_id or d["pipeline"] == pipeline_id]
        return sorted(deals, key=lambda d: d["id"], reverse=True)  # order_by("-id")

    def _list(self, params: httpx.QueryParams) -> dict[str, Any]:
        deals = self._in(params.get("pipeline"))
        if params.get("name"):  # `name__icontains`
            deals = [d for d in deals if params["name"].casefold() in d["name"].casefold()]
        try:
            limit = max(1, int(params.get("limit", "10")))
        except ValueError:
            limit = 10
        try:
            offset = max(0, int(params.get("offset", "0")))
        except ValueError:
            offset = 0
        page = deals[offset: offset + limit]
        following: int | None = 0
        if page:
            following = sum(1 for d in deals if d["id"] >= page[-1]["id"])
            following = None if following == len(deals) else following
        return {"opportunities_count": len(deals), "offset": following, "per_page": 10,
                "page_number": offset // 10 + 1, "opportunities": [self._shown(d) for d in page],
                "totals": {"count": len(deals), "amount_sum": None, "weighted_sum": None, "by_currency": [],
                           "stalled_count": 0},
                "accounts_list": [], "contacts_list": [], "tags": [], "stage": [], "lead_source": [], "currency": []}

    def _kanban(self, pipeline_id: str | None) -> tuple[int, Any]:
        pipeline = self.pipeline(pipeline_id) if pipeline_id else next(p for p in self.pipelines if p["is_default"])
        if pipeline is None:
            return 404, {"detail": "No DealPipeline matches the given query."}
        deals = self._in(pipeline["id"])
        columns = []
        for stage in sorted(pipeline["stages"], key=lambda s: s["order"]):
            held = sorted((d for d in deals if d["stage"] == stage["code"]), key=lambda d: d["created_at"],
                          reverse=True)
            columns.append({"id": stage["code"], "name": stage["label"], "order": stage["order"],
                            "kind": stage["kind"], "color": {"open": "#3B82F6", "won": "#22C55E",
                                                             "lost": "#6B7280"}[stage["kind"]],
                            "stage_type": "open" if stage["kind"] == "open" else "completed",
                            "expected_days": stage["expected_days"], "warning_days": stage["warning_days"],
                            "is_status_column": True, "wip_limit": None, "item_count": len(held),
                            "items": [self._shown(d, CARD_FIELDS) for d in held[:KANBAN_CAP]]})
        return 200, {"mode": "status", "pipeline": {"id": pipeline["id"], "name": pipeline["name"],
                                                    "is_default": pipeline["is_default"]},
                     "columns": columns, "total_items": len(deals)}

    def _activities(self, params: httpx.QueryParams) -> dict[str, Any]:
        try:
            limit = int(params.get("limit", "10"))
        except ValueError:
            limit = 10
        limit = min(limit if limit >= 1 else 10, 50)
        wanted = params.get("entity_type")
        rows = [a for a in self.activities if not wanted or a["entity_type"] == wanted][:limit]
        return {"error": False, "count": len(rows), "activities": rows}

    def _stages(self, pipeline_id: str, reorder: bool, body: dict[str, Any]) -> tuple[int, Any]:
        pipeline = self.pipeline(pipeline_id)
        if pipeline is None:
            return 404, {"detail": "No DealPipeline matches the given query."}
        if reorder:
            ids = body.get("stage_ids") or []
            if sorted(ids) != sorted(s["id"] for s in pipeline["stages"]):
                raise BadRequest({"stage_ids": ["Send every stage of the pipeline exactly once."]})
            for order, stage_id in enumerate(ids, start=1):
                next(s for s in pipeline["stages"] if s["id"] == stage_id)["order"] = order
            return 200, self._pipeline_shown(pipeline)
        label = str(body.get("label") or "")
        if not label or body.get("kind") not in ("open", "won", "lost"):
            raise BadRequest({"label": ["This field is required."]})
        pipeline["stages"].append({
            "id": self._uuid(), "code": code_for(label, {s["code"] for s in pipeline["stages"]}), "label": label,
            "order": max((s["order"] for s in pipeline["stages"]), default=0) + 1, "kind": body["kind"],
            "expected_days": body.get("expected_days"), "warning_days": body.get("warning_days")})
        return 201, self._pipeline_shown(pipeline)

    def _delete_stage(self, stage_id: str) -> tuple[int, Any]:
        for pipeline in self.pipelines:
            for stage in pipeline["stages"]:
                if stage["id"] == stage_id:
                    held = sum(1 for d in self.deals.values()
                               if d["pipeline"] == pipeline["id"] and d["stage"] == stage["code"])
                    if held:
                        raise BadRequest(f"This stage still holds {held} deal(s). Move them to another stage first.")
                    pipeline["stages"].remove(stage)
                    return 204, None
        return 404, {"detail": "No DealStage matches the given query."}


class Contract(HttpContractFake):
    """The fake BottleCRM for tests/test_contract.py: 150 deals in "Sales" (two pages of 100)."""

    unknown_id = "00000000-0000-4000-8000-000000000000"
    fake: FakeBottleCrm

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.fake = FakeBottleCrm()
        self.fake.seed(150)

    def settings(self) -> dict[str, Any]:
        return {}

    def environ(self, *, key_ok: bool = True) -> dict[str, str]:
        return {"BOTTLECRM_URL": "http://127.0.0.1:8000",
                "BOTTLECRM_TOKEN": self.fake.token if key_ok else "bcrm_pat_revoked"}

    def teammate_move(self, card_id: str, status_id: str) -> None:
        self.fake.teammate_move(card_id, status_id)

    def delete(self, card_id: str) -> None:
        self.fake.delete_deal(card_id)

    def status_of(self, card_id: str) -> str | None:
        deal = self.fake.deals.get(card_id)
        return None if deal is None else deal["stage"]

    # -- what the write contract reads back (issue 23): in `models` terms, whatever the CRM --------------------

    def field_of(self, card_id: str, name: str) -> object:
        return field_in(self.fake.deals[card_id], name)

    def note_texts(self, card_id: str) -> list[str]:
        """The deal's comments, newest first."""
        comments = self.fake._comments_of(self.fake.deals[card_id])
        return [c["comment"] for c in sorted(comments, key=lambda c: c["commented_on"], reverse=True)]

    def named(self, name: str) -> list[str]:
        return sorted(d["id"] for d in self.fake.deals.values() if d["name"] == name)


def field_in(deal: dict[str, Any], name: str) -> object:
    """A BottleCRM deal's `EDIT_FIELDS` field as the board reads it (minor units, a date, the owner's profile id);
    the fake's and the real server's (`tests/live/`) deals alike."""
    from datetime import date

    from kanban_tui.money import minor_units

    currency = (deal.get("currency") or "USD").upper()
    if name == "value":
        return minor_units(deal.get("amount"), currency)
    if name == "currency":
        return currency
    if name == "confidence":
        return deal.get("probability")
    if name == "close_date":
        return date.fromisoformat(deal["closed_on"]) if deal.get("closed_on") else None
    if name == "owner":
        return str(deal["assigned_to"][0]["id"]) if deal.get("assigned_to") else None
    if name == "period":
        return "one_time"
    return deal.get(name)


def command(fake: FakeBottleCrm, line: str) -> str:
    words = line.split()
    if not words:
        return ""
    try:
        if words[0] == "list":
            return "\n".join(f"{d['id']}  {d['stage']:<14} {d['name']}" for d in list(fake.deals.values())[-10:])
        if words[0] == "move":
            deal = words[1] if words[1] != "first" else next(reversed(list(fake.deals)))
            fake.teammate_move(deal, words[2])
            return f"moved {deal} to {words[2]}"
        if (reply := failure_command(fake, words)) is not None:
            return reply
    except (IndexError, KeyError, ValueError, StopIteration, BadRequest) as exc:
        return f"cannot: {exc!r}"
    return "commands: list | move ID|first CODE | fail METHOD PATH STATUS [N] | drop METHOD PATH [N]"


def main(argv: list[str] | None = None) -> None:
    parser = loopback_parser("A fake BottleCRM API on loopback, for trying kanban-tui.", 8768)
    parser.add_argument("--size", type=int, default=150)
    args = parser.parse_args(argv)
    fake = FakeBottleCrm()
    fake.seed(args.size)
    run_on_loopback(fake, args.host, args.port,
                    f"fake BottleCRM on http://{args.host}:{args.port} (token {fake.token}); type help",
                    lambda line: command(fake, line), quiet=args.quiet, latency_ms=args.latency)


if __name__ == "__main__":
    main()
