"""Sweeps on a real local Ray cluster (2 CPUs): a task whose worker process is killed mid-run,
retried by Ray, resuming the cell from its checkpoint; ctrl-c, then every cell as a Ray task."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from sweep_helpers import (
    assert_every_cell_complete,
    assert_stopped_in_its_first_cell,
    epochs_by_loss,
    epochs_written,
    grid_text,
    parent_of,
    run_processes_of,
)

from memtui.runlog import read_run
from memtui.sweep.manifest import Manifest
from memtui.sweep.runner import sweep_command

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_a_cell_whose_ray_worker_dies_is_retried_and_resumes_its_checkpoint(ray_cluster, tmp_path,
                                                                             capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text(grid_text(epochs=15, subset=400, axes="seed = [0]", retries=2))
    sweep_dir = tmp_path / "sw"
    cell_dir = sweep_dir / "cells" / "seed-0"
    killed: list[int] = []

    def killer() -> None:  # SIGKILL the Ray worker that runs the cell, after two epochs
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            pids = run_processes_of(cell_dir) if epochs_written(cell_dir) >= 3 else []
            if pids:
                worker = parent_of(pids[0])
                os.kill(worker, signal.SIGKILL)
                killed.append(worker)
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    assert sweep_command(grid, sweep_dir, on="ray") == 0, capsys.readouterr().err
    thread.join()
    assert killed, "the cell ended before its worker could be killed"
    cell = Manifest.load(sweep_dir).cells[0]
    assert cell["status"] == "completed" and cell["attempts"] == 2, cell
    run = read_run(cell_dir)
    # The orphaned run got SIGTERM when its worker died, stopped at an epoch boundary, and the
    # retry continued from there.
    assert run.meta["resumed"][0]["after_epoch"] >= 2
    assert "attempt 2: memtui run --resume" in (cell_dir / "cell.log").read_text()
    for epochs in epochs_by_loss(cell_dir).values():
        assert epochs == list(range(1, 16))


def test_ctrl_c_stops_the_ray_tasks_and_resume_completes_them(ray_cluster, tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text(grid_text(epochs=20, subset=500, axes="seed = [0, 1]"))
    sweep_dir = tmp_path / "sw"
    metrics = sweep_dir / "cells" / "seed-0" / "metrics.jsonl"

    def interrupt() -> None:  # ctrl-c once the running cell has completed two epochs
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if metrics.is_file() and len(metrics.read_text().splitlines()) >= 6:
                break
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    assert sweep_command(grid, sweep_dir, on="ray", parallel=1) == 130
    thread.join()
    assert_stopped_in_its_first_cell(sweep_dir, epochs=20)

    capsys.readouterr()
    assert sweep_command(None, resume=sweep_dir, on="ray") == 0, capsys.readouterr().err
    assert "2 cells as Ray tasks (1 CPU, 0 GPU each; cluster 2 CPUs" in capsys.readouterr().err
    assert_every_cell_complete(sweep_dir, epochs=20)  # each task ran its own cell
    assert ray.is_initialized()  # a cluster the caller started is left running
