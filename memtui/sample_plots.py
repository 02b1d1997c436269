"""`memtui report --plot FILE`'s second figure, FILE-samples.EXT, from the runs' sample ledgers
(memtui.runlog.ledger): which corrupted labels each loss memorised, and when, and how well each
per-sample score finds them.

- one run, or runs that are different experiments: per run, a row of data maps (confidence
  against variability, corrupted and clean apart), a row of when-histograms (the epoch each
  corrupted sample was memorised beside the epoch each clean one was first fitted, as shares of
  their kind) and a row of AUROC curves (one panel per score, a line per loss);
- runs that differ only in their seed (a seed group, or the cells of a sweep): per group, the
  AUROC of each score over epochs as mean ± std over the seeds (memtui.aggregate).

Colours and line styles are memtui.palette's: each loss in its colour, symmetric losses dashed;
corrupted samples in the colour the view gives `memorized`, clean ones in `clean_acc`'s.
matplotlib is imported inside the functions, so nothing else pays for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memtui.aggregate import group_runs, mean_std
from memtui.errors import RunDirError
from memtui.palette import METRIC_COLOURS, hex_colour, line_style
from memtui.runlog.ledger import SCORES, LedgerView, has_ledger, read_ledger
from memtui.runstate import RunState
from memtui.sample_figures import MAX_VARIABILITY, when_histogram

CORRUPTED = hex_colour(METRIC_COLOURS["memorized"])
CLEAN = hex_colour(METRIC_COLOURS["clean_acc"])
#: Bins of a when-histogram (fewer when the run is shorter).
WHEN_BINS = 30
#: A data map draws at most this many samples of each kind (a fixed draw): a 50,000-point scatter
#: is a grey cloud, and a slow file.
MAP_POINTS = 3000


@dataclass(frozen=True)
class LedgerRun:
    """A run with a ledger: its name in the figure, its ledger, its config and losses."""

    name: str
    ledger: LedgerView
    state: RunState

    def symmetric(self, label: str) -> bool:
        loss = self.state.losses.get(label)
        return bool(loss is not None and loss.info.symmetric)


def samples_plot_path(plot: Path) -> Path:
    """Where the samples figure of ``--plot FILE`` goes: FILE-samples beside it."""
    return plot.with_name(f"{plot.stem}-samples{plot.suffix}")


def ledger_runs(runs: list[tuple[str, Path, RunState]]) -> list[LedgerRun]:
    """The runs (name, run directory, state) that have a readable ledger; one that cannot be read
    is left out with a word on stderr, not a failed report."""
    import sys

    found = []
    for name, run_dir, state in runs:
        if not has_ledger(run_dir):
            continue
        try:
            found.append(LedgerRun(name, read_ledger(run_dir), state))
        except RunDirError as exc:
            print(f"memtui: {exc}; its samples are left out of the figure", file=sys.stderr)
    return found


def plot_samples(runs: list[LedgerRun]) -> Any:
    """The samples figure of ``runs`` (a matplotlib Figure, for the report to save), or None when
    no run has a ledger."""
    if not runs:
        return None
    groups = group_runs([run.state.config for run in runs])
    if any(len(group.runs) > 1 for group in groups):
        return _plot_seed_groups(runs, [(group.title or "all runs", [runs[i] for i in group.runs])
                                        for group in groups])
    return _plot_each_run(runs)


def _loss_order(runs: list[LedgerRun]) -> list[str]:
    labels: list[str] = []
    for run in runs:
        labels += [label for label in run.ledger.loss_labels if label not in labels]
    return labels


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    # Text stays text in an SVG (small, searchable); the salt makes the file reproducible.
    plt.rcParams.update({"svg.hashsalt": "memtui", "svg.fonttype": "none", "font.size": 8})
    return plt


def _auroc_axes(ax: Any, score_title: str) -> None:
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    ax.set_title(f"AUROC of {score_title}")
    ax.set_xlabel("epoch")
    ax.axhline(0.5, color="grey", linewidth=0.6, linestyle=":")  # guessing
    ax.set_ylim(0.3, 1.01)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def _plot_each_run(runs: list[LedgerRun]) -> Any:
    plt = _pyplot()
    order = _loss_order(runs)
    columns = max(len(SCORES), max(len(run.ledger.losses) for run in runs))
    fig = plt.figure(layout="constrained", figsize=(2.7 * columns + 1.2, 7.2 * len(runs)))
    for run, subfig in zip(runs, fig.subfigures(len(runs), 1, squeeze=False)[:, 0]):
        ledger = run.ledger
        grid = subfig.subplots(3, columns, squeeze=False)
        for ax in grid.flat:
            ax.set_visible(False)
        sample = _map_sample(ledger)
        for c, loss in enumerate(ledger.losses):
            style = line_style(order.index(loss.label), run.symmetric(loss.label))
            ax = grid[0][c]
            ax.set_visible(True)
            for mask, colour, name in ((~ledger.corrupted, CLEAN, "clean"),
                                       (ledger.corrupted, CORRUPTED, "corrupted")):
                rows = sample[mask[sample]]
                ax.scatter(loss.variability[rows], loss.confidence[rows], s=3, alpha=0.5,
                           color=colour, linewidths=0, label=name, rasterized=True)
            ax.set_xlim(0, MAX_VARIABILITY)
            ax.set_ylim(0, 1)
            ax.set_title(f"{loss.label}: data map", color=style["color"])
            ax.set_xlabel("variability")
            ax.set_ylabel("confidence")
            if c == 0:
                ax.legend(loc="lower right", frameon=False, markerscale=3)
            hist = when_histogram(ledger, loss.label, WHEN_BINS)
            ax = grid[1][c]
            ax.set_visible(True)
            centres = [(first + last) / 2 for first, last in hist.bins]
            width = (hist.bins[0][1] - hist.bins[0][0] + 1) * 0.4
            ax.bar([x - width / 2 for x in centres], hist.fitted / max(1, hist.num_clean),
                   width=width, color=CLEAN, label="clean: first fitted")
            ax.bar([x + width / 2 for x in centres], hist.memorized / max(1, hist.num_corrupted),
                   width=width, color=CORRUPTED, label="corrupted: memorised")
            ax.set_title(f"{loss.label}: when\n({hist.not_memorized} of {hist.num_corrupted} "
                         "corrupted not memorised now)", color=style["color"])
            ax.set_xlabel("epoch")
            ax.set_ylabel("share of its kind")
            if c == 0:
                ax.legend(frameon=False)
        board = ledger.scoreboard
        for c, score in enumerate(SCORES):
            ax = grid[2][c]
            ax.set_visible(True)
            if score.name not in board.score_names:
                continue
            for label in ledger.loss_labels:
                epochs, values = board.series(label, score.name)
                ax.plot(epochs, values, linewidth=1.3, label=label,
                        **line_style(order.index(label), run.symmetric(label)))
            _auroc_axes(ax, score.title)
        grid[2][min(len(SCORES), columns) - 1].legend(loc="lower right", frameon=False)
        subfig.suptitle(f"{run.name}: {ledger.num_corrupted} of {ledger.num_samples} labels "
                        f"corrupted, epoch {ledger.epoch}", fontsize=9, fontweight="bold")
    return fig


def _map_sample(ledger: LedgerView) -> np.ndarray:
    """Rows of at most MAP_POINTS samples of each kind, the same draw every time."""
    rng = np.random.default_rng(0)
    picked = []
    for mask in (ledger.corrupted, ~ledger.corrupted):
        rows = np.flatnonzero(mask)
        if rows.size > MAP_POINTS:
            rows = np.sort(rng.choice(rows, MAP_POINTS, replace=False))
        picked.append(rows)
    return np.sort(np.concatenate(picked))


def auroc_band(runs: list[LedgerRun], label: str, score: str
               ) -> tuple[list[int], list[float], list[float]]:
    """(epochs, mean, std) of one loss's AUROC of one score over ``runs`` (the sample std; 0 where
    one run measured the epoch)."""
    by_epoch: dict[int, list[float]] = {}
    for run in runs:
        board = run.ledger.scoreboard
        if label not in board.auroc or score not in board.score_names:
            continue
        for epoch, value in zip(*board.series(label, score)):
            by_epoch.setdefault(int(epoch), []).append(float(value))
    epochs, means, stds = [], [], []
    for epoch in sorted(by_epoch):
        stat = mean_std(by_epoch[epoch])
        if stat is not None:
            epochs.append(epoch)
            means.append(stat.mean)
            stds.append(stat.std or 0.0)
    return epochs, means, stds


def _plot_seed_groups(runs: list[LedgerRun], groups: list[tuple[str, list[LedgerRun]]]) -> Any:
    plt = _pyplot()
    order = _loss_order(runs)
    fig, grid = plt.subplots(len(groups), len(SCORES), squeeze=False, layout="constrained",
                             figsize=(2.8 * len(SCORES) + 1.2, 2.6 * len(groups)))
    for r, (title, members) in enumerate(groups):
        symmetric = {label: any(run.symmetric(label) for run in members) for label in order}
        for c, score in enumerate(SCORES):
            ax = grid[r][c]
            for label in order:
                epochs, mean, std = auroc_band(members, label, score.name)
                if not epochs:
                    continue
                style = line_style(order.index(label), symmetric[label])
                ax.plot(epochs, mean, linewidth=1.3, label=label, **style)
                low = np.array(mean) - np.array(std)
                ax.fill_between(epochs, low, np.array(mean) + np.array(std),
                                color=style["color"], alpha=0.18, linewidth=0)
            _auroc_axes(ax, score.title)
            if c == 0:
                ax.set_ylabel(f"{title}\nmean ± std over {len(members)} runs")
        grid[r][-1].legend(loc="lower right", frameon=False)
    fig.suptitle("How well each score finds the corrupted labels (AUROC; 50%: guessing)",
                 fontsize=9, fontweight="bold")
    return fig
