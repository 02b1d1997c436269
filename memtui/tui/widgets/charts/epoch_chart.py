"""The one adapter between memtui and plotext (docs/charts.md): a chart over epochs, the series
it draws, and how a metric's values are scaled and titled on it."""

from __future__ import annotations

import math
import time
from typing import NamedTuple

from textual_plotext import PlotextPlot

from memtui.metrics import METRICS
from memtui.palette import RGB, dimmed
from memtui.tui.widgets.charts.chart_view import ChartView
from memtui.tui.widgets.charts.ticks import CHART_CHROME_ROWS, epoch_ticks, even_yticks, tick_label

#: Under NO_COLOR every series is the same grey, so series differ by marker instead.
MONO_MARKERS = ("•", "x", "+", "o", "*", "#", "=", "%", "@")
#: The ± std lines of a band under NO_COLOR.
MONO_BAND_MARKER = "·"
CURSOR_COLOUR: RGB = (200, 200, 200)


def is_percent(metric: str) -> bool:
    return METRICS[metric].fmt.endswith("%")


def plot_value(metric: str, value: float) -> float:
    return value * 100.0 if is_percent(metric) else value


def chart_title(metric: str) -> str:
    return f"{METRICS[metric].title} %" if is_percent(metric) else METRICS[metric].title



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
