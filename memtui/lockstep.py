"""One model per loss, trained in lockstep on the same batches.

``SeparateModels`` keeps an ordinary module, optimiser and scheduler per loss. All models start
from one set of initial weights, so the loss is the only difference between them. The engine
talks to it through the small ``ModelBank`` protocol, so that another layout of the same
computation, ``memtui.fused.FusedModels`` (all models stacked into one), can stand in for it.
``build_bank`` chooses between them and sets up the device's fast paths (TF32, channels-last,
torch.compile).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, Protocol

import torch
from torch import nn

from memtui.config import OptimizerConfig, ScheduleConfig
from memtui.errors import ConfigError

PerSampleLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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


class LossStepError(Exception):
    """Some losses' training steps raised (CUDA out of memory, say) while the others completed."""

    def __init__(self, failures: dict[int, BaseException], losses: list[torch.Tensor]) -> None:
        super().__init__("; ".join(f"loss {i}: {exc!r}" for i, exc in failures.items()))
        self.failures = failures
        self.losses = losses  # of the active losses that did not fail, in order


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
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
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


def _has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def choose_backend(requested: str, device: torch.device) -> str:
    """``separate`` or ``fused`` for a config's ``backend`` on a device.

    ``auto`` is separate models everywhere, from the measurements in docs/benchmarks.md (3 losses,
    batch 128): on an H200 the fused bank trained the CIFAR-10 CNN at 9,420 images/s against
    9,870 for separate models (both bound by kernel launches); on an idle 2-core CPU it trained
    the MNIST MLP at 0.47x the images/s of separate models (vmap's batched matmuls run on fewer
    cores at a time than three plain ones). The fused bank stays available, and exactly
    equivalent, for devices where it measures faster.
    """
    del device  # one rule for every device we measured; kept so a future rule can use it
    return "separate" if requested == "auto" else requested


def build_bank(initial: nn.Module, losses: Sequence[PerSampleLoss], config) -> ModelBank:
    """The model bank for an experiment: the one place that chooses how the models are laid out."""
    device = next(initial.parameters()).device
    if device.type == "cuda":
        # TF32 matmuls and convolutions: fp32 weights and accumulation, ~3e-4 relative error per
        # product, several times the fp32 rate on Ampere and later.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    has_conv = _has_conv(initial)
    backend = choose_backend(config.backend, device)
    if backend == "fused":
        from memtui.fused import FusedModels

        if device.type == "cuda" and config.precision == "bf16":
            # vmap's BatchNorm backward under CUDA autocast asks for bf16 running statistics
            # (seen with torch 2.11 on an H200); bf16 was slower than TF32 there anyway.
            raise ConfigError("backend: 'fused' does not support precision 'bf16' on CUDA; "
                              "use backend 'separate' or precision 'fp32'")

        return FusedModels(initial, losses, config.optimizer, config.schedule, config.epochs,
                           config.precision, compile=config.compile)
    channels_last = device.type == "cuda" and has_conv
    return SeparateModels(initial, losses, config.optimizer, config.schedule, config.epochs,
                          config.precision, channels_last=channels_last, compile=config.compile)
