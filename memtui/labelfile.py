"""Training labels from a file: CIFAR-N's ``.pt`` archives, ``.npy``, ``.npz`` and text files.

A label file gives one label per training image, in the data set's order. Reading never runs
code from the file: ``.pt`` files go through torch's ``weights_only`` unpickler with only numpy's
array reconstruction allowed besides what torch allows (tensors, lists, dicts, numbers, strings),
``.npy``/``.npz`` through numpy with pickles refused, text through ``int``. Every problem is a
ConfigError naming ``corruption.file`` or ``corruption.key``, one line.

Where a file carries clean labels beside the noisy ones (CIFAR-N's ``clean_label``), they are
compared with the data set's own labels position by position: a file in another order than the
data set would otherwise silently shuffle the noise over the wrong images.
"""

from __future__ import annotations

import importlib
import pickle
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from memtui.errors import ConfigError, did_you_mean

FILE_FIELD = "corruption.file"
KEY_FIELD = "corruption.key"
SUFFIXES = (".pt", ".pth", ".npy", ".npz", ".csv", ".txt")

#: The clean label set that sits beside a noisy one in CIFAR-10N / CIFAR-100N files.
CLEAN_KEYS = ("clean_label", "clean_coarse_label")

# numpy's array pickles name their reconstructor numpy.core.multiarray._reconstruct when written
# by numpy 1 (CIFAR-N's files) and numpy._core.multiarray._reconstruct when written by numpy 2;
# the function is the same and builds an empty array of a given type, nothing else.
_NUMERIC_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                   "uint64", "float16", "float32", "float64")


def _numpy_safe_globals() -> list[Any]:
    try:
        multiarray = importlib.import_module("numpy._core.multiarray")
    except ImportError:  # numpy 1
        multiarray = importlib.import_module("numpy.core.multiarray")
    _reconstruct = multiarray._reconstruct

    # Object arrays stay out (their dtype class is not listed): they would carry Python objects.
    return [(_reconstruct, "numpy.core.multiarray._reconstruct"), _reconstruct, np.ndarray,
            np.dtype, *(type(np.dtype(name)) for name in _NUMERIC_DTYPES)]


@dataclass(frozen=True)
class LabelFile:
    """The labels read from a file, before they are checked against a data set."""

    path: Path
    key: str | None  # the label set chosen in a file of several
    labels: np.ndarray  # int64 [N]
    clean: np.ndarray | None  # int64 [N], the clean labels the file carries, if any
    clean_key: str | None


def read_label_file(path: Path | str, key: str | None = None) -> LabelFile:
    """Read a label file; ``key`` picks a label set in a ``.pt``/``.npz`` file of several."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"{FILE_FIELD}: {path} has an unknown kind; valid: "
                          f"{', '.join(SUFFIXES)} (.csv/.txt: one label per line)")
    if not path.is_file():
        raise ConfigError(f"{FILE_FIELD}: {path} does not exist or is not a file")
    if suffix in (".pt", ".pth"):
        sets = _as_label_sets(path, _read_torch(path))
    elif suffix == ".npz":
        sets = _read_npz(path)
    elif suffix == ".npy":
        sets = {"": _read_npy(path)}
    else:
        sets = {"": _read_text(path)}
    return _choose(path, sets, key)


def check_labels(label_file: LabelFile, true_labels: torch.Tensor | np.ndarray,
                 num_classes: int, dataset: str = "the data set") -> torch.Tensor:
    """The file's labels as int64, checked against the training set they are meant for:
    the same length, every label a class, and the file's clean labels (if any) equal to the data
    set's labels in order."""
    true = np.asarray(true_labels.cpu() if isinstance(true_labels, torch.Tensor) else true_labels)
    labels = label_file.labels
    where = f"{FILE_FIELD}: {label_file.path}" + (f" [{label_file.key}]" if label_file.key else "")
    if len(labels) != len(true):
        raise ConfigError(f"{where} holds {len(labels):,} labels; the {dataset} training set has "
                          f"{len(true):,} images (a label file covers the whole training set, "
                          "before subset and holdout)")
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise ConfigError(f"{where}: label {int(labels[bad[0]])} at position {int(bad[0])} is not "
                          f"a class of {dataset} (valid: 0..{num_classes - 1}); "
                          f"{len(bad):,} label(s) out of range")
    if label_file.clean is not None:
        differ = np.flatnonzero(label_file.clean != true)
        if len(differ):
            first = int(differ[0])
            raise ConfigError(
                f"{where}: its {label_file.clean_key} differs from the {dataset} training labels "
                f"at {len(differ):,} of {len(true):,} positions (first at {first}: file "
                f"{int(label_file.clean[first])}, data set {int(true[first])}); the file follows "
                "another order or another data set (CIFAR-N follows torchvision's "
                "CIFAR10/CIFAR100(train=True) order)")
    return torch.from_numpy(labels.astype(np.int64))


