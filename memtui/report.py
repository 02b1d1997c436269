"""`memtui report`: summaries of runs and sweeps as a Rich table, Markdown, CSV or JSON, and a
figure of every loss's curves.

Everything is read back from run directories through :mod:`memtui.runlog` and replayed into a
:class:`memtui.runstate.RunState` per run; runs that differ only in seed (and a sweep's seeds)
are averaged by :mod:`memtui.aggregate`, as `memtui watch` groups them. Every report is a
:class:`Sheet` (columns and rows), and one chain prints a sheet in every format; a sweep brings
only its own columns, the grid's axes (memtui.sweep.report).

A run without ``summary.json`` (still being written, or killed) is summarised from its
metrics.jsonl and marked as such: its status reads "running" or "unfinished: ..." with what
its writer's health tells (memtui.runlog.health), and its "final" values are its latest.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

from memtui.aggregate import (
    LossAggregate,
    Stat,
    aggregate,
    clean,
    format_stat,
    group_runs,
    loss_results,
    show,
)
from memtui.errors import MemtuiError, RunDirError, did_you_mean
from memtui.metrics import METRICS, format_value
from memtui.palette import line_style
from memtui.runlog import METRICS_FILE, SUMMARY_FILE, RunRecord, health, read_run
from memtui.runstate import RunState, describe


class ReportFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"


FORMATS = tuple(f.value for f in ReportFormat)
PLOT_SUFFIXES = (".svg", ".png")

#: The results averaged over seeds: (key, heading).
AGG_METRICS = (
    ("test_acc", "final " + METRICS["test_acc"].title),
    ("best_test_acc", "best " + METRICS["test_acc"].title),
    ("memorized", METRICS["memorized"].title),
    ("recovered", METRICS["recovered"].title),
    ("clean_acc", METRICS["clean_acc"].title),
)
#: The panels of the figure: (metric, panel title).
PLOT_PANELS = (
    ("train_acc", "train accuracy (corrupted labels)"),
    ("memorized", "memorized (corrupted samples)"),
    ("test_acc", "clean test accuracy"),
)


# ---------------------------------------------------------------------------------------------
# Sheets: what every format prints


def _text(value: Any) -> str:
    return "—" if value is None else show(value)


@dataclass
class Column:
    """A column: its key in a row, its heading, and how the table and Markdown show it."""

    key: str
    heading: str
    cell: Callable[[dict[str, Any]], str] | None = None  # default: the value as text
    numeric: bool = False  # right-aligned
    shown: bool = True  # in the table and Markdown
    data: bool = True  # in CSV and JSON
    stat: bool = False  # a Stat: KEY_mean and KEY_std in CSV and JSON
    measured: bool = False  # a metric (float32): CSV and JSON round its noise off

    def text(self, row: dict[str, Any]) -> str:
        return self.cell(row) if self.cell is not None else _text(row.get(self.key))


def metric_column(key: str, heading: str, metric: str) -> Column:
    return Column(key, heading, lambda row: format_value(metric, row.get(key)), numeric=True,
                  measured=True)


def stat_column(key: str, heading: str) -> Column:
    """Mean ± std over seeds; CSV and JSON get KEY_mean and KEY_std."""
    return Column(key, heading, lambda row: format_stat(row.get(key)), numeric=True, stat=True,
                  measured=True)


@dataclass
class Sheet:
    """A table of results, printed by one chain as a Rich table, Markdown, CSV or JSON."""

    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    caption: str = ""
    title_style: str = ""
    markdown_title: bool = False
    notes: list[str] = field(default_factory=list)  # Markdown: in italics under the table
    appendix: str = ""  # Markdown: another table after this one

    def shown(self) -> list[Column]:
        return [c for c in self.columns if c.shown]


def _number(value: Any) -> Any:
    return clean(value) if isinstance(value, float) else value


def data_rows(sheets: list[Sheet]) -> list[dict[str, Any]]:
    """The rows for scripts: unformatted numbers (metrics without float32 noise; config values
    as given), every data column whatever the number of runs, a Stat as KEY_mean and KEY_std."""
    out = []
    for sheet in sheets:
        for row in sheet.rows:
            record: dict[str, Any] = {}
            for column in sheet.columns:
                if not column.data:
                    continue
                value = row.get(column.key)
                if column.stat:
                    stat = value if isinstance(value, Stat) else None
                    record[f"{column.key}_mean"] = _number(stat.mean) if stat else None
                    record[f"{column.key}_std"] = _number(stat.std) if stat else None
                else:
                    record[column.key] = _number(value) if column.measured else value
            out.append(record)
    return out


def print_tables(sheets: list[Sheet], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=None if out.isatty() else 200)
    for sheet in sheets:
        table = Table(title=sheet.title, title_style=sheet.title_style or None,
                      caption=sheet.caption or None, caption_justify="left")
        for column in sheet.shown():
            table.add_column(column.heading, justify="right" if column.numeric else "left")
        for row in sheet.rows:
            table.add_row(*(column.text(row) for column in sheet.shown()))
        console.print(table)


def markdown(sheets: list[Sheet]) -> str:
    """One Markdown table of every sheet's rows (the first sheet's columns)."""
    first = sheets[0]
    columns = first.shown()
    lines = [first.title, ""] if first.markdown_title else []
    lines += ["| " + " | ".join(c.heading for c in columns) + " |",
              "|" + "|".join("---:" if c.numeric else "---" for c in columns) + "|"]
    for sheet in sheets:
        for row in sheet.rows:
            lines.append("| " + " | ".join(c.text(row).replace("|", "\\|") for c in columns)
                         + " |")
    notes = [note for sheet in sheets for note in sheet.notes]
    if notes:
        lines += ["", *(f"_{note}_" for note in notes)]
    text = "\n".join(lines) + "\n"
    appendix = "".join(sheet.appendix for sheet in sheets)
    return text + (f"\n{appendix}" if appendix else "")


def write_csv(sheets: list[Sheet], out: TextIO) -> None:
    rows = data_rows(sheets)
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (json.dumps(v) if isinstance(v, (list, dict)) else v)
                         for k, v in row.items()})


def to_json(sheets: list[Sheet]) -> str:
    return json.dumps(data_rows(sheets), indent=2) + "\n"


def render(sheets: list[Sheet], fmt: str, out: TextIO) -> None:
    """The one chain from sheets to every format."""
    if fmt == "table":
        print_tables(sheets, out)
    elif fmt == "markdown":
        out.write(markdown(sheets))
    elif fmt == "csv":
        write_csv(sheets, out)
    else:
        out.write(to_json(sheets))


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


def setting_of(run: RunRecord, state: RunState | None = None) -> str:
    """One line naming what a run did, for table titles and figure rows."""
    state = state or run.state()
    return f"{describe(state)} · {state.epochs_done} epochs {status_of(run)}"


# ---------------------------------------------------------------------------------------------
# The sheets of runs: one row per run and loss, or per group of seeds and loss


def _sym(row: dict[str, Any]) -> str:
    return "yes" if row.get("symmetric") else "no"


def _loss(row: dict[str, Any]) -> str:
    return f"{row['loss']} (diverged)" if row.get("diverged") else str(row["loss"])


def run_columns(several: bool) -> list[Column]:
    return [Column("run", "run", shown=several),
            *(Column(key, key, shown=False) for key in ("preset", "dataset", "labels", "noise",
                                                        "status", "epochs")),
            Column("loss", "loss", _loss), Column("symmetric", "sym", _sym),
            metric_column("test_acc", "final " + METRICS["test_acc"].title, "test_acc"),
            metric_column("best_test_acc", "best " + METRICS["test_acc"].title, "test_acc"),
            Column("best_epoch", "best epoch", numeric=True),
            *(metric_column(name, METRICS[name].title, name)
              for name in ("train_acc", "memorized", "recovered", "clean_acc")),
            Column("diverged", "diverged", shown=False)]


def run_sheet(run: RunRecord, state: RunState, several: bool) -> Sheet:
    """One run: a row per loss, its final and best values."""
    from memtui.headless import STATUS_STYLE

    cfg = run.config
    status = status_of(run)
    base = {"run": run.path.name, "preset": str(cfg.get("name", "")),
            "dataset": str(cfg.get("data", {}).get("dataset", "")),
            "labels": str(cfg.get("corruption", {}).get("labels", "")),
            "noise": float(cfg.get("corruption", {}).get("noise", 0.0)),
            "status": status, "epochs": state.epochs_done}
    rows = [{**base, "loss": label, "symmetric": loss.info.symmetric,
             **loss_results(loss), "diverged": loss.diverged[1] if loss.diverged else None}
            for label, loss in state.losses.items()]
    notes = [f"{run.path.name}: {status}, summarised from {METRICS_FILE}"] \
        if run.summary is None else []
    return Sheet(setting_of(run, state), run_columns(several), rows, caption=str(run.path),
                 title_style=STATUS_STYLE.get(status, "yellow"), notes=notes)


def group_columns(lead: list[Column]) -> list[Column]:
    """A group's row: what sets it apart (lead), the loss, n and mean ± std of each result."""
    return [*lead, Column("loss", "loss"), Column("symmetric", "sym", _sym),
            Column("n", "n", numeric=True),
            *(stat_column(key, heading) for key, heading in AGG_METRICS)]


