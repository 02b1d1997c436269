"""The widgets of the live view. Each draws from memtui.runstate and nothing else, so a live run
and a replayed run directory look the same."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static
from textual_plotext import PlotextPlot

from memtui.metrics import METRICS, format_value
from memtui.runstate import LossState, RunState, describe_parts, format_duration

RGB = tuple[int, int, int]

#: Series of a pane's accuracy chart and of its loss chart, with their colours. The values table
#: names each metric in its series' colour, so the table doubles as the charts' legend.
ACC_SERIES: dict[str, RGB] = {
    "train_acc": (230, 180, 60),
    "memorized": (235, 90, 90),
    "test_acc": (90, 200, 120),
}
LOSS_SERIES: dict[str, RGB] = {
    "train_loss": (230, 180, 60),
    "test_loss": (80, 170, 230),
}
#: Rows of a pane's values table, in this order.
PANE_METRICS = ("train_acc", "memorized", "clean_acc", "test_acc", "train_loss", "test_loss")
#: One colour per loss in the overlay, in the order of the config's losses.
LOSS_PALETTE: tuple[RGB, ...] = (
    (90, 170, 240), (240, 150, 60), (100, 200, 110), (230, 90, 90), (180, 130, 230),
    (200, 200, 90), (90, 210, 210), (230, 130, 190), (170, 170, 170),
)
#: Under NO_COLOR every series is the same grey, so series differ by marker instead.
MONO_MARKERS = ("•", "x", "+", "o", "*", "#", "=", "%", "@")


def rich_colour(rgb: RGB) -> str:
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})"


def is_percent(metric: str) -> bool:
    return METRICS[metric].fmt.endswith("%")


def plot_value(metric: str, value: float) -> float:
    return value * 100.0 if is_percent(metric) else value


def chart_title(metric: str) -> str:
    return f"{METRICS[metric].title} %" if is_percent(metric) else METRICS[metric].title


def epoch_ticks(last_epoch: int, width: int) -> list[int]:
    """Whole-epoch ticks from 1, every 1, 2 or 5 times a power of ten, about one per 8 columns."""
    room = max(2, width // 8)
    step, power = 1, 1
    while last_epoch // step + 1 > room:
        step = next((m * power for m in (1, 2, 5) if m * power > step), 10 * power)
        if step == 10 * power:
            power *= 10
    return [1] + [t for t in range(step, last_epoch + 1, step) if t - 1 >= step / 2]


class EpochChart(PlotextPlot):
    """A plotext chart over epochs whose whole-epoch ticks follow its width at every render, so
    resizing (or a chart drawn while hidden) never leaves it with crowded or missing ticks."""

    last_epoch = 2
    #: seconds spent drawing charts, all of them together: the app spaces redraws by it
    drawing_seconds = 0.0

    def render(self):
        self.plt.xticks(epoch_ticks(self.last_epoch, self.size.width - 8))
        return super().render()

    def render_lines(self, crop):
        start = time.perf_counter()
        try:
            return super().render_lines(crop)
        finally:
            EpochChart.drawing_seconds += time.perf_counter() - start


def draw_series(chart: EpochChart, title: str, series: list[tuple[str, list[int], list[float], RGB]],
                percent: bool, last_epoch: int, no_color: bool) -> None:
    """Replace a chart's data; the widget draws it on its next refresh."""
    plt = chart.plt
    plt.clear_figure()  # also resets the limits and ticks a chart of another metric set
    plt.title(title)
    for index, (_name, xs, ys, colour) in enumerate(series):
        if not xs:
            continue
        marker = MONO_MARKERS[index % len(MONO_MARKERS)] if no_color else "braille"
        plt.plot(xs, ys, marker=marker, color=colour)
    chart.last_epoch = max(2, last_epoch)
    plt.xlim(1, chart.last_epoch)
    if percent:
        plt.ylim(0, 100)
        plt.yticks([0, 25, 50, 75, 100])
    chart.refresh()


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
            yield ProgressBar(total=1.0, show_eta=False, show_percentage=False, id="progress")
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
        self.query_one("#progress", ProgressBar).update(
            progress=round(state.fraction_done * 200) / 200)
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
        super().__init__(id=f"pane-{index}", classes="loss-pane")
        self.loss = loss
        self._laid_out = False
        kind = "symmetric" if loss.info.symmetric else "standard"
        colour = "$success" if loss.info.symmetric else "$warning"
        self.border_title = f"[b]{escape(loss.label)}[/b] [{colour}]{kind}[/]"
        self.set_class(loss.info.symmetric, "-symmetric")

    def compose(self) -> ComposeResult:
        yield Static(classes="values")
        yield Static(classes="alert")
        yield EpochChart(classes="acc-chart")
        yield EpochChart(classes="loss-chart")

    def on_mount(self) -> None:
        self.show()

    def on_resize(self) -> None:
        self._laid_out = False
        self.show()  # the values table adds the best epoch when there is room

    def show(self) -> None:
        loss = self.loss
        wide = self.size.width >= 40  # room to say when the best value was reached
        table = Table(box=None, padding=(0, 0, 0, 2 if wide else 1), pad_edge=False,
                      show_edge=False, header_style="dim")
        table.add_column("", no_wrap=True)
        table.add_column("now", justify="right", no_wrap=True)
        table.add_column("best (epoch)" if wide else "best", justify="right", no_wrap=True)
        series = {**ACC_SERIES, **LOSS_SERIES}
        for name in PANE_METRICS:
            colour = series.get(name)
            best = loss.best.get(name)
            best_text = ""
            if best:
                best_text = format_value(name, best[0])
                best_text += f" ({best[1]})" if wide else ""
            table.add_row(Text(METRICS[name].title, style=rich_colour(colour) if colour else ""),
                          format_value(name, loss.latest.get(name)), best_text)
        values = self.query_one(".values", Static)
        # same rows every time, so the pane's layout stands once the table is first laid out
        values.update(table, layout=not self._laid_out)
        self._laid_out = True

        alert = self.query_one(".alert", Static)
        if loss.diverged is not None:
            epoch, reason = loss.diverged
            alert.update(Text(f"diverged in epoch {epoch}: {reason}", style="bold"))
        alert.display = loss.diverged is not None
        self.set_class(loss.diverged is not None, "-diverged")

        last = loss.epochs[-1] if loss.epochs else 1
        no_color = self.app.no_color
        draw_series(self.query_one(".acc-chart", EpochChart), "accuracy %",
                    [(m, *self._percent_points(m), c) for m, c in ACC_SERIES.items()],
                    True, last, no_color)
        draw_series(self.query_one(".loss-chart", EpochChart), "loss",
                    [(m, *loss.points(m), c) for m, c in LOSS_SERIES.items()],
                    False, last, no_color)

    def _percent_points(self, metric: str) -> tuple[list[int], list[float]]:
        xs, ys = self.loss.points(metric)
        return xs, [plot_value(metric, y) for y in ys]


