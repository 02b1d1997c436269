"""Label noise drawn from a class transition matrix: T[i, j] = P(given label j | true label i).

Asymmetric ("class-conditional") noise as the field uses it is a special case: Patrini et al.
(CVPR 2017) and the SCE/APL code flip a label, with probability eta, along a fixed class map of
look-alike classes (CIFAR-10: truck->automobile, bird->airplane, deer->horse, cat<->dog; MNIST:
2->7, 3->8, 5<->6, 7->1) and, on CIFAR-100, to the next class within blocks of five consecutive
class indices (the maps are facts of the data sets: ``specs.CLASS_MAPS``). A general matrix (from
a preset or a file) covers everything else; each row must be a probability distribution.

Pure functions over label tensors and a torch Generator: the noise seed (``corruption.seed``) is
apart from the seed that initialises the networks, so the noise can be held fixed over seeds (the
paper's code draws it once, ``random_state=42``) or drawn per seed (APL).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from memtui.errors import ConfigError
from memtui.specs import CLASS_MAPS

MATRIX_FIELD = "corruption.matrix"
ROW_TOLERANCE = 1e-6

#: Class maps of asymmetric (and pairflip) noise: source class -> the class its labels flip to.
ASYMMETRIC_MAPS = CLASS_MAPS  # the spec table's, under the name this module's readers look for


def noise_seed(corruption_seed: int | None, run_seed: int) -> int:
    """The seed label noise is drawn with: ``corruption.seed`` when given, else the run's seed."""
    return run_seed if corruption_seed is None else corruption_seed


def map_matrix(class_map: dict[int, int], num_classes: int, rate: float) -> torch.Tensor:
    """The transition matrix of flipping, with probability ``rate``, along ``class_map``."""
    matrix = torch.eye(num_classes, dtype=torch.float64)
    for src, dst in class_map.items():
        if src != dst:
            matrix[src, src] = 1.0 - rate
            matrix[src, dst] = rate
    return matrix


def asymmetric_matrix(dataset: str, num_classes: int, rate: float) -> torch.Tensor:
    if dataset not in ASYMMETRIC_MAPS:
        raise ConfigError(f"corruption.labels: asymmetric noise has no class map for data set "
                          f"{dataset!r} (maps: {', '.join(ASYMMETRIC_MAPS)}); give "
                          f"{MATRIX_FIELD} instead")
    return map_matrix(ASYMMETRIC_MAPS[dataset], num_classes, rate)


def check_matrix(matrix: object, num_classes: int, field: str = MATRIX_FIELD) -> torch.Tensor:
    """A K x K matrix of probabilities whose rows each sum to 1, as float64; else ConfigError."""
    try:
        values = torch.as_tensor(np.asarray(matrix, dtype=np.float64))
    except (TypeError, ValueError):
        raise ConfigError(f"{field}: expected a {num_classes}x{num_classes} matrix of numbers "
                          "(a list of rows)") from None
    if values.shape != (num_classes, num_classes):
        raise ConfigError(f"{field}: a matrix of shape {tuple(values.shape)}; the data set has "
                          f"{num_classes} classes, so it must be {num_classes}x{num_classes}")
    if not torch.isfinite(values).all() or (values < 0).any():
        raise ConfigError(f"{field}: every entry must be a probability (finite, 0 or more)")
    sums = values.sum(dim=1)
    off = (sums - 1.0).abs() > ROW_TOLERANCE
    if off.any():
        row = int(off.nonzero()[0])
        raise ConfigError(f"{field}: row {row} sums to {float(sums[row]):.6g}; each row i holds "
                          "P(given label j | true label i) and must sum to 1")
    return values


def read_matrix(path: Path | str, num_classes: int, field: str = MATRIX_FIELD) -> torch.Tensor:
    """A transition matrix from a ``.npy`` file or a text file of K rows of K numbers (commas or
    spaces between them), checked as ``check_matrix``."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            text = path.read_text(encoding="utf-8")
            rows = [line.replace(",", " ").split() for line in text.splitlines() if line.strip()]
            array = np.array([[float(v) for v in row] for row in rows], dtype=np.float64)
    except (OSError, UnicodeDecodeError, ValueError, EOFError) as exc:
        raise ConfigError(f"{field}: {path} cannot be read as a matrix of numbers "
                          f"({type(exc).__name__})") from None
    return check_matrix(array, num_classes, field)


def apply_matrix(labels: torch.Tensor, matrix: torch.Tensor, generator: torch.Generator
                 ) -> torch.Tensor:
    """Each label i replaced by a draw from row i of ``matrix`` (one uniform number per label,
    taken from ``generator`` in label order)."""
    true = labels.to(torch.int64)
    cumulative = matrix.to(torch.float64).cumsum(dim=1)
    cumulative = cumulative / cumulative[:, -1:]  # the last edge exactly 1: a draw < 1 always lands
    draws = torch.rand(true.shape, generator=generator, dtype=torch.float64)
    # right=True: a class of probability 0 has an empty interval and is never drawn.
    noisy = torch.searchsorted(cumulative[true], draws[:, None], right=True)[:, 0]
    return noisy.clamp_(max=matrix.shape[0] - 1)


def transition_labels(labels: torch.Tensor, matrix: torch.Tensor, seed: int) -> torch.Tensor:
    """``apply_matrix`` with a generator of its own, seeded with the noise seed."""
    return apply_matrix(labels, matrix, torch.Generator().manual_seed(seed))
