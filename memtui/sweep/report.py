"""What ``memtui report SWEEP_DIR`` has of its own: a sweep's grid.

- the grid's axes (seed aside) as the leading columns of the report's rows, one row per setting
  x loss, averaged over the seeds by :mod:`memtui.aggregate` and printed by the chain of
  :mod:`memtui.report`; Markdown adds a paper-style table of final test accuracy, losses by
  setting
- ``--long FILE.csv``: one tidy table, a row per cell x loss x epoch with the config columns, for
  pandas (``pd.read_csv``); it works for plain run directories too
- ``--plot FILE``: test accuracy and memorized vs noise rate per loss (error bars: std over
  seeds), and memorisation curves over epochs with a +- std band, a row per setting; colours and
  line styles from :mod:`memtui.palette`

Cells are read through :func:`memtui.runlog.read_run` and replayed into a RunState; only cells
with a completed summary are aggregated, and the others are named on stderr.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memtui.aggregate import LossAggregate, aggregate, band, clean, format_stat, show
from memtui.errors import MemtuiError, RunDirError
from memtui.metrics import METRICS
from memtui.palette import line_style
from memtui.runlog import RunRecord, read_run
from memtui.runstate import RunState
from memtui.sweep.manifest import Manifest, is_sweep_dir

SEED_AXIS = "seed"
NOISE_AXIS = "corruption.noise"
#: Columns of the long table besides the axes, read from each cell's config.
CONFIG_COLUMNS = (("dataset", ("data", "dataset")), ("labels", ("corruption", "labels")),
                  ("noise", ("corruption", "noise")), ("seed", ("seed",)))


@dataclass
class SweepCell:
    name: str
    overrides: dict[str, Any]
    run: RunRecord
    state: RunState


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
        cells.append(SweepCell(entry["name"], dict(entry.get("overrides", {})), run, run.state()))
    if not cells:
        raise RunDirError(f"sweep {path} has no completed cell yet; run or resume it with "
                          f"`memtui sweep --resume {path}`")
    return Sweep(Path(path), manifest, cells, missing)


def short_names(axes: list[str]) -> list[str]:
    leaves = [axis.rsplit(".", 1)[-1] for axis in axes]
    return [leaf if leaves.count(leaf) == 1 else axis for leaf, axis in zip(leaves, axes)]


def _key(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


#: One setting (the non-seed axes' values) and its losses, each over the setting's seeds.
Setting = tuple[tuple[Any, ...], list[LossAggregate]]


def settings_of(sweep: Sweep) -> list[Setting]:
    """Settings in the grid's order (as the axes list their values), losses as the runs list
    them."""
    axes = sweep.setting_axes
    members: dict[tuple[Any, ...], tuple[tuple[Any, ...], list[int]]] = {}
    for index, cell in enumerate(sweep.cells):
        setting = tuple(cell.overrides.get(axis) for axis in axes)
        members.setdefault(tuple(_key(v) for v in setting), (setting, []))[1].append(index)
    order = {axis: [_key(v) for v in sweep.axes[axis]] for axis in axes}

    def rank(setting: tuple[Any, ...]) -> tuple[int, ...]:
        return tuple(order[axis].index(_key(v)) if _key(v) in order[axis] else 0
                     for axis, v in zip(axes, setting))

    states = [cell.state for cell in sweep.cells]
    return [(setting, aggregate(states, indices))
            for setting, indices in sorted(members.values(), key=lambda m: rank(m[0]))]


def axis_columns(sweep: Sweep) -> list[tuple[str, str]]:
    """The report's leading columns: (axis, its short name) for every axis but the seed."""
    return list(zip(sweep.setting_axes, short_names(sweep.setting_axes)))


def axis_rows(sweep: Sweep) -> list[tuple[dict[str, Any], LossAggregate]]:
    """Every setting x loss: the axes' values and the loss over the seeds."""
    return [(dict(zip(sweep.setting_axes, setting)), entry)
            for setting, entries in settings_of(sweep) for entry in entries]


def title_of(sweep: Sweep) -> str:
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


def pivot_markdown(sweep: Sweep, key: str = "test_acc") -> str:
    """Losses as rows, settings as columns, final test accuracy: the layout papers publish."""
    settings = settings_of(sweep)
    if len(settings) < 2:
        return ""
    losses: list[str] = []
    for _setting, entries in settings:
        losses += [e.loss for e in entries if e.loss not in losses]
    names = short_names(sweep.setting_axes)
    header = ["loss", *(" ".join(f"{n}={show(v)}" if len(names) > 1 else show(v)
                                 for n, v in zip(names, s)) for s, _ in settings)]
    lines = [f"final test accuracy (%, mean ± std over seeds); columns: {', '.join(names)}", "",
             "| " + " | ".join(header) + " |", "|---|" + "---:|" * len(settings)]
    for loss in losses:
        cells = []
        for _setting, entries in settings:
            found = next((e for e in entries if e.loss == loss), None)
            cells.append(format_stat(found.stats.get(key)) if found else "—")
        lines.append("| " + " | ".join([loss, *cells]) + " |")
    return "\n".join(lines) + "\n"


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
                             **{k: _measured(record.get(k)) for k in metric_keys}})
    return rows


