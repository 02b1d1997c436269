"""Real sweeps with the local executor: every cell a `memtui run` subprocess on a tiny config.

Each cell starts a Python interpreter that imports torch (a few seconds), so the grids here are
as small as what they show allows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


def test_a_local_sweep_runs_every_cell_as_a_run_directory(tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text(grid_text(axes='"corruption.noise" = [0.2, 0.6]'))
    sweep_dir = tmp_path / "sw"
    assert sweep_command(grid, sweep_dir, parallel=2) == 0
    err = capsys.readouterr().err
    assert "2 cells to run, 2 at a time" in err
    assert "[2/2]" in err and "sweep tiny: 2 completed" in err
    cells = manifest_of(sweep_dir)
    assert set(cells) == {"noise-0.2", "noise-0.6"}
    for name, cell in cells.items():
        assert cell["status"] == "completed" and cell["attempts"] == 1
        run = read_run(sweep_dir / "cells" / name)
        assert run.summary["status"] == "completed"
        assert run.config["corruption"]["noise"] == cell["overrides"]["corruption.noise"]
        assert epochs_by_loss(run.path) == {"CE": [1, 2], "MSE": [1, 2], "RLL": [1, 2]}
    # Each run got its share of the cores as torch threads.
    log = (sweep_dir / "cells" / "noise-0.2" / "cell.log").read_text()
    assert "attempt 1" in log
    # Resuming a finished sweep has nothing to do.
    assert sweep_command(None, resume=sweep_dir) == 0
    assert "every cell is complete" in capsys.readouterr().err


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


def test_ctrl_c_stops_every_cell_and_resume_completes_them_without_repeating_an_epoch(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(grid_text(epochs=20, subset=500, axes="seed = [0, 1]"))
    sweep_dir = tmp_path / "sw"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "memtui", "sweep", str(grid), "--out",
                             str(sweep_dir), "--parallel", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        metrics = sweep_dir / "cells" / "seed-0" / "metrics.jsonl"
        while time.monotonic() < deadline:  # the running cell has completed two epochs
            if metrics.is_file() and len(metrics.read_text().splitlines()) >= 6:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "stopping" in err
    cells = manifest_of(sweep_dir)
    assert cells["seed-1"]["status"] == "pending" and cells["seed-1"]["attempts"] == 0
    assert cells["seed-0"]["status"] == "stopped", cells
    summary = read_run(sweep_dir / "cells" / "seed-0").summary
    assert summary["status"] == "stopped" and 2 <= summary["epochs_completed"] < 20

    assert sweep_command(None, resume=sweep_dir, parallel=2) == 0
    cells = manifest_of(sweep_dir)
    assert all(cell["status"] == "completed" for cell in cells.values()), cells
    assert read_run(sweep_dir / "cells" / "seed-0").meta["resumed"][0]["after_epoch"] >= 2
    for name in cells:
        for epochs in epochs_by_loss(sweep_dir / "cells" / name).values():
            assert epochs == list(range(1, 21)), (name, epochs)


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
