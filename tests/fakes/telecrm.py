"""A stateful fake TeleCRM Sync API: lead-stage-pipeline, lead search, get lead, lead update.

    python -m tests.fakes.telecrm --port 8767 --size 150

then `TELECRM_TOKEN=test-telecrm-token TELECRM_ENTERPRISE_ID=ent_demo kanban-tui --backend
telecrm --base-url http://127.0.0.1:8767/autoupdate/v2/`. stdin: `move`, `fail`, `list`, `help`.

As documented: Bearer Sync token (else 401 NOT_AUTHORIZED), unknown enterprise 404
ENTERPRISE_NOT_FOUND, search `skip`/`limit` (1..100 else 400), `total_count`, statuses set by
label (case-sensitive) and **unknown labels dropped silently**, the identifier field (phone)
not modifiable (403 INVALID_LEAD). `lead_ids=False` answers search results without lead ids
(one reading of the docs). The update changes only the fields supplied: the standard ones (`name`,
`email`, `rating` 1-5, `assignee`, `status`) and the lost reason; an invalid typed value (a `name` that is
not a non-empty string, a `rating` outside 1-5) is a 400 BAD_REQUEST, as the update page says; a field the
workspace does not have is dropped, silently, like an unknown label.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import httpx

from kanban_tui.backends.telecrm import LOST_REASON_FIELD

from .base import (
    FakeServer,
    HttpContractFake,
    failure_command,
    loopback_parser,
    run_on_loopback,
)

API = "/autoupdate/v2/"
STAGES = [
    {"stageid": "stage_open_1", "stageType": "OPEN", "visibility": True,
     "activeStatuses": [{"statusid": 1, "label": "Fresh", "color": "#FF5733"},
                        {"statusid": 2, "label": "Contacted", "color": "#3498DB"},
                        {"statusid": 3, "label": "Interested", "color": "#9B59B6"}],
     "archivedStatuses": [{"statusid": 4, "label": "Old Follow-up", "color": "#AAAAAA"},
                          {"statusid": 5, "label": "Never Used", "color": "#BBBBBB"}]},
    {"stageid": "stage_lost_1", "stageType": "LOST", "visibility": True,
     "activeStatuses": [{"statusid": 20, "label": "Lost", "color": "#DC3545"}], "archivedStatuses": []},
    {"stageid": "stage_won_1", "stageType": "WON", "visibility": True,
     "activeStatuses": [{"statusid": 10, "label": "Won", "color": "#28A745"}], "archivedStatuses": []},
]
REASONS = [{"reasonid": 1, "reasonLabel": "Price too high", "isDefault": False},
           {"reasonid": 2, "reasonLabel": "No response", "isDefault": True},
           {"reasonid": 3, "reasonLabel": "Chose a competitor", "isDefault": False}]
NAMES = ["Asha Rao", "Vikram Shah", "Meera Iyer", "Rohan Das", "Kavya Nair", "Arjun Mehta", "Isha Kapoor"]


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


class FakeTeleCrm(FakeServer):
    """One TeleCRM enterprise in memory."""

    default_error = {"error": {"code": "INTERNAL", "message": "Failure."}}

    def __init__(self, token: str = "test-telecrm-token", enterprise_id: str = "ent_demo", *,
                 lead_ids: bool = True) -> None:
        super().__init__()
        self.token, self.enterprise_id, self.lead_ids = token, enterprise_id, lead_ids
        self.leads: dict[str, dict[str, Any]] = {}
        self.stages = json.loads(json.dumps(STAGES))

    def seed(self, size: int = 150, seed: int = 3, archived: int = 2) -> None:
        rng = random.Random(seed)
        labels = ["Fresh", "Contacted", "Interested", "Won", "Lost"]
        for n in range(size):
            status = "Old Follow-up" if n < archived else rng.choices(labels, [30, 25, 15, 8, 10])[0]
            lead_id = f"{rng.getrandbits(96):024x}"
            self.leads[lead_id] = {
                "name": f"{rng.choice(NAMES)} {n}", "phone": f"+9198{n:08d}", "email": f"lead{n}@example.in",
                "status": status, "assignee": rng.choice(["priya@example.in", "arun@example.in"]),
                "rating": rng.randint(1, 5), "created_on": f"0{rng.randint(1, 9)}/06/2026 10:30:00",
            }

    @property
    def active_labels(self) -> set[str]:
        return {s["label"] for stage in self.stages for s in stage["activeStatuses"]}

    def teammate_move(self, lead_id: str, label: str) -> None:
        self.leads[lead_id]["status"] = label

    def delete_lead(self, lead_id: str) -> None:
        del self.leads[lead_id]

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not path.startswith(API):
            return _error(404, "NOT_FOUND", "Not found")
        resource = path[len(API):]
        if (injected := self.injected(request, resource)) is not None:
            return injected
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "NOT_AUTHORIZED", "A valid Sync API token is required")
        match = re.fullmatch(r"enterprise/([^/]+)/(.*)", resource)
        if match is None:
            return _error(404, "NOT_FOUND", "Not found")
        if match[1] != self.enterprise_id:
            return _error(404, "ENTERPRISE_NOT_FOUND", f"Enterprise {match[1]} not found")
        rest, method = match[2], request.method
        if rest == "lead-stage-pipeline" and method == "GET":
            return httpx.Response(200, json={"leadStages": self.stages, "activeLeadLostReasons": REASONS,
                                             "archivedLeadLostReasons": [], "version": 3})
        if rest == "lead/search" and method == "POST":
            return self._search(request)
        lead = re.fullmatch(r"lead/([0-9a-f]+)", rest)
        if lead and method == "POST":
            return self._update(lead[1], request)
        if lead and method == "GET":
            found = self.leads.get(lead[1])
            return httpx.Response(200, json={"fields": found}) if found else _error(404, "LEAD_NOT_FOUND", "No lead")
        return _error(404, "NOT_FOUND", "Not found")

    def _search(self, request: httpx.Request) -> httpx.Response:
        try:
            skip = int(request.url.params.get("skip", "0"))
            limit = int(request.url.params.get("limit", "10"))
            body = json.loads(request.content or b"{}")
        except ValueError:
            return _error(400, "BAD_REQUEST", "Invalid request")
        if not 1 <= limit <= 100:
            return _error(400, "BAD_REQUEST", "Limit should be between 1 and 100")
        wanted = (body.get("fields") or {}).get("status")
        leads = [(i, f) for i, f in self.leads.items() if not wanted or f["status"] in wanted]
        leads.reverse()  # newest first by creation
        page = leads[skip: skip + limit]
        data = [({"id": i} if self.lead_ids else {}) | {"fields": f} for i, f in page]
        return httpx.Response(200, json={"data": data, "total_count": len(leads)})

    def _update(self, lead_id: str, request: httpx.Request) -> httpx.Response:
        lead = self.leads.get(lead_id)
        if lead is None:
            return _error(404, "LEAD_NOT_FOUND", f"Lead {lead_id} not found")
        try:
            fields = json.loads(request.content or b"{}").get("fields") or {}
        except (ValueError, AttributeError):
            return _error(400, "BAD_REQUEST", "Invalid JSON")
        if not isinstance(fields, dict):
            return _error(400, "BAD_REQUEST", "fields must be an object")
        if "phone" in fields:
            return _error(403, "INVALID_LEAD", "Cannot modify lead identifier field")
        for key in ("name", "email", "assignee"):
            if key in fields and not (isinstance(fields[key], str) and fields[key].strip()):
                return _error(400, "BAD_REQUEST", f"Invalid value for field {key}")
        if "rating" in fields and fields["rating"] not in (1, 2, 3, 4, 5):
            return _error(400, "BAD_REQUEST", "Invalid value for field rating")
        for key in ("name", "email", "assignee", "rating"):
            if key in fields:
                lead[key] = fields[key]
        if "status" in fields and fields["status"] in self.active_labels:
            lead["status"] = fields["status"]  # an unknown label is dropped, silently, as TeleCRM does
        if LOST_REASON_FIELD in fields:
            lead[LOST_REASON_FIELD] = fields[LOST_REASON_FIELD]
        return httpx.Response(200, json={"fields": lead})


class Contract(HttpContractFake):
    """The fake TeleCRM for tests/test_contract.py: 150 leads (two pages of search)."""

    unknown_id = "0" * 24
    fake: FakeTeleCrm

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.fake = FakeTeleCrm("test-telecrm-token", "ent_demo")
        self.fake.seed(150)

    def settings(self) -> dict[str, Any]:
        return {"base_url": "https://next.telecrm.in/autoupdate/v2/"}

    def environ(self, *, key_ok: bool = True) -> dict[str, str]:
        return {"TELECRM_TOKEN": self.fake.token if key_ok else "async-token",
                "TELECRM_ENTERPRISE_ID": self.fake.enterprise_id}

    def teammate_move(self, card_id: str, status_id: str) -> None:
        self.fake.teammate_move(card_id, status_id)  # a status id is its label

    def delete(self, card_id: str) -> None:
        self.fake.delete_lead(card_id)

    def status_of(self, card_id: str) -> str | None:
        lead = self.fake.leads.get(card_id)
        return None if lead is None else lead["status"]


def command(fake: FakeTeleCrm, line: str) -> str:
    words = line.split()
    if not words:
        return ""
    try:
        if words[0] == "list":
            return "\n".join(f"{i}  {f['status']:<12} {f['name']}" for i, f in list(fake.leads.items())[-10:])
        if words[0] == "move":
            lead = words[1] if words[1] != "first" else next(reversed(list(fake.leads)))
            fake.teammate_move(lead, " ".join(words[2:]))
            return f"moved {lead} to {' '.join(words[2:])}"
        if (reply := failure_command(fake, words)) is not None:
            return reply
    except (IndexError, KeyError, ValueError, StopIteration) as exc:
        return f"cannot: {exc!r}"
    return "commands: list | move ID|first LABEL | fail METHOD PATH STATUS [N] | drop METHOD PATH [N]"


def main(argv: list[str] | None = None) -> None:
    parser = loopback_parser("A fake TeleCRM Sync API on loopback, for trying kanban-tui.", 8767)
    parser.add_argument("--size", type=int, default=150)
    parser.add_argument("--no-lead-ids", action="store_true", help="search results without lead ids")
    args = parser.parse_args(argv)
    fake = FakeTeleCrm(lead_ids=not args.no_lead_ids)
    fake.seed(args.size)
    run_on_loopback(fake, args.host, args.port,
                    f"fake TeleCRM on http://{args.host}:{args.port}{API} (token test-telecrm-token, "
                    "enterprise ent_demo); type help", lambda line: command(fake, line), quiet=args.quiet,
                    latency_ms=args.latency)


if __name__ == "__main__":
    main()
