"""Specification of label and input corruption (docs/reference.md, "Corruption modes").

Label modes, with rate eta on K classes:
- ``random`` replaces a label, with probability eta, by a uniform draw over all K classes, so an
  expected eta * (K-1)/K of the labels end up different;
- ``symmetric`` moves a label, with probability eta, to one of the K-1 *other* classes, uniformly;
- ``pairflip`` moves a label, with probability eta, along a fixed class map.
The original labels and the mask (noisy != true) are kept. Input modes permute pixels (one
permutation for all images, or one per image) or replace images by Gaussian noise with the data
set's mean and std. Everything is a function of the seed.
"""

from __future__ import annotations

import math

import pytest
import torch

from memtui.corruption import corrupt_inputs, corrupt_labels

K = 10
N = 100_000
SIGMAS = 5  # a correct implementation fails one of these bounds about once in 1.7 million runs


def balanced_labels(n: int = N, k: int = K) -> torch.Tensor:
    return torch.arange(n) % k


def within_sigmas(observed: float, p: float, n: int) -> bool:
    return abs(observed - p) <= SIGMAS * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("mode, eta, expected", [
    ("random", 0.2, 0.2 * (K - 1) / K),
    ("random", 0.4, 0.4 * (K - 1) / K),
    ("random", 0.8, 0.8 * (K - 1) / K),
    ("symmetric", 0.2, 0.2),
    ("symmetric", 0.4, 0.4),
    ("symmetric", 0.8, 0.8),
    # MNIST's map moves 5 of the 10 classes (2, 3, 5, 6, 7): half the balanced labels can flip.
    ("pairflip", 0.4, 0.4 * 5 / K),
])
def test_corrupted_fraction_matches_eta(mode, eta, expected):
    result = corrupt_labels(balanced_labels(), mode, eta, K, seed=0, dataset="mnist")
    assert within_sigmas(result.mask.float().mean().item(), expected, N)


@pytest.mark.parametrize("mode", ["random", "symmetric", "pairflip"])
def test_rate_zero_changes_nothing(mode):
    labels = balanced_labels(1000)
    result = corrupt_labels(labels, mode, 0.0, K, seed=0, dataset="cifar10")
    assert torch.equal(result.noisy, labels)
    assert not result.mask.any()


def test_mode_none_changes_nothing_whatever_the_rate():
    labels = balanced_labels(1000)
    result = corrupt_labels(labels, "none", 0.9, K, seed=0)
    assert torch.equal(result.noisy, labels) and not result.mask.any()


def test_random_labels_at_eta_one_are_uniform_and_corrupt_k_minus_one_in_k():
    result = corrupt_labels(balanced_labels(), "random", 1.0, K, seed=1)
    assert within_sigmas(result.mask.float().mean().item(), (K - 1) / K, N)
    counts = torch.bincount(result.noisy, minlength=K).double()
    for count in counts:
        assert within_sigmas(count.item() / N, 1 / K, N)


def test_random_labels_are_independent_of_the_true_label():
    result = corrupt_labels(balanced_labels(), "random", 1.0, K, seed=2)
    per_class = N // K
    for c in range(K):
        noisy = result.noisy[result.true == c]
        counts = torch.bincount(noisy, minlength=K)
        for count in counts:
            assert within_sigmas(count.item() / per_class, 1 / K, per_class)


def test_symmetric_never_keeps_the_true_label_of_a_chosen_sample():
    result = corrupt_labels(balanced_labels(), "symmetric", 1.0, K, seed=3)
    assert result.mask.all()
    assert not (result.noisy == result.true).any()


def test_symmetric_spreads_uniformly_over_the_other_classes():
    result = corrupt_labels(balanced_labels(), "symmetric", 1.0, K, seed=4)
    per_class = N // K
    for c in range(K):
        counts = torch.bincount(result.noisy[result.true == c], minlength=K)
        assert counts[c] == 0
        for other in set(range(K)) - {c}:
            assert within_sigmas(counts[other].item() / per_class, 1 / (K - 1), per_class)


