"""What both executors share: the manifest's bookkeeping, the retry rule and the progress lines.

Retry rule: a cell whose run process died (no summary of its attempt: killed, out of memory,
its Ray worker lost) or stopped without being asked is started again, from its checkpoint, up to
``retries`` times in one invocation. A run that ended ``failed`` with its summary (every loss
diverged, a data set memtui refused) is not: it would fail the same way again.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

from memtui.runlog import writer_info
from memtui.sweep.cell import Outcome, read_attempts
from memtui.sweep.manifest import Manifest

#: The overall progress is read from the cells' writer.json at most this often.
TICK_S = 1.0


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class SweepDisplay(Protocol):
    """Where a sweep's progress goes: its lines, and the overall count of epochs (a terminal
    draws a bar from it; memtui.sweep.progress)."""

    def line(self, text: str) -> None: ...

    def update(self, epochs_done: int, epochs_total: int, cells_done: int, cells_total: int,
               running: int) -> None: ...

    def close(self) -> None: ...


class LinesDisplay:
    """Lines only: a log file, a pipe, CI. Each finished cell's line carries the ETA."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def line(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def update(self, epochs_done: int, epochs_total: int, cells_done: int, cells_total: int,
               running: int) -> None:
        pass

    def close(self) -> None:
        pass


class Driver:
    def __init__(self, manifest: Manifest, to_run: list[str], retries: int,
                 out: TextIO | None = None, display: SweepDisplay | None = None) -> None:
        self.manifest = manifest
        self.to_run = list(to_run)
        self.retries = retries
        self.display = display or LinesDisplay(out or sys.stderr)
        self.started_at = time.monotonic()
        self.tries: dict[str, int] = {}
        self.done: list[str] = []  # cells that reached a final state in this invocation
        self.stopping = False
        self._ticked_at = -TICK_S

    def say(self, line: str) -> None:
        self.display.line(line)

    def tick(self, force: bool = False) -> None:
        """Tell the display how far the cells to run have got, in epochs: what each one's run
        has written (its writer.json), at most once a ``TICK_S``."""
        if not force and time.monotonic() - self._ticked_at < TICK_S:
            return
        self._ticked_at = time.monotonic()
        done = total = running = 0
        for name in self.to_run:
            cell = self.manifest.cell(name)
            epochs = int(cell.get("epochs") or 0)
            written = writer_info(self.manifest.cell_dir(name)).get("epochs_done")
            if not isinstance(written, int):
                written = int(cell.get("epochs_completed") or 0)
            total += epochs
            done += epochs if cell["status"] == "completed" else min(written, epochs)
            running += cell["status"] == "running"
        self.display.update(done, total, len(self.done), len(self.to_run), running)

    def close(self) -> None:
        self.tick(force=True)
        self.display.close()

    # -- bookkeeping ---------------------------------------------------------------------------

    def started(self, name: str) -> None:
        self.tries[name] = self.tries.get(name, 0) + 1
        self.manifest.update(name, status="running",
                             attempts=read_attempts(self.manifest.cell_dir(name)), message="")

    def finished(self, outcome: Outcome, requested_stop: bool | None = None) -> bool:
        """Record an attempt's end; True when the cell should be started again."""
        name = outcome.cell
        stop_asked = self.stopping if requested_stop is None else requested_stop
        attempts = read_attempts(self.manifest.cell_dir(name))
        died = outcome.status == "died" or (outcome.status == "stopped" and not stop_asked)
        if died and not self.stopping and self.tries.get(name, 0) <= self.retries:
            self.manifest.update(name, status="pending", attempts=attempts,
                                 epochs_completed=outcome.epochs_completed,
                                 message=f"retrying: {outcome.message}")
            self.say(f"cell {name}: {outcome.message}; retrying from its checkpoint "
                     f"(attempt {self.tries[name] + 1} of {self.retries + 1})")
            return True
        status = outcome.status
        if status == "died":
            status = "stopped" if self.stopping else "failed"
        message = outcome.message
        if status == "failed" and outcome.status == "died":
            message = f"gave up after {max(attempts, self.tries.get(name, 0))} attempts: {message}"
        self.manifest.update(name, status=status, attempts=attempts,
                             epochs_completed=outcome.epochs_completed, message=message)
        if status in ("completed", "failed"):
            self.done.append(name)
        self.progress(outcome, status, message)
        self.tick(force=True)
        return False

    # -- progress ------------------------------------------------------------------------------

    def progress(self, outcome: Outcome, status: str, message: str) -> None:
        total = len(self.to_run)
        finished = len(self.done)
        elapsed = time.monotonic() - self.started_at
        remaining = total - finished
        eta = (f", ETA {clock(elapsed / finished * remaining)}" if finished and remaining
               and not self.stopping else "")
        accs = " ".join(f"{label} {value:.1%}" for label, value in outcome.final.items()
                        if isinstance(value, (int, float)))
        detail = f" · test acc {accs}" if accs and status == "completed" else (
            f" · {message}" if message else "")
        epochs = f"{outcome.epochs_completed} epochs"
        self.say(f"[{finished}/{total}] {outcome.cell} {status} ({epochs}, "
                 f"{clock(outcome.seconds)}){detail} · elapsed {clock(elapsed)}{eta}")

    def summary_line(self) -> str:
        counts = self.manifest.counts()
        parts = [f"{counts[s]} {s}" for s in ("completed", "failed", "stopped", "pending",
                                               "running") if counts.get(s)]
        return (f"sweep {self.manifest.name}: {', '.join(parts)} in "
                f"{clock(time.monotonic() - self.started_at)}; {self.manifest.sweep_dir}")

    def exit_code(self) -> int:
        counts = self.manifest.counts()
        if counts.get("failed"):
            return 1
        if counts.get("stopped") or counts.get("pending") or counts.get("running"):
            return 130
        return 0
