"""The board of a sweep's cells (`memtui watch sweeps/<id>`, `memtui sweep` on a terminal).

``SweepBoard`` polls a SweepFollower (memtui.tui.sweep_follower) in a thread worker and shows a
row per cell: its axes' values, status, epoch k/N, and per loss the latest memorised share and
test accuracy, coloured by value from the theme's colours (so NO_COLOR and light themes work).
What it says of the sweep's process and what Enter does come from its host (memtui.tui.host).
"""

from __future__ import annotations

import threading
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from memtui.tui.host import BoardHost
from memtui.tui.sweep_follower import SweepFollower

#: How often the board reads the sweep; a finished cell costs nothing, a running one a read of
#: the lines its metrics.jsonl grew by.
BOARD_POLL_S = 1.0
#: Below this (columns, rows) the board says the terminal is too small instead of showing
#: fragments of its header and table.
BOARD_MIN_SIZE = (40, 10)
#: Per loss, these metrics' latest values, under these headings.
BOARD_METRICS = {"memorized": "mem", "test_acc": "test"}


def axis_heading(axis: str) -> str:
    return axis.rsplit(".", 1)[-1]


def axis_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class CellTable(DataTable):
    BINDINGS = [Binding("enter", "select_cursor", "open cell")]  # DataTable's, in the footer


class SweepBoard(Screen):
    """A row per cell; Enter opens it."""

    def __init__(self, host: BoardHost, follower: SweepFollower,
                 poll_s: float = BOARD_POLL_S) -> None:
        super().__init__()
        self.host = host
        self.follower = follower
        self.poll_s = poll_s
        self._labels: list[str] = []
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        self.info = Static(id="sweep-info")
        self.table = CellTable(id="cells", cursor_type="row", zebra_stripes=True,
                               header_height=2)
        self.too_small = Static(id="board-too-small")
        yield self.info
        yield self.table
        yield self.too_small
        yield Footer()

    def on_mount(self) -> None:
        self.show(set(self.follower.cells))
        self.table.focus()
        self._check_size(self.app.size)
        self.run_worker(self._follow, name="sweep", thread=True, exit_on_error=False)

    def on_unmount(self) -> None:
        self._stop.set()

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size)

    def _check_size(self, size: Size) -> None:
        """The board, or in its place one message when the terminal is too small for it."""
        width, height = size
        small = width < BOARD_MIN_SIZE[0] or height < BOARD_MIN_SIZE[1]
        self.too_small.update(Text(f"terminal too small ({width}x{height}): the board needs at "
                                   f"least {BOARD_MIN_SIZE[0]}x{BOARD_MIN_SIZE[1]}")
                              if small else "")
        self.too_small.display = small
        self.info.display = self.table.display = not small

    def _follow(self) -> None:
        """The worker: poll the sweep every ``poll_s`` seconds and show what changed."""
        while not self._stop.is_set():
            changed = self.follower.poll()
            if changed and not self._stop.is_set():
                try:
                    self.app.call_from_thread(self.show, changed)
                except RuntimeError:
                    return  # the app closed meanwhile
            self._stop.wait(self.poll_s)

    # -- drawing ---------------------------------------------------------------------------------

    def show(self, changed: set[str]) -> None:
        """Redraw the header and the changed cells' rows (every row when the losses changed)."""
        manifest = self.follower.manifest
        counts = {status: n for status, n in manifest.counts().items() if n}
        info = Text()
        info.append(f"sweep {manifest.name}", style="bold")
        info.append(f" · {len(manifest.cells)} cells: ")
        info.append(", ".join(f"{n} {status}" for status, n in counts.items()))
        info.append(f" · {self.follower.sweep_dir}", style="dim")
        sweep_line = self.host.sweep_line
        if sweep_line is not None:
            info.append(f"\n{sweep_line}", style="bold" if self.host.sweep_stopping else "")
        info.append("\nmem: share of the corrupted samples predicted as their given label (lower "
                    "is better) · test: accuracy on the clean test set · both in %", style="dim")
        self.info.update(info)

        labels = self.follower.loss_labels
        table = self.table
        if labels != self._labels or not table.columns:
            self._labels = labels
            cursor = table.cursor_row
            table.clear(columns=True)
            for axis in list(manifest.axes) or ["cell"]:
                table.add_column(f"\n{axis_heading(axis)}", key=f"axis:{axis}")
            table.add_column("\nstatus", key="status")
            table.add_column("\nepoch", key="epoch")
            for label in labels:  # the loss's name over its first column
                for index, (metric, heading) in enumerate(BOARD_METRICS.items()):
                    table.add_column(f"{label if index == 0 else ''}\n{heading}",
                                     key=f"{label}:{metric}")
            for cell in manifest.cells:
                table.add_row(*self._row(cell), key=cell["name"])
            table.move_cursor(row=cursor)
            return
        for cell in manifest.cells:
            if cell["name"] not in changed:
                continue
            if cell["name"] not in table.rows:
                table.add_row(*self._row(cell), key=cell["name"])
                continue
            for column, value in zip(table.columns, self._row(cell)):
                table.update_cell(cell["name"], column, value, update_width=True)

    def _row(self, cell: dict[str, Any]) -> list[Text | str]:
        state = self.follower.cells[cell["name"]].state
        axes = self.follower.manifest.axes
        row: list[Text | str] = [axis_value(cell["overrides"].get(axis, "")) for axis in axes]
        if not axes:
            row.append(cell["name"])
        status = str(cell.get("status", "pending"))
        row.append(Text(status, style=self._status_style(status)))
        total = state.epochs_total or cell.get("epochs") or "?"
        row.append(f"{state.epochs_done}/{total}" if state.status != "waiting" else f"—/{total}")
        for label in self._labels:
            loss = state.losses.get(label)
            for metric in BOARD_METRICS:
                value = loss.latest.get(metric) if loss is not None else None
                row.append(self._value(metric, value, loss is not None and bool(loss.diverged)))
        return row

    def _theme(self, name: str) -> Color:
        return Color.parse(self.app.theme_variables.get(name, "grey"))

    def _status_style(self, status: str) -> Style:
        colour = {"running": "primary", "completed": "success", "failed": "error",
                  "stopped": "warning"}.get(status)
        if colour is None:
            return Style(dim=True)
        return Style(color=self._theme(colour).rich_color, bold=status in ("running", "failed"))

    def _value(self, metric: str, value: float | None, diverged: bool) -> Text:
        """The value, coloured from the theme's error (bad) through warning to success (good):
        memorising is bad, test accuracy good."""
        text = "—" if value is None else f"{100 * value:.1f}"
        if diverged:
            return Text(f"{text} ✗", style=Style(color=self._theme("error").rich_color))
        if value is None:
            return Text(text, style=Style(dim=True))
        good = 1.0 - value if metric == "memorized" else value
        good = min(1.0, max(0.0, good))
        bad, middle, best = self._theme("error"), self._theme("warning"), self._theme("success")
        colour = bad.blend(middle, good * 2) if good < 0.5 else middle.blend(best, good * 2 - 1)
        return Text(text, style=Style(color=colour.rich_color))

    # -- actions ---------------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.host.open_cell(event.row_key.value)
