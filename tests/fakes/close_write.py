"""The fake Close's write side (issue 23): leads, users, notes and new deals, every body checked against the spec.

Mixed into `FakeClose` (`tests/fakes/close.py`), whose organization (`opportunities`, `notes`, `add_opportunity`,
...) it writes to. As documented (close-openapi.yml; crm-api-notes 1.7, 1.14):

- `PUT opportunity/{id}/` (a PATCH), `POST opportunity/` (`CreateOpportunity`), `POST activity/note/`
  (`CreateNoteActivity`: `lead_id` required) and `POST lead/` (the spec gives it `Any type`: the `Lead`'s own
  fields, `status` and `custom.*`) have their bodies validated against the spec's schemas
  (`close_write_schemas.json`, extracted by `extract_close_schema.py`): a field the schema does not name is a
  400 (`{"errors": [], "field-errors": {field: "Unknown field."}}`), and so is a wrong type. Two gaps of the
  spec are filled from what it says elsewhere: `value_currency` is writable (the `Opportunity` has it;
  crm-api-notes 1.14), and `date_won` is a date (`YYYY-MM-DD`, as the `Opportunity` and Close's docs have it;
  `CreateOpportunity` says date-time: either is taken). The PUT's body has no schema of its own: it is
  `CreateOpportunity`'s, nothing required.
- A `user_id` must be a user of the organization, a `lead_id` a lead, a `status_id` a status (of `pipeline_id`,
  when given); `confidence` and `user_id` cannot be null (the `Opportunity` has neither null). Fields the
  schema allows that this fake does not act on (`contact_id`, `attachments`, `custom.*`, ...) are a 400 saying so.
- `POST opportunity/` without a `lead_id` makes an "Untitled" lead, as the spec says Close does.
- `GET lead/` with `query` (every word in the name, any case; newest first), `_skip` / `_limit`, `_fields`:
  answers checked against `leads_list_Response_200`. `GET user/`: the organization's users, checked against
  `USER_LIST_SCHEMA` (the spec's `users_list_Response_200` is an empty placeholder; airbyte's users.json).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

WRITE_SCHEMAS_FILE = Path(__file__).with_name("close_write_schemas.json")
ORG = "orga_fakeFakeFakeFakeFakeFake"
USERS = [("user_ada", "Ada Park"), ("user_bo", "Bo Lindqvist"), ("user_cy", "Cyrus Okafor"),
         ("user_di", "Dita Novak"), ("user_ed", "Edu Ramos")]
"""The organization's users; the first is the one the key acts for (`GET me/`)."""
LEAD_STATUS = ("stat_leadPotentialFakeFakeFak", "Potential")
CUSTOM = r"^custom\."
_NULLABLE_STRING = {"type": ["string", "null"]}
USER_SCHEMA: dict[str, Any] = {
    "$comment": "Close's User (airbyte schemas/users.json): the spec's users_list_Response_200 is a placeholder",
    "type": "object",
    "required": ["id", "email", "first_name", "last_name", "date_created", "date_updated", "organizations"],
    "properties": {
        "id": {"type": "string", "pattern": "^user_"}, "email": {"type": "string"},
        "first_name": _NULLABLE_STRING, "last_name": _NULLABLE_STRING, "image": _NULLABLE_STRING,
        "date_created": {"type": "string", "format": "date-time"},
        "date_updated": {"type": "string", "format": "date-time"},
        "organizations": {"type": "array", "items": {"type": "string"}},
        "last_used_timezone": _NULLABLE_STRING,
    },
}
USER_LIST_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["data", "has_more"],
    "properties": {"data": {"type": "array", "items": USER_SCHEMA}, "has_more": {"type": "boolean"}},
}
OPPORTUNITY_FIELDS_ACTED_ON = {"status_id", "confidence", "value", "value_period", "value_currency", "note",
                               "date_won", "user_id", "lead_id", "pipeline_id"}
