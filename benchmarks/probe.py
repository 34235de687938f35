"""One measured run of the real app (or of a bare Textual app, the floor), in its own process.

    python -m benchmarks.probe floor --t0 T
    python -m benchmarks.probe local PATH --t0 T [--keys 40] [--profile FILE]
    python -m benchmarks.probe close BASE_URL --t0 T [--keys 40] [--no-poll] [--profile FILE]

`benchmarks/run.py` starts these and reads the one JSON line each prints. `--t0` is the
parent's `time.time()` just before it started the process, so every time counts interpreter
start-up and imports too.

A Close run opens the board as `kanban-tui` does: with the move journal and the saved board
(`last-board.sqlite3`) in the state dir (`XDG_STATE_HOME`, set by the runner). In a fresh state
dir that is a cold start; run again in the same dir and it is a warm start (the saved board
at once, then `Backend.resume` asks what changed).

How it measures, headless (no terminal needed):
- Every frame Textual would write to the terminal goes through `App._display`; the probe
  wraps it, turns the update into the escape sequences a terminal would get (the cost a
  real terminal session pays), and notes the time. A frame is the repaint.
- `first_screen`: start -> the first frame in which every column's header shows the whole
  column's count (the one the CRM or the workspace gave, before all the cards are there)
  and its card list holds its first screenful (or all its cards, if fewer).
- `open`: start -> the first frame in which the whole board is loaded, every column's
  header shows its right count and the status line says `✓ synced` (for a warm start: after
  the resume, not when the saved board is first drawn).
- `*_requests`, `*_bytes` (Close): requests answered and bytes read by then.
- `key`: a key press -> the first frame after the key's action ran. The won/lost
  confirmation is turned off so that move keys move (it is a dialog, not a repaint).
- `keys_during_load`: `j` / `k` pressed every 0.15 s from the first cards drawn until the board is
  complete, each to the first frame after its action ran (only those whose action ran while the
  load was still going on).
- `poll`: an idle poll (nothing changed): requests (SQL statements for the local
  workspace), bytes read, and the process's CPU time from starting the poll to applying it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Static

SIZE = (120, 36)


class FrameClock:
    """Wraps `app._display`: renders each frame to terminal output and notes when."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.frames = 0
        self.last = 0.0
        self.stamps: list[float] = []
        self.painted: list[tuple[float, frozenset[Any]]] = []
        """Per recent frame: when, and the widgets it repainted (the screen itself: all of them)."""
        self.bytes = 0
        self.event = asyncio.Event()
        self.check: Callable[[], bool] | None = None
        self.checked_at: float | None = None
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None:
                return
            render = getattr(renderable, "render_segments", None)
            if render is not None:
                self.bytes += len(render(app.console))
            self.frames += 1
            self.last = time.perf_counter()
            self.stamps.append(self.last)
            del self.stamps[:-64]
            self.painted.append((self.last, frozenset(getattr(screen, "_dirty_widgets", ()))))
            del self.painted[:-64]
            if self.check is not None and self.checked_at is None and self.check():
                self.checked_at = time.time()
            self.event.set()

        app._display = display  # type: ignore[method-assign]

    async def frame_painting(self, moment: float, widgets: set[Any], timeout: float = 10.0) -> float:
        """perf_counter of the first frame after `moment` by which every one of `widgets` has been repainted
        (the first frame after it when there are none)."""
        deadline = time.perf_counter() + timeout
        while True:
            left = set(widgets)
            for stamp, painted in self.painted:
                if stamp <= moment:
                    continue
                left = set() if any(w is w.screen for w in painted) else left - painted
                if not left:
                    return stamp
            self.event.clear()
            wait = deadline - time.perf_counter()
            if wait <= 0:
                raise TimeoutError("no frame")
            try:
                await asyncio.wait_for(self.event.wait(), wait)
            except TimeoutError:
                raise TimeoutError("no frame") from None

    async def next_frame_after(self, moment: float, timeout: float = 10.0) -> float:
        """perf_counter of the first frame drawn after `moment`."""
        deadline = time.perf_counter() + timeout
        while True:
            after = [stamp for stamp in self.stamps if stamp > moment]
            if after:
                return after[0]
            self.event.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError("no frame")
            try:
                await asyncio.wait_for(self.event.wait(), left)
            except TimeoutError:
                raise TimeoutError("no frame") from None


