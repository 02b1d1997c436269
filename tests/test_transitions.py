"""Specification of label noise from a class transition matrix (``corruption.labels =
"asymmetric"``, ``corruption.matrix``, ``corruption.seed``).

T[i, j] = P(given label j | true label i). Asymmetric noise flips a label, with probability eta,
along a class map of look-alike classes (Patrini et al. 2017, as the SCE/APL code uses them); a
general matrix must have K x K probabilities with rows summing to 1. Every draw is a function of
the noise seed alone, so the noise can stay fixed while the seed of the networks varies.
"""

from __future__ import annotations

import math

import pytest
import torch

from memtui.errors import ConfigError
from memtui.transitions import (
    ASYMMETRIC_MAPS,
    asymmetric_matrix,
    check_matrix,
    noise_seed,
    read_matrix,
    transition_labels,
)

N_PER_CLASS = 20_000
SIGMAS = 5


def balanced(k: int, per_class: int = N_PER_CLASS) -> torch.Tensor:
    return torch.arange(k).repeat_interleave(per_class)


def observed_matrix(true: torch.Tensor, noisy: torch.Tensor, k: int) -> torch.Tensor:
    counts = torch.zeros(k, k, dtype=torch.float64)
    counts.index_put_((true, noisy), torch.ones(len(true), dtype=torch.float64), accumulate=True)
    return counts / counts.sum(dim=1, keepdim=True)


def assert_frequencies_match(matrix: torch.Tensor, seed: int = 0) -> None:
    k = matrix.shape[0]
    true = balanced(k)
    seen = observed_matrix(true, transition_labels(true, matrix, seed), k)
    bound = SIGMAS * torch.sqrt(matrix * (1 - matrix) / N_PER_CLASS)
    assert ((seen - matrix).abs() <= bound).all(), (seen - matrix).abs().max()


@pytest.mark.parametrize("dataset, flips", [
    # truck->automobile, bird->airplane, deer->horse, cat<->dog
    ("cifar10", {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}),
    ("mnist", {2: 7, 3: 8, 5: 6, 6: 5, 7: 1}),
])
def test_asymmetric_maps_are_the_ones_the_field_uses(dataset, flips):
    assert ASYMMETRIC_MAPS[dataset] == flips


@pytest.mark.parametrize("dataset", ["cifar10", "mnist"])
@pytest.mark.parametrize("eta", [0.2, 0.4])
def test_asymmetric_noise_flips_each_mapped_class_with_probability_eta(dataset, eta):
    matrix = asymmetric_matrix(dataset, 10, eta)
    for src, dst in ASYMMETRIC_MAPS[dataset].items():
        assert matrix[src, dst] == pytest.approx(eta) and matrix[src, src] == pytest.approx(1 - eta)
    unmapped = [c for c in range(10) if c not in ASYMMETRIC_MAPS[dataset]]
    assert all(matrix[c, c] == 1 for c in unmapped)
    assert_frequencies_match(matrix)


def test_cifar100_flips_to_the_next_class_in_blocks_of_five():
    matrix = asymmetric_matrix("cifar100", 100, 0.4)
    assert matrix[0, 1] == pytest.approx(0.4) and matrix[4, 0] == pytest.approx(0.4)
    assert matrix[97, 98] == pytest.approx(0.4) and matrix[99, 95] == pytest.approx(0.4)
    assert torch.allclose(matrix.sum(dim=1), torch.ones(100, dtype=torch.float64))


def test_a_general_matrix_is_followed_row_by_row():
    matrix = torch.tensor([[0.5, 0.3, 0.2], [0.0, 1.0, 0.0], [0.1, 0.0, 0.9]], dtype=torch.float64)
    assert_frequencies_match(matrix)


def test_a_class_of_probability_zero_is_never_drawn():
    matrix = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    true = balanced(3, 1000)
    assert torch.equal(transition_labels(true, matrix, seed=1), (true + 1) % 3)


def test_the_noise_is_a_function_of_the_noise_seed_alone():
    matrix = asymmetric_matrix("cifar10", 10, 0.4)
    true = balanced(10, 500)
    assert torch.equal(transition_labels(true, matrix, 42), transition_labels(true, matrix, 42))
    assert not torch.equal(transition_labels(true, matrix, 42), transition_labels(true, matrix, 43))
    # corruption.seed held fixed: the noise is the same whatever the run's seed
    assert noise_seed(42, run_seed=0) == noise_seed(42, run_seed=7) == 42
    assert noise_seed(None, run_seed=7) == 7


@pytest.mark.parametrize("matrix, message", [
    ([[0.5, 0.5], [0.2, 0.7]], "row 1 sums to 0.9"),
    ([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], "shape (3, 2)"),
    ([[1.5, -0.5], [0.0, 1.0]], "probability"),
    ([[float("nan"), 1.0], [0.0, 1.0]], "probability"),
    ([["a", "b"], ["c", "d"]], "matrix of numbers"),
])
def test_a_matrix_that_is_not_a_transition_matrix_is_refused(matrix, message):
    with pytest.raises(ConfigError) as error:
        check_matrix(matrix, 2)
    text = str(error.value)
    assert text.startswith("corruption.matrix:") and message in text and "\n" not in text


def test_asymmetric_noise_without_a_map_asks_for_a_matrix():
    with pytest.raises(ConfigError, match="no class map for data set 'imagefolder'.*"
                                          "corruption.matrix"):
        asymmetric_matrix("imagefolder", 10, 0.4)


def test_a_matrix_reads_from_text_and_npy(tmp_path):
    import numpy as np

    (tmp_path / "t.csv").write_text("0.8, 0.2\n0.1 0.9\n")
    np.save(tmp_path / "t.npy", np.array([[0.8, 0.2], [0.1, 0.9]]))
    for name in ("t.csv", "t.npy"):
        assert torch.allclose(read_matrix(tmp_path / name, 2),
                              torch.tensor([[0.8, 0.2], [0.1, 0.9]], dtype=torch.float64))
    (tmp_path / "bad.csv").write_text("0.8 x\n")
    with pytest.raises(ConfigError, match="^corruption.matrix: .* cannot be read"):
        read_matrix(tmp_path / "bad.csv", 2)


def test_the_flipped_fraction_matches_the_off_diagonal_mass():
    matrix = asymmetric_matrix("cifar10", 10, 0.3)
    true = balanced(10)
    noisy = transition_labels(true, matrix, 0)
    expected = 0.3 * 5 / 10  # five of the ten classes flip
    n = len(true)
    assert abs((noisy != true).double().mean().item() - expected) <= SIGMAS * math.sqrt(
        expected * (1 - expected) / n)
