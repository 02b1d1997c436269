"""``memtui report SWEEP_DIR``: a sweep's results aggregated over seeds, as papers publish them.

- one row per (non-seed axes) x loss: mean +- std over the seeds of the final and best test
  accuracy, and of the final memorized, recovered and clean accuracy (Rich table, Markdown, CSV,
  JSON); Markdown adds a paper-style table of final test accuracy, losses by (labels, noise)
- ``--long FILE.csv``: one tidy table, a row per cell x loss x epoch with the config columns, for
  pandas (``pd.read_csv``); it works for plain run directories too
- ``--plot FILE``: test accuracy and memorized vs noise rate per loss (error bars: std over
  seeds), and memorisation curves over epochs with a +- std band, a row per setting

Cells are read through :func:`memtui.runlog.read_run`; only cells with a completed summary are
aggregated, and the others are named on stderr.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from memtui.errors import MemtuiError, RunDirError
from memtui.metrics import METRICS
from memtui.runlog import RunRecord, read_run
from memtui.sweep.manifest import Manifest, is_sweep_dir

SEED_AXIS = "seed"
NOISE_AXIS = "corruption.noise"
#: (key, title): the aggregated values; test_acc etc. are final values, best_test_acc the best.
AGG_METRICS = (
    ("test_acc", "final " + METRICS["test_acc"].title),
    ("best_test_acc", "best " + METRICS["test_acc"].title),
    ("memorized", METRICS["memorized"].title),
    ("recovered", METRICS["recovered"].title),
    ("clean_acc", METRICS["clean_acc"].title),
)
#: Columns of the long table besides the axes, read from each cell's config.
CONFIG_COLUMNS = (("dataset", ("data", "dataset")), ("labels", ("corruption", "labels")),
                  ("noise", ("corruption", "noise")), ("seed", ("seed",)))


@dataclass
class SweepCell:
    name: str
    overrides: dict[str, Any]
    run: RunRecord


@dataclass
class Group:
    """One setting (the non-seed axes' values) x one loss, over its seeds."""

    setting: tuple[Any, ...]
    loss: str
    symmetric: bool
    runs: list[SweepCell] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)

    def mean_std(self, key: str) -> tuple[float | None, float | None]:
        values = self.values.get(key, [])
        if not values:
            return None, None
        mean = statistics.fmean(values)
        return mean, (statistics.stdev(values) if len(values) > 1 else None)


@dataclass
class Sweep:
    path: Path
    manifest: Manifest
    cells: list[SweepCell]
    missing: list[str]  # cells without a completed summary

    @property
    def axes(self) -> dict[str, list[Any]]:
        return self.manifest.axes

    @property
    def setting_axes(self) -> list[str]:
        return [axis for axis in self.axes if axis != SEED_AXIS]


def load_sweep(path: Path) -> Sweep:
    manifest = Manifest.load(path)
    cells, missing = [], []
    for entry in manifest.cells:
        cell_dir = manifest.cell_dir(entry["name"])
        run = read_run(cell_dir) if (cell_dir / "config.json").is_file() else None
        if run is None or not run.summary or run.summary.get("status") != "completed":
            missing.append(entry["name"])
            continue
        cells.append(SweepCell(entry["name"], dict(entry.get("overrides", {})), run))
    if not cells:
        raise RunDirError(f"sweep {path} has no completed cell yet; run or resume it with "
                          f"`memtui sweep --resume {path}`")
    return Sweep(Path(path), manifest, cells, missing)


def short_names(axes: list[str]) -> list[str]:
    leaves = [axis.rsplit(".", 1)[-1] for axis in axes]
    return [leaf if leaves.count(leaf) == 1 else axis for leaf, axis in zip(leaves, axes)]


