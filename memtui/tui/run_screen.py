"""The run's screen: header, panes per loss, the overlay; it owns the layout and the redraw
timer, and draws only from its host's RunState (memtui.tui.host)."""

from __future__ import annotations

import dataclasses
import math
import time

from textual import events
from textual.app import ComposeResult
from textual.containers import Container
from textual.content import Content
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static

from memtui.metrics import METRICS
from memtui.runstate import HEADER, OVERLAY_METRICS
from memtui.tui.budget import CpuBudget
from memtui.tui.host import RunHost
from memtui.tui.widgets.charts.chart_view import X_RANGES, ChartView
from memtui.tui.widgets.charts.epoch_chart import EpochChart
from memtui.tui.widgets.header.resource_line import ResourceLine
from memtui.tui.widgets.header.run_header import RunHeader
from memtui.tui.widgets.overlay.overlay_view import OverlayView
from memtui.tui.widgets.panes.loss_pane import LossPane
from memtui.tui.widgets.resources.resource_panel import ResourcePanel

#: Narrowest useful pane; more losses than fit side by side wrap into rows.
MIN_PANE_WIDTH = 26
#: A pane lower than this shows one chart at a time (`l` switches accuracy / loss).
MIN_TWO_CHART_HEIGHT = 26
#: However short the view's CPU budget, the charts are redrawn at least this often...
MAX_CHART_WAIT_S = 40.0
#: ...and, in a run shorter than SHORT_RUN_S, whenever it has gone this share of its epochs
#: further, so that the demo (50 epochs in about a minute) is not charted only once or twice;
#: such redraws, like those the user asks for, are not charged to the budget...
MAX_CHART_LAG = 0.1
SHORT_RUN_S = 300.0
#: ...and the values tables at least this often.
MAX_VALUES_WAIT_S = 5.0
#: Below this (columns, rows) the view says the terminal is too small.
MIN_SIZE = (40, 12)
#: From this size (columns, rows) `r` shows the resource panel; below, one line in the header.
RESOURCE_PANEL_SIZE = (100, 32)


