"""Specification of the CIFAR-100 reader (torchvision's ``cifar-100-python`` layout).

``train`` and ``test`` are pickled dicts with ``data`` (uint8 rows of 3072 values: the red, green
and blue planes of a 32x32 image), ``fine_labels`` and ``coarse_labels``; ``meta`` names the 100
classes and 20 superclasses. The reader gives the same images and labels as torchvision's
CIFAR100, and never runs code from a pickle. No real CIFAR-100 is at hand offline: the fixture is
a tiny one written exactly in that format.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from memtui.cifar100 import read_cifar100
from memtui.data import load
from memtui.errors import DataError
from memtui.specs import DATASETS

FINE = list(DATASETS["cifar100"].classes)
COARSE = list(DATASETS["cifar100-coarse"].classes)


def write_cifar100(root: Path, train: int = 12, test: int = 5, seed: int = 0) -> dict:
    """A tiny cifar-100-python folder in torchvision's format (protocol-2 pickles of dicts)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    written = {}
    for split, n in (("train", train), ("test", test)):
        fine = rng.integers(0, 100, n).tolist()
        entry = {"filenames": [f"img_{i}.png" for i in range(n)], "batch_label": f"{split} batch",
                 "fine_labels": fine, "coarse_labels": [f // 5 for f in fine],
                 "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        (folder / split).write_bytes(pickle.dumps(entry, protocol=2))
        written[split] = entry
    meta = {"fine_label_names": FINE, "coarse_label_names": COARSE}
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    return written


def test_reads_images_fine_labels_and_class_names(tmp_path):
    written = write_cifar100(tmp_path)
    data = read_cifar100(tmp_path)
    assert data.train_x.shape == (12, 3, 32, 32) and data.train_x.dtype == torch.uint8
    assert data.test_x.shape == (5, 3, 32, 32)
    assert data.train_y.tolist() == written["train"]["fine_labels"]
    assert data.test_y.tolist() == written["test"]["fine_labels"]
    assert data.classes == tuple(FINE)
    # the first row's first 1024 values are the red plane of image 0, row by row
    assert data.train_x[0, 0].flatten().tolist() == written["train"]["data"][0, :1024].tolist()
    assert data.train_x[0, 2, 31, 31] == written["train"]["data"][0, 3071]


def test_coarse_labels_are_an_option(tmp_path):
    written = write_cifar100(tmp_path)
    data = read_cifar100(tmp_path, coarse=True)
    assert data.train_y.tolist() == written["train"]["coarse_labels"]
    assert data.classes == tuple(COARSE)


def test_the_fixture_is_what_torchvision_reads_and_so_is_the_reader(tmp_path, monkeypatch):
    datasets = pytest.importorskip("torchvision.datasets")
    write_cifar100(tmp_path)
    # the fixture's files cannot carry the real checksums; everything else is torchvision's code
    monkeypatch.setattr(datasets.CIFAR100, "_check_integrity", lambda self: True)
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *a, **k: True)
    ours = read_cifar100(tmp_path)
    for train, x, y in ((True, ours.train_x, ours.train_y), (False, ours.test_x, ours.test_y)):
        theirs = datasets.CIFAR100(str(tmp_path), train=train, download=False)
        assert torch.equal(torch.from_numpy(theirs.data).permute(0, 3, 1, 2), x)
        assert theirs.targets == y.tolist()
        assert tuple(theirs.classes) == ours.classes


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_pickle_that_carries_code_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_cifar100(tmp_path)
    (tmp_path / "cifar-100-python" / "meta").write_bytes(pickle.dumps({"x": _RunsCode()}))
    with pytest.raises(DataError, match=r"meta is not a CIFAR-100 pickle: it names "
                                        r"(posix|os)\.system"):
        read_cifar100(tmp_path)
    assert not (tmp_path / "pwned").exists()


def test_a_missing_folder_names_the_layout(tmp_path):
    with pytest.raises(DataError, match=r"CIFAR-100 not found: expected cifar-100-python/ .* "
                                        r"--data-dir"):
        read_cifar100(tmp_path)


def test_a_truncated_pickle_is_damaged(tmp_path):
    write_cifar100(tmp_path)
    path = tmp_path / "cifar-100-python" / "train"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="train is damaged"):
        read_cifar100(tmp_path)


def test_labels_and_images_that_differ_in_number_are_damaged(tmp_path):
    written = write_cifar100(tmp_path)
    entry = dict(written["test"], fine_labels=written["test"]["fine_labels"][:-1])
    (tmp_path / "cifar-100-python" / "test").write_bytes(pickle.dumps(entry, protocol=2))
    with pytest.raises(DataError, match="test is damaged: fine_labels"):
        read_cifar100(tmp_path)


def test_cifar100_and_its_superclasses_are_data_sets(tmp_path):
    written = write_cifar100(tmp_path)
    fine = load("cifar100", tmp_path)
    coarse = load("cifar100-coarse", tmp_path)
    assert fine.info.num_classes == 100 and coarse.info.num_classes == 20
    assert fine.train_y.tolist() == written["train"]["fine_labels"]
    assert coarse.train_y.tolist() == written["train"]["coarse_labels"]
    assert torch.equal(fine.train_x, coarse.train_x)


def test_a_meta_file_with_other_class_names_is_refused(tmp_path):
    write_cifar100(tmp_path)
    meta = {"fine_label_names": [f"c{i}" for i in range(100)], "coarse_label_names": COARSE}
    (tmp_path / "cifar-100-python" / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    with pytest.raises(DataError, match="names other classes than CIFAR-100's"):
        load("cifar100", tmp_path)


def test_cifar100_missing_offline_names_the_layout_and_data_dir(tmp_path):
    with pytest.raises(DataError, match=r"cifar-100-python/ .* --data-dir"):
        load("cifar100", tmp_path)
