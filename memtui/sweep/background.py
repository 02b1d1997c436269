"""A sweep run by a child process while the terminal shows its board (`memtui sweep` on a
terminal).

The child is `memtui sweep --resume SWEEP_DIR --no-ui`, the headless sweep that the tests and
scripts use, so the board's process only draws: the executor's polling, its subprocesses and
Ray's start-up (which wants the main thread) stay out of the view's way. Its lines go to
``SWEEP_DIR/sweep.log``. It runs in its own session: a ctrl-c in the terminal reaches the view,
which passes it on (one SIGINT stops every cell after its current batch, a second interrupts them
at once), and if the view's process dies outright the child gets SIGTERM (PR_SET_PDEATHSIG) and
stops its cells cleanly, so every cell can be resumed.

No torch, no Textual.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from memtui.sweep.cell import interrupt_process, prepare_child_process

SWEEP_LOG = "sweep.log"


class BackgroundSweep:
    def __init__(self, sweep_dir: Path, on: str = "local", parallel: int | None = None) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.args = ["sweep", "--resume", str(self.sweep_dir), "--no-ui", "--on", on]
        if parallel is not None:
            self.args += ["--parallel", str(parallel)]
        self.proc: subprocess.Popen | None = None
        self.stops_sent = 0

    @property
    def log_path(self) -> Path:
        return self.sweep_dir / SWEEP_LOG

    def start(self) -> None:
        """Start the child. Call it on the main thread: PR_SET_PDEATHSIG fires when the thread
        that started the child ends, not only the process."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            log.write(f"--- memtui {' '.join(self.args)} at {time.ctime()}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "memtui", *self.args], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                preexec_fn=prepare_child_process if os.name == "posix" else None)

    def poll(self) -> int | None:
        """The exit code once the child has ended, else None."""
        return None if self.proc is None else self.proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        assert self.proc is not None, "start() first"
        return self.proc.wait(timeout)

    def request_stop(self) -> None:
        """As a ctrl-c to a headless sweep: the first stops every cell after its current batch,
        the next ones interrupt the cells at once (they still keep their last checkpoint)."""
        if interrupt_process(self.proc):
            self.stops_sent += 1

    def exit_code(self) -> int:
        """The sweep's exit code once the child has ended: 0, 1 (a cell failed) or 130 (stopped,
        cells left). A stop that reached the child while it was still starting (before its own
        handlers) ends it by the signal or as a click Abort: that is a stop too."""
        code = self.wait()
        if code < 0:
            code = 128 - code  # killed by a signal, as a shell reports it
        if self.stopping and code not in (0, 1):
            return 130
        return code

    @property
    def stopping(self) -> bool:
        return self.stops_sent > 0

    def last_lines(self, count: int = 1) -> list[str]:
        """The child's last lines (its summary line at the end), for after the view closes."""
        try:
            text = self.log_path.read_text("utf-8", errors="replace")
        except OSError:
            return []
        lines = [line for line in text.splitlines()
                 if line.strip() and not line.startswith("--- memtui ")]  # start() marks
        return lines[-count:]
