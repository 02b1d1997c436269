"""The app of a sweep: its board (memtui.tui.sweep_board) as the default screen, and the run
view of one cell at a time, whose one source is the open cell's: Enter follows the cell in a
``CellScreen``, Esc stops that source and goes back. With a SweepProcess (`memtui sweep` on a
terminal, memtui.tui.sweep_process) q stops the sweep; without one (`memtui watch SWEEP_DIR`) it
only leaves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from memtui.compare import Comparison
from memtui.errors import RunDirError
from memtui.events import Event, RunFinished
from memtui.runstate import RunState
from memtui.tui.app import MemtuiApp
from memtui.tui.run_screen import RunScreen
from memtui.tui.sources import RunDirSource
from memtui.tui.sweep_board import BOARD_POLL_S, SweepBoard
from memtui.tui.sweep_follower import SweepFollower
from memtui.tui.sweep_process import SweepProcess
from memtui.tui.widgets.help.help_screen import HelpScreen

#: How often the board checks whether the sweep it runs has ended.
SWEEP_CHECK_S = 0.5

SWEEP_RUN_KEYS = """\
  [b]q[/b], [b]ctrl+c[/b]  stop every cell after its current batch (again: at once), then leave
"""
SWEEP_WATCH_KEYS = """\
  [b]q[/b], [b]ctrl+c[/b]  leave the view (the sweep itself goes on)
"""
SWEEP_BOARD_KEYS = """\
  [b]enter[/b]      open the cell under the cursor; [b]escape[/b] goes back to the board
  [dim]in a cell's panes:[/dim]
"""


class CellScreen(RunScreen):
    """The run view of one cell; Esc goes back to the board."""

    BINDINGS = [
        Binding("escape", "app.close_cell", "board"),
        Binding("o", "toggle_overlay", "overlay"),
        Binding("m", "next_metric", "metric"),
        Binding("l", "toggle_loss_chart", "acc/loss"),
        Binding("e", "app.samples", "samples"),
    ]


class CellEvent(Message):
    """An event of the open cell's run, from its source's thread; dropped if the user has since
    gone back or opened another cell."""

    def __init__(self, events: Sequence[Event], source: RunDirSource) -> None:
        super().__init__()
        self.events = events
        self.source = source


class SweepApp(MemtuiApp, inherit_bindings=False):  # the run view's keys belong to CellScreen
    """The board of a sweep; the live view of one of its cells at a time."""

    BINDINGS = [
        Binding("q", "quit_run", "quit"),
        Binding("ctrl+c", "quit_run", "quit", show=False, priority=True),
        Binding("s", "screenshot", "screenshot"),
        Binding("question_mark", "help", "help", key_display="?"),
    ]

    def __init__(self, sweep_dir: Path, *, poll_s: float = BOARD_POLL_S,
                 sweep: SweepProcess | None = None, **view: Any) -> None:
        """``poll_s``: how often the board and an open cell read the disk; ``sweep``: the child
        process running this sweep, when `memtui sweep` opened the board (q stops it);
        ``view``: as MemtuiApp's (clock, refresh and chart throttles)."""
        super().__init__(None, **view)
        self.poll_s = poll_s
        self.sweep = sweep
        self._sweep_ended = False  # seen ended by _check_sweep, which then acts once
        self.board = SweepBoard(self, SweepFollower(sweep_dir), poll_s)
        self.sweep_title = f"memtui · sweep {self.board.follower.manifest.name}"
        self.title = self.sweep_title

    def get_default_screen(self) -> Screen:
        return self.board

    def on_mount(self) -> None:
        super().on_mount()
        if self.sweep is not None:
            self.set_interval(SWEEP_CHECK_S, self._check_sweep)

    # -- the sweep this process runs ---------------------------------------------------------------

    @property
    def sweep_line(self) -> str | None:
        return self.sweep.status_line() if self.sweep is not None else None

    @property
    def sweep_stopping(self) -> bool:
        return self.sweep is not None and self.sweep.stopping

    def _check_sweep(self) -> None:
        assert self.sweep is not None
        if self.sweep.running or self._sweep_ended:
            return
        self._sweep_ended = True
        self.board.show(set())
        if self.sweep.stopping:  # the user asked it to stop: leave, as the run view does
            self.exit("stopped")
        else:
            self.notify(self.sweep_line or "", title="sweep ended", timeout=30,
                        severity="information" if self.sweep.exit_code() == 0 else "warning")

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Into the open cell's run directory, or from the board into the sweep directory."""
        if path is None and self.screen is self.board:
            path = str(self.board.follower.sweep_dir)
        super().action_screenshot(filename, path)

    def action_help(self) -> None:
        quit_keys = (SWEEP_RUN_KEYS if self.sweep is not None and self.sweep.running
                     else SWEEP_WATCH_KEYS)
        self.push_screen(HelpScreen(leading_keys=quit_keys + SWEEP_BOARD_KEYS))

    def action_quit_run(self) -> None:
        sweep = self.sweep
        if sweep is None or not sweep.running:
            if self.source is not None:
                self.source.request_stop()
            self.exit(self.state.status)
            return
        notice = sweep.stop()
        self.board.show(set())
        self.notify(notice, title="quit")

    def open_cell(self, name: str) -> None:
        """Follow the cell's run directory in a fresh run view."""
        path = self.board.follower.manifest.cell_dir(name)
        try:
            source = RunDirSource(path, poll_s=self.poll_s)
        except RunDirError:
            self.notify(f"{name} has not started yet", severity="warning")
            return
        screen = self.run_screen
        # A fresh read model for the cell: the view reads the comparison (of one run) and state.
        self.comparison = Comparison([RunState(clock=self.state.clock)], [name])
        self.selected = 0
        self.state = self.comparison.runs[0]
        self.state.started_at = source.started_at
        self._sources = [source]
        self.run_screen = CellScreen(self, self.refresh_interval, screen.chart_interval,
                                     screen.view_budget)
        self.source = source
        source.attach(lambda events: self.post_message(CellEvent(events, source)))
        self._worker = self.run_worker(source.work, name="source", thread=True,
                                       exit_on_error=False)
        self.push_screen(self.run_screen)

    def action_close_cell(self) -> None:
        if self.source is not None:
            self.source.request_stop()
        self.source = None
        self._worker = None
        self.title = self.sweep_title
        if self.screen is self.run_screen:
            self.pop_screen()

    def _finished(self, event: RunFinished) -> None:
        if event.status == "completed":  # q would leave the board too
            self.notify(f"{event.epochs_completed} epochs; esc goes back to the board",
                        title="run completed")
        else:
            super()._finished(event)

    def on_cell_event(self, message: CellEvent) -> None:
        if message.source is self.source:
            self.consume_all(message.events)