def _display(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(v if isinstance(v, str) else str(v.get("label") or v.get("name"))
                        if isinstance(v, dict) else str(v) for v in value)
    return str(value)


def _key(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def groups_of(sweep: Sweep) -> list[Group]:
    """Groups in the grid's order: settings as the axes list them, losses as the runs list them."""
    axes = sweep.setting_axes
    groups: dict[tuple[Any, ...], Group] = {}
    for cell in sweep.cells:
        setting = tuple(cell.overrides.get(axis) for axis in axes)
        symmetric = {loss["label"]: bool(loss.get("symmetric")) for loss in cell.run.meta["losses"]}
        for label in cell.run.loss_labels:
            key = (tuple(_key(v) for v in setting), label)
            group = groups.setdefault(key, Group(setting, label, symmetric.get(label, False)))
            group.runs.append(cell)
            result = (cell.run.summary or {}).get("losses", {}).get(label) or {}
            final = result.get("final") or {}
            values = {name: final.get(name) for name in ("test_acc", "memorized", "recovered",
                                                         "clean_acc", "train_acc")}
            values["best_test_acc"] = result.get("best_test_acc")
            for name, value in values.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    group.values.setdefault(name, []).append(float(value))
    order = {axis: [_key(v) for v in sweep.axes[axis]] for axis in axes}

    def rank(group: Group) -> tuple:
        return tuple(order[axis].index(_key(v)) if _key(v) in order[axis] else 0
                     for axis, v in zip(axes, group.setting))

    return sorted(groups.values(), key=rank)  # stable: losses keep their run order


# ---------------------------------------------------------------------------------------------
# Formats


def _pm(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "—"
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if std is not None else f"{100 * mean:.1f}"


def _seeds(group: Group) -> int:
    return len(group.runs)


def _title(sweep: Sweep) -> str:
    first = sweep.cells[0].run.config
    data = first.get("data", {})
    model = first.get("model", {})
    arch = model.get("arch", "?")
    if arch == "mlp":
        arch = f"MLP {model.get('depth', '?')}x{model.get('width', '?')}"
    seeds = len(sweep.axes.get(SEED_AXIS, [None]))
    size = sweep.cells[0].run.meta.get("num_train")
    size_text = f" ({size:,} train)" if isinstance(size, int) else ""
    return (f"sweep {sweep.manifest.name}: {data.get('dataset', '?')}{size_text}, {arch}, "
            f"{first.get('epochs', '?')} epochs; mean ± std over {seeds} seed(s), in %")


def print_table(sweep: Sweep, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=_title(sweep), caption=str(sweep.path), caption_justify="left")
    for name in short_names(sweep.setting_axes):
        table.add_column(name)
    for header in ("loss", "sym", "n"):
        table.add_column(header)
    for _, title in AGG_METRICS:
        table.add_column(title, justify="right")
    for group in groups_of(sweep):
        table.add_row(*(_display(v) for v in group.setting), group.loss,
                      "yes" if group.symmetric else "no", str(_seeds(group)),
                      *(_pm(*group.mean_std(key)) for key, _ in AGG_METRICS))
    Console(file=out, width=200 if not out.isatty() else None).print(table)


def markdown(sweep: Sweep) -> str:
    headers = [*short_names(sweep.setting_axes), "loss", "sym", "n",
               *(title for _, title in AGG_METRICS)]
    numeric_from = len(sweep.setting_axes) + 3
    lines = [f"{_title(sweep)}", "",
             "| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if i < numeric_from else "---:" for i in range(len(headers)))
             + "|"]
    for group in groups_of(sweep):
        cells = [*(_display(v) for v in group.setting), group.loss,
                 "yes" if group.symmetric else "no", str(_seeds(group)),
                 *(_pm(*group.mean_std(key)) for key, _ in AGG_METRICS)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    pivot = pivot_markdown(sweep)
    return "\n".join(lines) + "\n" + (f"\n{pivot}" if pivot else "")


def pivot_markdown(sweep: Sweep, key: str = "test_acc") -> str:
    """Losses as rows, settings as columns, final test accuracy: the layout papers publish."""
    groups = groups_of(sweep)
    settings: list[tuple[Any, ...]] = []
    for group in groups:
        if group.setting not in settings:
            settings.append(group.setting)
    if len(settings) < 2:
        return ""
    losses: list[str] = []
    for group in groups:
        if group.loss not in losses:
            losses.append(group.loss)
    by = {(g.setting, g.loss): g for g in groups}
    names = short_names(sweep.setting_axes)
    header = ["loss", *(" ".join(f"{n}={_display(v)}" if len(names) > 1 else _display(v)
                                 for n, v in zip(names, s)) for s in settings)]
    lines = [f"final test accuracy (%, mean ± std over seeds); columns: {', '.join(names)}", "",
             "| " + " | ".join(header) + " |", "|---|" + "---:|" * len(settings)]
    for loss in losses:
        lines.append("| " + " | ".join([loss, *(_pm(*by[(s, loss)].mean_std(key))
                                              if (s, loss) in by else "—" for s in settings)])
                     + " |")
    return "\n".join(lines) + "\n"


def records(sweep: Sweep) -> list[dict[str, Any]]:
    rows = []
    for group in groups_of(sweep):
        row: dict[str, Any] = {axis: value for axis, value in zip(sweep.setting_axes, group.setting)}
        row.update(loss=group.loss, symmetric=group.symmetric, n=_seeds(group))
        for key, _ in AGG_METRICS:
            mean, std = group.mean_std(key)
            row[f"{key}_mean"], row[f"{key}_std"] = mean, std
        rows.append(row)
    return rows


def write_csv(sweep: Sweep, out: TextIO) -> None:
    rows = records(sweep)
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (json.dumps(v) if isinstance(v, (list, dict)) else v)
                         for k, v in row.items()})


# ---------------------------------------------------------------------------------------------
# The long table


def long_rows(entries: list[tuple[str, str, dict[str, Any], RunRecord]]) -> list[dict[str, Any]]:
    """(sweep, cell, axis values, run) -> a row per cell x loss x epoch."""
    axes: list[str] = []
    for _, _, overrides, _ in entries:
        axes += [axis for axis in overrides if axis not in axes]
    metric_keys = list(METRICS)
    rows = []
    for sweep_name, cell, overrides, run in entries:
        cfg = run.config
        base: dict[str, Any] = {"sweep": sweep_name, "cell": cell}
        for axis in axes:
            value = overrides.get(axis)
            base[axis] = json.dumps(value) if isinstance(value, (list, dict)) else value
        for column, path in CONFIG_COLUMNS:
            found: Any = cfg
            for part in path:
                found = found.get(part, {}) if isinstance(found, dict) else None
            if column not in base:
                base[column] = found if found != {} else None
        base["status"] = (run.summary or {}).get("status")
        symmetric = {loss["label"]: bool(loss.get("symmetric")) for loss in run.meta["losses"]}
        for label in run.loss_labels:
            for record in run.metrics_of(label):
                rows.append({**base, "loss": label, "symmetric": symmetric.get(label, False),
                             "epoch": record.get("epoch"),
                             **{k: record.get(k) for k in metric_keys}})
    return rows


def write_long(path: Path, entries: list[tuple[str, str, dict[str, Any], RunRecord]]) -> int:
    rows = long_rows(entries)
    if not rows:
        raise RunDirError("--long: the runs have no epochs to write")
    try:
        with Path(path).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        raise RunDirError(f"--long: cannot write {path} ({exc.strerror or exc})") from None
    return len(rows)


def check_long(path: Path | None) -> None:
    if path is None:
        return
    if Path(path).suffix.lower() != ".csv":
        raise MemtuiError(f"--long: write the long table to a .csv file, not {Path(path).name!r}")
    if not Path(path).parent.is_dir():
        raise MemtuiError(f"--long: folder {Path(path).parent} does not exist")


# ---------------------------------------------------------------------------------------------
# Figure


def plot_sweep(sweep: Sweep, path: Path) -> None:
    """A row per setting of the axes other than noise and seed (e.g. labels = symmetric, labels
    = pairflip). Columns: final test accuracy vs noise rate, memorized vs noise rate (mean and
    std over seeds as error bars), then per noise rate the memorized fraction over epochs with a
    +- std band. Symmetric losses dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    plt.rcParams.update({"svg.hashsalt": "memtui", "svg.fonttype": "none", "font.size": 8})
    axes_names = sweep.setting_axes
    has_noise = NOISE_AXIS in axes_names
    row_axes = [a for a in axes_names if a != NOISE_AXIS]
    groups = groups_of(sweep)
    losses: list[str] = []
    symmetric: dict[str, bool] = {}
    for group in groups:
        if group.loss not in losses:
            losses.append(group.loss)
        symmetric[group.loss] = group.symmetric

    def row_of(group: Group) -> tuple:
        return tuple(_key(v) for a, v in zip(axes_names, group.setting) if a != NOISE_AXIS)

    def noise_of(group: Group) -> float:
        return float(dict(zip(axes_names, group.setting)).get(NOISE_AXIS) or 0.0)

    rows: list[tuple] = []
    for group in groups:
        if row_of(group) not in rows:
            rows.append(row_of(group))
    noises = sorted({noise_of(g) for g in groups})
    curve_noises = [n for n in noises if n > 0] or noises
    n_cols = (2 if has_noise else 0) + len(curve_noises)
    fig, grid = plt.subplots(len(rows), n_cols, figsize=(2.9 * n_cols + 1.4, 2.6 * len(rows)),
                             squeeze=False, layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    style = {loss: dict(color=colors[i % len(colors)], linestyle="--" if symmetric[loss] else "-")
             for i, loss in enumerate(losses)}
    short = short_names(row_axes)
    for r, row in enumerate(rows):
        row_label = ", ".join(f"{n}={_display(json.loads(v) if isinstance(v, str) and v[:1] in '[{' else v)}"
                              for n, v in zip(short, row)) or sweep.manifest.name
        in_row = [g for g in groups if row_of(g) == row]
        col = 0
        if has_noise:
            for key, title in (("test_acc", "final test accuracy"), ("memorized", "memorized")):
                ax = grid[r][col]
                for loss in losses:
                    points = sorted((noise_of(g), *g.mean_std(key)) for g in in_row
                                    if g.loss == loss and g.mean_std(key)[0] is not None)
                    if not points:
                        continue
                    x = [p[0] for p in points]
                    y = [p[1] for p in points]
                    err = [p[2] or 0.0 for p in points]
                    ax.errorbar(x, y, yerr=err, capsize=2, linewidth=1.2, marker="o",
                                markersize=3, label=loss + (" (sym.)" if symmetric[loss] else ""),
                                **style[loss])
                ax.set_title(f"{title} vs noise" + (f"\n{row_label}" if row_label else ""))
                ax.set_xlabel("noise rate")
                ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
                col += 1
        for noise in curve_noises:
            ax = grid[r][col]
            for loss in losses:
                chosen = [g for g in in_row if g.loss == loss and noise_of(g) == noise]
                if not chosen:
                    continue
                series = [[rec.get("memorized") for rec in cell.run.metrics_of(loss)]
                          for cell in chosen[0].runs]
                length = min(len(s) for s in series)
                if not length or any(v is None for s in series for v in s[:length]):
                    continue
                values = np.array([s[:length] for s in series], dtype=float)
                epochs = np.arange(1, length + 1)
                mean = values.mean(axis=0)
                std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(length)
                ax.plot(epochs, mean, linewidth=1.2, **style[loss])
                ax.fill_between(epochs, mean - std, mean + std, alpha=0.2,
                                color=style[loss]["color"], linewidth=0)
            ax.set_title(f"memorized over epochs, noise {noise:.0%}"
                         + (f"\n{row_label}" if row_label else ""))
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            col += 1
        for ax in grid[r]:
            ax.set_ylim(-0.02, 1.02)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            ax.grid(alpha=0.3)
    handles, labels = grid[0][0].get_legend_handles_labels()
    if not handles:  # no noise axis: the curves carry no labels; draw them from the styles
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], **style[loss]) for loss in losses]
        labels = [loss + (" (sym.)" if symmetric[loss] else "") for loss in losses]
    fig.legend(handles, labels, loc="outside right center", frameon=False)
    fig.suptitle(_title(sweep).replace("; mean ± std", "\nmean ± std").replace(", in %", ""),
                 fontsize=9, fontweight="bold")
    try:
        fig.savefig(path, metadata={"Date": None} if Path(path).suffix.lower() == ".svg" else None,
                    dpi=120)
    except OSError as exc:
        raise RunDirError(f"--plot: cannot write {path} ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Entry point (called by memtui.report.report_runs for a sweep directory)


def report_sweep(paths: list[Path], fmt: str, plot: Path | None, long: Path | None = None,
                 out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if len(paths) != 1:
        raise MemtuiError("give one sweep directory at a time (or run directories only)")
    sweep = load_sweep(Path(paths[0]))
    if sweep.missing:
        shown = ", ".join(sweep.missing[:5]) + (", ..." if len(sweep.missing) > 5 else "")
        print(f"memtui: {len(sweep.missing)} of {len(sweep.manifest.cells)} cells have no "
              f"completed summary and are left out: {shown}", file=sys.stderr)
    if fmt == "table":
        print_table(sweep, out)
    elif fmt == "markdown":
        out.write(markdown(sweep))
    elif fmt == "csv":
        write_csv(sweep, out)
    else:
        out.write(json.dumps(records(sweep), indent=2) + "\n")
    if long is not None:
        write_long(long, [(sweep.manifest.name, c.name, c.overrides, c.run) for c in sweep.cells])
    if plot is not None:
        plot_sweep(sweep, plot)


def write_long_of_runs(path: Path, runs: list[RunRecord]) -> None:
    """--long for plain run directories: the same table, a run per cell, no axes."""
    write_long(path, [("", run.path.name, {}, run) for run in runs])


__all__ = ["is_sweep_dir", "report_sweep", "write_long_of_runs", "check_long"]
