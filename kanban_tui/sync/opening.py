"""How a board opens: the pipeline listing, the saved copy, the warm and the cold start, whole loads.

A part of the session (`session.py`), as functions over it: the start (`start`), a pipeline opened
(`open_board`), and the session's handlers for the listing, the saved copy, a load's progress and a
warm start's catch-up. A warm start shows the saved board at once (`… as of 5m ago · refreshing`) and
asks the CRM only what changed since it (`Resume`); a cold start asks every column's first screen
together with the cursor (`Load(first=True)`), then the pages. Once the first whole load is in, the
board says what changed since the user last looked (`say_changes`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..backends.errors import BackendError
from ..models import Edit, Pipeline
from ..store.board_copy import SavedBoard
from .board import SORTS, Board
from .health import Failure, classify, retries_by_itself
from .moves import Intent
from .phase import Choosing, Failed, Live, Loading, ago
from .protocol import (
    CopyRead,
    FirstScreen,
    Job,
    ListPipelines,
    Load,
    LoadDone,
    LoadFailed,
    LoadStarted,
    OpenCopy,
    PageArrived,
    PipelineChoice,
    PipelinesFailed,
    PipelinesListed,
    Recalled,
    Resume,
    Resumed,
    SaveCopy,
    SaveSeen,
    Update,
    WhoAmI,
)

if TYPE_CHECKING:
    from .session import BoardSession


def start(s: BoardSession) -> Update:
    s.state = Loading(s.pipeline.name if s.pipeline else None)
    s.busy = True
    jobs: list[Job] = [ListPipelines(switching=False)]
    if s.board_copy is not None:  # a warm start: the saved board at once, then only what changed
        s.warming = True
        jobs.append(OpenCopy(s.gen, s.wanted, None))
    return Update(jobs=jobs)


def open_board(s: BoardSession, pipeline: Pipeline) -> Update:
    """Leave the board shown now (if any) and load `pipeline`."""
    s.gen += 1
    s.wanted = pipeline.id
    pipeline = pipeline.recolored(s.colors)
    new_board(s, pipeline)
    s.state = Loading(pipeline.name)
    s.busy = True
    s.copy_of = None
    s.last_synced = None
    s.health.error = None
    s.health.auto_retry = True
    s.cursor = None
    return Update(rebuild=True, progress=True, jobs=[Load(s.gen, pipeline, recall=True, first=True)])


def new_board(s: BoardSession, pipeline: Pipeline) -> None:
    s.pipeline = pipeline
    s.board = Board(pipeline)
    s.board.real_update_times = getattr(s.backend, "real_update_times", True)
    s.board.has_values = getattr(s.backend, "has_values", True)
    s.loaded, s.total, s.complete = 0, None, False
    s.load_seen = set()
    s.moves.clear()
    s.writes.clear()
    s.hidden = set()
    s.owner_is_me = False
    s.changes_said = False



def recall(s: BoardSession, kept: Recalled, u: Update) -> None:
    """The board's preferences applied, and the journal's moves of this pipeline back as intents
    (cards not loaded yet wait for their page)."""
    if s.board is None or s.pipeline is None:
        return
    prefs = kept.prefs
    if prefs.get("sort") in SORTS:
        u.redraw |= s.board.set_sort(prefs["sort"])
    hidden = prefs.get("hidden")
    if isinstance(hidden, list):
        s.hidden = {h for h in hidden if isinstance(h, str) and s.pipeline.status(h) is not None}
        u.columns = True
    owner = prefs.get("owner")
    if isinstance(owner, str):
        s.owner_is_me = prefs.get("owner_is_me") is True
        if s.owner_is_me and s.me:
            owner = s.me
        u.redraw |= s.board.set_owner(owner)
    if s.board.seen is None:
        s.board.seen = kept.seen
    if kept.problem is not None:  # the board opens anyway; the journal is untouched
        u.notice(kept.problem, severity="error", timeout=15)
    for line in kept.set_aside:
        u.notice(line, title="A move set aside", severity="error", timeout=20)
    if kept.elsewhere is not None or kept.taken_over:  # the other window's moves: the user's own, not marked
        s.board.elsewhere = dict(kept.elsewhere or {})
        s.board.elsewhere_values = {card: Edit.model_validate_json(edit).value
                                    for card, edit in (kept.elsewhere_values or {}).items()}
        u.redraw |= {status.id for status in s.pipeline.statuses}
    if kept.rows is None or s.journal is None:
        return
    board, pipeline = s.board, s.pipeline
    restored = s.moves.recall(kept.rows, board, pipeline, u)
    restored += s.writes.recall(kept.writes or [], board, pipeline, u)
    if not kept.taken_over:
        s.moves.restored = len(s.moves.intents)
        return
    if restored:  # taken over from another window: what it left goes out from here
        u.notice(f"Sending {restored} move{'s' if restored > 1 else ''} the other window left",
                 title="Moves kept", timeout=8)
    if s.complete:  # (a board still loading says it when whole)
        for intent in [i for i in s.moves.intents.values() if i.card not in board]:
            u.notice(f"A move of {intent.name} from the other window was dropped: the card is no longer in"
                     f" {pipeline.name}", severity="warning", timeout=10)
            s.moves.settle(board, intent, "dropped", u)
        s.writes.loaded(board, pipeline, u)


def listed(s: BoardSession, ev: PipelinesListed, u: Update) -> None:
    pipelines = ev.pipelines
    if not ev.switching and s.warming:  # the saved board is being read: it decides what comes next
        s.listed_early = ev
        return
    if not ev.switching:
        s.busy = False
    if not pipelines and ev.switching:
        u.notice(f"{s.backend.name} lists no pipelines now; this one stays open", severity="warning",
                 timeout=8)
        return
    if not pipelines:
        open_failed(s, BackendError("there are no pipelines", crm=s.backend.name,
                                       hint=f"add one in {s.backend.name}"), u)
        return
    s.reachable(u)
    if ev.switching:
        u.ask = PipelineChoice(pipelines, s.pipeline.id if s.pipeline else None)
        return
    if s.wanted is None and len(pipelines) > 1:
        s.state = Choosing()
        u.ask = PipelineChoice(pipelines, None)
        return
    try:
        pipeline = choose_pipeline(pipelines, s.wanted, s.backend.name)
    except BackendError as exc:
        open_failed(s, exc, u)
        return
    warm, s.warm = s.warm, None
    if warm is not None and s.copy_of is not None and s.board is not None and warm.pipeline.id == pipeline.id:
        if same_statuses(warm.pipeline, pipeline):  # ask only what changed since the copy
            s.busy = True
            s.warm = warm
            s.pipeline = pipeline.recolored(s.colors)  # its name, lost reasons as the CRM has them now
            s.board.pipeline = s.pipeline
            u.jobs.append(Resume(s.gen, pipeline, warm))
            return
    opened = open_board(s, pipeline)
    u.redraw |= opened.redraw
    u.rebuild, u.progress = True, True
    u.jobs += opened.jobs
    u.notices += opened.notices


def listing_failed(s: BoardSession, ev: PipelinesFailed, u: Update) -> None:
    if not ev.switching and s.warming:  # the saved board is being read: it goes on screen first
        s.listed_early = ev
        return
    if ev.switching:
        u.notice(str(ev.error), title="Could not list pipelines", severity="error", timeout=10)
        return
    s.busy = False
    open_failed(s, ev.error, u)


def open_failed(s: BoardSession, error: BackendError, u: Update) -> None:
    """Nothing is on the board yet and the CRM did not give it: the saved copy, or FAILED."""
    if classify(error) is Failure.UNREACHABLE and s.board_copy is not None and s.copy_of is None:
        s.busy = True
        u.jobs.append(OpenCopy(s.gen, s.wanted, error))
        return
    if classify(error) is Failure.UNREACHABLE and s.copy_of is not None and s.warm is not None:
        u.notice(  # the warm start's copy is on screen already: it stays, and says so
            f"{s.backend.name} cannot be reached: this is the board as of {ago(s.copy_of, s.now())}."
            " Moves are kept and sent when it answers.", title="Offline", severity="warning", timeout=10,
        )
    failed(s, error, u)


def failed(s: BoardSession, error: BackendError, u: Update) -> None:
    s.warm = None  # no longer refreshing the saved board: the line says what failed
    shown = s.board is not None and len(s.board) > 0
    failure = classify(error)
    s.health.error = error
    s.health.auto_retry = retries_by_itself(error)
    s.state = s.offline_state(error) if failure is Failure.UNREACHABLE and shown else Failed(error)
    if failure is Failure.AUTH:
        s.health.auth_blocked = True
    s.health.schedule_retry(error)
    u.progress = True
    if not shown:
        u.notice(str(error), title="Could not open the board", severity="error", timeout=15)


def load_started(s: BoardSession, ev: LoadStarted, u: Update) -> None:
    s.warm = None  # a whole load: the line counts it in
    s.cursor = ev.cursor
    s.load_seen = set()
    s.loaded = 0
    s.reachable(u)
    if not isinstance(s.state, Live):
        s.state = Loading(s.pipeline.name if s.pipeline else None)


def page(s: BoardSession, ev: PageArrived, u: Update) -> None:
    if s.board is None:
        return
    board, page = s.board, ev.page
    first = len(board) == 0
    s.reachable(u)
    u.redraw |= board.add(page.opportunities)
    s.load_seen.update(o.id for o in page.opportunities)
    s.loaded = max(page.loaded, len(board))  # the first screens came before the pages
    s.total = page.total
    u.progress = True
    s.report_skipped(page.skipped, u)
    if s.pipeline is not None:
        s.moves.show_targets(board, s.pipeline, u)
        s.writes.show(board, u)
    if first and page.opportunities:
        u.first_cards = True


def load_done(s: BoardSession, ev: LoadDone, u: Update) -> None:
    if s.board is None or s.pipeline is None:
        return
    board = s.board
    s.busy = False
    gone = [card for card in board.card_ids() if card not in s.load_seen]
    if gone:  # a reload over a board already shown (the copy, or a load that stopped): what left
        u.redraw |= board.remove(gone)
    now_whole(s, u)


def now_whole(s: BoardSession, u: Update) -> None:
    """The board holds the whole pipeline as the CRM has it (a load ended, or a warm start caught up)."""
    board, pipeline = s.board, s.pipeline
    assert board is not None and pipeline is not None
    s.busy = False
    s.complete = True
    board.loaded = True
    if not len(board):
        u.notice(f"{pipeline.name} has no deals in {s.backend.name} yet", timeout=6)
        u.redraw |= {status.id for status in pipeline.statuses}
    s.copy_of = None
    s.loaded = s.total = len(board)
    s.state = Live()
    s.health.succeeded(s.poll_interval)
    s.health.auto_retry = True
    s.last_synced = s.now()
    u.progress = True
    restored = [i for i in s.moves.intents.values() if i.restored and i.card in board]
    for intent in [i for i in s.moves.intents.values() if i.card not in board]:
        u.notice(f"A move of {intent.name} from last time was dropped: the card is no longer in"
                 f" {pipeline.name}", severity="warning", timeout=10)
        s.moves.settle(s.board, intent, "dropped", u)
    if restored and s.moves.restored:
        n = len(restored)
        u.notice(f"Sending {n} move{'s' if n > 1 else ''} saved from last time", title="Moves kept", timeout=8)
    s.moves.restored = 0
    s.writes.loaded(board, pipeline, u)
    if s.refresh_asked:
        s.refresh_asked = False
        u.notice(f"Loaded anew from {s.backend.name}", timeout=3)
    say_changes(s, u)
    if not s.me_asked:  # who "me" is (the owner filter), once the board is whole: not a request ahead of it
        s.me_asked = True
        u.jobs.append(WhoAmI())
    if s.board_copy is not None:
        u.jobs.append(SaveCopy(pipeline, board.server_versions(), s.last_synced, s.cursor))


def say_changes(s: BoardSession, u: Update) -> None:
    """After the first whole load: what changed since the user last looked, in one line (first time:
    the board as it is becomes what was seen)."""
    board = s.board
    if board is None or s.pipeline is None or s.changes_said:
        return
    s.changes_said = True
    if board.seen is None:
        board.seen = {card: board.seen_now(card) for card in board.card_ids()}
        if s.seen is not None:
            # the board's own record: copied when the job runs (a move settled meanwhile is in it)
            u.jobs.append(SaveSeen(s.pipeline.id, board.seen, s.now().isoformat()))
        return
    counts: dict[str, int] = {}
    for card in board.card_ids():
        if (change := board.change(card)) is not None:
            counts[change] = counts.get(change, 0) + 1
    gone = board.gone()
    for card in [c for c in board.seen if c not in board]:
        del board.seen[card]  # said once
    parts = [f"{counts[word]} {word}" for word in ("new", "moved", "re-valued") if counts.get(word)]
    if gone:
        names = ", ".join(gone[:3]) + (f" and {len(gone) - 3} more" if len(gone) > 3 else "")
        parts.append(f"{len(gone)} gone ({names})")
    if not parts:
        return
    step = " · c steps through them" if counts else ""
    u.notice(f"Since you last looked: {', '.join(parts)}{step}", title="What changed", timeout=12)


def load_failed(s: BoardSession, ev: LoadFailed, u: Update) -> None:
    s.busy = False
    if s.board is None or len(s.board) == 0:
        open_failed(s, ev.error, u)
    else:
        failed(s, ev.error, u)


def copy_read(s: BoardSession, ev: CopyRead, u: Update) -> None:
    if ev.error is None:
        warm_copy(s, ev, u)
        return
    s.busy = False
    if ev.saved is None:
        failed(s, ev.error, u)
        return
    saved = ev.saved
    keep = dict(s.moves.intents) if s.pipeline is not None and s.pipeline.id == saved.pipeline.id else {}
    kept = ev.kept
    if keep and kept is not None:  # the moves are already here: only the preferences and what was seen
        kept = kept._replace(rows=None)
    show_copy(s, saved, kept, keep, u)
    s.health.error = ev.error
    s.health.auto_retry = True
    s.state = s.offline_state(ev.error)
    s.health.schedule_retry(ev.error)
    u.rebuild = u.first_cards = u.progress = True
    u.notice(
        f"{s.backend.name} cannot be reached: this is the board as of {ago(saved.saved_at, s.now())}."
        " Moves are kept and sent when it answers.", title="Offline", severity="warning", timeout=10,
    )


def show_copy(s: BoardSession, saved: SavedBoard, kept: Recalled | None, keep: dict[str, Intent], u: Update) -> None:
    """The saved board as a new board: its cards, the moves kept (`keep`, or the journal's in `kept`) on it."""
    s.gen += 1
    s.wanted = saved.pipeline.id
    new_board(s, saved.pipeline.recolored(s.colors))
    assert s.board is not None and s.pipeline is not None
    s.board.add(saved.opportunities)
    s.loaded = s.total = len(saved.opportunities)
    s.copy_of = saved.saved_at
    s.moves.intents.update(keep)
    if kept is not None:
        recall(s, kept._replace(gen=s.gen), u)
    for card, intent in s.moves.intents.items():
        if card in s.board and s.pipeline.status(intent.target):
            s.board.set_target(card, intent.target, intent.made_at)


def warm_copy(s: BoardSession, ev: CopyRead, u: Update) -> None:
    """A warm start: the saved board (if any, of the pipeline wanted) on screen at once, `as of 5m ago ·
    refreshing`, moves kept from last time on it; then the pipeline listing goes on (it waited)."""
    s.warming = False
    saved, wanted = ev.saved, s.wanted
    fits = saved is not None and (wanted is None or wanted == saved.pipeline.id
                                  or wanted.casefold() == saved.pipeline.name.casefold())
    if saved is not None and fits and ev.gen == s.gen and (s.board is None or not len(s.board)):
        show_copy(s, saved, ev.kept, {}, u)  # the board last open (p switches)
        s.warm = saved
        s.state = Loading(s.pipeline.name if s.pipeline else None)
        s.busy = True
        u.rebuild = u.first_cards = u.progress = True
    early, s.listed_early = s.listed_early, None
    if isinstance(early, PipelinesListed):
        listed(s, early, u)
    elif early is not None:
        listing_failed(s, early, u)


def resumed(s: BoardSession, ev: Resumed, u: Update) -> None:
    if s.board is None or s.pipeline is None:
        return
    s.busy = False
    s.warm = None
    changes = ev.changes
    if changes is None or changes.pipeline is not None:  # the CRM cannot say: load it whole behind the copy
        s.busy = True
        u.jobs.append(Load(s.gen, s.pipeline))
        u.progress = True
        return
    s.reachable(u)
    u.redraw |= s.board.apply(changes)
    s.report_skipped(changes.skipped, u)
    s.cursor = changes.cursor
    now_whole(s, u)


def first_screen(s: BoardSession, ev: FirstScreen, u: Update) -> None:
    """A cold start: every column's count, totals and first screen, before the rest of its cards."""
    if s.board is None or s.pipeline is None:
        return
    board = s.board
    first = len(board) == 0
    for start in ev.starts:
        u.redraw |= board.add(start.cards)
        s.load_seen.update(o.id for o in start.cards)
        s.report_skipped(start.skipped, u)
    u.redraw |= board.set_known(ev.starts)
    s.loaded = len(board)
    s.total = sum(start.count for start in ev.starts)
    s.moves.show_targets(board, s.pipeline, u)
    s.writes.show(board, u)
    u.progress = True
    if first and len(board):
        u.first_cards = True


def same_statuses(a: Pipeline, b: Pipeline) -> bool:
    """The two have the same columns (ids, labels, order, kinds; colours aside): a saved board still fits."""
    def shape(p: Pipeline) -> list[tuple[str, str, str, bool]]:
        return [(s.id, s.label, s.kind.value, s.can_move_to) for s in p.statuses]

    return shape(a) == shape(b)


def choose_pipeline(pipelines: list[Pipeline], wanted: str | None, crm: str) -> Pipeline:
    """The pipeline named or numbered `wanted` (case-insensitive), else the first."""
    if not pipelines:
        raise BackendError("there are no pipelines", crm=crm)
    if wanted is None:
        return pipelines[0]
    for pipeline in pipelines:
        if wanted in (pipeline.id, pipeline.name) or pipeline.name.lower() == wanted.lower():
            return pipeline
    names = ", ".join(p.name for p in pipelines)
    raise BackendError(f"no pipeline named {wanted!r}", crm=crm, hint=f"choose one of: {names}")
