"""CIFAR-100 from torchvision's ``cifar-100-python`` folder (``train``, ``test``, ``meta``).

Each of ``train`` and ``test`` is a pickled dict: ``data`` (uint8 [N, 3072], the red, green and
blue planes of a 32x32 image in turn), ``fine_labels`` (100 classes) and ``coarse_labels`` (20
superclasses); ``meta`` names both. Read with memtui.safepickle, so a tampered file cannot run
code; torchvision's own reader relies on its checksums for that.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from memtui import safepickle
from memtui.errors import DataError
from memtui.imageset import ImageSet

FOLDER = "cifar-100-python"
LAYOUT = f"{FOLDER}/ with train, test and meta (torchvision's CIFAR100 layout)"


def read_cifar100(root: Path, coarse: bool = False) -> ImageSet:
    """CIFAR-100 under ``root/cifar-100-python``: fine labels, or the 20 superclasses."""
    folder = Path(root) / FOLDER
    missing = [name for name in ("train", "test", "meta") if not (folder / name).is_file()]
    if missing:
        raise DataError(f"CIFAR-100 not found: expected {LAYOUT} under {root} (missing: "
                        f"{', '.join(missing)}). Point --data-dir at the folder that holds it "
                        "(data.data_dir in a preset)")
    label_key = "coarse_labels" if coarse else "fine_labels"
    names_key = "coarse_label_names" if coarse else "fine_label_names"
    meta = _read(folder / "meta")
    classes = meta.get(names_key) if isinstance(meta, dict) else None
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise DataError(f"{folder / 'meta'} is damaged: it has no list {names_key}")
    parts = {}
    for split in ("train", "test"):
        entry = _read(folder / split)
        data = entry.get("data") if isinstance(entry, dict) else None
        labels = entry.get(label_key) if isinstance(entry, dict) else None
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
                or data.shape[1] != 3 * 32 * 32:
            raise DataError(f"{folder / split} is damaged: its data is not a uint8 array of "
                            "rows of 3072 pixel values")
        if not isinstance(labels, list) or len(labels) != len(data):
            raise DataError(f"{folder / split} is damaged: {label_key} is missing or differs "
                            "from the images in number")
        y = torch.tensor(labels, dtype=torch.int64)
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(classes)):
            raise DataError(f"{folder / split} is damaged: a label outside the {len(classes)} "
                            "classes of its meta file")
        parts[split] = (torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), y)
    return ImageSet(parts["train"][0], parts["train"][1], parts["test"][0], parts["test"][1],
                    tuple(classes))


def _read(path: Path) -> Any:
    try:
        return safepickle.load(path)
    except safepickle.UnsafePickleError as exc:
        raise DataError(f"{path} is not a CIFAR-100 pickle: it names {exc.global_name}, which "
                        "memtui does not run (only numpy arrays and plain data are read)") from None
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"{path} is damaged: it cannot be unpickled ({type(exc).__name__})") from None
