"""Pickles read without running code from them: only numpy arrays and plain Python data.

CIFAR's ``*-python`` batches are pickles of dicts holding a numpy array and lists. ``pickle.load``
would call any function a file names; this unpickler resolves only numpy's array reconstruction
(and ``_codecs.encode``, with which protocol-2 pickles carry bytes), so a file that names
anything else is refused before anything of it runs (the "Restricting Globals" recipe of Python's
pickle documentation).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle that names a global outside the allowed numpy ones."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.global_name = f"{module}.{name}"


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED or (module == "numpy.dtypes" and name.endswith("DType")
                                          and name != "ObjectDType"):
            return super().find_class(module, name)
        raise UnsafePickleError(module, name)


def load(path: Path) -> Any:
    """The object pickled in ``path`` (latin-1 for Python 2 strings, as torchvision reads CIFAR).

    Raises UnsafePickleError for a pickle that names another global; OSError, EOFError and
    pickle.UnpicklingError as ``pickle.load`` does for unreadable files."""
    with open(path, "rb") as fh:
        return _Restricted(fh, encoding="latin1").load()
