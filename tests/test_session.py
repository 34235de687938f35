"""The board session, case by case (the stateful search is in test_session_states.py), and the
status line it draws: every line of the README's "When things go wrong" table is produced here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from kanban_tui.backends.errors import BackendError, RateLimitedError
from kanban_tui.backends.local import LocalBackend
from kanban_tui.models import Changes, Pipeline
from kanban_tui.store.journal import MoveJournal
from kanban_tui.sync import BoardSession, Phase, Snapshot
from kanban_tui.sync.health import WRITE_TRIES
from kanban_tui.sync.protocol import AskWeeks, Event, Job, Load, Poll, Read, Send, WeeksKnown, WhoAmI
from kanban_tui.widgets.status_bar import status_line

from .test_session_states import PIPELINE, T0, SessionMachine

README = Path(__file__).parent.parent / "README.md"


@pytest.fixture
def machine() -> Iterator[SessionMachine]:
    m = SessionMachine()
    m.start()
    yield m
    m.teardown()


def complete_all(m: SessionMachine, send: str = "ok", read: str = "ok") -> None:
    while m.outstanding:
        m.a_request_completes(0, send, read)


def test_a_write_answered_500_is_retried_alone_with_backoff_then_goes_back(machine: SessionMachine) -> None:
    m = machine
    m.user_moves("c1", "demo")
    m.user_moves("c2", "demo")
    m.writes_fail_for_a_while(True)
    waits = []
    for _ in range(WRITE_TRIES):
        complete_all(m)  # every write fails
        intent = m.session.intents.get("c1")
        if intent is not None:
            assert intent.state == "retrying" and m.session.snapshot().phase is Phase.LIVE, "not offline"
            waits.append(intent.next_try - m.t)
        m.time_passes(70)
    assert waits == [2.0, 4.0, 8.0, 16.0], "its own capped backoff, not the poll's"
    assert m.server_errors[("c1", m.target["c1"][1])] == WRITE_TRIES
    assert {(o.card, o.how) for o in m.session.outcomes} == {("c1", "failed"), ("c2", "failed")}
    assert m.crm.cards["c1"].status_id == "lead" and m.session.board.shown_status("c1") == "lead"


def test_a_rate_limit_of_ten_minutes_is_honoured_in_full_and_the_board_stays_usable(machine: SessionMachine) -> None:
    m = machine
    poll = next(j for j in m.outstanding if isinstance(j, Poll))
    m.outstanding.remove(poll)
    events = m.loop.run_until_complete(_one(m, poll, RateLimitedError("slow", crm="Fake", status_code=429,
                                                                      retry_after=600)))
    for event in events:
        m.take(m.session.handle(event))
    snap = m.session.snapshot()
    assert 599 <= snap.rate_wait <= 600 and snap.phase is Phase.LIVE
    assert status_line(snap, m.now())[0].endswith("~ waiting 600s on the Fake rate limit")
    m.user_moves("c1", "won")  # usable: the card moves at once, the request waits
    assert m.session.board.shown_status("c1") == "won" and not any(isinstance(j, Send) for j in m.outstanding)
    m.time_passes(400)
    assert not m.outstanding, "nothing is asked of the CRM before the ten minutes are over"
    m.t += 600
    m.take(m.session.tick())
    assert any(isinstance(j, Send) for j in m.outstanding) and any(isinstance(j, Poll) for j in m.outstanding)


async def _one(m: SessionMachine, job: Job, error: BackendError) -> list[Event]:
    """Run `job` with the CRM answering `error`."""

    async def fail(pipeline: Pipeline, cursor: str | None) -> Changes:
        raise error

    original = m.crm.changes_since
    m.crm.changes_since = fail  # type: ignore[method-assign]
    try:
        return [event async for event in m.session.runner.run(job)]
    finally:
        m.crm.changes_since = original  # type: ignore[method-assign]


def test_a_second_instance_on_the_same_journal_is_read_only_and_says_so(machine: SessionMachine) -> None:
    m = machine
    m.user_moves("c1", "demo")
    other = m.open_session()
    try:
        assert other.read_only is not None and "pid" in other.read_only
        update = other.start()
        assert not any(isinstance(j, Send) for j in update.jobs)
        assert "read-only" in status_line(other.snapshot())[0]
    finally:
        other.close()
    m.session.close()
    again = m.open_session()  # once the first one is gone, the next one drains the journal
    try:
        assert again.read_only is None
    finally:
        again.close()


def test_a_move_killed_in_flight_and_applied_is_read_back_not_sent_again(machine: SessionMachine) -> None:
    m = machine
    complete_all(m)
    m.user_moves("c1", "demo")
    m.killed_and_started_again(reached=True)  # the PUT reached the CRM, the answer never came
    complete_all(m)
    m.time_passes(70)
    complete_all(m)
    puts = m.sent["c1"]
    assert len(puts) == 1, "sent once"
    assert [(o.card, o.how) for o in m.session.outcomes] == [("c1", "confirmed")]
    assert m.session.journal is not None and m.session.journal.pending() == []


def test_queued_moves_of_a_card_collapse_to_the_latest_intent(machine: SessionMachine) -> None:
    m = machine
    complete_all(m)
    m.time_passes(70)
    complete_all(m, read="503")  # the poll: unreachable
    assert m.session.phase is Phase.OFFLINE
    for status in ("qual", "demo", "won"):
        m.user_moves("c1", status)
    m.time_passes(400)
    complete_all(m)
    m.time_passes(1)
    complete_all(m)
    assert [m.target["c1"][1]] == m.sent["c1"], "one request: the latest intent"
    assert m.crm.cards["c1"].status_id == "won"


def test_a_load_that_stops_says_how_much_it_holds_and_is_loaded_again_by_pages(tmp_path: Path) -> None:
    m = SessionMachine()
    try:
        for i, card in enumerate(("c1", "c2", "c3")):
            m.crm.write(card, "lead" if i else "qual")
        m.session = m.open_session()
        m.take(m.session.start())
        m.a_request_completes(0, "ok", "ok")  # the pipelines
        load = next(job for job in m.outstanding if isinstance(job, Load))
        m.outstanding.remove(load)
        m.crm.fault = "503"
        m.session.board.add([m.crm.cards["c1"]])  # as if its first page had arrived
        m.session.total = 3
        for event in m.loop.run_until_complete(_gather(m.session.runner.run(load))):
            m.take(m.session.handle(event))
        snap = m.session.snapshot()
        assert snap.phase is Phase.OFFLINE and snap.cards == 1 and snap.total == 3
        assert "○ offline[/b] · 1 of 3 loaded" in status_line(snap, m.now())[0]
        m.time_passes(70)
        assert [type(j) for j in m.outstanding if not isinstance(j, WhoAmI)] == [Load], \
            "the rest comes by pages, never a request per card"
        complete_all(m)
        assert m.session.phase is Phase.LIVE and m.session.board is not None and len(m.session.board) == 3
    finally:
        m.teardown()


async def _gather(events):
    return [e async for e in events]


# -- the status line: one snapshot, one line (the README's table) ---------------------------------------

BASE = Snapshot(
    phase=Phase.LIVE, crm="Close", cards=412, loaded=412, total=412, saving=0, queued=0, retrying=0, asking=0,
    rate_wait=0.0, retry_in=None, last_synced=T0 - timedelta(seconds=12), error=None, waits_for_user=False,
    copy_of=None, read_only=None,
)
STATES: dict[str, tuple[dict[str, object], str]] = {
    "live": ({}, "412 deals · ✓ synced 10s ago"),
    "saving": ({"saving": 1}, "412 deals · 1 saving · ✓ synced 10s ago"),
    "loading": ({"phase": Phase.LOADING, "cards": 100, "loaded": 100, "total": 1000, "last_synced": None},
                "100 deals · … loading 100 of 1,000"),
    "refreshing the copy": ({"phase": Phase.LOADING, "copy_of": T0 - timedelta(hours=2), "loaded": 300,
                             "total": 1000, "last_synced": None},
                            "412 deals · … loading 300 of 1,000 · board as of 2h ago"),
    "choosing": ({"phase": Phase.CHOOSING, "cards": 0, "last_synced": None}, "0 deals · choose a pipeline"),
    "offline": ({"phase": Phase.OFFLINE, "queued": 2, "retry_in": 30.0,
                 "error": "Close: cannot connect ([Errno 111] Connection refused)"},
                "412 deals · 2 moves queued · ○ offline, retrying in 30s: Close: cannot connect ([Errno 111]"
                " Connection refused)"),
    "offline on the copy": ({"phase": Phase.OFFLINE, "copy_of": T0 - timedelta(hours=2), "retry_in": 30.0,
                             "error": "Close 503: Service unavailable.", "last_synced": None},
                            "412 deals · ○ offline · board as of 2h ago, retrying in 30s: Close 503: Service"
                            " unavailable."),
    "offline with part of the board": ({"phase": Phase.OFFLINE, "cards": 100, "total": 1000, "retry_in": 12.0,
                                        "error": "Close 503: down", "last_synced": None},
                                       "100 deals · ○ offline · 100 of 1,000 loaded, retrying in 12s: Close 503:"
                                       " down"),
    "retrying": ({"retrying": 1}, "412 deals · 1 retrying · ✓ synced 10s ago"),
    "asking": ({"asking": 1}, "412 deals · 1 to decide · ✓ synced 10s ago"),
    "rate limit": ({"rate_wait": 40.0, "queued": 1}, "412 deals · 1 move queued · ~ waiting 40s on the Close rate"
                   " limit"),
    "sync failed": ({"error": "Close 500: boom", "retry_in": 30.0},
                    "412 deals · ! sync failed, retrying in 30s: Close 500: boom"),
    "rejected key": ({"error": "Close 401: Close rejected the API key", "retry_in": 15.0, "queued": 1},
                     "412 deals · 1 move queued · ! sync failed, retrying in 15s: Close 401: Close rejected the"
                     " API key"),
    "could not open": ({"phase": Phase.FAILED, "cards": 0, "total": None, "last_synced": None,
                        "error": "Close 403: the API key lacks access - ask a Close admin for access - press r to"
                                 " retry", "waits_for_user": True},
                       "0 deals · ! could not load the board: Close 403: the API key lacks access - ask a Close"
                       " admin for access - press r to retry"),
    "read-only": ({"read_only": "another kanban-tui (pid 4242) is saving moves"},
                  "412 deals · read-only: another window is open · ✓ synced 10s ago"),
}


@pytest.mark.parametrize("state", list(STATES))
def test_each_state_has_one_line_and_the_readme_table_shows_it(state: str) -> None:
    changes, expected = STATES[state]
    snapshot = Snapshot(**{**BASE.__dict__, **changes})
    text, problem = status_line(snapshot, T0)
    plain = text.replace("[b]", "").replace("[/b]", "").replace("\\[", "[")
    assert plain == expected
    assert problem == (snapshot.phase in (Phase.OFFLINE, Phase.FAILED) or snapshot.error is not None)
    readme = README.read_text(encoding="utf-8")
    shown = expected.split(" · ", 1)[1] if " · " in expected else expected
    assert f"`{shown}`" in readme, f"the README's table lacks `{shown}`"


def test_a_fresh_journal_is_readable_by_the_user_alone(tmp_path: Path) -> None:
    journal = MoveJournal(tmp_path / "j.sqlite3", "x", background=False)
    journal.pending()
    session = BoardSession(machine_backend(), poll_interval=10, journal=journal)
    session.close()
    journal.forget(1)
    assert (tmp_path / "j.sqlite3").stat().st_mode & 0o077 == 0


def machine_backend():
    from .test_session_states import FakeCrm

    return FakeCrm()


def test_an_undo_after_a_move_whose_answer_was_lost_is_not_asked_about(machine: SessionMachine) -> None:
    """Found by the state machine: the move reached the CRM, its answer did not; the undo that
    followed was then taken for a teammate's change and the user was asked about their own move."""
    m = machine
    complete_all(m)
    m.user_moves("c1", "qual")
    m.finish(Send, "timeout_applied")
    m.user_undoes()
    m.everything_settles()  # asserts, among the rest, that no question was about their own move
    assert m.crm.cards["c1"].status_id == "lead"


