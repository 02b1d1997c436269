"""The live view: one app over one RunSource, for `memtui run` (a training run in this process)
and `memtui watch` (a run directory).

One stream of memtui.events drives everything: the source delivers the events it has read as a
``RunEvent`` message (thread-safe, non-blocking) from a Textual thread worker; ``MemtuiApp.consume``
applies each to the run's read model (memtui.runstate) and tells the RunScreen what changed; the
screen redraws the changed widgets at most ``REFRESH_HZ`` times a second, within its CPU budget,
however fast events arrive. The screens see the app as their host (memtui.tui.host); the
launchers that start it are in memtui.tui.launch.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from memtui.compare import Comparison
from memtui.events import Event, LossDiverged, RunFinished, RunStarted
from memtui.runstate import RunState
from memtui.tui.leaderboard import LeaderboardScreen
from memtui.tui.run_screen import RunScreen
from memtui.tui.samples_screen import SamplesScreen
from memtui.tui.sources import MultiRunSource, RunSource, SourceNotice
from memtui.tui.svg import pin_cells
from memtui.tui.widgets.help.help_screen import HelpScreen

REFRESH_HZ = 1
#: Charts redraw at most this often...
CHART_INTERVAL_S = 1.0
#: ...and what the view redraws at its own pace is held to this share of a core of its thread
#: (charts, values, compositing, events together; RunScreen.flush). Draws it makes at once (a key,
#: the first epoch, a short run every tenth of the way), its minimum freshness and the threads
#: that read the runs come on top; the whole process is meant to stay within 2% of a core with
#: 5 runs x 4 losses on screen (docs/benchmarks.md).
VIEW_BUDGET = 0.013


class RunEvent(Message):
    """Events of the run (of run number ``run`` when there are several), or SourceNotices,
    posted from the source's thread: as many as it read at once."""

    def __init__(self, events: Sequence[Event | SourceNotice], run: int = 0) -> None:
        super().__init__()
        self.events = events
        self.run = run


