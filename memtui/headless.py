"""The headless reporter: a Rich progress bar, a compact line per loss per epoch and a final
summary table, all on stderr so stdout stays free for scripts."""

from __future__ import annotations

import shlex
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from memtui.events import (
    EpochEnded,
    EpochMetrics,
    EpochProgress,
    Event,
    LossDiverged,
    RunFinished,
    RunStarted,
)
from memtui.metrics import METRICS, format_value
from memtui.palette import loss_colour, rich_colour
from memtui.runstate import RunState, describe

#: The columns of the per-epoch lines.
EPOCH_COLUMNS = ("train_acc", "memorized", "clean_acc", "test_acc", "train_loss", "images_per_s")
SUMMARY_COLUMNS = ("train_acc", "memorized", "recovered", "clean_acc", "test_acc")
STATUS_STYLE = {"completed": "green", "stopped": "yellow", "failed": "red"}
CELL = 10  # width of one metric cell in the per-epoch lines, its leading space included
#: The width of stderr when it is a file or a pipe: there is no terminal to fit, and a log read
#: later (or by a script) is easier with every line whole.
PIPED_WIDTH = 200  # as `memtui report` piped


def stderr_console() -> Console:
    """stderr, as wide as the terminal; piped or redirected, no wrapping (PIPED_WIDTH)."""
    console = Console(stderr=True)
    return console if console.is_terminal else Console(stderr=True, width=PIPED_WIDTH)


def _stacked(title: str) -> str:
    """A title on two lines ('train' over 'acc'), which keeps the summary within 80 columns."""
    return title.replace(" ", "\n", 1)


class HeadlessReporter:
    """A display sink: what it shows comes from the run's read model (memtui.runstate)."""

    critical = False  # a closed stderr must not stop training

    def __init__(self, console: Console | None = None, state: RunState | None = None,
                 resume_hint: Path | None = None) -> None:
        """``state``: a read model kept up to date upstream (the run log's, which a resumed run
        fills with its earlier epochs, so the final table counts them); by default the reporter
        keeps its own. ``resume_hint``: the run directory, to print the command that resumes
        a stopped run."""
        self.console = console or stderr_console()
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("batches"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.task: TaskID | None = None
        self._applies = state is None
        self.state = state if state is not None else RunState()
        self.width = 8
        self.resume_hint = resume_hint

    def handle(self, event: Event) -> None:
        if self._applies:
            self.state.apply(event)
        if isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, EpochProgress) and self.task is not None:
            self.progress.update(self.task, completed=event.batch, total=event.num_batches,
                                 epoch=event.epoch)
        elif isinstance(event, EpochMetrics):
            self._epoch_line(event)
        elif isinstance(event, EpochEnded):
            if self.task is not None:
                self.progress.update(self.task, completed=0,
                                     epoch=min(event.epoch + 1, self.state.epochs_total))
        elif isinstance(event, LossDiverged):
            self.console.print(f"{event.loss} diverged in epoch {event.epoch}: {event.reason}; "
                               "the other losses go on", style="red", markup=False)
        elif isinstance(event, RunFinished):
            self._finished(event)

    def _started(self, event: RunStarted) -> None:
        # Labels longer than what 80 columns leave are cut in the per-epoch lines (the summary
        # table shows them whole).
        room = self.console.width - (7 + CELL * len(EPOCH_COLUMNS))
        self.width = max(4, min(room, max(len(info.label) for info in event.losses)))
        labels = ", ".join(info.label for info in event.losses)
        self.console.print(f"[bold]memtui[/] {escape(describe(self.state))} · {escape(labels)}")
        if event.run_dir:
            self.console.print(f"run directory: {event.run_dir}", markup=False)
        header = f"{'epoch':>5}  {'loss':<{self.width}}" + "".join(
            f" {METRICS[m].title:>{CELL - 1}}" for m in EPOCH_COLUMNS)
        self.console.print(header, style="dim", highlight=False)
        self.progress.start()
        self.task = self.progress.add_task("train", total=None, epoch=event.first_epoch,
                                           epochs=self.state.epochs_total)

    def _epoch_line(self, event: EpochMetrics) -> None:
        cells = "".join(f" {format_value(m, event.values.get(m)):>{CELL - 1}}"
                        for m in EPOCH_COLUMNS)
        label = event.loss if len(event.loss) <= self.width else event.loss[: self.width - 1] + "…"
        line = Text(f"{event.epoch:>5}  ")
        line.append(f"{label:<{self.width}}", style=self._colour(event.loss))
        line.append(cells)
        self.console.print(line, highlight=False)

    def _colour(self, label: str) -> str:
        return colour_of(self.state, label)

    def _finished(self, event: RunFinished) -> None:
        self.progress.stop()
        print_summary(self.console, self.state, self.resume_hint, event)


