"""Loss functions compared by memtui, each declaring whether it is symmetric.

Every loss maps logits [B, K] and integer targets [B] to per-sample losses [B]; the engine takes
the mean. Formulas and defaults follow docs/reference.md; probabilities are clamped to [1e-7, 1] so that
logs stay finite for saturated softmax outputs.

A loss L is *symmetric* when sum_j L(f(x), j) is the same constant for every input and every
network output. ``tests/test_losses.py`` checks each declaration numerically.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

P_MIN = 1e-7
# RCE's log(0) for the off-target one-hot entries, as in the SCE paper's code.
RCE_LOG_ZERO = math.log(1e-4)

LossFn = Callable[..., torch.Tensor]


def _probs(logits: torch.Tensor) -> torch.Tensor:
    return F.softmax(logits.float(), dim=1).clamp(min=P_MIN, max=1.0)


def _p_target(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return _probs(logits).gather(1, target[:, None]).squeeze(1)


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return -torch.log(_p_target(logits, target))


def mean_squared_error(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    p = _probs(logits)
    onehot = F.one_hot(target, p.shape[1]).to(p.dtype)
    return ((p - onehot) ** 2).sum(dim=1)


def mean_absolute_error(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 2.0 - 2.0 * _p_target(logits, target)


def robust_log_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
    p = _probs(logits)
    k = p.shape[1]
    log_a_p = torch.log(alpha + p)
    on_target = log_a_p.gather(1, target[:, None]).squeeze(1)
    off_target = (log_a_p.sum(dim=1) - on_target) / (k - 1)
    return math.log((alpha + 1) / alpha) - on_target + off_target


def generalized_cross_entropy(logits: torch.Tensor, target: torch.Tensor, q: float) -> torch.Tensor:
    return (1.0 - _p_target(logits, target) ** q) / q


def reverse_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return -RCE_LOG_ZERO * (1.0 - _p_target(logits, target))


def symmetric_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float
) -> torch.Tensor:
    return alpha * cross_entropy(logits, target) + beta * reverse_cross_entropy(logits, target)


def normalized_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    neg_log_p = -torch.log(_probs(logits))
    return neg_log_p.gather(1, target[:, None]).squeeze(1) / neg_log_p.sum(dim=1)


def nce_rce(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    return alpha * normalized_cross_entropy(logits, target) + beta * reverse_cross_entropy(
        logits, target
    )


def nce_mae(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    return alpha * normalized_cross_entropy(logits, target) + beta * mean_absolute_error(
        logits, target
    )


@dataclass(frozen=True)
class LossDef:
    name: str
    title: str
    fn: LossFn
    symmetric: bool
    defaults: Mapping[str, float] = field(default_factory=dict)

    def bind(self, params: Mapping[str, float] | None = None) -> Callable[..., torch.Tensor]:
        """The per-sample loss with this definition's defaults overridden by ``params``."""
        kwargs = {**self.defaults, **(params or {})}

        def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return self.fn(logits, target, **kwargs)

        return loss


REGISTRY: dict[str, LossDef] = {
    d.name: d
    for d in [
        LossDef("ce", "cross-entropy", cross_entropy, symmetric=False),
        LossDef("mse", "squared error", mean_squared_error, symmetric=False),
        LossDef("mae", "mean absolute error", mean_absolute_error, symmetric=True),
        LossDef("rll", "robust log loss", robust_log_loss, symmetric=True, defaults={"alpha": 0.1}),
        LossDef("gce", "generalized cross-entropy", generalized_cross_entropy, symmetric=False,
                defaults={"q": 0.7}),
        LossDef("sce", "symmetric cross-entropy", symmetric_cross_entropy, symmetric=False,
                defaults={"alpha": 0.1, "beta": 1.0}),
        LossDef("nce", "normalized cross-entropy", normalized_cross_entropy, symmetric=True),
        LossDef("nce+rce", "active-passive NCE+RCE", nce_rce, symmetric=True,
                defaults={"alpha": 1.0, "beta": 1.0}),
        LossDef("nce+mae", "active-passive NCE+MAE", nce_mae, symmetric=True,
                defaults={"alpha": 1.0, "beta": 1.0}),
    ]
}