def load_labels(path: Path | str, key: str | None, true_labels: torch.Tensor, num_classes: int,
                dataset: str = "the data set") -> torch.Tensor:
    """read_label_file + check_labels: the training labels a run uses from ``corruption.file``."""
    return check_labels(read_label_file(path, key), true_labels, num_classes, dataset)


def _read_torch(path: Path) -> Any:
    try:
        from torch.serialization import get_unsafe_globals_in_checkpoint, safe_globals
    except ImportError:
        raise ConfigError(f"{FILE_FIELD}: reading {path} safely needs torch 2.6 or later "
                          f"(this is {torch.__version__}); or convert it to .npy/.npz") from None

    try:
        with safe_globals(_numpy_safe_globals()), warnings.catch_warnings():
            # a plain pickle of another protocol gets a warning before it is refused or read
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        names = _unsafe_names(path, get_unsafe_globals_in_checkpoint)
        what = f" ({', '.join(names)})" if names else ""
        raise ConfigError(f"{FILE_FIELD}: {path} holds a pickle that would build other objects "
                          f"than arrays{what}; memtui reads only numpy arrays, tensors, lists and "
                          "dicts from .pt files, and never runs code from them") from None
    except Exception as exc:  # torch's readers fail on a damaged file with anything from KeyError up
        raise ConfigError(f"{FILE_FIELD}: {path} is not a readable torch file "
                          f"({type(exc).__name__})") from None


def _unsafe_names(path: Path, lister: Any) -> list[str]:
    try:
        allowed = {"numpy.ndarray", "numpy.dtype", "numpy.core.multiarray._reconstruct",
                   "numpy._core.multiarray._reconstruct"}
        return [n for n in lister(path) if n not in allowed and not n.startswith("numpy.dtypes.")]
    except Exception:  # not a zip archive: the unpickler's refusal is all there is to say
        return []


def _as_label_sets(path: Path, obj: Any) -> dict[str, np.ndarray]:
    if isinstance(obj, dict):
        sets = {}
        for name, value in obj.items():
            if not isinstance(name, str):
                raise ConfigError(f"{FILE_FIELD}: {path} is a dict with a key {name!r} that is "
                                  "not a string; expected label set names")
            sets[name] = _as_labels(path, value, name)
        if not sets:
            raise ConfigError(f"{FILE_FIELD}: {path} holds an empty dict; expected label sets")
        return sets
    return {"": _as_labels(path, obj, "")}


def _as_labels(path: Path, value: Any, name: str) -> np.ndarray:
    where = f"{FILE_FIELD}: {path}" + (f" [{name}]" if name else "")
    if isinstance(value, torch.Tensor):
        value = value.numpy()
    if isinstance(value, (list, tuple)):
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{where} is a list of other things than integers; expected labels")
        value = np.asarray(value, dtype=np.int64)
    if not isinstance(value, np.ndarray):
        raise ConfigError(f"{where} holds a {type(value).__name__}; expected an array of labels")
    if value.ndim == 2 and value.shape[1] == 1:
        value = value[:, 0]
    if value.ndim != 1:
        raise ConfigError(f"{where} is an array of shape {tuple(value.shape)}; expected one label "
                          "per image (a 1-D array)")
    if value.dtype.kind in "iu":
        return value.astype(np.int64)
    if value.dtype.kind == "f" and np.all(np.isfinite(value)) and np.all(value == np.round(value)):
        return value.astype(np.int64)
    raise ConfigError(f"{where} holds {value.dtype} values that are not whole numbers; expected "
                      "integer class labels")


def _read_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ConfigError(f"{FILE_FIELD}: {path} holds Python objects (a pickled array); "
                              "expected an integer array") from None
        raise ConfigError(f"{FILE_FIELD}: {path} is not a readable .npy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise ConfigError(f"{FILE_FIELD}: {path} is not a readable .npy file "
                          f"({type(exc).__name__})") from None
    return _as_labels(path, array, "")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            arrays = {}
            for name in names:
                try:
                    arrays[name] = archive[name]
                except ValueError:
                    raise ConfigError(f"{FILE_FIELD}: {path} [{name}] holds Python objects (a "
                                      "pickled array); expected an integer array") from None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{FILE_FIELD}: {path} is not a readable .npz file "
                          f"({type(exc).__name__})") from None
    if not arrays:
        raise ConfigError(f"{FILE_FIELD}: {path} holds no arrays")
    return {name: _as_labels(path, array, name) for name, array in arrays.items()}