class OverlayView(Vertical):
    """One metric of every loss on one chart, with a table of current and best values."""

    def compose(self) -> ComposeResult:
        yield EpochChart(id="overlay-chart")
        yield Static(id="overlay-table")

    def show(self, state: RunState, metric: str) -> None:
        last = max((loss.epochs[-1] for loss in state.losses.values() if loss.epochs), default=1)
        series = []
        for index, loss in enumerate(state.losses.values()):
            xs, ys = loss.points(metric)
            series.append((loss.label, xs, [plot_value(metric, y) for y in ys],
                           LOSS_PALETTE[index % len(LOSS_PALETTE)]))
        draw_series(self.query_one("#overlay-chart", EpochChart),
                    f"{chart_title(metric)} — every loss   (m: next metric)", series,
                    is_percent(metric), last, self.app.no_color)

        direction = METRICS[metric].higher_is_better
        table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="dim")
        table.add_column("loss", no_wrap=True)
        table.add_column("kind", no_wrap=True)
        table.add_column(METRICS[metric].title, justify="right", no_wrap=True)
        table.add_column("best (epoch)" if direction is not None else "", justify="right",
                         no_wrap=True)
        table.add_column("", no_wrap=True, style="dim")
        for index, loss in enumerate(state.losses.values()):
            colour = rich_colour(LOSS_PALETTE[index % len(LOSS_PALETTE)])
            marker = MONO_MARKERS[index % len(MONO_MARKERS)] if self.app.no_color else "━━"
            best = loss.best.get(metric)
            table.add_row(Text(f"{marker} {loss.label}", style=f"bold {colour}"),
                          "symmetric" if loss.info.symmetric else "standard",
                          format_value(metric, loss.latest.get(metric)),
                          f"{format_value(metric, best[0])} ({best[1]})" if best else "",
                          f"diverged in epoch {loss.diverged[0]}" if loss.diverged else "")
        self.query_one("#overlay-table", Static).update(table)


HELP_TEXT = """\
[b]Keys[/b]
  [b]q[/b], [b]ctrl+c[/b]  stop training after the current batch, write the summary, exit
  [b]p[/b]          pause / resume training (live runs)
  [b]o[/b]          overlay: one metric of every loss on one chart
  [b]m[/b]          next metric in the overlay
  [b]l[/b]          accuracy or loss chart in the panes (small terminals show one)
  [b]s[/b]          save an SVG screenshot into the run directory
  [b]?[/b]          this help

[b]Metrics[/b]
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        metrics = "\n".join(f"  [b]{m.title:<11}[/b] {m.help}" for m in METRICS.values())
        with Vertical(id="help"):
            yield Static(HELP_TEXT + metrics + "\n\n[dim]escape or ? closes this help[/dim]")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
