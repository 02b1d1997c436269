"""Never lose a run: checkpoints, resume, and stopping by signal.

Specification:
- a run writes an atomic checkpoint every `checkpoint_every` epochs and when it ends;
- `memtui run --resume DIR` continues from the last checkpoint with the run's own config and
  reaches exactly the metrics of an uninterrupted run (on CPU);
- SIGTERM, SIGHUP and SIGINT stop a headless run within seconds, with every completed epoch in
  metrics.jsonl, a checkpoint, and summary.json saying "stopped";
- after SIGKILL every line of metrics.jsonl is valid JSON and --resume still works.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from memtui.checkpoint import Checkpoint
from memtui.config import load_preset
from memtui.engine import Engine
from memtui.events import EpochEnded
from memtui.runlog import read_run
from memtui.runlog.ledger import LEDGER_FILE
from memtui.session import resume_run, start_run

TINY_PRESET = """
name = "tiny"
description = "a few seconds of training for resume tests"
epochs = {epochs}
batch_size = 64
checkpoint_every = {checkpoint_every}
seed = 3
[data]
dataset = "demo"
subset = {subset}
[corruption]
labels = "random"
noise = 0.4
[model]
arch = "mlp"
width = 32
[optimizer]
lr = 0.05
[schedule]
kind = "multistep"
milestones = [3]
[[losses]]
name = "ce"
[[losses]]
name = "rll"
"""


def write_preset(tmp_path: Path, epochs: int = 5, checkpoint_every: int = 2, subset: int = 600) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_PRESET.format(epochs=epochs, checkpoint_every=checkpoint_every,
                                       subset=subset))
    return path


class StopAfterEpoch:
    critical = False

    def __init__(self, engine: Engine, epoch: int) -> None:
        self.engine, self.epoch = engine, epoch

    def handle(self, event) -> None:
        if isinstance(event, EpochEnded) and event.epoch == self.epoch:
            self.engine.control.request_stop()


def run_in_process(preset: Path, out: Path, stop_after: int | None = None) -> Engine:
    config = load_preset(str(preset)).model_copy(update={"out": out})
    out.mkdir(parents=True)
    run = start_run(config)
    if stop_after is not None:
        run.add_sink(StopAfterEpoch(run.engine, stop_after))
    run.execute()
    return run.engine


def resume_in_process(run_dir: Path, epochs: int | None = None) -> None:
    resume_run(run_dir, epochs=epochs).execute()


METRICS_THAT_MUST_MATCH = ("train_acc", "memorized", "recovered", "clean_acc", "test_acc",
                           "test_loss", "train_loss", "lr")


def quality(run_dir: Path) -> dict[tuple[int, str], list[float]]:
    """Every epoch's metrics but timings, by (epoch, loss): what must match across resumes."""
    return {(r["epoch"], r["loss"]): [r[k] for k in METRICS_THAT_MUST_MATCH]
            for r in read_run(run_dir).records if r["event"] == "epoch_metrics"}


def assert_same_metrics(run_dir: Path, reference: Path, prefix: bool = False) -> None:
    """Equal up to float32 rounding: the same state gives the same predictions, but a BLAS kernel
    may sum a loss in another order from one process (or allocation) to the next. ``prefix``:
    the reference may have run longer; its first epochs must match."""
    got, expected = quality(run_dir), quality(reference)
    if prefix:
        last = max(epoch for epoch, _ in got)
        expected = {key: values for key, values in expected.items() if key[0] <= last}
    assert list(got) == list(expected)
    for key, values in expected.items():
        assert got[key] == pytest.approx(values, rel=1e-5, abs=1e-7), key


def assert_same_ledger(run_dir: Path, reference: Path) -> None:
    """The sample ledger's file, every array bit for bit: the ledger state travels with the
    checkpoint, so a resumed run's ledger is the uninterrupted run's."""
    with np.load(run_dir / LEDGER_FILE) as got, np.load(reference / LEDGER_FILE) as expected:
        assert sorted(got.files) == sorted(expected.files)
        for key in expected.files:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=key, strict=True)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("uninterrupted")
    run_in_process(write_preset(base), base / "run")
    return base / "run"


def test_a_run_checkpoints_periodically_and_at_the_end(uninterrupted):
    checkpoint = Checkpoint.load(uninterrupted)
    assert checkpoint.epochs_completed == 5
    assert read_run(uninterrupted).summary["status"] == "completed"
    assert not list(uninterrupted.glob("*.tmp")), "temporary files are renamed, never left"


def test_a_stopped_run_resumes_to_the_same_metrics_as_an_uninterrupted_one(tmp_path, uninterrupted):
    preset = write_preset(tmp_path)
    run_in_process(preset, tmp_path / "run", stop_after=3)
    assert read_run(tmp_path / "run").summary["status"] == "stopped"
    assert Checkpoint.load(tmp_path / "run").epochs_completed == 3

    resume_in_process(tmp_path / "run")

    resumed = read_run(tmp_path / "run")
    assert resumed.summary["status"] == "completed"
    assert_same_metrics(tmp_path / "run", uninterrupted)
    assert_same_ledger(tmp_path / "run", uninterrupted)
    assert resumed.meta["resumed"][0]["after_epoch"] == 3


