"""The board model and the merge of polls with intents in flight. No Textual (the session: test_session.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from kanban_tui.models import Changes, Opportunity, Pipeline, Status, StatusKind
from kanban_tui.sync import Board

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
PIPELINE = Pipeline(
    id="p",
    name="Sales",
    statuses=(
        Status(id="a", label="A", position=0),
        Status(id="b", label="B", position=1),
        Status(id="won", label="Won", position=2, kind=StatusKind.WON),
    ),
)


def opp(id: str, status: str, minutes: int = 0, **kw: object) -> Opportunity:
    return Opportunity(id=id, name=id.upper(), status_id=status, created=T0,
                       updated=T0 + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


def columns(board: Board) -> dict[str, list[str]]:
    return {s.id: board.column_ids(s.id) for s in PIPELINE.statuses}


def test_columns_are_newest_first() -> None:
    board = Board(PIPELINE)
    touched = board.add([opp("x", "a", 1), opp("y", "a", 5), opp("z", "b", 3), opp("w", "a", 5)])
    assert touched == {"a", "b"}
    assert columns(board) == {"a": ["w", "y", "x"], "b": ["z"], "won": []}
    assert board.index_of("x") == 2 and board.index_of("nope") is None


def test_cards_in_unknown_statuses_are_not_placed() -> None:
    board = Board(PIPELINE)
    board.add([opp("x", "elsewhere")])
    assert "x" not in board and len(board) == 0


def test_summary_annualizes_and_weights_per_currency() -> None:
    board = Board(PIPELINE)
    board.add([
        opp("x", "a", value=1000, period="monthly", confidence=50),
        opp("y", "a", value=500, confidence=100, currency="EUR"),
        opp("z", "a", value=None),
    ])
    summary = board.summary("a")
    assert summary.count == 3
    assert summary.totals == {"EUR": 500, "USD": 12000} or summary.totals == {"USD": 12000, "EUR": 500}
    assert summary.weighted["USD"] == 6000 and summary.weighted["EUR"] == 500


def test_a_move_shows_at_once_and_is_confirmed() -> None:
    board = Board(PIPELINE)
    board.add([opp("x", "a"), opp("y", "a", 1)])
    touched = board.set_target("x", "b", T0 + timedelta(hours=1))
    assert touched == {"a", "b"}
    assert columns(board)["b"] == ["x"] and board.is_pending("x") and board.pending_count() == 1
    assert board.summary("b").count == 1 and board.summary("a").count == 1
    board.clear_target("x", opp("x", "b", 61))
    assert not board.is_pending("x") and board.opportunity("x").status_id == "b"


def test_a_refused_move_goes_back_to_where_the_server_has_it() -> None:
    board = Board(PIPELINE)
    board.add([opp("x", "a")])
    board.set_target("x", "b", T0)
    assert board.clear_target("x") == {"a", "b"}
    assert columns(board)["a"] == ["x"] and not board.is_pending("x")


def test_a_poll_reporting_the_old_status_does_not_undo_a_move_in_flight() -> None:
    board = Board(PIPELINE)
    board.add([opp("x", "a")])
    board.set_target("x", "b", T0)
    board.apply(Changes(upserted=[opp("x", "a")]))  # the poll ran before the server saw the move
    assert board.shown_status("x") == "b" and board.is_pending("x")
    board.clear_target("x", opp("x", "b", 10))
    board.apply(Changes(upserted=[opp("x", "a")]))  # a poll that started before the move landed
    assert board.shown_status("x") == "b", "an older server version never overwrites a newer one"


def test_a_teammates_change_during_a_pending_move_is_kept_underneath() -> None:
    board = Board(PIPELINE)
    board.add([opp("x", "a", value=100)])
    board.set_target("x", "b", T0)
    board.apply(Changes(upserted=[opp("x", "a", 5, value=900)]))
    assert board.shown_status("x") == "b" and board.opportunity("x").value == 900
    board.clear_target("x")
    assert board.shown_status("x") == "a"


def test_a_newer_intent_replaces_the_older_one_of_the_same_card() -> None:
    board = Board(PIPELINE)
    board.add([opp("x", "a")])
    board.set_target("x", "b", T0)
    board.set_target("x", "won", T0 + timedelta(minutes=1))
    assert board.shown_status("x") == "won" and board.pending_count() == 1
    board.clear_target("x", opp("x", "won", 3))
    assert board.shown_status("x") == "won" and not board.is_pending("x")


def test_removed_elsewhere_disappears_even_with_a_pending_move() -> None:
    board = Board(PIPELINE)
    board.add([opp("x", "a"), opp("y", "a")])
    board.set_target("x", "b", T0)
    assert board.apply(Changes(removed=["x"])) == {"b"}
    assert "x" not in board and board.pending_count() == 0
    assert board.clear_target("x", opp("x", "b", 5)) == set(), "a late confirmation does not resurrect it"


def test_a_move_to_an_unknown_status_is_an_error() -> None:
    board = Board(PIPELINE)
    board.add([opp("x", "a")])
    with pytest.raises(KeyError):
        board.set_target("x", "nope", T0)


def test_column_totals_kept_card_by_card_match_a_recount() -> None:
    """Totals are updated incrementally (moves, polls, refusals); they must equal a fresh sum."""
    import random

    from kanban_tui.models import Period
    from kanban_tui.money import sum_by_currency

    rng = random.Random(3)
    board = Board(PIPELINE)
    statuses = [s.id for s in PIPELINE.statuses]

    def random_opp(n: int, minutes: int) -> Opportunity:
        return opp(
            f"o{n}", rng.choice(statuses), minutes, value=rng.choice([None, 0, 1000, 2500, 99_00]),
            currency=rng.choice(["USD", "EUR", "JPY"]), period=rng.choice(list(Period)),
            confidence=rng.choice([None, 0, 35, 100]),
        )

    board.add(random_opp(n, 0) for n in range(60))
    for step in range(1, 400):
        action = rng.random()
        ids = board.column_ids("a") + board.column_ids("b") + board.column_ids("won")
        if action < 0.3 and ids:
            board.set_target(rng.choice(ids), rng.choice(statuses), T0 + timedelta(minutes=step))
        elif action < 0.45 and ids:
            board.clear_target(rng.choice(ids))
        elif action < 0.8:
            board.add([random_opp(rng.randrange(80), step)])
        elif ids:
            board.remove([rng.choice(ids)])
    for status_id in statuses:
        cards = [board.opportunity(i) for i in board.column_ids(status_id)]
        valued = [o for o in cards if o.value]
        summary = board.summary(status_id)
        assert summary.count == len(cards)
        assert summary.totals == sum_by_currency((o.currency, o.annualized_value) for o in valued)
        assert summary.weighted == sum_by_currency(
            (o.currency, o.annualized_value * (o.confidence or 0) // 100) for o in valued
        )
        assert summary.annualized == any(o.period is not Period.ONE_TIME for o in valued)
        assert list(summary.totals) == list(sum_by_currency((o.currency, 1) for o in valued))


def test_a_page_that_names_a_card_twice_keeps_the_later_version_once() -> None:
    board = Board(PIPELINE)
    board.add([opp("x", "a", 1), opp("y", "a", 2), opp("x", "b", 3, value=500), opp("z", "b", 0)])
    assert columns(board) == {"a": ["y"], "b": ["x", "z"], "won": []}
    assert board.summary("a").count == 1 and board.summary("b").count == 2 and board.summary("b").totals == {"USD": 500}
