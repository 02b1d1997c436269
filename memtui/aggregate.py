"""Runs over seeds: which runs are one experiment (their config minus the seed), and what they
add up to (mean, std and n of each loss's results, bands over epochs).

The one place where runs are grouped and averaged: `memtui watch` (its bands and leaderboard),
`memtui report` of run directories and of sweeps, both figures and `memtui export` read their
numbers from here, fed by :class:`memtui.runstate.RunState` (a run directory is replayed through
:meth:`memtui.runlog.RunRecord.state`). The std is the sample standard deviation (n - 1 in the
denominator), the one papers report over seeds; a single run has none (None), not 0.
Nothing here imports Textual, Rich or torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from memtui.overrides import flatten
from memtui.runstate import LossState, RunState

#: Config fields that do not make two runs different experiments: where the run is written,
#: how it is computed, how long it is (a shorter run is the same experiment, cut earlier).
NOT_THE_EXPERIMENT = {"out", "seed", "description", "data.data_dir", "device", "precision",
                      "checkpoint_every", "backend", "compile", "eval_batch_size", "epochs"}
#: Short names of the fields people vary most.
SHORT_NAMES = {"corruption.noise": "noise", "corruption.labels": "labels",
               "corruption.inputs": "inputs", "optimizer.lr": "lr", "optimizer.name": "optimizer",
               "optimizer.weight_decay": "wd", "optimizer.momentum": "momentum", "name": "preset",
               "data.dataset": "data", "data.subset": "subset", "model.arch": "model",
               "model.width": "width", "model.depth": "depth", "batch_size": "batch",
               "schedule.kind": "schedule", "losses": "losses"}
#: A loss's results in one run: the last epoch's values, and the best test accuracy.
RESULTS = ("test_acc", "best_test_acc", "train_acc", "memorized", "recovered", "clean_acc")


def clean(value: float) -> float:
    """A metric as float32 meant it: 0.7720000147819519 -> 0.772 (the metrics are float32
    tensors; their float64 digits past the seventh are noise)."""
    return float(f"{value:.7g}")


# -- mean, std and n --------------------------------------------------------------------------


@dataclass(frozen=True)
class Stat:
    """A value over n runs: its mean and sample std (None for one run)."""
    mean: float
    std: float | None
    n: int


def mean_std(values: Sequence[float]) -> Stat | None:
    """Mean and sample standard deviation (n - 1) of the finite values; None if there are none."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    n = len(finite)
    mean = sum(finite) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else None
    return Stat(mean, std, n)


def format_stat(stat: Stat | None) -> str:
    """A fraction over runs in percent, as papers print it: '77.2 ± 1.3' ('77.2' for one run)."""
    if stat is None:
        return "—"
    if stat.std is None:
        return f"{100 * stat.mean:.1f}"
    return f"{100 * stat.mean:.1f} ± {100 * stat.std:.1f}"


@dataclass
class Band:
    """A metric of one loss over a group's runs, per epoch: mean, std, min, max, count."""
    epochs: list[int]
    mean: list[float]
    std: list[float]
    low: list[float]
    high: list[float]
    count: list[int]


def band(losses: Iterable[LossState], metric: str) -> Band:
    """Mean ± std per epoch over the runs that measured it (std 0 where one run did)."""
    by_epoch: dict[int, list[float]] = {}
    for loss in losses:
        for epoch, value in zip(*loss.points(metric)):
            by_epoch.setdefault(epoch, []).append(value)
    out = Band([], [], [], [], [], [])
    for epoch in sorted(by_epoch):
        values = by_epoch[epoch]
        stat = mean_std(values)
        if stat is None:
            continue
        out.epochs.append(epoch)
        out.mean.append(stat.mean)
        out.std.append(stat.std or 0.0)
        out.low.append(min(values))
        out.high.append(max(values))
        out.count.append(stat.n)
    return out


# -- which runs are one experiment --------------------------------------------------------------


def show(value: Any) -> str:
    """A config value in a label: 0.4 -> '0.4', a list of losses -> 'CE,RLL'."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(str(v.get("label") or v.get("name")) if isinstance(v, dict) else str(v)
                        for v in value)
    return str(value)


def differences(configs: list[dict[str, Any]]) -> list[str]:
    """The config fields (dotted) whose values are not the same in every run, seed excluded."""
    flats = [flatten(c) for c in configs]
    keys = sorted({k for f in flats for k in f} - NOT_THE_EXPERIMENT)
    return [k for k in keys if len({repr(f.get(k)) for f in flats}) > 1]


def label_of(config: dict[str, Any], fields: list[str]) -> str:
    """What sets this run apart, e.g. 'noise 0.8 · lr 0.01' ('' when nothing does)."""
    flat = flatten(config)
    return " · ".join(f"{SHORT_NAMES.get(k, k.rsplit('.', 1)[-1])} {show(flat.get(k))}"
                      for k in fields)


@dataclass
class Group:
    """Runs that differ only in seed (indices into the list of runs)."""
    label: str
    runs: list[int]
    seeds: list[Any] = field(default_factory=list)

    @property
    def title(self) -> str:
        seeds = f"{len(self.runs)} seeds" if len(self.runs) > 1 else ""
        return " ".join(part for part in (self.label, f"({seeds})" if seeds and self.label
                                          else seeds) if part)


def group_runs(configs: list[dict[str, Any]], indices: list[int] | None = None,
               fields: list[str] | None = None) -> list[Group]:
    """Runs grouped by their config minus the seed, in the order of each group's first run.
    ``indices`` name the runs (default 0..n-1); ``fields`` are what they differ in."""
    indices = list(range(len(configs))) if indices is None else indices
    fields = differences(configs) if fields is None else fields
    groups: dict[str, Group] = {}
    for index, config in zip(indices, configs):
        label = label_of(config, fields)
        group = groups.setdefault(label, Group(label, []))
        group.runs.append(index)
        group.seeds.append(config.get("seed"))
    return list(groups.values())


# -- results per loss, and over a group ---------------------------------------------------------


def loss_results(loss: LossState) -> dict[str, float | int | None]:
    """A loss's results in one run: RESULTS, and the epoch of the best test accuracy."""
    values: dict[str, float | int | None] = {
        name: loss.latest.get(name) for name in RESULTS if name != "best_test_acc"}
    best = loss.best.get("test_acc")
    values["best_test_acc"] = best[0] if best else None
    values["best_epoch"] = best[1] if best else None
    return values


@dataclass
class LossAggregate:
    """One loss over a group's runs: each result's mean, std and n."""
    loss: str
    symmetric: bool
    runs: list[int]
    stats: dict[str, Stat | None]

    @property
    def n(self) -> int:
        return len(self.runs)


def aggregate(states: Sequence[RunState], runs: Iterable[int] | None = None
              ) -> list[LossAggregate]:
    """Every loss of the given runs (default all), in the order they first appear, over the
    runs that trained it."""
    chosen = list(range(len(states))) if runs is None else list(runs)
    out: dict[str, LossAggregate] = {}
    values: dict[str, dict[str, list[float]]] = {}
    for index in chosen:
        for label, loss in states[index].losses.items():
            entry = out.setdefault(label, LossAggregate(label, loss.info.symmetric, [], {}))
            entry.runs.append(index)
            for name, value in loss_results(loss).items():
                if name in RESULTS and isinstance(value, (int, float)):
                    values.setdefault(label, {}).setdefault(name, []).append(float(value))
    for label, entry in out.items():
        entry.stats = {name: mean_std(values.get(label, {}).get(name, [])) for name in RESULTS}
    return list(out.values())
