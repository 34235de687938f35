"""The benchmark, in one command:

    python -m benchmarks.run                      # local 1k/10k/50k; Close 10k/50k at 50 and 200 ms; prints tables
    python -m benchmarks.run --write              # ... and puts them in benchmarks/RESULTS.md
    python -m benchmarks.run --sizes 10000 --close-sizes 10000 --latencies 50 --runs 3 --profile   # + pyinstrument
    python -m benchmarks.run --sizes "" --close-sizes ""  # the bytes a terminal gets alone (benchmarks/wire.py)

The first table is `benchmarks/wire.py`: the app started as a user starts it (`--demo --demo-size N`) under a
real 120x36 pty, and the bytes it writes per key and idle, with its first frame against a bare Textual app.

Every figure comes from `benchmarks/probe.py` run in a fresh process (so every time counts
interpreter start-up and imports), on a demo workspace of N opportunities in 8 statuses
made for the run in a temp dir, and against the fake Close server of the tests started
on loopback (answering each request after a latency, as across a network, and holding to a
rate limit of `--rate-limit` requests per 10 s window). The floor, a bare Textual app's start
to first paint, is measured in the same run, between the others. Medians over the runs; key
latencies pooled over the runs (median and p95).

Close, per size and latency, each run is two starts in one fresh state dir (`XDG_STATE_HOME`):
a cold start (nothing saved: first full screen, then the whole board) which leaves the saved
board behind, then a warm start from it (the saved board at once, then only what changed, to
`✓ synced`). Before each start the runner waits for the fake's rate-limit window to end (it
asks once and reads the `RateLimit` header's `reset`), so that every start begins with a whole
window, as a first start in the morning would; floor runs fill the wait. Requests and 429s are
counted on both sides: the app's `requests_sent`, and the fake's request log.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import textual

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
CLOSE_LATENCIES_MS = (50, 200)
"""What the fake Close waits before each answer: a network round trip and Close's own time (50 ms: a
generous guess for a good connection; 200 ms: a far or slow one). Without it a loopback fake answers in
~1 ms, and "usable while pages arrive" could not be seen: the last page would land before the first key."""
CLOSE_RATE_LIMIT = 200
"""Requests per 10 s window the fake allows (its own default is 100). Close does not publish its
limits; its rate-limit page gives 20 requests a second per API key as its example (an organization
gets three times that), so 200 per 10 s: one key, that example, in the fake's fixed windows."""
KEYS_ROW = (10000, 50)
"""The Close size and latency whose cold start also measures keys and idle polls (as before)."""
API_KEY = "test-close-key"


