"""A stateful fake Close server, speaking the API as Close documents it.

In tests: `httpx.MockTransport(FakeClose(key).handler)`. By hand, on loopback:

    python -m tests.fakes.close --port 8765 --sales 300 --other 150

then `CLOSE_API_KEY=test-close-key kanban-tui --backend close --base-url
http://127.0.0.1:8765/api/v1/`. It logs every request on stderr and reads commands on
stdin (`help` lists them): move a card as a teammate would, delete one, make the next
requests fail.

What it does, as documented (shared/reference/crm-api-notes.md, close-openapi.yml):

- HTTP Basic auth with the API key as the user name and an empty password, else 401.
- `GET me/`, `GET pipeline/` (statuses in board order, each with `type`),
  `GET status/opportunity/`.
- `GET opportunity/` with `status_id[__in]`, `status_type[__in]`, `user_id`,
  `date_updated__gt|gte|lt|lte`, `date_created__…`, `date_won__…`, `_order_by` (`-` descending),
  `_group_by=date_won__week` (groups of objects, paged by object),
  `_fields`, `_skip` / `_limit` (capped at `limit_cap`: the server returns fewer than
  asked), `has_more`, `total_results` and the value aggregates.
- `GET|PUT|DELETE opportunity/{id}/`. PUT acts as PATCH; a new `status_id` updates the
  `status_*` and pipeline fields, a won status sets `date_won` (a date) if unset, a lost
  one `date_lost`; an unknown status is a 400 with `field-errors`. `date_updated` only
  ever grows.
- `GET event/`, the Event Log (spec `/event/` description; developer.close.com/api/resources/events.md):
  an event for every opportunity created, updated or deleted after `seed` (by `add_opportunity`,
  `teammate_move`, `teammate_edit`, PUT, DELETE, `delete_opportunity` and the stdin commands), kept
  `event_retention` (30 days, "up to 30 days back in history"); latest first (by `date_updated`);
  `_cursor` in, `cursor_next` / `cursor_previous` out (no `_skip`: a 400); `_limit` capped at and
  defaulting to 50; filters `object_type`, `object_id`, `action`, `lead_id`, `user_id`, `request_id`
  in the documented combinations only (else a 400) and `date_updated__gt|gte|lt|lte` (remembered by a
  cursor, as Close asks for every filter again but `date_updated`). `data` is the object as the API
  would return it, null for a deletion; `changed_fields` and `previous_data` for an update.
- `GET activity/note/` with `lead_id` (comma-separated), `_skip` / `_limit` (capped as above): `data` (note
  activities, validated against the spec's `activities.notes_list_Response_200`) and `has_more`, in the order
  the notes were added (the spec gives no order). `seed` puts one to four notes on about a lead in three.
- Every answer carries `RateLimit: limit=…, remaining=…, reset=…`; when the window is
  used up, 429 with `Retry-After`.
- `fail_next()` makes matching requests answer 4xx/5xx, odd bodies, or raise (timeouts,
  dropped connections).

Every opportunity it returns is validated against the `Opportunity` schema of Close's
OpenAPI spec (`close_opportunity_schema.json`), restricted to the `_fields` asked for. The spec's
event schemas are empty placeholders (`events_list_Response_200`): each event is validated against
`EVENT_SCHEMA`, the documented Event format, whose `data` is that same `Opportunity` schema.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from .base import (
    FakeServer,
    OpportunityContractFake,
    failure_command,
    loopback_parser,
    run_on_loopback,
)
from .close_write import ORG, USERS, BadRequest, CloseWriteFake
from .close_write import stamp as _stamp

API = "/api/v1/"
SCHEMA_FILE = Path(__file__).with_name("close_opportunity_schema.json")
NOTE_LIST_SCHEMA_FILE = Path(__file__).with_name("close_note_list_schema.json")
NOTE_TEXTS = ["Intro call: they use spreadsheets today.", "Sent the proposal.\nWaiting on their CFO.",
              "Asked about SSO and the EU region.", "Champion changed jobs; new contact is the COO.",
              "Pricing call booked for Thursday."]

SALES = [("Lead", "active"), ("Qualified", "active"), ("Demo", "active"), ("Proposal", "active"),
         ("Negotiation", "active"), ("Won", "won"), ("Lost", "lost")]
PARTNERSHIPS = [("Prospect", "active"), ("Talking", "active"), ("Signed", "won"), ("Declined", "lost")]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne",
             "Soylent", "Wonka", "Vandelay", "Pied Piper", "Aperture", "Black Mesa", "Gringotts", "Oscorp",
             "Monarch", "Dunder", "Prestige"]
SUFFIXES = ["Ltd", "GmbH", "Inc", "Labs", "Group", "BV", "Oy", "SA"]
FIRST = ["Maya", "Liam", "Noor", "Ivo", "Sana", "Teo", "Lena", "Omar", "Rae", "Jun"]
LAST = ["Berg", "Costa", "Ito", "Kern", "Mori", "Nash", "Ruiz", "Sato", "Vale", "Wren"]
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
DATE_FILTERS = ("date_updated", "date_created")
ORDERABLE = {"date_won", "date_updated", "date_created", "confidence", "user_name", "value",
             "annualized_value", "annualized_expected_value"}
EVENT_LIMIT = 50
"""`_limit` on `GET event/`: "capped at and defaulting to 50"."""
EVENT_RETENTION = timedelta(days=30)
"""The Event Log goes "up to 30 days back in history" (developer.close.com/api/resources/events.md)."""
EVENT_FILTERS = ("object_type", "object_id", "action", "lead_id", "user_id", "request_id")
EVENT_COMBINATIONS = {frozenset(c) for c in (
    (), ("object_type", "object_id"), ("object_type", "action"), ("object_id", "action"), ("lead_id", "object_type"),
    ("lead_id", "object_type", "action"), ("lead_id", "user_id", "object_type"),
    ("lead_id", "user_id", "object_type", "action"), ("lead_id", "user_id"), ("user_id", "object_id"),
    ("user_id", "object_id", "action"), ("user_id", "object_type"), ("user_id", "object_type", "action"),
    ("lead_id",), ("user_id",), ("request_id",),
)}
"""The filter combinations the spec lists as supported (`date_updated` may join any); none at all: the whole log."""
_NULLABLE_STRING = {"type": ["string", "null"]}
EVENT_SCHEMA: dict[str, Any] = {
    "$comment": "Close's Event format (developer.close.com/api/resources/events.md; airbyte schemas/events.json):"
                " the spec's events_list_Response_200 is an empty placeholder",
    "type": "object",
    "required": ["id", "date_created", "date_updated", "organization_id", "user_id", "request_id", "api_key_id",
                 "object_type", "object_id", "lead_id", "action", "changed_fields", "previous_data", "data", "meta"],
    "properties": {
        "id": {"type": "string", "pattern": "^ev_"},
        "date_created": {"type": "string", "format": "date-time"},
        "date_updated": {"type": "string", "format": "date-time"},
        "organization_id": {"type": "string"},
        "user_id": _NULLABLE_STRING, "request_id": _NULLABLE_STRING, "api_key_id": _NULLABLE_STRING,
        "oauth_client_id": _NULLABLE_STRING, "oauth_scope": _NULLABLE_STRING,
        "object_type": {"type": "string"}, "object_id": {"type": "string"}, "lead_id": _NULLABLE_STRING,
        "action": {"type": "string"},
        "changed_fields": {"type": "array", "items": {"type": "string"}},
        "previous_data": {"type": "object"},
        "data": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/Opportunity"}]},
        "meta": {"type": "object"},
    },
}
EVENT_LIST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data", "cursor_next", "cursor_previous"],
    "properties": {"data": {"type": "array"}, "cursor_next": _NULLABLE_STRING, "cursor_previous": _NULLABLE_STRING},
}


class SchemaCheck:
    """Validates opportunities against Close's OpenAPI `Opportunity` schema."""

    def __init__(self) -> None:
        from jsonschema import Draft202012Validator, FormatChecker

        self.schema = json.loads(SCHEMA_FILE.read_text())
        checker = FormatChecker()

        @checker.checks("date-time", raises=ValueError)
        def is_datetime(value: object) -> bool:
            return not isinstance(value, str) or (datetime.fromisoformat(value).tzinfo is not None and "T" in value)

        @checker.checks("date", raises=ValueError)
        def is_date(value: object) -> bool:
            return not isinstance(value, str) or bool(date.fromisoformat(value)) and len(value) == 10

        self.checker = checker
        self._validators: dict[tuple[str, ...] | None, Any] = {}
        self._cls = Draft202012Validator
        opportunity = {k: v for k, v in self.schema.items() if k not in ("$schema", "$defs")}
        self._event = Draft202012Validator(
            {**EVENT_SCHEMA, "$defs": {**self.schema.get("$defs", {}), "Opportunity": opportunity}},
            format_checker=checker,
        )
        self._event_list = Draft202012Validator(EVENT_LIST_SCHEMA)
        self._note_list = Draft202012Validator(json.loads(NOTE_LIST_SCHEMA_FILE.read_text()), format_checker=checker)

    def notes(self, body: dict[str, Any]) -> None:
        """A `GET activity/note/` answer, as the spec's `activities.notes_list_Response_200` has it."""
        errors = sorted(self._note_list.iter_errors(body), key=str)
        if errors:
            raise AssertionError(f"fake Close answered an invalid note list: {errors[0].message}")

    def events(self, body: dict[str, Any]) -> None:
        """A `GET event/` answer: its envelope, and every event in it (an opportunity's `data` in full)."""
        errors = sorted(self._event_list.iter_errors(body), key=str)
        for event in body.get("data") or []:
            errors += sorted(self._event.iter_errors(event), key=str)
        if errors:
            raise AssertionError(f"fake Close answered an invalid event list: {errors[0].message}")

    def __call__(self, record: dict[str, Any], fields: tuple[str, ...] | None) -> None:
        validator = self._validators.get(fields)
        if validator is None:
            schema = dict(self.schema)
            if fields is not None:
                schema["required"] = [name for name in schema["required"] if name in fields]
            validator = self._validators[fields] = self._cls(schema, format_checker=self.checker)
        errors = sorted(validator.iter_errors(record), key=str)
        if errors:
            raise AssertionError(f"fake Close answered an invalid Opportunity {record.get('id')}: {errors[0].message}")


