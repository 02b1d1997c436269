"""A network of the user's own: ``model.arch = "package.module:factory"``.

The factory is any callable importable from an installed package, ``PYTHONPATH`` or the current
directory. memtui calls it as ``factory(in_shape, num_classes, **extra)``, where ``in_shape`` is
(channels, height, width), and ``extra`` holds the keys of the ``[model]`` section other than
``arch``; it must return a ``torch.nn.Module`` that maps a float batch [B, C, H, W] to logits
[B, num_classes]. memtui checks that once, on a batch of two zero images in eval mode (no random
draw, no BatchNorm statistics touched), and reports anything else in one line naming
``model.arch``. Every loss then trains its own copy of the one model built, as for the built-in
networks.

Example (my_nets.py in the directory memtui runs from)::

    from torch import nn

    def small_cnn(in_shape, num_classes, width=32):
        c, h, w = in_shape
        return nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(width * (h // 2) * (w // 2), num_classes),
        )

and in the preset: ``[model]`` / ``arch = "my_nets:small_cnn"`` / ``width = 64``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from memtui.errors import ConfigError, did_you_mean
from memtui.specs import USER_ARCH, USER_ARCH_FORM, is_user_arch

__all__ = ["build_user_model", "check_logits", "is_user_arch", "load_factory"]

FIELD = "model.arch"


def check_arch_path(arch: str) -> None:
    """Raise ValueError unless ``arch`` has the form package.module:factory (nothing imported)."""
    if not USER_ARCH.match(arch):
        raise ValueError(f"{arch!r} is not of the form {USER_ARCH_FORM}")


@contextmanager
def _current_directory_importable() -> Iterator[None]:
    # The `memtui` console script's sys.path holds its own bin folder, not the directory it runs
    # from: add that at the end (never shadowing an installed package) for the import only.
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def load_factory(arch: str) -> Callable[..., Any]:
    """The callable ``arch`` names; ConfigError (one line) when it cannot be imported."""
    try:
        check_arch_path(arch)
    except ValueError as exc:
        raise ConfigError(f"{FIELD}: {exc}") from None
    module_name, attr_path = arch.split(":")
    with _current_directory_importable():
        try:
            target: Any = importlib.import_module(module_name)
        except Exception as exc:  # an import runs the user's code: any error is theirs to see
            raise ConfigError(f"{FIELD}: cannot import {module_name!r} ({_one_line(exc)})") from None
    for part in attr_path.split("."):
        if not hasattr(target, part):
            names = [n for n in dir(target) if not n.startswith("_")]
            raise ConfigError(f"{FIELD}: {module_name!r} has no {attr_path!r}"
                              f"{did_you_mean(part, names)}") from None
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"{FIELD}: {arch!r} is of type {type(target).__name__}, not a callable "
                          "that builds a model")
    return target


def _shape(values: Any) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def check_logits(model: nn.Module, arch: str, in_shape: tuple[int, int, int],
                 num_classes: int) -> None:
    """Run one batch of two zero images through ``model`` (eval mode, no gradient) and raise
    ConfigError unless it returns float logits [2, num_classes]."""
    batch = (2, *in_shape)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(batch, device=device))
    except Exception as exc:
        raise ConfigError(f"{FIELD}: the model of {arch!r} fails on a batch {_shape(batch)} "
                          f"({_one_line(exc)})") from None
    finally:
        model.train(was_training)
    expected = _shape((2, num_classes))
    if not isinstance(out, torch.Tensor):
        raise ConfigError(f"{FIELD}: the model of {arch!r} returns a {type(out).__name__} for a "
                          f"batch {_shape(batch)}; memtui needs one tensor of logits {expected}")
    if tuple(out.shape) != (2, num_classes) or not out.is_floating_point():
        got = f"{out.dtype} " if not out.is_floating_point() else ""
        raise ConfigError(f"{FIELD}: the model of {arch!r} maps a batch {_shape(batch)} to "
                          f"{got}{_shape(out.shape)}; memtui needs float logits [batch, classes] "
                          f"= {expected}")


def build_user_model(arch: str, in_shape: tuple[int, int, int], num_classes: int,
                     extra: Mapping[str, Any] | None = None) -> nn.Module:
    """``factory(in_shape, num_classes, **extra)``, checked to give [batch, classes] logits."""
    factory = load_factory(arch)
    options = dict(extra or {})
    in_shape = (int(in_shape[0]), int(in_shape[1]), int(in_shape[2]))
    try:
        model = factory(in_shape, num_classes, **options)
    except Exception as exc:
        given = ", ".join(f"{k}={v!r}" for k, v in options.items())
        call = f"{arch}({in_shape}, {num_classes}{', ' + given if given else ''})"
        raise ConfigError(f"{FIELD}: {call} raised {_one_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{FIELD}: {arch!r} returned an object of type {type(model).__name__}, "
                          "not a torch.nn.Module")
    check_logits(model, arch, in_shape, num_classes)
    return model