def probe(*args: str, profile: Path | None = None, state: Path | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.probe", *args]
    if profile is not None:
        command += ["--profile", str(profile)]
    env = dict(os.environ)
    if state is not None:
        env["XDG_STATE_HOME"] = str(state)
    t0 = time.time()
    done = subprocess.run(
        [*command, "--t0", repr(t0)], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False, env=env,
    )
    if done.returncode != 0:
        raise SystemExit(f"probe {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeCloseServer:
    """The tests' fake Close on loopback, in its own process (its CPU is not the app's), its request log in a file."""

    def __init__(self, size: int, latency_ms: int, rate_limit: int, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.log_file = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.close", "--port", str(self.port), "--sales", str(size),
             "--other", "0", "--no-validate", "--rate-limit", str(rate_limit), "--latency", str(latency_ms),
             "--key", API_KEY],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log_file,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        raise SystemExit(f"the fake Close server did not start: {log.read_text()[-2000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/"

    def window_left(self) -> float:
        """Seconds until the fake's rate-limit window ends (one request, read from its `RateLimit` header)."""
        request = urllib.request.Request(self.url + "me/", headers={
            "Authorization": "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                header = answer.headers.get("RateLimit", "")
        except urllib.error.HTTPError as exc:  # a 429: the window is used up
            header = exc.headers.get("RateLimit", "")
        match = re.search(r"reset=([\d.]+)", header)
        return float(match[1]) if match else 0.0

    def mark(self) -> int:
        """Where the request log ends now."""
        self.log_file.flush()
        return self.log.stat().st_size

    def since(self, mark: int) -> tuple[int, int]:
        """Requests, and of them 429s, the fake logged after `mark`."""
        with self.log.open("rb") as log:
            log.seek(mark)
            lines = [line for line in log.read().decode(errors="replace").splitlines() if " -> " in line]
        return len(lines), sum(" -> 429" in line for line in lines)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log_file.close()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def pick(runs: list[dict[str, Any]], key: str) -> float:
    """The median of `key` over the runs that have it."""
    return median([r[key] for r in runs if key in r])


def summarize(runs: list[dict[str, Any]], floor: float) -> dict[str, Any]:
    nav = [x for r in runs for x in r["keys"]["nav"]]
    move = [x for r in runs for x in r["keys"]["move"]]
    search = [x for r in runs for x in r["keys"].get("search", [])]
    opened = median([r["open"] for r in runs])
    polled = [r["poll"] for r in runs if "poll" in r]
    out: dict[str, Any] = {
        "runs": len(runs),
        "open": opened,
        "ratio": opened / floor,
        "nav": (median(nav), p95(nav), len(nav)),
        "move": (median(move), p95(move), len(move)),
        "search": (median(search), p95(search), len(search)),
        "poll_requests": median([p["requests"] for p in polled]),
        "poll_bytes": median([p["bytes"] for p in polled]),
        "poll_cpu": median([p["cpu_ms"] for p in polled]),
        "rss": median([r["rss_mb"] for r in runs]),
    }
    for key in ("first_cards", "first_screen", "first_screen_requests", "first_screen_bytes", "open_requests",
                "open_bytes", "server_requests", "server_429"):
        if any(key in r for r in runs):
            out[key] = pick(runs, key)
    if "first_screen" in out:
        out["first_ratio"] = out["first_screen"] / floor
    if runs and "server_requests" in runs[0]:
        out["server_429_max"] = max(r["server_429"] for r in runs)
        out["requests_max"] = max(r["open_requests"] for r in runs)
    during = [x for r in runs for x in r.get("keys_during_load", [])]
    out["during_load"] = (median(during), p95(during), len(during))
    out["warm"] = sum(bool(r.get("warm")) for r in runs)
    return out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def kb(n: float) -> str:
    return f"{n / 1024:,.0f} KB" if n >= 1024 else f"{n:,.0f} B"


def table(floor: float, floor_runs: int, local: dict[int, dict], cold: dict[tuple[int, int], dict],
          warm: dict[tuple[int, int], dict], rate_limit: int) -> str:
    lines = [
        f"Floor (bare Textual app, start → first paint): **{floor:.3f} s** median of {floor_runs} runs.",
        "",
        "Local workspace (SQLite): **first full screen** (start → every column's header count and first screenful "
        "drawn: the progressive first paint) and **whole board** (start → every card loaded, counts right, "
        "`✓ synced`).",
        "",
        "| cards | runs | first full screen s (× floor) | whole board s (× floor) | nav key ms median / p95 "
        "| move key ms median / p95 | idle poll: requests · bytes · CPU ms | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, s in local.items():
        lines.append(
            f"| {size:,} | {s['runs']} | {s.get('first_screen', float('nan')):.3f} "
            f"({s.get('first_ratio', float('nan')):.1f}×) "
            f"| {s['open']:.3f} ({s['ratio']:.1f}×) "
            f"| {ms(s['nav'][0])} / {ms(s['nav'][1])} | {ms(s['move'][0])} / {ms(s['move'][1])} "
            f"| {s['poll_requests']:.0f} · {s['poll_bytes']:,.0f} · {s['poll_cpu']:.1f} | {s['rss']:.0f} |"
        )
    searches = [f"{size:,} cards {ms(s['search'][0])} / {ms(s['search'][1])} ms" for size, s in local.items()
                if s["search"][2]]
    if searches:
        lines += ["", "Search (`/`, then each keystroke to the repaint showing its matches, median / p95; local): "
                  + "; ".join(searches) + "."]
    if cold:
        lines += [
            "",
            f"Close (the fake on loopback, one pipeline of N deals in 7 statuses, rate limit {rate_limit} requests per "
            "10 s window). Each run: a **cold** start in a fresh state dir, then a **warm** start from the board it "
            "saved. Requests and bytes: as the app counted them by that moment (medians); 429s: in the fake's log, "
            "most in any run. Target for the cold first full screen: 2 round trips + 0.5 s.",
            "",
            "| cards | ms a request | runs | warm open s (× floor) · requests · bytes | cold first full screen s "
            "· requests · bytes (target) | cold whole board s · requests · bytes | 429s | keys while loading ms "
            "median / p95 (keys) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for (size, latency), c in cold.items():
            w = warm[(size, latency)]
            target = 2 * latency / 1000 + 0.5
            lines.append(
                f"| {size:,} | {latency} | {c['runs']} "
                f"| **{w['open']:.3f}** ({w['ratio']:.1f}×) · {w['open_requests']:.0f} (most {w['requests_max']}) "
                f"· {kb(w['open_bytes'])} "
                f"| **{c.get('first_screen', float('nan')):.3f}** · {c.get('first_screen_requests', float('nan')):.0f} "
                f"· {kb(c.get('first_screen_bytes', float('nan')))} (≤ {target:.2f}) "
                f"| **{c['open']:.3f}** · {c['open_requests']:.0f} · {kb(c['open_bytes'])} "
                f"| {max(c['server_429_max'], w['server_429_max'])} "
                f"| {ms(c['during_load'][0])} / {ms(c['during_load'][1])} ({c['during_load'][2]}) |"
            )
        keyed = [(k, c) for k, c in cold.items() if c["nav"][2]]
        for (size, latency), c in keyed:
            lines += [
                "",
                f"Close {size:,} at {latency} ms, after the cold start: nav key {ms(c['nav'][0])} / "
                f"{ms(c['nav'][1])} ms, "
                f"move key {ms(c['move'][0])} / {ms(c['move'][1])} ms (median / p95); idle poll "
                f"{c['poll_requests']:.0f} request · {c['poll_bytes']:,.0f} bytes · {c['poll_cpu']:.1f} ms CPU; "
                f"peak RSS {c['rss']:.0f} MB.",
            ]
        bad = [f"{size:,}/{latency} ms" for (size, latency), w in warm.items() if w["warm"] < w["runs"]]
        if bad:
            lines += ["", f"**Warm starts that did not open the saved board**: {', '.join(bad)}."]
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()
        dirty = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no", "--", "kanban_tui"],
            cwd=ROOT, capture_output=True, text=True, check=False).stdout.splitlines()
        code = f"; code at {head}" + (f" with {len(dirty)} files of kanban_tui/ uncommitted" if dirty else "")
    except OSError:
        code = ""
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, textual {textual.__version__}{code}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="kanban-tui benchmarks", formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000", help="local workspace sizes (default: %(default)s)")
    parser.add_argument("--close-sizes", default="10000,50000", help="fake Close sizes (default: %(default)s)")
    parser.add_argument("--latencies", default=",".join(map(str, CLOSE_LATENCIES_MS)),
                        help="fake Close ms per request (default: %(default)s)")
    parser.add_argument("--rate-limit", type=int, default=CLOSE_RATE_LIMIT,
                        help="fake Close requests per 10 s window (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default: %(default)s)")
    parser.add_argument("--slow-runs", type=int, default=3,
                        help="runs for Close rows of 50,000 cards or 200 ms (default: %(default)s)")
    parser.add_argument("--keys", type=int, default=30, help="presses of each kind per run (default: %(default)s)")
    parser.add_argument("--write", action="store_true", help=f"put the tables in {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--profile", action="store_true",
                        help="also write pyinstrument profiles to benchmarks/profiles/")
    parser.add_argument("--wire-sizes", default="64,10000",
                        help="demo sizes whose terminal bytes are counted under a pty (default: %(default)s)")
    parser.add_argument("--wire-presses", type=int, default=16,
                        help="presses of each kind there (default: %(default)s)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    close_sizes = [int(s) for s in args.close_sizes.split(",") if s]
    latencies = [int(s) for s in args.latencies.split(",") if s]
    row_floors: dict[Any, list[float]] = {}
    """The floor runs made while each row was measured: its ratios are to these (the shared machine's load
    moves during a run)."""
    local: dict[int, list] = {}
    cold: dict[tuple[int, int], list] = {}
    warm: dict[tuple[int, int], list] = {}
    profiles = ROOT / "benchmarks" / "profiles"
    started = time.time()
    loads = [os.getloadavg()]
    from benchmarks import wire

    wire_sizes = [int(s) for s in args.wire_sizes.split(",") if s]
    wire_table = ""
    if wire_sizes:
        wired, wire_floors = wire.run(wire_sizes, args.wire_presses)
        wire_table = wire.table(wired, median(wire_floors), wire_floors)
    loads.append(os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, str(ROOT))
        from kanban_tui.backends.local import create_workspace

        for size in sizes:
            path = Path(tmp) / f"bench-{size}.sqlite3"
            create_workspace(path, demo_size=size, statuses=8)
            runs = []
            here = row_floors[size] = []
            for _ in range(args.runs):
                here.append(probe("floor")["open"])
                runs.append(probe("local", str(path), "--keys", str(args.keys)))
            if args.profile:
                profiles.mkdir(exist_ok=True)
                probe("local", str(path), "--keys", "10", profile=profiles / f"local-{size}.txt")
            local[size] = runs
            loads.append(os.getloadavg())
            print(f"local {size}: first screen {pick(runs, 'first_screen'):.3f} s, whole "
                  f"{median([r['open'] for r in runs]):.3f} s", file=sys.stderr)
        for size in close_sizes:
            for latency in latencies:
                n = args.runs if (size, latency) == KEYS_ROW or (size < 50000 and latency < 200) else args.slow_runs
                server = FakeCloseServer(size, latency, args.rate_limit, Path(tmp) / f"close-{size}-{latency}.log")
                here = row_floors[(size, latency)] = []

                def start(*extra: str, state: Path, profile: Path | None = None,
                          server: FakeCloseServer = server, here: list[float] = here) -> dict[str, Any]:
                    # a whole rate-limit window for this start: a floor run or two while the last one ends
                    deadline = time.time() + server.window_left() + 0.05
                    for _ in range(2):
                        if time.time() < deadline - 1.0 or not here:
                            here.append(probe("floor")["open"])
                    time.sleep(max(0.0, deadline - time.time()))
                    mark = server.mark()
                    result = probe("close", server.url, *extra, state=state, profile=profile)
                    result["server_requests"], result["server_429"] = server.since(mark)
                    return result

                try:
                    colds, warms = [], []
                    for i in range(n):
                        state = Path(tmp) / f"state-{size}-{latency}-{i}"
                        keys = (["--keys", str(args.keys)] if (size, latency) == KEYS_ROW
                                else ["--keys", "0", "--no-poll"])
                        colds.append(start(*keys, state=state))
                        warms.append(start("--keys", "0", "--no-poll", state=state))
                        print(f"close {size} {latency} ms run {i + 1}: cold first screen "
                              f"{colds[-1].get('first_screen', float('nan')):.3f} s, whole {colds[-1]['open']:.3f} s "
                              f"({colds[-1]['open_requests']} requests, {colds[-1]['server_429']} 429s); warm "
                              f"{warms[-1]['open']:.3f} s ({warms[-1]['open_requests']} requests, warm="
                              f"{warms[-1]['warm']})", file=sys.stderr)
                    if args.profile:
                        profiles.mkdir(exist_ok=True)
                        state = Path(tmp) / f"state-{size}-{latency}-profile"
                        start("--keys", "0", "--no-poll", state=state,
                              profile=profiles / f"close-{size}-{latency}ms-cold.txt")
                        start("--keys", "0", "--no-poll", state=state,
                              profile=profiles / f"close-{size}-{latency}ms-warm.txt")
                finally:
                    server.stop()
                cold[(size, latency)], warm[(size, latency)] = colds, warms
                loads.append(os.getloadavg())
    floors = [f for here in row_floors.values() for f in here]
    floor = median(floors)
    text = "" if not floors else table(
        floor, len(floors),
        {size: summarize(runs, median(row_floors[size])) for size, runs in local.items()},
        {key: summarize(runs, median(row_floors[key])) for key, runs in cold.items()},
        {key: summarize(runs, median(row_floors[key])) for key, runs in warm.items()},
        args.rate_limit,
    )
    per_row = [f"{median(f):.3f}" for f in row_floors.values()]
    text = text.replace("runs.\n", f"runs (per row, in the order of the tables: {', '.join(per_row)} s; each row's "
                        "ratios are to its own).\n", 1)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    minutes = (time.time() - started) / 60
    load = ", ".join(f"{one:.1f}" for one, _, _ in loads)
    command = (f"python -m benchmarks.run --runs {args.runs} --slow-runs {args.slow_runs} --keys {args.keys} "
               f"--rate-limit {args.rate_limit} --wire-sizes {args.wire_sizes} --wire-presses {args.wire_presses}")
    block = (
        f"Run {stamp} on {machine()}; {minutes:.0f} min; 1-minute load average at the start and after each row: "
        f"{load}.\n`{command}`: {args.runs} runs per size ({args.slow_runs} for the Close rows of 50,000 cards or "
        f"200 ms a request), {args.keys} navigation and {args.keys} move keys per run.\n\n"
        + (f"{wire_table}\n\n" if wire_table else "") + (f"{text}\n" if text else "")
    )
    print(block)
    if args.write:
        current = RESULTS.read_text() if RESULTS.exists() else f"# Benchmark results\n\n{START}\n{END}\n"
        head, _, rest = current.partition(START)
        _, _, tail = rest.partition(END)
        RESULTS.write_text(f"{head}{START}\n{block}{END}{tail}")
        print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
