"""Which corrupted samples each loss memorises, and when, from the sample ledgers of runs of the
same experiment over several seeds (each seed its own corrupted set): the numbers behind
docs/samples.md.

Usage: python scripts/results/ledger_study.py RUN_DIR [RUN_DIR...]

Per loss, averaged over the runs (mean ± std over seeds):
- memorised: the fraction of corrupted samples predicted as their corrupted label at the end;
- when: the median epoch of memorisation (``fit_since``) of the memorised ones, beside the median
  first-fit epoch of the clean samples;
- per pair of losses: the Jaccard index of their memorised sets, and of the samples both memorised
  how many the second memorised later than the first;
- per score: the final AUROC and precision at k as a detector of the corrupted labels.
"""

from __future__ import annotations

import itertools
import statistics
import sys
from pathlib import Path

import numpy as np

from memtui.runlog.ledger import LedgerView, read_ledger


def mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def per_loss(views: list[LedgerView]) -> None:
    labels = views[0].loss_labels
    print("| loss | memorised | median epoch memorised | median first fit (clean) |")
    print("|---|---:|---:|---:|")
    for label in labels:
        fractions, when, clean = [], [], []
        for view in views:
            memorised = view.memorized(label)
            fractions.append(memorised.sum() / max(view.num_corrupted, 1))
            if memorised.any():
                when.append(float(np.median(view.loss(label).fit_since[memorised])))
            fits = view.loss(label).first_fit[~view.corrupted]
            clean.append(float(np.median(fits[fits >= 0])))
        print(f"| {label} | {mean_std(fractions)} | {mean_std(when)} | {mean_std(clean)} |")


def pairs(views: list[LedgerView]) -> None:
    labels = views[0].loss_labels
    print("\n| losses A, B | Jaccard of memorised sets | share of B's memorised also in A's "
          "| of both, B memorised later | median B - A (epochs) |")
    print("|---|---:|---:|---:|---:|")
    for a, b in itertools.combinations(labels, 2):
        jaccard, covered, later, lag = [], [], [], []
        for view in views:
            in_a, in_b = view.memorized(a), view.memorized(b)
            union, both = (in_a | in_b).sum(), in_a & in_b
            jaccard.append(both.sum() / union if union else float("nan"))
            covered.append(both.sum() / in_b.sum() if in_b.any() else float("nan"))
            if both.any():
                delta = view.loss(b).fit_since[both] - view.loss(a).fit_since[both]
                later.append(float((delta > 0).mean()))
                lag.append(float(np.median(delta)))
        print(f"| {a}, {b} | {mean_std(jaccard)} | {mean_std(covered)} | {mean_std(later)} | "
              f"{mean_std(lag)} |")


def detectors(views: list[LedgerView]) -> None:
    names = views[0].scoreboard.score_names
    print("\n| loss | " + " | ".join(f"AUROC {n}" for n in names) + " | "
          + " | ".join(f"P@k {n}" for n in names) + " |")
    print("|---|" + "---:|" * (2 * len(names)))
    for label in views[0].loss_labels:
        cells = []
        for kind in ("auroc", "precision"):
            for name in names:
                finals = [float(view.scoreboard.series(label, name, kind)[1][-1]) for view in views
                          if view.scoreboard.series(label, name, kind)[1].size]
                cells.append(mean_std(finals))
        print(f"| {label} | " + " | ".join(cells) + " |")


def main(paths: list[str]) -> None:
    views = [read_ledger(Path(p)) for p in paths]
    print(f"{len(views)} runs; {views[0].num_samples} samples, "
          f"corrupted: {', '.join(str(v.num_corrupted) for v in views)}; "
          f"epochs: {', '.join(str(v.epoch) for v in views)}\n")
    per_loss(views)
    pairs(views)
    detectors(views)


if __name__ == "__main__":
    main(sys.argv[1:])
