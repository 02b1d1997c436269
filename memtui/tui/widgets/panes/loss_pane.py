"""One loss's pane: its values and its accuracy and loss charts."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.markup import escape
from textual.widgets import Static

from memtui.compare import value_at
from memtui.metrics import METRICS, format_value
from memtui.palette import METRIC_COLOURS, RGB, rich_colour
from memtui.runstate import LossState
from memtui.tui.widgets.charts.chart_view import ChartView
from memtui.tui.widgets.charts.epoch_chart import (
    EpochChart,
    Series,
    draw_series,
    legend,
    plot_value,
)
from memtui.tui.widgets.panes.values_table import ValuesTable

#: Series of a pane's accuracy chart and of its loss chart, with their colours (memtui.palette).
#: A legend line above each chart names its lines in their colours (their markers under NO_COLOR);
#: the values table names each metric in its series' colour too.
ACC_SERIES: dict[str, RGB] = {m: METRIC_COLOURS[m] for m in ("train_acc", "memorized", "test_acc")}
LOSS_SERIES: dict[str, RGB] = {m: METRIC_COLOURS[m] for m in ("train_loss", "test_loss")}
#: Rows of a pane's values table, in this order.
PANE_METRICS = ("train_acc", "memorized", "clean_acc", "test_acc", "train_loss", "test_loss")


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
        yield Static(classes="chart-legend acc-legend")
        yield EpochChart(classes="acc-chart")
        yield Static(classes="chart-legend loss-legend")
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
        width = self.size.width
        charts = (("acc", "accuracy %", True, [Series(m, *self._percent_points(m), c)
                                               for m, c in ACC_SERIES.items()]),
                  ("loss", "loss", False, [Series(m, *loss.points(m), c)
                                           for m, c in LOSS_SERIES.items()]))
        for kind, title, percent, series in charts:
            # the legend line is the chart's title: the names in the lines' colours
            names = [METRICS[item.name].title for item in series]
            log = view.log and not percent
            self.query_one(f".{kind}-legend", Static).update(
                legend(title, series, names, no_color, width, log))
            draw_series(self.query_one(f".{kind}-chart", EpochChart), None, series, percent,
                        last, no_color, view)

    def _percent_points(self, metric: str) -> tuple[list[int], list[float]]:
        xs, ys = self.loss.points(metric)
        return xs, [plot_value(metric, y) for y in ys]