def test_a_move_whose_read_back_fails_is_not_sent_blindly_again(machine: SessionMachine) -> None:
    """Found by the state machine: the PUT landed without an answer, the read-back got a 500, and
    the move was sent a second time."""
    m = machine
    complete_all(m)
    m.user_moves("c1", "qual")
    m.finish(Send, "timeout_applied")
    m.time_passes(70)
    m.finish(Poll, "ok")  # the CRM answers: the card is read back...
    m.finish(Read, "500")  # ... and the read fails (asserts no second send of an applied move)
    assert m.session.intents["c1"].state == "retrying" and m.session.intents["c1"].unknown
    m.everything_settles()
    assert len(m.sent["c1"]) == 1 and m.crm.cards["c1"].status_id == "qual"


def test_a_429_on_a_move_while_offline_means_the_crm_answers(machine: SessionMachine) -> None:
    """Found by the state machine: a poll failed unreachable, then a move was answered 429: the
    board kept saying offline although the CRM had answered."""
    m = machine
    complete_all(m)
    m.user_moves("c1", "qual")
    m.time_passes(70)
    m.finish(Poll, "503")
    assert m.session.phase is Phase.OFFLINE
    m.finish(Send, "429")
    assert m.session.phase is Phase.LIVE and m.session.snapshot().rate_wait > 0


