"""`memtui report`: summaries of finished runs as a Rich table, Markdown, CSV or JSON, and a
figure of every loss's curves.

Everything is read back from run directories through :mod:`memtui.runlog`, so a report shows
exactly what a run recorded. Numbers come from ``summary.json`` (final and best per loss), the
curves from ``metrics.jsonl``; names, titles and formats from :mod:`memtui.metrics`.

A run without ``summary.json`` (still being written, or killed) is summarised from its
metrics.jsonl and marked as such: its status reads "running" or "unfinished: ..." with what
its writer's health tells (memtui.runlog.health), and its "final" values are its latest.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

from memtui.errors import MemtuiError, RunDirError, did_you_mean
from memtui.metrics import METRICS, format_value
from memtui.palette import LINE_STYLE, hex_colour, loss_colour
from memtui.runlog import METRICS_FILE, SUMMARY_FILE, RunRecord, health, read_run
from memtui.runstate import describe


class ReportFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"


FORMATS = tuple(f.value for f in ReportFormat)
PLOT_SUFFIXES = (".svg", ".png")

#: The per-loss values of a row, all final values of the run except best_test_acc.
VALUE_COLUMNS = ("test_acc", "best_test_acc", "best_epoch", "train_acc", "memorized", "recovered",
                 "clean_acc")
#: The panels of the figure: (metric, panel title).
PLOT_PANELS = (
    ("train_acc", "train accuracy (corrupted labels)"),
    ("memorized", "memorized (corrupted samples)"),
    ("test_acc", "clean test accuracy"),
)


@dataclass
class LossRow:
    """One run x one loss: what every format prints."""

    run: str
    preset: str
    dataset: str
    labels: str
    noise: float
    status: str
    epochs: int
    loss: str
    symmetric: bool
    diverged: str | None
    values: dict[str, float | int | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.run, "preset": self.preset, "dataset": self.dataset,
                "labels": self.labels, "noise": self.noise, "status": self.status,
                "epochs": self.epochs, "loss": self.loss, "symmetric": self.symmetric,
                **{name: self.values.get(name) for name in VALUE_COLUMNS},
                "diverged": self.diverged}


# ---------------------------------------------------------------------------------------------
# Reading


def load_finished(path: Path) -> RunRecord:
    """A run directory, finished or not; RunDirError for anything that cannot be reported."""
    run = read_run(path)
    if run.summary is None:
        run.events()  # a damaged line is refused here, before anything is printed
        return run
    if not isinstance(run.summary.get("losses"), dict):
        raise RunDirError(f"{path / SUMMARY_FILE} has no per-loss results; is it a memtui run?")
    if not run.loss_labels:
        raise RunDirError(f"{path} lists no losses in its config.json; is it a memtui run?")
    return run


def status_of(run: RunRecord) -> str:
    """The run's status; for a run without a summary, 'running' or 'unfinished: why'."""
    if run.summary is not None:
        status = run.summary.get("status")
        return status if isinstance(status, str) else ""
    alive = health(run.path)
    return "running" if alive.state == "running" else f"unfinished: {alive.text}"


def rows_of(run: RunRecord) -> list[LossRow]:
    """One row per loss, from the run's read model (its events replayed)."""
    cfg = run.config
    state = run.state()
    status = status_of(run)
    rows = []
    for label, loss in state.losses.items():
        values: dict[str, float | int | None] = {
            name: loss.latest.get(name) for name in ("test_acc", "train_acc", "memorized",
                                                     "recovered", "clean_acc")}
        best = loss.best.get("test_acc")
        values["best_test_acc"] = best[0] if best else None
        values["best_epoch"] = best[1] if best else None
        rows.append(LossRow(
            run=run.path.name,
            preset=str(cfg.get("name", "")),
            dataset=str(cfg.get("data", {}).get("dataset", "")),
            labels=str(cfg.get("corruption", {}).get("labels", "")),
            noise=float(cfg.get("corruption", {}).get("noise", 0.0)),
            status=status,
            epochs=state.epochs_done,
            loss=label,
            symmetric=loss.info.symmetric,
            diverged=loss.diverged[1] if loss.diverged else None,
            values=values,
        ))
    return rows


def setting_of(run: RunRecord) -> str:
    """One line naming what a run did, for table titles and figure rows."""
    state = run.state()
    return f"{describe(state)} · {state.epochs_done} epochs {status_of(run)}"


# ---------------------------------------------------------------------------------------------
# Formats


def _cells(row: LossRow) -> list[str]:
    v = row.values
    best_epoch = v.get("best_epoch")
    return [
        format_value("test_acc", v.get("test_acc")),
        format_value("test_acc", v.get("best_test_acc")),
        str(best_epoch) if best_epoch is not None else "—",
        *(format_value(name, v.get(name))
          for name in ("train_acc", "memorized", "recovered", "clean_acc")),
    ]


HEADERS = ["loss", "sym", "final " + METRICS["test_acc"].title,
           "best " + METRICS["test_acc"].title, "best epoch", METRICS["train_acc"].title,
           METRICS["memorized"].title, METRICS["recovered"].title, METRICS["clean_acc"].title]


def _loss_name(row: LossRow) -> str:
    return f"{row.loss} (diverged)" if row.diverged else row.loss


