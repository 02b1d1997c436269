"""Data sources -> whole data sets as uint8 tensors [N, C, H, W] plus int64 labels.

The engine moves each set to the device once and gathers batches there, so nothing here is on the
hot path. Readers follow torchvision's layouts: ``MNIST/raw`` and ``FashionMNIST/raw`` (IDX files),
``cifar-10-batches-py`` (pickles) and, for CIFAR-10, an ImageFolder tree (``train/<class>/*.jpg``,
``test/<class>/*.jpg``), which may also sit in a ``cifar10-jpeg.zip`` beside the others. Decoding a
JPEG tree takes seconds, so the decoded tensors are cached (see ``cache_dir``).
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from memtui.atomic import atomic_write
from memtui.errors import DataError


@dataclass(frozen=True)
class DatasetInfo:
    title: str
    classes: tuple[str, ...]
    shape: tuple[int, int, int]  # C, H, W

    @property
    def num_classes(self) -> int:
        return len(self.classes)


_FASHION = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
            "ankle boot")
DATASETS: dict[str, DatasetInfo] = {
    "demo": DatasetInfo("Fashion-MNIST subset (embedded)", _FASHION, (1, 28, 28)),
    "mnist": DatasetInfo("MNIST", tuple(str(d) for d in range(10)), (1, 28, 28)),
    "fashion-mnist": DatasetInfo("Fashion-MNIST", _FASHION, (1, 28, 28)),
    "cifar10": DatasetInfo(
        "CIFAR-10",
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        (3, 32, 32),
    ),
}


@dataclass(frozen=True)
class DataSplit:
    name: str
    train_x: torch.Tensor  # uint8 [N, C, H, W]
    train_y: torch.Tensor  # int64 [N]
    test_x: torch.Tensor
    test_y: torch.Tensor

    @property
    def info(self) -> DatasetInfo:
        return DATASETS[self.name]


def cache_dir() -> Path:
    """Where downloads and decoded tensors go: $MEMTUI_CACHE, else $XDG_CACHE_HOME/memtui."""
    if os.environ.get("MEMTUI_CACHE"):
        return Path(os.environ["MEMTUI_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "memtui"


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of uint8 images on the 0..1 scale, without a float copy of all."""
    c = images.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for chunk in images.split(8192):
        pixels = chunk.to(torch.float64).transpose(0, 1).reshape(c, -1) / 255.0
        total += pixels.sum(dim=1)
        total_sq += (pixels**2).sum(dim=1)
    count = images.numel() // c
    mean = total / count
    std = (total_sq / count - mean**2).clamp(min=1e-12).sqrt()
    return mean.float(), std.float()


def load(name: str, data_dir: Path | None = None) -> DataSplit:
    if name == "demo":
        return _load_demo()
    if name in ("mnist", "fashion-mnist"):
        return _load_mnist_like(name, data_dir)
    if name == "cifar10":
        return _load_cifar10(data_dir)
    raise DataError(f"unknown data set {name!r}; valid: {', '.join(DATASETS)}")


