"""Downloads of the public data sets into torchvision's layouts, with urllib and md5 checks.

Only runs when no --data-dir is given and the cache lacks a set. The addresses and checksums are
those torchvision uses, so a folder filled by either is read by the other; torchvision itself is not
needed (its PyPI wheels pin torch's CUDA build).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path


class DownloadFailed(Exception):
    """No mirror gave a file with the expected checksum; the message says what was tried."""


@dataclass(frozen=True)
class Source:
    mirrors: tuple[str, ...]  # base addresses, tried in order
    files: dict[str, str]  # file name -> md5 of its bytes


SOURCES: dict[str, Source] = {
    "mnist": Source(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
         "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
         "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
         "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}),
    "fashion-mnist": Source(
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
         "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
         "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
         "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}),
    "cifar10": Source(
        ("https://www.cs.toronto.edu/~kriz/",),
        {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"}),
    "cifar100": Source(
        ("https://www.cs.toronto.edu/~kriz/",),
        {"cifar-100-python.tar.gz": "eb9058c3a382ffc7106e4002c42a8d85"}),
}


def fetch_idx(name: str, raw: Path) -> None:
    """MNIST or Fashion-MNIST: the four gzipped IDX files, unpacked beside themselves in ``raw``."""
    raw.mkdir(parents=True, exist_ok=True)
    for file_name in SOURCES[name].files:
        archive = _fetch(name, file_name, raw)
        target = raw / file_name.removesuffix(".gz")
        partial = target.with_name(target.name + ".part")
        with gzip.open(archive, "rb") as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        partial.replace(target)


def fetch_cifar10(root: Path) -> None:
    """The python version of CIFAR-10, unpacked to ``root/cifar-10-batches-py``."""
    _fetch_cifar(root, "cifar10", "cifar-10-python.tar.gz", "cifar-10-batches-py/")


def fetch_cifar100(root: Path) -> None:
    """The python version of CIFAR-100, unpacked to ``root/cifar-100-python``."""
    _fetch_cifar(root, "cifar100", "cifar-100-python.tar.gz", "cifar-100-python/")


def _fetch_cifar(root: Path, name: str, file_name: str, folder: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    archive = _fetch(name, file_name, root)
    with tarfile.open(archive, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(folder)]
        # The "data" filter (Python >= 3.10.12) refuses links and absolute paths; the checksum
        # already vouches for the archive on older Pythons.
        if hasattr(tarfile, "data_filter"):
            tar.extractall(root, members=members, filter="data")
        else:
            tar.extractall(root, members=members)


def _fetch(name: str, file_name: str, folder: Path) -> Path:
    """``folder/file_name`` with the expected md5, downloading it unless it is already there."""
    import urllib.request  # only a download needs it

    expected = SOURCES[name].files[file_name]
    target = folder / file_name
    if target.is_file() and _md5(target) == expected:
        return target
    failures = []
    for base in SOURCES[name].mirrors:
        partial = target.with_name(target.name + ".part")
        try:
            with urllib.request.urlopen(base + file_name, timeout=60) as response, \
                    partial.open("wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as exc:  # URLError, HTTPError, timeouts and full disks are all OSErrors
            partial.unlink(missing_ok=True)
            failures.append(f"{base}: {getattr(exc, 'reason', None) or exc}")
            continue
        if _md5(partial) != expected:
            partial.unlink()
            failures.append(f"{base}: checksum mismatch")
            continue
        partial.replace(target)
        return target
    raise DownloadFailed(f"{file_name} from " + "; ".join(failures))


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
