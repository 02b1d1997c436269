"""What every model bank shares: the optimiser, the learning-rate schedule and autocast, built
from the experiment's config, and the error a bank raises when some losses' steps fail."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext

import torch

from memtui.config import OptimizerConfig, ScheduleConfig

PerSampleLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_optimizer(params, config: OptimizerConfig) -> torch.optim.Optimizer:
    if config.name == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay, nesterov=config.nesterov)


def _main_scheduler(optimizer: torch.optim.Optimizer, config: ScheduleConfig, epochs: int,
                    start: int):
    """The schedule proper, from epoch ``start`` on (after the warm-up)."""
    if config.kind == "multistep":
        milestones = [m - start for m in config.milestones]
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, config.gamma)
    if config.kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs - start)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def make_scheduler(optimizer: torch.optim.Optimizer, config: ScheduleConfig, epochs: int):
    """Stepped once per epoch. With ``warmup_epochs`` = w, epoch e < w trains at lr (e + 1) / w;
    from epoch w the schedule runs as without warm-up but over the remaining epochs (cosine) or at
    its own milestones, which stay epoch numbers of the whole run (multistep)."""
    w = config.warmup_epochs
    if not w:
        return _main_scheduler(optimizer, config, epochs, 0)
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0 / w, end_factor=1.0,
                                               total_iters=w - 1)
    main = _main_scheduler(optimizer, config, epochs, w)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones=[w])


def clip_gradients(parameters: Iterable[torch.Tensor], max_norm: float | None) -> None:
    """Scale one model's gradients so their total L2 norm is at most ``max_norm`` (as
    torch.nn.utils.clip_grad_norm_, which APL, ALFs and ANL call before every step)."""
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(parameters, max_norm)


def weight_l1_of(loss: PerSampleLoss) -> float:
    """The weight of the L1 norm of the network a loss adds to its objective (ANL's delta; 0 for
    every other loss): a bound loss carries it as ``weight_l1``."""
    return float(getattr(loss, "weight_l1", 0.0))


def weights_l1(parameters: Iterable[torch.Tensor]) -> torch.Tensor:
    """sum |theta| over every parameter of a model: ANL's regulariser (loss ``anl-ce``)."""
    return torch.stack([p.abs().sum() for p in parameters]).sum()


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
