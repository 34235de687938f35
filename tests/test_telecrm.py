"""TeleCRM: contract tests against the fake TeleCRM, and the board on TeleCRM leads."""

from __future__ import annotations

import json

import httpx
import pytest

from kanban_tui.backends.errors import AuthError, NotFoundError, RefusedError
from kanban_tui.backends.telecrm import LOST_REASON_FIELD, NO_ID, TeleCrmBackend
from kanban_tui.models import StatusKind
from kanban_tui.screens.board import BoardScreen
from kanban_tui.screens.picker import LostReasonPicker

from .fakes.telecrm import FakeTeleCrm
from .helpers import MakeApp, focused_card, notices, screen_text, settle

TOKEN, ENTERPRISE = "test-telecrm-token", "ent_demo"
BASE = "https://next.telecrm.in/autoupdate/v2/"


async def no_wait(_: float) -> None:
    return None


def make(fake_telecrm: FakeTeleCrm, token: str = TOKEN, enterprise: str = ENTERPRISE) -> TeleCrmBackend:
    return TeleCrmBackend(token, enterprise, base_url=BASE, transport=httpx.MockTransport(fake_telecrm.handler),
                          sleep=no_wait)


async def cards_of(backend: TeleCrmBackend):
    [pipeline] = await backend.list_pipelines()
    pages = [p async for p in backend.load_opportunities(pipeline)]
    return pipeline, pages, {o.id: o for p in pages for o in p.opportunities}


async def test_columns_open_then_won_then_lost_and_an_archived_one_only_if_leads_sit_in_it(
    fake_telecrm: FakeTeleCrm,
) -> None:
    [pipeline] = await make(fake_telecrm).list_pipelines()
    assert [s.label for s in pipeline.statuses] == [
        "Fresh", "Contacted", "Interested", "Won", "Lost", "Old Follow-up (archived)"
    ], "the fake lists LOST before WON; 'Never Used' is archived and empty"
    assert [s.kind for s in pipeline.statuses][3:5] == [StatusKind.WON, StatusKind.LOST]
    assert pipeline.statuses[0].color == "#FF5733" and not pipeline.statuses[-1].can_move_to
    assert pipeline.lost_reasons[0] == "No response", "the default reason first"
    assert fake_telecrm.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_leads_are_searched_in_pages_of_at_most_100(fake_telecrm: FakeTeleCrm) -> None:
    _, pages, cards = await cards_of(make(fake_telecrm))
    assert [p.loaded for p in pages] == [100, 200, 230] and set(cards) == set(fake_telecrm.leads)
    searches = [r for r in fake_telecrm.requests
                if r.url.path.endswith("lead/search") and r.url.params["limit"] == "100"]
    assert [r.url.params["skip"] for r in searches] == ["0", "100", "200"]


async def test_a_move_sends_the_label_and_a_lost_reason_and_a_dropped_label_is_a_failed_move(
    fake_telecrm: FakeTeleCrm,
) -> None:
    backend = make(fake_telecrm)
    pipeline, _, cards = await cards_of(backend)
    card = next(c for c in cards.values() if c.status_id == "Fresh")
    lost = next(s for s in pipeline.statuses if s.label == "Lost")
    moved = await backend.move(card, lost, lost_reason="Price too high")
    sent = fake_telecrm.requests[-1]
    assert sent.method == "POST" and sent.url.path.endswith(f"/enterprise/{ENTERPRISE}/lead/{card.id}")
    assert json.loads(sent.content) == {"fields": {"status": "Lost", LOST_REASON_FIELD: "Price too high"}}
    assert moved.status_id == "Lost" and fake_telecrm.leads[card.id]["status"] == "Lost"
    fake_telecrm.stages[0]["activeStatuses"][1]["label"] = "Reached"  # renamed in TeleCRM meanwhile
    contacted = next(s for s in pipeline.statuses if s.label == "Contacted")
    with pytest.raises(RefusedError, match="did not take the status 'Contacted'"):
        await backend.move(moved, contacted)
    assert fake_telecrm.leads[card.id]["status"] == "Lost"