# -- found in review (each failed on the session before the fix) ------------------------------------------


def test_a_saved_move_to_a_status_that_no_longer_exists_is_dropped_and_said(machine: SessionMachine) -> None:
    m = machine
    complete_all(m)
    m.user_moves("c1", "demo")
    m.killed_and_started_again(reached=False)
    without_demo = PIPELINE.model_copy(update={"statuses": tuple(s for s in PIPELINE.statuses if s.id != "demo")})

    async def pipelines() -> list:
        return [without_demo]

    m.crm.list_pipelines = pipelines  # type: ignore[method-assign]
    notices = []
    while m.outstanding:
        job = m.outstanding.pop(0)
        for event in m.loop.run_until_complete(_gather(m.session.runner.run(job))):
            update = m.session.handle(event)
            notices += [n.text for n in update.notices]
            m.take(update)
    assert any("no longer exists" in n for n in notices) and not any("bug" in n for n in notices)
    assert m.session.phase is Phase.LIVE and not m.session.intents
    assert m.session.journal.pending() == [], "not dropped silently, nor replayed at every start"


def test_switching_pipeline_while_a_move_waits_keeps_the_move(machine: SessionMachine) -> None:
    m = machine
    complete_all(m)
    m.take(m.session.list_pipelines())  # p: the list is on its way...
    m.user_moves("c1", "demo")  # ... and a move is made meanwhile
    other = PIPELINE.model_copy(update={"id": "q", "name": "Renewals"})
    update = m.session.choose_pipeline("q", [PIPELINE, other])
    assert m.session.pipeline.id == "p" and "c1" in m.session.intents
    assert any("Wait for 1 move" in n.text for n in update.notices)


