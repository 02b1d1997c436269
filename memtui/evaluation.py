"""The per-epoch measurement: every model's predictions over the whole training and test sets,
turned into the prediction metrics of memtui.metrics (``EVAL_METRICS``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from memtui.bank import ModelBank, PerSampleLoss
from memtui.ledger import Ledger
from memtui.metrics import EVAL_METRICS
from memtui.prepare import PreparedData

Measurements = dict[int, dict[str, float | None]]


@torch.inference_mode()
def evaluate(bank: ModelBank, data: PreparedData, indices: Sequence[int],
             loss_fns: Sequence[PerSampleLoss], batch_size: int,
             stop_requested: Callable[[], bool] = lambda: False,
             ledger: Ledger | None = None) -> Measurements:
    """Model index -> {metric: value} for the models ``indices``; empty when a stop request cut
    the pass short. Counts stay on the device until one transfer at the end. ``ledger``: an open
    epoch of the sample ledger, given every training sample's logits of every model."""
    device = data.train_x.device
    bank.set_mode(train=False)
    try:
        train_pred = torch.empty((len(indices), len(data.train_x)), dtype=torch.int64,
                                 device=device)
        for start in range(0, len(data.train_x), batch_size):
            if stop_requested():
                return {}
            x = data.normalise(data.train_x[start:start + batch_size])
            for row, i in enumerate(indices):
                logits = bank.logits(i, x)
                train_pred[row, start:start + batch_size] = logits.argmax(dim=1)
                if ledger is not None:
                    ledger.observe(i, start, logits)
        test_correct = torch.zeros(len(indices), device=device)
        test_loss = torch.zeros(len(indices), device=device)
        for start in range(0, len(data.test_x), batch_size):
            x = data.normalise(data.test_x[start:start + batch_size])
            y = data.test_y[start:start + batch_size]
            for row, i in enumerate(indices):
                logits = bank.logits(i, x)
                test_correct[row] += (logits.argmax(dim=1) == y).sum()
                test_loss[row] += loss_fns[i](logits, y).sum()
    finally:
        bank.set_mode(train=True)

    labels = data.labels
    hits_noisy = (train_pred == labels.noisy).float()
    hits_true = (train_pred == labels.true).float()
    mask = labels.mask.float()
    n_corrupt = mask.sum()
    n_clean = len(mask) - n_corrupt
    columns = {
        "train_acc": hits_noisy.mean(dim=1),
        "memorized": (hits_noisy * mask).sum(dim=1) / n_corrupt.clamp(min=1),
        "recovered": (hits_true * mask).sum(dim=1) / n_corrupt.clamp(min=1),
        "clean_acc": (hits_true * (1 - mask)).sum(dim=1) / n_clean.clamp(min=1),
        "test_acc": test_correct / len(data.test_y),
        "test_loss": test_loss / len(data.test_y),
    }
    assert tuple(columns) == EVAL_METRICS, "every prediction metric is measured here, in order"
    # host sync: the one transfer of the whole evaluation
    table = torch.stack(list(columns.values()), dim=1).tolist()
    has_corrupt, has_clean = bool(n_corrupt > 0), bool(n_clean > 0)
    undefined = {"memorized": not has_corrupt, "recovered": not has_corrupt,
                 "clean_acc": not has_clean}
    return {
        i: {name: (None if undefined.get(name) else value)
            for name, value in zip(EVAL_METRICS, table[row])}
        for row, i in enumerate(indices)
    }
