from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from kanban_tui.models import Opportunity, Period, Pipeline, Status, StatusKind
from kanban_tui.money import (
    format_compact,
    format_money,
    format_totals,
    sum_by_currency,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_pipeline_orders_statuses_by_position_with_gaps() -> None:
    pipeline = Pipeline(
        id="p",
        name="P",
        statuses=(
            Status(id="c", label="C", position=5),
            Status(id="a", label="A", position=0),
            Status(id="b", label="B", position=3),
        ),
    )
    assert [s.id for s in pipeline.statuses] == ["a", "b", "c"]
    assert pipeline.status("b") is not None and pipeline.status("zz") is None


def test_pipeline_rejects_duplicate_status_ids() -> None:
    with pytest.raises(ValidationError, match="duplicate status id"):
        Pipeline(id="p", name="P", statuses=(Status(id="a", label="A"), Status(id="a", label="B")))


def test_final_kinds() -> None:
    assert StatusKind.WON.is_final and StatusKind.LOST.is_final and not StatusKind.OPEN.is_final


def test_opportunity_confidence_is_a_percentage() -> None:
    with pytest.raises(ValidationError):
        Opportunity(id="o", name="X", status_id="a", confidence=150, created=NOW, updated=NOW)


@pytest.mark.parametrize(
    ("value", "period", "annual"),
    [(1000, Period.ONE_TIME, 1000), (1000, Period.MONTHLY, 12000), (1000, Period.ANNUAL, 1000)],
)
def test_annualized_value(value: int, period: Period, annual: int) -> None:
    o = Opportunity(id="o", name="X", status_id="a", value=value, period=period, created=NOW, updated=NOW)
    assert o.annualized_value == annual


@pytest.mark.parametrize(
    ("minor", "currency", "period", "text"),
    [
        (1_250_000, "USD", Period.ONE_TIME, "$12,500"),
        (1_250_050, "USD", Period.MONTHLY, "$12,500.50/mo"),
        (950_000, "EUR", Period.ANNUAL, "€9,500/yr"),
        (1_800_000, "JPY", Period.ONE_TIME, "¥1,800,000"),
        (None, "USD", Period.ONE_TIME, "-"),
        (500, "XYZ", Period.ONE_TIME, "XYZ 5"),
        (-2500, "GBP", Period.ONE_TIME, "-£25"),
    ],
)
def test_format_money(minor: int | None, currency: str, period: Period, text: str) -> None:
    assert format_money(minor, currency, period) == text


def test_compact_and_totals() -> None:
    assert format_compact(18_200_000, "USD") == "$182k"
    assert format_compact(120_000_000, "EUR") == "€1.2M"
    assert format_compact(99_00, "USD") == "$99"
    totals = sum_by_currency([("EUR", 100), ("USD", 500), ("USD", 700)])
    assert list(totals) == ["USD", "EUR"], "the most used currency comes first"
    assert totals == {"USD": 1200, "EUR": 100}
    assert format_totals(totals) == "$12 +1 cur"
    assert format_totals({}) == "-"
