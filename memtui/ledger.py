"""The sample ledger: per loss and per training sample, what the memorisation literature measures
per sample, kept live from the end-of-epoch evaluation pass (no extra forward pass).

For each loss's model and each training sample (z = logits, p = softmax(z), y~ = given label):

- ``first_fit``: the first measured epoch with argmax z = y~ (-1: never);
- ``fit_since``: the epoch since which argmax z = y~ at every measurement (-1: not at the last
  one); for a corrupted sample, the epoch it was memorised;
- ``forgets``: forgetting events, measurements with argmax z = y~ followed by one without. Toneva
  et al. (ICLR 2019) count them over minibatch presentations; here the measurements are memtui's
  eval-mode passes after each evaluated epoch;
- ``aum``: the running mean of the margin z_y~ - max_{k != y~} z_k, on logits (Pleiss et al.,
  NeurIPS 2020; on probabilities the ranking changes);
- ``confidence`` and ``variability``: the running mean and population std of p(y~ | x)
  (Swayamdipta et al., EMNLP 2020), by Welford's update: a float32 mean and sum of squared
  deviations stay accurate where the sums of p and p^2 would cancel (a confident sample's
  variance, ~1e-6, is below float32's resolution of E[p^2] ~ 1);
- ``last_pred``.

Memory on the device, per sample per loss: int32 first_fit, fit_since and forgets (12 bytes;
int32 because an epoch count may exceed int16), int16 last_pred (2), float32 aum, confidence mean
and squared deviations (12), and the open epoch's observations, int16 prediction and float32
margin and p(given | x) (10): 36 bytes. The running means are updated in float32 as
mean += (x - mean) / n, which is as exact as the float32 inputs allow and replays bit for bit.

Each evaluated epoch, per loss: how many corrupted samples were memorised and forgotten (and clean
ones fitted and forgotten), and each score of memtui.runlog.ledger.SCORES as a detector of the
corrupted labels: its AUROC (Mann-Whitney with average ranks for ties: the probability that a
random corrupted sample looks more suspect than a random clean one, ties counted half) and its
precision at k = the number of corrupted samples (the expected precision when ties at the k-th
place are broken at random). Suspect means low AUM, low confidence, many forgetting events, a late
first fit; a sample never fitted counts as the most forgotten and the latest fitted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from memtui.runlog.ledger import (
    COUNT_NAMES,
    FIGURE_NAMES,
    LEDGER_VERSION,
    LEDGER_WRITE_S,
    NEVER,
    SCORE_NAMES,
    write_ledger,
    write_thumbnails,
    write_trajectory,
)

Figures = dict[str, float | None]
_STATE_ARRAYS = ("first_fit", "fit_since", "forgets", "last_pred", "aum", "conf_mean", "conf_m2")


def margin_and_confidence(logits: torch.Tensor, given: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(prediction, logit margin of the given label, p(given | x)) of logits [B, K] and labels
    [B]. The margin is z_y - max_{k != y} z_k (the given class masked out of the max)."""
    z = logits.float()
    labels = given.unsqueeze(-1)
    z_given = z.gather(-1, labels).squeeze(-1)
    best_other = z.scatter(-1, labels, float("-inf")).amax(dim=-1)
    p_given = torch.exp(z_given - torch.logsumexp(z, dim=-1))
    return z.argmax(dim=-1), z_given - best_other, p_given


