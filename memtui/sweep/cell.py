"""One attempt at one cell: ``memtui run`` in a subprocess, on the cell's own run directory.

A cell directory ``cells/<cell>/`` holds ``cell.toml`` (the cell's fully resolved experiment,
written when the sweep is created), ``cell.log`` (the run's stderr, every attempt appended) and
``attempts`` (how many times it was started), and is otherwise an ordinary run directory. An
attempt decides from what is on disk:

- a completed ``summary.json``: nothing to do;
- a ``checkpoint.pt``: ``memtui run --resume CELL_DIR --no-ui`` continues from it;
- a run without a checkpoint (killed before its first): its files are moved aside to
  ``cells/<cell>.failed-<n>/`` and the cell starts afresh;
- nothing: ``memtui run --preset cell.toml --out CELL_DIR --no-ui``.

The attempt holds an exclusive lock (``cells/.<cell>.lock``) that the run process inherits, so
a retry waits until a previous attempt's process has really ended (a Ray worker that died leaves
its run process to stop cleanly first). On Linux the run process gets SIGTERM when the process
that started it dies (``PR_SET_PDEATHSIG``): it stops after the current batch and keeps its
completed epochs, which the retry then resumes. (Ray's own clean-up may kill a dead worker's
children outright instead; the retry then resumes their last checkpoint.)

Only the standard library and :mod:`memtui.runlog`'s reader are used here: no torch.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CELL_TOML = "cell.toml"
CELL_LOG = "cell.log"
ATTEMPTS_FILE = "attempts"
CHECKPOINT = "checkpoint.pt"  # memtui.checkpoint.CHECKPOINT_FILE, without importing torch
RUN_FILES = ("config.json", "metrics.jsonl", "summary.json", "checkpoint.pt", "checkpoint.pt.tmp",
             "error.log")
LOCK_WAIT_S = 300.0


@dataclass
class Outcome:
    """What one attempt ended with. ``status``: completed, stopped, failed, or died (the process
    ended without a summary of this attempt: killed, or it crashed before writing one)."""

    cell: str
    status: str
    epochs_completed: int
    message: str
    returncode: int | None
    seconds: float
    final: dict[str, Any]  # loss label -> final test_acc (for the progress line)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prepare_child_process() -> None:  # pragma: no cover - in the child, between fork and exec
    # A blocked signal mask survives exec, and a Ray worker's task thread blocks SIGINT: unblock
    # the signals the run stops on, or a stop request would never reach it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def interrupt_process(proc: subprocess.Popen | None) -> bool:
    """Send a running child process a SIGINT, as a ctrl-c would; whether it was running."""
    if proc is None or proc.poll() is not None:
        return False
    try:
        proc.send_signal(signal.SIGINT)
    except ProcessLookupError:  # pragma: no cover - ended in between
        return False
    return True


def stop_path(cell_dir: Path) -> Path:
    """A file that asks the attempt running this cell to stop (how a Ray driver reaches tasks
    on other machines; ray.cancel does not interrupt a task blocked in a wait)."""
    return cell_dir.parent / f".{cell_dir.name}.stop"


def request_stop(cell_dir: Path) -> None:
    stop_path(Path(cell_dir)).touch()


def clear_stop(cell_dir: Path) -> None:
    stop_path(Path(cell_dir)).unlink(missing_ok=True)


def _lock_path(cell_dir: Path) -> Path:
    return cell_dir.parent / f".{cell_dir.name}.lock"


def _acquire(cell_dir: Path, timeout: float = LOCK_WAIT_S) -> int:
    """An fd holding the cell's exclusive lock, waiting for a previous attempt's process."""
    import fcntl

    fd = os.open(_lock_path(cell_dir), os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise TimeoutError(
                    f"cell {cell_dir.name} is still being run by another process") from None
            time.sleep(0.2)


def read_attempts(cell_dir: Path) -> int:
    try:
        return int((cell_dir / ATTEMPTS_FILE).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def cell_summary(cell_dir: Path) -> dict[str, Any] | None:
    """The cell's summary.json through the run log reader; None without one."""
    from memtui.errors import RunDirError
    from memtui.runlog import read_run

    if not (cell_dir / "config.json").is_file():
        return None
    try:
        return read_run(cell_dir).summary
    except RunDirError:
        return None


def is_complete(cell_dir: Path) -> bool:
    summary = cell_summary(cell_dir)
    return summary is not None and summary.get("status") == "completed"


def move_aside(cell_dir: Path) -> Path:
    """Move a run that cannot be resumed out of the way, keeping cell.toml and the log."""
    n = 1
    while (cell_dir.parent / f"{cell_dir.name}.failed-{n}").exists():
        n += 1
    target = cell_dir.parent / f"{cell_dir.name}.failed-{n}"
    target.mkdir()
    for name in RUN_FILES:
        if (cell_dir / name).exists():
            os.replace(cell_dir / name, target / name)
    return target


def plan(cell_dir: Path) -> str:
    """done, resume or fresh (moving a run without a checkpoint aside first)."""
    if is_complete(cell_dir):
        return "done"
    if (cell_dir / CHECKPOINT).is_file():
        return "resume"
    if any((cell_dir / name).exists() for name in ("config.json", "metrics.jsonl")):
        move_aside(cell_dir)
    return "fresh"


