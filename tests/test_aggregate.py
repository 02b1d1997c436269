"""memtui.aggregate: which runs are one experiment, and their mean, sample std and n per loss;
the one place in memtui that averages over seeds."""

from __future__ import annotations

import math
import re
import statistics
from pathlib import Path

import pytest

import memtui
from memtui.aggregate import aggregate, band, clean, format_stat, group_runs, mean_std
from memtui.events import EpochEnded, EpochMetrics, LossInfo, RunFinished, RunStarted
from memtui.runstate import RunState

LOSSES = (LossInfo("CE", "ce", {}, False), LossInfo("RLL", "rll", {"alpha": 0.1}, True))


def config(seed: int, noise: float = 0.4, **extra) -> dict:
    return {"name": "demo", "seed": seed, "epochs": 3, "out": f"runs/s{seed}",
            "corruption": {"labels": "random", "noise": noise}, **extra}


def run(seed: int, test_acc: list[float], noise: float = 0.4, losses=LOSSES) -> RunState:
    """A finished run whose every loss has this test accuracy per epoch (RLL 0.1 lower)."""
    state = RunState().apply_all([RunStarted("", config(seed, noise), losses, "cpu", 100, 50, 40)])
    for epoch, acc in enumerate(test_acc, start=1):
        for info in losses:
            value = acc - (0.1 if info.symmetric else 0.0)
            state.apply(EpochMetrics(epoch, info.label, {"test_acc": value, "memorized": acc / 2}))
        state.apply(EpochEnded(epoch, len(test_acc), 1.0))
    state.apply(RunFinished("completed", len(test_acc), ""))
    return state


def test_std_is_the_sample_std_and_one_run_has_none():
    values = [0.70, 0.72, 0.77]
    stat = mean_std(values)
    assert stat is not None
    assert stat.mean == pytest.approx(statistics.fmean(values))
    assert stat.std == pytest.approx(statistics.stdev(values))  # n - 1, not n
    assert stat.n == 3
    single = mean_std([0.5])
    assert single is not None and single.std is None and single.n == 1
    assert mean_std([]) is None
    assert mean_std([math.nan, 0.5]) == mean_std([0.5])  # a diverged run's NaN is left out


def test_a_stat_prints_in_percent_with_its_std_only_when_there_is_one():
    assert format_stat(mean_std([0.7, 0.72])) == "71.0 ± 1.4"
    assert format_stat(mean_std([0.7])) == "70.0"
    assert format_stat(None) == "—"


def test_float32_noise_is_rounded_to_what_float32_holds():
    assert clean(0.7720000147819519) == 0.772
    assert clean(0.4233333468437195) == 0.4233333
    assert clean(2.0) == 2.0


def test_runs_are_grouped_by_their_config_minus_the_seed():
    configs = [config(0), config(1), config(0, noise=0.8), config(2)]
    groups = group_runs(configs)
    assert [(g.label, g.runs, g.seeds) for g in groups] == [
        ("noise 0.4", [0, 1, 3], [0, 1, 2]), ("noise 0.8", [2], [0])]
    assert [g.title for g in groups] == ["noise 0.4 (3 seeds)", "noise 0.8"]


def test_where_a_run_is_written_and_how_long_it_is_do_not_split_a_group():
    configs = [config(0), {**config(1), "out": "elsewhere", "device": "cuda", "epochs": 9}]
    assert [g.runs for g in group_runs(configs)] == [[0, 1]]


def test_each_loss_is_averaged_over_the_runs_that_trained_it():
    states = [run(0, [0.5, 0.7]), run(1, [0.6, 0.74]), run(2, [0.55, 0.8])]
    ce, rll = aggregate(states)
    assert (ce.loss, ce.symmetric, ce.n, rll.loss, rll.symmetric) == ("CE", False, 3, "RLL", True)
    finals = [0.7, 0.74, 0.8]
    stat = ce.stats["test_acc"]
    assert stat is not None
    assert stat.mean == pytest.approx(statistics.fmean(finals))
    assert stat.std == pytest.approx(statistics.stdev(finals))
    best = rll.stats["best_test_acc"]
    assert best is not None and best.mean == pytest.approx(statistics.fmean(finals) - 0.1)
    assert ce.stats["recovered"] is None  # never measured
    only_two = aggregate(states, [0, 2])[0]
    assert only_two.runs == [0, 2]


def test_a_loss_only_some_runs_have_counts_those_runs():
    states = [run(0, [0.5]), run(1, [0.6], losses=LOSSES[:1])]
    ce, rll = aggregate(states)
    assert (ce.n, rll.n) == (2, 1)


def test_band_is_mean_and_sample_std_per_epoch_over_the_runs_that_measured_it():
    states = [run(0, [0.5, 0.7, 0.9]), run(1, [0.6, 0.74]), run(2, [0.55, 0.8])]
    curve = band([s.losses["CE"] for s in states], "test_acc")
    assert curve.epochs == [1, 2, 3]
    assert curve.count == [3, 3, 1]
    assert curve.mean[1] == pytest.approx(statistics.fmean([0.7, 0.74, 0.8]))
    assert curve.std[1] == pytest.approx(statistics.stdev([0.7, 0.74, 0.8]))
    assert curve.std[2] == 0.0  # one run: no spread to draw
    assert (curve.low[1], curve.high[1]) == (0.7, 0.8)


def test_memtui_has_one_std_over_seeds():
    # The copies drifted once (issue 19); any other std in the package is a new copy.
    root = Path(memtui.__file__).parent
    pattern = re.compile(r"stdev\(|pstdev\(|\.std\(|ddof|np\.std|statistics\.")
    found = [f"{path.relative_to(root)}:{n}" for path in sorted(root.rglob("*.py"))
             for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
             if pattern.search(line)]
    assert found == [], found
    assert "/ (n - 1)" in (root / "aggregate.py").read_text("utf-8")