def group_row(lead: dict[str, Any], entry: LossAggregate) -> dict[str, Any]:
    return {**lead, "loss": entry.loss, "symmetric": entry.symmetric, "n": entry.n,
            **{key: entry.stats.get(key) for key, _ in AGG_METRICS}}


def seeds_sheet(runs: list[RunRecord], states: list[RunState]) -> Sheet:
    """Runs grouped by their config minus the seed (as `memtui watch` groups them): a row per
    group and loss, mean ± std over the group's runs."""
    groups = group_runs([state.config for state in states])
    labelled = any(group.label for group in groups)
    lead = [Column("setting", "setting", shown=labelled, data=labelled),
            Column("runs", "runs", shown=False)]
    rows = [group_row({"setting": group.label,
                       "runs": [runs[i].path.name for i in group.runs]}, entry)
            for group in groups for entry in aggregate(states, group.runs)]
    sizes = sorted({len(group.runs) for group in groups})
    over = "/".join(str(n) for n in sizes)
    what = describe(states[0]) if len(groups) == 1 else f"{len(groups)} settings"
    title = f"{what}; mean ± std over {over} runs (seeds), in %"
    notes = [f"{run.path.name}: {status_of(run)}, summarised from {METRICS_FILE}"
             for run in runs if run.summary is None]
    return Sheet(title, group_columns(lead), rows, markdown_title=True, notes=notes,
                 caption=", ".join(run.path.name for run in runs))