def colour_of(state: RunState, label: str) -> str:
    """The loss's colour in the view and in `report --plot` (memtui.palette)."""
    index = list(state.losses).index(label) if label in state.losses else 0
    return rich_colour(loss_colour(index))


def summary_table(state: RunState, event: RunFinished | None = None) -> Table:
    """The final table of a run: per loss its last values and best test accuracy."""
    status = event.status if event else state.status
    done = event.epochs_completed if event else state.epochs_done
    table = Table(title=f"memtui: run {status} after {done} epoch(s)",
                  title_style=STATUS_STYLE.get(status, ""), box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False, padding=(0, 1))
    table.add_column("loss")
    table.add_column("sym")
    for name in SUMMARY_COLUMNS:
        table.add_column(_stacked(METRICS[name].title), justify="right", no_wrap=True)
    table.add_column("best test\n(epoch)", justify="right", no_wrap=True)
    for label, loss in state.losses.items():
        values = loss.latest
        best = loss.best.get("test_acc")
        best_text = f"{best[0]:.1%} ({best[1]})" if best else "—"
        loss_cell = Text(label, style=colour_of(state, label))
        if loss.diverged:
            loss_cell.append(" (diverged)", style="red")
        table.add_row(loss_cell, "yes" if loss.info.symmetric else "no",
                      *(format_value(m, values.get(m)) for m in SUMMARY_COLUMNS), best_text)
    return table


def summary_lines(state: RunState, event: RunFinished | None, width: int) -> list[Text]:
    """The final table's values as lines no wider than ``width`` (where it can be helped): per
    loss its name, then "metric value" items packed into lines, never split."""
    status = event.status if event else state.status
    done = event.epochs_completed if event else state.epochs_done
    lines = [Text(f"memtui: run {status} after {done} epoch(s)",
                  style=STATUS_STYLE.get(status, ""))]
    for label, loss in state.losses.items():
        head = Text(label, style=f"bold {colour_of(state, label)}")
        head.append(" symmetric" if loss.info.symmetric else " standard", style="dim")
        if loss.diverged:
            head.append(" (diverged)", style="red")
        lines.append(head)
        best = loss.best.get("test_acc")
        items = [f"{METRICS[m].title} {format_value(m, loss.latest.get(m))}"
                 for m in SUMMARY_COLUMNS]
        items.append(f"best test {best[0]:.1%} (epoch {best[1]})" if best else "best test —")
        line = ""
        for item in items:
            if line and len(line) + 3 + len(item) > width:
                lines.append(Text(line))
                line = ""
            line = f"{line}   {item}" if line else f"  {item}"
        lines.append(Text(line))
    return lines


def print_summary(console: Console, state: RunState, run_dir: Path | None = None,
                  event: RunFinished | None = None) -> None:
    """The final table, the run's message, its directory and, for a stopped run, the command
    that resumes it. ``event``: the run's end (default: what the state recorded)."""
    status = event.status if event else state.status
    message = event.message if event else state.message
    table = summary_table(state, event)
    natural = Measurement.get(console, console.options.update_width(PIPED_WIDTH), table).maximum
    if natural <= console.width:
        console.print(table)
    else:  # a narrow terminal: Rich would cut every value to "…"
        for line in summary_lines(state, event, console.width):
            console.print(line, highlight=False)
    if message and status != "completed":
        console.print(message, style=STATUS_STYLE.get(status, ""), markup=False, highlight=False)
    if run_dir is not None:
        # whole lines, however narrow the terminal: a path and a command to copy
        console.print(f"run directory: {run_dir}", markup=False, highlight=False, soft_wrap=True)
        if status == "stopped":
            console.print(f"resume it with: memtui run --resume {shlex.quote(str(run_dir))}",
                          markup=False, highlight=False, soft_wrap=True)
