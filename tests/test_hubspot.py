"""The HubSpot backend against the fake HubSpot (tests/fakes/hubspot.py): no network, no real waits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from kanban_tui.backends.errors import RateLimitedError, RefusedError
from kanban_tui.backends.hubspot import SEARCH_CAP, HubSpotBackend
from kanban_tui.models import Pipeline, StatusKind

from .fakes.base import no_wait
from .fakes.extract_hubspot_schema import FILES, REFERENCE, SCHEMA_FILE, extract
from .fakes.hubspot import FakeHubSpot


class VirtualTime:
    """One clock for the backend's waits and the fake's rate windows: a sleep moves it on."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        self.slept += max(0.0, seconds)


def backend_for(fake: FakeHubSpot, **options: Any) -> HubSpotBackend:
    options.setdefault("sleep", no_wait)
    return HubSpotBackend(fake.token, portal_id="1234567", transport=httpx.MockTransport(fake.handler), **options)


async def sales(backend: HubSpotBackend) -> Pipeline:
    return next(p for p in await backend.list_pipelines() if p.id == "default")


async def load(backend: HubSpotBackend, pipeline: Pipeline) -> dict[str, Any]:
    return {o.id: o for page in [p async for p in backend.load_opportunities(pipeline)] for o in page.opportunities}


def search_bodies(fake: FakeHubSpot) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in fake.requests if r.url.path.endswith("/search")]


async def test_a_12000_deal_pipeline_loads_whole_under_the_10000_results_cap() -> None:
    fake = FakeHubSpot(validate=False)
    fake.seed(12_000, 30)
    backend = backend_for(fake)
    pipeline = await sales(backend)
    pages = [p async for p in backend.load_opportunities(pipeline)]
    cards = {o.id for p in pages for o in p.opportunities}
    wanted = {d["id"] for d in fake.deals.values() if d["properties"]["pipeline"] == "default"}
    assert len(wanted) == 12_000 and cards == wanted, "every deal, once"
    assert pages[-1].loaded == pages[-1].total == 12_000 and not any(p.skipped for p in pages)
    bodies = search_bodies(fake)
    assert all(b["limit"] <= 200 and int(b["after"]) < SEARCH_CAP for b in bodies)
    assert any(f["propertyName"] == "hs_object_id" and f["operator"] == "GT"
               for b in bodies for f in b["filterGroups"][0]["filters"]), "a second query, from the last id"
    await backend.aclose()


async def test_the_fake_holds_to_the_cap_and_the_200_limit() -> None:
    fake = FakeHubSpot(validate=False)
    fake.seed(10_500, 0)
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler), base_url="https://api.hubapi.com",
                               headers={"Authorization": f"Bearer {fake.token}"})
    query = {"filterGroups": [], "properties": ["dealname"], "sorts": ["hs_object_id"]}
    page = await client.post("/crm/v3/objects/deals/search", json={**query, "after": "9900", "limit": 200})
    assert page.status_code == 200 and len(page.json()["results"]) == 100, "nothing past the 10,000th"
    assert page.json()["total"] == 10_500 and page.json()["paging"]["next"]["after"] == "10100"
    beyond = await client.post("/crm/v3/objects/deals/search", json={**query, "after": "10000", "limit": 10})
    too_many = await client.post("/crm/v3/objects/deals/search", json={**query, "after": "0", "limit": 201})
    unsorted = await client.post("/crm/v3/objects/deals/search", json={"after": "0", "limit": 10})
    assert (beyond.status_code, too_many.status_code, unsorted.status_code) == (400, 400, 400)
    assert unsorted.json()["category"] == "VALIDATION_ERROR"
    await client.aclose()


async def test_a_load_respects_the_search_rate_limit_without_a_429() -> None:
    time = VirtualTime()
    fake = FakeHubSpot(rate_limits=True, rate_clock=time.clock, validate=False)
    fake.seed(2_000, 0)
    backend = backend_for(fake, sleep=time.sleep, clock=time.clock)
    cards = await load(backend, await sales(backend))
    assert len(cards) == 2_000 and fake.rate_limited == 0 and fake.searches >= 10
    assert time.slept >= (fake.searches - 1) * 0.2, "searches spaced to 5 a second"
    await backend.aclose()