def _measured(value: Any) -> Any:
    return clean(value) if isinstance(value, float) else value


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
    +- std band. Each loss in its palette colour, symmetric losses dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    plt.rcParams.update({"svg.hashsalt": "memtui", "svg.fonttype": "none", "font.size": 8})
    axes_names = sweep.setting_axes
    has_noise = NOISE_AXIS in axes_names
    row_axes = [a for a in axes_names if a != NOISE_AXIS]
    settings = settings_of(sweep)
    losses: list[str] = []
    symmetric: dict[str, bool] = {}
    for _setting, entries in settings:
        for entry in entries:
            if entry.loss not in losses:
                losses.append(entry.loss)
            symmetric[entry.loss] = entry.symmetric

    def row_of(setting: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(_key(v) for a, v in zip(axes_names, setting) if a != NOISE_AXIS)

    def noise_of(setting: tuple[Any, ...]) -> float:
        return float(dict(zip(axes_names, setting)).get(NOISE_AXIS) or 0.0)

    rows: list[tuple[Any, ...]] = []
    for setting, _entries in settings:
        if row_of(setting) not in rows:
            rows.append(row_of(setting))
    noises = sorted({noise_of(s) for s, _ in settings})
    curve_noises = [n for n in noises if n > 0] or noises
    n_cols = (2 if has_noise else 0) + len(curve_noises)
    fig, grid = plt.subplots(len(rows), n_cols, figsize=(2.9 * n_cols + 1.4, 2.6 * len(rows)),
                             squeeze=False, layout="constrained")
    style: dict[str, dict[str, Any]] = {loss: line_style(i, symmetric[loss]) for i, loss in enumerate(losses)}
    short = short_names(row_axes)
    for r, row in enumerate(rows):
        row_label = ", ".join(f"{n}={show(json.loads(v) if isinstance(v, str) and v[:1] in '[{' else v)}"
                              for n, v in zip(short, row)) or sweep.manifest.name
        in_row = [(noise_of(s), e) for s, entries in settings if row_of(s) == row for e in entries]
        col = 0
        if has_noise:
            for key, title in (("test_acc", "final test accuracy"), ("memorized", "memorized")):
                ax = grid[r][col]
                for loss in losses:
                    points = sorted((noise, stat.mean, stat.std or 0.0) for noise, e in in_row
                                    if e.loss == loss and (stat := e.stats.get(key)) is not None)
                    if not points:
                        continue
                    ax.errorbar([p[0] for p in points], [p[1] for p in points],
                                yerr=[p[2] for p in points], capsize=2, linewidth=1.2,
                                marker="o", markersize=3,
                                label=loss + (" (sym.)" if symmetric[loss] else ""), **style[loss])
                ax.set_title(f"{title} vs noise" + (f"\n{row_label}" if row_label else ""))
                ax.set_xlabel("noise rate")
                ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
                col += 1
        for noise in curve_noises:
            ax = grid[r][col]
            for loss in losses:
                chosen = next((e for n, e in in_row if e.loss == loss and n == noise), None)
                if chosen is None:
                    continue
                curve = band([sweep.cells[i].state.losses[loss] for i in chosen.runs],
                             "memorized")
                if not curve.epochs:
                    continue
                mean, std = np.array(curve.mean), np.array(curve.std)
                ax.plot(curve.epochs, mean, linewidth=1.2, **style[loss])
                ax.fill_between(curve.epochs, mean - std, mean + std, alpha=0.2,
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
    fig.suptitle(title_of(sweep).replace("; mean ± std", "\nmean ± std").replace(", in %", ""),
                 fontsize=9, fontweight="bold")
    try:
        fig.savefig(path, metadata={"Date": None} if Path(path).suffix.lower() == ".svg" else None,
                    dpi=120)
    except OSError as exc:
        raise RunDirError(f"--plot: cannot write {path} ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)


def write_long_of_runs(path: Path, runs: list[RunRecord]) -> None:
    """--long for plain run directories: the same table, a run per cell, no axes."""
    write_long(path, [("", run.path.name, {}, run) for run in runs])


__all__ = ["is_sweep_dir", "load_sweep", "axis_columns", "axis_rows", "pivot_markdown",
           "plot_sweep", "write_long_of_runs", "check_long"]
