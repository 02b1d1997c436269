"""A sweep's progress on a terminal: its lines scroll above one bar of every cell's epochs, with
the time elapsed and an ETA. Rich draws it (its Progress keeps the bar below what is printed
through the same console); `memtui sweep` uses it when stderr is a terminal, plain lines
otherwise (memtui.sweep.driver.LinesDisplay)."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: Epochs end in bursts (a cell starts, several finish at once): the ETA follows the pace of the
#: last five minutes, not of the last seconds.
PACE_WINDOW_S = 300.0


class BarDisplay:
    def __init__(self, stream: TextIO, console: Console | None = None) -> None:
        self.console = console or Console(file=stream, highlight=False)
        self.progress = Progress(
            TextColumn("[bold]sweep"), BarColumn(), TaskProgressColumn(),
            MofNCompleteColumn(), TextColumn("epochs · {task.fields[cells]} ·"),
            TimeElapsedColumn(), TextColumn("· ETA"), TimeRemainingColumn(),
            console=self.console, speed_estimate_period=PACE_WINDOW_S)
        self.task: TaskID | None = None

    def line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def update(self, epochs_done: int, epochs_total: int, cells_done: int, cells_total: int,
               running: int) -> None:
        cells = f"{cells_done}/{cells_total} cells, {running} running"
        if self.task is None:
            self.task = self.progress.add_task("sweep", total=epochs_total,
                                               completed=epochs_done, cells=cells)
            self.progress.start()
        self.progress.update(self.task, total=epochs_total, completed=epochs_done, cells=cells)

    def close(self) -> None:
        self.progress.stop()  # the last state stays on screen, above the summary line