async def test_a_429_with_hubspots_body_is_waited_out_by_its_policy() -> None:
    time = VirtualTime()
    fake = FakeHubSpot(validate=False)
    fake.seed(20, 0)
    backend = backend_for(fake, sleep=time.sleep, clock=time.clock)
    pipeline = await sales(backend)
    fake.fail_next("POST", "/search", 429, json={"status": "error", "message": "You have reached your secondly limit.",
                                                 "errorType": "RATE_LIMIT", "policyName": "SECONDLY",
                                                 "correlationId": "x"})
    before = time.slept
    assert len(await load(backend, pipeline)) == 20
    assert time.slept - before >= 1.0, "the SECONDLY policy's second"
    fake.fail_next("GET", "pipelines", 429, json={"status": "error", "message": "You have reached your daily limit.",
                                                  "errorType": "RATE_LIMIT", "policyName": "DAILY"})
    with pytest.raises(RateLimitedError) as caught:
        await backend.list_pipelines()
    assert "daily limit" in str(caught.value) and (caught.value.retry_after or 0) >= 60
    assert backend.rate_wait_left() > 60, "held back: not asked again at once"
    await backend.aclose()


async def test_the_ten_secondly_headers_pace_requests() -> None:
    time = VirtualTime()
    fake = FakeHubSpot(rate_limits=True, rate_clock=time.clock, validate=False)
    fake.seed(5, 0)
    backend = backend_for(fake, sleep=time.sleep, clock=time.clock)
    for _ in range(150):
        await backend.list_pipelines()
    assert fake.rate_limited == 0 and time.slept > 0, "paced by X-HubSpot-RateLimit-Remaining"
    await backend.aclose()


async def test_polls_bring_a_teammates_move_a_new_deal_a_deletion_and_a_deal_leaving_the_pipeline() -> None:
    fake = FakeHubSpot()
    fake.seed(300, 10)
    backend = backend_for(fake)
    pipeline = await sales(backend)
    cursor = (await backend.changes_since(pipeline, None)).cursor
    cards = await load(backend, pipeline)
    ids = sorted(cards)
    fake.teammate_move(ids[0], "closedwon")
    fake.archive(ids[1])
    renewals = fake.pipelines[1]
    fake.teammate_move(ids[2], renewals["stages"][0]["id"])
    added = fake.add_deal("default", "qualifiedtobuy", "Brand new")
    changes = await backend.changes_since(pipeline, cursor)
    assert {o.id: o.status_id for o in changes.upserted} == {ids[0]: "closedwon", added["id"]: "qualifiedtobuy"}
    assert changes.removed == sorted([ids[1], ids[2]])
    again = await backend.changes_since(pipeline, changes.cursor)
    assert again.empty, "each change once"
    await backend.aclose()


async def test_moves_on_to_won_and_lost_and_hubspot_has_them() -> None:
    fake = FakeHubSpot()
    fake.seed(40, 0)
    backend = backend_for(fake)
    pipeline = await sales(backend)
    card = next(c for c in (await load(backend, pipeline)).values() if c.status_id == "appointmentscheduled")
    won, lost = pipeline.status("closedwon"), pipeline.status("closedlost")
    assert won is not None and won.kind is StatusKind.WON and lost is not None and lost.kind is StatusKind.LOST
    moved = await backend.move(card, pipeline.statuses[1])
    assert moved.status_id == "qualifiedtobuy" and moved.confidence == 40
    moved = await backend.move(moved, won)
    deal = fake.deals[card.id]["properties"]
    assert deal["dealstage"] == "closedwon" and deal["pipeline"] == "default" and deal["closedate"]
    assert moved.date_won is not None and moved.confidence == 100
    moved = await backend.move(moved, lost, lost_reason="Went with a competitor")
    assert fake.deals[card.id]["properties"]["closed_lost_reason"] == "Went with a competitor"
    assert moved.status_id == "closedlost" and "Went with a competitor" in moved.note
    patch = json.loads(next(r for r in reversed(fake.requests) if r.method == "PATCH").content)
    assert patch == {"properties": {"dealstage": "closedlost", "pipeline": "default",
                                    "closed_lost_reason": "Went with a competitor"}}
    assert moved.url == f"https://app.hubspot.com/contacts/1234567/record/0-3/{card.id}"
    fake.pipelines[0]["stages"].pop(1)  # the stage is gone in HubSpot meanwhile
    with pytest.raises(RefusedError, match="dealstage"):
        await backend.move(moved, pipeline.statuses[1])
    await backend.aclose()


