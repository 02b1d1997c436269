"""Loss functions compared by memtui, each declaring whether it is symmetric.

Every loss maps logits [B, K] and integer targets [B] to per-sample losses [B]; the engine takes
the mean. p = softmax(z), y the given label, K classes. Each function's docstring gives its
formula and its reference (docs/losses.md is generated from them); the numbers are checked
against the references' own code (tests/test_losses_golden.py). The references:
the paper = Patel & Sastry, PAKDD 2021, dbp1994/memorization-pakdd-2021 ``losses.py``;
APL = Ma et al., ICML 2020, HanxunH/Active-Passive-Losses ``loss.py`` and ``configs/``;
ALFs = Zhou et al., ICML 2021, hitcszx/ALFs ``lnl/losses.py`` and ``lnl/config.py``;
ANL = Ye et al., NeurIPS 2023, Virusdoll/Active-Negative-Loss ``loss.py`` and ``config/``;
eps-softmax = Wang et al., NeurIPS 2024, cswjl/eps-softmax ``losses.py``.
Defaults are the references' CIFAR-10 settings; their MNIST settings are named where they differ.

The losses built on cross-entropy (CE, and the CE inside SCE, NCE, focal, NFL, Poly-1) use
log-softmax, exactly as ``nn.CrossEntropyLoss`` does: no cap, and a confidently wrong sample keeps
a gradient of about -1 on its true-class logit. Quirks kept because the published numbers were
produced with them:
- clamps: the paper's code clamps p to [1e-8, 1 - 1e-8], APL, ALFs and ANL to [1e-7, 1] where
  they take a log or power of it; memtui's MSE, MAE, RLL, GCE, RCE and APL's MAE clamp to
  [1e-7, 1], ``norm_mse`` to the paper's range; AGCE, AUL and AEL use the unclamped softmax as ALFs;
- ``mae`` is the paper's sum_k |p_k - [k=y]| = 2 - 2 p_y; APL's MAE (in ``nce+mae``, ``nfl+mae``,
  ``ngce+mae``) is 1 - p_y, half of it; APL's NMAE divides that by 2(K - 1) (ALFs' by K - 1);
- APL's NRCE multiplies RCE by ``1 / 4 * (K - 1)``, which Python reads as (K - 1) / 4: kept;
- focal and NFL take the factor (1 - p)^gamma without its gradient (``Variable(logpt.data.exp())``
  in every reference, from clcarwin/focal_loss_pytorch): their gradient is a re-weighted CE's.

Names, parameters (defaults and valid ranges) and the symmetric flag live in the spec table
(``memtui/specs.py``, no torch), which the config checks; here each spec entry is bound to its
function with ``@implements(name)``. A loss L is *symmetric* when sum_j L(f(x), j) is the same
constant for every input and every network output; ``tests/test_losses_golden.py`` checks each
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
PAPER_P_MIN = 1e-8  # the paper's code clamps p to [1e-8, 1 - 1e-8]
ANL_MIN_PROB = 1e-7  # ANL's min_prob, the floor of NNCE's p
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
    #: the parameter that weighs the L1 norm of the network's weights (ANL's delta), if any
    weight_l1: str | None = None

    @classmethod
    def of(cls, spec: specs.Loss, fn: LossFn, weight_l1: str | None = None) -> LossDef:
        return cls(spec.name, spec.title, fn, spec.symmetric, spec.defaults, spec.ranges,
                   weight_l1)

    @property
    def spec(self) -> specs.Loss:
        unbounded = Range(-math.inf, low_inclusive=True)
        return specs.Loss(self.name, self.title, self.symmetric, {
            key: specs.Param(value, self.ranges.get(key, unbounded))
            for key, value in self.defaults.items()})

    def check(self, params: Mapping[str, float]) -> None:
        """Raise ValueError naming the first parameter outside its valid range."""
        self.spec.check(params)

    def bind(self, params: Mapping[str, float] | None = None) -> BoundLoss:
        """The per-sample loss with this definition's defaults overridden by ``params``."""
        kwargs = {**self.defaults, **(params or {})}
        weight = float(kwargs[self.weight_l1]) if self.weight_l1 else 0.0
        return BoundLoss(self.fn, kwargs, weight)


