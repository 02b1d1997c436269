"""The live view: `memtui run` (a training thread feeding the app) and `memtui watch` (a run
directory feeding the same app).

One stream of memtui.events drives everything. Live, the engine runs in a Textual thread worker
and a ForwardingSink posts each event to the app as a ``RunEvent`` message (thread-safe and
non-blocking); watching, a timer polls a RunDirSource that rebuilds the same events from disk.
Either way ``MemtuiApp.consume`` updates a RunState and marks what changed; a refresh timer
redraws the changed widgets at most ``REFRESH_HZ`` times a second, however fast events arrive.
"""

from __future__ import annotations

import math
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.widgets import ContentSwitcher, Footer, Static
from textual.worker import Worker, WorkerState

from memtui.errors import MemtuiError
from memtui.events import Event, LossDiverged, RunFinished, RunStarted
from memtui.metrics import METRICS
from memtui.tui.sources import ForwardingSink, RunDirSource
from memtui.tui.state import HEADER, OVERLAY_METRICS, RunState
from memtui.tui.widgets import EpochChart, HelpScreen, LossPane, OverlayView, RunHeader

if TYPE_CHECKING:  # watching a run directory needs no torch
    from memtui.engine import Engine

REFRESH_HZ = 1
#: Charts (and the values tables beside them) redraw at most this often.
CHART_INTERVAL_S = 1.0
#: ...and less often when drawing them would take more than this share of the time.
CHART_BUDGET = 0.02
WATCH_POLL_S = 0.5
#: Narrowest useful pane; more losses than fit side by side wrap into rows.
MIN_PANE_WIDTH = 26
#: A pane lower than this shows one chart at a time (`l` switches accuracy / loss).
MIN_TWO_CHART_HEIGHT = 26


