"""The overlay: one metric of every loss on one chart; with several runs, a mean ± std band per
group of seeds × loss."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from memtui.compare import Comparison, band, value_at
from memtui.metrics import METRICS, format_value
from memtui.palette import LEGEND_STROKE, TERMINAL_MARKER, loss_colour, rich_colour
from memtui.tui.widgets.charts.chart_view import ChartView
from memtui.tui.widgets.charts.epoch_chart import (
    MONO_MARKERS,
    EpochChart,
    Series,
    chart_title,
    draw_series,
    is_percent,
    plot_value,
)


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