class MemtuiApp(App[str]):
    CSS_PATH = Path(__file__).with_name("memtui.tcss")  # absolute: subclasses live elsewhere
    TITLE = "memtui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit_run", "quit"),
        Binding("ctrl+c", "quit_run", "quit", show=False, priority=True),
        Binding("p", "toggle_pause", "pause"),
        # The run screen's own actions: declared here to keep the footer in this order; under
        # the help screen they find no action and do nothing.
        Binding("o", "screen.toggle_overlay", "overlay"),
        Binding("m", "screen.next_metric", "metric"),
        Binding("l", "screen.toggle_loss_chart", "acc/loss"),
        Binding("b", "leaderboard", "board"),
        Binding("r", "screen.toggle_resources", "resources", show=False),  # in the help (?)
        Binding("e", "samples", "samples", show=False),  # in the help (?)
        Binding("s", "screenshot", "svg"),
        Binding("question_mark", "help", "help", key_display="?"),
        # After ?: an 80-column footer ends at ? help, a wider one shows these too.
        Binding("g", "screen.toggle_log", "log"),
        Binding("x", "screen.next_x_range", "range"),
        Binding("left", "screen.cursor(-1)", "cursor", key_display="←→"),
        Binding("right", "screen.cursor(1)", "cursor", show=False),
        Binding("escape", "screen.cursor_off", "cursor off", show=False),
    ]

    def __init__(self, source: RunSource | None = None, *,
                 clock: Callable[[], float] = time.time, refresh_hz: float = REFRESH_HZ,
                 chart_interval: float = CHART_INTERVAL_S, view_budget: float = VIEW_BUDGET
                 ) -> None:
        """``source``: where events come from; None: only through ``consume`` (tests,
        screenshots). ``clock`` gives the elapsed time; tests freeze it. ``chart_interval`` and
        ``view_budget`` throttle redraws (see RunScreen.flush)."""
        super().__init__()
        self.source = source
        sources: list[RunSource] = (source.sources if isinstance(source, MultiRunSource)
                                    else [source] if source is not None else [])
        names = source.names if isinstance(source, MultiRunSource) else None
        #: one RunState per run (one, unless watching several); ``state`` is the one whose
        #: panes are shown
        self.comparison = Comparison([RunState(clock=clock) for _ in range(max(1, len(sources)))],
                                     names)
        self.selected = 0
        self.state = self.comparison.runs[0]
        self._sources = sources
        self.refresh_interval = 1.0 / refresh_hz
        self.run_screen = RunScreen(self, self.refresh_interval, chart_interval, view_budget)
        self.stopping = False
        self._worker: Worker | None = None
        #: The app's event loop once mounted: what a signal handler schedules the quit on.
        self.loop: asyncio.AbstractEventLoop | None = None
        for state, each in zip(self.comparison.runs, sources):
            state.started_at = each.started_at

    @property
    def source_controllable(self) -> bool:
        return self.source is not None and self.source.controllable

    @property
    def watching(self) -> bool:
        """A run directory, not a run in this process."""
        return self.source is not None and not self.source.controllable

    def get_default_screen(self) -> Screen:
        return self.run_screen

    def on_mount(self) -> None:
        self.loop = asyncio.get_running_loop()
        if self.source is not None:
            self.source.attach(lambda events, run=0: self.post_message(RunEvent(events, run)))
            self._worker = self.run_worker(self.source.work, name="source", thread=True,
                                           exit_on_error=False)

    def on_unmount(self) -> None:
        # Textual only flags thread workers as cancelled when the app closes; the sources listen
        # to their own stop request (the engine checks it every batch), so closing the app for
        # any reason stops them.
        if self.source is not None:
            self.source.request_stop()

    # -- the event stream ------------------------------------------------------------------------

    def on_run_event(self, message: RunEvent) -> None:
        self.consume_all(message.events, message.run)

    def consume_all(self, events: Iterable[Event | SourceNotice], run: int = 0) -> None:
        for event in events:
            self.consume(event, run)

    def consume(self, event: Event | SourceNotice, run: int = 0) -> None:
        """Take in one event (of run number ``run``): update the state, tell the screen what
        changed, tell the user about what needs attention. Drawing waits for the screen's next
        tick."""
        many = len(self.comparison.runs) > 1
        if isinstance(event, SourceNotice):
            where = f"{self.comparison.names[run]}: " if many else ""
            self.run_screen.show_banner(f"{where}{event.text}" if event.text else "")
            return
        state = self.comparison.runs[run]
        if isinstance(event, RunFinished) and run < len(self._sources):
            state.ended_at = self._sources[run].ended_at
        changed = self.comparison.apply(run, event)
        if run == self.selected:
            self.run_screen.changed(changed)
            if isinstance(event, RunFinished) and self.run_screen.is_mounted:
                self.run_screen.flush(force=True)  # the final values, without waiting a turn
        else:
            self.run_screen.changed_elsewhere()
        who = f"{self.comparison.names[run]}: " if many else ""
        if isinstance(event, RunStarted):
            if run == self.selected:
                self.title = f"memtui · {state.config.get('name', '')}"
                if self.run_screen.is_mounted:
                    self.run_screen.build_panes()
        elif isinstance(event, LossDiverged):
            self.notify(f"{who}{event.loss} diverged in epoch {event.epoch}: {event.reason}; the "
                        "other losses go on", title="loss diverged", severity="warning",
                        timeout=10, markup=False)
        elif isinstance(event, RunFinished):
            if many:
                # the runs line counts those still running; only a failure needs a word
                if event.status == "failed":
                    self.notify(f"{who}failed after {event.epochs_completed} epoch(s): "
                                f"{event.message}", title="run failed", severity="error",
                                timeout=30, markup=False)
            else:
                self._finished(event)

    def select_run(self, run: int) -> None:
        """Show the panes of run number ``run`` (with several runs: the leaderboard's Enter)."""
        self.selected = run
        self.state = self.comparison.runs[run]
        self.run_screen.build_panes()
        self.run_screen.views.current = "panes"
        self.run_screen.flush(force=True)

    def _finished(self, event: RunFinished) -> None:
        if event.status == "failed":
            where = ""
            if event.error and self.state.run_dir:
                log = self._error_log(event.error)
                where = f"; traceback in {log}" if log else ""
            self.run_screen.show_banner(f"run failed after {event.epochs_completed} epoch(s): "
                                        f"{event.message}{where}")
            self.notify(f"{event.message}{where}", title="training failed", severity="error",
                        timeout=30, markup=False)
        elif event.status == "stopped":
            self.notify(f"stopped after {event.epochs_completed} epoch(s); summary written",
                        title="run stopped", severity="warning")
        else:
            self.notify(f"{event.epochs_completed} epochs; press q to leave", title="run completed")

    def _error_log(self, error: str) -> Path | None:
        """The run log writes error.log for a failed RunFinished; write it here only when none
        did (the worker died outside the engine), so a traceback is never lost."""
        log = Path(self.state.run_dir) / "error.log"
        if not log.exists():
            try:
                log.write_text(error, encoding="utf-8")
            except OSError:
                return None
        return log

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker:
            return
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            if self.source_controllable and not self.state.finished:
                # a sink raised while the engine was reporting its end: show it like any failure
                text = "".join(traceback.format_exception(error)) if error else ""
                self.consume(RunFinished("failed", self.state.epochs_done,
                                         f"{type(error).__name__}: {error}", error=text))
            elif not self.source_controllable:  # e.g. the file was rewritten under us by a --resume
                self.run_screen.show_banner(f"cannot follow the run any more: {error}")
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            if self.stopping:
                self.exit(self.state.status if self.state.finished else "stopped")

    # -- what the screen and tests read ----------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self.source is not None and self.source.paused

    @property
    def pending_redraw(self) -> bool:
        return self.run_screen.pending_redraw

    @property
    def resource_sample(self) -> dict[str, float] | None:
        if self.selected >= len(self._sources):
            return None
        return getattr(self._sources[self.selected], "resources", None)  # a LiveSource's

    def flush(self, force: bool = False) -> None:
        self.run_screen.flush(force)

    # -- actions ---------------------------------------------------------------------------------

    def action_quit_run(self) -> None:
        """Stop training after the current batch; exit once the engine has written the summary."""
        worker = self._worker
        if not self.source_controllable or worker is None or worker.is_finished:
            if self.source is not None:
                self.source.request_stop()
            self.exit(self.state.status)
            return
        if not self.stopping:
            self.stopping = True
            assert self.source is not None
            self.source.request_stop()
            self.notify("stopping after the current batch… (again: leave now)", title="quit")
        else:
            # A second ctrl+c or q leaves the view at once; training still stops after its
            # current batch and writes its summary before memtui exits (run_live waits for it).
            self.exit("stopped")
            return
        self.flush()

    def action_toggle_pause(self) -> None:
        if self.source is None or not self.source.controllable:
            self.notify("pausing applies to a live run; this view reads a run directory",
                        severity="warning")
            return
        if self.state.finished or self.stopping:
            return
        paused = self.source.toggle_pause()
        self.notify("paused: training waits after the current batch" if paused else "resumed",
                    title="pause" if paused else "resume")
        self.flush()

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save the screen as SVG into the run directory (Textual's action, kept in its shape)."""
        folder = Path(path or self.state.run_dir or Path.cwd())
        name = filename or f"memtui-{datetime.now().strftime('%Y%m%d-%H%M%S')}.svg"
        try:
            path = str(folder / name)
            # braille pinned to its cells: see memtui.tui.svg
            Path(path).write_text(pin_cells(self.export_screenshot()), encoding="utf-8")
        except OSError as exc:
            self.notify(f"cannot write {folder / name}: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"saved {path}", title="screenshot")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(live=not self.watching))

    def action_samples(self) -> None:
        if not isinstance(self.screen, SamplesScreen):
            self.push_screen(SamplesScreen(self, self.run_screen.view_budget))

    def action_leaderboard(self) -> None:
        if not isinstance(self.screen, LeaderboardScreen):
            self.push_screen(LeaderboardScreen(self))