async def test_a_poll_rescans_and_reports_only_what_changed(fake_telecrm: FakeTeleCrm) -> None:
    backend = make(fake_telecrm)
    pipeline, _, cards = await cards_of(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    assert (await backend.changes_since(pipeline, cursor)).empty
    some = next(iter(cards))
    fake_telecrm.teammate_move(some, "Won")
    gone = list(cards)[5]
    del fake_telecrm.leads[gone]
    changes = await backend.changes_since(pipeline, cursor)
    assert [(o.id, o.status_id) for o in changes.upserted] == [(some, "Won")] and changes.removed == [gone]


async def test_errors_name_the_enterprise_and_the_token_kind(fake_telecrm: FakeTeleCrm) -> None:
    with pytest.raises(NotFoundError, match="TeleCRM 404: no enterprise 'ent_nope' - check TELECRM_ENTERPRISE_ID"):
        await make(fake_telecrm, enterprise="ent_nope").list_pipelines()
    with pytest.raises(AuthError, match="TeleCRM 401: TeleCRM refused the token: a Sync API token is needed"):
        await make(fake_telecrm, token="async-token").list_pipelines()
    backend = make(fake_telecrm)
    _, _, cards = await cards_of(backend)
    [pipeline] = await backend.list_pipelines()
    fake_telecrm.fail_next("POST", "lead/", 403, json={"error": {"code": "INVALID_LEAD",
                                                         "message": "Cannot modify lead identifier field"}})
    with pytest.raises(RefusedError, match="TeleCRM 403: INVALID_LEAD: Cannot modify lead identifier field"):
        await backend.move(next(iter(cards.values())), pipeline.statuses[1])


async def test_leads_without_an_id_are_shown_read_only_and_never_moved() -> None:
    fake_telecrm = FakeTeleCrm(TOKEN, ENTERPRISE, lead_ids=False)
    fake_telecrm.seed(20)
    backend = make(fake_telecrm)
    pipeline, _, cards = await cards_of(backend)
    assert len(cards) == 20 and all(c.read_only == NO_ID for c in cards.values())
    with pytest.raises(RefusedError):
        await backend.move(next(iter(cards.values())), pipeline.statuses[1])
    assert not [r for r in fake_telecrm.requests if not r.url.path.endswith(("lead/search", "lead-stage-pipeline"))]


def test_missing_token_or_enterprise_exit_2(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from kanban_tui.cli import main

    monkeypatch.delenv("TELECRM_TOKEN", raising=False)
    monkeypatch.delenv("TELECRM_ENTERPRISE_ID", raising=False)
    assert main(["--backend", "telecrm"]) == 2
    assert "TELECRM_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("TELECRM_TOKEN", "x")
    assert main(["--backend", "telecrm"]) == 2
    assert "TELECRM_ENTERPRISE_ID" in capsys.readouterr().err


async def test_the_board_on_telecrm_asks_a_lost_reason_and_polls(fake_telecrm: FakeTeleCrm, make_app: MakeApp) -> None:
    app = make_app(make(fake_telecrm))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BoardScreen) and "230 deals" in screen_text(app)
        cards_area = "\n".join(screen_text(app).splitlines()[5:30])
        assert "+9198" in cards_area and " now" not in cards_area, "contact shown, no made-up age"
        await pilot.press("enter")
        await pilot.pause()
        assert "not reported by the CRM" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        header = screen_text(app).splitlines()[1]
        assert "(archived) 2" in header, "the name gives way, never (archived) or the count"
        assert screen.columns[-1].status.label == "Old Follow-up (archived)"
        card = focused_card(screen)
        await pilot.press("m")
        await pilot.press("l", "o", "s", "t", "enter")
        await settle(pilot)
        assert isinstance(app.screen, LostReasonPicker), "moving to a LOST status asks why"
        await pilot.press("enter")  # the default reason, preselected
        await settle(pilot)
        lead = fake_telecrm.leads[card]
        assert lead["status"] == "Lost" and lead[LOST_REASON_FIELD] == "No response"
        archived = next(i for i, c in enumerate(screen.columns) if not c.status.can_move_to)
        screen.activate(archived - 1)
        screen.columns[archived - 1].cards.set_cursor(0)
        before = focused_card(screen)
        await pilot.press("shift+right")  # the archived column is skipped: nothing to its right
        await settle(pilot)
        assert screen.session.board.shown_status(before) == "Lost"
        assert any("No status that way" in n for n in notices(app)), "archived: not a target"
        other = next(i for i, f in fake_telecrm.leads.items() if f["status"] == "Fresh" and i != card)
        fake_telecrm.teammate_move(other, "Won")
        await pilot.press("r")
        await settle(pilot)
        assert screen.session.board.shown_status(other) == "Won"
        fake_telecrm.stages[0]["activeStatuses"][1]["label"] = "Reached"
        screen.activate(0)
        screen.columns[0].cards.set_cursor(0)
        refused = focused_card(screen)
        await pilot.press("shift+right")
        await settle(pilot)
        assert screen.session.board.shown_status(refused) == "Fresh"
        assert any("did not take the status" in n for n in notices(app))


async def test_searches_are_sent_as_repeatable_reads_and_a_move_is_not(fake_telecrm: FakeTeleCrm) -> None:
    backend = make(fake_telecrm)
    sent: list[tuple[str, str, bool | None]] = []
    request = backend.api.request

    async def recording(method: str, path: str, **kwargs):
        sent.append((method, path.rsplit("/", 1)[-1], kwargs.get("idempotent")))
        return await request(method, path, **kwargs)

    backend.api.request = recording  # type: ignore[method-assign]
    pipeline, _, cards = await cards_of(backend)  # _count (the archived column) and the scan
    await backend.changes_since(pipeline, "x")
    await backend.move(next(iter(cards.values())), pipeline.statuses[1])
    searches = [idempotent for method, what, idempotent in sent if what == "search"]
    assert searches and all(idempotent is True for idempotent in searches)
    [(method, _, idempotent)] = [s for s in sent if s[0] == "POST" and s[1] != "search"]
    assert idempotent is False


async def test_fetch_one_is_one_get_of_the_lead(fake_telecrm: FakeTeleCrm) -> None:
    backend = make(fake_telecrm)
    pipeline, _, cards = await cards_of(backend)
    some = next(iter(cards))
    fake_telecrm.teammate_move(some, "Won")
    start = len(fake_telecrm.requests)
    found = await backend.fetch_one(pipeline, some)
    assert found is not None and found.id == some and found.status_id == "Won"
    [get] = fake_telecrm.requests[start:]
    assert get.method == "GET" and get.url.path.endswith(f"/enterprise/{ENTERPRISE}/lead/{some}")
    fake_telecrm.delete_lead(some)
    assert await backend.fetch_one(pipeline, some) is None
    changes = await backend.changes_since(pipeline, "x")
    assert changes.removed == [some] and [o.id for o in changes.upserted] == [], "fetch_one left what is held"


async def test_a_lead_without_an_id_is_fetched_by_a_scan_that_leaves_what_is_held() -> None:
    fake_telecrm = FakeTeleCrm(TOKEN, ENTERPRISE, lead_ids=False)
    fake_telecrm.seed(150)
    backend = make(fake_telecrm)
    pipeline, _, cards = await cards_of(backend)
    card = next(iter(cards.values()))
    found = await backend.fetch_one(pipeline, card.id)
    assert found is not None and found.id == card.id
    assert not [r for r in fake_telecrm.requests if r.method == "GET" and "/lead/" in r.url.path]
    assert (await backend.changes_since(pipeline, "x")).empty
