"""Real processes under real faults: a reader that goes away (`| head -3`), a closed stdout, and
`kill -9` at several moments after the first epoch, then `--resume`."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memtui.config import load_preset
from memtui.runlog import read_run
from memtui.session import resume_run, start_run

from helpers import TINY_TOML

REPO = Path(__file__).resolve().parents[1]
TIMING = ("seconds", "eval_seconds", "images_per_s")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _memtui(*args: str) -> list[str]:
    return [sys.executable, "-m", "memtui", *args]


def _preset(tmp_path: Path, epochs: int) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TOML.replace("epochs = 3", f"epochs = {epochs}"))
    return path


def _metrics(run_dir: Path) -> list[dict]:
    """The run's measurements, without the timings that differ between any two runs."""
    return [{k: v for k, v in r.items() if k not in TIMING}
            for r in read_run(run_dir).records if r["event"] == "epoch_metrics"]


@pytest.mark.slow
def test_a_closed_pipe_or_stdout_loses_nothing(tmp_path):
    preset = _preset(tmp_path, 3)
    piped, closed = tmp_path / "piped", tmp_path / "closed"
    command = " ".join(_memtui("run", "--no-ui", "--preset", str(preset), "--out", str(piped)))
    # Both at once: each takes a few seconds to import torch on a busy machine.
    head = subprocess.Popen(["bash", "-c", f"{command} 2>&1 | head -3; exit ${{PIPESTATUS[0]}}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
    shut = subprocess.Popen(["bash", "-c", " ".join(_memtui(
        "run", "--no-ui", "--preset", str(preset), "--out", str(closed))) + " >&-"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
    out, err = head.communicate(timeout=300)
    assert head.returncode == 0, err
    assert len(out.splitlines()) == 3 and "Traceback" not in out + err
    _, err = shut.communicate(timeout=300)
    assert shut.returncode == 0, err
    assert "Traceback" not in err
    for run_dir in (piped, closed):
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["epochs_completed"] == 3


def _epochs_ended(run_dir: Path) -> int:
    try:
        text = (run_dir / "metrics.jsonl").read_text()
    except FileNotFoundError:
        return 0
    return text.count('"event": "epoch_ended"')


@pytest.mark.slow
def test_kill_9_at_any_moment_after_epoch_1_then_resume_equals_an_uninterrupted_run(tmp_path):
    epochs = 30  # room after the last kill point: a quiet machine trains an epoch in ~30 ms
    preset = _preset(tmp_path, epochs)
    rng = random.Random(13)
    # Kill points: after the first, the third and the fifth epoch ended, plus a random delay of
    # up to 50 ms (mid-epoch, mid-checkpoint, mid-line).
    kill_after = [1, 3, 5]
    runs = {k: tmp_path / f"killed-{k}" for k in kill_after}
    procs = {k: subprocess.Popen(_memtui("run", "--no-ui", "--preset", str(preset), "--out",
                                         str(run_dir)), env=_env(), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
             for k, run_dir in runs.items()}
    # The uninterrupted reference, in this process meanwhile.
    reference = tmp_path / "reference"
    config = load_preset(str(preset)).model_copy(update={"out": reference})
    assert start_run(config).execute().status == "completed"

    killed_at = {}
    deadline = time.monotonic() + 300
    pending = dict(procs)
    while pending and time.monotonic() < deadline:
        for k, proc in list(pending.items()):
            if _epochs_ended(runs[k]) >= k:
                time.sleep(rng.uniform(0, 0.05))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed_at[k] = _epochs_ended(runs[k])
                del pending[k]
        time.sleep(0.005)
    assert not pending, "a run did not reach its kill point in time"

    for k, run_dir in runs.items():
        assert not (run_dir / "summary.json").exists(), f"run {k} finished before it was killed"
        resumed = resume_run(run_dir)
        assert resumed.execute().status == "completed"
        assert _metrics(run_dir) == _metrics(reference), f"killed after epoch {killed_at[k]}"
        assert _summary_without_timing(run_dir) == _summary_without_timing(reference)


def _summary_without_timing(run_dir: Path) -> dict:
    losses = read_run(run_dir).summary["losses"]
    return {label: {**loss, "final": {k: v for k, v in (loss["final"] or {}).items()
                                      if k not in TIMING}}
            for label, loss in losses.items()}
