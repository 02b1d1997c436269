"""How much does the live view slow training? Images/s of the same preset with and without it.

Each round trains the preset
  - "no UI": the engine alone (run log only) in a plain thread, exactly as the UI's thread worker
    runs it, so the only difference to the next is the app;
  - "UI": under the Textual app running headless (run_test, 160x48: every widget is laid out and
    rendered as in a terminal, only the final write to a tty is skipped);
  - "UI+r": the same with the resource panel shown (`r`), whose figures it redraws every tick;
and compares the engine's own images/s (training images per second of each epoch, evaluation
excluded) and the wall time of the whole run. Rounds rotate the order so drift on a shared
machine hits every side.

    .venv/bin/python benchmarks/ui_overhead.py [--preset demo] [--epochs 10] [--rounds 6]

It also times the resource monitor's sample (memtui.resources), taken in a thread of its own
once a second on every side.

Both sides prepare the engine as `memtui run` does for the live view: the main thread with one
torch thread, training in the worker with the machine's count (see memtui/session.py). The main
thread never trains here: once it has run torch with two threads, OpenMP's idle pool of the main
thread halves the speed of any worker thread's training on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import torch

from memtui.config import apply_overrides, load_preset
from memtui.events import EpochMetrics
from memtui.resources import Sampler
from memtui.session import Run, start_run
from memtui.tui.app import MemtuiApp
from memtui.tui.sources import LiveSource

THREADS = torch.get_num_threads()  # before anything lowers the main thread's count


class Speeds:
    """A sink keeping each epoch's images/s (one value per epoch: every loss reports the same)."""
    critical = False

    def __init__(self) -> None:
        self.per_epoch: dict[int, float] = {}

    def handle(self, event) -> None:
        if isinstance(event, EpochMetrics) and event.values.get("images_per_s"):
            self.per_epoch[event.epoch] = event.values["images_per_s"]

    def median(self) -> float:
        # the first epoch warms up allocators and caches on either side; leave it out
        values = [v for epoch, v in sorted(self.per_epoch.items()) if epoch > 1]
        return statistics.median(values or list(self.per_epoch.values()))


def make_run(config, run_dir: Path, speeds: Speeds) -> Run:
    return start_run(apply_overrides(config, {"out": run_dir}), sinks=[speeds], threads=THREADS)


def without_ui(config, run_dir: Path) -> tuple[float, float]:
    speeds = Speeds()
    run = make_run(config, run_dir, speeds)
    start = time.perf_counter()
    thread = threading.Thread(target=run.execute, name="engine")
    thread.start()
    thread.join()
    return speeds.median(), time.perf_counter() - start


def with_ui(config, run_dir: Path, resources: bool = False) -> tuple[float, float]:
    speeds = Speeds()
    source = LiveSource(make_run(config, run_dir, speeds))

    async def drive() -> float:
        app = MemtuiApp(source)
        async with app.run_test(size=(160, 48)) as pilot:
            if resources:
                await pilot.press("r")
            start, cpu = time.perf_counter(), time.thread_time()
            # not pilot.pause() in a loop: each call makes every widget answer a callback, load
            # that a terminal user never adds
            await asyncio.to_thread(source.done.wait)
            wall = time.perf_counter() - start
            UI_CPU.setdefault("UI+r" if resources else "UI", []).append(
                (time.thread_time() - cpu, wall))
            await pilot.press("q")
        return wall

    wall = asyncio.run(drive())
    return speeds.median(), wall


#: (CPU seconds of the app's thread, wall seconds) while training, per UI run: what the view
#: costs, measured on its own thread, so it does not depend on the machine's other load
UI_CPU: dict[str, list[tuple[float, float]]] = {}


def sample_cost(count: int = 200) -> float:
    """CPU seconds of one resource sample (NVML where there is one, psutil's CPU and RSS)."""
    sampler = Sampler()
    start = time.thread_time()
    for _ in range(count):
        sampler.sample()
    return (time.thread_time() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    config = apply_overrides(load_preset(args.preset), {"epochs": args.epochs})

    sides = [("no UI", without_ui), ("UI", with_ui), ("UI+r", partial(with_ui, resources=True))]
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in sides}
    with tempfile.TemporaryDirectory(prefix="memtui-bench-") as tmp:
        for round_ in range(args.rounds):
            shift = round_ % len(sides)
            for name, run in sides[shift:] + sides[:shift]:
                speed, wall = run(config, Path(tmp) / f"{name.replace(' ', '')}-{round_}")
                results[name].append((speed, wall))
                print(f"round {round_ + 1} {name:>5}: {speed:10,.0f} img/s  {wall:6.1f} s wall",
                      flush=True)

    medians = {name: (statistics.median(s for s, _ in runs), statistics.median(w for _, w in runs))
               for name, runs in results.items()}
    print(f"\npreset {args.preset}, {args.epochs} epochs, {args.rounds} round(s), medians:")
    for name, (speed, wall) in medians.items():
        print(f"  {name:>5}: {speed:10,.0f} img/s   {wall:6.1f} s wall")
    base, base_wall = medians["no UI"]
    for side in ("UI", "UI+r"):
        ui, ui_wall = medians[side]
        print(f"  {side} vs no UI: {(ui - base) / base:+.1%} img/s, "
              f"{(ui_wall - base_wall) / base_wall:+.1%} wall (medians over rounds)")
        paired = [ui_run[0] / base_run[0] - 1
                  for base_run, ui_run in zip(results["no UI"], results[side])]
        print(f"  {side} vs no UI, paired within each round: median "
              f"{statistics.median(paired):+.1%} img/s "
              f"(rounds: {', '.join(f'{p:+.1%}' for p in paired)})")
        cpu = sum(c for c, _ in UI_CPU[side])
        wall = sum(w for _, w in UI_CPU[side])
        print(f"  {side}: the app's own thread: {cpu:.2f} s CPU over {wall:.1f} s of training "
              f"({cpu / wall:.1%} of one core)")
    cost = sample_cost()
    print(f"  a resource sample: {cost * 1e3:.2f} ms CPU, at 1 Hz {cost:.2%} of one core")


if __name__ == "__main__":
    main()
