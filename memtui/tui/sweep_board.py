"""`memtui watch sweeps/<id>`: a board of a sweep's cells, and each cell's panes on Enter.

``SweepFollower`` reads the sweep: the manifest (again only when it changed) and each cell's run
directory through a RunDirSource into a RunState of its own, so a poll reads only the lines that
grew and skips finished cells. ``SweepBoard`` polls it in a thread worker and shows a row per
cell: its axes' values, status, epoch k/N, and per loss the latest memorised share and test
accuracy, coloured by value from the theme's colours (so NO_COLOR and light themes work).

``SweepApp`` is the live view (MemtuiApp) whose default screen is the board and whose one source
is the open cell's: Enter follows the cell in a ``CellScreen`` (the run view), Esc stops that
source and goes back. ``run_sweep_live`` is `memtui sweep` on a terminal: the same app over a
sweep that a child process runs (memtui.sweep.background), where q stops the sweep.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from memtui.compare import Comparison
from memtui.errors import RunDirError
from memtui.events import Event, RunFinished
from memtui.runlog import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE
from memtui.runstate import RunState
from memtui.sweep.background import BackgroundSweep
from memtui.sweep.manifest import MANIFEST_FILE, Manifest
from memtui.tui.app import MemtuiApp
from memtui.tui.run_screen import RunScreen
from memtui.tui.sources import RunDirSource
from memtui.tui.widgets import HelpScreen

#: How often the board reads the sweep; a finished cell costs nothing, a running one a read of
#: the lines its metrics.jsonl grew by.
BOARD_POLL_S = 1.0
#: Per loss, these metrics' latest values, under these headings.
BOARD_METRICS = {"memorized": "mem", "test_acc": "test"}
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


# ---------------------------------------------------------------------------------------------
# Reading the sweep (no Textual)

@dataclass
class CellFollower:
    """One cell's run directory, read incrementally into its own RunState."""

    path: Path
    source: RunDirSource | None = None
    state: RunState = field(default_factory=RunState)
    #: the inodes of config.json and metrics.jsonl when the source was made: a retry that moves
    #: the run aside or a resume that rewrites metrics.jsonl replaces them, and reading starts over
    files: tuple[int, int] = (0, 0)

    def _files(self) -> tuple[int, int]:
        def inode(name: str) -> int:
            try:
                return (self.path / name).stat().st_ino
            except OSError:
                return 0
        return inode(CONFIG_FILE), inode(METRICS_FILE)

    def poll(self) -> bool:
        """Read what grew; True when the cell's state changed."""
        files = self._files()
        if self.source is not None and (files != self.files or (
                self.source.finished and not (self.path / SUMMARY_FILE).is_file())):
            self.source, self.state = None, RunState()  # rewritten under us: read it again
        if self.source is None:
            if not files[0]:
                return False  # not started yet
            try:
                self.source = RunDirSource(self.path)
            except RunDirError:
                return False  # config.json being written: next time
            self.files = files
        if self.source.finished:
            return False
        try:
            events = self.source.poll()
        except RunDirError:
            self.source, self.state = None, RunState()
            return True
        self.state.apply_all(events)
        return bool(events)


class SweepFollower:
    """The manifest and a CellFollower per cell; ``poll`` returns the names of changed cells."""

    def __init__(self, sweep_dir: Path) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.manifest = Manifest.load(self.sweep_dir)  # raises RunDirError before any UI starts
        self._manifest_stamp = self._stamp()
        self.cells: dict[str, CellFollower] = {}
        self._sync_cells()
        self.poll()  # what is there already, before the first frame

    def _stamp(self) -> tuple[int, int]:
        try:
            stat = (self.sweep_dir / MANIFEST_FILE).stat()
        except OSError:
            return (0, 0)
        return stat.st_ino, stat.st_mtime_ns

    def _sync_cells(self) -> None:
        for cell in self.manifest.cells:
            if cell["name"] not in self.cells:
                self.cells[cell["name"]] = CellFollower(self.manifest.cell_dir(cell["name"]))

    def poll(self) -> set[str]:
        changed: set[str] = set()
        stamp = self._stamp()
        if stamp != self._manifest_stamp:
            try:
                old = {c["name"]: dict(c) for c in self.manifest.cells}
                self.manifest = Manifest.load(self.sweep_dir)
                self._manifest_stamp = stamp
                self._sync_cells()
                changed |= {c["name"] for c in self.manifest.cells if old.get(c["name"]) != c}
            except RunDirError:
                pass  # caught mid-write on a file system without atomic rename: next time
        for name, follower in self.cells.items():
            if follower.poll():
                changed.add(name)
        return changed

    @property
    def loss_labels(self) -> list[str]:
        """Every cell's losses, in the order they first appear."""
        labels: dict[str, None] = {}
        for follower in self.cells.values():
            labels.update(dict.fromkeys(follower.state.losses))
        return list(labels)


# ---------------------------------------------------------------------------------------------
# The board

def axis_heading(axis: str) -> str:
    return axis.rsplit(".", 1)[-1]


