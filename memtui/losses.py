"""Loss functions compared by memtui, each declaring whether it is symmetric.

Every loss maps logits [B, K] and integer targets [B] to per-sample losses [B]; the engine takes
the mean. Formulas and defaults follow docs/reference.md. The losses built on cross-entropy (CE, and the
CE inside SCE and NCE) use log-softmax, exactly as ``nn.CrossEntropyLoss`` does: no cap, and a
confidently wrong sample keeps a gradient of about -1 on its true-class logit. The losses built on
probabilities (MSE, MAE, RLL, GCE, RCE) clamp them to [1e-7, 1], as their reference codes do.

Conventions: ``mae`` is the paper's sum_k |p_k - [k=y]| = 2 - 2 p_y; ``nce+mae`` is APL's
(Ma et al. 2020) alpha * NCE + beta * (1 - p_y), whose MAE is half of ``mae``.

Names, parameters (defaults and valid ranges) and the symmetric flag live in the spec table
(``memtui/specs.py``, no torch), which the config checks; here each spec entry is bound to its
function with ``@implements(name)``. A loss L is *symmetric* when sum_j L(f(x), j) is the same
constant for every input and every network output. ``tests/test_losses.py`` checks each
declaration numerically.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from memtui import specs
from memtui.specs import Range

P_MIN = 1e-7
# RCE's log(0) for the off-target one-hot entries, as in the SCE paper's code.
RCE_LOG_ZERO = math.log(1e-4)

LossFn = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class LossDef:
    """A loss spec bound to its per-sample function ``fn(logits, target, **params)``. The spec's
    fields are repeated here so a loss made on the spot (a test's) needs no spec entry."""

    name: str
    title: str
    fn: LossFn
    symmetric: bool
    defaults: Mapping[str, float] = field(default_factory=dict)
    ranges: Mapping[str, Range] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: specs.Loss, fn: LossFn) -> LossDef:
        return cls(spec.name, spec.title, fn, spec.symmetric, spec.defaults, spec.ranges)

    @property
    def spec(self) -> specs.Loss:
        unbounded = Range(-math.inf, low_inclusive=True)
        return specs.Loss(self.name, self.title, self.symmetric, {
            key: specs.Param(value, self.ranges.get(key, unbounded))
            for key, value in self.defaults.items()})

    def check(self, params: Mapping[str, float]) -> None:
        """Raise ValueError naming the first parameter outside its valid range."""
        self.spec.check(params)

    def bind(self, params: Mapping[str, float] | None = None) -> Callable[..., torch.Tensor]:
        """The per-sample loss with this definition's defaults overridden by ``params``."""
        kwargs = {**self.defaults, **(params or {})}

        def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return self.fn(logits, target, **kwargs)

        return loss


class Registry(dict[str, LossDef]):
    """Loss name -> its bound definition. A loss added here at run time (a test's) enters the
    spec table too, and leaves it with its removal, so the config accepts exactly these names."""

    def __setitem__(self, name: str, definition: LossDef) -> None:
        super().__setitem__(name, definition)
        specs.LOSSES[name] = definition.spec

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        del specs.LOSSES[name]


REGISTRY = Registry()


def implements(name: str) -> Callable[[LossFn], LossFn]:
    """Bind the decorated function to the spec entry ``name`` (one implementation per entry)."""
    if name not in specs.LOSSES:
        raise ValueError(f"loss {name!r} has no entry in memtui/specs.py LOSSES; add one first")
    spec = specs.LOSSES[name]

    def bind(fn: LossFn) -> LossFn:
        if name in REGISTRY:
            raise ValueError(f"loss {name!r} is implemented twice")
        dict.__setitem__(REGISTRY, name, LossDef.of(spec, fn))
        return fn

    return bind


def _probs(logits: torch.Tensor) -> torch.Tensor:
    return F.softmax(logits.float(), dim=1).clamp(min=P_MIN, max=1.0)


def _p_target(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return _probs(logits).gather(1, target[:, None]).squeeze(1)


def _neg_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """-log softmax, uncapped (log-softmax, as nn.CrossEntropyLoss)."""
    return -F.log_softmax(logits.float(), dim=1)


@implements("ce")
def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return _neg_log_probs(logits).gather(1, target[:, None]).squeeze(1)


@implements("mse")
def mean_squared_error(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    p = _probs(logits)
    onehot = F.one_hot(target, p.shape[1]).to(p.dtype)
    return ((p - onehot) ** 2).sum(dim=1)


@implements("mae")
def mean_absolute_error(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 2.0 - 2.0 * _p_target(logits, target)


@implements("rll")
def robust_log_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
    p = _probs(logits)
    k = p.shape[1]
    log_a_p = torch.log(alpha + p)
    on_target = log_a_p.gather(1, target[:, None]).squeeze(1)
    off_target = (log_a_p.sum(dim=1) - on_target) / (k - 1)
    return math.log((alpha + 1) / alpha) - on_target + off_target


@implements("gce")
def generalized_cross_entropy(logits: torch.Tensor, target: torch.Tensor, q: float) -> torch.Tensor:
    return (1.0 - _p_target(logits, target) ** q) / q


def reverse_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-sum_k p_k log(clamp([k=y], 1e-4)) = -log(1e-4) sum_{k != y} p_k, term by term as APL and
    SCE write it: in float32 the sum of the small off-target p_k keeps the precision that
    1 - p_y loses on a confident sample (~1e-3 relative at p_y = 1 - 5e-5)."""
    p = _probs(logits)
    return -RCE_LOG_ZERO * (p.sum(dim=1) - p.gather(1, target[:, None]).squeeze(1))


@implements("sce")
def symmetric_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float
) -> torch.Tensor:
    return alpha * cross_entropy(logits, target) + beta * reverse_cross_entropy(logits, target)


@implements("nce")
def normalized_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    neg_log_p = _neg_log_probs(logits)
    return neg_log_p.gather(1, target[:, None]).squeeze(1) / neg_log_p.sum(dim=1)


@implements("nce+rce")
def nce_rce(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    return alpha * normalized_cross_entropy(logits, target) + beta * reverse_cross_entropy(
        logits, target
    )


def apl_mean_absolute_error(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """APL's MAE, 1 - p_y: half of the paper's ``mae``."""
    return 1.0 - _p_target(logits, target)


@implements("nce+mae")
def nce_mae(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """APL's NCEandMAE: alpha * NCE + beta * (1 - p_y) (so beta here is APL's beta)."""
    return alpha * normalized_cross_entropy(logits, target) + beta * apl_mean_absolute_error(
        logits, target
    )
