"""Several runs side by side: which differ only in seed (grouped, mean ± std over the seeds),
what the others differ in (the label of their series), and the best-of table.

Built on memtui.runstate, one RunState per run, grouped and averaged by memtui.aggregate (the
one implementation `memtui report` shares); the view (`memtui watch A B C`) and tests read it.
Nothing here imports Textual, Rich or torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from memtui.aggregate import (
    NOT_THE_EXPERIMENT,
    SHORT_NAMES,
    Band,
    Group,
    band,
    differences,
    group_runs,
    label_of,
    loss_results,
)
from memtui.events import Event, RunStarted
from memtui.metrics import format_value
from memtui.runstate import LossState, RunState

#: Grouping and bands live in memtui.aggregate; these names are kept for the view.
__all__ = ["NOT_THE_EXPERIMENT", "SHORT_NAMES", "BOARD_COLUMNS", "Band", "BoardRow", "Comparison",
           "Group", "band", "board_markdown", "cell", "differences", "label_of", "leaderboard",
           "sort_rows", "value_at"]


def value_at(loss: LossState, metric: str, epoch: int) -> float | None:
    """The metric of a loss in this epoch, as the run log has it (None if not measured)."""
    try:
        index = loss.epochs.index(epoch)
    except ValueError:
        return None
    return loss.series.get(metric, [None] * len(loss.epochs))[index]


class Comparison:
    """One RunState per run, fed tagged events; groups them by what differs."""

    def __init__(self, runs: list[RunState], names: list[str] | None = None) -> None:
        self.runs = runs
        self.names = names or [f"run {i + 1}" for i in range(len(runs))]
        self._groups: list[Group] | None = None
        self._fields: list[str] | None = None
        self._labels: dict[int, str] = {}

    def apply(self, run: int, event: Event) -> set[str]:
        if isinstance(event, RunStarted):  # what the runs differ in may change
            self._groups, self._fields, self._labels = None, None, {}
        return self.runs[run].apply(event)

    def apply_all(self, run: int, events: Iterable[Event]) -> Comparison:
        for event in events:
            self.apply(run, event)
        return self

    @property
    def started(self) -> list[int]:
        return [i for i, state in enumerate(self.runs) if state.config]

    def fields(self) -> list[str]:
        if self._fields is None:
            self._fields = differences([self.runs[i].config for i in self.started])
        return self._fields

    def groups(self) -> list[Group]:
        """Runs that differ only in seed, in the order of their first run."""
        if self._groups is None:
            started = self.started
            self._groups = group_runs([self.runs[i].config for i in started], started,
                                      self.fields())
        return self._groups

    def run_label(self, run: int) -> str:
        """A run by what sets it apart: 'noise 0.8 · seed 1'; its directory when nothing does."""
        if run not in self._labels:
            self._labels[run] = self._run_label(run)
        return self._labels[run]

    def _run_label(self, run: int) -> str:
        state = self.runs[run]
        if not state.config:
            return self.names[run]
        label = label_of(state.config, self.fields())
        seeds = {self.runs[i].config.get("seed") for i in self.started}
        if len(seeds) > 1 or not label:
            label = " · ".join(p for p in (label, f"seed {state.config.get('seed')}") if p)
        if sum(1 for i in self.started if self.run_label_key(i) == self.run_label_key(run)) > 1:
            label += f" ({self.names[run]})"
        return label

    def run_label_key(self, run: int) -> tuple[str, Any]:
        return label_of(self.runs[run].config, self.fields()), self.runs[run].config.get("seed")

    def loss_labels(self) -> list[str]:
        """Every loss of any run, in the order they first appear."""
        seen: dict[str, None] = {}
        for state in self.runs:
            seen.update(dict.fromkeys(state.losses))
        return list(seen)

    def symmetric(self, label: str) -> bool:
        return any(s.losses[label].info.symmetric for s in self.runs if label in s.losses)


# -- the leaderboard --------------------------------------------------------------------------


@dataclass
class BoardRow:
    run: int
    run_label: str
    loss: str
    symmetric: bool
    best_test_acc: float | None
    best_epoch: int | None
    final_test_acc: float | None
    memorized: float | None
    recovered: float | None
    clean_acc: float | None


#: The leaderboard's columns: (key of BoardRow, heading).
BOARD_COLUMNS = (("run_label", "run"), ("loss", "loss"), ("best_test_acc", "best test acc (epoch)"),
                 ("final_test_acc", "final test acc"), ("memorized", "memorized"),
                 ("recovered", "recovered"), ("clean_acc", "clean acc"))


def leaderboard(comparison: Comparison) -> list[BoardRow]:
    """One row per run × loss: best test accuracy (and when), then the last epoch's values."""
    rows = []
    for run in comparison.started:
        for label, loss in comparison.runs[run].losses.items():
            results = loss_results(loss)
            rows.append(BoardRow(run, comparison.run_label(run), label, loss.info.symmetric,
                                 results["best_test_acc"], results["best_epoch"],  # type: ignore[arg-type]
                                 results["test_acc"], results["memorized"],
                                 results["recovered"], results["clean_acc"]))
    return rows


def sort_rows(rows: list[BoardRow], column: str, descending: bool) -> list[BoardRow]:
    """Sorted by a column; rows without a value last either way."""
    present = [r for r in rows if getattr(r, column) is not None]
    missing = [r for r in rows if getattr(r, column) is None]
    return sorted(present, key=lambda r: getattr(r, column), reverse=descending) + missing


def cell(row: BoardRow, column: str) -> str:
    if column == "best_test_acc":
        value = format_value("test_acc", row.best_test_acc)
        return f"{value} ({row.best_epoch})" if row.best_epoch is not None else value
    if column == "loss":
        return row.loss + (" (sym.)" if row.symmetric else "")
    if column == "run_label":
        return row.run_label
    metric = "test_acc" if column == "final_test_acc" else column
    return format_value(metric, getattr(row, column))


def board_markdown(rows: list[BoardRow]) -> str:
    """The leaderboard as a Markdown table, as it would go into a paper's notes."""
    heads = [head for _key, head in BOARD_COLUMNS]
    lines = ["| " + " | ".join(heads) + " |",
             "|" + "|".join("---" if i < 2 else "---:" for i in range(len(heads))) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(row, key).replace("|", "\\|")
                                       for key, _head in BOARD_COLUMNS) + " |")
    return "\n".join(lines) + "\n"