def take_subset(split: DataSplit, train: int | None, test: int | None, seed: int) -> DataSplit:
    """A fixed random subset of the training and/or test set (the same for every loss)."""
    gen = torch.Generator().manual_seed(seed)

    def pick(x: torch.Tensor, y: torch.Tensor, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        if n is None or n >= len(y):
            return x, y
        keep = torch.randperm(len(y), generator=gen)[:n].sort().values
        return x[keep], y[keep]

    train_x, train_y = pick(split.train_x, split.train_y, train)
    test_x, test_y = pick(split.test_x, split.test_y, test)
    return DataSplit(split.name, train_x, train_y, test_x, test_y)


HOLDOUT_SEED = 42  # the random_state of the paper's train_test_split


def hold_out(split: DataSplit, fraction: float, seed: int = HOLDOUT_SEED) -> DataSplit:
    """The training set without a held-out fraction of it, as the paper's
    ``train_test_split(test_size=fraction, random_state=42)``: the held-out part is never trained
    on and not evaluated. The split is a fixed permutation (torch, seed 42), the same for every run
    seed; it is not sklearn's permutation, so the held-out images differ from the paper's, but their
    number, ceil(fraction * N) as sklearn's, is the same. The test set is untouched."""
    if fraction <= 0.0:
        return split
    n = len(split.train_y)
    held = math.ceil(fraction * n)
    if held >= n:
        raise DataError(f"data.holdout = {fraction:g} would hold out all {n} training images")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    keep = order[held:].sort().values
    return DataSplit(split.name, split.train_x[keep], split.train_y[keep], split.test_x,
                     split.test_y)


def _load_demo() -> DataSplit:
    with resources.files("memtui.demo_data").joinpath("fashion_mnist_subset.npz").open("rb") as fh:
        arrays = np.load(fh)
        parts = {k: torch.from_numpy(arrays[k].copy()) for k in ("train_x", "train_y", "test_x", "test_y")}
    return DataSplit(
        "demo",
        parts["train_x"][:, None],
        parts["train_y"].long(),
        parts["test_x"][:, None],
        parts["test_y"].long(),
    )


def _default_root() -> Path:
    return cache_dir() / "data"


def _offline_hint(name: str, root: Path, layout: str) -> str:
    return (
        f"{DATASETS[name].title} not found: expected {layout} under {root}. "
        f"Point --data-dir at the folder that holds it (data.data_dir in a preset)"
    )


def _load_mnist_like(name: str, data_dir: Path | None) -> DataSplit:
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    folder = "MNIST" if name == "mnist" else "FashionMNIST"
    layout = f"{folder}/raw/ with train-images-idx3-ubyte and the other three IDX files"
    root = data_dir or _default_root()
    download = data_dir is None
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except Exception as exc:  # torchvision raises RuntimeError offline and URLError on failed downloads
        reason = "" if data_dir else f" (download failed: {type(exc).__name__})"
        raise DataError(_offline_hint(name, Path(root), layout) + reason) from None
    return DataSplit(name, train.data[:, None].contiguous(), train.targets.long(),
                     test.data[:, None].contiguous(), test.targets.long())


CIFAR_LAYOUT = ("cifar-10-batches-py/, or an ImageFolder tree train/<class>/*.jpg and "
                "test/<class>/*.jpg (also inside cifar10/ or cifar10-jpeg.zip)")


def _load_cifar10(data_dir: Path | None) -> DataSplit:
    root = Path(data_dir) if data_dir else _default_root()
    if (root / "cifar-10-batches-py").is_dir() or data_dir is None:
        return _load_cifar10_pickles(root, download=data_dir is None)
    for candidate in (root, root / "cifar10", root / "cifar10-jpeg"):
        if (candidate / "train").is_dir() and (candidate / "test").is_dir():
            return _cached(candidate, lambda folder=candidate: _read_cifar10_folders(folder))
    archive = root / "cifar10-jpeg.zip"
    if archive.is_file():
        return _cached(archive, lambda: _read_cifar10_folders(_unzip_once(archive)))
    raise DataError(_offline_hint("cifar10", root, CIFAR_LAYOUT))


def _load_cifar10_pickles(root: Path, download: bool) -> DataSplit:
    from torchvision import datasets

    try:
        train = datasets.CIFAR10(str(root), train=True, download=download)
        test = datasets.CIFAR10(str(root), train=False, download=download)
    except Exception as exc:
        reason = f" (download failed: {type(exc).__name__})" if download else ""
        raise DataError(_offline_hint("cifar10", root, CIFAR_LAYOUT) + reason) from None

    def nchw(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()

    return DataSplit("cifar10", nchw(train.data), torch.tensor(train.targets),
                     nchw(test.data), torch.tensor(test.targets))


def _cache_key(source: Path) -> str:
    stat = source.stat()
    text = f"{source.resolve()}|{stat.st_mtime_ns}|{stat.st_size}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _cached(source: Path, build) -> DataSplit:
    path = cache_dir() / f"cifar10-{_cache_key(source)}.pt"
    if path.is_file():
        try:
            parts = torch.load(path, weights_only=True)
            return DataSplit("cifar10", **parts)
        except Exception:  # a cache written by an interrupted run: rebuild it
            pass
    split = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as fh:
            torch.save({k: getattr(split, k) for k in ("train_x", "train_y", "test_x", "test_y")},
                       fh)
    except OSError:
        pass  # a read-only cache only costs the decoding time next run
    return split


def _unzip_once(archive: Path) -> Path:
    target = cache_dir() / f"cifar10-jpeg-{_cache_key(archive)}"
    if not (target / ".complete").exists():
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target)
        (target / ".complete").touch()
    for candidate in [target, *sorted(p for p in target.iterdir() if p.is_dir())]:
        if (candidate / "train").is_dir():
            return candidate
    raise DataError(f"{archive} holds no train/<class>/ tree; expected {CIFAR_LAYOUT}")


def _read_cifar10_folders(root: Path) -> DataSplit:
    from torchvision.datasets import ImageFolder
    from torchvision.io import ImageReadMode, decode_image, read_file

    def read(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        folder = ImageFolder(str(root / split))
        if tuple(folder.classes) != DATASETS["cifar10"].classes:
            raise DataError(
                f"{root / split} has classes {', '.join(folder.classes)}; expected the CIFAR-10 "
                f"classes {', '.join(DATASETS['cifar10'].classes)}"
            )
        images = torch.empty((len(folder.samples), 3, 32, 32), dtype=torch.uint8)
        for i, (path, _) in enumerate(folder.samples):
            images[i] = decode_image(read_file(path), mode=ImageReadMode.RGB)
        return images, torch.tensor(folder.targets)

    # torchvision 0.29 deprecates its JPEG decoder in favour of TorchCodec; it still decodes
    # correctly, and a warning per image would bury the run's own output.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision")
        train_x, train_y = read("train")
        test_x, test_y = read("test")
    return DataSplit("cifar10", train_x, train_y, test_x, test_y)