def test_a_move_a_gateway_timed_out_after_the_crm_applied_it_is_read_back_not_asked(machine: SessionMachine) -> None:
    m = machine
    complete_all(m)
    m.user_moves("c1", "qual")
    m.finish(Send, "gateway_applied")  # 504, but the CRM has it (asserts no question about their own move)
    m.everything_settles()
    assert m.sent["c1"] == [m.target["c1"][1]], "sent once"


def test_an_empty_pipeline_list_while_switching_leaves_the_board_as_it_was(machine: SessionMachine) -> None:
    m = machine
    complete_all(m)

    async def none() -> list:
        return []

    m.crm.list_pipelines = none  # type: ignore[method-assign]
    m.take(m.session.list_pipelines())
    complete_all(m)
    assert m.session.phase is Phase.LIVE and m.session.health.error is None
    m.user_moves("c1", "demo")
    complete_all(m)
    assert m.crm.cards["c1"].status_id == "demo"


def test_a_rejected_key_on_a_read_back_keeps_the_move(machine: SessionMachine) -> None:
    m = machine
    complete_all(m)
    m.user_moves("c1", "qual")
    m.finish(Send, "timeout_lost")
    for _ in range(WRITE_TRIES + 1):
        m.time_passes(400)
        while any(isinstance(j, Poll) for j in m.outstanding):
            m.finish(Poll, "ok")
        if any(isinstance(j, Read) for j in m.outstanding):
            m.finish(Read, "401")
    assert "c1" in m.session.intents and m.session.journal.pending(), "kept until the key is accepted"