def test_resume_drops_epochs_measured_after_the_last_checkpoint(tmp_path, uninterrupted):
    # A kill -9 after epoch 3 with checkpoints every 2 epochs: epoch 3 is measured again.
    preset = write_preset(tmp_path, checkpoint_every=2)
    run_dir = tmp_path / "run"
    run_in_process(preset, run_dir, stop_after=3)
    two_epochs_in = tmp_path / "two"
    run_in_process(preset, two_epochs_in, stop_after=2)
    Checkpoint.load(two_epochs_in).save(run_dir)  # the checkpoint of epoch 2, as if 3 never saved
    (run_dir / "summary.json").unlink()

    resume_in_process(run_dir)

    assert_same_metrics(run_dir, uninterrupted)
    assert_same_ledger(run_dir, uninterrupted)  # its epoch 3 is folded in once, not twice


def test_resume_can_extend_a_finished_run(tmp_path):
    preset = write_preset(tmp_path, epochs=2)
    run_in_process(preset, tmp_path / "run")
    resume_in_process(tmp_path / "run", epochs=3)
    run = read_run(tmp_path / "run")
    assert run.summary["epochs_completed"] == 3
    assert sorted({r["epoch"] for r in run.records}) == [1, 2, 3]


# -- signals, in a real headless process --------------------------------------------------------


# One thread per process: tiny models gain nothing from more, and a busy machine makes OpenMP's
# spinning threads slow them down many times over.
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def start_headless(preset: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "memtui", "run", "--no-ui", "--preset", str(preset), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, start_new_session=True,
    )


def epochs_logged(out: Path, process: subprocess.Popen) -> int:
    assert process.poll() is None, process.communicate()[1].decode()[-2000:]
    metrics = out / "metrics.jsonl"
    if not metrics.exists():
        return 0
    text = metrics.read_text()
    whole = text[:text.rfind("\n") + 1]  # a line being written is not read yet
    return len({json.loads(line)["epoch"] for line in whole.splitlines() if line})