# ---------------------------------------------------------------------------------------------
# Figure


def matplotlib_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def has_curves(states: list[RunState]) -> bool:
    """Whether any run measured a metric of the figure: there is something to draw."""
    return any(loss.points(metric)[0] for state in states for loss in state.losses.values()
               for metric, _title in PLOT_PANELS)


def plot_runs(runs: list[RunRecord], path: Path, states: list[RunState] | None = None) -> None:
    """A row of panels per run (train accuracy, memorized, test accuracy over epochs), a line
    per loss in the palette's colour; symmetric losses dashed, so the paper's two families read
    apart at a glance. Each row is titled with its run's directory and setting."""
    # Imported here so that `memtui run` and the other commands never pay for matplotlib.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    states = states or [run.state() for run in runs]
    # Text stays text in an SVG (small, searchable); the salt makes the file reproducible.
    plt.rcParams.update({"svg.hashsalt": "memtui", "svg.fonttype": "none", "font.size": 9})
    fig = plt.figure(layout="constrained",
                     figsize=(3.4 * len(PLOT_PANELS) + 1.6, 3.0 * len(runs)))
    rows = fig.subfigures(len(runs), 1, squeeze=False)[:, 0]
    for run, state, subfig in zip(runs, states, rows):
        axes = subfig.subplots(1, len(PLOT_PANELS), sharey=True)
        for ax, (metric, title) in zip(axes, PLOT_PANELS):
            for i, (label, loss) in enumerate(state.losses.items()):
                epochs, values = loss.points(metric)
                if not epochs:
                    continue
                name = label + (" (sym.)" if loss.info.symmetric else "") + (
                    " (diverged)" if loss.diverged else "")
                ax.plot(epochs, values, linewidth=1.3, label=name,
                        **line_style(i, loss.info.symmetric))
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.set_ylim(-0.02, 1.02)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        subfig.suptitle(f"{run.path.name}: {setting_of(run, state)}", fontsize=9,
                        fontweight="bold")
        axes[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    save_figure(fig, path)


def save_figure(fig: Any, path: Path) -> None:
    """Write a figure (an SVG without a date, so it is reproducible) and close it."""
    from matplotlib import pyplot as plt

    try:
        fig.savefig(path, metadata={"Date": None} if Path(path).suffix.lower() == ".svg" else None,
                    dpi=120, bbox_inches="tight")
    except OSError as exc:
        raise RunDirError(f"--plot: cannot write {path} ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)


def plot_samples_beside(plot: Path, runs: list[tuple[str, Path, RunState]]) -> None:
    """The runs' sample ledgers drawn into FILE-samples.EXT beside ``plot`` (memtui.sample_plots),
    when any of them has one."""
    from memtui import sample_plots

    fig = sample_plots.plot_samples(sample_plots.ledger_runs(runs))
    if fig is not None:
        path = sample_plots.samples_plot_path(plot)
        save_figure(fig, path)
        print(f"wrote {path}", file=sys.stderr)


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
        if len(paths) != 1:
            raise MemtuiError("give one sweep directory at a time (or run directories only)")
        sweep = sweep_report.load_sweep(Path(paths[0]))
        if sweep.missing:
            shown = ", ".join(sweep.missing[:5]) + (", ..." if len(sweep.missing) > 5 else "")
            print(f"memtui: {len(sweep.missing)} of {len(sweep.manifest.cells)} cells have no "
                  f"completed summary and are left out: {shown}", file=sys.stderr)
        lead = [Column(axis, name) for axis, name in sweep_report.axis_columns(sweep)]
        render([Sheet(sweep_report.title_of(sweep), group_columns(lead),
                      [group_row(values, entry) for values, entry in sweep_report.axis_rows(sweep)],
                      caption=str(sweep.path), markdown_title=True,
                      appendix=sweep_report.pivot_markdown(sweep))], fmt, out)
        if long is not None:
            sweep_report.write_long(long, [(sweep.manifest.name, c.name, c.overrides, c.run)
                                           for c in sweep.cells])
        if plot is not None:
            sweep_report.plot_sweep(sweep, plot)
            print(f"wrote {plot}", file=sys.stderr)
            plot_samples_beside(plot, [(cell.name, cell.run.path, cell.state)
                                       for cell in sweep.cells])
        return
    runs = [load_finished(Path(p)) for p in paths]
    states = [run.state() for run in runs]
    if plot is not None and not has_curves(states):
        raise MemtuiError("--plot: the runs have no epoch measured yet; nothing to draw")

    if any(len(group.runs) > 1 for group in group_runs([s.config for s in states])):
        sheets = [seeds_sheet(runs, states)]
    else:
        sheets = [run_sheet(run, state, len(runs) > 1) for run, state in zip(runs, states)]
    render(sheets, fmt, out)
    if plot is not None:
        plot_runs(runs, plot, states)
        print(f"wrote {plot}", file=sys.stderr)
        plot_samples_beside(plot, [(run.path.name, run.path, state)
                                   for run, state in zip(runs, states)])
    if long is not None:
        sweep_report.write_long_of_runs(long, runs)
