"""What the sweep tests share: tiny grid files, a sweep built in-process, process lookup."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from memtui import cli


def grid_text(epochs: int = 2, axes: str = '"corruption.noise" = [0.2, 0.6]\nseed = [0, 1]',
              subset: int = 200, retries: int = 1, extra: str = "") -> str:
    """A grid over the embedded demo data: a 32-unit MLP, CPU, a checkpoint every epoch."""
    return f"""
base = "demo"
name = "tiny"
[set]
epochs = {epochs}
"data.subset" = {subset}
"data.test_subset" = 200
"model.width" = 32
device = "cpu"
checkpoint_every = 1
"schedule.kind" = "constant"
{extra}
[grid]
{axes}
[resources]
retries = {retries}
"""


def call_main(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["memtui", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    return 0 if exited.value.code is None else exited.value.code


def sweep_in_process(tmp: Path, monkeypatch, text: str) -> Path:
    """A finished sweep whose cells ran in this process (`memtui run` through cli.main): real run
    directories without a subprocess per cell, for tests of what reads sweeps."""
    from memtui.sweep.cell import CELL_TOML
    from memtui.sweep.grid import load_grid
    from memtui.sweep.runner import create_sweep

    grid_file = tmp / "grid.toml"
    grid_file.write_text(text)
    grid = load_grid(grid_file)
    sweep_dir = tmp / "sweep"
    manifest = create_sweep(grid, text, sweep_dir)
    for cell in grid.cells:
        cell_dir = manifest.cell_dir(cell.name)
        code = call_main(monkeypatch, "run", "--preset", str(cell_dir / CELL_TOML), "--out",
                         str(cell_dir), "--no-ui")
        assert code == 0
        manifest.update(cell.name, status="completed", attempts=1,
                        epochs_completed=cell.config.epochs)
    return sweep_dir


def epochs_written(cell_dir: Path) -> int:
    """How many epochs the cell's metrics.jsonl holds (whole lines only)."""
    metrics = cell_dir / "metrics.jsonl"
    if not metrics.is_file():
        return 0
    text = metrics.read_text()
    whole = text[:text.rfind("\n") + 1]
    return len({json.loads(line)["epoch"] for line in whole.splitlines() if line})


def run_processes_of(cell_dir: Path) -> list[int]:
    """Pids of `memtui run` processes working on ``cell_dir`` (from /proc)."""
    pids = []
    needle = str(cell_dir.resolve()).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        parts = cmdline.split(b"\0")
        if b"memtui" in parts and b"run" in parts and any(needle in p for p in parts):
            pids.append(int(entry))
    return pids


def parent_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise LookupError(pid)


def epochs_by_loss(cell_dir: Path) -> dict[str, list[int]]:
    from memtui.runlog import read_run

    run = read_run(cell_dir)
    return {label: [r["epoch"] for r in run.metrics_of(label)] for label in run.loss_labels}


def assert_stopped_in_its_first_cell(sweep_dir: Path, epochs: int) -> None:
    """A two-seed sweep run one cell at a time and stopped like ctrl-c after its first cell's
    second epoch: that cell stopped with its completed epochs, the other never started."""
    from memtui.runlog import read_run
    from memtui.sweep.manifest import Manifest

    cells = {cell["name"]: cell for cell in Manifest.load(sweep_dir).cells}
    assert cells["seed-1"]["status"] == "pending" and cells["seed-1"]["attempts"] == 0
    assert cells["seed-0"]["status"] == "stopped", cells
    summary = read_run(sweep_dir / "cells" / "seed-0").summary
    assert summary["status"] == "stopped" and 2 <= summary["epochs_completed"] < epochs


def assert_every_cell_complete(sweep_dir: Path, epochs: int) -> None:
    """Every cell completed as an ordinary run directory of its own seed, with each epoch of
    every loss exactly once: none repeated by a resume, none missing."""
    from memtui.runlog import read_run
    from memtui.sweep.manifest import Manifest

    for cell in Manifest.load(sweep_dir).cells:
        run = read_run(sweep_dir / "cells" / cell["name"])
        assert cell["status"] == "completed" and run.summary["status"] == "completed", cell
        assert run.config["seed"] == cell["overrides"]["seed"]
        for epochs_logged in epochs_by_loss(run.path).values():
            assert epochs_logged == list(range(1, epochs + 1)), (cell["name"], epochs_logged)
