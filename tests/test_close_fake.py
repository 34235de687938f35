"""The fake Close server itself: it must behave like Close, or the contract tests prove nothing."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from .fakes.close import SCHEMA_FILE, FakeClose, SchemaCheck, command
from .fakes.extract_close_schema import (
    NOTE_LIST,
    NOTE_LIST_SCHEMA_FILE,
    SPEC,
    WRITE_SCHEMAS_FILE,
    extract,
    write_schemas,
)

KEY = "test-close-key"
AUTH = httpx.BasicAuth(KEY, "")

pytestmark = pytest.mark.fake_seed(sales=260, other=40)


@pytest.fixture
def client(fake_close: FakeClose) -> httpx.Client:
    return httpx.Client(
        base_url="https://api.close.com/api/v1/", auth=AUTH, transport=httpx.MockTransport(fake_close.handler)
    )


def test_the_committed_schema_is_the_spec_s_opportunity() -> None:
    if not SPEC.exists():
        pytest.skip(f"the OpenAPI spec is not at {SPEC} (only in the developers' checkout)")
    assert json.loads(SCHEMA_FILE.read_text()) == json.loads(json.dumps(extract(SPEC.read_text())))
    assert json.loads(NOTE_LIST_SCHEMA_FILE.read_text()) == json.loads(json.dumps(extract(SPEC.read_text(), NOTE_LIST)))
    assert json.loads(WRITE_SCHEMAS_FILE.read_text()) == json.loads(json.dumps(write_schemas(SPEC.read_text())))


def test_the_fakes_notes_are_the_spec_s_note_list(fake_close: FakeClose) -> None:
    """`GET activity/note/` answers as the spec's `activities.notes_list_Response_200` says (checked by the fake)."""
    assert fake_close.check is not None
    lead = fake_close.notes[0]["lead_id"]
    body = fake_close._note_list(httpx.QueryParams({"lead_id": lead, "_limit": "1"}))
    assert body["data"][0]["lead_id"] == lead and set(body) == {"data", "has_more"}
    with pytest.raises(AssertionError, match="invalid note list"):
        fake_close.check.notes({"data": [{"id": "acti_x"}], "has_more": False})


def test_the_schema_check_catches_what_close_would_never_send(fake_close: FakeClose) -> None:
    check = SchemaCheck()
    record = dict(next(iter(fake_close.opportunities.values())))
    check(record, None)
    for broken in ({"date_won": "2026-01-02T10:00:00+00:00"}, {"value_period": "weekly"}, {"confidence": "high"}):
        with pytest.raises(AssertionError):
            check(dict(record, **broken), None)
    del record["organization_id"]
    with pytest.raises(AssertionError, match="organization_id"):
        check(record, None)
    check({"id": "oppo_1", "status_id": "stat_1"}, ("id", "status_id"))