"""What `POST opportunity/` acts on (a PUT: the same less `lead_id` and `pipeline_id`)."""


class BadRequest(Exception):
    """A 400 in Close's envelope: `{"errors": [...], "field-errors": {field: message}}`."""

    def __init__(self, errors: list[str] | None = None, field_errors: dict[str, str] | None = None) -> None:
        self.errors = errors or []
        self.field_errors = field_errors or {}


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _date_or_time(value: object) -> bool:
    """`date_won` as Close takes it: a date, or a date-time with its zone."""
    if not isinstance(value, str):
        return True
    if len(value) == 10:
        return bool(date.fromisoformat(value))
    return datetime.fromisoformat(value).tzinfo is not None and "T" in value


class WriteCheck:
    """The spec's request schemas, made strict (a field they do not name is refused), and its lead list."""

    def __init__(self) -> None:
        from jsonschema import Draft202012Validator, FormatChecker

        schemas = json.loads(WRITE_SCHEMAS_FILE.read_text())
        checker = FormatChecker()
        checker.checks("date-time", raises=ValueError)(_date_or_time)
        opportunity = schemas["CreateOpportunity"]
        opportunity["properties"]["value_currency"] = _NULLABLE_STRING  # the Opportunity's; crm-api-notes 1.14
        lead = schemas["Lead"]
        lead["properties"]["status"] = {"type": "string"}  # "Post either `status` or `status_id`"
        lead = {**lead, "required": []}
        note = schemas["CreateNoteActivity"]
        self.named = {"opportunity": set(opportunity["properties"]), "note": set(note["properties"]),
                      "lead": set(lead["properties"])}
        self.requests = {name: Draft202012Validator(schema, format_checker=checker) for name, schema in (
            ("opportunity", opportunity), ("note", note), ("lead", lead))}
        self.leads = schemas["leads_list_Response_200"]
        self._lead_lists: dict[tuple[str, ...] | None, Any] = {}
        self._validator = Draft202012Validator
        self._checker = checker
        self.users = Draft202012Validator(USER_LIST_SCHEMA)

    def body(self, what: str, request: httpx.Request) -> dict[str, Any]:
        """The request's JSON object, valid for `what`; else the 400 Close answers."""
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            raise BadRequest(errors=["Invalid JSON body."]) from None
        if not isinstance(body, dict):
            raise BadRequest(errors=["Expected a JSON object."])
        validator = self.requests[what]
        named = self.named[what]
        unknown = sorted(k for k in body if k not in named and not k.startswith("custom."))
        if unknown:
            raise BadRequest(field_errors={name: "Unknown field." for name in unknown})
        errors = sorted(validator.iter_errors(body), key=lambda e: str(list(e.absolute_path)))
        if errors:
            raise BadRequest(field_errors={
                str(e.absolute_path[0]) if e.absolute_path else "__all__": e.message[:200] for e in errors})
        return body

    def lead_list(self, body: dict[str, Any], fields: tuple[str, ...] | None) -> None:
        validator = self._lead_lists.get(fields)
        if validator is None:
            schema = json.loads(json.dumps(self.leads))
            if fields is not None:
                lead = schema["$defs"]["Lead"]
                lead["required"] = [name for name in lead["required"] if name in fields]
            validator = self._lead_lists[fields] = self._validator(schema, format_checker=self._checker)
        errors = sorted(validator.iter_errors(body), key=str)
        if errors:
            raise AssertionError(f"fake Close answered an invalid lead list: {errors[0].message}")

    def user_list(self, body: dict[str, Any]) -> None:
        errors = sorted(self.users.iter_errors(body), key=str)
        if errors:
            raise AssertionError(f"fake Close answered an invalid user list: {errors[0].message}")


