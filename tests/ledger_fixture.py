"""A small sample ledger for the view and report tests: the first 400 demo images (real
Fashion-MNIST, as memtui ships them) with 40% of their labels corrupted, and three losses whose
predictions over 30 epochs follow a fixed random draw: CE memorises its corrupted samples from
epoch ~8, MSE later, RLL hardly at all; clean samples are fitted early by all three. The ledger's
arrays are computed from those trajectories by their definitions (memtui.runlog.ledger) and
written with the ledger's own writers, thumbnails included."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from memtui.runlog.ledger import (
    COUNT_NAMES,
    LEDGER_VERSION,
    SCORE_NAMES,
    write_ledger,
    write_thumbnails,
)

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")
LOSSES = ("CE", "MSE", "RLL")
#: per loss: (mean epoch clean samples are fitted, mean epoch corrupted ones are memorised,
#: share of corrupted ones memorised by the end)
PACE = {"CE": (2.0, 9.0, 0.9), "MSE": (3.0, 16.0, 0.6), "RLL": (3.0, 24.0, 0.08)}
EPOCHS = 30
N = 400


def demo_images(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    import memtui.demo_data as demo

    with np.load(Path(demo.__file__).with_name("fashion_mnist_subset.npz")) as z:
        return z["train_x"][:n], z["train_y"][:n].astype(np.int16)


def average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    for stop in range(1, len(values) + 1):
        if stop == len(values) or sorted_values[stop] != sorted_values[start]:
            ranks[order[start:stop]] = (start + stop + 1) / 2.0
            start = stop
    return ranks


def auroc(suspicion: np.ndarray, corrupted: np.ndarray) -> float:
    """Mann-Whitney: P(a corrupted sample is more suspect than a clean one), ties half."""
    ranks = average_ranks(suspicion)
    pos, neg = int(corrupted.sum()), int((~corrupted).sum())
    return float((ranks[corrupted].sum() - pos * (pos + 1) / 2) / (pos * neg))


def precision_at_k(suspicion: np.ndarray, corrupted: np.ndarray) -> float:
    k = int(corrupted.sum())
    return float(corrupted[np.argsort(-suspicion, kind="stable")[:k]].mean())


def write_fixture(run_dir: Path, epochs: int = EPOCHS, seed: int = 0) -> Path:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, true = demo_images()
    corrupted = rng.random(N) < 0.4
    given = true.copy()
    given[corrupted] = (true[corrupted] + rng.integers(1, 10, int(corrupted.sum()))) % 10
    k = len(CLASS_NAMES)
    arrays: dict[str, list] = {name: [] for name in
                               ("first_fit", "fit_since", "forgets", "last_pred", "aum",
                                "confidence", "variability")}
    auroc_rows = np.full((epochs, len(LOSSES), len(SCORE_NAMES)), np.nan, np.float32)
    precision_rows = np.full_like(auroc_rows, np.nan)
    count_rows = np.full((epochs, len(LOSSES), len(COUNT_NAMES)), -1, np.int32)
    for li, label in enumerate(LOSSES):
        clean_pace, corrupt_pace, share = PACE[label]
        fit_at = np.where(corrupted,
                          np.where(rng.random(N) < share,
                                   np.ceil(rng.exponential(corrupt_pace / 2, N) + corrupt_pace / 2),
                                   10**6),
                          np.ceil(rng.exponential(clean_pace, N)))
        # a third class: neither the true nor the given label
        third = (true + rng.integers(1, 10, N)) % 10
        for step in (1, 2):
            third = np.where(third == given, (given + step) % 10, third)
            third = np.where(third == true, (true + step) % 10, third)
        first_fit = np.full(N, -1, np.int32)
        fit_since = np.full(N, -1, np.int32)
        forgets = np.zeros(N, np.int32)
        aum = np.zeros(N)
        mean = np.zeros(N)
        m2 = np.zeros(N)
        pred = np.zeros(N, np.int16)
        for e in range(1, epochs + 1):
            fitted = (e >= fit_at) & (rng.random(N) > 0.03)  # a few flicker: forgetting events
            unfit = np.where(corrupted & (rng.random(N) < 0.8), true, third)  # clean: a wrong class
            pred = np.where(fitted, given, unfit).astype(np.int16)
            p_given = np.where(fitted, rng.uniform(0.55, 0.99, N), rng.uniform(0.0, 0.35, N))
            margin = np.log(p_given / (1 - p_given)) + rng.normal(0, 0.2, N)
            correct = pred == given
            was = fit_since >= 0
            counts = [(correct & ~was & corrupted).sum(), (was & ~correct & corrupted).sum(),
                      (correct & ~was & ~corrupted).sum(), (was & ~correct & ~corrupted).sum()]
            forgets += (was & ~correct).astype(np.int32)
            first_fit = np.where(correct & (first_fit < 0), e, first_fit).astype(np.int32)
            fit_since = np.where(correct, np.where(was, fit_since, e), -1).astype(np.int32)
            aum += (margin - aum) / e
            delta = p_given - mean
            mean += delta / e
            m2 += delta * (p_given - mean)
            late = np.where(first_fit < 0, e + 1, first_fit)
            never = first_fit < 0
            suspicion = {"aum": -aum, "confidence": -mean,
                         "forgetting": np.where(never, forgets.max() + 1, forgets),
                         "first_fit": late}
            for si, score in enumerate(SCORE_NAMES):
                auroc_rows[e - 1, li, si] = auroc(suspicion[score].astype(np.float64), corrupted)
                precision_rows[e - 1, li, si] = precision_at_k(suspicion[score], corrupted)
            count_rows[e - 1, li] = counts
        for name, value in (("first_fit", first_fit), ("fit_since", fit_since),
                            ("forgets", forgets), ("last_pred", pred), ("aum", aum),
                            ("confidence", mean), ("variability", np.sqrt(m2 / epochs))):
            arrays[name].append(value)
    write_ledger(run_dir, {
        "version": np.int32(LEDGER_VERSION), "epoch": np.int32(epochs),
        "index": np.arange(N, dtype=np.int64), "given": given, "true": true,
        "corrupted": corrupted, "loss_labels": np.array(LOSSES),
        "class_names": np.array(CLASS_NAMES), "score_names": np.array(SCORE_NAMES),
        "count_names": np.array(COUNT_NAMES),
        "epochs_seen": np.full(len(LOSSES), epochs, np.int32),
        "first_fit": np.stack(arrays["first_fit"]), "fit_since": np.stack(arrays["fit_since"]),
        "forgets": np.stack(arrays["forgets"]),
        "last_pred": np.stack(arrays["last_pred"]).astype(np.int16),
        "aum": np.stack(arrays["aum"]).astype(np.float32),
        "confidence": np.stack(arrays["confidence"]).astype(np.float32),
        "variability": np.stack(arrays["variability"]).astype(np.float32),
        "history_epoch": np.arange(1, epochs + 1, dtype=np.int32),
        "history_auroc": auroc_rows, "history_precision": precision_rows,
        "history_counts": count_rows,
    })
    # the thumbnail pack: every image here (the engine keeps a few hundred of a large set)
    write_thumbnails(run_dir, np.arange(N), images[:, None])
    assert k == 10
    return run_dir