@dataclass(frozen=True)
class BoundLoss:
    """A loss with its parameters: ``loss(logits, target)`` gives the per-sample losses.
    ``weight_l1`` weighs sum |theta| over the network's parameters, which the training step adds
    to the batch mean before the backward pass (ANL's delta; 0 for every other loss)."""

    fn: LossFn
    params: Mapping[str, float]
    weight_l1: float = 0.0

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.fn(logits, target, **self.params)


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


def implements(name: str, weight_l1: str | None = None) -> Callable[[LossFn], LossFn]:
    """Bind the decorated function to the spec entry ``name`` (one implementation per entry);
    ``weight_l1`` names the parameter that weighs the L1 norm of the weights, if the loss has one."""
    if name not in specs.LOSSES:
        raise ValueError(f"loss {name!r} has no entry in memtui/specs.py LOSSES; add one first")
    spec = specs.LOSSES[name]

    def bind(fn: LossFn) -> LossFn:
        if name in REGISTRY:
            raise ValueError(f"loss {name!r} is implemented twice")
        dict.__setitem__(REGISTRY, name, LossDef.of(spec, fn, weight_l1))
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
    """CE: -log p_y, from the uncapped log-softmax (``nn.CrossEntropyLoss``)."""
    return _neg_log_probs(logits).gather(1, target[:, None]).squeeze(1)


@implements("mse")
def mean_squared_error(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE, the paper's ``MSE``: sum_k (p_k - [k=y])^2, p clamped to [1e-7, 1] (the paper's
    code: [1e-8, 1 - 1e-8])."""
    p = _probs(logits)
    onehot = F.one_hot(target, p.shape[1]).to(p.dtype)
    return ((p - onehot) ** 2).sum(dim=1)


@implements("mae")
def mean_absolute_error(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MAE, the paper's ``MAE``: sum_k |p_k - [k=y]| = 2 - 2 p_y, p clamped to [1e-7, 1].
    Symmetric (sum 2(K - 1)). APL's MAE is half of it."""
    return 2.0 - 2.0 * _p_target(logits, target)


@implements("rll")
def robust_log_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
    """RLL, the paper's ``RLL``: log((alpha + 1) / alpha) - log(alpha + p_y)
    + 1/(K - 1) sum_{k != y} log(alpha + p_k), p clamped to [1e-7, 1]. Symmetric (sum
    K log((alpha + 1) / alpha)). alpha = 0.1 at the call site of the paper's code."""
    p = _probs(logits)
    k = p.shape[1]
    log_a_p = torch.log(alpha + p)
    on_target = log_a_p.gather(1, target[:, None]).squeeze(1)
    off_target = (log_a_p.sum(dim=1) - on_target) / (k - 1)
    return math.log((alpha + 1) / alpha) - on_target + off_target


@implements("gce")
def generalized_cross_entropy(logits: torch.Tensor, target: torch.Tensor, q: float) -> torch.Tensor:
    """GCE (Zhang & Sabuncu 2018; APL's ``GeneralizedCrossEntropy``): (1 - p_y^q) / q, p clamped
    to [1e-7, 1]. q = 0.7; q = 1 gives 1 - p_y."""
    return (1.0 - _p_target(logits, target) ** q) / q


@implements("rce")
def reverse_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """RCE (Wang et al. 2019; APL's ``ReverseCrossEntropy``): -sum_k p_k log(clamp([k=y], 1e-4))
    = -log(1e-4) sum_{k != y} p_k, p clamped to [1e-7, 1]. Symmetric (sum -log(1e-4)(K - 1)).

    Written term by term as APL and SCE write it: in float32 the sum of the small off-target p_k
    keeps the precision that 1 - p_y loses on a confident sample (~1e-3 relative at
    p_y = 1 - 5e-5)."""
    p = _probs(logits)
    return -RCE_LOG_ZERO * (p.sum(dim=1) - p.gather(1, target[:, None]).squeeze(1))


@implements("sce")
def symmetric_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float
) -> torch.Tensor:
    """SCE (Wang et al. 2019; APL's ``SCELoss``): alpha * CE + beta * RCE. APL: alpha 0.1, beta 1
    (CIFAR-10); alpha 0.01, beta 1 (MNIST)."""
    return alpha * cross_entropy(logits, target) + beta * reverse_cross_entropy(logits, target)


@implements("nce")
def normalized_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """NCE, APL's ``NormalizedCrossEntropy``: -log p_y / sum_k -log p_k (the denominator over all
    K classes), uncapped log-softmax. Symmetric (sum 1)."""
    neg_log_p = _neg_log_probs(logits)
    return neg_log_p.gather(1, target[:, None]).squeeze(1) / neg_log_p.sum(dim=1)