class CloseWriteFake:
    """Leads, users, and the writes that make and change deals and notes (mixed into `FakeClose`)."""

    opportunities: dict[str, dict[str, Any]]
    pipelines: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    limit_cap: int
    check: Any
    _listings: dict[Any, Any]
    _id: Callable[[str], str]
    _tick: Callable[[], datetime]
    _status: Callable[[str], tuple[dict[str, Any], dict[str, Any]] | None]
    _set_status: Callable[[dict[str, Any], str, datetime], None]
    _derive: Callable[[dict[str, Any]], None]
    _event: Callable[..., None]
    _shown: Callable[[dict[str, Any], tuple[str, ...] | None], dict[str, Any]]
    add_opportunity: Callable[..., dict[str, Any]]
    add_note: Callable[..., dict[str, Any]]

    def _writes_init(self) -> None:
        self.leads: dict[str, dict[str, Any]] = {}
        """Every lead by id: one per seeded deal, and those `POST lead/` (or a deal without a lead) made."""
        self.users: list[dict[str, Any]] = [self._user_record(*u) for u in USERS]
        self.write_check = WriteCheck()

    # -- building ---------------------------------------------------------------------------------------

    @staticmethod
    def _user_record(user_id: str, name: str) -> dict[str, Any]:
        first, _, last = name.partition(" ")
        return {"id": user_id, "email": f"{user_id[5:]}@fake.example", "first_name": first, "last_name": last,
                "image": None, "date_created": "2024-11-04T11:04:13.014979+00:00",
                "date_updated": "2025-11-13T14:12:13.051542+00:00", "organizations": [ORG]}

    def add_user(self, user_id: str, first_name: str, last_name: str = "") -> dict[str, Any]:
        """A user of the organization (a name as a teammate typed it: anything)."""
        record = self._user_record(user_id, "x")
        record.update(first_name=first_name, last_name=last_name)
        self.users.append(record)
        return record

    def user(self, user_id: str) -> tuple[str, str] | None:
        """(id, name) of a user of the organization, as an opportunity's `user_id` / `user_name` have it."""
        for record in self.users:
            if record["id"] == user_id:
                return record["id"], " ".join(p for p in (record["first_name"], record["last_name"]) if p)
        return None

    def add_lead(self, name: str, *, lead_id: str | None = None, when: datetime | None = None,
                 user: tuple[str, str] = USERS[0]) -> dict[str, Any]:
        """A lead (`POST lead/` makes the same record)."""
        lead_id = lead_id or self._id("lead_")
        made = stamp(when or self._tick())
        record: dict[str, Any] = {
            "id": lead_id, "name": name, "display_name": name, "organization_id": ORG,
            "status_id": LEAD_STATUS[0], "status_label": LEAD_STATUS[1], "description": "", "url": None,
            "html_url": f"https://app.close.com/lead/{lead_id}/", "contact_ids": [], "contacts": [], "addresses": [],
            "created_by": user[0], "created_by_name": user[1], "updated_by": user[0], "updated_by_name": user[1],
            "date_created": made, "date_updated": made,
        }
        self.leads[lead_id] = record
        return record

    # -- the HTTP side ----------------------------------------------------------------------------------

    def _write_route(self, request: httpx.Request, resource: str) -> tuple[int, Any] | None:
        """The answer to a write (or a lead / user listing); None: not one of these."""
        method, params = request.method, request.url.params
        if resource == "lead/" and method == "GET":
            return 200, self._lead_list(params)
        if resource == "lead/" and method == "POST":
            return 200, self._create_lead(request)
        if resource == "user/" and method == "GET":
            return 200, self._user_list(params)
        if resource == "opportunity/" and method == "POST":
            return 200, self._create_opportunity(request)
        if resource == "activity/note/" and method == "POST":
            return 200, self._create_note(request)
        return None

    def _page(self, records: list[dict[str, Any]], params: httpx.QueryParams) -> tuple[list[dict[str, Any]], bool]:
        from .close import _int

        skip, limit = _int(params, "_skip", 0), _int(params, "_limit", 100)
        page = records[skip: skip + min(limit, self.limit_cap)]
        return page, skip + len(page) < len(records)

    def _lead_list(self, params: httpx.QueryParams) -> dict[str, Any]:
        """`GET lead/`: `query` (every word of it in the lead's name, any case), newest first, paged."""
        from .close import _fields

        unknown = {k for k in params if k not in ("query", "_skip", "_limit", "_fields")}
        if unknown:
            raise BadRequest(errors=[f"unsupported parameter: {sorted(unknown)[0]}"])
        words = (params.get("query") or "").casefold().split()
        found = [lead for lead in self.leads.values() if all(w in (lead["name"] or "").casefold() for w in words)]
        found.sort(key=lambda lead: (lead["date_created"], lead["id"]), reverse=True)
        page, more = self._page(found, params)
        fields = _fields(params)
        body = {"data": [dict(r) if fields is None else {k: r[k] for k in fields if k in r} for r in page],
                "has_more": more}
        if self.check is not None:
            self.write_check.lead_list(body, fields)
        return body

    def _user_list(self, params: httpx.QueryParams) -> dict[str, Any]:
        """`GET user/`: the organization's users, `_skip` / `_limit`."""
        page, more = self._page(list(self.users), params)
        body = {"data": [dict(u) for u in page], "has_more": more}
        if self.check is not None:
            self.write_check.user_list(body)
        return body

    def _create_lead(self, request: httpx.Request) -> dict[str, Any]:
        body = self.write_check.body("lead", request)
        if ignored := sorted(set(body) - {"name"}):
            raise BadRequest(field_errors={k: "This fake does not set this field." for k in ignored})
        lead = self.add_lead(body.get("name") or "Untitled")
        if self.check is not None:
            self.write_check.lead_list({"data": [lead], "has_more": False}, None)
        return dict(lead)

    def _create_note(self, request: httpx.Request) -> dict[str, Any]:
        body = self.write_check.body("note", request)
        if set(body) - {"lead_id", "note"}:
            raise BadRequest(field_errors={k: "This fake does not set this field."
                                           for k in sorted(set(body) - {"lead_id", "note"})})
        if body["lead_id"] not in self.leads:
            raise BadRequest(field_errors={"lead_id": "Lead not found."})
        record = self.add_note(body["lead_id"], body.get("note") or "")
        if self.check is not None:
            self.check.notes({"data": [record], "has_more": False})
        return dict(record)

    def _checked(self, body: dict[str, Any], acted_on: set[str]) -> None:
        """The references a body makes exist, and it sets nothing this fake does not act on."""
        if ignored := sorted(k for k in body if k not in acted_on):
            raise BadRequest(field_errors={k: "This fake does not set this field." for k in ignored})
        for name in ("confidence", "user_id"):
            if name in body and body[name] is None:
                raise BadRequest(field_errors={name: "This field may not be null."})
        if body.get("user_id") is not None and self.user(body["user_id"]) is None:
            raise BadRequest(field_errors={"user_id": "User not found."})
        if body.get("status_id") is not None:
            found = self._status(body["status_id"])
            if found is None:
                raise BadRequest(field_errors={"status_id": "Status not found."})
            if body.get("pipeline_id") is not None and found[0]["id"] != body["pipeline_id"]:
                raise BadRequest(field_errors={"status_id": "The status does not belong to the pipeline."})
        if body.get("confidence") is not None and not 0 <= body["confidence"] <= 100:
            raise BadRequest(field_errors={"confidence": "Ensure this value is between 0 and 100."})
        if "date_won" in body and body["date_won"] is not None:
            body["date_won"] = body["date_won"][:10]  # kept as a date, as the Opportunity has it

    def _create_opportunity(self, request: httpx.Request) -> dict[str, Any]:
        """`POST opportunity/`: for `lead_id` (else an "Untitled" lead made for it), in `status_id` (else the first
        status of `pipeline_id`, else of the first pipeline), made by the key's user."""
        body = self.write_check.body("opportunity", request)
        self._checked(body, OPPORTUNITY_FIELDS_ACTED_ON)
        pipelines = self.pipelines
        if body.get("lead_id") is not None and body["lead_id"] not in self.leads:
            raise BadRequest(field_errors={"lead_id": "Lead not found."})
        status_id = body.get("status_id")
        if status_id is None:
            pipeline = next((p for p in pipelines if p["id"] == body.get("pipeline_id")), None)
            if body.get("pipeline_id") is not None and pipeline is None:
                raise BadRequest(field_errors={"pipeline_id": "Pipeline not found."})
            status_id = (pipeline or pipelines[0])["statuses"][0]["id"]
        lead = self.leads[body["lead_id"]] if body.get("lead_id") else self.add_lead("Untitled")
        owner = self.user(body["user_id"]) if body.get("user_id") else None
        record = self.add_opportunity(
            status_id, lead_name=lead["name"], lead_id=lead["id"], value=body.get("value"),
            value_period=body.get("value_period") or "one_time", value_currency=body.get("value_currency") or "USD",
            confidence=body.get("confidence") or 0, user=owner or USERS[0], note=body.get("note") or "",
            by=USERS[0], date_won=body.get("date_won"), api=True)
        return self._shown(record, None)

    def _update(self, record: dict[str, Any], request: httpx.Request) -> dict[str, Any]:
        """`PUT opportunity/{id}/`: a PATCH of the fields sent (`CreateOpportunity`'s, checked as a POST's)."""
        changes = self.write_check.body("opportunity", request)
        self._checked(changes, OPPORTUNITY_FIELDS_ACTED_ON - {"lead_id", "pipeline_id"})
        when = self._tick()
        before = dict(record)
        for name in ("confidence", "value", "value_period", "value_currency", "note", "date_won"):
            if name in changes:
                record[name] = changes[name]
        if "user_id" in changes:
            record["user_id"], record["user_name"] = self.user(changes["user_id"])  # type: ignore[misc]
        if "status_id" in changes:
            self._set_status(record, changes["status_id"], when)
        self._derive(record)
        record.update(date_updated=stamp(when), updated_by=USERS[0][0], updated_by_name=USERS[0][1])
        self._listings.clear()
        self._event("updated", record, when, before=before, user=USERS[0], api=True)
        return self._shown(record, None)

    # -- the console ------------------------------------------------------------------------------------

    def console(self, verb: str, args: list[str]) -> str | None:
        """`show ID`, `notes ID`, `leads [WORDS]`, `users`: what a human checks in tmux; None: not one of these."""
        if verb == "show":
            r = self.opportunities[args[0]]
            return (f"{r['id']}  {r['lead_name']} ({r['lead_id']})  {r['status_label']}  value={r['value']}"
                    f" {r['value_currency']} {r['value_period']}  confidence={r['confidence']}"
                    f"  date_won={r['date_won']}  owner={r['user_name']} ({r['user_id']})")
        if verb == "notes":
            lead = self.opportunities[args[0]]["lead_id"] if args[0] in self.opportunities else args[0]
            found = [n for n in self.notes if n["lead_id"] == lead]
            return "\n".join(f"{n['date_created'][:19]}  {n['user_name']}: {n['note']!r}" for n in found) or "no notes"
        if verb == "leads":
            words = [w.casefold() for w in args]
            found = sorted((lead for lead in self.leads.values()
                            if all(w in lead["name"].casefold() for w in words)),
                           key=lambda lead: lead["date_created"], reverse=True)[:20]
            deals = {lead["id"]: 0 for lead in found}
            for r in self.opportunities.values():
                if r["lead_id"] in deals:
                    deals[r["lead_id"]] += 1
            return "\n".join(f"{lead['id']}  {lead['date_created'][:19]}  {deals[lead['id']]} deal(s)  {lead['name']!r}"
                             for lead in found) or "no leads"
        if verb == "users":
            return "\n".join(f"{u['id']}  {u['first_name']} {u['last_name']}" for u in self.users)
        return None