class Floor(App[None]):
    """A bare Textual app: the least any Textual app pays to start and paint."""

    def compose(self) -> ComposeResult:
        yield Static("floor")


async def run_floor(t0: float) -> dict[str, Any]:
    app = Floor()
    clock = FrameClock(app)
    clock.check = lambda: True
    async with app.run_test(size=SIZE):
        while clock.checked_at is None:
            await asyncio.sleep(0.001)
    return {"open": clock.checked_at - t0, "rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ActionClock:
    """Notes when the board's key actions finish (wraps them on the screen instance), and which card
    lists each left to repaint."""

    def __init__(self, screen: Any, names: list[str]) -> None:
        from kanban_tui.widgets.column import CardList

        self.done = 0.0
        self.to_paint: set[Any] = set()
        for name in names:
            method = getattr(screen, name)

            def wrapped(*args: Any, _method: Callable[..., Any] = method) -> Any:
                result = _method(*args)
                self.done = time.perf_counter()
                # refreshed, not yet repainted (Textual's flag until the widget asks the screen to paint it)
                self.to_paint = {cards for cards in screen.query(CardList) if cards._repaint_required}
                return result

            setattr(screen, name, wrapped)


async def measure_keys(app: Any, pilot: Any, clock: FrameClock, keys: int) -> dict[str, list[float]]:
    from kanban_tui.screens.board import BoardScreen

    screen = app.screen
    assert isinstance(screen, BoardScreen)
    actions = ActionClock(screen, ["action_focus_card", "action_focus_column", "action_move_card"])
    nav_keys = ["j", "j", "l", "j", "k", "h", "j", "l"]
    out: dict[str, list[float]] = {"nav": [], "move": []}
    for i in range(keys):
        move_key = "shift+right" if i % 2 == 0 else "shift+left"
        for kind, key in (("nav", nav_keys[i % len(nav_keys)]), ("move", move_key)):
            if kind == "move" and screen.active == len(screen.columns) - 1:
                key = "shift+left" if key == "shift+right" else key
            await pilot.pause()
            before, where = actions.done, (screen.active, screen.focused_id())
            start = time.perf_counter()
            await pilot.press(key)
            if actions.done == before:
                continue  # nothing to do (edge of the board)
            if kind == "nav" and (screen.active, screen.focused_id()) == where:
                continue  # the focus stayed where it was (the column's last card): no frame to wait for (one
                # came only with the status line's next word, ~8 s later: that was the nav p95 of the runs before)
            frame = await clock.next_frame_after(actions.done)
            out[kind].append(frame - start)
        await app.workers.wait_for_complete()
    out["search"] = await measure_search(app, pilot, clock)
    return out


SEARCH_TYPED = "acme"
"""Typed into the search, a key at a time, then erased: `a` matches nearly every card (the widest
filter and the most matches to count), each next key narrows, each backspace widens again."""


async def measure_search(app: Any, pilot: Any, clock: FrameClock) -> list[float]:
    """`/`, then each keystroke of a search to the repaint that shows its matches (and back out)."""
    screen = app.screen
    searched = ActionClock(screen, ["apply_search"])
    screen.query_one("#search").cursor_blink = False  # its blinks are frames of their own
    await pilot.press("slash")
    await pilot.pause()
    times = []
    for key in [*SEARCH_TYPED, *["backspace"] * len(SEARCH_TYPED)]:
        await pilot.pause()
        before = searched.done
        start = time.perf_counter()
        await pilot.press(key)
        if searched.done == before:
            continue
        # the frame that shows the matches: the one by which every card list the keystroke changed has been
        # repainted (not merely the first frame after it, which repaints the input line and the layout)
        frame = await clock.frame_painting(searched.done, searched.to_paint)
        times.append(frame - start)
    await pilot.press("escape")
    await pilot.pause()
    return times


async def measure_polls(app: Any, pilot: Any, counters: Callable[[], tuple[int, int]],
                        polls: int = 7) -> dict[str, Any]:
    """Idle polls of an unchanged board: requests, bytes and CPU ms each (medians)."""
    screen = app.screen
    results = []
    for _ in range(polls):
        await app.workers.wait_for_complete()
        await pilot.pause()
        session = screen.session
        synced = session.last_synced
        requests, read = counters()
        cpu = time.process_time()
        screen.action_refresh()
        # wait on the poll's worker without waking up meanwhile (a busy wait would bill its
        # own wake-ups, as many as the server's answer takes milliseconds, to the poll)
        await app.workers.wait_for_complete()
        while session.busy or session.last_synced == synced:
            await asyncio.sleep(0.0005)
        cpu = time.process_time() - cpu
        after_requests, after_read = counters()
        results.append((after_requests - requests, after_read - read, cpu * 1000))
    return {
        "requests": statistics.median(r[0] for r in results),
        "bytes": statistics.median(r[1] for r in results),
        "cpu_ms": statistics.median(r[2] for r in results),
    }


def board_ready(app: Any) -> bool:
    """The whole board is loaded and every header shows its column's count (on its first line, at the end)."""
    from kanban_tui.screens.board import BoardScreen

    screen = app.screen
    if not isinstance(screen, BoardScreen) or screen.session.phase != "live" or not screen.columns:
        return False
    board = screen.session.board
    for column in screen.columns:  # the header's first line: `Qualified     1,204` (`3 of 412` when filtering)
        first = str(column.header.render()).split("\n", 1)[0]
        if not first.endswith(f" {board.column_len(column.status.id):,}"):
            return False
    return "✓ synced" in synced_text(screen)


def synced_text(screen: Any) -> str:
    """What the status line shows now (its last `show`)."""
    from kanban_tui.widgets.status_bar import SyncStatus

    try:
        return getattr(screen.query_one(SyncStatus), "_shown", "") or ""
    except Exception:  # noqa: BLE001 - not mounted yet
        return ""


def first_screen_ready(app: Any) -> bool:
    """Every column's header shows the whole column's count (as the CRM or the workspace gave it, known
    before its cards, or counted once they are all there) and its card list holds its first screenful."""
    from kanban_tui.screens.board import BoardScreen

    screen = app.screen
    if not isinstance(screen, BoardScreen) or not screen.columns:
        return False
    session = screen.session
    board = session.board
    if board is None or session.copy_of is not None:  # a saved board is not the first screen of a load
        return False
    want = session.screenful
    for column in screen.columns:
        status_id = column.status.id
        if not board.loaded and status_id not in board._known:  # noqa: SLF001 - the count is not known yet
            return False
        count = board.summary(status_id).count
        first = str(column.header.render()).split("\n", 1)[0]
        if not first.endswith(f" {count:,}") or column.cards.count < min(count, want):
            return False
    return True


DURING_LOAD_KEYS = ("j", "k")
DURING_LOAD_EVERY = 0.15
"""Seconds between the keys pressed while a load goes on (from one's frame to the next key)."""


async def run_board(app: Any, t0: float, keys: int, counters: Callable[[], tuple[int, int]],
                    first_cards: Callable[[], bool] | None = None, polls: bool = True) -> dict[str, Any]:
    clock = FrameClock(app)
    result: dict[str, Any] = {}
    first_seen: list[float] = []
    screen_seen: list[tuple[float, int, int]] = []
    during_load: list[float] = []
    warm: list[bool] = []

    def check() -> bool:
        session = getattr(app.screen, "session", None)
        if session is not None and session.copy_of is not None and not warm:
            warm.append(True)
        if first_cards is not None and not first_seen and first_cards():
            first_seen.append(time.time() - t0)
        if not screen_seen and first_screen_ready(app):
            screen_seen.append((time.time() - t0, *counters()))
        if board_ready(app):
            result["open_requests"], result["open_bytes"] = counters()
            return True
        return False

    clock.check = check
    actions: ActionClock | None = None
    next_key = 0.0
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.time() + 300
        while clock.checked_at is None:
            error = getattr(app.screen, "load_error", None)
            if error is not None or time.time() > deadline:
                raise SystemExit(f"the board did not open: {error or 'timed out'}")
            if first_seen and first_cards is not None and time.perf_counter() >= next_key:
                # the board is usable while later pages arrive: a key now and then, to the frame after its action
                # (sent as a terminal would, without Pilot's wait for the app to go idle: a load keeps it busy)
                if actions is None:
                    actions = ActionClock(app.screen, ["action_focus_card"])
                before = actions.done
                start = time.perf_counter()
                app._driver.send_message(events.Key(DURING_LOAD_KEYS[len(during_load) % 2], None))  # noqa: SLF001
                while actions.done == before and time.perf_counter() - start < 10:
                    await asyncio.sleep(0.0005)
                if actions.done != before:
                    loading = not board_ready(app)
                    frame = await clock.next_frame_after(actions.done)
                    if loading:
                        during_load.append(frame - start)
                next_key = time.perf_counter() + DURING_LOAD_EVERY
            await asyncio.sleep(0.001)
        result["open"] = clock.checked_at - t0
        result["warm"] = bool(warm)
        result["frames_to_open"] = clock.frames
        if first_seen:
            result["first_cards"] = first_seen[0]
        if screen_seen:
            result["first_screen"], result["first_screen_requests"], result["first_screen_bytes"] = screen_seen[0]
        result["keys_during_load"] = during_load
        result["cards"] = len(app.screen.session.board)
        result["keys"] = await measure_keys(app, pilot, clock, keys) if keys else {"nav": [], "move": [], "search": []}
        if polls:
            result["poll"] = await measure_polls(app, pilot, counters)
        result["frame_bytes"] = clock.bytes
    result["rss_mb"] = peak_rss_mb()
    return result


def count_sql() -> Callable[[], tuple[int, int]]:
    """Counts the SQL statements every workspace connection runs."""
    counted = [0]
    connect = sqlite3.connect

    def counting_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(lambda _sql: counted.__setitem__(0, counted[0] + 1))
        return conn

    sqlite3.connect = counting_connect  # type: ignore[assignment]
    return lambda: (counted[0], 0)


async def run_local(path: Path, t0: float, keys: int) -> dict[str, Any]:
    from kanban_tui.backends.local import LocalBackend
    from kanban_tui.config import Settings
    from kanban_tui.factory import make_app

    counters = count_sql()
    # the workspace's own SQL is counted: no store on this machine (as the figures in RESULTS.md were measured)
    app = make_app(LocalBackend(path), Settings(poll_interval=3600, confirm_final_moves=False), journal=False,
                   board_copy=False, prefs=False, seen=False, app_prefs=False)
    return await run_board(app, t0, keys, counters)


async def run_close(base_url: str, t0: float, keys: int, polls: bool = True) -> dict[str, Any]:
    from kanban_tui.backends.close import CloseBackend
    from kanban_tui.config import Settings
    from kanban_tui.factory import make_app

    backend = CloseBackend("test-close-key", base_url=base_url)
    # as `dealboard` opens a CRM: the journal and the saved board in the state dir (run.py gives each run its own)
    app = make_app(backend, Settings(poll_interval=3600, pipeline="Sales", confirm_final_moves=False),
                   board_copy=True, prefs=False, seen=False, app_prefs=False)

    def first_cards() -> bool:
        screen = app.screen
        session = getattr(screen, "session", None)
        return bool(session and session.board is not None and screen.columns and len(session.board) > 0)

    return await run_board(app, t0, keys, lambda: (backend.api.requests_sent, backend.api.bytes_read), first_cards,
                           polls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["floor", "local", "close"])
    parser.add_argument("target", nargs="?", help="workspace path (local) or base URL (close)")
    parser.add_argument("--t0", type=float, default=None)
    parser.add_argument("--keys", type=int, default=40, help="presses of each kind (navigation, move)")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile of the run here")
    parser.add_argument("--no-poll", action="store_true", help="no idle polls after the open (close)")
    args = parser.parse_args()
    t0 = args.t0 if args.t0 is not None else time.time()
    if args.mode == "floor":
        job = run_floor(t0)
    elif args.mode == "local":
        job = run_local(Path(args.target), t0, args.keys)
    else:
        job = run_close(args.target, t0, args.keys, polls=not args.no_poll)
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="enabled", interval=0.0005)
        with profiler:
            result = asyncio.run(job)
        args.profile.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    else:
        result = asyncio.run(job)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