def _read_text(path: Path) -> np.ndarray:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{FILE_FIELD}: {path} cannot be read as text "
                          f"({type(exc).__name__})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    labels = np.empty(len(lines), dtype=np.int64)
    for number, line in enumerate(lines, start=1):
        try:
            labels[number - 1] = int(line.strip())
        except ValueError:
            raise ConfigError(f"{FILE_FIELD}: {path} line {number} is {line.strip()[:40]!r}; "
                              "expected one integer label per line (no header)") from None
    if not len(labels):
        raise ConfigError(f"{FILE_FIELD}: {path} holds no labels")
    return labels


def _choose(path: Path, sets: dict[str, np.ndarray], key: str | None) -> LabelFile:
    if "" in sets:  # a file of one unnamed array
        if key is not None:
            raise ConfigError(f"{KEY_FIELD}: {path} holds one unnamed label array; "
                              f"{KEY_FIELD} applies only to .pt/.npz files of named label sets")
        return LabelFile(path, None, sets[""], None, None)
    if key is None:
        noisy = [name for name in sets if name not in CLEAN_KEYS]
        if len(sets) == 1:
            key = next(iter(sets))
        else:
            raise ConfigError(f"{KEY_FIELD}: {path} holds several label sets; name one with "
                              f"{KEY_FIELD}: {', '.join(noisy or sets)}")
    if key not in sets:
        raise ConfigError(f"{KEY_FIELD}: {path} has no label set {key!r}{did_you_mean(key, sets)}; "
                          f"valid: {', '.join(sets)}")
    clean_key = "clean_coarse_label" if "coarse" in key else "clean_label"
    clean = sets.get(clean_key)
    if clean is not None and len(clean) != len(sets[key]):
        raise ConfigError(f"{FILE_FIELD}: {path}: {key} holds {len(sets[key]):,} labels, "
                          f"{clean_key} {len(clean):,}; the file is damaged")
    return LabelFile(path, key, sets[key], clean, clean_key if clean is not None else None)


def by_class_positions(clean: np.ndarray | torch.Tensor) -> torch.Tensor:
    """For images listed in a data set's canonical order with these clean labels, each one's
    index in a class-by-class tree whose files keep that order within a class (the CIFAR-10 JPEG
    tree: the k-th image of class c in torchvision's order is train/<c>/{k:04d}.jpg, at
    offset[c] + k once the tree is loaded). ``tree[by_class_positions(clean)]`` is the tree in
    canonical order. The mapping is inferred from how the tree was written;
    scripts/check_cifarn_order.py tests it (docs/cifar-n.md)."""
    labels = torch.as_tensor(np.asarray(clean), dtype=torch.int64)
    positions = torch.empty_like(labels)
    positions[torch.argsort(labels, stable=True)] = torch.arange(len(labels))
    return positions


def labels_for_training_set(label_file: LabelFile, true_labels: torch.Tensor, num_classes: int,
                            dataset: str = "the data set", by_class: bool = False
                            ) -> tuple[torch.Tensor | None, torch.Tensor]:
    """(order, labels): the file's labels checked against the training set, and, for a training
    set read class by class from a tree that keeps the canonical order within a class (the
    CIFAR-10 JPEG tree, ``by_class``), the permutation that puts it into the file's canonical
    order (``x[order]``, ``y[order]``) first; None when the set is used as it is. The permutation
    comes from the file's clean labels, so a tree is reordered only when the file carries them
    and their class counts are the tree's."""
    true = torch.as_tensor(true_labels).cpu().to(torch.int64)
    clean = label_file.clean
    order = None
    if by_class and clean is not None and len(clean) == len(true) \
            and not np.array_equal(clean, true.numpy()):
        k = max(num_classes, int(clean.max(initial=0)) + 1)
        if np.array_equal(np.bincount(clean, minlength=k),
                          np.bincount(true.numpy(), minlength=k)):
            order = by_class_positions(clean)
            true = true[order]
    return order, check_labels(label_file, true, num_classes, dataset)
