"""Check that CIFAR-N's labels can be matched to the CIFAR-10 JPEG tree image by image.

CIFAR-N (CIFAR-10_human.pt) lists labels in torchvision's CIFAR10(train=True) order. The JPEG
tree (train/<class>/NNNN.jpg, as in cifar10-jpeg.zip) was written by walking that order with a
counter per class, so the k-th image of class c in torchvision's order should be
train/<c>/{k:04d}.jpg. This script tests that inferred mapping, without the original pickles:

1. deterministic: each class folder holds exactly 0000..N-1, and the per-class counts of
   clean_label equal the folders' counts;
2. statistical: a small CNN is trained on the clean (folder) labels of half the tree and scores
   the other half; where a human label is wrong, it should be far more often the model's second
   choice (its best class other than the clean one) under the inferred mapping than under
   within-class shuffles of it, which keep every class-level confusion and break only the
   image-to-label link, and than under the mapping one number off (k -> k-1 or k+1).

    python scripts/check_cifarn_order.py --data-dir ../shared/data [--epochs 4] [--train 10000]

Exit status 0 when both checks pass, 1 when the mapping fails either.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from memtui.data import DATASETS, load
from memtui.labelfile import by_class_positions, read_label_file

KEYS = ("aggre_label", "random_label1", "worse_label")


def folder_numbering(archive: Path) -> dict[str, list[int]]:
    """The numbers of the JPEGs in each train/<class>/ folder of the zip."""
    numbers: dict[str, list[int]] = {}
    pattern = re.compile(r"(?:^|/)train/([^/]+)/(\d+)\.jpg$")
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            match = pattern.search(name)
            if match:
                numbers.setdefault(match.group(1), []).append(int(match.group(2)))
    return numbers


def shift_within_class(position: np.ndarray, clean: np.ndarray, step: int) -> np.ndarray:
    """The mapping with the k-th image of each class sent to number k + step (cyclically)."""
    shifted = position.copy()
    for c in np.unique(clean):
        members = np.flatnonzero(clean == c)
        shifted[members] = np.roll(position[members], -step)
    return shifted


def small_cnn(k: int) -> nn.Module:
    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.MaxPool2d(2)]

    return nn.Sequential(*block(3, 32), *block(32, 64), *block(64, 128), nn.Flatten(),
                         nn.Linear(128 * 16, k))


def train_and_score(x: torch.Tensor, y: torch.Tensor, train_idx: torch.Tensor,
                    score_idx: torch.Tensor, epochs: int, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    model = small_cnn(int(y.max()) + 1)
    mean = x[train_idx].float().mean(dim=(0, 2, 3), keepdim=True)
    std = x[train_idx].float().std(dim=(0, 2, 3), keepdim=True)
    steps = epochs * (len(train_idx) // 128)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4,
                          nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        order = train_idx[torch.randperm(len(train_idx), generator=gen)]
        start = time.perf_counter()
        for b in range(len(order) // 128):
            idx = order[b * 128:(b + 1) * 128]
            batch = (x[idx].float() - mean) / std
            if epoch > 0:  # horizontal flips: a little augmentation for a few epochs
                flip = torch.rand(len(idx), generator=gen) < 0.5
                batch[flip] = batch[flip].flip(3)
            loss = nn.functional.cross_entropy(model(batch), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"  epoch {epoch + 1}/{epochs}: last batch loss {loss.item():.3f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    model.eval()
    with torch.no_grad():
        return torch.cat([model((x[part].float() - mean) / std)
                          for part in score_idx.split(1000)])


def second_choice_rate(noisy: np.ndarray, clean: np.ndarray, position: np.ndarray,
                       second_of_position: np.ndarray, scored: np.ndarray) -> tuple[float, int]:
    """Among wrong human labels on scored images, the fraction equal to the model's second choice
    on the image the mapping assigns them to."""
    pick = (noisy != clean) & scored[position]
    hits = noisy[pick] == second_of_position[position[pick]]
    return float(hits.mean()), int(pick.sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="folder with cifar10-jpeg.zip and cifar-n/CIFAR-10_human.pt")
    parser.add_argument("--train", type=int, default=10_000, help="JPEGs to train on")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--shuffles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    classes = DATASETS["cifar10"].classes

    print("1. deterministic checks")
    numbering = folder_numbering(args.data_dir / "cifar10-jpeg.zip")
    counts = np.array([len(numbering.get(c, [])) for c in classes])
    contiguous = all(sorted(numbering[c]) == list(range(len(numbering[c]))) for c in classes)
    label_sets = {key: read_label_file(args.data_dir / "cifar-n" / "CIFAR-10_human.pt", key)
                  for key in KEYS}
    clean = label_sets[KEYS[0]].clean
    assert clean is not None
    clean_counts = np.bincount(clean, minlength=len(classes))
    print(f"  folder counts      {counts.tolist()}")
    print(f"  clean_label counts {clean_counts.tolist()}")
    print(f"  every folder numbered 0000..count-1 without a gap: {contiguous}")
    deterministic = contiguous and counts.tolist() == clean_counts.tolist()
    if not deterministic:
        print("FAIL: the tree and clean_label cannot be matched one to one")
        return 1

    print("2. statistical check")
    started = time.perf_counter()
    split = load("cifar10", args.data_dir)
    assert split.train_y.tolist() == np.repeat(np.arange(10), counts).tolist()
    print(f"  tree loaded: {len(split.train_y):,} training JPEGs ({time.perf_counter() - started:.0f} s)")
    n = len(split.train_y)
    gen = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(n, generator=gen)
    train_idx, score_idx = order[:args.train].sort().values, order[args.train:].sort().values
    started = time.perf_counter()
    logits = train_and_score(split.train_x, split.train_y, train_idx, score_idx, args.epochs,
                             args.seed)
    accuracy = float((logits.argmax(1) == split.train_y[score_idx]).float().mean())
    print(f"  CNN trained on {len(train_idx):,} clean JPEGs for {args.epochs} epochs "
          f"({time.perf_counter() - started:.0f} s); accuracy on the other {len(score_idx):,}: "
          f"{accuracy:.3f}")
    masked = logits.clone()
    masked[torch.arange(len(score_idx)), split.train_y[score_idx]] = -float("inf")
    second = np.full(n, -1, dtype=np.int64)
    second[score_idx.numpy()] = masked.argmax(1).numpy()
    scored = np.zeros(n, dtype=bool)
    scored[score_idx.numpy()] = True
    position = by_class_positions(clean).numpy()
    rng = np.random.default_rng(args.seed)
    passed = True
    print(f"  {'label set':<14} {'wrong labels':>12} {'inferred':>9} {'k-1':>7} {'k+1':>7} "
          f"{'shuffled mean':>14} "
          f"{'sd':>6} {'max':>6} {'z':>6}")
    for key, chosen in label_sets.items():
        noisy = chosen.labels
        rate, count = second_choice_rate(noisy, clean, position, second, scored)
        shuffled_rates = []
        for _ in range(args.shuffles):
            shuffled = position.copy()
            for c in range(len(classes)):
                members = np.flatnonzero(clean == c)
                shuffled[members] = rng.permutation(position[members])
            shuffled_rates.append(second_choice_rate(noisy, clean, shuffled, second, scored)[0])
        # the near misses: every image one number off within its class (a tree numbered from 1)
        shifted = [second_choice_rate(noisy, clean, shift_within_class(position, clean, step),
                                      second, scored)[0] for step in (-1, 1)]
        mean, sd = float(np.mean(shuffled_rates)), float(np.std(shuffled_rates))
        z = (rate - mean) / sd if sd > 0 else float("inf")
        print(f"  {key:<14} {count:>12,} {rate:>9.3f} {shifted[0]:>7.3f} {shifted[1]:>7.3f} "
              f"{mean:>14.3f} {sd:>6.3f} {max(shuffled_rates):>6.3f} {z:>6.1f}")
        passed &= rate > max(shuffled_rates) and rate > max(shifted)
    print("PASS: the inferred mapping links CIFAR-N's labels to the JPEGs" if passed else
          "FAIL: the inferred mapping is no better than a within-class shuffle")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
