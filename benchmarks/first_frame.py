"""Start -> first frame and whole board of the demo, against the bare Textual app, alternated in one loop.

    python -m benchmarks.first_frame                    # 5 rounds, 64 and 10,000 demo cards
    python -m benchmarks.first_frame --rounds 3 --sizes 10000

Each round starts the floor (`wire.FLOOR_APP`) and then the app at each size, as `benchmarks/wire.py` does (a real
120x36 pty, fresh XDG dirs for the whole loop: the first start of a large size makes the demo and keeps it in the
cache dir, later ones copy it). First frame: every column's label on screen; whole: `synced` on the status line.
Quicker than `benchmarks.wire` (no keys) for an A/B of the start: run it in two trees one after the other.
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
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    labels = wire.labels()
    floors: list[float] = []
    first: dict[int, list[float]] = {s: [] for s in sizes}
    whole: dict[int, list[float]] = {s: [] for s in sizes}
    with tempfile.TemporaryDirectory(prefix="dealboard-first-") as tmp:
        home = Path(tmp)
        for _ in range(args.rounds):
            floors.append(wire.floor_start(home))
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


if __name__ == "__main__":
    main()