def print_tables(runs: list[RunRecord], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    from memtui.headless import STATUS_STYLE

    console = Console(file=out)
    for run in runs:
        status = status_of(run)
        table = Table(title=setting_of(run), title_style=STATUS_STYLE.get(status, "yellow"),
                      caption=str(run.path), caption_justify="left")
        for index, header in enumerate(HEADERS):
            table.add_column(header, justify="left" if index < 2 else "right")
        for row in rows_of(run):
            name = f"{row.loss} [red](diverged)[/]" if row.diverged else row.loss
            table.add_row(name, "yes" if row.symmetric else "no", *_cells(row))
        console.print(table)


def markdown(runs: list[RunRecord]) -> str:
    several = len(runs) > 1
    headers = (["run"] if several else []) + HEADERS
    numeric = len(headers) - len(HEADERS) + 2
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if i < numeric else "---:" for i in range(len(headers))) + "|"]
    for run in runs:
        for row in rows_of(run):
            cells = ([row.run] if several else []) + [
                _loss_name(row), "yes" if row.symmetric else "no", *_cells(row)]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    notes = [f"{run.path.name}: {status_of(run)}, summarised from {METRICS_FILE}"
             for run in runs if run.summary is None]
    if notes:
        lines += ["", *(f"_{note}_" for note in notes)]
    return "\n".join(lines) + "\n"


def write_csv(runs: list[RunRecord], out: TextIO) -> None:
    # Unformatted numbers and a run column always: CSV and JSON are for scripts, whose
    # column set should not change with the number of runs given.
    rows = [row.as_dict() for run in runs for row in rows_of(run)]
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def to_json(runs: list[RunRecord]) -> str:
    return json.dumps([row.as_dict() for run in runs for row in rows_of(run)], indent=2) + "\n"


# ---------------------------------------------------------------------------------------------
# Figure


def matplotlib_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def plot_runs(runs: list[RunRecord], path: Path) -> None:
    """A row of panels per run (train accuracy, memorized, test accuracy over epochs), a line
    per loss; symmetric losses dashed, so the paper's two families read apart at a glance."""
    # Imported here so that `memtui run` and the other commands never pay for matplotlib.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    # Text stays text in an SVG (small, searchable); the salt makes the file reproducible.
    plt.rcParams.update({"svg.hashsalt": "memtui", "svg.fonttype": "none", "font.size": 9})
    fig = plt.figure(layout="constrained",
                     figsize=(3.4 * len(PLOT_PANELS) + 1.6, 3.0 * len(runs)))
    rows = fig.subfigures(len(runs), 1, squeeze=False)[:, 0]
    for run, subfig in zip(runs, rows):
        symmetric = {loss["label"]: bool(loss.get("symmetric")) for loss in run.meta["losses"]}
        diverged = {row.loss for row in rows_of(run) if row.diverged}
        axes = subfig.subplots(1, len(PLOT_PANELS), sharey=True)
        for ax, (metric, title) in zip(axes, PLOT_PANELS):
            for i, label in enumerate(run.loss_labels):
                points = [(rec["epoch"], rec[metric]) for rec in run.metrics_of(label)
                          if rec.get(metric) is not None]
                if not points:
                    continue
                epochs, values = zip(*points)
                name = label + (" (sym.)" if symmetric.get(label) else "") + (
                    " (diverged)" if label in diverged else "")
                ax.plot(epochs, values, color=hex_colour(loss_colour(i)), linewidth=1.3,
                        linestyle=LINE_STYLE[symmetric.get(label, False)], label=name)
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.set_ylim(-0.02, 1.02)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        subfig.suptitle(setting_of(run), fontsize=9, fontweight="bold")
        axes[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    try:
        fig.savefig(path, metadata={"Date": None} if path.suffix.lower() == ".svg" else None,
                    dpi=120, bbox_inches="tight")
    except OSError as exc:
        raise RunDirError(f"--plot: cannot write {path} ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Entry point


def report_runs(paths: list[Path], fmt: str | ReportFormat, plot: Path | None,
                out: TextIO | None = None, long: Path | None = None) -> None:
    """Print the summary of ``paths`` in ``fmt`` to stdout and draw the curves into ``plot``.

    Every argument is checked before anything is printed or written, so an error leaves no
    half report behind.
    """
    out = out or sys.stdout
    fmt = fmt.value if isinstance(fmt, ReportFormat) else fmt
    if fmt not in FORMATS:
        raise MemtuiError(f"--format: unknown format {fmt!r}{did_you_mean(fmt, FORMATS)}; "
                          f"valid: {', '.join(FORMATS)}")
    if plot is not None:
        plot = Path(plot)
        if plot.suffix.lower() not in PLOT_SUFFIXES:
            raise MemtuiError(f"--plot: cannot draw {plot.name!r}; give a file ending in "
                              f"{' or '.join(PLOT_SUFFIXES)}")
        if not plot.parent.is_dir():
            raise MemtuiError(f"--plot: folder {plot.parent} does not exist")
        if not matplotlib_available():
            raise MemtuiError("--plot needs matplotlib; install it with: pip install matplotlib")
    if not paths:
        raise MemtuiError("give at least one run directory")
    from memtui.sweep import report as sweep_report  # a sweep directory: over seeds; --long

    sweep_report.check_long(long)
    if any(sweep_report.is_sweep_dir(Path(p)) for p in paths):
        return sweep_report.report_sweep([Path(p) for p in paths], fmt, plot, long, out)
    runs = [load_finished(Path(p)) for p in paths]

    if fmt == "table":
        print_tables(runs, out)
    elif fmt == "markdown":
        out.write(markdown(runs))
    elif fmt == "csv":
        write_csv(runs, out)
    else:
        out.write(to_json(runs))
    if plot is not None:
        plot_runs(runs, plot)
    if long is not None:
        sweep_report.write_long_of_runs(long, runs)
