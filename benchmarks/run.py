"""The benchmark, in one command:

    python -m benchmarks.run                      # 1k, 10k, 50k cards; 5 runs each; prints a table
    python -m benchmarks.run --write              # ... and puts it in benchmarks/RESULTS.md
    python -m benchmarks.run --sizes 10000 --runs 3 --profile   # + pyinstrument profiles

Every figure comes from `benchmarks/probe.py` run in a fresh process (so `open` counts
interpreter start-up and imports), on a demo workspace of N opportunities in 8 statuses
made for the run in a temp dir, and against the fake Close server of the tests started
on loopback (answering each request after `CLOSE_LATENCY_MS`, as across a network). The floor, a bare Textual app's start to first paint, is measured in the
same run, between the others. Medians over the runs; key latencies pooled over the runs
(median and p95).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import textual

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
CLOSE_LATENCY_MS = 50
"""What the fake Close waits before each answer: a network round trip and Close's own time
(a generous guess for a good connection). Without it a loopback fake answers in ~1 ms, and
"usable while pages arrive" could not be seen: the last page would land before the first key."""


def probe(*args: str, profile: Path | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.probe", *args]
    if profile is not None:
        command += ["--profile", str(profile)]
    t0 = time.time()
    done = subprocess.run(
        [*command, "--t0", repr(t0)], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"probe {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeCloseServer:
    """The tests' fake Close on loopback, in its own process (its CPU is not the app's)."""

    def __init__(self, size: int) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.close", "--port", str(self.port), "--sales", str(size),
             "--other", "0", "--no-validate", "--quiet", "--rate-limit", "1000000",
             "--latency", str(CLOSE_LATENCY_MS)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the fake Close server did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summarize(runs: list[dict[str, Any]], floor: float) -> dict[str, Any]:
    nav = [x for r in runs for x in r["keys"]["nav"]]
    move = [x for r in runs for x in r["keys"]["move"]]
    search = [x for r in runs for x in r["keys"].get("search", [])]
    opened = median([r["open"] for r in runs])
    out = {
        "runs": len(runs),
        "open": opened,
        "ratio": opened / floor,
        "nav": (median(nav), p95(nav), len(nav)),
        "move": (median(move), p95(move), len(move)),
        "search": (median(search), p95(search), len(search)),
        "poll_requests": median([r["poll"]["requests"] for r in runs]),
        "poll_bytes": median([r["poll"]["bytes"] for r in runs]),
        "poll_cpu": median([r["poll"]["cpu_ms"] for r in runs]),
        "rss": median([r["rss_mb"] for r in runs]),
    }
    if all("first_cards" in r for r in runs):
        out["first_cards"] = median([r["first_cards"] for r in runs])
    during = [r["key_during_load"] for r in runs if "key_during_load" in r]
    if during:
        out["key_during_load"] = median(during)
        out["still_loading"] = sum(bool(r.get("loading_when_key_pressed")) for r in runs)
    return out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def table(floor: float, floor_runs: int, local: dict[int, dict], close: dict[int, dict]) -> str:
    lines = [
        f"Floor (bare Textual app, start → first paint): **{floor:.3f} s** median of {floor_runs} runs.",
        "",
        "| board | cards | open s (× floor) | nav key ms median / p95 | move key ms median / p95 "
        "| idle poll: requests · bytes · CPU ms | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, results in (("local", local), (f"Close (fake, loopback, {CLOSE_LATENCY_MS} ms a request)", close)):
        for size, s in results.items():
            lines.append(
                f"| {kind} | {size:,} | {s['open']:.3f} ({s['ratio']:.1f}×) "
                f"| {ms(s['nav'][0])} / {ms(s['nav'][1])} | {ms(s['move'][0])} / {ms(s['move'][1])} "
                f"| {s['poll_requests']:.0f} · {s['poll_bytes']:,.0f} · {s['poll_cpu']:.1f} | {s['rss']:.0f} |"
            )
    searches = [f"{size:,} cards {ms(s['search'][0])} / {ms(s['search'][1])} ms" for size, s in local.items()
                if s["search"][2]]
    if searches:
        lines += ["", "Search (`/`, then each keystroke to the repaint showing its matches, median / p95; local): "
                  + "; ".join(searches) + "."]
    for size, s in close.items():
        if "first_cards" in s:
            lines.append("")
            lines.append(
                f"Close first load of {size:,}: first cards drawn at {s['first_cards']:.3f} s, whole board at "
                f"{s['open']:.3f} s; a key pressed while pages were still arriving repainted in "
                f"{ms(s.get('key_during_load', float('nan')))} ms (still loading in {s.get('still_loading', 0)} of "
                f"{s['runs']} runs)."
            )
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
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, textual {textual.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="kanban-tui benchmarks", formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000", help="local workspace sizes (default: %(default)s)")
    parser.add_argument("--close-sizes", default="1000,10000", help="fake Close sizes (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default: %(default)s)")
    parser.add_argument("--keys", type=int, default=30, help="presses of each kind per run (default: %(default)s)")
    parser.add_argument("--write", action="store_true", help=f"put the table in {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--profile", action="store_true", help="also write pyinstrument profiles to benchmarks/profiles/")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    close_sizes = [int(s) for s in args.close_sizes.split(",") if s]
    floors: list[float] = []
    local: dict[int, dict] = {}
    close: dict[int, dict] = {}
    profiles = ROOT / "benchmarks" / "profiles"
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, str(ROOT))
        from kanban_tui.backends.local import create_workspace

        for size in sizes:
            path = Path(tmp) / f"bench-{size}.sqlite3"
            create_workspace(path, demo_size=size, statuses=8)
            runs = []
            for _ in range(args.runs):
                floors.append(probe("floor")["open"])
                runs.append(probe("local", str(path), "--keys", str(args.keys)))
            if args.profile:
                profiles.mkdir(exist_ok=True)
                probe("local", str(path), "--keys", "10", profile=profiles / f"local-{size}.txt")
            local[size] = runs
            print(f"local {size}: open {median([r['open'] for r in runs]):.3f} s", file=sys.stderr)
        for size in close_sizes:
            server = FakeCloseServer(size)
            try:
                runs = []
                for _ in range(args.runs):
                    floors.append(probe("floor")["open"])
                    runs.append(probe("close", server.url, "--keys", str(args.keys)))
                if args.profile:
                    profiles.mkdir(exist_ok=True)
                    probe("close", server.url, "--keys", "10", profile=profiles / f"close-{size}.txt")
            finally:
                server.stop()
            close[size] = runs
            print(f"close {size}: open {median([r['open'] for r in runs]):.3f} s", file=sys.stderr)
    floor = median(floors)
    text = table(
        floor, len(floors),
        {size: summarize(runs, floor) for size, runs in local.items()},
        {size: summarize(runs, floor) for size, runs in close.items()},
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"Run {stamp} on {machine()}.\n`python -m benchmarks.run --runs {args.runs} --keys {args.keys}`: "
        f"{args.runs} runs per size, {args.keys} navigation and {args.keys} move keys per run.\n\n{text}\n"
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