class RunEvent(Message):
    """An engine event, posted from the training thread."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class MemtuiApp(App[str]):
    CSS_PATH = Path(__file__).with_name("memtui.tcss")  # absolute: subclasses live elsewhere
    TITLE = "memtui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit_run", "quit"),
        Binding("ctrl+c", "quit_run", "quit", show=False, priority=True),
        Binding("p", "toggle_pause", "pause"),
        Binding("o", "toggle_overlay", "overlay"),
        Binding("m", "next_metric", "metric"),
        Binding("l", "toggle_loss_chart", "acc/loss"),
        Binding("s", "screenshot", "screenshot"),
        Binding("question_mark", "help", "help", key_display="?"),
    ]

    def __init__(self, *, engine: Engine | None = None, source: RunDirSource | None = None,
                 clock: Callable[[], float] = time.time, refresh_hz: float = REFRESH_HZ,
                 chart_interval: float = CHART_INTERVAL_S, chart_budget: float = CHART_BUDGET,
                 poll_s: float = WATCH_POLL_S) -> None:
        """``engine``: a prepared Engine to train live; ``source``: a run directory to watch;
        neither: events come only through ``consume`` (tests, screenshots). ``clock`` gives the
        elapsed time; tests freeze it. ``chart_interval`` and ``chart_budget`` throttle chart
        redraws (see ``flush``)."""
        super().__init__()
        self.engine = engine
        self.source = source
        self.state = RunState(clock=clock)
        self.refresh_interval = 1.0 / refresh_hz
        self.chart_interval = chart_interval
        self.chart_budget = chart_budget
        self._charts_drawn = -math.inf
        self._drawing_seconds = 0.0
        self.poll_s = poll_s
        self.overlay_metric = "memorized"
        self.panes: dict[str, LossPane] = {}
        self.stopping = False
        self.engine_done = threading.Event()
        self._dirty: set[str] = set()
        self._overlay_dirty = True
        self._worker: Worker | None = None
        if source is not None:
            self.state.started_at = source.started_at

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes, not queried: app.query_one searches the active screen, which is
        # the help screen while it is open, and the clock keeps ticking under it.
        self.header = RunHeader(id="header")
        self.banner = Static(id="error-banner")
        self.views = ContentSwitcher(initial="panes", id="views")
        self.grid = Container(id="panes")
        self.overlay = OverlayView(id="overlay")
        yield self.header
        yield self.banner
        with self.views:
            yield self.grid
            yield self.overlay
        yield Footer()

    def on_mount(self) -> None:
        self.banner.display = False
        self.set_interval(self.refresh_interval, self.flush)
        if self.source is not None:
            self.poll_timer = self.set_interval(self.poll_s, self.poll_source)
            self.poll_source()
        if self.engine is not None:
            self.engine.sinks.append(ForwardingSink(lambda event: self.post_message(RunEvent(event))))
            self._worker = self.train()
        self.flush()

    def on_resize(self, event: events.Resize) -> None:
        self.relayout(event.size)  # self.size still holds the old size here

    def relayout(self, size: Size | None = None) -> None:
        """Pick the grid's columns for the terminal size: as many panes side by side as fit,
        balanced over the rows; one chart per pane when the rows get too low for two."""
        grid = self.grid
        count = max(1, len(self.panes))
        width, height = size or self.size
        max_columns = max(1, min(count, width // MIN_PANE_WIDTH))
        rows = math.ceil(count / max_columns)
        columns = math.ceil(count / rows)
        grid.styles.grid_size_columns = columns
        grid.styles.grid_size_rows = rows
        header_rows = self.header.outer_size.height or 2
        pane_height = (height - header_rows - 1) // rows
        grid.set_class(pane_height < MIN_TWO_CHART_HEIGHT, "-compact")

    # -- the event stream ------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, name="engine")
    def train(self) -> None:
        """Runs the engine. Its RunControl is checked every batch, so a stop request ends this
        within one batch; Engine.run never raises, it reports failures as RunFinished."""
        assert self.engine is not None
        try:
            self.engine.run()
        finally:
            self.engine_done.set()

    def on_unmount(self) -> None:
        # Textual only flags thread workers as cancelled when the app closes; the engine listens
        # to its RunControl (checked every batch), so closing the app for any reason stops it.
        if self.engine is not None:
            self.engine.control.request_stop()

    def on_run_event(self, message: RunEvent) -> None:
        self.consume(message.event)

    def poll_source(self) -> None:
        assert self.source is not None
        try:
            events = self.source.poll()
        except MemtuiError as exc:  # e.g. the file was rewritten under us by a --resume
            self.poll_timer.stop()
            self.banner.update(Content(f"cannot follow the run any more: {exc}"))
            self.banner.display = True
            return
        self.consume_all(events)
        if self.source.finished and self.state.ended_at is None:
            self.state.ended_at = self.source.ended_at

    def consume_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.consume(event)

    def consume(self, event: Event) -> None:
        """Take in one event: update the state, remember what to redraw, tell the user about
        what needs attention. Drawing waits for the next refresh tick."""
        if isinstance(event, RunFinished) and self.source is not None:
            self.state.ended_at = self.source.ended_at
        changed = self.state.apply(event)
        self._dirty |= changed
        self._overlay_dirty = self._overlay_dirty or bool(changed - {HEADER})
        if isinstance(event, RunStarted):
            self._build_panes()
        elif isinstance(event, LossDiverged):
            self.notify(f"{event.loss} diverged in epoch {event.epoch}: {event.reason}; the other "
                        "losses go on", title="loss diverged", severity="warning", timeout=10,
                        markup=False)
        elif isinstance(event, RunFinished):
            self._finished(event)

    def _build_panes(self) -> None:
        grid = self.grid
        grid.remove_children()
        self.panes = {label: LossPane(loss, index)
                      for index, (label, loss) in enumerate(self.state.losses.items())}
        grid.mount(*self.panes.values())
        self.title = f"memtui · {self.state.config.get('name', '')}"
        self.relayout()

    def _finished(self, event: RunFinished) -> None:
        if event.status == "failed":
            where = ""
            if event.error and self.state.run_dir:
                log = self._error_log(event.error)
                where = f"; traceback in {log}" if log else ""
            banner = self.banner
            # Content, not markup: an exception's text may hold brackets ("[Errno 28] ...").
            banner.update(Content(f"run failed after {event.epochs_completed} epoch(s): "
                                  f"{event.message}{where}"))
            banner.display = True
            self.notify(f"{event.message}{where}", title="training failed", severity="error",
                        timeout=30, markup=False)
        elif event.status == "stopped":
            self.notify(f"stopped after {event.epochs_completed} epoch(s); summary written",
                        title="run stopped", severity="warning")
        else:
            self.notify(f"{event.epochs_completed} epochs; press q to leave", title="run completed")

    def _error_log(self, error: str) -> Path | None:
        """The RunLogWriter writes error.log for a failed RunFinished; write it here only when
        no writer did (the worker died outside the engine), so a traceback is never lost."""
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
        if event.state == WorkerState.ERROR and not self.state.finished:
            # a sink raised while the engine was reporting its end: show it like any failure
            error = event.worker.error
            text = "".join(traceback.format_exception(error)) if error else ""
            self.consume(RunFinished("failed", self.state.epochs_done,
                                     f"{type(error).__name__}: {error}", error=text))
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            if self.stopping:
                self.exit(self.state.status if self.state.finished else "stopped")

    # -- drawing ---------------------------------------------------------------------------------

    def flush(self, force: bool = False) -> None:
        """Redraw what changed: the header every tick (for its clock), the charts at most every
        ``chart_interval`` seconds, since a chart costs milliseconds of the GIL that training
        shares. ``force`` draws the charts now (a key press, so the user sees it at once)."""
        self.header.show(
            self.state, paused=self.paused, stopping=self.stopping,
            watching=self.source is not None)
        now = time.monotonic()
        # Space chart redraws so that drawing them (plotext, then Textual's strips: ~10 ms a
        # chart) takes at most chart_budget of the time: it holds the GIL training needs.
        cost = EpochChart.drawing_seconds - self._drawing_seconds
        wait = max(self.chart_interval, cost / self.chart_budget)
        if not force and now - self._charts_drawn < wait:
            return
        self._charts_drawn = now
        self._drawing_seconds = EpochChart.drawing_seconds
        dirty, self._dirty = self._dirty - {HEADER}, set()
        for label in dirty:
            pane = self.panes.get(label)
            if pane is not None and pane.is_mounted:
                pane.show()
            elif pane is not None:
                self._dirty.add(label)  # not mounted yet: draw on the next tick
        if self._overlay_dirty and self.views.current == "overlay":
            self._overlay_dirty = False
            self.overlay.show(self.state, self.overlay_metric)

    @property
    def pending_redraw(self) -> bool:
        """Whether changes wait for the next chart tick (tests wait on this)."""
        overlay = self.views.current == "overlay"
        return bool(self._dirty - {HEADER}) or (overlay and self._overlay_dirty)

    @property
    def paused(self) -> bool:
        return self.engine is not None and self.engine.control.paused

    # -- actions ---------------------------------------------------------------------------------

    def action_quit_run(self) -> None:
        """Stop training after the current batch; exit once the engine has written the summary."""
        if self.engine is None or self.engine_done.is_set():
            self.exit(self.state.status)
            return
        if not self.stopping:
            self.stopping = True
            self.engine.control.request_stop()
            self.notify("stopping after the current batch…", title="quit")
        self.flush()

    def action_toggle_pause(self) -> None:
        if self.engine is None:
            self.notify("pausing applies to a live run; this view reads a run directory",
                        severity="warning")
            return
        if self.state.finished or self.stopping:
            return
        paused = self.engine.control.toggle_pause()
        self.notify("paused: training waits after the current batch" if paused else "resumed",
                    title="pause" if paused else "resume")
        self.flush()

    def action_toggle_overlay(self) -> None:
        switcher = self.views
        switcher.current = "panes" if switcher.current == "overlay" else "overlay"
        self._overlay_dirty = True
        self.flush(force=True)

    def action_next_metric(self) -> None:
        index = OVERLAY_METRICS.index(self.overlay_metric)
        self.overlay_metric = OVERLAY_METRICS[(index + 1) % len(OVERLAY_METRICS)]
        switcher = self.views
        if switcher.current != "overlay":
            switcher.current = "overlay"
        self._overlay_dirty = True
        self.notify(METRICS[self.overlay_metric].help, title=METRICS[self.overlay_metric].title,
                    timeout=3)
        self.flush(force=True)

    def action_toggle_loss_chart(self) -> None:
        self.grid.toggle_class("-show-loss")

    def action_screenshot(self) -> None:
        folder = Path(self.state.run_dir) if self.state.run_dir else Path.cwd()
        name = f"memtui-{datetime.now().strftime('%Y%m%d-%H%M%S')}.svg"
        try:
            path = self.save_screenshot(filename=name, path=str(folder))
        except OSError as exc:
            self.notify(f"cannot write {folder / name}: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"saved {path}", title="screenshot")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())


def _stop_on_signals(app: MemtuiApp, engine: Engine) -> dict:
    """SIGTERM and SIGHUP (an SSH session closing) stop training and leave the app, as `q` does;
    the summary is written either way."""
    previous = {}

    def handler(signum, _frame):
        engine.control.request_stop()
        loop = app._loop
        if loop is not None:
            loop.call_soon_threadsafe(app.action_quit_run)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            sig = getattr(signal, name)
            previous[sig] = signal.signal(sig, handler)
    return previous


def run_live(engine: Engine, writer) -> str:
    """Train ``engine`` under the live view; the run's final status. ``writer``, the run log, is
    already among the engine's sinks, ahead of the app's, so the disk is written first."""
    app = MemtuiApp(engine=engine)
    previous = _stop_on_signals(app, engine)
    try:
        app.run()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        # However the app ended, training stops and the engine writes its summary before we go.
        engine.control.request_stop()
        if app._worker is not None:
            app.engine_done.wait()
    return app.state.status if app.state.finished else "stopped"


def run_watch(path: Path) -> int:
    """Open the view on a run directory; 0 on leaving. A bad directory raises RunDirError
    before anything is drawn."""
    source = RunDirSource(Path(path))
    MemtuiApp(source=source).run()
    return 0
