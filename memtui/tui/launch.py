"""The view's launchers, the one thing the command line imports from it: `memtui run` under the
live view (run_live), `memtui watch` of run directories or a sweep (run_watch), `memtui sweep`
on a terminal (run_sweep_live), and `memtui watch` alone (run_watch_default: a picker when
there are several runs). Each checks the terminal before drawing, and leaves on SIGTERM
and SIGHUP without losing what runs (leave_on_signals)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App

from memtui import catalog
from memtui.control import EXIT_CODES
from memtui.errors import MemtuiError
from memtui.runlog import latest_run
from memtui.sweep.background import BackgroundSweep
from memtui.sweep.manifest import is_sweep_dir
from memtui.tui.app import MemtuiApp
from memtui.tui.picker_app import PickerApp
from memtui.tui.remote import RemoteRunSource, parse_remote
from memtui.tui.sources import (
    SEVERAL_RUNS_POLL_S,
    WATCH_POLL_S,
    LiveSource,
    MultiRunSource,
    RunDirSource,
    RunSource,
)
from memtui.tui.sweep_app import SweepApp
from memtui.tui.sweep_process import SweepProcess
from memtui.tui.terminal import stream_not_a_terminal, term_that_cannot_draw

if TYPE_CHECKING:  # only `memtui run` launches a run, with torch loaded already
    from memtui.session import Run


def run_live(run: Run) -> str:
    """Train a prepared run (memtui.session) under the live view; the run's final status.
    SIGTERM stops training and leaves the app, as `q` does (Textual turns ctrl+c into a key);
    SIGHUP (an SSH session or tmux pane going away) ends the process once the summary is written
    (leave_on_signals). The summary is written either way."""
    source = LiveSource(run)
    app = MemtuiApp(source)

    def stop_and_wait() -> int:
        source.request_stop()
        source.wait()
        finished = source.finished
        return EXIT_CODES[finished.status if finished is not None else "stopped"]

    with leave_on_signals(app, source.request_stop, stop_and_wait):
        try:
            app.run()
        finally:
            # However the app ended, training stops and the engine writes its summary first.
            source.request_stop()
            source.wait()
    return app.state.status if app.state.finished else "stopped"


@contextmanager
def leave_on_signals(app: App, stop: Callable[[], None],
                     stop_and_wait: Callable[[], int]) -> Iterator[None]:
    """While the view runs in the main thread: SIGTERM leaves it as q does (``stop`` alone, if
    it has not started yet). SIGHUP means the terminal is gone, and Textual's teardown writes to
    it and can block for ever (seen when tmux kills the pane): so on SIGHUP, or a second
    SIGTERM, ``stop_and_wait`` stops what runs and waits until it has written its summary, and
    the process ends there with the exit code it returns, without closing the view."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    terms = 0

    def handler(signum: int, _frame: object) -> None:
        nonlocal terms
        if signum == signal.SIGHUP or terms:
            os._exit(stop_and_wait())
        terms += 1
        loop = getattr(app, "loop", None)  # signals arrive in the main thread, between steps
        if loop is None:
            stop()
        else:
            loop.call_soon_threadsafe(app.action_quit_run)  # type: ignore[attr-defined]

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def watch_source(spec: str | Path, poll_s: float = WATCH_POLL_S) -> RunSource:
    """A run directory, or ``user@host:path`` followed over ssh."""
    remote = parse_remote(str(spec))
    if remote is not None:
        return RemoteRunSource(*remote)
    return RunDirSource(Path(spec), poll_s)


def run_watch(paths: Path | str | list[Path | str]) -> int:
    """Open the view on one run directory, on several side by side, or the board of a sweep
    directory; 0 on leaving. A bad directory (or an unreachable remote one), or a terminal that
    cannot show the view (stdout not a terminal, TERM unset or dumb), raises a MemtuiError before
    anything is drawn."""
    specs = paths if isinstance(paths, list) else [paths]
    if len(specs) == 1 and is_sweep_dir(Path(str(specs[0]))):
        return run_sweep_board(Path(str(specs[0])))
    poll_s = WATCH_POLL_S if len(specs) == 1 else SEVERAL_RUNS_POLL_S
    sources = [watch_source(spec, poll_s) for spec in specs]
    check_terminal()
    if len(sources) == 1:
        MemtuiApp(sources[0]).run()
    else:
        MemtuiApp(MultiRunSource(sources, [Path(str(s)).name or str(s) for s in specs])).run()
    return 0


def run_watch_default() -> int:
    """`memtui watch` alone: the one run or sweep under ./runs and ./sweeps, or, when there are
    several, the list of `memtui ls` to pick from (PickerApp); 0 on leaving."""
    entries = catalog.find()
    if len(entries) <= 1:
        return run_watch([entries[0].path if entries else latest_run()])
    check_terminal()
    chosen = PickerApp(entries).run()
    return run_watch(list(chosen)) if chosen else 0


def check_terminal() -> None:
    """MemtuiError when there is no terminal the view can draw on (memtui.tui.terminal)."""
    stream = stream_not_a_terminal()
    if stream is not None:
        raise MemtuiError(f"watch needs a terminal, and {stream} is not one; for a summary of "
                          "the run use `memtui report RUN_DIR`")
    term = term_that_cannot_draw()
    if term is not None:
        raise MemtuiError(f"watch needs a terminal that can draw (TERM is {term or 'unset'}); "
                          "set TERM (e.g. TERM=xterm-256color) or use `memtui report RUN_DIR`")


def run_sweep_board(path: Path) -> int:
    """Open the board on a sweep directory; 0 on leaving. A bad manifest, or a terminal that
    cannot show the board, raises a MemtuiError before anything is drawn."""
    app = SweepApp(Path(path))
    check_terminal()
    app.run()
    return 0


def run_sweep_live(sweep_dir: Path, on: str = "local", parallel: int | None = None) -> int:
    """`memtui sweep` on a terminal: the sweep runs in a child process (memtui.sweep.background)
    and the board follows it; the sweep's exit code. SIGTERM stops it as q does; SIGHUP (the
    terminal gone) stops it and ends this process once every cell has stopped
    (leave_on_signals); however the view ends, the cells are stopped and waited for
    (memtui.tui.sweep_process)."""
    check_terminal()
    sweep = SweepProcess(BackgroundSweep(sweep_dir, on, parallel))
    app = SweepApp(Path(sweep_dir), sweep=sweep)
    sweep.start()
    try:
        with leave_on_signals(app, sweep.stop_once, sweep.stop_and_wait):
            app.run()
    finally:
        sweep.finish()
    return sweep.report()