def test_every_page_is_capped_and_says_whether_there_is_more(client: httpx.Client, fake_close: FakeClose) -> None:
    seen, skip = [], 0
    while True:
        body = client.get("opportunity/", params={"_skip": skip, "_limit": 250, "_order_by": "date_created"}).json()
        assert len(body["data"]) <= 100 and body["total_results"] == 300
        seen += [r["id"] for r in body["data"]]
        skip += len(body["data"])
        if not body["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 300
    created = [fake_close.opportunities[i]["date_created"] for i in seen]
    assert created == sorted(created)


def test_filters_fields_and_aggregates(client: httpx.Client, fake_close: FakeClose) -> None:
    sales = fake_close.pipelines[0]
    won = next(s["id"] for s in sales["statuses"] if s["type"] == "won")
    body = client.get("opportunity/", params={"status_id__in": won, "_fields": "id,status_id,value"}).json()
    expected = [r for r in fake_close.opportunities.values() if r["status_id"] == won]
    assert body["total_results"] == len(expected) > 0
    assert all(set(r) == {"id", "status_id", "value"} and r["status_id"] == won for r in body["data"])
    assert body["total_value_one_time"] == sum(r["value"] or 0 for r in expected if r["value_period"] == "one_time")
    assert sum(body["count_by_value_period"].values()) == len(expected)


def test_date_updated_filters_and_strictly_growing_updates(client: httpx.Client, fake_close: FakeClose) -> None:
    newest = client.get("opportunity/", params={"_order_by": "-date_updated", "_limit": 1}).json()["data"][0]
    since = newest["date_updated"]
    assert client.get("opportunity/", params={"date_updated__gt": since}).json()["data"] == []
    ids = list(fake_close.opportunities)[:3]
    stamps = [fake_close.teammate_move(i, fake_close.pipelines[0]["statuses"][1]["id"])["date_updated"] for i in ids]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3 and stamps[0] > since
    body = client.get("opportunity/", params={"date_updated__gt": since, "_order_by": "date_updated"}).json()
    assert [r["id"] for r in body["data"]] == ids


def test_put_moves_and_sets_the_status_fields(client: httpx.Client, fake_close: FakeClose) -> None:
    sales, other = fake_close.pipelines
    card = next(r for r in fake_close.opportunities.values() if r["status_type"] == "active" and r["date_won"] is None)
    won = next(s for s in other["statuses"] if s["type"] == "won")
    before = card["date_updated"]
    answer = client.put(f"opportunity/{card['id']}/", json={"status_id": won["id"]})
    assert answer.status_code == 200
    body = answer.json()
    assert body["status_label"] == won["label"] and body["status_type"] == "won"
    assert (
        body["pipeline_name"] == other["name"]
        and body["date_won"] == datetime.fromisoformat(body["date_updated"]).date().isoformat()
    )
    assert body["date_updated"] > before


def test_errors_as_close_sends_them(client: httpx.Client, fake_close: FakeClose) -> None:
    card = next(iter(fake_close.opportunities))
    bad = client.put(f"opportunity/{card}/", json={"status_id": "stat_nope"})
    assert bad.status_code == 400 and bad.json() == {"errors": [], "field-errors": {"status_id": "Status not found."}}
    assert client.put("opportunity/oppo_nope/", json={}).status_code == 404
    assert client.get("opportunity/", params={"_limit": "many"}).status_code == 400
    wrong = httpx.Client(
        base_url="https://api.close.com/api/v1/",
        auth=httpx.BasicAuth("nope", ""),
        transport=httpx.MockTransport(fake_close.handler),
    )
    assert wrong.get("me/").status_code == 401
    assert client.delete(f"opportunity/{card}/").json() == {} and card not in fake_close.opportunities


def test_the_rate_limit_header_counts_down_to_a_429(client: httpx.Client, fake_close: FakeClose) -> None:
    fake_close.rate_limit = fake_close.rate_remaining = 3
    headers = [client.get("me/").headers["ratelimit"] for _ in range(3)]
    assert [h.split(",")[1].strip() for h in headers] == ["remaining=2", "remaining=1", "remaining=0"]
    limited = client.get("me/")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "remaining=0" in limited.headers["ratelimit"]


def test_failures_on_demand_match_method_and_path(client: httpx.Client, fake_close: FakeClose) -> None:
    fake_close.fail_next("PUT", "opportunity/", 503, times=2)
    card = next(iter(fake_close.opportunities))
    assert client.get("opportunity/", params={"_limit": 1}).status_code == 200
    assert [client.put(f"opportunity/{card}/", json={}).status_code for _ in range(3)] == [503, 503, 200]
    fake_close.fail_next("GET", "pipeline/", 0, exc=httpx.ReadTimeout("slow"))
    with pytest.raises(httpx.ReadTimeout):
        client.get("pipeline/")


def test_a_lost_answer_is_carried_out_first_and_a_slowdown_names_its_wait(
    client: httpx.Client, fake_close: FakeClose
) -> None:
    sales = fake_close.pipelines[0]
    card = next(i for i, r in fake_close.opportunities.items() if r["status_id"] != sales["statuses"][2]["id"])
    assert command(fake_close, "lose PUT opportunity/").startswith("next 1 PUT opportunity/ carried out")
    with pytest.raises(httpx.ReadTimeout):
        client.put(f"opportunity/{card}/", json={"status_id": sales["statuses"][2]["id"]})
    assert fake_close.opportunities[card]["status_id"] == sales["statuses"][2]["id"], "applied, though nobody heard"
    assert client.put(f"opportunity/{card}/", json={"status_id": sales["statuses"][1]["id"]}).status_code == 200
    command(fake_close, "slowdown GET opportunity/ date 120")
    limited = client.get("opportunity/")
    assert limited.status_code == 429 and limited.headers["retry-after"].endswith("GMT")
    command(fake_close, "slowdown GET opportunity/ reset 3600")
    assert "reset=3600" in client.get("opportunity/").headers["ratelimit"]


def test_served_on_loopback_with_stdin_commands(fake_close: FakeClose) -> None:
    server = fake_close.serve("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/api/v1/"
        with httpx.Client(base_url=base, auth=AUTH) as loopback:
            assert [p["name"] for p in loopback.get("pipeline/").json()["data"]] == ["Sales", "Partnerships"]
            assert "moved" in command(fake_close, "move first Won")
            body = loopback.get(
                "opportunity/", params={"status_type": "won", "_order_by": "-date_updated", "_limit": 1}
            )
            assert body.json()["data"][0]["updated_by_name"] == "Edu Ramos"
            assert "drops the connection" in command(fake_close, "drop GET me/")
            with pytest.raises(httpx.TransportError):
                loopback.get("me/")
    finally:
        server.shutdown()
        server.server_close()


def test_a_listing_paged_through_shows_every_change_made_since(client: httpx.Client, fake_close: FakeClose) -> None:
    sales = next(p for p in fake_close.pipelines if p["name"] == "Sales")
    won = next(s["id"] for s in sales["statuses"] if s["type"] == "won")
    query = {"status_id": won, "_order_by": "date_created", "_fields": "id", "_limit": 100}

    def won_ids() -> set[str]:
        return {r["id"] for r in client.get("opportunity/", params=query).json()["data"]}

    before = won_ids()
    card = next(i for i, o in fake_close.opportunities.items() if o["pipeline_id"] == sales["id"] and i not in before)
    fake_close.teammate_move(card, won)
    assert won_ids() == before | {card}, "a teammate's move"
    other = next(iter(before))
    first = sales["statuses"][0]["id"]
    assert client.put(f"opportunity/{other}/", json={"status_id": first}).status_code == 200
    assert won_ids() == before - {other} | {card}, "a move through the API"
    assert client.delete(f"opportunity/{card}/").status_code == 200
    assert won_ids() == before - {other}, "a deletion"
    added = fake_close.add_opportunity(won, lead_name="New Co")
    assert added["id"] in won_ids(), "a new opportunity"


# -- the Event Log --------------------------------------------------------------------------


def events(client: httpx.Client, **params: str | int) -> dict:
    answer = client.get("event/", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_event_log_records_what_changed_after_seeding_latest_first(
    client: httpx.Client, fake_close: FakeClose
) -> None:
    assert events(client) == {"data": [], "cursor_next": None, "cursor_previous": None}, "seeding leaves no events"
    sales = fake_close.pipelines[0]
    first, second, third = list(fake_close.opportunities)[:3]
    fake_close.teammate_move(first, sales["statuses"][2]["id"])
    assert client.put(f"opportunity/{second}/", json={"confidence": 99}).status_code == 200
    added = fake_close.add_opportunity(sales["statuses"][0]["id"], lead_name="New Co")["id"]
    assert client.delete(f"opportunity/{third}/").status_code == 200
    assert "moved" in command(fake_close, "move first Won") and "deleted" in command(fake_close, f"delete {first}")
    assert "added" in command(fake_close, "add Lead Console Co")
    body = events(client)
    got = [(e["action"], e["object_id"]) for e in body["data"]]
    moved_by_console = got[2][1]
    assert got[:2] == [("created", got[0][1]), ("deleted", first)]
    assert got[2:] == [
        ("updated", moved_by_console),
        ("deleted", third),
        ("created", added),
        ("updated", second),
        ("updated", first),
    ]
    stamps = [e["date_updated"] for e in body["data"]]
    assert stamps == sorted(stamps, reverse=True)
    put = next(e for e in body["data"] if e["object_id"] == second)
    assert "confidence" in put["changed_fields"] and put["previous_data"]["confidence"] != 99
    assert put["data"]["confidence"] == 99 and put["api_key_id"] is not None
    move = body["data"][-1]
    assert "status_id" in move["changed_fields"] and move["data"]["status_id"] == sales["statuses"][2]["id"]
    assert all(e["data"] is None for e in body["data"] if e["action"] == "deleted")


def test_event_filters_and_the_documented_combinations(client: httpx.Client, fake_close: FakeClose) -> None:
    ids = list(fake_close.opportunities)[:4]
    for opportunity_id in ids[:2]:
        fake_close.delete_opportunity(opportunity_id)
    middle = datetime.fromisoformat(fake_close.events[-1]["date_updated"])
    for opportunity_id in ids[2:]:
        fake_close.teammate_edit(opportunity_id, note="later")
        fake_close.delete_opportunity(opportunity_id)
    deleted = events(client, object_type="opportunity", action="deleted")["data"]
    assert [e["object_id"] for e in deleted] == ids[::-1]
    after = events(client, object_type="opportunity", action="deleted", date_updated__gte=middle.isoformat())["data"]
    assert [e["object_id"] for e in after] == [ids[3], ids[2], ids[1]]
    before = events(client, object_type="opportunity", action="deleted", date_updated__lte=middle.isoformat())["data"]
    assert [e["object_id"] for e in before] == [ids[1], ids[0]]
    assert [e["action"] for e in events(client, object_type="opportunity", object_id=ids[2])["data"]] == [
        "deleted",
        "updated",
    ]
    assert events(client, object_type="lead", action="deleted")["data"] == []
    alone = client.get("event/", params={"object_type": "opportunity"})
    assert alone.status_code == 400, "object_type alone is not a supported combination"
    assert client.get("event/", params={"_skip": 10}).status_code == 400, "no _skip: cursors only"


def test_event_cursors_page_latest_first_and_limit_is_capped_at_50(client: httpx.Client, fake_close: FakeClose) -> None:
    doomed = list(fake_close.opportunities)[:120]
    for opportunity_id in doomed:
        fake_close.delete_opportunity(opportunity_id)
    params = {"object_type": "opportunity", "action": "deleted"}
    first = events(client, **params, _limit=200)
    assert len(first["data"]) == 50 and first["cursor_previous"] is None
    assert len(events(client, **params)["data"]) == 50, "50 by default"
    seen, body = [], first
    while True:
        seen += [e["object_id"] for e in body["data"]]
        if body["cursor_next"] is None:
            break
        body = events(client, **params, _cursor=body["cursor_next"], _limit=200)
    assert seen == doomed[::-1]
    assert len(body["data"]) == 20 and body["cursor_previous"] is not None
    back = events(client, **params, _cursor=body["cursor_previous"])
    assert [e["object_id"] for e in back["data"]] == seen[50:100], "the page before, still latest first"
    fresh = events(client, **params, date_updated__gte=fake_close.events[-30]["date_updated"], _limit=20)
    tail = events(client, **params, _cursor=fresh["cursor_next"])
    assert len(fresh["data"]) + len(tail["data"]) == 30 and tail["cursor_next"] is None, "the cursor keeps the dates"
    assert client.get("event/", params={**params, "_cursor": "garbage"}).status_code == 400


def test_events_older_than_the_retention_are_gone(fake_close: FakeClose) -> None:
    now = [datetime.now(UTC)]
    server = FakeClose(KEY, clock=lambda: now[0])
    server.seed(sales=30, other=5)
    client = httpx.Client(
        base_url="https://api.close.com/api/v1/", auth=AUTH, transport=httpx.MockTransport(server.handler)
    )
    old, recent = list(server.opportunities)[:2]
    server.delete_opportunity(old)
    now[0] += timedelta(days=20)
    server.delete_opportunity(recent)
    params = {"object_type": "opportunity", "action": "deleted"}
    assert [e["object_id"] for e in events(client, **params)["data"]] == [recent, old]
    now[0] += timedelta(days=11)
    assert [e["object_id"] for e in events(client, **params)["data"]] == [recent], "30 days by default"
    server.event_retention = timedelta(days=5)
    assert events(client, **params)["data"] == []


def test_the_event_check_catches_what_close_would_never_send(client: httpx.Client, fake_close: FakeClose) -> None:
    fake_close.teammate_move(next(iter(fake_close.opportunities)), fake_close.pipelines[0]["statuses"][1]["id"])
    body = events(client)
    check = SchemaCheck()
    check.events(body)
    event = body["data"][0]
    broken = [
        dict(event, id="event_1"),
        {k: v for k, v in event.items() if k != "object_id"},
        dict(event, data=dict(event["data"], value_period="weekly")),
        dict(event, changed_fields="status_id"),
    ]
    for bad in broken:
        with pytest.raises(AssertionError):
            check.events(dict(body, data=[bad]))
    with pytest.raises(AssertionError):
        check.events({"data": [], "cursor_next": None})


def test_the_list_aggregates_are_as_the_spec_defines_them(client: httpx.Client, fake_close: FakeClose) -> None:
    sales = fake_close.pipelines[0]
    status = sales["statuses"][0]["id"]
    body = client.get("opportunity/", params={"status_id": status, "_limit": 5}).json()
    records = [r for r in fake_close.opportunities.values() if r["status_id"] == status]
    per_year = {"one_time": 1, "monthly": 12, "annual": 1}
    assert body["total_results"] == len(records) > 5
    for period in per_year:
        of = [r for r in records if r["value_period"] == period]
        assert body["count_by_value_period"][period] == len(of)
        assert body[f"total_value_{period}"] == sum(r["value"] or 0 for r in of)
        assert body[f"expected_value_{period}"] == sum(round((r["value"] or 0) * r["confidence"] / 100) for r in of)
    assert body["total_value_annualized"] == sum((r["value"] or 0) * per_year[r["value_period"]] for r in records)
    assert body["expected_value_annualized"] == sum(
        round((r["value"] or 0) * per_year[r["value_period"]] * r["confidence"] / 100) for r in records
    )
