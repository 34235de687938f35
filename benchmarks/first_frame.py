"""Start -> first frame and whole board of the demo, against the bare Textual app, alternated in one loop.

    python -m benchmarks.first_frame                    # 5 rounds, 64 and 10,000 demo cards
    python -m benchmarks.first_frame --rounds 3 --sizes 10000

Each round starts the floor (`wire.FLOOR_APP`) and then the app at each size, as `benchmarks/wire.py` does (a real
120x36 pty, fresh XDG dirs for the whole loop: the first start of a large size makes the demo and keeps it in the
cache dir, later ones copy it). First frame: every column's label on screen; whole: `synced` on the status line.
Quicker than `benchmarks.wire` (no keys) for an A/B of the start: run it in two trees one after the other.

`--bare-board` also starts `benchmarks/bare_board.py` in each round, on a workspace of each size: the same columns
and first cards drawn by a bare Textual app from one SQL read, with the board's stylesheet and no dealboard code.
It is the least a Textual first frame of this board can cost, so it says how much of the app's distance from
the floor is Textual's and how much is dealboard's own.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from . import wire


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="64,10000")
    parser.add_argument("--bare-board", action="store_true", help="also time benchmarks/bare_board.py at each size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    labels = wire.labels()
    floors: list[float] = []
    first: dict[int, list[float]] = {s: [] for s in sizes}
    whole: dict[int, list[float]] = {s: [] for s in sizes}
    bare: dict[int, list[float]] = {s: [] for s in sizes}
    with tempfile.TemporaryDirectory(prefix="dealboard-first-") as tmp:
        home = Path(tmp)
        if args.bare_board:
            from kanban_tui.backends.local_schema import create_workspace

            for size in sizes:
                create_workspace(home / f"bare-{size}.sqlite3", demo_size=size)
        for _ in range(args.rounds):
            floors.append(wire.floor_start(home))
            for size in sizes if args.bare_board else ():
                bare_argv = [wire.sys.executable, "-m", "benchmarks.bare_board", str(home / f"bare-{size}.sqlite3")]
                term = wire.Terminal(bare_argv, wire.environment(home))
                try:
                    bare[size].append(term.wait_for(labels))
                finally:
                    term.close()
            for size in sizes:
                term = wire.Terminal([wire.sys.executable, "-m", "kanban_tui", "--demo", "--demo-size", str(size)],
                                     wire.environment(home))
                try:
                    first[size].append(term.wait_for(labels))
                    whole[size].append(term.wait_for(["synced"]))
                finally:
                    term.close()
    floor = statistics.median(floors)
    print(f"floor {floor:.3f} s ({', '.join(f'{f:.3f}' for f in floors)})")
    for size in sizes:
        f, w = statistics.median(first[size]), statistics.median(whole[size])
        print(f"{size:>6,} cards: first frame {f:.3f} s ({f / floor:.2f}x), whole {w:.3f} s ({w / floor:.2f}x); "
              f"first frames {', '.join(f'{x:.3f}' for x in first[size])}")
        if bare[size]:
            b = statistics.median(bare[size])
            print(f"{size:>6,} cards, bare board (benchmarks/bare_board.py): first frame {b:.3f} s ({b / floor:.2f}x); "
                  f"{', '.join(f'{x:.3f}' for x in bare[size])}")


if __name__ == "__main__":
    main()