def wait_for_epochs(out: Path, epochs: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    metrics = out / "metrics.jsonl"
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        if metrics.exists():
            done = {json.loads(line)["epoch"] for line in metrics.read_text().splitlines() if line}
            if len(done) >= epochs:
                return
        time.sleep(0.05)
    raise AssertionError(f"no {epochs} epochs within {timeout} s")


def every_line_is_json(path: Path) -> list[dict]:
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


STOPS = {"SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP, "SIGINT": signal.SIGINT,
         "SIGKILL": signal.SIGKILL}


def test_a_stopped_or_killed_run_keeps_every_epoch_and_resumes_to_the_uninterrupted_metrics(
        tmp_path):
    """One real process per signal, all four at once (most of each one's time is the interpreter
    starting), each stopped after at least two epochs, then resumed for two more."""
    preset = write_preset(tmp_path, epochs=400, checkpoint_every=1, subset=1500)
    processes = {name: start_headless(preset, tmp_path / name) for name in STOPS}
    sent = {}
    deadline = time.monotonic() + 120
    while len(sent) < len(STOPS):  # each gets its signal as soon as it has two epochs
        assert time.monotonic() < deadline, f"no two epochs within 120 s: {set(STOPS) - set(sent)}"
        for name, process in processes.items():
            if name not in sent and epochs_logged(tmp_path / name, process) >= 2:
                process.send_signal(STOPS[name])
                sent[name] = time.monotonic()
        time.sleep(0.05)
    totals = {}
    for name, process in processes.items():
        out = tmp_path / name
        _, stderr = process.communicate(timeout=30)
        assert time.monotonic() - sent[name] < 10, f"{name}: a stop must not wait for the end"

        lines = [r for r in every_line_is_json(out / "metrics.jsonl") if "loss" in r]
        logged = max(line["epoch"] for line in lines)
        assert {(line["epoch"], line["loss"]) for line in lines} == {
            (epoch, loss) for epoch in range(1, logged + 1) for loss in ("CE", "RLL")}, name
        checkpointed = Checkpoint.load(out).epochs_completed
        if name == "SIGKILL":
            assert not (out / "summary.json").exists()
            assert checkpointed in (logged - 1, logged)  # killed between the line and the checkpoint
        else:
            assert process.returncode == 130, stderr.decode()[-2000:]
            assert b"Traceback" not in stderr and b"run stopped" in stderr, name
            summary = read_run(out).summary
            assert summary["status"] == "stopped", name
            assert summary["epochs_completed"] == logged == checkpointed, name
        totals[name] = checkpointed + 2

    # Resumed here rather than in four more processes: what a resume reads is the directory
    # alone (the command line's --resume has its own tests).
    for name, total in totals.items():
        assert resume_run(tmp_path / name, epochs=total).execute().status == "completed", name
    reference = tmp_path / "reference"
    reference.mkdir()
    # A multistep schedule does not depend on the total, so one longer run is every run's reference.
    run_in_process(write_preset(reference, epochs=max(totals.values()), checkpoint_every=1,
                                subset=1500), reference / "run")
    for name in STOPS:
        assert_same_metrics(tmp_path / name, reference / "run", prefix=True)


def test_an_error_in_training_fails_the_run_cleanly_with_a_checkpoint_to_resume_from(tmp_path,
                                                                                   uninterrupted):
    preset = write_preset(tmp_path)
    run_dir = tmp_path / "run"
    config = load_preset(str(preset)).model_copy(update={"out": run_dir})
    run_dir.mkdir()
    engine = start_run(config).engine
    real_step = engine.bank.train_step
    steps = []

    def failing_step(x, y, active):
        steps.append(1)
        if len(steps) == 15:  # inside epoch 2 (10 batches an epoch)
            raise RuntimeError("CUDA out of memory (simulated)")
        return real_step(x, y, active)

    engine.bank.train_step = failing_step
    finished = engine.run()

    assert finished.status == "failed"
    run = read_run(run_dir)
    assert run.summary["status"] == "failed"
    assert "CUDA out of memory (simulated)" in run.summary["message"]
    assert "Traceback" in (run_dir / "error.log").read_text()
    assert Checkpoint.load(run_dir).epochs_completed == 1

    resume_in_process(run_dir)
    assert_same_metrics(run_dir, uninterrupted)


def test_an_error_in_one_losss_step_stops_that_loss_only(tmp_path):
    preset = write_preset(tmp_path, epochs=3)
    run_dir = tmp_path / "run"
    config = load_preset(str(preset)).model_copy(update={"out": run_dir, "backend": "separate"})
    run_dir.mkdir()
    engine = start_run(config).engine
    rll = engine.bank.losses[1]
    calls = []

    def out_of_memory_in_epoch_two(logits, target):
        calls.append(1)
        if len(calls) > 12:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return rll(logits, target)

    engine.bank.losses[1] = out_of_memory_in_epoch_two
    finished = engine.run()

    assert finished.status == "completed"
    run = read_run(run_dir)
    assert [r["epoch"] for r in run.metrics_of("CE")] == [1, 2, 3]
    assert [r["epoch"] for r in run.metrics_of("RLL")] == [1]
    assert run.summary["losses"]["RLL"]["diverged"] == (
        "step failed: RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
    assert "Traceback" in (run_dir / "error.log").read_text()
    assert Checkpoint.load(run_dir).active == [0]


def test_a_resume_that_fails_leaves_the_run_directory_as_it_was(tmp_path):
    from memtui.errors import RunDirError

    run_dir = tmp_path / "run"
    run_in_process(write_preset(tmp_path), run_dir, stop_after=3)
    meta = json.loads((run_dir / "config.json").read_text())
    meta["config"]["data"]["subset"] = 599  # other corrupted labels: the checkpoint cannot apply
    (run_dir / "config.json").write_text(json.dumps(meta))
    stale = Checkpoint.load(run_dir)
    stale.epochs_completed = 1  # so that a careless resume would drop epochs 2 and 3
    stale.save(run_dir)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}

    with pytest.raises(RunDirError, match="corrupted labels differ"):
        resume_in_process(run_dir)

    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_when_every_loss_fails_mid_epoch_the_last_good_checkpoint_stays(tmp_path):
    from memtui.bank import LossStepError

    run_dir = tmp_path / "run"
    config = load_preset(str(write_preset(tmp_path))).model_copy(update={"out": run_dir})
    run_dir.mkdir()
    engine = start_run(config).engine
    real_step, steps = engine.bank.train_step, []

    def every_loss_fails_in_epoch_two(x, y, active):
        steps.append(1)
        if len(steps) > 12:
            raise LossStepError({i: MemoryError("simulated") for i in active}, [])
        return real_step(x, y, active)

    engine.bank.train_step = every_loss_fails_in_epoch_two
    finished = engine.run()

    assert finished.status == "failed"
    assert "CE: step failed: MemoryError: simulated" in finished.message
    checkpoint = Checkpoint.load(run_dir)
    assert (checkpoint.epochs_completed, checkpoint.active) == (1, [0, 1])


def test_a_stop_asked_for_after_the_last_epoch_leaves_the_run_completed(tmp_path):
    engine = run_in_process(write_preset(tmp_path, epochs=2), tmp_path / "run", stop_after=2)
    assert engine.control.stop_requested
    assert read_run(tmp_path / "run").summary["status"] == "completed"
