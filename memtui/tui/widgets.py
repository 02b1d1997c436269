"""The widgets of the live view. Each draws from memtui.runstate and nothing else, so a live run
and a replayed run directory look the same."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.geometry import Region, Size
from textual.markup import escape
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import PlotextPlot

from memtui.compare import Comparison, band, value_at
from memtui.metrics import METRICS, format_value
from memtui.palette import (
    LEGEND_STROKE,
    METRIC_COLOURS,
    RGB,
    TERMINAL_MARKER,
    dimmed,
    loss_colour,
    rich_colour,
)
from memtui.runstate import LossState, RunState, describe_parts, format_duration

#: Series of a pane's accuracy chart and of its loss chart, with their colours (memtui.palette).
#: The values table names each metric in its series' colour, so the table doubles as the legend.
ACC_SERIES: dict[str, RGB] = {m: METRIC_COLOURS[m] for m in ("train_acc", "memorized", "test_acc")}
LOSS_SERIES: dict[str, RGB] = {m: METRIC_COLOURS[m] for m in ("train_loss", "test_loss")}
#: Rows of a pane's values table, in this order.
PANE_METRICS = ("train_acc", "memorized", "clean_acc", "test_acc", "train_loss", "test_loss")
#: Under NO_COLOR every series is the same grey, so series differ by marker instead.
MONO_MARKERS = ("•", "x", "+", "o", "*", "#", "=", "%", "@")
#: The ± std lines of a band under NO_COLOR.
MONO_BAND_MARKER = "·"
#: The x-range choices `x` cycles through: the whole run, then the last N epochs.
X_RANGES: tuple[int | None, ...] = (None, 50, 20, 10)
CURSOR_COLOUR: RGB = (200, 200, 200)


def is_percent(metric: str) -> bool:
    return METRICS[metric].fmt.endswith("%")


def plot_value(metric: str, value: float) -> float:
    return value * 100.0 if is_percent(metric) else value


def chart_title(metric: str) -> str:
    return f"{METRICS[metric].title} %" if is_percent(metric) else METRICS[metric].title


def epoch_ticks(last_epoch: int, width: int, first_epoch: int = 1) -> list[int]:
    """Whole-epoch ticks from ``first_epoch``, every 1, 2 or 5 times a power of ten, about one
    per 8 columns."""
    room = max(2, width // 8)
    step, power = 1, 1
    while (last_epoch - first_epoch + 1) // step + 1 > room:
        step = next((m * power for m in (1, 2, 5) if m * power > step), 10 * power)
        if step == 10 * power:
            power *= 10
    start = math.ceil(first_epoch / step) * step
    return [first_epoch] + [t for t in range(start, last_epoch + 1, step)
                            if t - first_epoch >= step / 2]


#: Rows of a titled plotext chart that are not canvas: title, frame top and bottom, x tick labels.
CHART_CHROME_ROWS = 4


def even_yticks(lo: float, hi: float, rows: int, percent: bool = False
                ) -> tuple[list[float], tuple[float, float]]:
    """Y ticks and limits for a canvas ``rows`` cells high such that every tick falls exactly on a
    row and the ticks are evenly spaced (at least two rows apart where the height allows).

    plotext puts a tick on row floor(0.5 + (rows - 1) * (v - ylo) / (yhi - ylo)): ticks 0, 25, 50,
    75, 100 on 8 rows land on rows 0, 2, 4, 5, 7. Here the step is a nice number, the lower limit
    a multiple of it and the upper limit is stretched so that a step is a whole number of rows;
    the spare rows (fewer than the number of steps) stay empty at the top."""
    span_rows = max(1, rows - 1)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:
        lo, hi = (lo - 0.5, hi + 0.5) if lo == 0 else (lo - abs(lo) * 0.1, hi + abs(hi) * 0.1)
    best: tuple[float, list[float], tuple[float, float]] | None = None
    magnitude = math.floor(math.log10(hi - lo))
    for min_gap in (2, 1):
        for power in range(magnitude - 2, magnitude + 2):
            for mult in ((10, 20, 25, 50) if percent else (1, 2, 2.5, 5)):
                step = float(mult) if percent else mult * 10.0 ** power
                first = math.floor(lo / step + 1e-9) * step
                steps = max(1, math.ceil((hi - first) / step - 1e-9))
                rows_per_step = span_rows // steps
                if rows_per_step < min_gap or steps > 6:
                    continue
                top = first + step * span_rows / rows_per_step
                empty = span_rows * (1 - (hi - lo) / (top - first))  # rows without data
                # two ticks only is a last resort; ticks far apart are hard to read off
                score = empty + (2.5 if steps == 1 else 0.0) + 0.25 * max(0, rows_per_step - 6)
                if best is None or score < best[0] - 1e-9:
                    best = (score, [first + i * step for i in range(steps + 1)], (first, top))
            if percent:
                break
        if best is not None:
            break
    if best is None:  # a canvas of one or two rows: plotext's own ticks
        return [lo, hi], (lo, hi)
    return best[1], best[2]


def tick_label(value: float, log: bool) -> str:
    return f"{10 ** value:.2g}" if log else f"{value:g}"


@dataclass(frozen=True)
class ChartView:
    """How the charts are looked at: log-scale values (`g`, loss charts only), the last N
    epochs or the whole run (`x`), a cursor epoch (left/right) whose values the tables show."""
    log: bool = False
    last_n: int | None = None
    cursor: int | None = None

    def first_epoch(self, last_epoch: int) -> int:
        return max(1, last_epoch - self.last_n + 1) if self.last_n else 1


class Series(NamedTuple):
    name: str
    xs: list[int]
    ys: list[float]
    colour: RGB
    #: plotext marker: "braille" (standard losses, metrics), "dot" (symmetric losses)
    marker: str = "braille"
    #: a ± std line of a band around a mean: drawn dimmer, and with no marker of its own
    band: bool = False


class EpochChart(PlotextPlot):
    """A plotext chart over epochs whose whole-epoch ticks follow its width and whose value ticks
    follow its height at every render, so resizing (or a chart drawn while hidden) never leaves it
    with crowded, missing or unevenly spaced ticks. The one adapter between memtui and plotext
    (docs/charts.md)."""

    first_epoch = 1
    last_epoch = 2
    #: the range of the values drawn, whether they are percentages (0 to 100), log10 values
    y_range: tuple[float, float] = (0.0, 1.0)
    percent = False
    log_scale = False
    #: CPU seconds spent drawing charts, all of them together: the screen spaces redraws by it
    #: (RunScreen.flush). CPU time of the drawing thread, not wall time: on a busy machine the
    #: wall time of a redraw includes waiting for a core, which is not what the view costs.
    drawing_seconds = 0.0

    def render(self):
        self.plt.xticks(epoch_ticks(self.last_epoch, self.size.width - 8, self.first_epoch))
        rows = self.size.height - CHART_CHROME_ROWS
        if rows >= 3:
            ticks, limits = even_yticks(*self.y_range, rows, self.percent)
            self.plt.ylim(*limits)
            self.plt.yticks(ticks, [tick_label(t, self.log_scale) for t in ticks])
        return super().render()

    def render_lines(self, crop):
        start = time.thread_time()
        try:
            return super().render_lines(crop)
        finally:
            EpochChart.drawing_seconds += time.thread_time() - start


def draw_series(chart: EpochChart, title: str, series: list[Series], percent: bool,
                last_epoch: int, no_color: bool, view: ChartView = ChartView()) -> None:
    """Replace a chart's data; the widget draws it on its next refresh."""
    plt = chart.plt
    plt.clear_figure()  # also resets the limits and ticks a chart of another metric set
    log = view.log and not percent
    plt.title(f"{title}  (log)" if log else title)
    last = max(2, last_epoch)
    first = min(view.first_epoch(last), last - 1)
    values: list[float] = []
    numbered: list[tuple[int, Series]] = []
    for item in series:  # the mono markers follow the series' order, bands aside
        numbered.append((sum(1 for _, s in numbered if not s.band) - (1 if item.band else 0),
                         item))
    # Drawn bottom up: bands, then solid lines, then dotted ones (a later point hides an earlier
    # one in its cell, and a dot marker fills a whole cell).
    for index, item in sorted(numbered, key=lambda p: (not p[1].band, p[1].marker != "braille")):
        pairs = [(x, y) for x, y in zip(item.xs, item.ys)
                 if x >= first and math.isfinite(y) and (y > 0 or not log)]
        if not pairs:
            continue
        xs = [x for x, _ in pairs]
        ys = [math.log10(y) if log else y for _, y in pairs]
        values += ys
        if no_color:
            marker = MONO_BAND_MARKER if item.band else MONO_MARKERS[index % len(MONO_MARKERS)]
        else:
            marker = item.marker
        plt.plot(xs, ys, marker=marker, color=dimmed(item.colour) if item.band else item.colour)
    if view.cursor is not None and first <= view.cursor <= last:
        plt.vline(view.cursor, color=CURSOR_COLOUR)
    chart.first_epoch, chart.last_epoch = first, last
    plt.xlim(first, last)
    chart.percent, chart.log_scale = percent, log
    chart.y_range = (0.0, 100.0) if percent else (min(values, default=0.0),
                                                  max(values, default=1.0))
    chart.refresh()