@implements("nce+rce")
def nce_rce(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """APL's ``NCEandRCE``: alpha * NCE + beta * RCE. APL: alpha 1, beta 1 (CIFAR-10), beta 10
    (MNIST), trained with gradients clipped at norm 5."""
    return alpha * normalized_cross_entropy(logits, target) + beta * reverse_cross_entropy(
        logits, target
    )


def apl_mean_absolute_error(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """APL's ``MeanAbsoluteError``: 1 - p_y (p_y clamped to >= 1e-7), half of the paper's ``mae``."""
    return 1.0 - _p_target(logits, target)


@implements("nce+mae")
def nce_mae(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """APL's ``NCEandMAE``: alpha * NCE + beta * (1 - p_y) (APL's MAE, so beta is APL's beta).
    APL: alpha 1, beta 1 (CIFAR-10), beta 10 (MNIST)."""
    return alpha * normalized_cross_entropy(logits, target) + beta * apl_mean_absolute_error(
        logits, target
    )


def _log_probs(logits: torch.Tensor) -> torch.Tensor:
    return F.log_softmax(logits.float(), dim=1)


def _softmax(logits: torch.Tensor) -> torch.Tensor:
    return F.softmax(logits.float(), dim=1)


def _at(values: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return values.gather(1, target[:, None]).squeeze(1)


# ---------------------------------------------------------------------------------------------
# APL (Ma et al. 2020): the normalised losses and their active-passive pairs.

@implements("focal")
def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float) -> torch.Tensor:
    """Focal loss (Lin et al. 2017), as APL's ``FocalLoss``: -(1 - p_y)^gamma log p_y, the factor
    (1 - p_y)^gamma without gradient. gamma = 0.5 in APL's, ALFs' and ANL's configs."""
    log_p_y = _at(_log_probs(logits), target)
    return -((1.0 - log_p_y.detach().exp()) ** gamma) * log_p_y


@implements("nfl")
def normalized_focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float,
                          scale: float) -> torch.Tensor:
    """NFL, APL's ``NormalizedFocalLoss``: scale * FL(p, y) / sum_k FL(p, k), with
    FL(p, k) = -(1 - p_k)^gamma log p_k, every factor (1 - p_k)^gamma without gradient.
    Symmetric (sum over labels = scale). APL: gamma 0.5, scale 10 on CIFAR-10 and 1 on MNIST."""
    log_p = _log_probs(logits)
    terms = -((1.0 - log_p.detach().exp()) ** gamma) * log_p
    return scale * _at(terms, target) / terms.sum(dim=1)


@implements("ngce")
def normalized_generalized_cross_entropy(logits: torch.Tensor, target: torch.Tensor, q: float,
                                         scale: float) -> torch.Tensor:
    """NGCE, APL's ``NormalizedGeneralizedCrossEntropy``: scale * (1 - p_y^q) / (K - sum_k p_k^q),
    p clamped to [1e-7, 1]. Symmetric (sum = scale). APL: q 0.1; scale 1 on CIFAR-10, 10 on MNIST."""
    p = _probs(logits)
    powered = p**q
    return scale * (1.0 - _at(powered, target)) / (p.shape[1] - powered.sum(dim=1))


@implements("nmae")
def normalized_mean_absolute_error(logits: torch.Tensor, target: torch.Tensor,
                                   scale: float) -> torch.Tensor:
    """NMAE, APL's ``NormalizedMeanAbsoluteError``: scale * (1 - p_y) / (2 (K - 1)).
    Symmetric (sum = scale / 2: APL's MAE is already half of the full MAE)."""
    k = logits.shape[1]
    return scale * apl_mean_absolute_error(logits, target) / (2 * (k - 1))


@implements("nrce")
def normalized_reverse_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                                     scale: float) -> torch.Tensor:
    """NRCE, APL's ``NormalizedReverseCrossEntropy`` as written: scale * (K - 1) / 4 * RCE
    (its ``1 / 4 * (K - 1)``). Symmetric (sum = scale (K - 1)^2 / 4 * -log(1e-4))."""
    k = logits.shape[1]
    return scale * (k - 1) / 4 * reverse_cross_entropy(logits, target)


@implements("nfl+rce")
def nfl_rce(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
            gamma: float) -> torch.Tensor:
    """APL's ``NFLandRCE``: alpha * NFL + beta * RCE. APL: alpha 1, beta 1 (CIFAR-10), beta 10
    (MNIST); gamma 0.5."""
    return (normalized_focal_loss(logits, target, gamma, alpha)
            + beta * reverse_cross_entropy(logits, target))


@implements("nfl+mae")
def nfl_mae(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
            gamma: float) -> torch.Tensor:
    """APL's ``NFLandMAE``: alpha * NFL + beta * (1 - p_y). APL: alpha 1, beta 1 (CIFAR-10),
    beta 10 (MNIST); gamma 0.5."""
    return (normalized_focal_loss(logits, target, gamma, alpha)
            + beta * apl_mean_absolute_error(logits, target))


@implements("ngce+rce")
def ngce_rce(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
             q: float) -> torch.Tensor:
    """APL's ``NGCEandRCE``: alpha * NGCE + beta * RCE. APL: alpha 1, beta 1 (CIFAR-10), beta 10
    (MNIST); q 0.1."""
    return (normalized_generalized_cross_entropy(logits, target, q, alpha)
            + beta * reverse_cross_entropy(logits, target))


@implements("ngce+mae")
def ngce_mae(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
             q: float) -> torch.Tensor:
    """APL's ``NGCEandMAE``: alpha * NGCE + beta * (1 - p_y). APL: alpha 1, beta 1 (CIFAR-10),
    beta 10 (MNIST); q 0.1."""
    return (normalized_generalized_cross_entropy(logits, target, q, alpha)
            + beta * apl_mean_absolute_error(logits, target))


# ---------------------------------------------------------------------------------------------
# ALFs (Zhou et al. 2021): asymmetric losses, unclamped softmax.

@implements("agce")
def asymmetric_gce(logits: torch.Tensor, target: torch.Tensor, a: float, q: float) -> torch.Tensor:
    """AGCE, ALFs' ``AGCELoss``: ((a + 1)^q - (a + p_y)^q) / q. ALFs: a 0.6, q 0.6 (CIFAR-10);
    a 4, q 0.2 (MNIST)."""
    p_y = _at(_softmax(logits), target)
    return ((a + 1) ** q - (a + p_y) ** q) / q


@implements("aul")
def asymmetric_unhinged(logits: torch.Tensor, target: torch.Tensor, a: float,
                        q: float) -> torch.Tensor:
    """AUL, ALFs' ``AUELoss``: ((a - p_y)^q - (a - 1)^q) / q, a > 1. ALFs: a 5.5, q 3
    (CIFAR-10); a 3, q 0.1 (MNIST)."""
    p_y = _at(_softmax(logits), target)
    return ((a - p_y) ** q - (a - 1) ** q) / q


@implements("ael")
def asymmetric_exponential(logits: torch.Tensor, target: torch.Tensor, a: float) -> torch.Tensor:
    """AEL, ALFs' ``AExpLoss``: exp(-p_y / a). ALFs: a 2.5 (CIFAR-10), 3.5 (MNIST)."""
    return torch.exp(-_at(_softmax(logits), target) / a)


@implements("nce+agce")
def nce_agce(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float, a: float,
             q: float) -> torch.Tensor:
    """ALFs' ``NCEandAGCE``: alpha * NCE + beta * AGCE. ALFs: alpha 1, beta 4, a 6, q 1.5
    (CIFAR-10); alpha 0 (no NCE at all), beta 1, a 4, q 0.2 (MNIST)."""
    return (alpha * normalized_cross_entropy(logits, target)
            + beta * asymmetric_gce(logits, target, a, q))


@implements("nce+aul")
def nce_aul(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float, a: float,
            q: float) -> torch.Tensor:
    """ALFs' ``NCEandAUE``: alpha * NCE + beta * AUL. ALFs: alpha 1, beta 4, a 6.3, q 1.5
    (CIFAR-10); alpha 0, beta 1, a 3, q 0.1 (MNIST)."""
    return (alpha * normalized_cross_entropy(logits, target)
            + beta * asymmetric_unhinged(logits, target, a, q))


@implements("nce+ael")
def nce_ael(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
            a: float) -> torch.Tensor:
    """ALFs' ``NCEandAEL``: alpha * NCE + beta * AEL. ALFs: alpha 1, beta 4, a 5 (CIFAR-10);
    alpha 0, beta 1, a 3.5 (MNIST)."""
    return (alpha * normalized_cross_entropy(logits, target)
            + beta * asymmetric_exponential(logits, target, a))


# ---------------------------------------------------------------------------------------------
# ANL (Ye et al. 2023): active-negative loss with CE.

def normalized_negative_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """NNCE, ANL's ``NormalizedNegativeCrossEntropy``: with p clamped to [1e-7, 1] and
    v_k = A + log p_k, A = -log 1e-7 (so v_k >= 0): 1 - v_y / sum_k v_k. Symmetric (sum K - 1)."""
    v = -math.log(ANL_MIN_PROB) + _softmax(logits).clamp(min=ANL_MIN_PROB, max=1.0).log()
    return 1.0 - _at(v, target) / v.sum(dim=1)


@implements("anl-ce", weight_l1="delta")
def anl_ce(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
           delta: float) -> torch.Tensor:
    """ANL-CE, ANL's ``ActiveNegativeLoss(NCE, NNCE)``: alpha * NCE + beta * NNCE
    + delta * ||theta||_1. The L1 term depends on the network's weights, not on the sample:
    this function returns the per-sample part and the training step adds delta * sum |theta| over
    every parameter of the loss's own model (as ANL's code, BatchNorm's included) before the
    backward pass, so clipping sees its gradient as in ANL. ANL: alpha 5, beta 5, delta 5e-5
    and weight decay 0 (CIFAR-10); 1, 1, 1e-6 (MNIST)."""
    del delta  # the weights' term, added by the training step
    return (alpha * normalized_cross_entropy(logits, target)
            + beta * normalized_negative_cross_entropy(logits, target))


# ---------------------------------------------------------------------------------------------
# The paper's norm_mse, Taylor CE, Poly-1, eps-softmax CE + MAE.

@implements("norm_mse")
def normalized_mse(logits: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
    """``norm_mse``, the paper's ``MSE_APL``: alpha * sum_k (p_k - [k=y])^2 / (K ||p||^2 + K - 2),
    p clamped to [1e-8, 1 - 1e-8]; the denominator is sum_j of the numerator over all labels, so
    the loss is symmetric (sum = alpha). alpha = 0.1 at the call site of the paper's code
    (pakdd_exp_1.py; ``get_loss`` falls back to 1)."""
    p = _softmax(logits).clamp(min=PAPER_P_MIN, max=1.0 - PAPER_P_MIN)
    k = p.shape[1]
    onehot = F.one_hot(target, k).to(p.dtype)
    return alpha * ((p - onehot) ** 2).sum(dim=1) / (k * (p**2).sum(dim=1) + k - 2)


@implements("tce")
def taylor_cross_entropy(logits: torch.Tensor, target: torch.Tensor, t: float) -> torch.Tensor:
    """Taylor CE (Feng et al., IJCAI 2020): sum_{k=1}^{t} (1 - p_y)^k / k, the order-t Taylor
    series of -log p_y around p_y = 1 (t = 1 is APL's MAE 1 - p_y; t -> infinity is CE).
    No reference code is public: the formula is the paper's; t = 2 is memtui's default."""
    s = 1.0 - _at(_softmax(logits), target)
    return sum((s**k / k for k in range(1, int(t) + 1)), torch.zeros_like(s))


@implements("poly1")
def poly1_cross_entropy(logits: torch.Tensor, target: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Poly-1 (Leng et al., ICLR 2022, the paper's listing): CE + epsilon * (1 - p_y), CE from the
    uncapped log-softmax, p unclamped. epsilon = 1 as the listing's default; the paper requires
    epsilon >= -1 (the first polynomial coefficient 1 + epsilon stays >= 0)."""
    log_p_y = _at(_log_probs(logits), target)
    return -log_p_y + epsilon * (1.0 - log_p_y.exp())


@implements("ece+mae")
def eps_softmax_ce_mae(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
                       m: float) -> torch.Tensor:
    """CE_eps + MAE, eps-softmax's ``ECEandMAE``: p' = p + m [k = argmax p], divided by m + 1,
    clamped to >= 1e-8; alpha * -log p'_y + beta * 2 (1 - p_y) (its MAE has scale 2). Its
    CIFAR-10 symmetric-noise setting: alpha 0.01, beta 5, m 1e5."""
    p = _softmax(logits)
    boosted = p + m * F.one_hot(p.argmax(dim=1), p.shape[1]).to(p.dtype)
    ece = -_at((boosted / (m + 1)).clamp(min=PAPER_P_MIN).log(), target)
    return alpha * ece + beta * 2.0 * (1.0 - _at(p, target))
