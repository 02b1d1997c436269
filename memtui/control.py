"""Run control: stop and pause requests from a UI, a signal handler or a test, and the one
policy for signals that headless and live runs share."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class RunControl:
    """Thread-safe stop and pause requests, checked by the engine every batch."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        # Set once the run writes its checkpoint and summary: from then on an impatient second
        # ctrl+c must not interrupt, or the summary would be lost.
        self.finishing = False

    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run must wake up to stop

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def toggle_pause(self) -> bool:
        """Pause or resume; True when now paused."""
        if self.paused:
            self.resume()
        else:
            self.pause()
        return self.paused

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self) -> float:
        """Block while paused; the seconds spent waiting."""
        if self._running.is_set():
            return 0.0
        start = time.perf_counter()
        self._running.wait()
        return time.perf_counter() - start


#: A run's (or a sweep's) final status as the process's exit code: 130 for stopped, as a shell
#: reports a ctrl-c.
EXIT_CODES = {"completed": 0, "failed": 1, "stopped": 130}

#: Signals that ask a run to stop after the current batch: ctrl+c, a polite kill, and an SSH
#: session (or tmux server) going away.
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


@contextmanager
def stop_on_signals(control: RunControl) -> Iterator[None]:
    """While inside, STOP_SIGNALS ask a headless run to stop after the current batch. A second
    SIGINT interrupts at once, unless the run is already writing its summary. Only the main
    thread can install handlers; elsewhere this does nothing. (The live views have their own:
    memtui.tui.launch.leave_on_signals.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, _frame):
        if signum == signal.SIGINT and control.stop_requested and not control.finishing:
            raise KeyboardInterrupt
        control.request_stop()

    for name in STOP_SIGNALS:
        if hasattr(signal, name):
            sig = getattr(signal, name)
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
