"""Loss functions compared by memtui, each declaring whether it is symmetric.

Every loss maps logits [B, K] and integer targets [B] to per-sample losses [B]; the engine takes
the mean. Formulas and defaults follow docs/reference.md. The losses built on cross-entropy (CE, and the
CE inside SCE and NCE) use log-softmax, exactly as ``nn.CrossEntropyLoss`` does: no cap, and a
confidently wrong sample keeps a gradient of about -1 on its true-class logit. The losses built on
probabilities (MSE, MAE, RLL, GCE, RCE) clamp them to [1e-7, 1], as their reference codes do.

Conventions: ``mae`` is the paper's sum_k |p_k - [k=y]| = 2 - 2 p_y; ``nce+mae`` is APL's
(Ma et al. 2020) alpha * NCE + beta * (1 - p_y), whose MAE is half of ``mae``.

Each definition carries the valid range of each of its parameters (``ParamRange``); the config
refuses a value outside it at load time (a zero where a formula divides by it, for example).

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


def _neg_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """-log softmax, uncapped (log-softmax, as nn.CrossEntropyLoss)."""
    return -F.log_softmax(logits.float(), dim=1)


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return _neg_log_probs(logits).gather(1, target[:, None]).squeeze(1)


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
    neg_log_p = _neg_log_probs(logits)
    return neg_log_p.gather(1, target[:, None]).squeeze(1) / neg_log_p.sum(dim=1)


def nce_rce(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    return alpha * normalized_cross_entropy(logits, target) + beta * reverse_cross_entropy(
        logits, target
    )


def apl_mean_absolute_error(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """APL's MAE, 1 - p_y: half of the paper's ``mae``."""
    return 1.0 - _p_target(logits, target)


def nce_mae(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """APL's NCEandMAE: alpha * NCE + beta * (1 - p_y) (so beta here is APL's beta)."""
    return alpha * normalized_cross_entropy(logits, target) + beta * apl_mean_absolute_error(
        logits, target
    )


@dataclass(frozen=True)
class ParamRange:
    """The values a loss parameter may take: low < x (or low <= x) and x <= high (if any)."""

    low: float
    low_inclusive: bool = False
    high: float | None = None
    reason: str = ""

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value >= self.low if self.low_inclusive else value > self.low
        return above and (self.high is None or value <= self.high)

    def describe(self) -> str:
        low = f"{self.low:g} {'<=' if self.low_inclusive else '<'} x"
        text = f"{low} <= {self.high:g}" if self.high is not None else low
        return text + (f" ({self.reason})" if self.reason else "")


POSITIVE_ALPHA = ParamRange(0.0, reason="the formula divides by alpha")
GCE_Q = ParamRange(0.0, high=1.0, reason="GCE is defined for 0 < q <= 1; it divides by q")
WEIGHT = ParamRange(0.0, low_inclusive=True, reason="a weight of the sum")


@dataclass(frozen=True)
class LossDef:
    name: str
    title: str
    fn: LossFn
    symmetric: bool
    defaults: Mapping[str, float] = field(default_factory=dict)
    ranges: Mapping[str, ParamRange] = field(default_factory=dict)

    def check(self, params: Mapping[str, float]) -> None:
        """Raise ValueError naming the first parameter outside its valid range."""
        for key, value in params.items():
            valid = self.ranges.get(key)
            if valid is not None and not valid.contains(value):
                raise ValueError(
                    f"loss {self.name!r}: {key} = {value:g} is out of range; valid: {valid.describe()}"
                )

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
        LossDef("rll", "robust log loss", robust_log_loss, symmetric=True, defaults={"alpha": 0.1},
                ranges={"alpha": POSITIVE_ALPHA}),
        LossDef("gce", "generalized cross-entropy", generalized_cross_entropy, symmetric=False,
                defaults={"q": 0.7}, ranges={"q": GCE_Q}),
        LossDef("sce", "symmetric cross-entropy", symmetric_cross_entropy, symmetric=False,
                defaults={"alpha": 0.1, "beta": 1.0}, ranges={"alpha": WEIGHT, "beta": WEIGHT}),
        LossDef("nce", "normalized cross-entropy", normalized_cross_entropy, symmetric=True),
        LossDef("nce+rce", "active-passive NCE+RCE", nce_rce, symmetric=True,
                defaults={"alpha": 1.0, "beta": 1.0}, ranges={"alpha": WEIGHT, "beta": WEIGHT}),
        LossDef("nce+mae", "active-passive NCE+MAE (APL's MAE, 1 - p_y)", nce_mae, symmetric=True,
                defaults={"alpha": 1.0, "beta": 1.0}, ranges={"alpha": WEIGHT, "beta": WEIGHT}),
    ]
}
