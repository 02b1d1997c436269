"""One ordinary module, optimiser and scheduler per loss, trained in lockstep on the same batches.

All models start from one set of initial weights, so the loss is the only difference between them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from memtui.bank.optim import (
    LossStepError,
    PerSampleLoss,
    autocast_context,
    clip_gradients,
    make_optimizer,
    make_scheduler,
    weight_l1_of,
    weights_l1,
)
from memtui.config import OptimizerConfig, ScheduleConfig


class SeparateModels:
    def __init__(
        self,
        initial: nn.Module,
        losses: Sequence[PerSampleLoss],
        optimizer: OptimizerConfig,
        schedule: ScheduleConfig,
        epochs: int,
        precision: str = "fp32",
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        self.models = [copy.deepcopy(initial) for _ in losses]
        self.losses = list(losses)
        self.channels_last = channels_last
        if channels_last:
            for model in self.models:
                model.to(memory_format=torch.channels_last)
        self.optimizers = [make_optimizer(m.parameters(), optimizer) for m in self.models]
        self.clip_grad_norm = optimizer.clip_grad_norm
        self.weight_l1 = [weight_l1_of(loss) for loss in self.losses]
        self.schedulers = [make_scheduler(o, schedule, epochs) for o in self.optimizers]
        self.device = next(initial.parameters()).device
        self.precision = precision
        # Compiled for training only: evaluation runs the eager module, so switching to eval mode
        # does not trigger a recompilation every epoch.
        self.forwards = [torch.compile(m) if compile else m for m in self.models]

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def train_step(self, x: torch.Tensor, y: torch.Tensor, active: Sequence[int]) -> list[torch.Tensor]:
        results = []
        failures: dict[int, BaseException] = {}
        x = self._layout(x)
        for i in active:
            optimizer = self.optimizers[i]
            try:
                with autocast_context(self.device, self.precision):
                    logits = self.forwards[i](x)
                loss = self.losses[i](logits, y).mean()
                if self.weight_l1[i]:
                    loss = loss + self.weight_l1[i] * weights_l1(self.models[i].parameters())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                clip_gradients(self.models[i].parameters(), self.clip_grad_norm)
                optimizer.step()
            except Exception as exc:  # one model failing must not stop the others
                optimizer.zero_grad(set_to_none=True)
                failures[i] = exc
                continue
            results.append(loss.detach())
        if failures:
            raise LossStepError(failures, results)
        return results

    def logits(self, index: int, x: torch.Tensor) -> torch.Tensor:
        with autocast_context(self.device, self.precision):
            return self.models[index](self._layout(x)).float()

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


