"""Never lose a run: checkpoints by time, the writer's health and lock, restarting a run that has
no checkpoint, every exit path writing the summary (a full disk, SystemExit), and reports of
unfinished runs. The real-process cases (broken pipe, closed stdout, kill -9) are in
tests/test_kill_resume.py."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from memtui import checkpoint as checkpoint_module
from memtui.checkpoint import Checkpoint
from memtui.cli import main
from memtui.errors import RunDirError
from memtui.events import EpochEnded
from memtui.report import report_runs
from memtui.runlog import STALE_S, WRITER_FILE, health, read_run
from memtui.session import resume_run, start_run

from helpers import TINY_TOML, Recorder, full_disk_under_the_log


class CheckpointProbe(Recorder):
    """At each epoch end, the epoch of the checkpoint on disk (None before the first)."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir
        self.seen: list[int | None] = []
        self.health: list[str] = []

    def handle(self, event):
        if isinstance(event, EpochEnded):
            path = self.run_dir / "checkpoint.pt"
            self.seen.append(Checkpoint.load(self.run_dir).epochs_completed if path.exists() else None)
            self.health.append(health(self.run_dir).state)


def test_checkpoints_follow_the_clock_as_well_as_the_epoch_count(tiny_config, tmp_path):
    # checkpoint_seconds=0: every epoch boundary is "a minute later"; the engine saves after the
    # epoch's events, so at the end of epoch k the checkpoint on disk is k-1's.
    run_dir = tmp_path / "timed"
    probe = CheckpointProbe(run_dir)
    config = tiny_config(epochs=3, checkpoint_every=1000, checkpoint_seconds=0, out=str(run_dir))
    start_run(config, sinks=[probe]).execute()
    assert probe.seen == [None, 1, 2]
    assert Checkpoint.load(run_dir).epochs_completed == 3

    run_dir = tmp_path / "hourly"
    probe = CheckpointProbe(run_dir)
    config = tiny_config(epochs=3, checkpoint_every=1000, checkpoint_seconds=3600,
                         out=str(run_dir))
    start_run(config, sinks=[probe]).execute()
    assert probe.seen == [None, 1, 1]  # the first boundary, then only the end
    assert Checkpoint.load(run_dir).epochs_completed == 3