def test_opening_a_board_reads_no_file_on_the_callers_thread(tmp_path: Path) -> None:
    """What this machine kept for a board (owed moves, preferences) is read by the Load job, in a
    worker; `open()` itself, called on the UI thread, touches no file."""

    class Watched(MoveJournal):
        reads = 0

        def pending(self, pipeline_id=None):
            Watched.reads += 1
            return super().pending(pipeline_id)

    journal = Watched(tmp_path / "j.sqlite3", "x", background=False)
    session = BoardSession(machine_backend(), poll_interval=10, journal=journal)
    try:
        update = session.open(PIPELINE)
        assert Watched.reads == 0 and [type(j) for j in update.jobs] == [Load]
        load = update.jobs[0]
        assert isinstance(load, Load) and load.recall
    finally:
        session.close()


def test_writes_that_keep_getting_no_answer_while_reads_work_say_offline_once(machine: SessionMachine) -> None:
    """Seen in tmux over a link that loses every PUT's answer (the fake dropping them) while GETs answer: each
    round (read the card back, send again, no answer) put up another "Offline" notice, four stacked within ten
    seconds. Once per spell: said again only after a write went through."""
    m = machine
    complete_all(m)
    m.said.clear()
    m.user_moves("c1", "demo")
    for _ in range(6):  # each round: the send gets no answer; the backoff passes; the read-back answers
        complete_all(m, send="timeout_lost")
        m.time_passes(400)
    assert len(m.sent["c1"]) >= 3, "it was tried again and again"
    offline = [line for line in m.said if "moves are kept and sent when" in line]
    assert len(offline) == 1, offline
    complete_all(m)  # the move goes through
    m.user_moves("c2", "demo")
    send = next(j for j in m.outstanding if isinstance(j, Send))
    m.outstanding.remove(send)
    m.complete(send, "timeout_lost")
    assert len([line for line in m.said if "moves are kept and sent when" in line]) == 2, "a new spell is said"


async def test_the_pictures_weeks_are_asked_by_a_session_job_and_handed_to_the_ui(
        backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """`P`: won and lost per week is a job like every other CRM request; its answer (or why there is none)
    comes back on `Update.weeks`, and the session keeps nothing of it."""
    session = BoardSession(backend, poll_interval=3600)
    try:
        pipeline = (await backend.list_pipelines())[0]
        session.open(pipeline)
        [job] = session.ask_weeks(12).jobs
        assert job == AskWeeks(pipeline, 12)
        [event] = [e async for e in session.runner.run(job)]
        update = session.handle(event)
        assert update.weeks == WeeksKnown(pipeline.id, await backend.won_lost_by_week(pipeline, 12))
        assert not update.jobs and not update.notices

        async def fails(*_: object) -> None:
            raise RuntimeError

        monkeypatch.setattr(backend, "won_lost_by_week", fails)
        [event] = [e async for e in session.runner.run(job)]
        assert session.handle(event).weeks == WeeksKnown(pipeline.id, None, "RuntimeError"), "a line, never a crash"
    finally:
        session.close()

