"""The samples screen (`e`): which samples each loss memorised, and when, from the run
directory's sample ledger (memtui.runlog.ledger), per loss side by side.

Five panels (memtui.tui.widgets.samples): when, what, data map, scoreboard, gallery. As many
losses as fit go side by side and as many panels as fit one under another: one of each at 80x24,
three losses by three panels at 200x60; `tab` and 1-5 pick the panels, `[` `]` the losses.

The ledger is read in a thread worker, never on the UI thread: once when the screen opens, then
whenever its file changes (the run rewrites it at most every 30 s, memtui.runlog.ledger), and
only when the view's CPU budget (memtui.tui.budget) holds what redrawing the panels last cost,
or ``MAX_REDRAW_WAIT_S`` has passed."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.content import Content
from textual.geometry import Size
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from memtui.errors import RunDirError
from memtui.palette import hex_colour, loss_colour
from memtui.runlog.ledger import LEDGER_FILE, LedgerView, read_ledger
from memtui.tui.budget import CpuBudget
from memtui.tui.host import RunHost
from memtui.tui.widgets.samples.data_map_panel import DataMapPanel
from memtui.tui.widgets.samples.gallery_panel import GalleryPanel
from memtui.tui.widgets.samples.matrix_panel import MatrixPanel
from memtui.tui.widgets.samples.samples_panel import SamplesPanel
from memtui.tui.widgets.samples.scoreboard_panel import ScoreboardPanel
from memtui.tui.widgets.samples.when_panel import WhenPanel

PANELS: tuple[type[SamplesPanel], ...] = (WhenPanel, MatrixPanel, DataMapPanel, ScoreboardPanel,
                                          GalleryPanel)
#: A panel narrower or lower than this is not worth drawing: the grid holds fewer of them.
MIN_PANEL_SIZE = (60, 18)
#: How often the ledger file's size and time are looked at (a stat, no read).
POLL_S = 2.0
#: A changed ledger is drawn after this long at the latest, however short the budget.
MAX_REDRAW_WAIT_S = 60.0


class SamplesScreen(Screen):
    BINDINGS = [
        Binding("escape,e", "close", "back"),
        Binding("tab", "panel(1)", "panel"),
        Binding("shift+tab", "panel(-1)", "panel", show=False),
        Binding("left_square_bracket", "loss(-1)", "loss ←", key_display="["),
        Binding("right_square_bracket", "loss(1)", "loss →", key_display="]"),
        *(Binding(str(n + 1), f"show_panel({n})", panel.TITLE, show=False)
          for n, panel in enumerate(PANELS)),
    ]

    def __init__(self, host: RunHost, budget_share: float) -> None:
        super().__init__()
        self.host = host
        self.budget = CpuBudget(budget_share)
        self.ledger: LedgerView | None = None
        self.panel = 0  # the first panel shown
        self.loss = 0  # the first loss shown
        self.shape = (1, 1)  # (losses side by side, panels one under another)
        self._stamp: tuple[int, int] | None = None  # the ledger file's (size, mtime) last read
        self._read_at = -math.inf
        self._reading: Worker | None = None
        self._draw_cost = 0.0  # CPU seconds the last redraw of the panels took

    @property
    def run_dir(self) -> Path | None:
        folder = self.host.state.run_dir
        return Path(folder) if folder else None

    def compose(self) -> ComposeResult:
        yield Static(id="samples-line")
        yield Static(id="samples-message")
        yield Container(id="samples-grid")
        yield Footer()

    def on_mount(self) -> None:
        self.budget.update()
        self.set_interval(POLL_S, self.poll)
        self.poll(force=True)
        self._show_line()

    def on_resize(self, event: events.Resize) -> None:
        self.relayout(event.size)

    # -- reading the ledger ---------------------------------------------------------------------

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.run_dir is None:
            return None
        try:
            stat = os.stat(self.run_dir / LEDGER_FILE)
        except OSError:
            return None
        return stat.st_size, stat.st_mtime_ns

    def poll(self, force: bool = False) -> None:
        """Read the ledger again if its file changed, the budget allows and no read is under
        way; ``force``: whatever the budget (the screen just opened)."""
        self.budget.update()
        if self._reading is not None and not self._reading.is_finished:
            return
        stamp = self._file_stamp()
        if stamp is None:
            if self.ledger is None:
                self._say_why_none()
            return
        if stamp == self._stamp:
            return
        waited = time.monotonic() - self._read_at
        if not (force or self.budget.affords(self._draw_cost) or waited >= MAX_REDRAW_WAIT_S):
            return
        self._stamp = stamp
        self._read_at = time.monotonic()
        run_dir = self.run_dir
        assert run_dir is not None
        self._reading = self.run_worker(lambda: read_ledger(run_dir), name="ledger",
                                        thread=True, exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._reading:
            return
        if event.state == WorkerState.SUCCESS and isinstance(event.worker.result, LedgerView):
            self.take(event.worker.result)
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            # a file caught mid-replace is read again at the next poll
            self._stamp = None
            if self.ledger is None:
                self._message(str(error) if isinstance(error, RunDirError) else
                              f"cannot read the sample ledger: {error}")

    def _say_why_none(self) -> None:
        if self.run_dir is None:
            self._message("waiting for the run to start…")
        else:
            self._message(f"no sample ledger in {self.run_dir} yet: the run writes {LEDGER_FILE} "
                          "after its first evaluated epoch (unless it runs without the ledger, "
                          "or an older memtui wrote it)")

    def _message(self, text: str) -> None:
        message = self.query_one("#samples-message", Static)
        message.update(Content(text))
        message.display = bool(text)

    def take(self, ledger: LedgerView) -> None:
        """Show a new reading of the ledger: the same panels redrawn, or built anew when the
        losses changed."""
        start = time.thread_time()
        old = self.ledger
        self.ledger = ledger
        self._message("")
        if old is None or old.loss_labels != ledger.loss_labels:
            self.loss = min(self.loss, max(0, len(ledger.losses) - 1))
            self.build()
        else:
            for panel in self.query(SamplesPanel):
                panel.show(ledger)
        self._show_line()
        self._draw_cost = time.thread_time() - start

    # -- layout ---------------------------------------------------------------------------------

    def fit(self, size: Size) -> tuple[int, int]:
        """(losses side by side, panels one under another) that fit ``size``."""
        losses = len(self.ledger.losses) if self.ledger is not None else 1
        columns = max(1, min(losses, size.width // MIN_PANEL_SIZE[0]))
        rows = max(1, min(len(PANELS), (size.height - 2) // MIN_PANEL_SIZE[1]))
        return columns, rows

    def relayout(self, size: Size) -> None:
        if self.ledger is not None and self.fit(size) != self.shape:
            self.build(size)

    def build(self, size: Size | None = None) -> None:
        """Mount the panels that fit: ``shape`` losses from ``loss`` on, ``shape`` panels from
        ``panel`` on (both wrapping round)."""
        ledger = self.ledger
        grid = self.query_one("#samples-grid", Container)
        grid.remove_children()
        if ledger is None or not ledger.losses:
            return
        self.shape = columns, rows = self.fit(size or self.size)
        grid.styles.grid_size_columns = columns
        grid.styles.grid_size_rows = rows
        labels = ledger.loss_labels
        panels = []
        for r in range(rows):
            kind = PANELS[(self.panel + r) % len(PANELS)]
            for c in range(columns):
                index = (self.loss + c) % len(labels)
                panels.append(kind(ledger, labels[index], index))
        grid.mount(*panels)
        self._show_line()

    def _show_line(self) -> None:
        """The panel line: which panels and losses are shown, and the keys to others."""
        columns, rows = self.shape
        shown = {(self.panel + r) % len(PANELS) for r in range(rows)}
        parts = []
        for n, panel in enumerate(PANELS):
            name = f"{n + 1} {panel.TITLE}"
            parts.append(f"[reverse]{name}[/]" if n in shown else name)
        line = " ".join(parts)
        ledger = self.ledger
        if ledger is not None and ledger.losses:
            labels = ledger.loss_labels
            on = {(self.loss + c) % len(labels) for c in range(columns)}
            losses = " ".join(
                f"[b {hex_colour(loss_colour(i))}]{escape(label)}[/]" if i in on
                else f"[dim]{escape(label)}[/]"
                for i, label in enumerate(labels))
            line += f"  ·  {losses}"
            about = (f"  ·  [dim]epoch {ledger.epoch}, {ledger.num_corrupted} of "
                     f"{ledger.num_samples} labels corrupted[/]")
            if Content.from_markup(line + about).cell_length < self.size.width - 1:
                line += about
        self.query_one("#samples-line", Static).update(Content.from_markup(line))

    # -- actions --------------------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss()

    def action_panel(self, step: int) -> None:
        self.action_show_panel((self.panel + step) % len(PANELS))

    def action_show_panel(self, panel: int) -> None:
        self.panel = panel
        self.build()

    def action_loss(self, step: int) -> None:
        if self.ledger is not None and self.ledger.losses:
            self.loss = (self.loss + step) % len(self.ledger.losses)
            self.build()