class CellProcess:
    """One attempt: start() -> poll()/wait() -> outcome()."""

    def __init__(self, cell_dir: Path, threads: int = 1, env: dict[str, str] | None = None) -> None:
        self.cell_dir = Path(cell_dir).resolve()
        self.threads = max(1, int(threads))
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.wall_started = 0.0
        self.mode = ""
        self.interrupts = 0

    @property
    def name(self) -> str:
        return self.cell_dir.name

    def start(self) -> None:
        lock = _acquire(self.cell_dir)
        try:
            attempts = read_attempts(self.cell_dir) + 1
            (self.cell_dir / ATTEMPTS_FILE).write_text(f"{attempts}\n")
            self.mode = plan(self.cell_dir)
            if self.mode == "done":
                self.started = time.monotonic()
                self.wall_started = time.time()
                return
            if self.mode == "resume":
                args = ["run", "--resume", str(self.cell_dir), "--no-ui"]
            else:
                args = ["run", "--preset", str(self.cell_dir / CELL_TOML), "--out",
                        str(self.cell_dir), "--no-ui"]
            env = {**os.environ, **self.env,
                   "OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads),
                   "PYTHONUNBUFFERED": "1"}
            with (self.cell_dir / CELL_LOG).open("ab") as log:
                log.write(f"--- attempt {attempts}: memtui {' '.join(args)} "
                          f"({self.threads} threads) at {time.ctime()}\n".encode())
                log.flush()
                self.wall_started = time.time()
                self.started = time.monotonic()
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "memtui", *args], stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, env=env, pass_fds=(lock,),
                    # Its own session: a ctrl-c in the terminal reaches the sweep only, which
                    # passes one SIGINT on to each cell (two would interrupt at once).
                    start_new_session=True,
                    preexec_fn=prepare_child_process if os.name == "posix" else None)
        finally:
            os.close(lock)  # the run process keeps its inherited copy of the lock until it ends

    def poll(self) -> int | None:
        if self.proc is None:
            return 0
        return self.proc.poll()

    def wait(self) -> int:
        if self.proc is None:
            return 0
        return self.proc.wait()

    def interrupt(self) -> None:
        """Ask the run to stop after its current batch (SIGINT, as ctrl-c would)."""
        if interrupt_process(self.proc):
            self.interrupts += 1

    def outcome(self) -> Outcome:
        returncode = self.wait()
        seconds = time.monotonic() - self.started
        summary = cell_summary(self.cell_dir)
        fresh = summary is not None and (
            self.mode == "done"
            or (self.cell_dir / "summary.json").stat().st_mtime >= self.wall_started - 1.0)
        final = {}
        if summary and isinstance(summary.get("losses"), dict):
            final = {label: (result.get("final") or {}).get("test_acc")
                     for label, result in summary["losses"].items()}
        if fresh and summary is not None:
            return Outcome(self.name, str(summary.get("status")),
                           int(summary.get("epochs_completed", 0)), str(summary.get("message", "")),
                           returncode, seconds, final)
        epochs = len({r.get("epoch") for r in _records(self.cell_dir)})
        message = _last_line(self.cell_dir / CELL_LOG)
        if returncode == 2:  # memtui refused the cell (a missing data set, say): no retry helps
            return Outcome(self.name, "failed", epochs, message, returncode, seconds, {})
        how = (f"killed by signal {-returncode}" if returncode and returncode < 0
               else f"exit code {returncode}")
        return Outcome(self.name, "died", epochs, f"run process ended without a summary ({how})"
                       + (f": {message}" if message and returncode and returncode > 0 else ""),
                       returncode, seconds, {})


def _records(cell_dir: Path) -> list[dict[str, Any]]:
    from memtui.runlog import read_run

    try:
        return read_run(cell_dir).records if (cell_dir / "config.json").is_file() else []
    except Exception:
        return []


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text("utf-8", errors="replace").splitlines()
                 if line.strip() and not line.startswith("--- attempt")]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def outcome_from_disk(cell_dir: Path, status: str, message: str, seconds: float = 0.0,
                      wait_s: float = LOCK_WAIT_S) -> Outcome:
    """The outcome of an attempt whose process is not ours to wait for (a Ray task that was
    cancelled or lost): wait until the run process holding the cell's lock has ended, then read
    the run directory."""
    cell_dir = Path(cell_dir)
    try:
        os.close(_acquire(cell_dir, wait_s))
    except TimeoutError:
        pass
    summary = cell_summary(cell_dir)
    if summary is not None and summary.get("status") == "completed":
        status, message = "completed", ""
    epochs = len({r.get("epoch") for r in _records(cell_dir)})
    final = {}
    if summary and isinstance(summary.get("losses"), dict):
        final = {label: (result.get("final") or {}).get("test_acc")
                 for label, result in summary["losses"].items()}
    return Outcome(cell_dir.name, status, epochs, message, None, seconds, final)


class CellDied(RuntimeError):
    """A cell's run process ended without a summary; Ray retries the task on this."""


def run_cell(cell_dir: str, threads: int = 1, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One attempt, start to end, in the calling process (what a Ray task runs).

    Returns the outcome as a dict; raises CellDied when the run process died, so that the
    caller's retry policy (Ray's ``retry_exceptions``) starts the cell again from its checkpoint.
    A stop file (:func:`request_stop`) or a KeyboardInterrupt is passed on to the run as one
    SIGINT, and the run's own stopped outcome returned; a task that finds the stop file before
    it starts returns status ``pending`` at once."""
    cell = CellProcess(Path(cell_dir), threads, env)
    if stop_path(cell.cell_dir).exists():  # the sweep was stopped before this task started
        return Outcome(cell.name, "pending", 0, "", None, 0.0, {}).as_dict()
    cell.start()
    try:
        while cell.poll() is None:
            if not cell.interrupts and stop_path(cell.cell_dir).exists():
                cell.interrupt()
            time.sleep(0.2)
    except KeyboardInterrupt:
        cell.interrupt()
        cell.wait()
    outcome = cell.outcome()
    if outcome.status == "died" or (outcome.status == "stopped" and not cell.interrupts):
        raise CellDied(f"{outcome.cell}: {outcome.message}")
    return outcome.as_dict()