#: The header row of a values table.
DIM = Style(dim=True)


class ValuesTable(Widget):
    """A borderless table: the first column left-aligned and styled per row, the others
    right-aligned, the header dim; it looks as Rich's ``Table(box=None)`` does in a Static. The
    values of every pane change each epoch, and a Static re-wrapped and re-styled its whole
    table at each change: that was most of the view's CPU time with several runs on screen
    (docs/benchmarks.md). This widget builds each line's segments once per change and hands
    Textual finished lines."""

    DEFAULT_CSS = "ValuesTable { height: auto; width: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._strips: list[Strip] = []
        self._base = Style()

    @property
    def plain(self) -> str:
        return "\n".join(strip.text for strip in self._strips)

    def show(self, header: tuple[str, ...], rows: Sequence[tuple[str, ...]], gap: int,
             title_styles: Sequence[str]) -> None:
        """``title_styles``: a Rich style for each row's first cell ("" for none)."""
        table = [header, *rows]
        widths = [max(cell_len(row[i]) for row in table) for i in range(len(header))]
        strips = []
        for number, row in enumerate(table):
            rest = "".join(" " * (gap + width - cell_len(cell)) + cell
                           for cell, width in zip(row[1:], widths[1:]))
            first = row[0] + " " * (widths[0] - cell_len(row[0]))
            if number == 0:
                segments = [Segment(first + rest, DIM)]
            else:
                style = title_styles[number - 1]
                segments = [Segment(first, Style.parse(style) if style else None), Segment(rest)]
            strips.append(Strip(segments, sum(widths) + gap * (len(widths) - 1)))
        new_height = len(strips) != len(self._strips)
        self._strips = strips
        self.refresh(layout=new_height)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return max((strip.cell_length for strip in self._strips), default=0)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._strips)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._base = self.rich_style  # once per redraw, not per line: it walks the DOM
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        base = self._base
        width = self.size.width
        if y >= len(self._strips):
            return Strip.blank(width, base)
        return self._strips[y].apply_style(base).crop_extend(0, width, base)



