"""A table of runs and sweeps (memtui.catalog's entries, `memtui ls`'s columns) to choose from:
the cursor row opens with Enter; space marks rows, and Enter then opens every marked one."""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from memtui.catalog import COLUMNS, Entry

MARK = "●"


class RunList(DataTable):
    """One row per entry, newest first; the first column shows the marks."""

    BINDINGS = [
        Binding("space", "toggle_mark", "mark"),
        Binding("enter", "choose", "open"),
    ]

    class Chosen(Message):
        """The runs to open: the marked ones, or the one under the cursor when none is."""

        def __init__(self, entries: list[Entry]) -> None:
            super().__init__()
            self.entries = entries

    def __init__(self, entries: list[Entry], now: float | None = None, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.entries = entries
        self.now = now
        self.marked: set[Path] = set()

    def on_mount(self) -> None:
        self.add_column(" ", key="mark")
        for column in COLUMNS:
            self.add_column(column, key=column)
        for entry in self.entries:
            self.add_row(" ", *entry.cells(self.now), key=str(entry.path))

    def _entry_under_cursor(self) -> Entry | None:
        if not self.entries or self.cursor_row < 0:
            return None
        return self.entries[min(self.cursor_row, len(self.entries) - 1)]

    def action_toggle_mark(self) -> None:
        entry = self._entry_under_cursor()
        if entry is None:
            return
        self.marked ^= {entry.path}
        self.update_cell(str(entry.path), "mark", MARK if entry.path in self.marked else " ")
        self.move_cursor(row=self.cursor_row + 1)

    def action_choose(self) -> None:
        chosen = [e for e in self.entries if e.path in self.marked]
        if not chosen:
            entry = self._entry_under_cursor()
            chosen = [entry] if entry is not None else []
        if chosen:
            self.post_message(self.Chosen(chosen))
