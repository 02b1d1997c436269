"""Data sources -> whole data sets as uint8 tensors [N, C, H, W] plus int64 labels.

The engine moves each set to the device once and gathers batches there, so nothing here is on the
hot path. Readers follow torchvision's layouts: ``MNIST/raw`` and ``FashionMNIST/raw`` (IDX files),
``cifar-10-batches-py`` (pickles) and, for CIFAR-10, an ImageFolder tree (``train/<class>/*.jpg``,
``test/<class>/*.jpg``), which may also sit in a ``cifar10-jpeg.zip`` beside the others. Decoding a
JPEG tree takes seconds, so the decoded tensors are cached (see ``cache_dir``). Also
``cifar-100-python`` (memtui/cifar100.py) and any image folder (memtui/imagefolder.py), whose
classes come with it.

Nothing here needs torchvision: the pickles are read with ``pickle`` and numpy, the JPEGs with
Pillow, and downloads (memtui/download.py) with urllib. PyPI's torchvision pins torch's CUDA build,
which would take a CPU user's install from under 1 GB to over 5 GB.
"""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from memtui import download
from memtui.atomic import atomic_write
from memtui.cifar100 import FOLDER as CIFAR100_FOLDER
from memtui.cifar100 import LAYOUT as CIFAR100_LAYOUT
from memtui.cifar100 import read_cifar100
from memtui.errors import DataError
from memtui.imagefolder import fingerprint, read_image_folder
from memtui.specs import DATASETS, Dataset  # names, classes, shapes: LOADERS binds each to a reader


@dataclass(frozen=True)
class DataSplit:
    name: str
    train_x: torch.Tensor  # uint8 [N, C, H, W]
    train_y: torch.Tensor  # int64 [N]
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...] = ()  # a data set whose classes come with it (an image folder)
    by_class: bool = False  # read class by class from a tree: not the data set's canonical order
    given_y: torch.Tensor | None = None  # int64 [N], training labels from a label file
    #: int64 [N]: each training image's position in the data set's full training split, once a
    #: hold-out or subset has dropped some (None: all of them, in order)
    train_index: torch.Tensor | None = None

    @property
    def info(self) -> Dataset:
        spec = DATASETS[self.name]
        if not self.classes:
            return spec
        shape = (int(self.train_x.shape[1]), int(self.train_x.shape[2]), int(self.train_x.shape[3]))
        return replace(spec, classes=self.classes, shape=shape)

    def keep_train(self, keep: torch.Tensor) -> DataSplit:
        """The split with only the training images at ``keep`` (labels from a file follow)."""
        given = None if self.given_y is None else self.given_y[keep]
        return replace(self, train_x=self.train_x[keep], train_y=self.train_y[keep], given_y=given,
                       train_index=self.positions()[keep])

    def positions(self) -> torch.Tensor:
        """``train_index``, or every position when nothing was dropped."""
        if self.train_index is not None:
            return self.train_index
        return torch.arange(len(self.train_y), dtype=torch.int64)


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
    if name not in LOADERS:
        raise DataError(f"unknown data set {name!r}; valid: {', '.join(DATASETS)}")
    return LOADERS[name](data_dir)


def take_subset(split: DataSplit, train: int | None, test: int | None, seed: int) -> DataSplit:
    """A fixed random subset of the training and/or test set (the same for every loss). A
    subset larger than its set is refused: the run would train on less than its config says."""
    gen = torch.Generator().manual_seed(seed)
    for field, flag, n, have, part in (("subset", "--subset", train, len(split.train_y), "training"),
                                       ("test_subset", None, test, len(split.test_y), "test")):
        if n is not None and n > have:
            raise DataError(f"data.{field}{f' ({flag})' if flag else ''}: {n:,} images asked, "
                            f"but {split.name} has {have:,} {part} images; give at most {have:,}")

    def pick(size: int, n: int | None) -> torch.Tensor | None:
        if n is None or n >= size:
            return None
        return torch.randperm(size, generator=gen)[:n].sort().values

    keep_train = pick(len(split.train_y), train)
    keep_test = pick(len(split.test_y), test)
    if keep_train is not None:
        split = split.keep_train(keep_train)
    if keep_test is not None:
        split = replace(split, test_x=split.test_x[keep_test], test_y=split.test_y[keep_test])
    return split


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
    return split.keep_train(order[held:].sort().values)