def test_the_writer_records_itself_and_watchers_see_it_running_then_finished(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    probe = CheckpointProbe(run_dir)
    start_run(tiny_config(epochs=2, out=str(run_dir)), sinks=[probe]).execute()
    assert probe.health == ["running", "running"]
    writer = json.loads((run_dir / WRITER_FILE).read_text())
    assert writer["pid"] == os.getpid() and writer["finished"] is True
    assert writer["epochs_done"] == 2
    assert health(run_dir).text == "finished"


def _unfinished(run_dir):
    (run_dir / "summary.json").unlink()


def test_health_tells_a_dead_writer_and_a_silent_one_from_a_live_one(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    start_run(tiny_config(epochs=1, out=str(run_dir))).execute()
    _unfinished(run_dir)
    writer = json.loads((run_dir / WRITER_FILE).read_text())

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run_dir / WRITER_FILE).write_text(json.dumps({**writer, "pid": dead.pid, "finished": False}))
    assert health(run_dir).state == "gone"
    assert health(run_dir).text == f"process gone (pid {dead.pid})"

    now = time.time()
    (run_dir / WRITER_FILE).write_text(json.dumps(
        {**writer, "pid": os.getpid(), "heartbeat": now - 100, "finished": False}))
    assert health(run_dir, now=now).text == "not updated for 100 s"
    assert health(run_dir, now=now - 100 + STALE_S / 2).state == "running"

    (run_dir / WRITER_FILE).write_text("{damaged")  # health never fails a reader
    assert health(run_dir).state in ("running", "stale")


def test_a_second_writer_is_refused_with_a_line_naming_the_first(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    start_run(tiny_config(epochs=2, out=str(run_dir))).execute()
    first = resume_run(run_dir, epochs=4)  # holds the lock until it has run
    with pytest.raises(RunDirError, match=rf"being written by another memtui \(pid {os.getpid()} on "):
        resume_run(run_dir, epochs=4)
    assert first.execute().status == "completed"
    assert resume_run(run_dir, epochs=5).execute().epochs_completed == 5  # released


def test_a_run_without_a_checkpoint_restarts_from_epoch_0_with_its_config(tiny_config, tmp_path,
                                                                        capsys, monkeypatch):
    run_dir = tmp_path / "run"
    start_run(tiny_config(epochs=3, out=str(run_dir))).execute()
    reference = [r for r in read_run(run_dir).records if r["event"] == "epoch_metrics"]
    (run_dir / "checkpoint.pt").unlink()
    (run_dir / "summary.json").unlink()  # as a kill before the first checkpoint leaves it
    monkeypatch.setattr(sys, "argv", ["memtui", "run", "--no-ui", "--resume", str(run_dir)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 0
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (f"memtui: {run_dir} has no checkpoint.pt (it ended before its "
                                   "first one): restarting it from epoch 0 with its own config")
    record = read_run(run_dir)
    assert record.summary["status"] == "completed" and record.summary["epochs_completed"] == 3
    again = [r for r in record.records if r["event"] == "epoch_metrics"]
    timing = ("seconds", "eval_seconds", "images_per_s")
    assert [{k: v for k, v in r.items() if k not in timing} for r in again] == [
        {k: v for k, v in r.items() if k not in timing} for r in reference]
    assert record.meta["resumed"][-1]["after_epoch"] == 0


def _full_disk_save(self, run_dir):
    """Checkpoint.save on a full disk: part of the file is written, then ENOSPC."""
    path = run_dir / "checkpoint.pt.tmp"
    from memtui.atomic import atomic_write

    with atomic_write(run_dir / "checkpoint.pt", "wb") as fh:
        fh.write(b"x" * 1000)
        assert path.exists()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_removes_partial_files_writes_the_summary_and_says_one_line(
        tmp_path, capsys, monkeypatch):
    preset = tmp_path / "tiny.toml"
    preset.write_text(TINY_TOML)
    monkeypatch.setattr(checkpoint_module.Checkpoint, "save", _full_disk_save)
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["memtui", "run", "--no-ui", "--preset", str(preset),
                                      "--out", str(out)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 1  # the machine failed, not the input
    assert err.strip().splitlines()[-1] == (
        f"memtui: error: cannot write {out}/checkpoint.pt (No space left on device, ENOSPC: disk "
        "full)")
    assert "Traceback" not in err
    assert not list(out.glob("*.tmp"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["epochs_completed"] == 1
    assert "No space left on device" in summary["message"]


def test_a_checkpoint_over_the_file_size_limit_keeps_the_last_good_one_and_says_efbig(
        tiny_config, tmp_path, monkeypatch):
    """A real RLIMIT_FSIZE from the second checkpoint on: torch.save's own failure would be a
    RuntimeError ("unexpected pos"); the run names EFBIG, keeps epoch 1's checkpoint whole and
    resumable, and writes its summary."""
    import resource

    real, saves = Checkpoint.save, []

    def save(self, run_dir):
        saves.append(self.epochs_completed)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        if len(saves) > 1:
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        try:
            return real(self, run_dir)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    monkeypatch.setattr(Checkpoint, "save", save)
    run_dir = tmp_path / "run"
    run = start_run(tiny_config(epochs=3, out=str(run_dir), checkpoint_seconds=0))
    finished = run.execute()
    assert finished.status == "failed" and saves == [1, 2]
    assert run.write_error == (f"cannot write {run_dir}/checkpoint.pt (File too large, EFBIG: over "
                               "the file-size limit, see ulimit -f); the checkpoint of epoch 1 is "
                               "kept")
    assert sorted(p.name for p in run_dir.iterdir() if p.suffix in (".pt", ".tmp")) == [
        "checkpoint.pt"]
    assert Checkpoint.load(run_dir).epochs_completed == 1
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and "EFBIG" in summary["message"]


@pytest.mark.slow  # real processes that train
def test_real_processes_a_file_size_limit_fails_a_run_and_a_sweep_cell_in_one_line(tmp_path):
    """`ulimit -f 64` (64 KiB) over `memtui run` and over `memtui sweep`: the checkpoint cannot
    be written; the run says so in one line and exits 1; the sweep marks its cell failed with
    the reason, not a traceback."""
    import resource

    from sweep_helpers import grid_text

    from memtui.sweep.manifest import Manifest

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))

    (tmp_path / "tiny.toml").write_text(TINY_TOML)
    (tmp_path / "grid.toml").write_text(grid_text(epochs=2, axes="seed = [0]", retries=0))
    memtui = [sys.executable, "-m", "memtui"]
    started = [subprocess.Popen([*memtui, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=tmp_path, preexec_fn=limit)
               for args in (["run", "--no-ui", "--preset", "tiny.toml", "--out", "run"],
                            ["sweep", "grid.toml", "--no-ui", "--out", "sweep"])]
    (run_out, run_err), (sweep_out, sweep_err) = [p.communicate(timeout=300) for p in started]
    assert started[0].returncode == 1, run_err
    assert "Traceback" not in run_err
    assert run_err.strip().splitlines()[-1] == (
        "memtui: error: cannot write run/checkpoint.pt (File too large, EFBIG: over the file-size "
        "limit, see ulimit -f)")
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "failed"
    assert started[1].returncode == 1, sweep_err
    assert "Traceback" not in sweep_err
    cell = Manifest.load(tmp_path / "sweep").cells[0]
    assert cell["status"] == "failed" and "EFBIG: over the file-size limit" in cell["message"], cell


def test_a_full_disk_under_the_metrics_log_still_writes_the_summary(tiny_config, tmp_path,
                                                                   monkeypatch):
    full_disk_under_the_log(monkeypatch)
    run = start_run(tiny_config(epochs=3, out=str(tmp_path / "run")))
    finished = run.execute()
    assert finished.status == "failed"
    assert run.write_error == (f"cannot write the run log in {tmp_path / 'run'} "
                               "(No space left on device, ENOSPC: disk full)")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["epochs_completed"] == 1


class ExitingDisplay(Recorder):
    """A display whose stream went away: Rich raises SystemExit on a broken pipe."""

    def handle(self, event):
        super().handle(event)
        if isinstance(event, EpochEnded):
            raise SystemExit(1)


def test_a_display_that_raises_system_exit_never_stops_training(tiny_config, tmp_path):
    display = ExitingDisplay()
    run = start_run(tiny_config(epochs=3, out=str(tmp_path / "run")), sinks=[display])
    assert run.execute().status == "completed"
    assert len(display.of(EpochEnded)) == 1  # dropped after it broke; training went on
    assert read_run(tmp_path / "run").summary["epochs_completed"] == 3


class ExitingCritical(Recorder):
    critical = True

    def handle(self, event):
        if isinstance(event, EpochEnded) and event.epoch == 2:
            raise SystemExit(3)


def test_system_exit_inside_the_run_still_writes_the_summary_then_exits(tiny_config, tmp_path):
    run = start_run(tiny_config(epochs=4, out=str(tmp_path / "run")), sinks=[ExitingCritical()])
    with pytest.raises(SystemExit):
        run.execute()
    summary = read_run(tmp_path / "run").summary
    assert summary["status"] == "stopped" and summary["epochs_completed"] == 2
    # the epoch the summary counts is the one checkpointed: --resume goes on from there
    assert Checkpoint.load(tmp_path / "run").epochs_completed == 2


def test_report_summarises_an_unfinished_run_from_its_metrics_marked_as_such(tiny_config,
                                                                            tmp_path):
    import io

    run_dir = tmp_path / "run"
    start_run(tiny_config(epochs=2, out=str(run_dir))).execute()
    _unfinished(run_dir)
    writer = json.loads((run_dir / WRITER_FILE).read_text())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run_dir / WRITER_FILE).write_text(json.dumps({**writer, "pid": dead.pid, "finished": False}))
    out = io.StringIO()
    report_runs([run_dir], "csv", None, out=out)
    rows = out.getvalue().splitlines()
    assert len(rows) == 4
    assert f"unfinished: process gone (pid {dead.pid})" in rows[1]
    out = io.StringIO()
    report_runs([run_dir], "markdown", None, out=out)
    assert out.getvalue().strip().endswith(
        f"_run: unfinished: process gone (pid {dead.pid}), summarised from metrics.jsonl_")



class SlowDisplay(Recorder):
    """A display stuck for 30 s after the first epoch (a hung terminal, or a batch that takes
    long): someone presses ctrl+c, then again."""

    def handle(self, event):
        super().handle(event)
        if isinstance(event, EpochEnded) and event.epoch == 1:
            for delay in (0.2, 0.6):
                threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()
            time.sleep(30)


def test_a_second_ctrl_c_interrupts_at_once_headless_and_the_summary_is_still_written(
        tiny_config, tmp_path):
    from memtui.control import stop_on_signals

    run = start_run(tiny_config(epochs=3, out=str(tmp_path / "run")), sinks=[SlowDisplay()])
    started = time.monotonic()
    with stop_on_signals(run.control):
        finished = run.execute()
    assert time.monotonic() - started < 20, "the second ctrl+c must not wait for the display"
    assert (finished.status, finished.message) == ("stopped", "interrupted")
    summary = read_run(tmp_path / "run").summary
    assert summary["status"] == "stopped" and summary["epochs_completed"] == 1
    assert Checkpoint.load(tmp_path / "run").epochs_completed == 1


def test_sigterm_leaves_the_live_view_as_q_does(tiny_config, tmp_path, monkeypatch):
    """A polite kill of the view's process: training stops at the batch, the view leaves, the
    summary says stopped. (SIGHUP, the terminal gone: tests/test_terminal.py, in a real one.)"""
    from textual.app import App

    from memtui.tui.app import MemtuiApp
    from memtui.tui.launch import run_live

    monkeypatch.setattr(MemtuiApp, "run", lambda self: App.run(self, headless=True))
    probe = Recorder()
    run = start_run(tiny_config(epochs=200, out=str(tmp_path / "run")), sinks=[probe])
    sent: list[float] = []

    def send_once_training() -> None:
        while not probe.of(EpochEnded):
            time.sleep(0.02)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=send_once_training, daemon=True).start()
    assert run_live(run) == "stopped"
    assert sent and time.monotonic() - sent[0] < 20
    summary = read_run(tmp_path / "run").summary
    assert summary["status"] == "stopped" and 1 <= summary["epochs_completed"] < 200
