"""The sweep that `memtui sweep` on a terminal runs behind its board: a child process
(memtui.sweep.background: `memtui sweep --resume SWEEP_DIR --no-ui`) seen from the view. What the
board says of it, what q does to it, and how it is stopped and waited for however the view ends
(q, SIGTERM, SIGHUP: memtui.tui.launch). No Textual, so the board only draws what this says."""

from __future__ import annotations

import sys

from memtui.sweep.background import BackgroundSweep

#: How the board words the sweep's exit code (memtui.sweep.background.BackgroundSweep.exit_code).
OUTCOMES = {0: "finished", 1: "finished, with failed cells",
            130: "stopped; `memtui sweep --resume` continues it"}


class SweepProcess:
    def __init__(self, child: BackgroundSweep) -> None:
        self.child = child

    def start(self) -> None:
        """On the main thread (BackgroundSweep.start says why)."""
        self.child.start()

    @property
    def running(self) -> bool:
        return self.child.poll() is None

    @property
    def stopping(self) -> bool:
        return self.child.stopping

    def exit_code(self) -> int:
        """Once it has ended (it waits otherwise)."""
        return self.child.exit_code()

    def status_line(self) -> str:
        """What the board says of the sweep: running, stopping, or how it ended."""
        log = self.child.log_path
        if not self.running:
            code = self.exit_code()
            return (f"the sweep {OUTCOMES.get(code, f'ended with exit code {code}')} · q leaves · "
                    f"its log: {log}")
        if self.stopping:
            return ("stopping: every running cell finishes its current batch and keeps its "
                    "completed epochs (q again: interrupt them at once)")
        return f"running here · q stops every cell (--resume continues) · its log: {log}"

    def stop(self) -> str:
        """q under the board: as a ctrl-c to the headless sweep, the first stops every cell after
        its current batch, the next ones interrupt them; what to tell the user."""
        self.child.request_stop()
        if self.child.stops_sent == 1:
            return "stopping every cell after its current batch… (again: interrupt at once)"
        return "interrupting every cell; each keeps its last checkpoint"

    def stop_once(self) -> None:
        """A stop that never escalates to interrupting (SIGTERM, the view gone)."""
        if not self.stopping:
            self.child.request_stop()

    def stop_and_wait(self) -> int:
        """The terminal is gone (SIGHUP): stop, wait for every cell to stop; the exit code."""
        self.stop_once()
        return self.exit_code()

    def finish(self) -> None:
        """However the view ended: a sweep still running is stopped and waited for (a ctrl-c
        meanwhile interrupts its cells at once), so no cell outlives `memtui sweep`."""
        if not self.running:
            return
        self.stop_once()
        print("memtui: waiting for the sweep's cells to stop after their current batch…",
              file=sys.stderr, flush=True)
        try:
            self.child.wait()
        except KeyboardInterrupt:
            self.child.request_stop()
            self.child.wait()

    def report(self) -> int:
        """Once it has ended: its last line, and how to go on, on stderr; its exit code."""
        code = self.exit_code()
        for line in self.child.last_lines(1):
            print(line, file=sys.stderr, flush=True)
        if code == 130:
            print(f"memtui: continue it with `memtui sweep --resume {self.child.sweep_dir}`",
                  file=sys.stderr, flush=True)
        elif code != 0:
            print(f"memtui: the sweep's log: {self.child.log_path}", file=sys.stderr, flush=True)
        return code
