"""The headless reporter: a Rich progress bar, a compact line per loss per epoch and a final
summary table, all on stderr so stdout stays free for scripts."""

from __future__ import annotations

import time

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.markup import escape
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

#: The columns of the per-epoch lines.
EPOCH_COLUMNS = ("train_acc", "memorized", "clean_acc", "test_acc", "train_loss", "images_per_s")
SUMMARY_COLUMNS = ("train_acc", "memorized", "recovered", "clean_acc", "test_acc")
STATUS_STYLE = {"completed": "green", "stopped": "yellow", "failed": "red"}
CELL = 10  # width of one metric cell in the per-epoch lines, its leading space included


def _stacked(title: str) -> str:
    """A title on two lines ('train' over 'acc'), which keeps the summary within 80 columns."""
    return title.replace(" ", "\n", 1)


class HeadlessReporter:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("batches"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.task = None
        self.epochs = 0
        self.symmetric: dict[str, bool] = {}
        self.latest: dict[str, dict] = {}
        self.best: dict[str, tuple[float, int]] = {}
        self.diverged: dict[str, str] = {}
        self.width = 8
        self.started = time.perf_counter()

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, EpochProgress) and self.task is not None:
            self.progress.update(self.task, completed=event.batch, total=event.num_batches,
                                 epoch=event.epoch)
        elif isinstance(event, EpochMetrics):
            self._epoch_line(event)
        elif isinstance(event, EpochEnded) and self.task is not None:
            self.progress.update(self.task, completed=0, epoch=min(event.epoch + 1, self.epochs))
        elif isinstance(event, LossDiverged):
            self.diverged[event.loss] = event.reason
            self.console.print(f"{event.loss} diverged in epoch {event.epoch}: {event.reason}; "
                               "the other losses go on", style="red", markup=False)
        elif isinstance(event, RunFinished):
            self._finished(event)

    def _started(self, event: RunStarted) -> None:
        cfg = event.config
        self.epochs = cfg["epochs"]
        self.symmetric = {info.label: info.symmetric for info in event.losses}
        # Labels longer than what 80 columns leave are cut in the per-epoch lines (the summary
        # table shows them whole).
        room = self.console.width - (7 + CELL * len(EPOCH_COLUMNS))
        self.width = max(4, min(room, max(len(info.label) for info in event.losses)))
        corruption = cfg["corruption"]
        self.console.print(
            f"[bold]memtui[/] {escape(cfg['name'])}: {cfg['data']['dataset']} ({event.num_train:,} train, "
            f"{event.num_test:,} test), {corruption['labels']} labels at {corruption['noise']:.0%} "
            f"({event.num_corrupted:,} corrupted), {cfg['model']['arch']}, "
            f"{escape(', '.join(self.symmetric))} on {event.device}"
        )
        if event.run_dir:
            self.console.print(f"run directory: {event.run_dir}", markup=False)
        header = f"{'epoch':>5}  {'loss':<{self.width}}" + "".join(
            f" {METRICS[m].title:>{CELL - 1}}" for m in EPOCH_COLUMNS)
        self.console.print(header, style="dim", highlight=False)
        self.progress.start()
        self.task = self.progress.add_task("train", total=None, epoch=event.first_epoch,
                                           epochs=self.epochs)

    def _epoch_line(self, event: EpochMetrics) -> None:
        self.latest[event.loss] = event.values
        test_acc = event.values.get("test_acc")
        if test_acc is not None and test_acc > self.best.get(event.loss, (-1.0, 0))[0]:
            self.best[event.loss] = (test_acc, event.epoch)
        cells = "".join(f" {format_value(m, event.values.get(m)):>{CELL - 1}}"
                        for m in EPOCH_COLUMNS)
        label = event.loss if len(event.loss) <= self.width else event.loss[: self.width - 1] + "…"
        self.console.print(f"{event.epoch:>5}  {label:<{self.width}}{cells}", highlight=False,
                           markup=False)

    def _finished(self, event: RunFinished) -> None:
        self.progress.stop()
        table = Table(title=f"memtui: run {event.status} after {event.epochs_completed} epoch(s)",
                      title_style=STATUS_STYLE.get(event.status, ""), box=box.SIMPLE_HEAD,
                      show_edge=False, pad_edge=False, padding=(0, 1))
        table.add_column("loss")
        table.add_column("sym")
        for name in SUMMARY_COLUMNS:
            table.add_column(_stacked(METRICS[name].title), justify="right", no_wrap=True)
        table.add_column("best test\n(epoch)", justify="right", no_wrap=True)
        for label, symmetric in self.symmetric.items():
            values = self.latest.get(label, {})
            best = self.best.get(label)
            best_text = f"{best[0]:.1%} ({best[1]})" if best else "—"
            name = Text(label)
            if label in self.diverged:
                name.append(" (diverged)", style="red")
            table.add_row(name, "yes" if symmetric else "no",
                          *(format_value(m, values.get(m)) for m in SUMMARY_COLUMNS), best_text)
        self.console.print(table)
        if event.message and event.status != "completed":
            self.console.print(event.message, style=STATUS_STYLE.get(event.status, ""), markup=False,
                               highlight=False)
