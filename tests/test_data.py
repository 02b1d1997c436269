"""Specification of the data sources.

``load(name, data_dir)`` returns whole data sets as uint8 tensors [N, C, H, W] with int64 labels.
The embedded ``demo`` set needs nothing on disk; MNIST and Fashion-MNIST read torchvision's raw
layout; CIFAR-10 also reads an ImageFolder tree (``train/<class>/*.jpg``, ``test/<class>/*.jpg``),
plain or zipped. Offline, a missing set is a DataError naming the expected layout and --data-dir.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from memtui import download
from memtui.data import DATASETS, DataSplit, channel_stats, hold_out, load, take_subset
from memtui.errors import DataError

from helpers import SHARED_DATA

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck")

needs_shared_data = pytest.mark.skipif(
    not (SHARED_DATA / "MNIST").is_dir() or not (SHARED_DATA / "FashionMNIST").is_dir(),
    reason=f"real MNIST/Fashion-MNIST not found under {SHARED_DATA}",
)


def assert_split(split: DataSplit, train: int, test: int, shape: tuple[int, int, int]) -> None:
    assert split.train_x.shape == (train, *shape) and split.test_x.shape == (test, *shape)
    assert split.train_x.dtype == split.test_x.dtype == torch.uint8
    assert split.train_y.shape == (train,) and split.test_y.shape == (test,)
    assert split.train_y.dtype == split.test_y.dtype == torch.int64
    k = split.info.num_classes
    assert int(split.train_y.min()) >= 0 and int(split.train_y.max()) < k


def test_demo_is_embedded_5000_train_1000_test_fashion_mnist_images():
    split = load("demo")
    assert_split(split, 5000, 1000, (1, 28, 28))
    assert split.info.classes == DATASETS["fashion-mnist"].classes


def test_demo_classes_are_balanced():
    split = load("demo")
    assert torch.bincount(split.train_y, minlength=10).tolist() == [500] * 10
    assert torch.bincount(split.test_y, minlength=10).tolist() == [100] * 10


def test_demo_images_are_real_pictures_not_blank():
    split = load("demo")
    mean, std = channel_stats(split.train_x)
    # Fashion-MNIST's published statistics: mean 0.286, std 0.353.
    assert 0.2 < mean.item() < 0.4 and 0.25 < std.item() < 0.45


@needs_shared_data
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_mnist_like_sets_read_torchvisions_raw_layout_offline(name):
    split = load(name, SHARED_DATA)
    assert_split(split, 60000, 10000, (1, 28, 28))
    assert sorted(torch.unique(split.train_y).tolist()) == list(range(10))


def write_cifar_tree(root: Path, per_class: int = 2, classes=CIFAR_CLASSES) -> dict[str, torch.Tensor]:
    """A tiny CIFAR-10 ImageFolder tree of real JPEG files; each image one flat colour."""
    colours = {}
    for split in ("train", "test"):
        for c, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                colour = torch.tensor([20 * c + 10, 200 - 15 * c, 40 + 50 * i], dtype=torch.uint8)
                image = colour.view(3, 1, 1).expand(3, 32, 32).contiguous()
                Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:04d}.jpg",
                                                                     quality=95)
                colours[f"{split}/{name}/{i}"] = colour
    return colours


def assert_cifar_tree_read(split: DataSplit, colours: dict[str, torch.Tensor]) -> None:
    assert split.name == "cifar10"
    assert_split(split, 20, 20, (3, 32, 32))
    assert torch.bincount(split.train_y, minlength=10).tolist() == [2] * 10
    # ImageFolder order: classes alphabetically (CIFAR-10's own order), files sorted.
    for index in range(20):
        c, i = divmod(index, 2)
        assert int(split.train_y[index]) == c
        expected = colours[f"train/{CIFAR_CLASSES[c]}/{i}"].int()
        observed = split.train_x[index].int().flatten(1).float().mean(dim=1).round().int()
        assert (observed - expected).abs().max() <= 3, "JPEG is lossy, but not by this much"


def test_cifar10_reads_an_imagefolder_tree(tmp_path):
    colours = write_cifar_tree(tmp_path / "data")
    assert_cifar_tree_read(load("cifar10", tmp_path / "data"), colours)


def test_cifar10_finds_the_tree_in_a_cifar10_subfolder(tmp_path):
    colours = write_cifar_tree(tmp_path / "data" / "cifar10")
    assert_cifar_tree_read(load("cifar10", tmp_path / "data"), colours)


def test_cifar10_reads_a_zipped_tree_beside_the_other_data_sets(tmp_path):
    colours = write_cifar_tree(tmp_path / "tree" / "cifar10-jpeg")
    (tmp_path / "data").mkdir()
    with zipfile.ZipFile(tmp_path / "data" / "cifar10-jpeg.zip", "w") as zf:
        for path in sorted((tmp_path / "tree").rglob("*.jpg")):
            zf.write(path, path.relative_to(tmp_path / "tree"))
    assert_cifar_tree_read(load("cifar10", tmp_path / "data"), colours)


def test_cifar10_decoded_tree_is_cached_and_reused(tmp_path):
    colours = write_cifar_tree(tmp_path / "data")
    first = load("cifar10", tmp_path / "data")
    for jpeg in (tmp_path / "data").rglob("*.jpg"):
        jpeg.write_bytes(b"no longer a JPEG")  # only the cache can still answer
    assert torch.equal(load("cifar10", tmp_path / "data").train_x, first.train_x)
    assert_cifar_tree_read(first, colours)


def test_cifar10_tree_with_other_class_names_is_refused(tmp_path):
    write_cifar_tree(tmp_path / "data", per_class=1, classes=tuple(f"c{i}" for i in range(10)))
    with pytest.raises(DataError, match="expected the CIFAR-10 classes"):
        load("cifar10", tmp_path / "data")


def cifar_batch(labels: list[int]) -> dict:
    """A batch as CIFAR-10 publishes it: channel-major rows; image k is filled with k."""
    data = np.stack([np.full(3072, k, dtype=np.uint8) for k in range(len(labels))])
    return {"batch_label": "fixture", "labels": labels, "data": data, "filenames": []}


def write_cifar_pickles(root: Path) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with (folder / name).open("wb") as fh:
            pickle.dump(cifar_batch([0, 3, 9]), fh, protocol=2)


def test_cifar10_reads_the_published_pickles_without_torchvision(tmp_path):
    write_cifar_pickles(tmp_path)
    split = load("cifar10", tmp_path)
    assert_split(split, 15, 3, (3, 32, 32))
    assert split.train_y.tolist() == [0, 3, 9] * 5
    assert int(split.train_x[1].min()) == int(split.train_x[1].max()) == 1


def test_a_damaged_cifar10_pickle_names_the_file(tmp_path):
    write_cifar_pickles(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_3 is damaged"):
        load("cifar10", tmp_path)


def serve_as_mirror(monkeypatch, tmp_path: Path, name: str, files: dict[str, bytes]) -> Path:
    """A file:// mirror holding ``files``, with checksums that match them."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for file_name, blob in files.items():
        (mirror / file_name).write_bytes(blob)
    source = download.Source((mirror.as_uri() + "/",),
                             {f: hashlib.md5(b).hexdigest() for f, b in files.items()})
    monkeypatch.setitem(download.SOURCES, name, source)
    monkeypatch.setenv("MEMTUI_CACHE", str(tmp_path / "cache"))
    return mirror


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_mnist_without_data_dir_is_downloaded_into_the_cache_and_checked(monkeypatch, tmp_path):
    images, labels = np.zeros((4, 28, 28)), np.array([1, 2, 3, 4])
    files = {"train-images-idx3-ubyte.gz": idx_bytes(images),
             "train-labels-idx1-ubyte.gz": idx_bytes(labels),
             "t10k-images-idx3-ubyte.gz": idx_bytes(images[:2]),
             "t10k-labels-idx1-ubyte.gz": idx_bytes(labels[:2])}
    serve_as_mirror(monkeypatch, tmp_path, "mnist", files)
    split = load("mnist")
    assert split.train_y.tolist() == [1, 2, 3, 4] and split.test_y.tolist() == [1, 2]
    assert (tmp_path / "cache" / "data" / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()


def test_a_download_with_the_wrong_checksum_is_refused_and_not_kept(monkeypatch, tmp_path):
    mirror = serve_as_mirror(monkeypatch, tmp_path, "cifar10", {"cifar-10-python.tar.gz": b"x"})
    (mirror / "cifar-10-python.tar.gz").write_bytes(b"tampered")
    with pytest.raises(DataError, match="checksum mismatch"):
        load("cifar10")
    assert not list((tmp_path / "cache").rglob("cifar-10-python.tar.gz*"))


def test_cifar10_without_data_dir_is_downloaded_and_unpacked(monkeypatch, tmp_path):
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            blob = pickle.dumps(cifar_batch([5, 6]), protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    serve_as_mirror(monkeypatch, tmp_path, "cifar10", {"cifar-10-python.tar.gz": archive.getvalue()})
    split = load("cifar10")
    assert split.train_y.tolist() == [5, 6] * 5 and split.test_y.tolist() == [5, 6]


@pytest.mark.parametrize("name, layout", [
    ("mnist", "MNIST/raw/"),
    ("fashion-mnist", "FashionMNIST/raw/"),
    ("cifar10", "cifar-10-batches-py/"),
    ("cifar10", "train/<class>/"),
])
def test_missing_data_offline_names_the_layout_the_folder_and_data_dir(name, layout, tmp_path):
    with pytest.raises(DataError) as caught:
        load(name, tmp_path)
    message = str(caught.value)
    assert layout in message and str(tmp_path) in message and "--data-dir" in message


def test_take_subset_is_a_fixed_random_subset_for_a_seed():
    split = load("demo")
    first = take_subset(split, 300, 50, seed=1)
    assert len(first.train_y) == 300 and len(first.test_y) == 50
    again = take_subset(split, 300, 50, seed=1)
    other = take_subset(split, 300, 50, seed=2)
    assert torch.equal(first.train_x, again.train_x) and torch.equal(first.train_y, again.train_y)
    assert torch.equal(first.test_x, again.test_x)
    assert not torch.equal(first.train_x, other.train_x)


def test_take_subset_keeps_image_label_pairs_and_takes_each_image_once():
    split = load("demo")
    sub = take_subset(split, 500, None, seed=3)
    flat = split.train_x.flatten(1)
    for image, label in zip(sub.train_x[:20], sub.train_y[:20]):
        matches = (flat == image.flatten()).all(dim=1).nonzero().flatten()
        assert len(matches) >= 1
        assert label in split.train_y[matches]
    assert len({tuple(row.tolist()) for row in sub.train_x.flatten(1)[:, ::7]}) == 500
    assert torch.equal(sub.test_x, split.test_x), "test set untouched without test_subset"


def test_take_subset_of_the_whole_set_keeps_it_whole():
    split = load("demo")
    sub = take_subset(split, len(split.train_y), len(split.test_y), seed=0)
    assert torch.equal(sub.train_x, split.train_x) and torch.equal(sub.test_y, split.test_y)


@pytest.mark.parametrize("train, test, named", [(5001, None, "data.subset (--subset): 5,001 images "
                                                 "asked, but demo has 5,000 training images"),
                                                (None, 1001, "data.test_subset: 1,001 images asked, "
                                                 "but demo has 1,000 test images")])
def test_take_subset_larger_than_the_set_is_refused_with_its_size(train, test, named):
    with pytest.raises(DataError, match=re.escape(named)):
        take_subset(load("demo"), train, test, seed=0)


def test_hold_out_removes_a_fixed_fraction_of_the_training_set_and_keeps_the_test_set():
    split = load("demo")  # 5,000 training images
    kept = hold_out(split, 0.2)
    assert len(kept.train_y) == 4000  # as train_test_split(test_size=0.2): ceil(0.2 * 5000) out
    assert torch.equal(kept.test_x, split.test_x) and torch.equal(kept.test_y, split.test_y)
    again = hold_out(split, 0.2)
    assert torch.equal(kept.train_x, again.train_x) and torch.equal(kept.train_y, again.train_y)
    flat = split.train_x.flatten(1)
    for image, label in zip(kept.train_x[:10], kept.train_y[:10]):
        matches = (flat == image.flatten()).all(dim=1).nonzero().flatten()
        assert label in split.train_y[matches]
    assert hold_out(split, 0.0) is split
    assert len(hold_out(split, 0.3).train_y) == 3500


def test_hold_out_of_everything_is_a_data_error():
    split = load("demo")
    with pytest.raises(DataError, match="data.holdout"):
        hold_out(split, 0.99999)


def test_channel_stats_match_a_float_computation():
    images = torch.randint(0, 256, (300, 3, 8, 8), dtype=torch.uint8)
    mean, std = channel_stats(images)
    as_float = images.double().div(255).transpose(0, 1).reshape(3, -1)
    torch.testing.assert_close(mean, as_float.mean(dim=1).float())
    torch.testing.assert_close(std, as_float.std(dim=1, unbiased=False).float(), atol=1e-5, rtol=1e-4)
