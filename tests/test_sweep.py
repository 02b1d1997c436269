"""Real sweeps with the local executor: every cell a `memtui run` subprocess on a tiny config.

Each cell starts a Python interpreter that imports torch (a few seconds), so the grids here are
as small as what they show allows. A sweep run, stopped like ctrl-c and resumed is specified
once, in tests/tui/test_sweep_board.py, where the board's q sends the sweep process its SIGINT.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from sweep_helpers import epochs_by_loss, epochs_written, grid_text, run_processes_of

from memtui.runlog import read_run
from memtui.sweep.cell import move_aside, plan
from memtui.sweep.local import plan_slots
from memtui.sweep.manifest import Manifest
from memtui.sweep.runner import sweep_command

pytestmark = pytest.mark.slow


def manifest_of(sweep_dir: Path) -> dict[str, dict]:
    return {c["name"]: c for c in Manifest.load(sweep_dir).cells}


def test_a_cell_whose_run_process_is_killed_is_retried_from_its_checkpoint(tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text(grid_text(epochs=15, subset=400, axes="seed = [0]", retries=1))
    sweep_dir = tmp_path / "sw"
    cell_dir = sweep_dir / "cells" / "seed-0"
    killed: list[int] = []

    def killer() -> None:  # SIGKILL the run once it has checkpointed two epochs
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            pids = run_processes_of(cell_dir) if epochs_written(cell_dir) >= 3 else []
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    assert sweep_command(grid, sweep_dir, parallel=1) == 0
    thread.join()
    assert killed, "the run ended before it could be killed"
    err = capsys.readouterr().err
    assert "killed by signal 9" in err and "retrying from its checkpoint" in err
    cell = manifest_of(sweep_dir)["seed-0"]
    assert cell["status"] == "completed" and cell["attempts"] == 2
    run = read_run(cell_dir)
    assert run.meta["resumed"][0]["after_epoch"] >= 2  # continued, not started again
    for epochs in epochs_by_loss(cell_dir).values():
        assert epochs == list(range(1, 16))


def test_a_run_killed_before_its_first_checkpoint_is_moved_aside_and_started_afresh(tmp_path):
    cell_dir = tmp_path / "cells" / "c"
    cell_dir.mkdir(parents=True)
    (cell_dir / "cell.toml").write_text("")
    (cell_dir / "config.json").write_text("{}")
    (cell_dir / "metrics.jsonl").write_text("")
    assert plan(cell_dir) == "fresh"
    aside = tmp_path / "cells" / "c.failed-1"
    assert (aside / "config.json").is_file() and (aside / "metrics.jsonl").is_file()
    assert sorted(p.name for p in cell_dir.iterdir()) == ["cell.toml"]
    (cell_dir / "config.json").write_text("{}")
    assert move_aside(cell_dir).name == "c.failed-2"


def test_slots_follow_cores_or_gpus(monkeypatch):
    monkeypatch.setattr("memtui.sweep.local.cpu_cores", lambda: 8)
    slots, threads = plan_slots({"cpus_per_run": 2}, None, say=lambda _: None)
    assert len(slots) == 4 and threads == 2 and slots[0] == {}
    slots, threads = plan_slots({}, 3, say=lambda _: None)
    assert len(slots) == 3 and threads == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    slots, threads = plan_slots({"gpus_per_run": 0.25}, None, say=lambda _: None)
    assert [s["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0"] * 4 + ["1"] * 4 and threads == 1
    slots, _ = plan_slots({"gpus_per_run": 2}, None, say=lambda _: None)
    assert slots == [{"CUDA_VISIBLE_DEVICES": "0,1"}]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    said = []
    slots, _ = plan_slots({"gpus_per_run": 0.5}, None, say=said.append)
    assert len(slots) == 8 and "no GPU is visible" in said[0]