async def test_a_warm_start_reports_what_changed_while_closed_in_two_searches_when_nothing_did() -> None:
    fake = FakeHubSpot()
    fake.seed(120, 0)
    first = backend_for(fake)
    pipeline = await sales(first)
    cursor = (await first.changes_since(pipeline, None)).cursor
    cards = list((await load(first, pipeline)).values())
    await first.aclose()
    saved_at = datetime.now(UTC)
    fake.requests.clear()
    second = backend_for(fake)
    quiet = await second.resume(await sales(second), cards, cursor, saved_at)
    assert quiet is not None and quiet.empty
    assert len(search_bodies(fake)) == 2
    fake.teammate_move(cards[0].id, "contractsent")
    fake.archive(cards[1].id)
    third = backend_for(fake)
    changes = await third.resume(await sales(third), cards, quiet.cursor, saved_at)
    assert changes is not None
    assert [(o.id, o.status_id) for o in changes.upserted] == [(cards[0].id, "contractsent")]
    assert changes.removed == [cards[1].id]
    assert await third.resume(pipeline, cards, "not a time", saved_at) is None
    ahead = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    assert await third.resume(pipeline, cards, ahead, saved_at) is None
    await second.aclose()
    await third.aclose()


async def test_an_unreadable_deal_is_skipped_and_said_and_hostile_text_is_made_safe() -> None:
    fake = FakeHubSpot()
    fake.seed(30, 0)
    ids = sorted(fake.deals, key=int)
    fake.deals[ids[0]]["properties"]["amount"] = "a lot"
    fake.deals[ids[1]]["properties"]["dealname"] = "Evil \x1b]52;c;cm0gLXJmIH4=\x07 \u202eCorp"
    backend = backend_for(fake)
    pipeline = await sales(backend)
    pages = [p async for p in backend.load_opportunities(pipeline)]
    cards = {o.id: o for p in pages for o in p.opportunities}
    assert len(cards) == 29 and ids[0] not in cards
    assert any(ids[0] in line and "amount" in line for p in pages for line in p.skipped)
    assert "\x1b" not in cards[ids[1]].name and "\u202e" not in cards[ids[1]].name and "␛" in cards[ids[1]].name
    await backend.aclose()


async def test_the_token_goes_in_a_header_never_the_query_string() -> None:
    fake = FakeHubSpot()
    fake.seed(10, 0)
    backend = backend_for(fake)
    await load(backend, await sales(backend))
    assert fake.requests and all(fake.token not in str(r.url) for r in fake.requests)
    assert all(r.headers["authorization"] == f"Bearer {fake.token}" for r in fake.requests)
    await backend.aclose()


def test_the_committed_schemas_are_the_descriptions_when_at_hand() -> None:
    if not all((REFERENCE / f).exists() for f in FILES.values()):
        pytest.skip("the HubSpot descriptions are not beside this checkout")
    assert json.loads(SCHEMA_FILE.read_text()) == json.loads(json.dumps(extract(REFERENCE))), \
        "run python -m tests.fakes.extract_hubspot_schema"


def test_the_schema_file_is_committed() -> None:
    assert Path(SCHEMA_FILE).exists()
