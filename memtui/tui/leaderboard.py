"""The leaderboard: one row per run × loss with its best and final values, sortable by column;
Enter opens that run's panes; `c` copies it as Markdown (OSC 52) and writes it to the first run
directory (leaderboard.md), for terminals that cannot copy."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from memtui.compare import BOARD_COLUMNS, BoardRow, board_markdown, cell, leaderboard, sort_rows
from memtui.palette import loss_colour, rich_colour
from memtui.tui.host import RunHost

BOARD_FILE = "leaderboard.md"
#: The columns that sort highest first (the rest, names, sort A to Z).
DESCENDING_FIRST = {"best_test_acc", "final_test_acc", "recovered", "clean_acc", "memorized"}
#: Headings on two lines, so that every column fits an 80-column terminal.
TWO_LINE_HEADS = {"best_test_acc": "best test\nacc (epoch)", "final_test_acc": "final\ntest acc",
                  "clean_acc": "clean\nacc"}


class LeaderboardScreen(Screen):
    BINDINGS = [
        Binding("escape,b", "close", "back"),
        Binding("c", "copy", "copy as Markdown"),
        Binding("left_square_bracket", "sort(-1)", "sort ←", key_display="["),
        Binding("right_square_bracket", "sort(1)", "sort →", key_display="]"),
        Binding("r", "reverse", "reverse"),
    ]

    def __init__(self, host: RunHost) -> None:
        super().__init__()
        self.host = host
        self.sort_column = "best_test_acc"
        self.descending = True
        self.rows: list[BoardRow] = []
        self.columns: list[str] = [key for key, _head in BOARD_COLUMNS]

    def compose(self) -> ComposeResult:
        yield Static(id="board-title")
        yield DataTable(id="board", cursor_type="row", zebra_stripes=True, header_height=2)
        yield Footer()

    def on_mount(self) -> None:
        # The run's column only with several runs (one run's name is the view's); fixed while
        # the board is open, as its rows' cells follow it.
        keys = [key for key, _head in BOARD_COLUMNS]
        self.columns = keys if len(self.host.comparison.runs) > 1 else keys[1:]
        table = self.query_one(DataTable)
        for key, head in BOARD_COLUMNS:
            if key in self.columns:
                table.add_column(TWO_LINE_HEADS.get(key, head), key=key)
        self.refill()
        table.focus()

    def refill(self) -> None:
        """The rows from the host's runs, in the chosen order."""
        comparison = self.host.comparison
        loss_index = {label: i for i, label in enumerate(comparison.loss_labels())}
        self.rows = sort_rows(leaderboard(comparison), self.sort_column, self.descending)
        table = self.query_one(DataTable)
        table.clear()
        for i, row in enumerate(self.rows):
            cells: list[str | Text] = [cell(row, "run_label")] if "run_label" in self.columns else []
            cells.append(Text(cell(row, "loss"),
                              style=rich_colour(loss_colour(loss_index.get(row.loss, 0)))))
            cells += [Text(cell(row, key), justify="right") for key, _head in BOARD_COLUMNS[2:]]
            table.add_row(*cells, key=str(i))
        head = dict(BOARD_COLUMNS)[self.sort_column]
        self.query_one("#board-title", Static).update(
            f"[b]leaderboard[/b] · {len(comparison.started)} run(s) · sorted by {head} "
            f"{'↓' if self.descending else '↑'}   [dim]Enter: the run's panes · click a "
            f"header or [ ]: sort[/dim]")

    def sort_by(self, column: str, descending: bool | None = None) -> None:
        self.sort_column = column
        self.descending = column in DESCENDING_FIRST if descending is None else descending
        self.refill()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column == self.sort_column:
            self.sort_by(column, not self.descending)
        else:
            self.sort_by(column)

    def action_sort(self, step: int) -> None:
        keys = self.columns
        self.sort_by(keys[(keys.index(self.sort_column) + step) % len(keys)])

    def action_reverse(self) -> None:
        self.sort_by(self.sort_column, not self.descending)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        row = self.rows[int(str(event.row_key.value))]
        self.dismiss()
        self.host.select_run(row.run)

    def action_close(self) -> None:
        self.dismiss()

    def markdown(self) -> str:
        return board_markdown(self.rows)

    def action_copy(self) -> None:
        text = self.markdown()
        self.app.copy_to_clipboard(text)
        comparison = self.host.comparison
        first = comparison.runs[comparison.started[0]].run_dir if comparison.started else ""
        where = ""
        if first:
            path = Path(first) / BOARD_FILE
            try:
                path.write_text(text, encoding="utf-8")
                where = f"; also written to {path}"
            except OSError as exc:
                where = f"; cannot write {path}: {exc.strerror or exc}"
        self.notify(f"copied {len(self.rows)} rows as Markdown (OSC 52){where}",
                    title="leaderboard", markup=False)
