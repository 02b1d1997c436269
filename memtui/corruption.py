"""Label and input corruption, deterministic for a given seed.

A sample counts as *corrupted* when its training label differs from its original label: in the
``random`` mode (Zhang et al.) a resampled label may land on the true class, and such a sample is
clean for every metric. The original labels and the mask are kept so that the engine can measure
how much of the corruption a network memorised and how much it recovered. ``asymmetric`` noise
is drawn from a transition matrix (memtui/transitions.py); ``file`` labels are given (read and
checked by memtui/labelfile.py), and are corrupted where they differ from the data set's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from memtui.specs import InputMode, LabelMode
from memtui.transitions import ASYMMETRIC_MAPS, asymmetric_matrix, transition_labels

GAUSSIAN_CHUNK = 4096  # images per chunk of generated noise

#: Class maps for pairflip noise (and asymmetric noise without a matrix): memtui.transitions.
PAIRFLIP_MAPS = ASYMMETRIC_MAPS


@dataclass(frozen=True)
class CorruptedLabels:
    noisy: torch.Tensor  # int64 [N], the labels the model is trained on
    true: torch.Tensor  # int64 [N], the original labels
    mask: torch.Tensor  # bool [N], noisy != true

    @property
    def num_corrupted(self) -> int:
        return int(self.mask.sum())


def corrupt_labels(
    labels: torch.Tensor,
    mode: LabelMode,
    rate: float,
    num_classes: int,
    seed: int,
    dataset: str = "",
    matrix: torch.Tensor | None = None,
    given: torch.Tensor | None = None,
) -> CorruptedLabels:
    """``asymmetric`` draws each label from a row of ``matrix`` (default: the data set's class map
    at ``rate``, as pairflip); ``file`` takes the ``given`` labels as they are."""
    true = labels.to(torch.int64).clone()
    if mode == "asymmetric":
        if matrix is None:
            matrix = asymmetric_matrix(dataset, num_classes, rate)
        noisy = transition_labels(true, matrix, seed)
        return CorruptedLabels(noisy=noisy, true=true, mask=noisy != true)
    if mode == "file":
        if given is None or given.shape != true.shape:
            raise ValueError("labels from a file need the given labels, one per training image")
        noisy = given.to(torch.int64).clone()
        return CorruptedLabels(noisy=noisy, true=true, mask=noisy != true)
    gen = torch.Generator().manual_seed(seed)
    chosen = torch.rand(true.shape, generator=gen) < rate
    noisy = true.clone()
    if mode == "random":
        draws = torch.randint(0, num_classes, true.shape, generator=gen)
        noisy[chosen] = draws[chosen]
    elif mode == "symmetric":
        # An offset in 1..K-1 moves every chosen label to a different class, uniformly.
        offsets = torch.randint(1, num_classes, true.shape, generator=gen)
        noisy[chosen] = (true[chosen] + offsets[chosen]) % num_classes
    elif mode == "pairflip":
        if dataset not in PAIRFLIP_MAPS:
            raise ValueError(f"pairflip has no class map for data set {dataset!r}")
        target_of = torch.arange(num_classes)
        for src, dst in PAIRFLIP_MAPS[dataset].items():
            target_of[src] = dst
        noisy[chosen] = target_of[true[chosen]]
    elif mode != "none":
        raise ValueError(f"unknown label corruption {mode!r}")
    return CorruptedLabels(noisy=noisy, true=true, mask=noisy != true)


def corrupt_inputs(
    images: torch.Tensor,
    mode: InputMode,
    seed: int,
    mean: torch.Tensor | None = None,
    std: torch.Tensor | None = None,
) -> torch.Tensor:
    """Corrupt uint8 images [N, C, H, W]; the result stays uint8 so the data set stays compact.

    ``mean`` and ``std`` are per channel on the 0..1 scale (needed by ``gaussian`` only).
    """
    if mode == "none":
        return images
    gen = torch.Generator().manual_seed(seed)
    n, c, h, w = images.shape
    flat = images.reshape(n, c, h * w)
    if mode == "shuffled_pixels":
        perm = torch.randperm(h * w, generator=gen)
        return flat[:, :, perm].reshape(n, c, h, w).contiguous()
    if mode == "random_pixels":
        perms = torch.argsort(torch.rand(n, h * w, generator=gen), dim=1)
        return flat.gather(2, perms[:, None, :].expand(n, c, h * w)).reshape(n, c, h, w)
    if mode == "gaussian":
        if mean is None or std is None:
            raise ValueError("gaussian input corruption needs the data set's mean and std")
        # In chunks: a float copy of all of CIFAR-10 at once would be 600 MB.
        out = torch.empty_like(images)
        for start in range(0, n, GAUSSIAN_CHUNK):
            part = out[start:start + GAUSSIAN_CHUNK]
            noise = torch.randn(part.shape, generator=gen) * std.view(1, c, 1, 1) + mean.view(1, c, 1, 1)
            part.copy_((noise * 255).round().clamp(0, 255))
        return out
    raise ValueError(f"unknown input corruption {mode!r}")