def axis_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class CellTable(DataTable):
    BINDINGS = [Binding("enter", "select_cursor", "open cell")]  # DataTable's, in the footer


class SweepBoard(Screen):
    """A row per cell; Enter opens it."""

    app: SweepApp

    def __init__(self, follower: SweepFollower, poll_s: float = BOARD_POLL_S) -> None:
        super().__init__()
        self.follower = follower
        self.poll_s = poll_s
        self._labels: list[str] = []
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        self.info = Static(id="sweep-info")
        self.table = CellTable(id="cells", cursor_type="row", zebra_stripes=True,
                               header_height=2)
        yield self.info
        yield self.table
        yield Footer()

    def on_mount(self) -> None:
        self.show(set(self.follower.cells))
        self.table.focus()
        self.run_worker(self._follow, name="sweep", thread=True, exit_on_error=False)

    def on_unmount(self) -> None:
        self._stop.set()

    def _follow(self) -> None:
        """The worker: poll the sweep every ``poll_s`` seconds and show what changed."""
        while not self._stop.is_set():
            changed = self.follower.poll()
            if changed and not self._stop.is_set():
                try:
                    self.app.call_from_thread(self.show, changed)
                except RuntimeError:
                    return  # the app closed meanwhile
            self._stop.wait(self.poll_s)

    # -- drawing ---------------------------------------------------------------------------------

    def show(self, changed: set[str]) -> None:
        """Redraw the header and the changed cells' rows (every row when the losses changed)."""
        manifest = self.follower.manifest
        counts = {status: n for status, n in manifest.counts().items() if n}
        info = Text()
        info.append(f"sweep {manifest.name}", style="bold")
        info.append(f" · {len(manifest.cells)} cells: ")
        info.append(", ".join(f"{n} {status}" for status, n in counts.items()))
        info.append(f" · {self.follower.sweep_dir}", style="dim")
        sweep_line, sweep = self.app.sweep_line, self.app.sweep
        if sweep_line is not None and sweep is not None:
            info.append(f"\n{sweep_line}", style="bold" if sweep.stopping else "")
        info.append("\nmem: share of the corrupted samples predicted as their given label (lower "
                    "is better) · test: accuracy on the clean test set · both in %", style="dim")
        self.info.update(info)

        labels = self.follower.loss_labels
        table = self.table
        if labels != self._labels or not table.columns:
            self._labels = labels
            cursor = table.cursor_row
            table.clear(columns=True)
            for axis in list(manifest.axes) or ["cell"]:
                table.add_column(f"\n{axis_heading(axis)}", key=f"axis:{axis}")
            table.add_column("\nstatus", key="status")
            table.add_column("\nepoch", key="epoch")
            for label in labels:  # the loss's name over its first column
                for index, (metric, heading) in enumerate(BOARD_METRICS.items()):
                    table.add_column(f"{label if index == 0 else ''}\n{heading}",
                                     key=f"{label}:{metric}")
            for cell in manifest.cells:
                table.add_row(*self._row(cell), key=cell["name"])
            table.move_cursor(row=cursor)
            return
        for cell in manifest.cells:
            if cell["name"] not in changed:
                continue
            if cell["name"] not in table.rows:
                table.add_row(*self._row(cell), key=cell["name"])
                continue
            for column, value in zip(table.columns, self._row(cell)):
                table.update_cell(cell["name"], column, value, update_width=True)

    def _row(self, cell: dict[str, Any]) -> list[Text | str]:
        state = self.follower.cells[cell["name"]].state
        axes = self.follower.manifest.axes
        row: list[Text | str] = [axis_value(cell["overrides"].get(axis, "")) for axis in axes]
        if not axes:
            row.append(cell["name"])
        status = str(cell.get("status", "pending"))
        row.append(Text(status, style=self._status_style(status)))
        total = state.epochs_total or cell.get("epochs") or "?"
        row.append(f"{state.epochs_done}/{total}" if state.status != "waiting" else f"—/{total}")
        for label in self._labels:
            loss = state.losses.get(label)
            for metric in BOARD_METRICS:
                value = loss.latest.get(metric) if loss is not None else None
                row.append(self._value(metric, value, loss is not None and bool(loss.diverged)))
        return row

    def _theme(self, name: str) -> Color:
        return Color.parse(self.app.theme_variables.get(name, "grey"))

    def _status_style(self, status: str) -> Style:
        colour = {"running": "primary", "completed": "success", "failed": "error",
                  "stopped": "warning"}.get(status)
        if colour is None:
            return Style(dim=True)
        return Style(color=self._theme(colour).rich_color, bold=status in ("running", "failed"))

    def _value(self, metric: str, value: float | None, diverged: bool) -> Text:
        """The value, coloured from the theme's error (bad) through warning to success (good):
        memorising is bad, test accuracy good."""
        text = "—" if value is None else f"{100 * value:.1f}"
        if diverged:
            return Text(f"{text} ✗", style=Style(color=self._theme("error").rich_color))
        if value is None:
            return Text(text, style=Style(dim=True))
        good = 1.0 - value if metric == "memorized" else value
        good = min(1.0, max(0.0, good))
        bad, middle, best = self._theme("error"), self._theme("warning"), self._theme("success")
        colour = bad.blend(middle, good * 2) if good < 0.5 else middle.blend(best, good * 2 - 1)
        return Text(text, style=Style(color=colour.rich_color))

    # -- actions ---------------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.app.open_cell(event.row_key.value)


