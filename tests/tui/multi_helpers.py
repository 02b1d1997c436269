"""Run directories written from the fake event stream (no torch): several seeds and noise rates,
for the multi-run view, the leaderboard and remote watch."""

from __future__ import annotations

import copy
import math
from pathlib import Path

from memtui.events import EpochEnded, EpochMetrics, Event, RunFinished, RunStarted
from memtui.runlog import RunLogWriter

from tui_helpers import FAKE_CONFIG, FAKE_LOSSES, fake_values


def run_events(seed: int, noise: float = 0.4, epochs: int = 12, finished: bool = True
               ) -> list[Event]:
    """The fake three-loss run, shifted by seed and noise so seeds differ a little."""
    config = copy.deepcopy(FAKE_CONFIG)
    config["seed"] = seed
    config["corruption"]["noise"] = noise
    config["epochs"] = epochs
    stream: list[Event] = [RunStarted("", config, FAKE_LOSSES, "cpu", 2000, 1000,
                                      int(2000 * noise))]
    for epoch in range(1, epochs + 1):
        for info in FAKE_LOSSES:
            values = fake_values(info.label, epoch)
            wobble = 0.01 * (seed - 1) + 0.005 * math.sin(epoch + seed)
            values = {k: (v + wobble if k in ("memorized", "test_acc", "train_acc") else v)
                      for k, v in values.items()}
            values["memorized"] = min(1.0, values["memorized"] * (noise / 0.4))
            stream.append(EpochMetrics(epoch, info.label, values))
        stream.append(EpochEnded(epoch, epochs, 0.5))
    if finished:
        stream.append(RunFinished("completed", epochs, ""))
    return stream


def write_run(path: Path, events: list[Event]) -> Path:
    path.mkdir(parents=True)
    writer = RunLogWriter(path)
    for event in events:
        if isinstance(event, RunStarted):
            event = RunStarted(str(path), event.config, event.losses, event.device,
                               event.num_train, event.num_test, event.num_corrupted)
        writer.handle(event)
    return path


def write_runs(root: Path) -> list[Path]:
    """Three seeds at 40% noise and one run at 80%."""
    runs = [write_run(root / f"s{seed}", run_events(seed)) for seed in (0, 1, 2)]
    runs.append(write_run(root / "n08", run_events(0, noise=0.8)))
    return runs
