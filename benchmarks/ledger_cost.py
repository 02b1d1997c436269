"""What the sample ledger costs: epoch wall time with ``ledger.enabled`` on and off, side by side.

    python benchmarks/ledger_cost.py                       # demo and mnist-noisy (subset), CPU
    python benchmarks/ledger_cost.py --rounds 3 --data-dir DIR

Each workload runs ``--rounds`` times with the ledger off and on, alternating which goes first,
every run a real ``memtui`` run (session.start_run, run log, checkpoints, one training thread) in
this process. Two figures per run:

- wall: the epochs' wall time, from one EpochEnded to the next (so the ledger's file writes
  and the checkpoints count), the first epoch left out (warm-up, first checkpoint);
- inside: the time spent in the ledger's own calls (the evaluation pass's observations, the
  epoch's update and figures, the file writes), timed around them in the ledger-on runs: on a CPU
  every one of them is synchronous, and this figure is far less noisy than a difference of
  walls on a shared machine.

The cost is reported as inside / wall of the same run, and as the median ratio of walls.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATA_DIR = os.environ.get(
    "MEMTUI_SHARED_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
#: workload -> overrides: small enough for a shared 2-core CPU
WORKLOADS: dict[str, dict[str, Any]] = {
    "demo": {"epochs": 15},
    "mnist-noisy": {"epochs": 6, "data.subset": 10000, "data.test_subset": 2000},
}


class Stopwatch:
    """Time spent in wrapped methods, summed."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, owner: type, name: str) -> None:
        inner: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        setattr(owner, name, timed)


class EpochClock:
    """A sink: the wall time of each epoch after the first, and the ledger time inside it."""

    critical = False

    def __init__(self, watch: Stopwatch) -> None:
        self.watch = watch
        self.marks: list[tuple[float, float]] = []

    def handle(self, event: Any) -> None:
        from memtui.events import EpochEnded

        if isinstance(event, EpochEnded):
            self.marks.append((time.perf_counter(), self.watch.seconds))

    def totals(self) -> tuple[float, float]:
        (t0, l0), (t1, l1) = self.marks[0], self.marks[-1]
        return t1 - t0, l1 - l0


def one_run(preset: str, overrides: dict[str, Any], enabled: bool, watch: Stopwatch,
            root: Path) -> tuple[float, float]:
    from memtui.config import apply_overrides, load_preset
    from memtui.session import start_run

    config = apply_overrides(load_preset(preset), {
        **overrides, "ledger.enabled": enabled, "device": "cpu",
        "out": str(root / f"{preset}-{'on' if enabled else 'off'}-{time.monotonic_ns()}")})
    clock = EpochClock(watch)
    run = start_run(config, sinks=[clock], threads=1)
    finished = run.execute()
    if finished.status != "completed":
        raise RuntimeError(f"{preset} ended {finished.status}: {finished.message}")
    return clock.totals()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    args = parser.parse_args()

    from memtui.ledger import Ledger, LedgerFiles

    watch = Stopwatch()
    for owner, names in ((Ledger, ("begin_epoch", "observe", "end_epoch", "state_dict")),
                         (LedgerFiles, ("epoch_ended", "write"))):
        for name in names:
            watch.wrap(owner, name)
    root = Path(tempfile.mkdtemp(prefix="memtui-ledger-cost-"))
    print(f"load before: {Path('/proc/loadavg').read_text().strip()}")
    for name in args.workloads.split(","):
        overrides = dict(WORKLOADS[name])
        if name != "demo":
            overrides["data.data_dir"] = args.data_dir
        walls: dict[bool, list[float]] = {False: [], True: []}
        shares = []
        for round_ in range(args.rounds):
            for enabled in ((False, True) if round_ % 2 == 0 else (True, False)):
                wall, inside = one_run(name, overrides, enabled, watch, root)
                walls[enabled].append(wall)
                if enabled:
                    shares.append(inside / wall)
                print(f"{name} round {round_ + 1} ledger {'on ' if enabled else 'off'}: "
                      f"epochs 2-{overrides['epochs']} {wall:.2f} s"
                      + (f", in the ledger {inside:.3f} s ({inside / wall:.2%})" if enabled else "")
                      + f"; load {Path('/proc/loadavg').read_text().split()[0]}", flush=True)
        ratios = [on / off for on, off in zip(walls[True], walls[False])]
        print(f"{name}: ledger share of the epoch (inside / wall) median "
              f"{statistics.median(shares):.2%} (min {min(shares):.2%}, max {max(shares):.2%}); "
              f"wall on/off median {statistics.median(ratios):.3f} "
              f"(per round: {', '.join(f'{r:.3f}' for r in ratios)})")
    print(f"load after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
