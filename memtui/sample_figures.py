"""What the samples view and `memtui report --plot` draw from a run's sample ledger
(memtui.runlog.ledger.LedgerView): the when-histogram's bins, the data map's grid, where the
corrupted samples' predictions went. numpy only, so the terminal view, matplotlib and tests share
one computation. Nothing here imports Textual, Rich or matplotlib."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memtui.runlog.ledger import LedgerView

#: The data map's x axis: the std of a probability over epochs is at most 0.5.
MAX_VARIABILITY = 0.5


def epoch_bins(last_epoch: int, max_bins: int) -> list[tuple[int, int]]:
    """Epochs 1..last_epoch in at most ``max_bins`` bins of whole epochs, as (first, last)
    inclusive; every bin but the last is equally wide, so bars compare."""
    last_epoch, max_bins = max(1, last_epoch), max(1, max_bins)
    width = math.ceil(last_epoch / max_bins)
    return [(start, min(last_epoch, start + width - 1))
            for start in range(1, last_epoch + 1, width)]


def count_in_bins(epochs: np.ndarray, bins: list[tuple[int, int]]) -> np.ndarray:
    """int64 [len(bins)]: how many of ``epochs`` fall into each bin."""
    values = np.asarray(epochs, dtype=np.int64)
    return np.array([int(((values >= first) & (values <= last)).sum()) for first, last in bins],
                    dtype=np.int64)


@dataclass(frozen=True)
class WhenHistogram:
    """When a loss memorised its corrupted samples (the epoch since which each has been predicted
    as its given label) beside when it first fitted its clean ones, in the same bins."""

    bins: list[tuple[int, int]]
    memorized: np.ndarray  # corrupted samples memorised in each bin (and still memorised now)
    fitted: np.ndarray  # clean samples first fitted in each bin
    num_corrupted: int
    num_clean: int

    @property
    def not_memorized(self) -> int:
        """Corrupted samples not predicted as their given label at the last measurement."""
        return self.num_corrupted - int(self.memorized.sum())

    @property
    def never_fitted(self) -> int:
        return self.num_clean - int(self.fitted.sum())


def when_histogram(ledger: LedgerView, label: str, max_bins: int) -> WhenHistogram:
    loss = ledger.loss(label)
    corrupted = ledger.corrupted
    memorized_at = loss.fit_since[corrupted & (loss.fit_since >= 0)]
    fitted_at = loss.first_fit[~corrupted & (loss.first_fit >= 0)]
    last = max(ledger.epoch, int(memorized_at.max(initial=0)), int(fitted_at.max(initial=0)))
    bins = epoch_bins(last, max_bins)
    return WhenHistogram(bins, count_in_bins(memorized_at, bins), count_in_bins(fitted_at, bins),
                         ledger.num_corrupted, ledger.num_samples - ledger.num_corrupted)


@dataclass(frozen=True)
class PredictionShares:
    """Where a loss's last predictions of the corrupted samples went."""

    given: int  # the corrupted label: memorised
    true: int  # the original label: recovered
    other: int  # a third class
    total: int


def prediction_shares(ledger: LedgerView, label: str) -> PredictionShares:
    rows = ledger.corrupted
    pred = ledger.loss(label).last_pred[rows]
    given = int((pred == ledger.given[rows]).sum())
    true = int((pred == ledger.true[rows]).sum())
    total = int(rows.sum())
    return PredictionShares(given, true, total - given - true, total)


def data_map_grid(ledger: LedgerView, label: str, columns: int, rows: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(corrupted, clean): int64 [rows, columns] counts of samples per cell of the data map,
    variability 0..MAX_VARIABILITY left to right, confidence 1..0 top to bottom (row 0 is the
    most confident), as a text grid draws them."""
    loss = ledger.loss(label)
    x = np.clip(loss.variability / MAX_VARIABILITY, 0.0, 1.0)
    y = np.clip(loss.confidence, 0.0, 1.0)
    col = np.minimum((x * columns).astype(np.int64), columns - 1)
    row = np.minimum(((1.0 - y) * rows).astype(np.int64), rows - 1)
    valid = np.isfinite(loss.variability) & np.isfinite(loss.confidence)
    grids = []
    for mask in (ledger.corrupted & valid, ~ledger.corrupted & valid):
        grid = np.zeros((rows, columns), dtype=np.int64)
        np.add.at(grid, (row[mask], col[mask]), 1)
        grids.append(grid)
    return grids[0], grids[1]
