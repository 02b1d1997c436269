"""The data of one run as the engine trains on it: loaded, cut to its subset, corrupted and put
on the device once; and the order of its batches."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from memtui import data as data_module
from memtui.config import ExperimentConfig
from memtui.corruption import CorruptedLabels, corrupt_inputs, corrupt_labels
from memtui.data import DataSplit
from memtui.errors import ConfigError
from memtui.labelfile import labels_for_training_set, read_label_file
from memtui.transitions import check_matrix, noise_seed, read_matrix


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
    classes: tuple[str, ...] = ()  # the class names, an image folder's included
    #: int64 [N] on the CPU: each training image's position in the data set's training split
    train_index: torch.Tensor | None = None

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, x.float(), self.scale)


def prepare_data(config: ExperimentConfig, device: torch.device) -> PreparedData:
    if config.corruption.labels == "file" and config.corruption.file is None:
        raise ConfigError("corruption.file: labels = 'file' needs a label file; give "
                          "--label-file PATH (CIFAR-N: CIFAR-10_human.pt or CIFAR-100_human.pt)")
    split = data_module.load(config.data.dataset, config.data.data_dir)
    if config.corruption.labels == "file":
        split = with_file_labels(config, split)
    split = data_module.hold_out(split, config.data.holdout)
    seed = noise_seed(config.corruption.seed, config.seed)
    split = data_module.take_subset(split, config.data.subset, config.data.test_subset, seed)
    info = split.info
    mean, std = data_module.channel_stats(split.train_x)
    matrix = config.corruption.matrix
    labels = corrupt_labels(
        split.train_y, config.corruption.labels, config.corruption.noise, info.num_classes,
        seed=seed, dataset=config.data.dataset, given=split.given_y,
        matrix=None if matrix is None else transition_matrix(matrix, info.num_classes))
    train_x = corrupt_inputs(split.train_x, config.corruption.inputs, seed=seed + 1,
                             mean=mean, std=std)
    c = mean.numel()
    if not config.data.normalize:  # raw 0-255 values, as the paper's code feeds them
        mean, std = torch.zeros(c), torch.full((c,), 1.0 / 255.0)
    return PreparedData(
        train_x=train_x.to(device),
        labels=CorruptedLabels(labels.noisy.to(device), labels.true.to(device),
                               labels.mask.to(device)),
        test_x=split.test_x.to(device),
        test_y=split.test_y.to(device),
        scale=(1.0 / (255.0 * std)).view(1, c, 1, 1).to(device),
        shift=(-mean / std).view(1, c, 1, 1).to(device),
        num_classes=info.num_classes,
        classes=tuple(info.classes),
        train_index=split.positions(),
    )


def with_file_labels(config: ExperimentConfig, split: DataSplit) -> DataSplit:
    """The whole training set (before holdout and subset) with the labels of
    ``corruption.file``, checked against it; a tree read class by class is first put into the
    file's order when the file's clean labels allow it (the CIFAR-10 JPEG tree and CIFAR-N:
    docs/cifar-n.md)."""
    assert config.corruption.file is not None
    chosen = read_label_file(config.corruption.file, config.corruption.key)
    order, given = labels_for_training_set(chosen, split.train_y, split.info.num_classes,
                                           config.data.dataset, by_class=split.by_class)
    if order is not None:
        split = replace(split, train_x=split.train_x[order], train_y=split.train_y[order],
                        by_class=False)
    return replace(split, given_y=given)


def transition_matrix(matrix: list[list[float]] | Path, num_classes: int) -> torch.Tensor:
    if isinstance(matrix, Path):
        return read_matrix(matrix, num_classes)
    return check_matrix(matrix, num_classes)


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The batch order of an epoch: a function of (seed, epoch) alone, so a resumed run replays it."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """Batches in order; a last batch of one sample is dropped (BatchNorm cannot train on it)."""
    starts = range(0, n, batch_size)
    return [slice(s, min(s + batch_size, n)) for s in starts if min(s + batch_size, n) - s > 1]