# The class maps as docs/reference.md writes them, independently of memtui.corruption.PAIRFLIP_MAPS.
DESIGN_PAIRFLIP = {
    "cifar10": {9: 1, 2: 0, 4: 7, 3: 5, 5: 3},  # truck->automobile, bird->airplane, deer->horse, cat<->dog
    "mnist": {2: 7, 3: 8, 5: 6, 6: 5, 7: 1},
}


@pytest.mark.parametrize("dataset", sorted(DESIGN_PAIRFLIP))
def test_pairflip_at_eta_one_follows_the_class_map_exactly(dataset):
    labels = balanced_labels(1000)
    result = corrupt_labels(labels, "pairflip", 1.0, K, seed=5, dataset=dataset)
    mapping = DESIGN_PAIRFLIP[dataset]
    expected = torch.tensor([mapping.get(int(c), int(c)) for c in labels])
    assert torch.equal(result.noisy, expected)


@pytest.mark.parametrize("dataset", sorted(DESIGN_PAIRFLIP))
def test_pairflip_flips_only_along_the_map_and_at_rate_eta_per_source_class(dataset):
    result = corrupt_labels(balanced_labels(), "pairflip", 0.3, K, seed=6, dataset=dataset)
    mapping = DESIGN_PAIRFLIP[dataset]
    flipped_true = result.true[result.mask]
    flipped_noisy = result.noisy[result.mask]
    assert all(mapping[int(t)] == int(n) for t, n in zip(flipped_true[:2000], flipped_noisy[:2000]))
    per_class = N // K
    for c in range(K):
        rate = result.mask[result.true == c].float().mean().item()
        if c in mapping:
            assert within_sigmas(rate, 0.3, per_class)
        else:
            assert rate == 0.0


def test_pairflip_without_a_class_map_for_the_data_set_is_refused():
    with pytest.raises(ValueError, match="class map"):
        corrupt_labels(balanced_labels(100), "pairflip", 0.5, K, seed=0, dataset="no-such-set")


@pytest.mark.parametrize("mode", ["random", "symmetric", "pairflip"])
def test_labels_are_deterministic_for_a_seed_and_differ_between_seeds(mode):
    labels = balanced_labels(10_000)
    first = corrupt_labels(labels, mode, 0.5, K, seed=42, dataset="mnist")
    again = corrupt_labels(labels, mode, 0.5, K, seed=42, dataset="mnist")
    other = corrupt_labels(labels, mode, 0.5, K, seed=43, dataset="mnist")
    assert torch.equal(first.noisy, again.noisy)
    assert not torch.equal(first.noisy, other.noisy)


@pytest.mark.parametrize("mode", ["random", "symmetric", "pairflip"])
def test_true_labels_and_mask_are_kept(mode):
    labels = balanced_labels(10_000).to(torch.uint8)  # data sets may hold compact labels
    original = labels.clone()
    result = corrupt_labels(labels, mode, 0.5, K, seed=7, dataset="cifar10")
    assert torch.equal(labels, original), "the caller's labels must not be modified"
    assert result.true.dtype == result.noisy.dtype == torch.int64
    assert torch.equal(result.true, original.long())
    assert result.mask.dtype == torch.bool
    assert torch.equal(result.mask, result.noisy != result.true)
    assert result.num_corrupted == int(result.mask.sum()) > 0


# --- inputs -----------------------------------------------------------------------------------

def distinct_pixel_images(n: int = 64, c: int = 1, side: int = 4, seed: int = 0) -> torch.Tensor:
    """Images whose pixels within a channel are all different, so a permutation is recoverable."""
    gen = torch.Generator().manual_seed(seed)
    pixels = side * side
    rows = [torch.randperm(256, generator=gen)[:pixels] for _ in range(n * c)]
    return torch.stack(rows).view(n, c, side, side).to(torch.uint8)


