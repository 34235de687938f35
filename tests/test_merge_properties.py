"""Property: whatever the interleaving of polls, moves, confirmations and refusals, the board
ends as the server state plus the moves still pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from kanban_tui.models import Changes, Opportunity, Pipeline, Status, StatusKind
from kanban_tui.sync import Board, PendingMove

T0 = datetime(2026, 11, 1, tzinfo=UTC)
STATUSES = ("a", "b", "c", "won")
PIPELINE = Pipeline(
    id="p", name="Sales",
    statuses=tuple(
        Status(id=s, label=s, position=i, kind=StatusKind.WON if s == "won" else StatusKind.OPEN)
        for i, s in enumerate(STATUSES)
    ),
)
IDS = ("o1", "o2", "o3", "o4")

op = st.one_of(
    st.tuples(st.just("server_move"), st.sampled_from(IDS), st.sampled_from(STATUSES)),
    st.tuples(st.just("server_delete"), st.sampled_from(IDS), st.just("")),
    st.tuples(st.just("server_create"), st.sampled_from(IDS), st.sampled_from(STATUSES)),
    st.tuples(st.just("poll"), st.just(""), st.just("")),
    st.tuples(st.just("stale_poll"), st.sampled_from(IDS), st.just("")),
    st.tuples(st.just("user_move"), st.sampled_from(IDS), st.sampled_from(STATUSES)),
    st.tuples(st.just("confirm"), st.integers(0, 5).map(str), st.just("")),
    st.tuples(st.just("refuse"), st.integers(0, 5).map(str), st.just("")),
)


@given(st.lists(op, max_size=40))
@example([("server_delete", "o2", ""), ("user_move", "o2", "a"), ("user_move", "o2", "a"),
          ("confirm", "0", ""), ("server_create", "o2", "b")])  # found by CI: a 404 voids the card's later moves
def test_the_board_is_the_server_plus_pending_moves(ops: list[tuple[str, str, str]]) -> None:
    clock = iter(range(1, 10_000))
    server: dict[str, Opportunity] = {}
    unreported: set[str] = set()
    deleted: set[str] = set()
    versions: dict[str, list[Opportunity]] = {}

    def write(opportunity_id: str, status: str) -> Opportunity:
        opportunity = Opportunity(id=opportunity_id, name=opportunity_id, status_id=status, created=T0,
                                  updated=T0 + timedelta(seconds=next(clock)))
        server[opportunity_id] = opportunity
        versions.setdefault(opportunity_id, []).append(opportunity)
        unreported.add(opportunity_id)
        return opportunity

    for opportunity_id in IDS[:2]:
        write(opportunity_id, "a")
    board = Board(PIPELINE)
    board.add(server.values())
    unreported.clear()
    moves: list[PendingMove] = []

    def poll() -> None:
        board.apply(Changes(upserted=[server[i] for i in unreported if i in server],
                            removed=sorted(deleted)))
        moves[:] = [m for m in moves if m.opportunity_id not in deleted]  # a deleted card's moves are void
        unreported.clear()
        deleted.clear()

    for kind, subject, status in ops:
        if kind == "server_move" and subject in server:
            write(subject, status)
        elif kind == "server_delete" and subject in server:
            del server[subject]
            unreported.discard(subject)
            deleted.add(subject)
        elif kind == "server_create" and subject not in server:
            write(subject, status)
            deleted.discard(subject)
        elif kind == "poll":
            poll()
        elif kind == "stale_poll" and subject in server and len(versions[subject]) > 1:
            # an answer fetched before a later change lands after it: it must not win
            board.apply(Changes(upserted=[versions[subject][0]]))
        elif kind == "user_move" and subject in board:
            moves.append(board.begin_move(subject, status, now=T0 + timedelta(seconds=next(clock)))[0])
        elif kind in ("confirm", "refuse") and moves:
            move = moves.pop(int(subject) % len(moves))
            if kind == "confirm" and move.opportunity_id in server:
                board.confirm_move(move, write(move.opportunity_id, move.to_status))
                unreported.discard(move.opportunity_id)
            elif move.opportunity_id in server:
                board.fail_move(move)
            else:  # the CRM says the card is gone: its other moves are void too (the engine
                # refuses to send a move for a card no longer on the board)
                board.fail_move(move, gone=True)
                moves[:] = [m for m in moves if m.opportunity_id != move.opportunity_id]
    poll()

    for opportunity_id in IDS:
        if opportunity_id not in server:
            assert opportunity_id not in board
            continue
        assert opportunity_id in board
        pending = [m for m in moves if m.opportunity_id == opportunity_id]
        if pending:
            assert board.shown_status(opportunity_id) == pending[-1].to_status
        else:
            assert board.shown_status(opportunity_id) == server[opportunity_id].status_id
        assert board.opportunity(opportunity_id) == server[opportunity_id]
    for status in STATUSES:
        ids = board.column_ids(status)
        assert board.summary(status).count == len(ids) == len(set(ids))
