"""One model per loss, trained in lockstep on the same batches.

``SeparateModels`` keeps an ordinary module, optimiser and scheduler per loss. All models start
from one set of initial weights, so the loss is the only difference between them. The engine
talks to it through the small ``ModelBank`` protocol, so that another layout of the same
computation (for instance all models stacked into one) can stand in for it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, Protocol

import torch
from torch import nn

from memtui.config import OptimizerConfig, ScheduleConfig

PerSampleLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class ModelBank(Protocol):
    """What the engine needs from the models of all losses."""

    def train_step(self, x: torch.Tensor, y: torch.Tensor, active: Sequence[int]) -> list[torch.Tensor]:
        """One optimiser step for each active model; the batch-mean losses, detached, on device."""
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


def autocast_context(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


class SeparateModels:
    def __init__(
        self,
        initial: nn.Module,
        losses: Sequence[PerSampleLoss],
        optimizer: OptimizerConfig,
        schedule: ScheduleConfig,
        epochs: int,
        precision: str = "fp32",
    ) -> None:
        self.models = [copy.deepcopy(initial) for _ in losses]
        self.losses = list(losses)
        self.optimizers = [make_optimizer(m.parameters(), optimizer) for m in self.models]
        self.schedulers = [make_scheduler(o, schedule, epochs) for o in self.optimizers]
        self.device = next(initial.parameters()).device
        self.precision = precision

    def train_step(self, x: torch.Tensor, y: torch.Tensor, active: Sequence[int]) -> list[torch.Tensor]:
        results = []
        for i in active:
            optimizer = self.optimizers[i]
            with autocast_context(self.device, self.precision):
                logits = self.models[i](x)
            loss = self.losses[i](logits, y).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            results.append(loss.detach())
        return results

    def logits(self, index: int, x: torch.Tensor) -> torch.Tensor:
        with autocast_context(self.device, self.precision):
            return self.models[index](x).float()

    def set_mode(self, train: bool) -> None:
        for model in self.models:
            model.train(train)

    def end_epoch(self) -> None:
        for scheduler in self.schedulers:
            scheduler.step()

    def lr(self, index: int) -> float:
        return float(self.optimizers[index].param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        return {
            "models": [m.state_dict() for m in self.models],
            "optimizers": [o.state_dict() for o in self.optimizers],
            "schedulers": [s.state_dict() for s in self.schedulers],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for model, saved in zip(self.models, state["models"]):
            model.load_state_dict(saved)
        for optimizer, saved in zip(self.optimizers, state["optimizers"]):
            optimizer.load_state_dict(saved)
        for scheduler, saved in zip(self.schedulers, state["schedulers"]):
            scheduler.load_state_dict(saved)


def build_bank(initial: nn.Module, losses: Sequence[PerSampleLoss], config) -> ModelBank:
    """The model bank for an experiment: the one place that chooses how the models are laid out."""
    return SeparateModels(initial, losses, config.optimizer, config.schedule, config.epochs,
                          config.precision)