# ---------------------------------------------------------------------------------------------
# A cell's run view, and the app

class CellScreen(RunScreen):
    """The run view of one cell; Esc goes back to the board."""

    BINDINGS = [
        Binding("escape", "app.close_cell", "board"),
        Binding("o", "toggle_overlay", "overlay"),
        Binding("m", "next_metric", "metric"),
        Binding("l", "toggle_loss_chart", "acc/loss"),
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
                 sweep: BackgroundSweep | None = None, **view: Any) -> None:
        """``poll_s``: how often the board and an open cell read the disk; ``sweep``: the child
        process running this sweep, when `memtui sweep` opened the board (q stops it);
        ``view``: as MemtuiApp's (clock, refresh and chart throttles)."""
        super().__init__(None, **view)
        self.poll_s = poll_s
        self.sweep = sweep
        self._sweep_ended = False  # seen ended by _check_sweep, which then acts once
        self.board = SweepBoard(SweepFollower(sweep_dir), poll_s)
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
        """What the board says of the sweep process; None when it only watches."""
        sweep = self.sweep
        if sweep is None:
            return None
        if sweep.poll() is not None:
            code = sweep.exit_code()
            outcome = {0: "finished", 1: "finished, with failed cells",
                       130: "stopped; `memtui sweep --resume` continues it"}
            return (f"the sweep {outcome.get(code, f'ended with exit code {code}')} · q leaves · "
                    f"its log: {sweep.log_path}")
        if sweep.stopping:
            return ("stopping: every running cell finishes its current batch and keeps its "
                    "completed epochs (q again: interrupt them at once)")
        return f"running here · q stops every cell (--resume continues) · its log: {sweep.log_path}"

    def _check_sweep(self) -> None:
        assert self.sweep is not None
        if self.sweep.poll() is None or self._sweep_ended:
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
        quit_keys = (SWEEP_RUN_KEYS if self.sweep is not None and self.sweep.poll() is None
                     else SWEEP_WATCH_KEYS)
        self.push_screen(HelpScreen(leading_keys=quit_keys + SWEEP_BOARD_KEYS))

    def action_quit_run(self) -> None:
        sweep = self.sweep
        if sweep is None or sweep.poll() is not None:
            if self.source is not None:
                self.source.request_stop()
            self.exit(self.state.status)
            return
        sweep.request_stop()
        self.board.show(set())
        if sweep.stops_sent == 1:
            self.notify("stopping every cell after its current batch… (again: interrupt at once)",
                        title="quit")
        else:
            self.notify("interrupting every cell; each keeps its last checkpoint", title="quit")

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
        self.run_screen = CellScreen(self.refresh_interval, screen.chart_interval,
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


def run_sweep_board(path: Path) -> int:
    """Open the board on a sweep directory; 0 on leaving. A bad manifest, or a terminal that
    cannot show the board, raises a MemtuiError before anything is drawn."""
    from memtui.tui.app import check_terminal

    app = SweepApp(Path(path))
    check_terminal()
    app.run()
    return 0


def run_sweep_live(sweep_dir: Path, on: str = "local", parallel: int | None = None) -> int:
    """`memtui sweep` on a terminal: the sweep runs in a child process (memtui.sweep.background)
    and the board follows it; the sweep's exit code. SIGTERM stops it as q does; SIGHUP (the
    terminal gone) stops it and ends this process once every cell has stopped
    (memtui.tui.app.leave_on_signals); however the view ends, the cells are stopped and waited
    for."""
    from memtui.tui.app import check_terminal, leave_on_signals

    check_terminal()
    sweep = BackgroundSweep(sweep_dir, on, parallel)
    app = SweepApp(Path(sweep_dir), sweep=sweep)
    sweep.start()

    def stop() -> None:
        if not sweep.stopping:
            sweep.request_stop()

    def stop_and_wait() -> int:
        stop()
        return sweep.exit_code()

    try:
        with leave_on_signals(app, stop, stop_and_wait):
            app.run()
    finally:
        if sweep.poll() is None:
            stop()
            print("memtui: waiting for the sweep's cells to stop after their current batch…",
                  file=sys.stderr, flush=True)
            try:
                sweep.wait()
            except KeyboardInterrupt:  # a ctrl-c now: interrupt the cells at once
                sweep.request_stop()
                sweep.wait()
    code = sweep.exit_code()
    for line in sweep.last_lines(1):
        print(line, file=sys.stderr, flush=True)
    if code == 130:
        print(f"memtui: continue it with `memtui sweep --resume {sweep_dir}`", file=sys.stderr,
              flush=True)
    elif code != 0:
        print(f"memtui: the sweep's log: {sweep.log_path}", file=sys.stderr, flush=True)
    return code