class EpochBar(Widget):
    """The run's progress as a line of "━", drawn as Textual's ProgressBar draws it. Not that
    widget itself: it updates its ETA on a timer of its own, once a second even when hidden, and
    so made the screen draw twice a second instead of once (docs/benchmarks.md)."""

    DEFAULT_CSS = "EpochBar { height: 1; width: 1fr; }"

    fraction: reactive[float] = reactive(0.0)

    def render(self) -> Content:
        width = self.size.width
        end = round(width * min(1.0, max(0.0, self.fraction)) * 2) / 2  # to half a cell
        whole, half = int(end), end % 1 > 0
        if end == 0:
            done, left = "", "━" * width
        else:
            done = "━" * whole + ("╸" if half else "")
            left = ("╺" if not half and end != width else "") + "━" * (width - whole - 1)
        colour = "$success" if self.fraction >= 1 else "$primary"
        return Content.assemble((done, colour), (left, "$surface"))


class RunHeader(Vertical):
    """Preset, data, corruption, model and device; epoch k/N with a progress bar, elapsed, ETA,
    images/s and the run's status."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str, str] = {}
        self._widths: dict[str, int] = {}

    def _put(self, selector: str, content: str | Text) -> None:
        """Update a line only when its text changed: the header is refreshed every tick."""
        key = content.markup if isinstance(content, Text) else content
        old = self._shown.get(selector)
        if old != key:
            self._shown[selector] = key
            # a new layout only when the width changes: the clock ticks every second
            plain = content.plain if isinstance(content, Text) else content
            self.query_one(selector, Static).update(
                content, layout=old is None or len(plain) != self._widths.get(selector))
            self._widths[selector] = len(plain)

    def compose(self) -> ComposeResult:
        yield Static(id="run-info")
        with Horizontal(id="run-progress"):
            yield Static(id="epoch-label")
            yield EpochBar(id="progress")
            yield Static(id="run-stats")
            yield Static(id="run-status")

    def show(self, state: RunState, *, paused: bool, stopping: bool, watching: bool) -> None:
        info = Text(no_wrap=False, overflow="ellipsis")
        parts = describe_parts(state)
        if parts:
            name, *rest = parts
            info.append(name, style="bold")
            for part in rest:
                info.append(" · ", style="dim")
                info.append(part)
        else:
            info.append("waiting for the run to start…", style="dim")
        if state.run_dir:
            info.append(" · ", style="dim")
            info.append(state.run_dir, style="dim")
        self._put("#run-info", info)

        total = max(1, state.epochs_total)
        current = min(total, state.epochs_done + (0 if state.finished else 1))
        self._put("#epoch-label", f"epoch {current}/{state.epochs_total or '?'} ")
        # in steps of half a percent: finer moves are invisible but would each cost a frame
        self.query_one("#progress", EpochBar).fraction = round(state.fraction_done * 200) / 200
        stats = f" {format_duration(state.elapsed())}  ETA {format_duration(state.eta())}  "
        speed = format_value("images_per_s", state.images_per_s)
        self._put("#run-stats", f"{stats}{speed} img/s ")

        status = self.query_one("#run-status", Static)
        if stopping and not state.finished:
            label = "STOPPING"
        elif paused and not state.finished:
            label = "PAUSED"
        elif watching and not state.finished and state.health in ("stale", "gone"):
            label = state.health_text.upper()  # NOT UPDATED FOR 45 S, PROCESS GONE (PID 123)
        elif watching and not state.finished and state.status != "waiting":
            label = "FOLLOWING"
        else:
            label = state.status.upper()
        self._put("#run-status", f" {label} ")
        for name in ("running", "paused", "completed", "stopped", "failed", "following",
                     "stopping", "waiting"):
            status.set_class(name == label.lower(), f"-{name}")


class LossPane(Vertical):
    """One loss: name and symmetric/standard badge, current and best values, an accuracy chart
    (train on corrupted labels, memorized, clean test) and a train/test loss chart."""

    def __init__(self, loss: LossState, index: int) -> None:
        super().__init__(classes="loss-pane")
        self.loss = loss
        self.view = ChartView()
        kind = "symmetric" if loss.info.symmetric else "standard"
        colour = "$success" if loss.info.symmetric else "$warning"
        self.border_title = f"[b]{escape(loss.label)}[/b] [{colour}]{kind}[/]"
        self.set_class(loss.info.symmetric, "-symmetric")

    def compose(self) -> ComposeResult:
        yield ValuesTable(classes="values")
        yield Static(classes="alert")
        yield EpochChart(classes="acc-chart")
        yield EpochChart(classes="loss-chart")

    def on_mount(self) -> None:
        self.show()

    def on_resize(self) -> None:
        self.show()  # the values table adds the best epoch when there is room

    def show(self, view: ChartView | None = None) -> None:
        """Redraw values and charts from the loss's state; ``view`` (the screen's log / x range /
        cursor) is kept for the redraws that come from resizing."""
        if view is not None:
            self.view = view
        self.show_values()
        self._show_charts()

    def show_values(self) -> None:
        """Redraw the table of values only: cheap, so it follows every epoch while the charts
        wait for their turn."""
        view = self.view
        loss = self.loss
        wide = self.size.width >= 40  # room to say when the best value was reached
        series = {**ACC_SERIES, **LOSS_SERIES}
        rows, title_styles = [], []
        for name in PANE_METRICS:
            colour = series.get(name)
            best = loss.best.get(name)
            best_text = ""
            if best:
                best_text = format_value(name, best[0])
                best_text += f" ({best[1]})" if wide else ""
            value = (loss.latest.get(name) if view.cursor is None
                     else value_at(loss, name, view.cursor))
            rows.append((METRICS[name].title, format_value(name, value), best_text))
            title_styles.append(rich_colour(colour) if colour else "")
        header = ("", "now" if view.cursor is None else f"ep {view.cursor}",
                  "best (epoch)" if wide else "best")
        self.query_one(".values", ValuesTable).show(header, rows, 2 if wide else 1, title_styles)

        alert = self.query_one(".alert", Static)
        if loss.diverged is not None:
            epoch, reason = loss.diverged
            alert.update(Text(f"diverged in epoch {epoch}: {reason}", style="bold"))
        alert.display = loss.diverged is not None
        self.set_class(loss.diverged is not None, "-diverged")

    def _show_charts(self) -> None:
        loss, view = self.loss, self.view
        last = loss.epochs[-1] if loss.epochs else 1
        no_color = self.app.no_color
        draw_series(self.query_one(".acc-chart", EpochChart), "accuracy %",
                    [Series(m, *self._percent_points(m), c) for m, c in ACC_SERIES.items()],
                    True, last, no_color, view)
        draw_series(self.query_one(".loss-chart", EpochChart), "loss",
                    [Series(m, *loss.points(m), c) for m, c in LOSS_SERIES.items()],
                    False, last, no_color, view)

    def _percent_points(self, metric: str) -> tuple[list[int], list[float]]:
        xs, ys = self.loss.points(metric)
        return xs, [plot_value(metric, y) for y in ys]


def _mean_std(metric: str, mean: float | None, std: float | None, count: int) -> str:
    if mean is None:
        return "—"
    text = format_value(metric, mean)
    if count > 1 and std is not None:
        text += f" ± {format_value(metric, std).rstrip('%')}"
    return text


class OverlayView(Vertical):
    """One metric of every loss on one chart, with a table of current and best values; for
    several runs, a series per group of seeds × loss: the mean and a ± std band."""

    def compose(self) -> ComposeResult:
        yield EpochChart(id="overlay-chart")
        yield Static(id="overlay-table")

    def show(self, comparison: Comparison, metric: str, view: ChartView = ChartView()) -> None:
        if len(comparison.runs) > 1:
            self._show_groups(comparison, metric, view)
            return
        state = comparison.runs[0]
        no_color = self.app.no_color
        last = max((loss.epochs[-1] for loss in state.losses.values() if loss.epochs), default=1)
        series = []
        for index, loss in enumerate(state.losses.values()):
            xs, ys = loss.points(metric)
            series.append(Series(loss.label, xs, [plot_value(metric, y) for y in ys],
                                 loss_colour(index), TERMINAL_MARKER[loss.info.symmetric]))
        draw_series(self.query_one("#overlay-chart", EpochChart),
                    f"{chart_title(metric)} — every loss   (m: next metric)", series,
                    is_percent(metric), last, no_color, view)

        direction = METRICS[metric].higher_is_better
        table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="dim")
        table.add_column("loss", no_wrap=True)
        table.add_column("kind", no_wrap=True)
        table.add_column(METRICS[metric].title, justify="right", no_wrap=True)
        table.add_column("best (epoch)" if direction is not None else "", justify="right",
                         no_wrap=True)
        if view.cursor is not None:
            table.add_column(f"epoch {view.cursor}", justify="right", no_wrap=True, style="bold")
        table.add_column("", no_wrap=True, style="dim")
        for index, loss in enumerate(state.losses.values()):
            colour = rich_colour(loss_colour(index))
            marker = (MONO_MARKERS[index % len(MONO_MARKERS)] if no_color
                      else LEGEND_STROKE[loss.info.symmetric])
            best = loss.best.get(metric)
            cursor = ([format_value(metric, value_at(loss, metric, view.cursor))]
                      if view.cursor is not None else [])
            table.add_row(Text(f"{marker} {loss.label}", style=f"bold {colour}"),
                          "symmetric" if loss.info.symmetric else "standard",
                          format_value(metric, loss.latest.get(metric)),
                          f"{format_value(metric, best[0])} ({best[1]})" if best else "",
                          *cursor,
                          f"diverged in epoch {loss.diverged[0]}" if loss.diverged else "")
        self.query_one("#overlay-table", Static).update(table)

    def _show_groups(self, comparison: Comparison, metric: str, view: ChartView) -> None:
        """A mean line per group × loss, with mean ± std lines (dimmer) where a group has two
        or more runs; the table gives mean ± std now, and at the cursor."""
        no_color = self.app.no_color
        groups = comparison.groups()
        percent = is_percent(metric)
        series: list[Series] = []
        rows = []
        last = 1
        index = 0
        for group in groups:
            for label in comparison.loss_labels():
                losses = [comparison.runs[r].losses[label] for r in group.runs
                          if label in comparison.runs[r].losses]
                if not losses:
                    continue
                stats = band(losses, metric)
                colour = loss_colour(index)
                symmetric = comparison.symmetric(label)
                name = f"{label} · {group.title}" if group.title else label
                scale = [plot_value(metric, v) for v in stats.mean]
                series.append(Series(name, stats.epochs, scale, colour, TERMINAL_MARKER[symmetric]))
                if len(group.runs) > 1:
                    for sign in (1, -1):
                        series.append(Series(name, stats.epochs,
                                             [plot_value(metric, m + sign * sd)
                                              for m, sd in zip(stats.mean, stats.std)],
                                             colour, band=True))
                if stats.epochs:
                    last = max(last, stats.epochs[-1])
                rows.append((name, colour, symmetric, stats, index))
                index += 1
        draw_series(self.query_one("#overlay-chart", EpochChart),
                    f"{chart_title(metric)} — {len(comparison.runs)} runs, mean ± std over seeds"
                    "   (m: next metric)", series, percent, last, no_color, view)

        direction = METRICS[metric].higher_is_better
        table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="dim")
        table.add_column("loss · runs", no_wrap=True)
        table.add_column("kind", no_wrap=True)
        table.add_column("n", justify="right", no_wrap=True)
        table.add_column(f"{METRICS[metric].title} (mean ± std)", justify="right", no_wrap=True)
        table.add_column("best mean (epoch)" if direction is not None else "", justify="right",
                         no_wrap=True)
        if view.cursor is not None:
            table.add_column(f"epoch {view.cursor}", justify="right", no_wrap=True, style="bold")
        for name, colour, symmetric, stats, i in rows:
            marker = MONO_MARKERS[i % len(MONO_MARKERS)] if no_color else LEGEND_STROKE[symmetric]
            now = (_mean_std(metric, stats.mean[-1], stats.std[-1], stats.count[-1])
                   if stats.epochs else "—")
            best = ""
            if direction is not None and stats.epochs:
                pick = max if direction else min
                value, epoch = pick(zip(stats.mean, stats.epochs), key=lambda p: p[0])
                best = f"{format_value(metric, value)} ({epoch})"
            cursor = []
            if view.cursor is not None:
                k = stats.epochs.index(view.cursor) if view.cursor in stats.epochs else None
                cursor = [_mean_std(metric, stats.mean[k], stats.std[k], stats.count[k])
                          if k is not None else "—"]
            table.add_row(Text(f"{marker} {name}", style=f"bold {rich_colour(colour)}"),
                          "symmetric" if symmetric else "standard",
                          str(stats.count[-1]) if stats.count else "0", now, best, *cursor)
        self.query_one("#overlay-table", Static).update(table)


#: The first keys differ: a live run is stopped by q; a watched one is only left.
LIVE_KEYS = """\
  [b]q[/b], [b]ctrl+c[/b]  stop training after the current batch, write the summary, exit
  [b]p[/b]          pause / resume training
