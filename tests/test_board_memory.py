"""The board holds what many cards share once (issue 25: peak memory at 50,000 cards), reading the same."""

from __future__ import annotations

from kanban_tui.sync import Board

from .test_sync import PIPELINE, opp


def _fresh(text: str) -> str:
    """An equal string that is not the same object (as each row read from a CRM is)."""
    return "".join(list(text))


def test_cards_share_their_owner_currency_and_status_texts() -> None:
    a = opp("a", "a", owner=_fresh("Dana Reyes"), currency=_fresh("EUR"), value=100)
    b = opp("b", "a", owner=_fresh("Dana Reyes"), currency=_fresh("EUR"), value=200, minutes=1)
    assert a.owner is not b.owner and a.currency is not b.currency
    board = Board(PIPELINE)
    board.add([a, b])
    held_a, held_b = board.opportunity("a"), board.opportunity("b")
    assert held_a.owner is held_b.owner and held_a.currency is held_b.currency
    assert (held_a.owner, held_a.currency, held_b.value) == ("Dana Reyes", "EUR", 200)
    assert board.column_ids("a") == ["b", "a"]


def test_cards_share_one_fields_set_and_a_copy_keeps_its_own() -> None:
    a, b = opp("a", "a", owner="x"), opp("b", "a", owner="y", minutes=1)
    c = opp("c", "a", note="a note", minutes=2)
    assert a.__pydantic_fields_set__ is not b.__pydantic_fields_set__
    board = Board(PIPELINE)
    board.add([a, b, c])
    held_a, held_b, held_c = (board.opportunity(i) for i in "abc")
    assert held_a.__pydantic_fields_set__ is held_b.__pydantic_fields_set__
    assert held_c.model_fields_set == c.model_fields_set != held_a.model_fields_set
    copy = held_a.model_copy(update={"note": "changed"})
    assert "note" in copy.model_fields_set
    assert "note" not in held_a.model_fields_set and "note" not in held_b.model_fields_set
