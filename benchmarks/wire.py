"""What the app writes to a terminal, byte for byte, under a real pty (no tmux, no headless driver).

    python -m benchmarks.wire                       # 64 and 10,000 demo cards: bytes per key, idle, first frame
    python -m benchmarks.wire --sizes 10000 --presses 20 --json

The app runs as a user starts it, `python -m kanban_tui --demo --demo-size N`, in a pty of 120x36 with
TERM=xterm-256color (no COLORTERM: 256 colors, as over ssh, which does not pass COLORTERM on; `--truecolor`
for 24-bit colors), and fresh XDG dirs (nothing of this machine's config or state is read or written).
A thread reads everything the app writes, with when. Each key is written to the pty as a terminal sends it;
its bytes are what the app wrote from then until it has been quiet for QUIET seconds (the median over the
presses). Bytes do not depend on the machine; times do (they are ratios to a bare Textual app started the
same way, in the same run).

- `nav ↓↑`: `↓` and `↑` alternating on the first two cards (a focus change inside the view);
  `nav ↓ scroll`: `↓` once the cursor is at the view's bottom (the column scrolls by a card).
- `column ←→`: `→` and `←` alternating between the first two columns.
- `move`: `>` and `<` alternating (the focused card to the next status and back; the local workspace).
- `search key`: `/`, then each letter of SEARCH_TYPED and each backspace (the `/` itself not counted).
- `idle B/s`: nothing pressed for IDLE seconds after everything settled.
- `first frame`: start -> every column's label on screen (its header). The floor: a bare Textual app
  started the same way under the same pty, to its first text on screen.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COLS, ROWS = 120, 36
QUIET = 0.35
"""Seconds without output after which a key's answer is taken as complete."""
IDLE = 10.0
SEARCH_TYPED = "acme"
DOWN, UP, RIGHT, LEFT = "\x1b[B", "\x1b[A", "\x1b[C", "\x1b[D"
ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=$ ]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78DEHMNOPZc])")
FLOOR_APP = """
from textual.app import App
from textual.widgets import Static
class Floor(App):
    def compose(self):
        yield Static("floor-ready")
Floor().run()
"""


