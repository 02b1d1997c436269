"""Rebuild memtui/demo_data/fashion_mnist_subset.npz from the original Fashion-MNIST IDX files.

Usage: python scripts/make_demo_data.py PATH/TO/FashionMNIST/raw

The subset is class-balanced and drawn with a fixed seed, so the file is reproducible.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

TRAIN_PER_CLASS = 500
TEST_PER_CLASS = 100
SEED = 20210720  # arXiv 2107.09957's month, any fixed number would do


def read_idx(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def balanced(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    picks = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)]
    return np.sort(np.concatenate(picks))


def main(raw_dir: str) -> None:
    raw = Path(raw_dir)
    rng = np.random.default_rng(SEED)
    train_x = read_idx(raw / "train-images-idx3-ubyte")
    train_y = read_idx(raw / "train-labels-idx1-ubyte")
    test_x = read_idx(raw / "t10k-images-idx3-ubyte")
    test_y = read_idx(raw / "t10k-labels-idx1-ubyte")
    tr = balanced(train_y, TRAIN_PER_CLASS, rng)
    te = balanced(test_y, TEST_PER_CLASS, rng)
    out = Path(__file__).resolve().parents[1] / "memtui" / "demo_data" / "fashion_mnist_subset.npz"
    np.savez_compressed(
        out,
        train_x=train_x[tr],
        train_y=train_y[tr],
        test_x=test_x[te],
        test_y=test_y[te],
        train_index=tr.astype(np.int32),
        test_index=te.astype(np.int32),
    )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): {len(tr)} train, {len(te)} test")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