def _load_demo(data_dir: Path | None = None) -> DataSplit:
    """The embedded subset, shipped in the wheel: ``data_dir`` is not read."""
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


IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _load_mnist_like(name: str, data_dir: Path | None) -> DataSplit:
    folder = "MNIST" if name == "mnist" else "FashionMNIST"
    layout = f"{folder}/raw/ with train-images-idx3-ubyte and the other three IDX files"
    root = Path(data_dir or _default_root())
    raw = root / folder / "raw"
    files = [raw / f for pair in IDX_FILES.values() for f in pair]
    if not all(f.is_file() for f in files):
        if data_dir is not None:
            raise DataError(_offline_hint(name, root, layout))
        try:
            download.fetch_idx(name, raw)
        except download.DownloadFailed as exc:
            raise DataError(_offline_hint(name, root, layout) + f" (download failed: {exc})") from None
    parts = {}
    for split, (images_file, labels_file) in IDX_FILES.items():
        images = read_idx(raw / images_file, ndim=3)
        labels = read_idx(raw / labels_file, ndim=1)
        if images.shape[1:] != (28, 28):
            raise DataError(f"{raw / images_file} is damaged: images of {images.shape[1]}x"
                            f"{images.shape[2]} pixels, expected 28x28")
        if len(labels) != len(images):
            raise DataError(f"{raw / labels_file} is damaged: {len(labels):,} labels for "
                            f"{len(images):,} images in {images_file}")
        if len(labels) and int(labels.max()) >= len(DATASETS[name].classes):
            raise DataError(f"{raw / labels_file} is damaged: label {int(labels.max())} is not one "
                            f"of the {len(DATASETS[name].classes)} classes")
        if not len(labels):
            raise DataError(f"{raw / labels_file} is damaged: it holds no labels")
        parts[split] = (torch.from_numpy(images.copy())[:, None].contiguous(),
                        torch.from_numpy(labels.astype(np.int64)))
    return DataSplit(name, parts["train"][0], parts["train"][1], parts["test"][0], parts["test"][1])


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An uncompressed IDX file of unsigned bytes (the MNIST format), checked against its own
    header: magic number, dimensions and size. DataError "damaged" for anything else."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path} cannot be read ({exc.strerror or exc})") from None
    header = 4 + 4 * ndim
    if len(blob) < header or blob[:4] != bytes([0, 0, 0x08, ndim]):
        raise DataError(f"{path} is damaged: not an IDX file of {ndim}-dimensional unsigned bytes")
    dims = tuple(int.from_bytes(blob[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(blob) != expected:
        raise DataError(f"{path} is damaged: {len(blob):,} bytes, its header says {expected:,} "
                        "(a truncated download?)")
    return np.frombuffer(blob, dtype=np.uint8, offset=header).reshape(dims)


CIFAR_LAYOUT = ("cifar-10-batches-py/, or an ImageFolder tree train/<class>/*.jpg and "
                "test/<class>/*.jpg (also inside cifar10/ or cifar10-jpeg.zip)")


def _load_cifar10(data_dir: Path | None) -> DataSplit:
    root = Path(data_dir) if data_dir else _default_root()
    if (root / "cifar-10-batches-py").is_dir() or data_dir is None:
        return _load_cifar10_pickles(root, download_missing=data_dir is None)
    for candidate in (root, root / "cifar10", root / "cifar10-jpeg"):
        if (candidate / "train").is_dir() and (candidate / "test").is_dir():
            return _cached(candidate, partial(_read_cifar10_folders, candidate))
    archive = root / "cifar10-jpeg.zip"
    if archive.is_file():
        return _cached(archive, lambda: _read_cifar10_folders(_unzip_once(archive)))
    raise DataError(_offline_hint("cifar10", root, CIFAR_LAYOUT))


CIFAR_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def _load_cifar10_pickles(root: Path, download_missing: bool) -> DataSplit:
    """The python version of CIFAR-10 as published (and as torchvision unpacks it): pickled dicts
    of ``data`` (uint8 [N, 3072], channel-major rows) and ``labels``."""
    folder = root / "cifar-10-batches-py"
    files = [folder / f for names in CIFAR_BATCHES.values() for f in names]
    if not all(f.is_file() for f in files):
        if not download_missing:
            raise DataError(_offline_hint("cifar10", root, CIFAR_LAYOUT))
        try:
            download.fetch_cifar10(root)
        except download.DownloadFailed as exc:
            raise DataError(_offline_hint("cifar10", root, CIFAR_LAYOUT)
                            + f" (download failed: {exc})") from None
    parts = {}
    for split, names in CIFAR_BATCHES.items():
        images, labels = [], []
        for name in names:
            data, targets = _read_cifar_batch(folder / name)
            images.append(data)
            labels.extend(targets)
        parts[split] = (torch.from_numpy(np.concatenate(images).reshape(-1, 3, 32, 32).copy()),
                        torch.tensor(labels, dtype=torch.int64))
    return DataSplit("cifar10", parts["train"][0], parts["train"][1], parts["test"][0],
                     parts["test"][1])


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, list[int]]:
    try:
        with path.open("rb") as fh:
            # The batches are Python 2 pickles of bytes; latin1 maps them 1:1 as the publishers
            # document.
            entry = pickle.load(fh, encoding="latin1")
        data = np.asarray(entry["data"], dtype=np.uint8)
        labels = [int(label) for label in entry["labels"]]
    except Exception as exc:  # unpickling garbage raises almost anything
        raise DataError(f"{path} is damaged: it cannot be unpickled as a CIFAR-10 batch "
                        f"({type(exc).__name__})") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise DataError(f"{path} is damaged: {len(labels):,} labels for images of shape "
                        f"{tuple(data.shape)}, expected [N, 3072] with N labels")
    if labels and not 0 <= min(labels) <= max(labels) < 10:
        raise DataError(f"{path} is damaged: a label outside the 10 CIFAR-10 classes")
    return data, labels


def _cache_key(source: Path) -> str:
    stat = source.stat()
    text = f"{source.resolve()}|{stat.st_mtime_ns}|{stat.st_size}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _cached(source: Path, build: Callable[[], DataSplit], name: str = "cifar10",
            key: str | None = None) -> DataSplit:
    """A tree's decoded tensors from the cache, else ``build()`` and cache them. Trees are read
    class by class (``by_class``)."""
    path = cache_dir() / f"{name}-{key or _cache_key(source)}.pt"
    if path.is_file():
        try:
            parts = torch.load(path, weights_only=True)
            classes = tuple(parts.pop("classes", ()))
            return DataSplit(name, **parts, classes=classes, by_class=True)
        except Exception:  # a cache written by an interrupted run: rebuild it
            pass
    split = replace(build(), by_class=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as fh:
            parts = {k: getattr(split, k) for k in ("train_x", "train_y", "test_x", "test_y")}
            torch.save({**parts, "classes": list(split.classes)} if split.classes else parts, fh)
    except OSError:
        pass  # a read-only cache only costs the decoding time next run
    return split


def _unzip_once(archive: Path) -> Path:
    target = cache_dir() / f"cifar10-jpeg-{_cache_key(archive)}"
    if not (target / ".complete").exists():
        target.mkdir(parents=True, exist_ok=True)
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(target)
        except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
            raise DataError(f"{archive} is damaged: not a readable zip archive ({exc})") from None
        (target / ".complete").touch()
    for candidate in [target, *sorted(p for p in target.iterdir() if p.is_dir())]:
        if (candidate / "train").is_dir():
            return candidate
    raise DataError(f"{archive} holds no train/<class>/ tree; expected {CIFAR_LAYOUT}")


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _image_folder(split_dir: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """torchvision's ImageFolder order: class folders sorted by name, each class's image files
    (any depth) sorted by path."""
    try:
        classes = sorted(entry.name for entry in os.scandir(split_dir) if entry.is_dir())
    except OSError as exc:
        raise DataError(f"{split_dir} is damaged: {exc.strerror or exc}") from None
    samples: list[tuple[Path, int]] = []
    for index, name in enumerate(classes):
        files = sorted(p for p in (split_dir / name).rglob("*")
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{split_dir / name} is damaged: it holds no image files")
        samples.extend((path, index) for path in files)
    return classes, samples


def _read_cifar10_folders(root: Path) -> DataSplit:
    from PIL import Image, UnidentifiedImageError  # only a JPEG tree needs it

    def read(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        classes, samples = _image_folder(root / split)
        if tuple(classes) != DATASETS["cifar10"].classes:
            raise DataError(
                f"{root / split} has classes {', '.join(classes)}; expected the CIFAR-10 "
                f"classes {', '.join(DATASETS['cifar10'].classes)}"
            )
        images = np.empty((len(samples), 32, 32, 3), dtype=np.uint8)
        for i, (path, _) in enumerate(samples):
            try:
                with Image.open(path) as picture:
                    pixels = np.asarray(picture.convert("RGB"))
            except (UnidentifiedImageError, OSError, ValueError):
                raise DataError(f"{path} is damaged: it cannot be decoded as an image") from None
            if pixels.shape != (32, 32, 3):
                raise DataError(f"{path} is damaged: {pixels.shape[1]}x{pixels.shape[0]} pixels, "
                                "CIFAR-10 images are 32x32")
            images[i] = pixels
        labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
        return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), labels

    train_x, train_y = read("train")
    test_x, test_y = read("test")
    return DataSplit("cifar10", train_x, train_y, test_x, test_y)


def _load_imagefolder(data_dir: Path | None) -> DataSplit:
    if data_dir is None:
        raise DataError("the imagefolder data set needs --data-dir (data.data_dir): a folder with "
                        "train/<class>/ and test/<class>/ of images of one size")
    root = Path(data_dir)

    def build() -> DataSplit:
        images = read_image_folder(root)
        return DataSplit("imagefolder", images.train_x, images.train_y, images.test_x,
                         images.test_y, classes=images.classes)

    return _cached(root, build, name="imagefolder", key=fingerprint(root))


def _load_cifar100(name: str, data_dir: Path | None) -> DataSplit:
    root = Path(data_dir) if data_dir else _default_root()
    if data_dir is None and not (root / CIFAR100_FOLDER).is_dir():
        try:
            download.fetch_cifar100(root)
        except download.DownloadFailed as exc:
            raise DataError(_offline_hint(name, root, CIFAR100_LAYOUT)
                            + f" (download failed: {exc})") from None
    images = read_cifar100(root, coarse=name == "cifar100-coarse")
    if images.classes != DATASETS[name].classes:
        raise DataError(f"{root / CIFAR100_FOLDER / 'meta'} names other classes than CIFAR-100's "
                        f"({', '.join(images.classes[:3])}, ...)")
    return DataSplit(name, images.train_x, images.train_y, images.test_x, images.test_y)


#: data set name (an entry of ``specs.DATASETS``) -> its reader(data_dir)
LOADERS: dict[str, Callable[[Path | None], DataSplit]] = {
    "demo": _load_demo,
    "mnist": lambda data_dir: _load_mnist_like("mnist", data_dir),
    "fashion-mnist": lambda data_dir: _load_mnist_like("fashion-mnist", data_dir),
    "cifar10": _load_cifar10,
    "cifar100": lambda data_dir: _load_cifar100("cifar100", data_dir),
    "cifar100-coarse": lambda data_dir: _load_cifar100("cifar100-coarse", data_dir),
    "imagefolder": _load_imagefolder,
}
