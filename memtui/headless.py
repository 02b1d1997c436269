"""The headless reporter: a Rich progress bar, a compact line per loss per epoch and a final
summary table, all on stderr so stdout stays free for scripts."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

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

#: The columns of the per-epoch lines and of the summary table.
EPOCH_COLUMNS = ("train_acc", "memorized", "clean_acc", "test_acc", "train_loss", "images_per_s")
STATUS_STYLE = {"completed": "green", "stopped": "yellow", "failed": "red"}


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
            self.console.print(f"[red]{event.loss} diverged in epoch {event.epoch}: {event.reason}; "
                               "the other losses go on[/]")
        elif isinstance(event, RunFinished):
            self._finished(event)

    def _started(self, event: RunStarted) -> None:
        cfg = event.config
        self.epochs = cfg["epochs"]
        self.symmetric = {info.label: info.symmetric for info in event.losses}
        self.width = max(4, *(len(info.label) for info in event.losses))
        corruption = cfg["corruption"]
        self.console.print(
            f"[bold]memtui[/] {cfg['name']}: {cfg['data']['dataset']} ({event.num_train:,} train, "
            f"{event.num_test:,} test), {corruption['labels']} labels at {corruption['noise']:.0%} "
            f"({event.num_corrupted:,} corrupted), {cfg['model']['arch']}, "
            f"{', '.join(self.symmetric)} on {event.device}"
        )
        if event.run_dir:
            self.console.print(f"run directory: {event.run_dir}")
        header = f"{'epoch':>5}  {'loss':<{self.width}}" + "".join(
            f" {METRICS[m].title:>9}" for m in EPOCH_COLUMNS)
        self.console.print(f"[dim]{header}[/]")
        self.progress.start()
        self.task = self.progress.add_task("train", total=None, epoch=event.first_epoch,
                                           epochs=self.epochs)

    def _epoch_line(self, event: EpochMetrics) -> None:
        self.latest[event.loss] = event.values
        test_acc = event.values.get("test_acc")
        if test_acc is not None and test_acc > self.best.get(event.loss, (-1.0, 0))[0]:
            self.best[event.loss] = (test_acc, event.epoch)
        cells = "".join(f" {format_value(m, event.values.get(m)):>9}" for m in EPOCH_COLUMNS)
        self.console.print(f"{event.epoch:>5}  {event.loss:<{self.width}}{cells}", highlight=False)

    def _finished(self, event: RunFinished) -> None:
        self.progress.stop()
        table = Table(title=f"memtui: run {event.status} after {event.epochs_completed} epoch(s)",
                      title_style=STATUS_STYLE.get(event.status, ""))
        table.add_column("loss")
        table.add_column("sym")
        for name in ("train_acc", "memorized", "recovered", "clean_acc", "test_acc"):
            table.add_column(METRICS[name].title, justify="right")
        table.add_column("best test (ep)", justify="right")
        for label, symmetric in self.symmetric.items():
            values = self.latest.get(label, {})
            best = self.best.get(label)
            best_text = f"{best[0]:.1%} ({best[1]})" if best else "—"
            name = f"{label} [red](diverged)[/]" if label in self.diverged else label
            table.add_row(name, "yes" if symmetric else "no",
                          *(format_value(m, values.get(m)) for m in
                            ("train_acc", "memorized", "recovered", "clean_acc", "test_acc")),
                          best_text)
        self.console.print(table)
        if event.message and event.status != "completed":
            self.console.print(f"[{STATUS_STYLE.get(event.status, '')}]{event.message}[/]")