def tie_codes(values: torch.Tensor) -> torch.Tensor:
    """int64 dense ranks of the rows of ``values`` [R, N]: equal values get equal codes, a larger
    value a larger code, codes 0..N-1 (NaN counts as the largest)."""
    ordered, order = torch.sort(torch.nan_to_num(values, nan=float("inf")), dim=1)
    new = torch.ones_like(ordered, dtype=torch.bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return torch.empty_like(order).scatter_(1, order, new.cumsum(dim=1) - 1)


def detector_statistics(codes: torch.Tensor, corrupted: torch.Tensor, k: int, bound: int
                        ) -> torch.Tensor:
    """int64 [R, 5] on the device, from which ``detector_figures`` makes AUROC and precision at
    k, for suspicion codes [R, N] (integers in 0..bound-1, higher = more suspect): twice the rank
    sum of the corrupted samples (average ranks, ties averaged: twice an average rank is an
    integer), and for precision at k (k = the number of corrupted samples) the corrupted and all
    samples strictly above the k-th most suspect code and tied with it. Histograms of the codes
    make it sort-free and free of host syncs."""
    rows = codes.shape[0]
    flags = corrupted.to(torch.int64).expand_as(codes)
    hist = torch.zeros((rows, bound), dtype=torch.int64, device=codes.device)
    hist.scatter_add_(1, codes, torch.ones_like(codes))
    hits = torch.zeros_like(hist).scatter_add_(1, codes, flags)
    ends = hist.cumsum(dim=1)  # 1-based rank of the last sample of each code
    twice_rank = 2 * ends - hist + 1  # first + last rank of the code's tie group
    at_least = codes.shape[1] - ends + hist  # samples with this code or a higher one
    hits_at_least = hits.sum(dim=1, keepdim=True) - hits.cumsum(dim=1) + hits
    # the k-th most suspect code: the highest whose code-or-higher count reaches k
    kth = ((at_least >= k).sum(dim=1, keepdim=True) - 1).clamp(min=0)
    tied, hit_tied = hist.gather(1, kth), hits.gather(1, kth)
    return torch.cat([(hits * twice_rank).sum(dim=1, keepdim=True),
                      hits_at_least.gather(1, kth) - hit_tied, at_least.gather(1, kth) - tied,
                      hit_tied, tied], dim=1)


def detector_figures(stats: Sequence[int], num_corrupted: int, num_samples: int
                     ) -> tuple[float | None, float | None]:
    """(AUROC, precision at k) from a row of ``detector_statistics``; None where undefined (no
    corrupted or no clean sample)."""
    n1, n0 = num_corrupted, num_samples - num_corrupted
    if n1 == 0 or n0 == 0:
        return None, None
    twice_rank_sum, hit_above, n_above, hit_tied, n_tied = (int(v) for v in stats)
    auroc = (twice_rank_sum - n1 * (n1 + 1)) / (2 * n1 * n0)
    expected_hits = hit_above + (n1 - n_above) * hit_tied / n_tied
    return auroc, expected_hits / n1


class Ledger:
    """The running per-sample arrays of every loss, on the labels' device.

    Per evaluated epoch: ``begin_epoch(epoch, losses)``, then ``observe`` every training sample of
    each of those losses exactly once (in chunks of any size, in any order), then ``end_epoch``.
    """

    def __init__(self, num_losses: int, given: torch.Tensor, true: torch.Tensor) -> None:
        self.num_losses = num_losses
        self.given = given.to(torch.int64)
        self.true = true.to(torch.int64)
        self.corrupted = self.given != self.true
        device, n = self.given.device, self.given.shape[0]
        shape = (num_losses, n)
        self.first_fit = torch.full(shape, NEVER, dtype=torch.int32, device=device)
        self.fit_since = torch.full(shape, NEVER, dtype=torch.int32, device=device)
        self.forgets = torch.zeros(shape, dtype=torch.int32, device=device)
        self.last_pred = torch.full(shape, -1, dtype=torch.int16, device=device)
        self.aum = torch.zeros(shape, dtype=torch.float32, device=device)
        self.conf_mean = torch.zeros(shape, dtype=torch.float32, device=device)
        self.conf_m2 = torch.zeros(shape, dtype=torch.float32, device=device)
        self.epochs_seen = [0] * num_losses
        self.num_corrupted = int(self.corrupted.sum())  # host sync, once
        #: Scoreboard rows: (epoch, {loss index: figures}) per evaluated epoch.
        self.history: list[tuple[int, dict[int, Figures]]] = []
        self._epoch: int | None = None
        self._open: list[int] = []
        # this epoch's observations, folded in at its end (one pass over [L, N] arrays is far
        # cheaper than updating every running array per evaluation batch)
        self._pred = torch.zeros(shape, dtype=torch.int16, device=device)
        self._margin = torch.zeros(shape, dtype=torch.float32, device=device)
        self._p_given = torch.zeros(shape, dtype=torch.float32, device=device)

    @property
    def epoch(self) -> int:
        """The last epoch ended in the ledger; 0 before the first."""
        return self.history[-1][0] if self.history else 0

    @property
    def bytes_per_sample(self) -> int:
        """Device memory per sample per loss, the epoch's observations included."""
        return sum(getattr(self, name).element_size()
                   for name in (*_STATE_ARRAYS, "_pred", "_margin", "_p_given"))

    def begin_epoch(self, epoch: int, losses: Sequence[int]) -> None:
        if self._epoch is not None:
            raise RuntimeError(f"epoch {self._epoch} of the ledger was not ended")
        if epoch <= self.epoch:
            raise ValueError(f"epoch {epoch} is not after the ledger's last, {self.epoch}")
        self._epoch, self._open = epoch, list(losses)
        for i in self._open:
            self.epochs_seen[i] += 1

    def abort_epoch(self) -> None:
        """Forget the open epoch's observations (a stop request cut its evaluation short)."""
        for i in self._open:
            self.epochs_seen[i] -= 1
        self._epoch, self._open = None, []

    def observe(self, loss: int, start: int, logits: torch.Tensor) -> None:
        """Take one loss's logits [B, K] of the training samples start..start+B (under
        torch.inference_mode or not: nothing here needs gradients). Each sample once per epoch."""
        if self._epoch is None or loss not in self._open:
            raise RuntimeError(f"loss {loss} is not being measured in an open epoch")
        stop = start + logits.shape[0]
        pred, margin, p_given = margin_and_confidence(logits, self.given[start:stop])
        self._pred[loss, start:stop] = pred.to(torch.int16)
        self._margin[loss, start:stop] = margin
        self._p_given[loss, start:stop] = p_given

    def observe_models(self, losses: Sequence[int], start: int, logits: torch.Tensor) -> None:
        """As ``observe`` for stacked logits [M, B, K] of ``losses`` (a fused bank's output)."""
        for row, loss in enumerate(losses):
            self.observe(loss, start, logits[row])

    def _update(self, rows: torch.Tensor, epoch: int) -> torch.Tensor:
        """Fold the epoch's observations of the losses ``rows`` into the running arrays, all
        samples at once; the epoch's counts [R, C]."""
        device = self.given.device
        epoch_t = torch.tensor(epoch, dtype=torch.int32, device=device)
        never = torch.tensor(NEVER, dtype=torch.int32, device=device)
        pred = self._pred[rows]
        self.last_pred[rows] = pred
        correct = pred == self.given
        fit_since = self.fit_since[rows]
        was = fit_since >= 0
        gained, lost = correct & ~was, was & ~correct
        self.forgets[rows] = self.forgets[rows] + lost.to(torch.int32)
        first = self.first_fit[rows]
        self.first_fit[rows] = torch.where(correct & (first < 0), epoch_t, first)
        self.fit_since[rows] = torch.where(correct, torch.where(was, fit_since, epoch_t), never)
        seen = torch.tensor([float(self.epochs_seen[i]) for i in rows.tolist()],
                            device=device).unsqueeze(1)
        aum = self.aum[rows]
        self.aum[rows] = aum + (self._margin[rows] - aum) / seen
        p_given, mean = self._p_given[rows], self.conf_mean[rows]
        delta = p_given - mean
        mean = mean + delta / seen
        self.conf_mean[rows] = mean
        self.conf_m2[rows] = self.conf_m2[rows] + delta * (p_given - mean)
        corrupted = self.corrupted
        return torch.stack([(gained & corrupted).sum(1), (lost & corrupted).sum(1),
                            (gained & ~corrupted).sum(1), (lost & ~corrupted).sum(1)], dim=1)

    def suspicion_codes(self, rows: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Per loss of ``rows`` and score of SCORES, int64 codes [R, S, N] (higher = more
        suspect, in 0..bound-1) and the bound. AUM and confidence: dense ranks of their negation;
        forgetting events and first-fit epoch as they are, a sample never fitted above all."""
        never = self.first_fit[rows] < 0
        top = max(self.epoch_open_or_last + 1, 1)
        floats = tie_codes(torch.cat([-self.aum[rows], -self.conf_mean[rows]]))
        forgets = torch.where(never, top, self.forgets[rows].to(torch.int64))
        first_fit = torch.where(never, top, self.first_fit[rows].to(torch.int64))
        r = rows.shape[0]
        by_name = {"aum": floats[:r], "confidence": floats[r:], "forgetting": forgets,
                   "first_fit": first_fit}
        bound = max(self.given.shape[0], top + 1)
        return torch.stack([by_name[name] for name in SCORE_NAMES], dim=1), bound

    @property
    def epoch_open_or_last(self) -> int:
        return self._epoch if self._epoch is not None else self.epoch

    def end_epoch(self) -> dict[int, Figures]:
        """Close the epoch: fold in its observations; loss index -> its figures (FIGURE_NAMES),
        in one host transfer."""
        if self._epoch is None:
            raise RuntimeError("no epoch of the ledger is open")
        epoch, losses = self._epoch, self._open
        figures: dict[int, Figures] = {}
        if losses:
            rows = torch.tensor(losses, dtype=torch.int64, device=self.given.device)
            counts = self._update(rows, epoch)
            codes, bound = self.suspicion_codes(rows)
            r, s, n = codes.shape
            stats = detector_statistics(codes.reshape(r * s, n), self.corrupted,
                                        self.num_corrupted, bound)
            # host sync: the epoch's figures of every loss, one transfer
            table = torch.cat([counts, stats.reshape(r, s * 5)], dim=1).tolist()
            c = len(COUNT_NAMES)
            for pos, i in enumerate(losses):
                values: Figures = dict(zip(COUNT_NAMES, (float(v) for v in table[pos][:c])))
                for j, name in enumerate(SCORE_NAMES):
                    auroc, precision = detector_figures(table[pos][c + 5 * j:c + 5 * j + 5],
                                                        self.num_corrupted, n)
                    values[f"auroc_{name}"] = auroc
                    values[f"precision_{name}"] = precision
                figures[i] = {name: values[name] for name in FIGURE_NAMES}
        self.history.append((epoch, figures))
        self._epoch, self._open = None, []
        return figures

    # -- state for checkpoints and the run-directory file -----------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """CPU tensors and plain values; ``load_state_dict`` of it continues bit for bit."""
        if self._epoch is not None:
            raise RuntimeError("the ledger is saved between epochs, not inside one")
        return {"version": LEDGER_VERSION, "epochs_seen": list(self.epochs_seen),
                "history": [(e, {i: dict(v) for i, v in f.items()}) for e, f in self.history],
                **{name: getattr(self, name).cpu().clone() for name in _STATE_ARRAYS}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in _STATE_ARRAYS:
            target = getattr(self, name)
            if tuple(state[name].shape) != tuple(target.shape):
                raise ValueError(f"ledger array {name} has shape {tuple(state[name].shape)}, "
                                 f"not {tuple(target.shape)}")
            target.copy_(state[name])
        self.epochs_seen = [int(v) for v in state["epochs_seen"]]
        self.history = [(int(e), {int(i): dict(v) for i, v in f.items()})
                        for e, f in state["history"]]

    def variability(self) -> torch.Tensor:
        seen = torch.tensor(self.epochs_seen, dtype=torch.float32, device=self.conf_m2.device)
        return (self.conf_m2 / seen.clamp(min=1).unsqueeze(1)).clamp(min=0).sqrt()

    def to_arrays(self, loss_labels: Sequence[str], class_names: Sequence[str],
                  index: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every key of ``ledger.npz`` (memtui.runlog.ledger), on the host."""
        n, m = self.given.shape[0], self.num_losses
        epochs = [e for e, _ in self.history]
        auroc = np.full((len(epochs), m, len(SCORE_NAMES)), np.nan, np.float32)
        precision = np.full_like(auroc, np.nan)
        counts = np.full((len(epochs), m, len(COUNT_NAMES)), -1, np.int32)
        for row, (_, figures) in enumerate(self.history):
            for i, values in figures.items():
                for s, name in enumerate(SCORE_NAMES):
                    for table, key in ((auroc, f"auroc_{name}"), (precision, f"precision_{name}")):
                        value = values[key]
                        table[row, i, s] = np.nan if value is None else value
                counts[row, i] = [int(values[c] or 0) for c in COUNT_NAMES]
        return {
            "version": np.int32(LEDGER_VERSION), "epoch": np.int32(self.epoch),
            "index": np.arange(n, dtype=np.int64) if index is None else np.asarray(index, np.int64),
            "given": self.given.cpu().numpy().astype(np.int16),
            "true": self.true.cpu().numpy().astype(np.int16),
            "corrupted": self.corrupted.cpu().numpy(),
            "loss_labels": np.array(list(loss_labels), dtype=str),
            "class_names": np.array(list(class_names), dtype=str),
            "score_names": np.array(SCORE_NAMES, dtype=str),
            "count_names": np.array(COUNT_NAMES, dtype=str),
            "epochs_seen": np.array(self.epochs_seen, np.int32),
            "first_fit": self.first_fit.cpu().numpy(), "fit_since": self.fit_since.cpu().numpy(),
            "forgets": self.forgets.cpu().numpy(), "last_pred": self.last_pred.cpu().numpy(),
            "aum": self.aum.cpu().numpy(), "confidence": self.conf_mean.cpu().numpy(),
            "variability": self.variability().cpu().numpy(),
            "history_epoch": np.array(epochs, np.int32), "history_auroc": auroc,
            "history_precision": precision, "history_counts": counts,
        }


def thumbnail_rows(ledger: Ledger, per_loss: int = 48, others: int = 64, limit: int = 400
                   ) -> np.ndarray:
    """The ledger rows whose images a view shows: each loss's first memorised corrupted samples
    (earliest first), then the first corrupted and clean samples by row; at most ``limit``."""
    per_loss = max(1, min(per_loss, (limit - others) // max(ledger.num_losses, 1)))
    corrupted = ledger.corrupted.cpu().numpy()
    fit_since = ledger.fit_since.cpu().numpy()
    chosen: list[np.ndarray] = []
    for i in range(ledger.num_losses):
        rows = np.flatnonzero(corrupted & (fit_since[i] >= 0))
        chosen.append(rows[np.argsort(fit_since[i, rows], kind="stable")][:per_loss])
    chosen.append(np.flatnonzero(corrupted)[:others // 2])
    chosen.append(np.flatnonzero(~corrupted)[:others // 2])
    rows = np.unique(np.concatenate(chosen))  # sorted: the pack's order does not depend on time
    return rows[:limit]


class LedgerFiles:
    """Writes a ledger's files into a run directory: ``ledger.npz`` at most every
    ``every_s`` seconds at an epoch end (``due``), whenever ``write`` is called (checkpoints, the
    end), with its thumbnails; and a trajectory file per epoch when ``trajectories`` is on."""

    def __init__(self, run_dir: Path, ledger: Ledger, images: torch.Tensor,
                 loss_labels: Sequence[str], class_names: Sequence[str],
                 index: np.ndarray | None = None, trajectories: bool = False,
                 every_s: float = LEDGER_WRITE_S) -> None:
        self.run_dir = Path(run_dir)
        self.ledger = ledger
        self.images = images
        self.loss_labels = list(loss_labels)
        self.class_names = list(class_names)
        self.index = index
        self.trajectories = trajectories
        self.every_s = every_s
        self._written_epoch = -1
        self._written_at = -float("inf")
        self._thumb_rows: np.ndarray | None = None

    def epoch_ended(self, losses: Sequence[int]) -> None:
        """After ``Ledger.end_epoch``: the trajectory file, and the ledger if it is due."""
        if self.trajectories:
            dtype = np.int8 if len(self.class_names) <= 127 else np.int16
            predictions = self.ledger.last_pred.cpu().numpy().astype(dtype)
            measured = np.zeros(self.ledger.num_losses, bool)
            measured[list(losses)] = True
            predictions[~measured] = -1
            write_trajectory(self.run_dir, self.ledger.epoch, predictions)
        if time.monotonic() - self._written_at >= self.every_s:
            self.write()

    def write(self) -> None:
        """Write the ledger (and its thumbnails if their rows changed), unless already on disk."""
        if self.ledger.epoch == self._written_epoch:
            return
        write_ledger(self.run_dir, self.ledger.to_arrays(self.loss_labels, self.class_names,
                                                         self.index))
        rows = thumbnail_rows(self.ledger)
        if self._thumb_rows is None or not np.array_equal(rows, self._thumb_rows):
            picked = torch.as_tensor(rows, dtype=torch.int64, device=self.images.device)
            write_thumbnails(self.run_dir, rows, self.images[picked].cpu().numpy())
            self._thumb_rows = rows
        self._written_epoch = self.ledger.epoch
        self._written_at = time.monotonic()
