"""The data of one run as the engine trains on it: loaded, cut to its subset, corrupted and put
on the device once; and the order of its batches."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from memtui import data as data_module
from memtui.config import ExperimentConfig
from memtui.corruption import CorruptedLabels, corrupt_inputs, corrupt_labels


@dataclass
class PreparedData:
    """The corrupted training set and the clean test set, resident on the device."""

    train_x: torch.Tensor  # uint8
    labels: CorruptedLabels  # noisy / true / mask, on device
    test_x: torch.Tensor
    test_y: torch.Tensor
    scale: torch.Tensor  # [1, C, 1, 1]: x_float = x_uint8 * scale + shift normalises
    shift: torch.Tensor
    num_classes: int
    #: int64 [N] on the CPU: each training image's position in the data set's training split
    train_index: torch.Tensor | None = None

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, x.float(), self.scale)


def prepare_data(config: ExperimentConfig, device: torch.device) -> PreparedData:
    split = data_module.load(config.data.dataset, config.data.data_dir)
    split = data_module.hold_out(split, config.data.holdout)
    split = data_module.take_subset(split, config.data.subset, config.data.test_subset, config.seed)
    info = split.info
    mean, std = data_module.channel_stats(split.train_x)
    labels = corrupt_labels(split.train_y, config.corruption.labels, config.corruption.noise,
                            info.num_classes, seed=config.seed, dataset=config.data.dataset)
    train_x = corrupt_inputs(split.train_x, config.corruption.inputs, seed=config.seed + 1,
                             mean=mean, std=std)
    c = mean.numel()
    return PreparedData(
        train_x=train_x.to(device),
        labels=CorruptedLabels(labels.noisy.to(device), labels.true.to(device),
                               labels.mask.to(device)),
        test_x=split.test_x.to(device),
        test_y=split.test_y.to(device),
        scale=(1.0 / (255.0 * std)).view(1, c, 1, 1).to(device),
        shift=(-mean / std).view(1, c, 1, 1).to(device),
        num_classes=info.num_classes,
        train_index=split.positions(),
    )


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The batch order of an epoch: a function of (seed, epoch) alone, so a resumed run replays it."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """Batches in order; a last batch of one sample is dropped (BatchNorm cannot train on it)."""
    starts = range(0, n, batch_size)
    return [slice(s, min(s + batch_size, n)) for s in starts if min(s + batch_size, n) - s > 1]
