"""What several test files share: the tiny experiment, an event recorder, the data folder.

(Test files import these from here, not from conftest.py: tests/tui has a conftest.py of its
own, and two modules named conftest cannot both be imported by name.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# ../shared/data beside the checkout (where CI puts it too), unless MEMTUI_SHARED_DATA says.
SHARED_DATA = Path(os.environ.get("MEMTUI_SHARED_DATA")
                   or Path(__file__).resolve().parents[2] / "shared" / "data")


def tiny_document(**changes: Any) -> dict[str, Any]:
    """An experiment on 256 embedded demo images with a 16-unit MLP: two epochs take a blink."""
    document: dict[str, Any] = {
        "name": "tiny",
        "data": {"dataset": "demo", "subset": 256, "test_subset": 128},
        "corruption": {"labels": "random", "noise": 0.4},
        "model": {"arch": "mlp", "width": 16, "depth": 1},
        "losses": [{"name": "ce"}, {"name": "mse"}, {"name": "rll"}],
        "optimizer": {"name": "sgd", "lr": 0.1},
        "epochs": 2,
        "batch_size": 64,
        "eval_batch_size": 512,
        "device": "cpu",
        "backend": "separate",
        "seed": 0,
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return document



class Recorder:
    """A sink that keeps every event it is given."""
    critical = False

    def __init__(self) -> None:
        self.events: list[Any] = []

    def handle(self, event: Any) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

#: tiny_document as a preset file, checkpointing at every epoch boundary (by time, set to 0).
TINY_TOML = """
name = "tiny"
epochs = 3
batch_size = 64
eval_batch_size = 512
device = "cpu"
backend = "separate"
checkpoint_seconds = 0
[data]
dataset = "demo"
subset = 256
test_subset = 128
[corruption]
labels = "random"
noise = 0.4
[model]
width = 16
[[losses]]
name = "ce"
[[losses]]
name = "rll"
"""


def full_disk_under_the_log(monkeypatch, from_epoch: int = 2) -> None:
    """The disk fills under metrics.jsonl: the run log's write of epoch ``from_epoch`` fails."""
    import errno
    import os

    from memtui.runlog import RunLogWriter

    real = RunLogWriter._append

    def append(self, record):
        if record.get("epoch") == from_epoch:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, record)

    monkeypatch.setattr(RunLogWriter, "_append", append)


def write_fake_run(path: Path, noise: float = 0.4, epochs: int = 4, done: int = 4,
                   end: str | None = "completed", best: float = 0.5) -> Path:
    """A run directory written by the run log from made-up events (no torch, no training): a
    two-loss run of ``epochs`` planned, ``done`` of them measured, test accuracy rising to
    ``best`` (CE) and ``best - 0.1`` (MSE); ended with ``end`` (completed, stopped, failed), or
    still being written (None: writer.json names this process, whose heartbeat is fresh)."""
    from memtui.events import EpochEnded, EpochMetrics, LossInfo, RunFinished, RunStarted
    from memtui.runlog import RunLogWriter

    config = {"name": "tiny", "epochs": epochs, "seed": 0,
              "data": {"dataset": "demo"}, "corruption": {"labels": "random", "noise": noise},
              "model": {"arch": "mlp", "width": 16, "depth": 1}}
    losses = (LossInfo("CE", "ce", {}, False), LossInfo("MSE", "mse", {}, False))
    path.mkdir(parents=True)
    writer = RunLogWriter(path)
    writer.handle(RunStarted(str(path), config, losses, "cpu", 256, 128, int(256 * noise)))
    for epoch in range(1, done + 1):
        for offset, info in enumerate(losses):
            accuracy = best * epoch / done - 0.1 * offset
            writer.handle(EpochMetrics(epoch, info.label, {"test_acc": accuracy,
                                                           "train_acc": accuracy}))
        writer.handle(EpochEnded(epoch, epochs, 0.1))
    if end is not None:
        writer.handle(RunFinished(end, done, "a step failed" if end == "failed" else ""))
    return path


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def write_fake_catalog(root: Path) -> dict[str, Path]:
    """runs/ with a completed, a stopped, a failed, a running and a dead-process run, and
    sweeps/ with a finished two-cell sweep: every status `memtui ls` tells apart."""
    import json

    runs = {
        "completed": write_fake_run(root / "runs" / "a-completed", best=0.8),
        "stopped": write_fake_run(root / "runs" / "b-stopped", done=2, end="stopped"),
        "failed": write_fake_run(root / "runs" / "c-failed", done=1, end="failed"),
        "running": write_fake_run(root / "runs" / "d-running", done=3, end=None),
        "gone": write_fake_run(root / "runs" / "e-gone", done=2, end=None),
    }
    writer = runs["gone"] / "writer.json"
    writer.write_text(json.dumps({**json.loads(writer.read_text()), "pid": dead_pid()}))
    sweep = root / "sweeps" / "f-sweep"
    cells = []
    for noise in (0.2, 0.6):
        name = f"noise-{noise}"
        write_fake_run(sweep / "cells" / name, noise=noise, best=1.0 - noise)
        cells.append({"name": name, "overrides": {"corruption.noise": noise},
                      "status": "completed", "attempts": 1, "epochs": 4,
                      "epochs_completed": 4, "message": ""})
    (sweep / "manifest.json").write_text(json.dumps({
        "schema_version": 1, "kind": "memtui-sweep", "name": "f-sweep", "base": "tiny",
        "axes": {"corruption.noise": [0.2, 0.6]}, "fixed": {}, "resources": {},
        "cells": cells}))
    return {**runs, "sweep": sweep}