class RunScreen(Screen):
    def __init__(self, host: RunHost, refresh_interval: float, chart_interval: float,
                 view_budget: float) -> None:
        """``host``: the runs to show (the app); the rest throttle redraws (see ``flush``)."""
        super().__init__()
        self.host = host
        self.refresh_interval = refresh_interval
        self.chart_interval = chart_interval
        self.view_budget = view_budget
        self.budget = CpuBudget(view_budget)
        self._charts_drawn = -math.inf
        self._values_drawn = -math.inf
        self._drawing_at_draw = 0.0  # EpochChart.drawing_seconds when the charts were last drawn
        self._charts_show_data = False  # whether the charts have been drawn with any epoch yet
        self._fraction_charted = 0.0  # how far the run was when the charts were last drawn
        self.overlay_metric = "memorized"
        self.panes: dict[str, LossPane] = {}
        self._dirty: set[str] = set()  # panes whose charts wait for a redraw
        self._values_dirty: set[str] = set()  # panes whose values wait (the next tick)
        self._overlay_dirty = True
        #: log scale, x range and cursor, shared by every chart
        self.view = ChartView()
        self._size_banner = False
        self.show_resources = False  # `r`

    def compose(self) -> ComposeResult:
        self.header = RunHeader(id="header")
        self.runs_line = Static(id="runs-line")
        self.banner = Static(id="error-banner")
        self.views = ContentSwitcher(initial="panes", id="views")
        self.grid = Container(id="panes")
        self.overlay = OverlayView(id="overlay")
        self.resource_panel = ResourcePanel(id="resources")
        yield self.header
        yield self.resource_panel
        yield self.runs_line
        yield self.banner
        with self.views:
            yield self.grid
            yield self.overlay
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.set_interval(self.refresh_interval, self.flush)
        self.build_panes()
        self.flush()

    def on_resize(self, event: events.Resize) -> None:
        self.relayout(event.size)  # self.size still holds the old size here
        self._check_size(event.size)

    def _check_size(self, size: Size) -> None:
        """Say so when the terminal is too small to show the view (and stop saying it after)."""
        width, height = size
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        if small:
            self.show_banner(f"terminal too small ({width}x{height}): the view needs at least "
                             f"{MIN_SIZE[0]}x{MIN_SIZE[1]}")
        elif self._size_banner:
            self.banner.display = False
        self._size_banner = small

    # -- what the host tells us -------------------------------------------------------------------

    def changed(self, labels: set[str]) -> None:
        """The state of these losses (and HEADER) changed; they are drawn on the next tick."""
        self._dirty |= labels
        self._values_dirty |= labels - {HEADER}
        self._overlay_dirty = self._overlay_dirty or bool(labels - {HEADER})

    def changed_elsewhere(self) -> None:
        """A run other than the one in the panes changed: the overlay (and the runs line)."""
        self._overlay_dirty = True

    def show_banner(self, text: str) -> None:
        # Content, not markup: an exception's text may hold brackets ("[Errno 28] ...").
        self._size_banner = False  # whatever it said is replaced: a failure stays shown
        self.banner.update(Content(text))
        self.banner.display = bool(text)

    def build_panes(self) -> None:
        state = self.host.state
        self._charts_show_data = False  # another run's panes: its first epoch is drawn at once
        self.grid.remove_children()
        self.panes = {label: LossPane(loss, index)
                      for index, (label, loss) in enumerate(state.losses.items())}
        if self.panes:
            self.grid.mount(*self.panes.values())
        self._dirty |= set(self.panes)
        self.relayout()

    def relayout(self, size: Size | None = None) -> None:
        """Pick the grid's columns for the terminal size: as many panes side by side as fit,
        balanced over the rows; one chart per pane when the rows get too low for two."""
        grid = self.grid
        count = max(1, len(self.panes))
        width, height = size or self.size
        panel = width >= RESOURCE_PANEL_SIZE[0] and height >= RESOURCE_PANEL_SIZE[1]
        self.resource_panel.display = self.show_resources and panel
        self.header.query_one("#run-resources").display = self.show_resources and not panel
        max_columns = max(1, min(count, width // MIN_PANE_WIDTH))
        rows = math.ceil(count / max_columns)
        columns = math.ceil(count / rows)
        grid.styles.grid_size_columns = columns
        grid.styles.grid_size_rows = rows
        header_rows = (self.header.outer_size.height or 2) + self.resource_panel.outer_size.height
        pane_height = (height - header_rows - 1) // rows
        grid.set_class(pane_height < MIN_TWO_CHART_HEIGHT, "-compact")

    # -- drawing ---------------------------------------------------------------------------------

    def flush(self, force: bool = False) -> None:
        """Redraw what changed, within the view's CPU budget (``view_budget`` of a core, for the
        app's whole thread): the header every tick, for its clock; the values of the losses that
        changed when the budget allows, and at least every ``MAX_VALUES_WAIT_S``; the charts,
        which cost tens of milliseconds of the GIL that training shares, at most every
        ``chart_interval`` seconds, when the budget holds what their last redraw cost, and at
        least every ``MAX_CHART_WAIT_S`` (and every ``MAX_CHART_LAG`` of a short run); the first
        epoch's whatever the budget, so that a run never starts with empty charts. ``force``
        draws everything now (a key press, so the user sees it at once; the end of the run)."""
        host = self.host
        self.budget.update()
        self.header.show(host.state, paused=host.paused, stopping=host.stopping,
                         watching=host.watching)
        self._show_runs_line()
        self._show_resources()
        now = time.monotonic()
        elapsed = now - self._charts_drawn
        # what the charts cost since they were last drawn (that draw, re-rendering on a resize)
        cost = EpochChart.drawing_seconds - self._drawing_at_draw
        first_data = not self._charts_show_data and self._has_data()
        lagging = (self._short_run()
                   and host.state.fraction_done - self._fraction_charted >= MAX_CHART_LAG)
        # a full bucket affords any redraw, however large the terminal or the number of losses
        affordable = self.budget.affords(min(cost, 0.9 * self.budget.capacity))
        if not force and (elapsed < self.chart_interval or not (
                first_data or lagging or affordable or elapsed >= MAX_CHART_WAIT_S)):
            if self._values_dirty and (self.budget.affords()
                                       or now - self._values_drawn >= MAX_VALUES_WAIT_S):
                self._show_values()
            return
        if force or first_data or lagging:
            # drawn for the user (a key, the first epoch, a short run kept lively), not at the
            # view's own pace: left off the account, or the values would wait to pay for it
            self.budget.waive()
        self._charts_drawn, self._drawing_at_draw = now, EpochChart.drawing_seconds
        self._fraction_charted = host.state.fraction_done
        self._values_drawn = now
        self._charts_show_data = self._charts_show_data or self._has_data()
        self._values_dirty.clear()
        dirty, self._dirty = self._dirty - {HEADER}, set()
        for label in dirty:
            pane = self.panes.get(label)
            if pane is not None and pane.is_mounted:
                pane.show(self.view)
            elif pane is not None:
                self._dirty.add(label)  # not mounted yet: draw on the next tick
        if self._overlay_dirty and self.views.current == "overlay":
            self._overlay_dirty = False
            self.overlay.show(host.comparison, self.overlay_metric, self.view)

    def _show_resources(self) -> None:
        """The machine, every tick while shown: only text, redrawn only when it changed."""
        if not self.show_resources:
            return
        live = self.host.resource_sample
        if self.resource_panel.display:
            self.resource_panel.show_figures(self.host.state, live)
        else:
            self.header.query_one("#run-resources", ResourceLine).show_figures(
                self.host.state, live)

    def _short_run(self) -> bool:
        seconds = self.host.state.epoch_seconds
        return bool(seconds) and (self.host.state.epochs_total * sum(seconds) / len(seconds)
                                  <= SHORT_RUN_S)

    def _has_data(self) -> bool:
        """Whether what is on screen has an epoch to chart: the run in the panes, or any run
        in the overlay."""
        runs = (self.host.comparison.runs if self.views.current == "overlay"
                else [self.host.state])
        return any(loss.epochs for state in runs for loss in state.losses.values())

    def _show_values(self) -> None:
        self._values_drawn = time.monotonic()
        for label in list(self._values_dirty):
            pane = self.panes.get(label)
            if pane is not None and not pane.is_mounted:
                continue  # drawn whole once mounted
            self._values_dirty.discard(label)
            if pane is not None:
                pane.show_values()

    @property
    def pending_redraw(self) -> bool:
        """Whether changes wait for the next chart tick (tests wait on this)."""
        overlay = self.views.current == "overlay"
        return bool(self._dirty - {HEADER}) or (overlay and self._overlay_dirty)

    # -- actions ---------------------------------------------------------------------------------

    def action_toggle_overlay(self) -> None:
        switcher = self.views
        switcher.current = "panes" if switcher.current == "overlay" else "overlay"
        self._overlay_dirty = True
        self.flush(force=True)

    def action_next_metric(self) -> None:
        index = OVERLAY_METRICS.index(self.overlay_metric)
        self.overlay_metric = OVERLAY_METRICS[(index + 1) % len(OVERLAY_METRICS)]
        if self.views.current != "overlay":
            self.views.current = "overlay"
        self._overlay_dirty = True
        self.notify(METRICS[self.overlay_metric].help, title=METRICS[self.overlay_metric].title,
                    timeout=3)
        self.flush(force=True)

    def action_toggle_resources(self) -> None:
        self.show_resources = not self.show_resources
        self.relayout()
        self.flush(force=True)
        # the panes' height depends on the panel's, known once it is laid out
        self.call_after_refresh(self.relayout)

    def action_toggle_loss_chart(self) -> None:
        if not self.grid.has_class("-compact"):
            # both charts are on screen: say why l does nothing rather than nothing at all
            self.notify(f"both charts are shown; l switches between them when the panes are "
                        f"too low for two (under {MIN_TWO_CHART_HEIGHT} rows)", timeout=4)
            return
        self.grid.toggle_class("-show-loss")
        self.notify("loss chart" if self.grid.has_class("-show-loss") else "accuracy chart",
                    timeout=2)

    # -- several runs, log scale, x range, cursor ------------------------------------------------

    def _show_runs_line(self) -> None:
        """With several runs: how many, how they group, whose panes are shown."""
        comparison = self.host.comparison
        many = len(comparison.runs) > 1
        self.runs_line.display = many
        if not many:
            return
        groups = ", ".join(g.title or "same config" for g in comparison.groups())
        live = sum(1 for s in comparison.runs if s.config and not s.finished)
        text = (f"{len(comparison.runs)} runs: {groups or 'waiting…'}"
                f"{f' · {live} still running' if live else ''} · panes: "
                f"{comparison.run_label(self.host.selected)}   (b: leaderboard)")
        if text != getattr(self, "_runs_text", None):
            self._runs_text = text
            self.runs_line.update(Content(text))

    def set_view(self, **changes) -> None:
        """Change how every chart is looked at, and redraw them all now."""
        self.view = dataclasses.replace(self.view, **changes)
        self._dirty |= set(self.panes)
        self._overlay_dirty = True
        self.flush(force=True)

    def last_epoch(self) -> int:
        return max((loss.epochs[-1] for state in self.host.comparison.runs
                    for loss in state.losses.values() if loss.epochs), default=1)

    def action_toggle_log(self) -> None:
        self.set_view(log=not self.view.log)  # the loss charts' titles say "(log)"

    def action_next_x_range(self) -> None:
        index = X_RANGES.index(self.view.last_n) if self.view.last_n in X_RANGES else 0
        last_n = X_RANGES[(index + 1) % len(X_RANGES)]
        self.set_view(last_n=last_n)  # the x axis shows it

    def action_cursor(self, step: int) -> None:
        last = self.last_epoch()
        cursor = self.view.cursor
        cursor = last if cursor is None else min(last, max(1, cursor + step))
        self.set_view(cursor=cursor)

    def action_cursor_off(self) -> None:
        if self.view.cursor is not None:
            self.set_view(cursor=None)