class Terminal:
    """A program in a pty of COLS x ROWS; what it writes, read by a thread, with when."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.t0 = time.perf_counter()
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.fd = master
        self.chunks: list[tuple[float, bytes]] = []
        self.total = 0
        self.text = bytearray()
        """What it wrote, its escape sequences taken out (to find words on screen)."""
        self.closed = False
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.5)
            except (OSError, ValueError):
                break
            if not ready:
                if self.process.poll() is not None:
                    break
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                break
            if not data:
                break
            with self.lock:
                self.chunks.append((time.perf_counter(), data))
                self.total += len(data)
                self.text += data
        self.closed = True

    def plain(self) -> str:
        with self.lock:
            return ESCAPES.sub(b"", bytes(self.text)).decode(errors="replace")

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def wait_for(self, words: list[str], timeout: float = 120.0) -> float:
        """Seconds from start until every word has been written (escape sequences aside)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline and not self.closed:
            with self.lock:
                text = ESCAPES.sub(b"", bytes(self.text)).decode(errors="replace")
                last = self.chunks[-1][0] if self.chunks else self.t0
            if all(w in text for w in words):
                return last - self.t0
            time.sleep(0.005)
        raise SystemExit(f"not on screen within {timeout:.0f} s: {words!r}\n{self.plain()[-1500:]}")

    def settle(self, quiet: float = QUIET, limit: float = 10.0, since: float = 0.0) -> None:
        """Until nothing has been written for `quiet` seconds (and none since `since`), at most `limit`."""
        start = time.perf_counter()
        while time.perf_counter() - start < limit:
            with self.lock:
                last = max(self.chunks[-1][0] if self.chunks else self.t0, since)
            if time.perf_counter() - last >= quiet:
                return
            time.sleep(0.02)

    def key(self, keys: str) -> int:
        """Bytes the app writes in answer to `keys`."""
        self.settle()
        before, sent = self.total, time.perf_counter()
        self.send(keys)
        self.settle(since=sent)
        return self.total - before

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.send("\x03")  # ctrl+c: quit
                self.process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.terminate()
                try:
                    self.process.wait(5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        os.close(self.fd)


def environment(home: Path, truecolor: bool = False) -> dict[str, str]:
    """TERM=xterm-256color, and no COLORTERM (ssh does not pass it on: 256 colors, as over a link)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "TMUX", "TEXTUAL", "COLORTERM"))}
    if truecolor:
        env["COLORTERM"] = "truecolor"
    env.update(TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(ROWS),
               HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_STATE_HOME=str(home / "state"),
               XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"))
    env.pop("NO_COLOR", None)
    return env


def floor_start(home: Path) -> float:
    """A bare Textual app's start to its first text on screen, under the same pty."""
    term = Terminal([sys.executable, "-c", FLOOR_APP], environment(home))
    try:
        return term.wait_for(["floor-ready"])
    finally:
        term.close()


def labels() -> list[str]:
    """What shows every column's header on screen: each label's first six letters. A header gives its label's end
    way to the column's count (`Negotiati… 918` at 120x36 with 10,000 cards), so waiting for whole labels waited
    for a frame that may never come: when the columns are first drawn with their counts, `Negotiation` never is."""
    sys.path.insert(0, str(ROOT))
    from kanban_tui.backends.demo_data import demo_pipeline

    return [s.label[:6] for s in demo_pipeline(7).statuses]


def first_frame(size: int, home: Path) -> float:
    """Start -> every column's label on screen, the app started alone (nothing pressed)."""
    term = Terminal([sys.executable, "-m", "kanban_tui", "--demo", "--demo-size", str(size)], environment(home))
    try:
        return term.wait_for(labels())
    finally:
        term.close()


def measure(size: int, presses: int, home: Path, idle: float = IDLE, truecolor: bool = False) -> dict[str, Any]:
    # the first demo start of a size makes the demo and keeps it in the cache dir (fresh here): that start is
    # `first_frame_cold`; the measured start below is a later one, from the kept copy
    cold = first_frame(size, home)
    term = Terminal([sys.executable, "-m", "kanban_tui", "--demo", "--demo-size", str(size)],
                    environment(home, truecolor))
    out: dict[str, Any] = {"size": size, "first_frame_cold": cold}
    try:
        out["first_frame"] = term.wait_for(labels())
        out["synced"] = term.wait_for(["synced"])
        term.settle(1.0)
        out["start_bytes"] = term.total
        # idle: nothing pressed
        term.settle()
        before, start = term.total, time.perf_counter()
        time.sleep(idle)
        out["idle_bps"] = (term.total - before) / (time.perf_counter() - start)
        out["nav"] = [term.key(DOWN if i % 2 == 0 else UP) for i in range(presses)]
        # the cursor to the view's bottom, then each `↓` scrolls the column by a card
        for _ in range(8):
            term.key(DOWN)
        out["nav_scroll"] = [term.key(DOWN) for _ in range(presses)]
        for _ in range(16):
            term.key(UP)
        out["column"] = [term.key(RIGHT if i % 2 == 0 else LEFT) for i in range(presses)]
        out["move"] = [term.key(">" if i % 2 == 0 else "<") for i in range(presses)]
        term.key("/")
        search = []
        for _ in range(max(1, presses // (2 * len(SEARCH_TYPED)))):
            search += [term.key(letter) for letter in SEARCH_TYPED]
            search += [term.key("\x7f") for _ in SEARCH_TYPED]
        out["search"] = search
        term.key("\x1b")
    finally:
        term.close()
    return out


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


TARGETS = {"nav": 1200, "column": 2500, "move": 4000, "search": 12000, "idle_bps": 100}


def table(results: list[dict[str, Any]], floor: float, floors: list[float]) -> str:
    def cell(value: float, target: float | None) -> str:
        mark = "" if target is None else (" ✓" if value <= target else " ✗")
        return f"{value:,.0f}{mark}"

    lines = [
        f"Bytes the app writes to a {COLS}x{ROWS} xterm-256color pty (`python -m benchmarks.wire`; medians over the "
        "presses; ✓/✗ against issue 25's targets: nav ≤ 1,200, column ≤ 2,500, move ≤ 4,000, search ≤ 12,000, "
        "idle ≤ 100 B/s).",
        "",
        "| demo cards | nav ↓↑ | nav ↓ scrolling | column ←→ | move >< | search key | idle B/s | first screen B "
        "| first frame s (× floor) | first frame, first demo of its size s (× floor) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['size']:,} | {cell(median(r['nav']), TARGETS['nav'])} | {cell(median(r['nav_scroll']), None)} "
            f"| {cell(median(r['column']), TARGETS['column'])} | {cell(median(r['move']), TARGETS['move'])} "
            f"| {cell(median(r['search']), TARGETS['search'])} | {cell(r['idle_bps'], TARGETS['idle_bps'])} "
            f"| {r['start_bytes']:,} | {r['first_frame']:.3f} ({r['first_frame'] / floor:.1f}×) "
            f"| {r['first_frame_cold']:.3f} ({r['first_frame_cold'] / floor:.1f}×) |"
        )
    lines += ["", f"Floor (bare Textual app under the same pty, start → first text): {floor:.3f} s, median of "
              f"{len(floors)} ({', '.join(f'{f:.3f}' for f in floors)}). Times are noisy on a shared machine; bytes "
              "are exact up to timing (a key answered in two frames can write a little more than in one)."]
    return "\n".join(lines)


def run(sizes: list[int], presses: int, floors_per_size: int = 2,
        truecolor: bool = False) -> tuple[list[dict[str, Any]], list[float]]:
    results, floors = [], []
    with tempfile.TemporaryDirectory(prefix="dealboard-wire-") as tmp:
        home = Path(tmp)
        for size in sizes:
            floors += [floor_start(home) for _ in range(floors_per_size)]
            results.append(measure(size, presses, home, truecolor=truecolor))
            print(f"wire {size}: nav {median(results[-1]['nav']):.0f} B, column {median(results[-1]['column']):.0f} B,"
                  f" move {median(results[-1]['move']):.0f} B, search {median(results[-1]['search']):.0f} B, idle "
                  f"{results[-1]['idle_bps']:.0f} B/s", file=sys.stderr)
        floors += [floor_start(home) for _ in range(floors_per_size)]
    return results, floors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,10000")
    parser.add_argument("--presses", type=int, default=16, help="presses of each kind (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="the raw counts too")
    parser.add_argument("--truecolor", action="store_true", help="COLORTERM=truecolor (24-bit colors: more bytes)")
    args = parser.parse_args()
    results, floors = run([int(s) for s in args.sizes.split(",") if s], args.presses, truecolor=args.truecolor)
    if args.json:
        print(json.dumps({"results": results, "floors": floors}))
    print(table(results, median(floors), floors))


if __name__ == "__main__":
    main()
