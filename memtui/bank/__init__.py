"""Model banks: the models of all losses of a run, behind the one small protocol the engine uses.

- ``separate``: an ordinary module, optimiser and scheduler per loss (the default everywhere).
- ``fused``: all models stacked into one vmapped computation, exactly equivalent.

``build_bank`` is the one place that chooses between them; ``optim`` holds what both share.
Adding a backend means a class with the ``ModelBank`` methods and a branch in ``build_bank``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

from memtui.bank.optim import LossStepError, PerSampleLoss
from memtui.errors import ConfigError

if TYPE_CHECKING:
    from memtui.config import ExperimentConfig

__all__ = ["LossStepError", "ModelBank", "PerSampleLoss", "build_bank", "choose_backend"]


class ModelBank(Protocol):
    """What the engine needs from the models of all losses."""

    def train_step(self, x: torch.Tensor, y: torch.Tensor, active: Sequence[int]) -> list[torch.Tensor]:
        """One optimiser step for each active model; the batch-mean losses, detached, on device.

        Raises LossStepError when some models' steps raised and the others' completed.
        """
        ...

    def logits(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Eval-mode logits of one model (called under torch.inference_mode)."""
        ...

    def set_mode(self, train: bool) -> None: ...

    def end_epoch(self) -> None:
        """Advance every learning-rate schedule by one epoch."""
        ...

    def lr(self, index: int) -> float: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def _has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def choose_backend(requested: str, device: torch.device) -> str:
    """``separate`` or ``fused`` for a config's ``backend`` on a device.

    ``auto`` is separate models on every device measured so far (docs/benchmarks.md: the fused
    bank was slower on an idle 2-core CPU and no faster on an H200); the fused bank stays
    available, and exactly equivalent, for devices where it measures faster.
    """
    del device  # one rule for every device measured; kept so a future rule can use it
    return "separate" if requested == "auto" else requested


def build_bank(initial: nn.Module, losses: Sequence[PerSampleLoss], config: ExperimentConfig
               ) -> ModelBank:
    """The model bank for an experiment, its models copies of ``initial`` on its device."""
    device = next(initial.parameters()).device
    backend = choose_backend(config.backend, device)
    if backend == "fused":
        from memtui.bank.fused import FusedModels

        if device.type == "cuda" and config.precision == "bf16":
            # vmap's BatchNorm backward under CUDA autocast asks for bf16 running statistics
            # (seen with torch 2.11 on an H200).
            raise ConfigError("backend: 'fused' does not support precision 'bf16' on CUDA; "
                              "use backend 'separate' or precision 'fp32'")
        return FusedModels(initial, losses, config.optimizer, config.schedule, config.epochs,
                           config.precision, compile=config.compile)
    from memtui.bank.separate import SeparateModels

    channels_last = device.type == "cuda" and _has_conv(initial)
    return SeparateModels(initial, losses, config.optimizer, config.schedule, config.epochs,
                          config.precision, channels_last=channels_last, compile=config.compile)
