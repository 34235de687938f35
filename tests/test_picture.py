"""The pipeline picture (`P`): deals and value per status from the board, won and lost per week from the CRM."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from kanban_tui.backends.close import CloseBackend
from kanban_tui.backends.demo_data import DEMO_PIPELINE
from kanban_tui.backends.local import LocalBackend
from kanban_tui.models import StatusKind
from kanban_tui.screens.board import BoardScreen
from kanban_tui.screens.picture import PipelinePicture, StatusBars, main_currency

from .fakes.close import FakeClose
from .fakes.clustr import FakeClustr
from .helpers import MakeApp, screen_text, settle, status_in

CLOSE = "https://api.close.com/api/v1/"


async def test_p_shows_every_status_with_its_count_and_value_and_the_weekly_chart(backend: LocalBackend,
                                                                                  make_app: MakeApp) -> None:
    app = make_app(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        board = app.session.board
        assert board is not None
        await pilot.press("P")
        await settle(pilot)
        picture = app.screen
        assert isinstance(picture, PipelinePicture)
        text = screen_text(app)
        lines = text.splitlines()
        summaries = [board.summary(s.id) for s in DEMO_PIPELINE.statuses]
        currency = main_currency(summaries)
        assert currency is not None and f"value in {currency}" in text
        for status, summary in zip(DEMO_PIPELINE.statuses, summaries, strict=True):
            glyph = {StatusKind.WON: "✓ ", StatusKind.LOST: "✗ "}.get(status.kind, "")
            row = next(line for line in lines if line.startswith(f" {glyph}{status.label} "))
            value = StatusBars.value_text(summary, currency)
            assert f" {summary.count} " in row and row.rstrip().endswith(value), row
        assert f"{sum(s.count for s in summaries)} deals" in text
        # the weekly chart, with the totals the workspace gives
        weeks = await backend.won_lost_by_week(DEMO_PIPELINE, 12)
        won, lost = sum(w.won for w in weeks), sum(w.lost or 0 for w in weeks)
        assert f"{won} won, {lost} lost" in text
        assert f"✓ won per week ({won})" in text and f"✗ lost per week ({lost})" in text
        assert "-11w" in text and "now" in text and "lost status" in text  # how lost deals are dated, said
        assert picture.query_one("#picture-weeks").display
        assert "esc Close" in text  # the picture's own footer
        for key in ("escape", "q", "P"):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, BoardScreen), key
            if key != "P":
                await pilot.press("P")
                await settle(pilot)
                assert isinstance(app.screen, PipelinePicture)


async def test_a_crm_that_cannot_group_them_says_so(make_app: MakeApp) -> None:
    from kanban_tui.backends.clustr import ClustrBackend

    async def no_wait(_: float) -> None:
        return None

    fake = FakeClustr("test-clustr-key")
    fake.seed(40)
    backend = ClustrBackend("test-clustr-key", base_url="https://api.clustr-ai.com/api/public/",
                            transport=httpx.MockTransport(fake.handler), sleep=no_wait)
    app = make_app(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        text = screen_text(app)
        assert "Won and lost per week: Clustr cannot group them" in text
        assert "40 deals" in text and "value in" not in text  # Clustr has no deal values: counts only
        assert not app.screen.query_one("#picture-weeks").display


def close_backend(fake: FakeClose, now: datetime) -> CloseBackend:
    return CloseBackend("k", base_url=CLOSE, transport=httpx.MockTransport(fake.handler), now=lambda: now)


@pytest.mark.parametrize("limit_cap", [100, 3], ids=["one-page", "paged"])
async def test_close_groups_won_deals_by_week_and_dates_lost_ones(limit_cap: int) -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday
    fake = FakeClose("k", limit_cap=limit_cap, clock=lambda: now)
    fake.seed(sales=200, other=30)
    backend = close_backend(fake, now)
    sales = (await backend.list_pipelines())[0]
    weeks = await backend.won_lost_by_week(sales, 12)
    first = now.astimezone().date() - timedelta(days=now.astimezone().weekday(), weeks=11)
    assert [w.week for w in weeks] == [first + timedelta(weeks=n) for n in range(12)]
    grouped = [r for r in fake.requests if r.url.params.get("_group_by")]
    assert grouped and {r.url.params["_group_by"] for r in grouped} == {"date_won__week"}
    won_ids = {s.id for s in sales.statuses if s.kind is StatusKind.WON}
    assert set(grouped[0].url.params["status_id__in"].split(",")) == won_ids
    assert grouped[0].url.params["date_won__gte"] == first.isoformat()

    def monday(day: date) -> date:
        return day - timedelta(days=day.weekday())

    records = [r for r in fake.opportunities.values() if r["pipeline_id"] == sales.id]
    won = [monday(date.fromisoformat(r["date_won"])) for r in records
           if r["status_type"] == "won" and r["date_won"] and date.fromisoformat(r["date_won"]) >= first]
    lost = [monday(datetime.fromisoformat(r["date_lost"]).astimezone().date()) for r in records
            if r["status_type"] == "lost" and datetime.fromisoformat(r["date_lost"]).astimezone().date() >= first]
    assert won and lost
    assert [w.won for w in weeks] == [won.count(w.week) for w in weeks]
    assert [w.lost for w in weeks] == [lost.count(w.week) for w in weeks]
    if limit_cap == 3:
        assert len(grouped) > 1, "paged by objects: a group's total read from whichever page holds it"


async def test_the_local_workspace_counts_a_move_into_won_and_lost_this_week(workspace: Path) -> None:
    backend = LocalBackend(workspace)
    before = await backend.won_lost_by_week(DEMO_PIPELINE, 12)
    pages = [page async for page in backend.load_opportunities(DEMO_PIPELINE)]
    open_cards = [o for p in pages for o in p.opportunities
                  if status_in(DEMO_PIPELINE, o.status_id).kind is StatusKind.OPEN]
    await backend.move(open_cards[0], status_in(DEMO_PIPELINE, "st_won"))
    await backend.move(open_cards[1], status_in(DEMO_PIPELINE, "st_lost"))
    after = await backend.won_lost_by_week(DEMO_PIPELINE, 12)
    assert len(after) == 12 and after[-1].week == date.today() - timedelta(days=date.today().weekday())
    assert (after[-1].won, after[-1].lost) == (before[-1].won + 1, (before[-1].lost or 0) + 1)
    assert after[:-1] == before[:-1]
