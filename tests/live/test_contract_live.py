"""The contract suite of tests/test_contract.py, run against the real BottleCRM instead of its fake:
the fake cannot drift from the server without one of the two runs failing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kanban_tui.backends import registry

from ..fakes.base import ContractFake
from ..fakes.bottlecrm import field_in
from ..test_contract import (  # noqa: F401 - collected here, against the live server
    Crm,
    build,
    test_a_load_reaches_its_total_with_every_card_in_the_pipeline,
    test_a_move_of_a_card_deleted_in_the_crm_raises_not_found,
    test_a_move_returns_the_card_in_its_new_status_and_the_fake_has_it,
    test_a_rejected_key_raises_auth_error,
    test_a_teammates_change_appears_in_the_next_poll,
    test_changes_since_none_gives_a_cursor_and_no_changes,
    test_fetch_one_does_not_disturb_what_the_next_poll_reports,
    test_fetch_one_reads_the_card_as_the_fake_has_it,
    test_pipelines_are_listed_with_their_statuses_in_order,
)
from .conftest import Server


class LiveContract(ContractFake):
    """The contract's view of the real server: what a teammate does goes through the API with the
    teammate's token; what the CRM holds is read back through it."""

    def __init__(self, tmp_path: Path, server: Server) -> None:
        super().__init__(tmp_path)
        self.server = server
        self.unknown_id = str(uuid.uuid4())

    def settings(self) -> dict[str, Any]:
        return {}

    def environ(self, *, key_ok: bool = True) -> dict[str, str]:
        return {"BOTTLECRM_URL": self.server.url,
                "BOTTLECRM_TOKEN": self.server.token if key_ok else "bcrm_pat_" + uuid.uuid4().hex}

    def teammate_move(self, card_id: str, status_id: str) -> None:
        self.server.call("PATCH", f"/api/opportunities/{card_id}/move/", {"column_id": status_id})

    def delete(self, card_id: str) -> None:
        self.server.call("DELETE", f"/api/opportunities/{card_id}/")

    def status_of(self, card_id: str) -> str | None:
        answer = self.server.call("GET", f"/api/opportunities/{card_id}/", token=self.server.token,
                                  expect=(200, 404))
        record = answer.get("opportunity_obj") if isinstance(answer, dict) else None
        return record["stage"] if record else None

    # -- what the write contract reads back (issue 23), as tests/fakes/bottlecrm.py's Contract does ------------

    def _detail(self, card_id: str) -> dict[str, Any]:
        return self.server.call("GET", f"/api/opportunities/{card_id}/", token=self.server.token)

    def field_of(self, card_id: str, name: str) -> object:
        return field_in(self._detail(card_id)["opportunity_obj"], name)

    def note_texts(self, card_id: str) -> list[str]:
        comments = sorted(self._detail(card_id)["comments"], key=lambda c: c["commented_on"], reverse=True)
        return [c["comment"] for c in comments]

    def named(self, name: str) -> list[str]:
        found = self.server.client(self.server.token).get("/api/opportunities/", params={"name": name, "limit": 100})
        return sorted(o["id"] for o in found.json()["opportunities"] if o["name"] == name)


@pytest.fixture
async def crm(server: Server, tmp_path: Path) -> AsyncIterator[Crm]:
    spec = registry.get("bottlecrm")
    fake = LiveContract(tmp_path, server)
    backend = build(spec, fake)
    yield Crm(spec.name, spec, fake, backend)
    await backend.aclose()