class FakeClose(CloseWriteFake, FakeServer):
    """One Close organization in memory. Not thread-safe by itself; `serve` locks around it."""

    def __init__(
        self,
        api_key: str = "test-close-key",
        *,
        limit_cap: int = 100,
        clock: Callable[[], datetime] | None = None,
        validate: bool = True,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.limit_cap = limit_cap
        self.clock = clock or (lambda: datetime.now(UTC))
        self.pipelines: list[dict[str, Any]] = []
        self.opportunities: dict[str, dict[str, Any]] = {}
        self.rate_limit = 100
        self.rate_remaining = 100
        self.rate_window = 10.0
        self._window_start: float | None = None
        self._last_update = datetime(2000, 1, 1, tzinfo=UTC)
        self._rng = random.Random(0)
        self.check = SchemaCheck() if validate else None
        self._listings: dict[tuple[tuple[str, str], ...], tuple[list[dict[str, Any]], dict[str, Any]]] = {}
        """A query's matching records, in order, with its aggregates: paging through 10,000 records
        costs a page each, not a filter-and-sort of them all. Cleared by every change."""
        self.events: list[dict[str, Any]] = []
        """The Event Log, oldest first (as recorded); `GET event/` serves it latest first."""
        self.event_retention = EVENT_RETENTION
        """Events older than this (by `date_updated`, against `clock()`) are gone."""
        self._recording = True
        """False while seeding: the organization's history is older than its log."""
        self._event_rng = random.Random(1)
        self._note_rng = random.Random(2)
        self.notes: list[dict[str, Any]] = []
        """Note activities (`GET activity/note/`), served in the order they were added, not by date: the spec
        gives the list no order (a client sorts them itself)."""
        self.date = self.clock  # every answer's `Date` header, as Close's servers send it
        self._writes_init()

    # -- building the organization ------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return prefix + "".join(self._rng.choice(ALPHABET) for _ in range(22))

    def add_pipeline(self, name: str, statuses: list[tuple[str, str]]) -> dict[str, Any]:
        pipeline_id = self._id("pipe_")
        pipeline = {
            "id": pipeline_id, "name": name, "organization_id": ORG,
            "created_by": USERS[0][0], "updated_by": USERS[0][0],
            "date_created": "2024-11-04T11:04:13.014979", "date_updated": "2025-11-13T14:12:13.051542",
            "statuses": [{"id": self._id("stat_"), "label": label, "type": kind} for label, kind in statuses],
        }
        self.pipelines.append(pipeline)
        return pipeline

    def _status(self, status_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for pipeline in self.pipelines:
            for status in pipeline["statuses"]:
                if status["id"] == status_id:
                    return pipeline, status
        return None

    def _tick(self) -> datetime:
        """Now, but strictly after every earlier update."""
        now = max(self.clock(), self._last_update + timedelta(milliseconds=1))
        self._last_update = now
        return now

    def add_opportunity(
        self,
        status_id: str,
        *,
        lead_name: str,
        value: int | None = 100_000,
        value_period: str = "one_time",
        value_currency: str | None = "USD",
        confidence: int = 50,
        user: tuple[str, str] = USERS[0],
        contact_name: str | None = None,
        note: str = "",
        is_stalled: bool = False,
        created: datetime | None = None,
        updated: datetime | None = None,
        lead_id: str | None = None,
        by: tuple[str, str] | None = None,
        date_won: str | None = None,
        api: bool = False,
    ) -> dict[str, Any]:
        """An opportunity for a new lead named `lead_name` (or for the lead `lead_id`), owned by `user`, made by
        `by` (default: the owner); `api`: made through the API with this key (`POST opportunity/`)."""
        found = self._status(status_id)
        assert found is not None, f"unknown status {status_id}"
        created = created or self._tick()
        updated = updated or created
        self._last_update = max(self._last_update, updated)
        opportunity_id = self._id("oppo_")
        if lead_id is None:
            lead_id = self.add_lead(lead_name, lead_id=self._id("lead_"), when=created, user=by or user)["id"]
        record: dict[str, Any] = {
            "id": opportunity_id,
            "organization_id": ORG,
            "lead_id": lead_id,
            "lead_name": lead_name,
            "contact_id": self._id("cont_") if contact_name else None,
            "contact_name": contact_name,
            "user_id": user[0],
            "user_name": user[1],
            "created_by": (by or user)[0],
            "created_by_name": (by or user)[1],
            "updated_by": (by or user)[0],
            "updated_by_name": (by or user)[1],
            "value": value,
            "value_period": value_period,
            "value_currency": value_currency,
            "confidence": confidence,
            "note": note,
            "date_created": _stamp(created),
            "date_updated": _stamp(updated),
            "date_won": date_won,
            "date_lost": None,
            "is_stalled": is_stalled,
            "stall_status": None,
            "suggested_action": None,
            "comment_summary": None,
            "lead_primary_email": None,
            "lead_primary_phone": None,
            "attachments": [],
            "integration_links": [],
        }
        self._set_status(record, status_id, updated)
        self._derive(record)
        self.opportunities[record["id"]] = record
        self._listings.clear()
        self._event("created", record, updated, user=by or user, api=api)
        return record

    def add_note(self, lead_id: str, note: str, *, when: datetime | None = None,
                 user: tuple[str, str] = USERS[0]) -> dict[str, Any]:
        """A note activity on a lead (Close's `POST activity/note/` would make the same record)."""
        when = when or self._tick()
        record: dict[str, Any] = {
            "id": "acti_" + "".join(self._note_rng.choice(ALPHABET) for _ in range(22)),
            "_type": "Note", "organization_id": ORG, "lead_id": lead_id, "contact_id": None,
            "user_id": user[0], "user_name": user[1], "created_by": user[0], "created_by_name": user[1],
            "updated_by": user[0], "updated_by_name": user[1], "users": [],
            "date_created": _stamp(when), "date_updated": _stamp(when), "activity_at": _stamp(when),
            "note": note, "note_html": None, "title": None, "pinned": False, "attachments": [],
        }
        self.notes.append(record)
        return record

    def _note_list(self, params: httpx.QueryParams) -> dict[str, Any]:
        """`GET activity/note/`: `lead_id` (comma-separated), `_skip` / `_limit` (capped), `data` and `has_more`."""
        dates = tuple(f"date_created__{op}" for op in ("gt", "gte", "lt", "lte"))
        unknown = {k for k in params if k not in ("lead_id", "_skip", "_limit", *dates)}
        if unknown:  # (the spec's other filters are not served here; an `_order_by` is not in the spec)
            raise BadRequest(errors=[f"unsupported parameter: {sorted(unknown)[0]}"])
        leads = set(params["lead_id"].split(",")) if params.get("lead_id") else None
        found = [n for n in self.notes if (leads is None or n["lead_id"] in leads)
                 and _within(datetime.fromisoformat(n["date_created"]), params, "date_created")]
        skip, limit = _int(params, "_skip", 0), _int(params, "_limit", 100)
        page = found[skip : skip + min(limit, self.limit_cap)]
        body = {"data": [dict(n) for n in page], "has_more": skip + len(page) < len(found)}
        if self.check is not None:
            self.check.notes(body)
        return body

    def _set_status(self, record: dict[str, Any], status_id: str, when: datetime) -> None:
        self._listings.clear()
        pipeline, status = self._status(status_id)  # type: ignore[misc]
        record.update(
            status_id=status_id,
            status_label=status["label"],
            status_display_name=status["label"],
            status_type=status["type"],
            pipeline_id=pipeline["id"],
            pipeline_name=pipeline["name"],
        )
        if status["type"] == "won" and record["date_won"] is None:
            record["date_won"] = when.date().isoformat()
        if status["type"] == "lost":
            record["date_lost"] = _stamp(when)

    @staticmethod
    def _derive(record: dict[str, Any]) -> None:
        value, confidence = record["value"], record["confidence"]
        per_year = 12 if record["value_period"] == "monthly" else 1
        record["annualized_value"] = None if value is None else value * per_year
        record["expected_value"] = None if value is None else round(value * confidence / 100)
        record["annualized_expected_value"] = None if value is None else round(value * per_year * confidence / 100)
        symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(record["value_currency"] or "USD", "")
        record["value_formatted"] = None if value is None else f"{symbol}{value / 100:,.0f}"

    def seed(self, sales: int = 300, other: int = 150, seed: int = 7) -> None:
        """Two pipelines, "Sales" (7 statuses) and "Partnerships" (4), with realistic deals."""
        self._recording, recording = False, self._recording
        try:
            self._seed(sales, other, seed)
        finally:
            self._recording = recording

    def _seed(self, sales: int, other: int, seed: int) -> None:
        rng = random.Random(seed)
        self._rng = random.Random(seed + 1)
        now = self.clock()
        for name, statuses, count in (("Sales", SALES, sales), ("Partnerships", PARTNERSHIPS, other)):
            pipeline = self.add_pipeline(name, statuses)
            ids = [s["id"] for s in pipeline["statuses"]]
            weights = [max(1, len(ids) - i) for i in range(len(ids))]
            stamps = sorted(now - timedelta(days=rng.uniform(1, 240)) for _ in range(count))
            for created in stamps:
                status_id = rng.choices(ids, weights)[0]
                active = self._status(status_id)[1]["type"] == "active"  # type: ignore[index]
                period = rng.choices(["one_time", "monthly", "annual"], [6, 3, 1])[0]
                scale = {"one_time": 5_000_00, "monthly": 400_00, "annual": 12_000_00}[period]
                self.add_opportunity(
                    status_id,
                    lead_name=f"{rng.choice(COMPANIES)} {rng.choice(SUFFIXES)} {rng.randint(1, 99)}",
                    value=None if rng.random() < 0.03 else int(scale * rng.uniform(0.2, 4)) // 100 * 100,
                    value_period=period,
                    value_currency=rng.choices(["USD", "EUR", None], [8, 1, 1])[0],
                    confidence=rng.choice([10, 20, 25, 40, 50, 60, 75, 90]),
                    user=rng.choice(USERS),
                    contact_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}" if rng.random() < 0.8 else None,
                    note=rng.choice(["", "", "Wants a pilot first.", "Budget approved in Q3.", "Champion left."]),
                    is_stalled=active and rng.random() < 0.12,
                    created=created,
                    updated=created + (now - created) * rng.uniform(0, 0.9),
                )
        notes = random.Random(seed + 2)  # a generator of its own: the deals stay as they were
        for record in list(self.opportunities.values()):
            if notes.random() < 0.3:
                created = datetime.fromisoformat(record["date_created"])
                for _ in range(notes.randint(1, 4)):
                    self.add_note(record["lead_id"], notes.choice(NOTE_TEXTS), user=notes.choice(USERS),
                                  when=created + (now - created) * notes.uniform(0, 1))

    # -- what teammates and tests do ------------------------------------------------------------

    def teammate_move(self, opportunity_id: str, status_id: str) -> dict[str, Any]:
        """Someone else moves a card in Close's own UI."""
        record = self.opportunities[opportunity_id]
        before = dict(record)
        self._set_status(record, status_id, when := self._tick())
        record.update(date_updated=_stamp(when), updated_by=USERS[-1][0], updated_by_name=USERS[-1][1])
        self._listings.clear()
        self._event("updated", record, when, before=before, user=USERS[-1])
        return record

    def teammate_edit(self, opportunity_id: str, **fields: Any) -> dict[str, Any]:
        """Someone (or an integration) changes a card's fields: its name (its lead's), its note, ..."""
        record = self.opportunities[opportunity_id]
        before = dict(record)
        if "lead_name" in fields and record["lead_id"] in self.leads:
            self.leads[record["lead_id"]].update(name=fields["lead_name"], display_name=fields["lead_name"])
        record.update(fields, date_updated=_stamp(when := self._tick()), updated_by=USERS[-1][0],
                      updated_by_name=USERS[-1][1])
        self._listings.clear()
        self._event("updated", record, when, before=before, user=USERS[-1])
        return record

    def write_dated(self, opportunity_id: str, when: datetime, **fields: Any) -> dict[str, Any]:
        """An integration (or a server whose clock is wrong) writes a card with `date_updated` = `when`, whatever
        the time is: a date in the future, say. The fake's own clock (and every later change) goes on as before."""
        record = self.opportunities[opportunity_id]
        before = dict(record)
        record.update(fields, date_updated=_stamp(when), updated_by=USERS[-1][0], updated_by_name=USERS[-1][1])
        self._listings.clear()
        self._event("updated", record, when, before=before, user=USERS[-1])
        return record

    def delete_opportunity(self, opportunity_id: str, *, api: bool = False) -> None:
        """Delete a card (a teammate in Close's UI; `api`: through the API, with this key)."""
        record = self.opportunities.pop(opportunity_id)
        self._listings.clear()
        self._event("deleted", record, self._tick(), user=USERS[0] if api else USERS[-1], api=api)

    # -- the Event Log --------------------------------------------------------------------------

    def _event(
        self, action: str, record: dict[str, Any], when: datetime, *, before: dict[str, Any] | None = None,
        user: tuple[str, str] = USERS[-1], api: bool = False,
    ) -> None:
        """Log what happened to an opportunity, as Close's Event Log has it."""
        if not self._recording:
            return
        changed = sorted(k for k in record if before is not None and before.get(k) != record[k])
        stamp = _stamp(when)
        self.events.append({
            "id": "ev_" + "".join(self._event_rng.choice(ALPHABET) for _ in range(22)),
            "date_created": stamp,
            "date_updated": stamp,
            "organization_id": ORG,
            "user_id": user[0],
            "request_id": "req_" + "".join(self._event_rng.choice(ALPHABET) for _ in range(22)),
            "api_key_id": "api_fakeFakeFakeFakeFakeFak" if api else None,
            "oauth_client_id": None,
            "oauth_scope": None,
            "object_type": "opportunity",
            "object_id": record["id"],
            "lead_id": record["lead_id"],
            "action": action,
            "changed_fields": changed if action == "updated" else [],
            "previous_data": {k: before[k] for k in changed} if action == "updated" and before else {},
            "data": None if action == "deleted" else dict(record),
            "meta": {"request_method": {"created": "POST", "updated": "PUT", "deleted": "DELETE"}[action],
                     "request_path": API + ("opportunity/" if action == "created" else f"opportunity/{record['id']}/")},
            "_order": (when, len(self.events)),
        })

    def _event_list(self, params: httpx.QueryParams) -> dict[str, Any]:
        """`GET event/`: latest first, cursor paging, the documented filters."""
        if "_skip" in params:
            raise BadRequest(field_errors={"_skip": "Not supported: use _cursor."})
        given = frozenset(name for name in EVENT_FILTERS if params.get(name))
        if given not in EVENT_COMBINATIONS:
            raise BadRequest(errors=[f"Unsupported combination of filters: {', '.join(sorted(given))}."])
        limit = min(_int(params, "_limit", EVENT_LIMIT), EVENT_LIMIT) or EVENT_LIMIT
        dates = {f"date_updated__{op}": params[f"date_updated__{op}"] for op in ("gt", "gte", "lt", "lte")
                 if params.get(f"date_updated__{op}")}
        direction, position = "next", None
        if params.get("_cursor"):
            try:
                cursor = json.loads(base64.urlsafe_b64decode(params["_cursor"].encode()))
                direction, position = cursor["direction"], (datetime.fromisoformat(cursor["at"]), cursor["seq"])
                dates = {**cursor["dates"], **dates}
            except (ValueError, KeyError, TypeError):
                raise BadRequest(field_errors={"_cursor": "Invalid cursor."}) from None
        horizon = self.clock() - self.event_retention
        self.events = [e for e in self.events if e["_order"][0] >= horizon]
        bounds = httpx.QueryParams(dates)
        matching = [
            e for e in reversed(self.events)
            if all(e[name] == params[name] for name in given) and _within(e["_order"][0], bounds)
        ]
        matching.sort(key=lambda e: e["_order"], reverse=True)  # latest first
        if position is None:
            page = matching[:limit]
        elif direction == "next":
            page = [e for e in matching if e["_order"] < position][:limit]
        else:
            page = [e for e in matching if e["_order"] > position][-limit:]

        def cursor_to(event: dict[str, Any], way: str) -> str:
            at, seq = event["_order"]
            text = json.dumps({"direction": way, "at": at.isoformat(), "seq": seq, "dates": dates})
            return base64.urlsafe_b64encode(text.encode()).decode()

        older = bool(page) and any(e["_order"] < page[-1]["_order"] for e in matching)
        newer = bool(page) and any(e["_order"] > page[0]["_order"] for e in matching)
        body = {
            "data": [{k: v for k, v in e.items() if k != "_order"} for e in page],
            "cursor_next": cursor_to(page[-1], "next") if older else None,
            "cursor_previous": cursor_to(page[0], "previous") if newer else None,
        }
        if self.check is not None:
            self.check.events(body)
        return body

    # -- the HTTP side ------------------------------------------------------------------------

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not path.startswith(API):
            return _answer(404, {"error": "Not found."})
        resource = path[len(API) :]
        if (injected := self.injected(request, resource)) is not None:
            return injected
        if not self._authorized(request.headers.get("authorization", "")):
            return _answer(401, {"error": "The API key is invalid or was not supplied."})
        limit_header = self._spend()
        if limit_header is None:
            reset = self._reset_left()
            header = f"limit={self.rate_limit}, remaining=0, reset={reset:.1f}"
            return _answer(429, {"error": "Too many requests."},
                           {"RateLimit": header, "Retry-After": str(math.ceil(reset))})
        try:
            status, body = self._route(request, resource)
        except BadRequest as exc:
            status, body = 400, {"errors": exc.errors, "field-errors": exc.field_errors}
        return _answer(status, body, {"RateLimit": limit_header})

    def _authorized(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.api_key and password == ""

    def _reset_left(self) -> float:
        assert self._window_start is not None
        return max(0.1, self.rate_window - (time.monotonic() - self._window_start))

    def _spend(self) -> str | None:
        """Count one request against the window; the RateLimit header, or None when used up."""
        now = time.monotonic()
        if self._window_start is None or now - self._window_start >= self.rate_window:
            if self._window_start is not None:
                self.rate_remaining = self.rate_limit
            self._window_start = now
        if self.rate_remaining <= 0:
            return None
        self.rate_remaining -= 1
        return f"limit={self.rate_limit}, remaining={self.rate_remaining}, reset={self._reset_left():.1f}"

    def _route(self, request: httpx.Request, resource: str) -> tuple[int, Any]:
        method, params = request.method, request.url.params
        if (answer := self._write_route(request, resource)) is not None:
            return answer
        if resource == "me/" and method == "GET":
            return 200, {"id": USERS[0][0], "first_name": "Ada", "last_name": "Park", "organization_id": ORG,
                         "organizations": [{"id": ORG, "name": "Fake Co"}]}
        if resource == "pipeline/" and method == "GET":
            return 200, {"data": self.pipelines, "has_more": False}
        if resource == "status/opportunity/" and method == "GET":
            statuses = [dict(s, pipeline_id=p["id"], organization_id=ORG)
                        for p in self.pipelines for s in p["statuses"]]
            return 200, {"data": statuses, "has_more": False}
        if resource == "opportunity/" and method == "GET":
            return 200, self._list(params)
        if resource == "event/" and method == "GET":
            return 200, self._event_list(params)
        if resource == "activity/note/" and method == "GET":
            return 200, self._note_list(params)
        match = re.fullmatch(r"opportunity/([A-Za-z0-9_]+)/", resource)
        if match is None:
            return 404, {"error": "Not found."}
        record = self.opportunities.get(match[1])
        if record is None:
            return 404, {"error": "Opportunity not found."}
        if method == "GET":
            return 200, self._shown(record, _fields(params))
        if method == "PUT":
            return 200, self._update(record, request)
        if method == "DELETE":
            self.delete_opportunity(record["id"], api=True)
            return 200, {}
        return 405, {"error": "Method not allowed."}

    def _list(self, params: httpx.QueryParams) -> dict[str, Any]:
        if (group_by := params.get("_group_by")) is not None:
            return self._grouped(params, group_by)
        order = params.get("_order_by", "-date_created")
        key = order.lstrip("-")
        if key not in ORDERABLE:
            raise BadRequest(field_errors={"_order_by": f"Cannot order by {key}."})
        query = tuple(sorted((k, v) for k, v in params.multi_items() if k not in ("_skip", "_limit", "_fields")))
        if (listing := self._listings.get(query)) is None:
            records = [r for r in self.opportunities.values() if _matches(r, params)]
            records.sort(key=lambda r: (r[key] is None, r[key] or 0, r["id"]), reverse=order.startswith("-"))
            listing = self._listings[query] = (records, _aggregates(records))
        records, aggregates = listing
        skip, limit = _int(params, "_skip", 0), _int(params, "_limit", 100)
        page = records[skip : skip + min(limit, self.limit_cap)]
        fields = _fields(params)
        return {
            "data": [self._shown(r, fields) for r in page],
            "has_more": skip + len(page) < len(records),
            **aggregates,
        }

    def _grouped(self, params: httpx.QueryParams, group_by: str) -> dict[str, Any]:
        """`_group_by=date_won__week` (`-` first: the latest week first): `data` is a list of groups, each with
        its `key`, `weekyear` and `week` (ISO), the `objects` of this page, and `total_results` and the value
        aggregates of the whole group; paging (`_skip` / `_limit`) applies to the objects, not the groups.
        Deals without a won date make the last group (key null). The other documented groupings are a 400 here."""
        if group_by.lstrip("-") != "date_won__week":
            raise BadRequest(field_errors={"_group_by": "This fake groups by date_won__week only."})

        def week(record: dict[str, Any]) -> tuple[int, int] | None:
            won = record["date_won"]
            return date.fromisoformat(won).isocalendar()[:2] if won else None

        records = [r for r in self.opportunities.values() if _matches(r, params)]
        latest_first = group_by.startswith("-")
        records.sort(key=lambda r: (week(r) is None,
                                    (lambda w: (-w[0], -w[1]) if latest_first else w)(week(r) or (0, 0)),
                                    r["date_won"] or "", r["id"]))
        skip, limit = _int(params, "_skip", 0), _int(params, "_limit", 100)
        page = records[skip : skip + min(limit, self.limit_cap)]
        fields = _fields(params)
        groups: list[dict[str, Any]] = []
        for record in page:
            key = week(record)
            if not groups or groups[-1]["_week"] != key:
                members = [r for r in records if week(r) == key]
                groups.append({
                    "_week": key, "key": None if key is None else f"{key[0]}-{key[1]:02d}",
                    "weekyear": None if key is None else key[0], "week": None if key is None else key[1],
                    "objects": [], **_aggregates(members),
                })
            groups[-1]["objects"].append(self._shown(record, fields))
        for group in groups:
            del group["_week"]
        return {"data": groups, "has_more": skip + len(page) < len(records), **_aggregates(records)}

    def _shown(self, record: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
        shown = dict(record) if fields is None else {k: record[k] for k in fields if k in record}
        if self.check is not None:
            self.check(shown, fields)
        return shown


def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers or {})


def _int(params: httpx.QueryParams, name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(field_errors={name: "A valid integer is required."}) from None
    if value < 0:
        raise BadRequest(field_errors={name: "Must be zero or more."})
    return value


def _aggregates(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The totals Close sends along with a list of opportunities."""
    body: dict[str, Any] = {
        "total_results": len(records),
        "count_by_value_period": {p: sum(r["value_period"] == p for r in records)
                                  for p in ("one_time", "monthly", "annual")},
    }
    for kind, field_name in (("value", "value"), ("expected_value", "expected_value")):
        for period in ("one_time", "monthly", "annual"):
            body[f"total_{kind}_{period}" if kind == "value" else f"{kind}_{period}"] = sum(
                r[field_name] or 0 for r in records if r["value_period"] == period
            )
    body["total_value_annualized"] = sum(r["annualized_value"] or 0 for r in records)
    body["expected_value_annualized"] = sum(r["annualized_expected_value"] or 0 for r in records)
    return body


def _fields(params: httpx.QueryParams) -> tuple[str, ...] | None:
    text = params.get("_fields")
    return tuple(sorted(set(text.split(",")))) if text else None


def _when(params: httpx.QueryParams, name: str) -> datetime:
    text = params[name].replace(" ", "+")  # a "+" that was not percent-encoded
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(field_errors={name: "Enter a valid date/time."}) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _within(value: datetime, params: httpx.QueryParams, name: str = "date_updated") -> bool:
    """`value` passes the `name__gt|gte|lt|lte` filters in `params`."""
    for op in ("gt", "gte", "lt", "lte"):
        if f"{name}__{op}" in params:
            limit = _when(params, f"{name}__{op}")
            if not {"gt": value > limit, "gte": value >= limit, "lt": value < limit, "lte": value <= limit}[op]:
                return False
    return True


def _matches(record: dict[str, Any], params: httpx.QueryParams) -> bool:
    for name in ("status_id", "status_type", "user_id", "pipeline_id", "lead_id"):
        if name in params and record[name] != params[name]:
            return False
        if f"{name}__in" in params and record[name] not in params[f"{name}__in"].split(","):
            return False
    for op in ("gt", "gte", "lt", "lte"):  # `date_won` is a date (null until won: no match)
        if f"date_won__{op}" in params:
            won, limit = record["date_won"], params[f"date_won__{op}"][:10]
            if won is None or not {"gt": won > limit, "gte": won >= limit, "lt": won < limit, "lte": won <= limit}[op]:
                return False
    for name in DATE_FILTERS:
        asked = [op for op in ("gt", "gte", "lt", "lte") if f"{name}__{op}" in params]
        if not asked:
            continue
        value = datetime.fromisoformat(record[name])
        for op in asked:
            bound = _when(params, f"{name}__{op}")
            if not {"gt": value > bound, "gte": value >= bound, "lt": value < bound, "lte": value <= bound}[op]:
                return False
    return True


HELP = """commands:
  list [N]                      the first N cards (id, pipeline, status, name)
  move ID|first STATUS_LABEL    move a card as a teammate would (first = first card of Sales)
  add STATUS_LABEL NAME          add an opportunity to a status (of the first pipeline that has it)
  delete ID                     delete an opportunity
  rename ID|first TEXT          set a card's lead name (backslash escapes: \\x1b is ESC), as an integration might
  fail METHOD PATH STATUS [N]   the next N requests matching answer STATUS (e.g. fail PUT opportunity/ 500)
  drop METHOD PATH [N]          the next N matching requests drop the connection
  lose METHOD PATH [N]          the next N matching requests are carried out, their answer lost
  slowdown METHOD PATH date|seconds|reset N   the next matching request gets a 429 asking to wait N s
  rate REMAINING                set what is left of the rate-limit window (0 = 429s until it resets)
  show ID                       a card's editable fields as Close has them (value, currency, period, date_won, owner)
  notes ID                      the notes of a card's lead (or of a lead id), oldest first
  leads [WORDS]                 the newest leads whose name has every word, with how many deals each has
  users                         the organization's users (owners a deal can be given to)
  help"""


def command(fake: FakeClose, line: str) -> str:
    """One stdin command; what to print back."""
    words = line.split()
    if not words:
        return ""
    verb, args = words[0], words[1:]
    try:
        if verb == "list":
            cards = list(fake.opportunities.values())[: int(args[0]) if args else 10]
            return "\n".join(f"{c['id']}  {c['pipeline_name']:<12} {c['status_label']:<12} {c['lead_name']}"
                             for c in cards)
        if verb == "move":
            target = " ".join(args[1:])
            sales_ids = {s["id"] for s in fake.pipelines[0]["statuses"]}
            card = args[0] if args[0] != "first" else next(
                i for i, c in fake.opportunities.items() if c["status_id"] in sales_ids)
            status = next(s for p in fake.pipelines for s in p["statuses"] if s["label"].lower() == target.lower())
            record = fake.teammate_move(card, status["id"])
            return f"moved {card} ({record['lead_name']}) to {status['label']}"
        if verb == "rename":
            import re

            sales_ids = {s["id"] for s in fake.pipelines[0]["statuses"]}
            card = args[0] if args[0] != "first" else next(
                i for i, c in fake.opportunities.items() if c["status_id"] in sales_ids)
            name = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m[1], 16)), line.split(None, 2)[2].rstrip("\n"))
            fake.teammate_edit(card, lead_name=name)
            return f"renamed {card} to {name!r}"
        if verb == "add":
            status = next(s for p in fake.pipelines for s in p["statuses"] if s["label"].lower() == args[0].lower())
            record = fake.add_opportunity(status["id"], lead_name=" ".join(args[1:]) or "New deal")
            return f"added {record['id']} ({record['lead_name']}) to {status['label']}"
        if verb == "delete":
            fake.delete_opportunity(args[0])
            return f"deleted {args[0]}"
        if (reply := failure_command(fake, words)) is not None:
            return reply
        if (reply := fake.console(verb, args)) is not None:
            return reply
        if verb == "rate":
            fake.rate_remaining = int(args[0])
            return f"rate remaining {fake.rate_remaining}"
    except (IndexError, KeyError, ValueError, StopIteration) as exc:
        return f"cannot: {exc!r}\n{HELP}"
    return HELP


class Contract(OpportunityContractFake):
    """The fake Close for tests/test_contract.py: two pipelines, Sales first (150 deals, two pages)."""

    unknown_id = "oppo_" + "0" * 22

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.fake = FakeClose("test-close-key")
        self.fake.seed(sales=150, other=30)

    def settings(self) -> dict[str, Any]:
        return {"base_url": "https://api.close.com/api/v1/"}

    def environ(self, *, key_ok: bool = True) -> dict[str, str]:
        return {"CLOSE_API_KEY": self.fake.api_key if key_ok else "api_wrong"}


def main(argv: list[str] | None = None) -> None:
    parser = loopback_parser("A fake Close API server on loopback, for trying kanban-tui.", 8765)
    parser.add_argument("--key", default="test-close-key", help="the API key it accepts")
    parser.add_argument("--sales", type=int, default=300, help="opportunities in the Sales pipeline")
    parser.add_argument("--other", type=int, default=150, help="opportunities in the Partnerships pipeline")
    parser.add_argument("--limit-cap", type=int, default=100, help="most records per page")
    parser.add_argument("--rate-limit", type=int, default=100, help="requests per 10 s window")
    parser.add_argument("--no-validate", action="store_true", help="skip the schema check (benchmarks)")
    args = parser.parse_args(argv)
    fake = FakeClose(args.key, limit_cap=args.limit_cap, validate=not args.no_validate)
    fake.rate_limit = fake.rate_remaining = args.rate_limit
    fake.seed(sales=args.sales, other=args.other)
    run_on_loopback(
        fake, args.host, args.port, f"fake Close on http://{args.host}:{args.port}{API} (key {args.key!r}); type help",
        lambda line: command(fake, line), quiet=args.quiet, latency_ms=args.latency,
    )


if __name__ == "__main__":
    main()