"""
WATCH_KEYS = """\
  [b]q[/b], [b]ctrl+c[/b]  leave the view (the runs themselves go on)
"""
HELP_TEXT = """\
  [b]o[/b]          overlay: one metric of every loss on one chart
  [b]m[/b]          next metric in the overlay
  [b]l[/b]          accuracy or loss chart in the panes (small terminals show one)
  [b]g[/b]          log-scale values on the loss charts
  [b]x[/b]          x range: the whole run, the last 50, 20 or 10 epochs
  [b]←[/b] [b]→[/b]        cursor: the exact values at an epoch, in the tables ([b]escape[/b]: off)
  [b]b[/b]          leaderboard: best and final values per run × loss (Enter opens a run)
  [b]s[/b]          save an SVG screenshot into the run directory
  [b]?[/b]          this help

[b]Metrics[/b]
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]

    def __init__(self, live: bool = True, leading_keys: str | None = None) -> None:
        """``live``: a run in this process (LIVE_KEYS) or a watched one (WATCH_KEYS);
        ``leading_keys``: other keys in their place (the sweep board's)."""
        super().__init__()
        self.leading_keys = leading_keys or (LIVE_KEYS if live else WATCH_KEYS)

    def compose(self) -> ComposeResult:
        metrics = "\n".join(f"  [b]{m.title:<11}[/b] {m.help}" for m in METRICS.values())
        keys = "[b]Keys[/b]\n" + self.leading_keys + HELP_TEXT
        with Vertical(id="help"):
            yield Static(keys + metrics + "\n\n[dim]escape or ? closes this help[/dim]")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
