"""Which device a run trains on, and the device's fast paths."""

from __future__ import annotations

import torch

from memtui.errors import ConfigError


def resolve_device(requested: str) -> torch.device:
    """A config's ``device`` as a torch device; a device this machine lacks is a ConfigError."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device: {requested!r} asked for, but this machine has no CUDA device; "
                          "valid here: auto, cpu")
    if requested == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device: 'mps' asked for, but MPS is not available; valid here: auto, cpu")
    return torch.device(requested)


def enable_fast_paths(device: torch.device) -> None:
    if device.type == "cuda":
        # TF32 matmuls and convolutions: fp32 weights and accumulation, ~3e-4 relative error per
        # product, several times the fp32 rate on Ampere and later.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def synchronize(device: torch.device | None) -> None:
    """Wait for the device's queued work, so that a wall-clock time measures it."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
