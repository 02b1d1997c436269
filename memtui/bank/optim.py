"""What every model bank shares: the optimiser, the learning-rate schedule and autocast, built
from the experiment's config, and the error a bank raises when some losses' steps fail."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import torch

from memtui.config import OptimizerConfig, ScheduleConfig

PerSampleLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_optimizer(params, config: OptimizerConfig) -> torch.optim.Optimizer:
    if config.name == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, config: ScheduleConfig, epochs: int):
    if config.kind == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, config.milestones, config.gamma)
    if config.kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def autocast_context(device: torch.device, precision: str) -> AbstractContextManager:
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


class LossStepError(Exception):
    """Some losses' training steps raised (CUDA out of memory, say) while the others completed."""

    def __init__(self, failures: dict[int, BaseException], losses: list[torch.Tensor]) -> None:
        super().__init__("; ".join(f"loss {i}: {exc!r}" for i, exc in failures.items()))
        self.failures = failures
        self.losses = losses  # of the active losses that did not fail, in order
