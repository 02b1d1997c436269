"""All losses' models as one computation: stacked parameters, one vmapped forward, one optimiser.

``FusedModels`` holds every parameter and buffer of the M models as one tensor with a leading
model dimension and runs the forward pass of all models with ``torch.func.vmap`` over
``functional_call``: linear layers become one batched matmul, convolutions one grouped convolution.
Per step that is one set of kernel launches instead of M, which is what matters when each model is
small next to the device (a CNN on CIFAR-10 batches of 128 on a GPU).

Why the results equal separate training (``tests/test_fused.py`` checks each point):
- the models share nothing but the input batch: the sum of their losses has, for model i's slice,
  the gradient of loss i alone, so a NaN in one model cannot reach another;
- SGD (momentum, weight decay) and Adam update each element from that element's own gradient and
  state, so one optimiser over stacked tensors makes the same update as one optimiser per model
  (all models share one learning-rate schedule);
- gradient clipping (``optimizer.clip_grad_norm``) scales model i's slices by model i's own total
  norm, as ``clip_grad_norm_`` on a separate model; a loss's L1 norm of the weights (ANL's delta)
  is model i's slices' alone;
- BatchNorm's running statistics are stacked buffers updated in place per model inside vmap;
- a model the engine has dropped (diverged) is frozen as a separate model would be: its slices of
  parameters, buffers and optimiser state are put back after each step.

``state_dict`` has exactly the layout of ``SeparateModels.state_dict``, so a checkpoint written by
one backend resumes in the other.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, vmap

from memtui.bank.optim import (
    PerSampleLoss,
    autocast_context,
    make_optimizer,
    make_scheduler,
    weight_l1_of,
)
from memtui.config import OptimizerConfig, ScheduleConfig


class FusedModels:
    def __init__(
        self,
        initial: nn.Module,
        losses: Sequence[PerSampleLoss],
        optimizer: OptimizerConfig,
        schedule: ScheduleConfig,
        epochs: int,
        precision: str = "fp32",
        compile: bool = False,
    ) -> None:
        self.losses = list(losses)
        self.count = len(self.losses)
        self.device = next(initial.parameters()).device
        self.precision = precision
        # Structure and train/eval flag only; every tensor it computes with comes from the stacks.
        self.skeleton = copy.deepcopy(initial).to("meta")
        self.state_keys = list(initial.state_dict().keys())
        m = self.count
        self.params: dict[str, torch.Tensor] = {
            name: p.detach().unsqueeze(0).repeat(m, *([1] * p.dim())).requires_grad_()
            for name, p in initial.named_parameters()
        }
        self.buffers: dict[str, torch.Tensor] = {
            name: b.detach().unsqueeze(0).repeat(m, *([1] * b.dim()))
            for name, b in initial.named_buffers()
        }
        self.optimizer = make_optimizer(list(self.params.values()), optimizer)
        self.clip_grad_norm = optimizer.clip_grad_norm
        self.weight_l1 = [weight_l1_of(loss) for loss in self.losses]
        self.scheduler = make_scheduler(self.optimizer, schedule, epochs)
        self._forward = torch.compile(self._forward_all) if compile else self._forward_all

    # -- computation -----------------------------------------------------------------------------

    def _forward_one(self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
                     x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.skeleton, (params, buffers), (x,))

    def _forward_all(self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
                     x: torch.Tensor) -> torch.Tensor:
        """Logits of every model, [M, B, K]; BatchNorm buffers update in place in train mode."""
        return vmap(self._forward_one, in_dims=(0, 0, None), randomness="different")(
            params, buffers, x)

    def train_step(self, x: torch.Tensor, y: torch.Tensor, active: Sequence[int]) -> list[torch.Tensor]:
        frozen = [i for i in range(self.count) if i not in set(active)]
        saved = self._save(frozen) if frozen else None
        with autocast_context(self.device, self.precision):
            logits = self._forward(self.params, self.buffers, x)
        losses = [self.losses[i](logits[i], y).mean() for i in active]
        if any(self.weight_l1[i] for i in active):
            norms = torch.stack([p.abs().flatten(1).sum(1) for p in self.params.values()]).sum(0)
            losses = [loss + self.weight_l1[i] * norms[i] if self.weight_l1[i] else loss
                      for loss, i in zip(losses, active)]
        self.optimizer.zero_grad(set_to_none=True)
        torch.stack(losses).sum().backward()
        if self.clip_grad_norm is not None:
            self._clip_each_model(self.clip_grad_norm)
        self.optimizer.step()
        if saved is not None:
            self._restore(frozen, saved)
        return [loss.detach() for loss in losses]

    @torch.no_grad()
    def _clip_each_model(self, max_norm: float) -> None:
        """clip_grad_norm_ per model: model i's slices of every gradient, scaled together by
        max_norm / (their total L2 norm + 1e-6) where that is below 1, as torch's function."""
        grads = [p.grad for p in self.params.values() if p.grad is not None]
        norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads])
        coef = (max_norm / (torch.linalg.vector_norm(norms, dim=0) + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(-1, *([1] * (g.dim() - 1))).to(g.dtype))

    def logits(self, index: int, x: torch.Tensor) -> torch.Tensor:
        params = {name: p[index] for name, p in self.params.items()}
        buffers = {name: b[index] for name, b in self.buffers.items()}
        with autocast_context(self.device, self.precision):
            return self._forward_one(params, buffers, x).float()

    # -- freezing dropped models -----------------------------------------------------------------

    def _optimizer_slices(self):
        """(param, state key, tensor) for every per-element optimiser state tensor."""
        for p in self.params.values():
            for key, value in self.optimizer.state.get(p, {}).items():
                if torch.is_tensor(value) and value.shape == p.shape:
                    yield p, key, value

    def _frozen_index(self, frozen: list[int]) -> torch.Tensor:
        """The index tensor of the frozen models, made once per change: building it from a list
        on every step would be a host-to-device copy, and a sync, per step."""
        key = tuple(frozen)
        if getattr(self, "_frozen_key", None) != key:
            self._frozen_key = key
            self._frozen_idx = torch.tensor(frozen, device=self.device)
        return self._frozen_idx

    def _save(self, frozen: list[int]) -> dict[str, Any]:
        idx = self._frozen_index(frozen)
        return {
            "params": [p.detach()[idx].clone() for p in self.params.values()],
            "buffers": [b[idx].clone() for b in self.buffers.values()],
            "state": {(id(p), key): v[idx].clone() for p, key, v in self._optimizer_slices()},
        }

    @torch.no_grad()
    def _restore(self, frozen: list[int], saved: dict[str, Any]) -> None:
        idx = self._frozen_index(frozen)
        for p, value in zip(self.params.values(), saved["params"]):
            p[idx] = value
        for b, value in zip(self.buffers.values(), saved["buffers"]):
            b[idx] = value
        for p, key, v in self._optimizer_slices():
            # State born in this step (none before) starts at zero for a frozen model.
            v[idx] = saved["state"].get((id(p), key), torch.zeros_like(v[idx]))

    # -- the rest of the ModelBank protocol ------------------------------------------------------

    def set_mode(self, train: bool) -> None:
        self.skeleton.train(train)

    def end_epoch(self) -> None:
        self.scheduler.step()

    def lr(self, index: int) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def model_state(self, index: int) -> dict[str, torch.Tensor]:
        """Model ``index``'s state_dict, as its own nn.Module would give it."""
        tensors = {**self.params, **self.buffers}
        return {key: tensors[key][index].detach().clone() for key in self.state_keys}

    def state_dict(self) -> dict[str, Any]:
        fused = self.optimizer.state_dict()
        shapes = [p.shape for p in self.params.values()]

        def optimizer_state(i: int) -> dict[str, Any]:
            state = {
                k: {key: (v[i].clone() if torch.is_tensor(v) and v.shape == shapes[k] else
                          copy.deepcopy(v)) for key, v in entry.items()}
                for k, entry in fused["state"].items()
            }
            return {"state": state, "param_groups": copy.deepcopy(fused["param_groups"])}

        schedule = self.scheduler.state_dict()
        return {
            "models": [self.model_state(i) for i in range(self.count)],
            "optimizers": [optimizer_state(i) for i in range(self.count)],
            "schedulers": [copy.deepcopy(schedule) for _ in range(self.count)],
        }

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        models = state["models"]
        if len(models) != self.count:
            raise ValueError(f"state holds {len(models)} models; this bank has {self.count}")
        for name, p in self.params.items():
            p.copy_(torch.stack([saved[name] for saved in models]))
        for name, b in self.buffers.items():
            b.copy_(torch.stack([saved[name] for saved in models]))
        per_model = state["optimizers"]
        shapes = [p.shape for p in self.params.values()]
        fused_state = {}
        for k, entry in per_model[0]["state"].items():
            fused_state[k] = {
                key: (torch.stack([opt["state"][k][key] for opt in per_model])
                      if torch.is_tensor(v) and (self.count,) + tuple(v.shape) == tuple(shapes[k])
                      else v)
                for key, v in entry.items()
            }
        self.optimizer.load_state_dict(
            {"state": fused_state, "param_groups": per_model[0]["param_groups"]})
        self.scheduler.load_state_dict(state["schedulers"][0])
