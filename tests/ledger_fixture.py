"""A small sample ledger for the view and report tests: the first 400 demo images (real
Fashion-MNIST, as memtui ships them) with 40% of their labels corrupted, and three losses whose
predictions over 30 epochs follow a fixed random draw: CE memorises its corrupted samples from
epoch ~8, MSE later, RLL hardly at all; clean samples are fitted early by all three. The logits
that make those predictions go through the engine's own ledger (memtui.ledger.Ledger) and its
writer (LedgerFiles: ledger.npz and the thumbnail pack it picks), as in a run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from memtui.ledger import Ledger, LedgerFiles

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


def write_fixture(run_dir: Path, epochs: int = EPOCHS, seed: int = 0) -> Path:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, true = demo_images()
    k = len(CLASS_NAMES)
    corrupted = rng.random(N) < 0.4
    given = true.copy()
    given[corrupted] = (true[corrupted] + rng.integers(1, k, int(corrupted.sum()))) % k
    ledger = Ledger(len(LOSSES), torch.as_tensor(given), torch.as_tensor(true))
    plans = []
    for label in LOSSES:
        clean_pace, corrupt_pace, share = PACE[label]
        memorises = rng.random(N) < share
        late = np.ceil(rng.exponential(corrupt_pace / 2, N) + corrupt_pace / 2)
        fit_at = np.where(corrupted, np.where(memorises, late, math.inf),
                          np.ceil(rng.exponential(clean_pace, N)))
        # a third class: neither the true nor the given label
        third = (true + rng.integers(1, k, N)) % k
        for step in (1, 2):
            third = np.where(third == given, (given + step) % k, third)
            third = np.where(third == true, (true + step) % k, third)
        plans.append((fit_at, third))
    for epoch in range(1, epochs + 1):
        ledger.begin_epoch(epoch, range(len(LOSSES)))
        for i, (fit_at, third) in enumerate(plans):
            fitted = (epoch >= fit_at) & (rng.random(N) > 0.03)  # a few flicker: forgetting
            unfit = np.where(corrupted & (rng.random(N) < 0.8), true, third)  # clean: wrong
            pred = np.where(fitted, given, unfit)
            logits = rng.normal(0.0, 0.5, (N, k))
            logits[np.arange(N), pred] += np.where(fitted, rng.uniform(1.0, 6.0, N),
                                                   rng.uniform(0.5, 3.0, N))
            ledger.observe(i, 0, torch.as_tensor(logits, dtype=torch.float32))
        ledger.end_epoch()
    files = LedgerFiles(run_dir, ledger, torch.as_tensor(images[:, None]), LOSSES, CLASS_NAMES,
                        every_s=math.inf)
    files.write()
    return run_dir