def recovered_permutation(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """perm such that after.flatten() == before.flatten()[perm] (distinct pixel values)."""
    b, a = before.flatten().long(), after.flatten().long()
    position_of = torch.empty(256, dtype=torch.long)
    position_of[b] = torch.arange(len(b))
    return position_of[a]


@pytest.mark.parametrize("mode", ["shuffled_pixels", "random_pixels", "gaussian"])
def test_input_corruption_keeps_shape_and_uint8(mode):
    images = distinct_pixel_images(c=3)
    out = corrupt_inputs(images, mode, seed=0, mean=torch.full((3,), 0.4),
                         std=torch.full((3,), 0.2))
    assert out.dtype == torch.uint8 and out.shape == images.shape


def test_input_mode_none_returns_the_images_unchanged():
    images = distinct_pixel_images()
    assert torch.equal(corrupt_inputs(images, "none", seed=0), images)


@pytest.mark.parametrize("mode", ["shuffled_pixels", "random_pixels"])
def test_pixel_permutations_keep_each_images_pixel_multiset(mode):
    images = distinct_pixel_images(c=3)
    out = corrupt_inputs(images, mode, seed=1)
    for before, after in zip(images.flatten(1), out.flatten(1)):
        assert torch.equal(before.sort().values, after.sort().values)
    assert not torch.equal(out, images)


def test_shuffled_pixels_uses_one_permutation_for_every_image_and_channel():
    images = distinct_pixel_images(c=3)
    out = corrupt_inputs(images, "shuffled_pixels", seed=2)
    perm = recovered_permutation(images[0, 0], out[0, 0])
    for i in range(len(images)):
        for ch in range(3):
            assert torch.equal(recovered_permutation(images[i, ch], out[i, ch]), perm)


def test_random_pixels_uses_a_different_permutation_per_image():
    images = distinct_pixel_images(c=3)
    out = corrupt_inputs(images, "random_pixels", seed=3)
    perms = {tuple(recovered_permutation(images[i, 0], out[i, 0]).tolist())
             for i in range(len(images))}
    assert len(perms) == len(images)
    # The channels of a pixel move together, as a pixel of a colour image would.
    for i in range(len(images)):
        first = recovered_permutation(images[i, 0], out[i, 0])
        for ch in (1, 2):
            assert torch.equal(recovered_permutation(images[i, ch], out[i, ch]), first)


def test_gaussian_inputs_match_the_given_mean_and_std_per_channel():
    images = torch.zeros(2000, 3, 8, 8, dtype=torch.uint8)
    mean, std = torch.tensor([0.3, 0.5, 0.6]), torch.tensor([0.1, 0.15, 0.05])
    out = corrupt_inputs(images, "gaussian", seed=4, mean=mean, std=std).double() / 255
    per_channel = out.transpose(0, 1).reshape(3, -1)
    torch.testing.assert_close(per_channel.mean(dim=1), mean.double(), atol=2e-3, rtol=0)
    torch.testing.assert_close(per_channel.std(dim=1), std.double(), atol=3e-3, rtol=0)


def test_gaussian_needs_mean_and_std():
    with pytest.raises(ValueError, match="mean and std"):
        corrupt_inputs(distinct_pixel_images(), "gaussian", seed=0)


@pytest.mark.parametrize("mode", ["shuffled_pixels", "random_pixels", "gaussian"])
def test_inputs_are_deterministic_for_a_seed_and_differ_between_seeds(mode):
    images = distinct_pixel_images()
    stats = {"mean": torch.tensor([0.5]), "std": torch.tensor([0.2])}
    first = corrupt_inputs(images, mode, seed=10, **stats)
    assert torch.equal(first, corrupt_inputs(images, mode, seed=10, **stats))
    assert not torch.equal(first, corrupt_inputs(images, mode, seed=11, **stats))
