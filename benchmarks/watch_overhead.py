"""What `memtui watch` costs with several runs on screen: CPU seconds of the app's thread per
wall second while it follows growing run directories.

Five run directories of four losses each (the fake demo-shaped curves of the tests; no torch)
grow by one epoch per run every ``--epoch-s`` seconds, written line by line as RunLogWriter
does. The app (Textual, headless run_test, 160x48, default redraw throttle) follows them through
MultiRunSource, first showing the overlay of all 5 × 4 series with their bands, then the
panes; the main thread's CPU time (time.thread_time) is measured over ``--seconds`` of each.
The source threads' polling is reported apart (process CPU minus the app thread); the writer
is a separate process.

    python benchmarks/watch_overhead.py [--seconds 60] [--epoch-s 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tui"))

from memtui.events import EpochEnded, EpochMetrics, LossInfo, RunStarted  # noqa: E402
from memtui.runlog import RunLogWriter, to_record  # noqa: E402
from memtui.tui.app import MemtuiApp  # noqa: E402
from memtui.tui.sources import (  # noqa: E402
    SEVERAL_RUNS_POLL_S,
    WATCH_POLL_S,
    MultiRunSource,
    RunDirSource,
)
from memtui.tui.widgets.charts.epoch_chart import EpochChart  # noqa: E402
from memtui.tui.widgets.overlay.overlay_view import OverlayView  # noqa: E402
from memtui.tui.widgets.panes.loss_pane import LossPane  # noqa: E402

from tui_helpers import FAKE_CONFIG  # noqa: E402

LOSSES = (LossInfo("CE", "ce", {}, False), LossInfo("MSE", "mse", {}, False),
          LossInfo("RLL", "rll", {"alpha": 0.1}, True), LossInfo("MAE", "mae", {}, True))
RATE = {"CE": 0.08, "MSE": 0.04, "RLL": 0.004, "MAE": 0.002}
EPOCHS = 400


def values(label: str, epoch: int, seed: int) -> dict[str, float]:
    memorized = 0.1 + 0.88 * (1 - math.exp(-RATE[label] * epoch)) + 0.01 * seed
    clean = 0.6 + 0.38 * (1 - math.exp(-0.3 * epoch))
    return {"train_acc": 0.6 * clean + 0.4 * memorized, "memorized": memorized,
            "recovered": max(0.0, 0.5 - memorized / 2), "clean_acc": clean,
            "test_acc": 0.8 - 0.3 * (memorized - 0.1), "test_loss": 0.5 + 1.5 * memorized,
            "train_loss": 1.8 * math.exp(-0.05 * epoch) + 0.1, "lr": 0.1, "seconds": 1.0,
            "eval_seconds": 0.1, "images_per_s": 5000.0}


def start_runs(root: Path, runs: int, epochs: int = EPOCHS) -> list[Path]:
    paths = []
    for seed in range(runs):
        config = json.loads(json.dumps(FAKE_CONFIG))
        config.update(seed=seed, epochs=epochs)
        if seed >= 3:
            config["corruption"]["noise"] = 0.8
        path = root / f"run{seed}"
        path.mkdir()
        RunLogWriter(path).handle(RunStarted(str(path), config, LOSSES, "cpu", 5000, 1000, 2000))
        paths.append(path)
    return paths


def grow(paths: list[Path], epoch_s: float, epochs: int = EPOCHS) -> None:
    """The writer, in its own process (``--write``): an epoch per run every ``epoch_s``."""
    epoch = 0
    while epoch < epochs:
        time.sleep(epoch_s)
        epoch += 1
        for seed, path in enumerate(paths):
            with (path / "metrics.jsonl").open("a") as fh:
                for info in LOSSES:
                    record = to_record(EpochMetrics(epoch, info.label,
                                                    values(info.label, epoch, seed)))
                    fh.write(json.dumps(record) + "\n")
                fh.write(json.dumps(to_record(EpochEnded(epoch, epochs, epoch_s))) + "\n")


REDRAWS = {"overlay": 0, "panes": 0, "values": 0}


def counted(cls: type, view: str) -> None:
    """Count the redraws of the overlay and of the panes (a pane redraws its two charts)."""
    show = cls.show

    def wrapper(self, *args, **kwargs):
        REDRAWS[view] += 1
        return show(self, *args, **kwargs)

    cls.show = wrapper  # type: ignore[attr-defined]


async def measure(paths: list[Path], seconds: float) -> dict[str, float]:
    counted(OverlayView, "overlay")
    counted(LossPane, "panes")
    show_values = LossPane.show_values

    def counted_values(self):
        REDRAWS["values"] += 1
        return show_values(self)

    LossPane.show_values = counted_values  # type: ignore[method-assign]
    poll_s = WATCH_POLL_S if len(paths) == 1 else SEVERAL_RUNS_POLL_S  # as `memtui watch` does
    app = MemtuiApp(MultiRunSource([RunDirSource(p, poll_s) for p in paths],
                                   [p.name for p in paths]))
    out: dict[str, float] = {}
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(3)
        for view, keys in (("overlay", ["o"]), ("panes", ["o"])):
            for key in keys:
                await pilot.press(key)
            await pilot.pause(2)
            wall, cpu, proc = time.perf_counter(), time.thread_time(), time.process_time()
            drawing = EpochChart.drawing_seconds
            redraws, values = REDRAWS[view], REDRAWS["values"]
            epochs = app.comparison.runs[0].epochs_done
            await asyncio.sleep(seconds)
            wall = time.perf_counter() - wall
            out[f"{view}: app thread, CPU s per wall s"] = (time.thread_time() - cpu) / wall
            out[f"{view}: source threads, CPU s per wall s"] = (
                time.process_time() - proc - (time.thread_time() - cpu)) / wall
            out[f"{view}: of which drawing charts (CPU s per s)"] = (
                EpochChart.drawing_seconds - drawing) / wall
            out[f"{view}: redraws ({'overlay' if view == 'overlay' else 'a pane'}) per minute"] = (
                (REDRAWS[view] - redraws) / (len(LOSSES) if view == "panes" else 1) * 60 / wall)
            if view == "panes":  # a full redraw of a pane draws its values too
                out["panes: values redraws (a pane) per minute"] = (
                    (REDRAWS["values"] - values) / len(LOSSES) * 60 / wall)
            out[f"{view}: epochs followed"] = app.comparison.runs[0].epochs_done - epochs
        await pilot.press("q")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--epoch-s", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=EPOCHS,
                        help="of each run (the charts also redraw every tenth of a run)")
    parser.add_argument("--write", type=Path, nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        grow(args.write, args.epoch_s, args.epochs)
        return
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="memtui-watch-bench-") as tmp:
        paths = start_runs(Path(tmp), args.runs, args.epochs)
        writer = subprocess.Popen([sys.executable, __file__, "--epoch-s", str(args.epoch_s),
                                   "--epochs", str(args.epochs), "--write", *map(str, paths)])
        try:
            result = asyncio.run(measure(paths, args.seconds))
        finally:
            writer.terminate()
            writer.wait()
    for key, value in result.items():
        print(f"{key:45s} {value:.4f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
