"""The one adapter between memtui and plotext (docs/charts.md): a chart over epochs, the series
it draws, and how a metric's values are scaled and titled on it."""

from __future__ import annotations

import math
import time
from typing import NamedTuple

from rich.text import Text
from textual_plotext import PlotextPlot

from memtui.metrics import METRICS
from memtui.palette import RGB, dimmed, rich_colour
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
    #: rows that are not canvas: CHART_CHROME_ROWS with a plotext title, one fewer without
    #: (a pane's chart is titled by its legend line instead)
    chrome_rows = CHART_CHROME_ROWS
    #: CPU seconds spent drawing charts, all of them together: the screen spaces redraws by it
    #: (RunScreen.flush). CPU time of the drawing thread, not wall time: on a busy machine the
    #: wall time of a redraw includes waiting for a core, which is not what the view costs.
    drawing_seconds = 0.0

    def render(self):
        self.plt.xticks(epoch_ticks(self.last_epoch, self.size.width - 8, self.first_epoch))
        rows = self.size.height - self.chrome_rows
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


def _markers(series: list[Series], no_color: bool) -> list[str]:
    """Each series' marker as draw_series plots it: under NO_COLOR the mono markers in order,
    bands aside (they share one); else plotext's own."""
    markers, solid = [], 0
    for item in series:
        if item.band:
            markers.append(MONO_BAND_MARKER if no_color else item.marker)
        else:
            markers.append(MONO_MARKERS[solid % len(MONO_MARKERS)] if no_color else item.marker)
            solid += 1
    return markers


def legend(title: str, series: list[Series], names: list[str], no_color: bool, width: int,
           log: bool = False) -> Text:
    """A chart's title and what each of its lines is, in the line's colour (its marker under
    NO_COLOR), e.g. 'accuracy %  ━ train acc  ━ memorized  ━ test acc'; shorter forms (first
    words of the names, then no title) when ``width`` is too narrow for it."""
    title = f"{title} (log)" if log else title
    glyphs = _markers(series, no_color) if no_color else ["━"] * len(series)
    short = [name.split()[0] for name in names]
    forms = ((title, names, " ", "  "), (title, short, " ", " "), ("", short, " ", " "),
             ("", short, "", " "))
    for head, labels, inner, gap in forms:
        text = Text(f"{head}  " if head else "", style="bold")
        for glyph, label, item in zip(glyphs, labels, series):
            style = "" if no_color else rich_colour(item.colour)
            text.append(glyph, style=style)
            text.append(f"{inner}{label}{gap}", style=style)
        text.rstrip()
        if text.cell_len <= width:
            return text
    return text


def draw_series(chart: EpochChart, title: str | None, series: list[Series], percent: bool,
                last_epoch: int, no_color: bool, view: ChartView = ChartView()) -> None:
    """Replace a chart's data; the widget draws it on its next refresh. ``title`` None: no
    plotext title (a legend line above the chart says what it shows)."""
    plt = chart.plt
    plt.clear_figure()  # also resets the limits and ticks a chart of another metric set
    log = view.log and not percent
    if title is not None:
        plt.title(f"{title}  (log)" if log else title)
    chart.chrome_rows = CHART_CHROME_ROWS - (title is None)
    last = max(2, last_epoch)
    first = min(view.first_epoch(last), last - 1)
    values: list[float] = []
    # Drawn bottom up: bands, then solid lines, then dotted ones (a later point hides an earlier
    # one in its cell, and a dot marker fills a whole cell).
    ordered = sorted(zip(_markers(series, no_color), series),
                     key=lambda p: (not p[1].band, p[1].marker != "braille"))
    for marker, item in ordered:
        pairs = [(x, y) for x, y in zip(item.xs, item.ys)
                 if x >= first and math.isfinite(y) and (y > 0 or not log)]
        if not pairs:
            continue
        xs = [x for x, _ in pairs]
        ys = [math.log10(y) if log else y for _, y in pairs]
        values += ys
        plt.plot(xs, ys, marker=marker, color=dimmed(item.colour) if item.band else item.colour)
    if view.cursor is not None and first <= view.cursor <= last:
        plt.vline(view.cursor, color=CURSOR_COLOUR)
    chart.first_epoch, chart.last_epoch = first, last
    plt.xlim(first, last)
    chart.percent, chart.log_scale = percent, log
    chart.y_range = (0.0, 100.0) if percent else (min(values, default=0.0),
                                                  max(values, default=1.0))
    chart.refresh()
