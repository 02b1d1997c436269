"""The losses of the comparisons published since the paper, as their reference codes define them.

Sources (each function names its own): APL = Ma et al., ICML 2020, HanxunH/Active-Passive-Losses
``loss.py``; ALFs = Zhou et al., ICML 2021, hitcszx/ALFs ``lnl/losses.py`` and ``lnl/config.py``;
ANL = Ye et al., NeurIPS 2023, Virusdoll/Active-Negative-Loss ``loss.py`` and ``config/``;
eps-softmax = Wang et al., NeurIPS 2024, cswjl/eps-softmax ``losses.py``; the paper = Patel &
Sastry, PAKDD 2021, dbp1994/memorization-pakdd-2021 ``losses.py``.

p = softmax(z), y the given label, K classes. Every function maps logits [B, K] and labels [B] to
per-sample losses [B] (the references return the batch mean of the same per-sample terms).
Defaults are the references' CIFAR-10 settings; their MNIST settings are named where they differ.

Quirks kept because every published number was produced with them:
- focal and NFL take the modulating factor (1 - p)^gamma *without* its gradient (the references'
  ``Variable(logpt.data.exp())``, from clcarwin/focal_loss_pytorch): the gradient is that of a
  re-weighted CE, not the derivative of the focal formula. NFL's normaliser keeps the gradient of
  its log p terms.
- APL's MAE is 1 - p_y (half of memtui's ``mae``); APL's NMAE divides it by 2(K - 1), so its sum
  over labels is 1/2 (ALFs' NMAE divides by K - 1 instead).
- APL's NRCE multiplies RCE by ``1 / 4 * (K - 1)``, which Python reads as (K - 1) / 4 (the
  normaliser of RCE, 1 / (-(K - 1) log 1e-4), was presumably meant): kept as written.
- Clamps: APL, ALFs and ANL clamp p to [1e-7, 1] where they take a log or a power of it (RCE,
  GCE, NGCE, NNCE); NCE, NFL, focal and CE use the unclamped log-softmax; AGCE, AUL, AEL and MAE
  use the unclamped softmax; the paper's ``norm_mse`` clamps p to [1e-8, 1 - 1e-8].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from memtui.losses import (
    GCE_Q,
    WEIGHT,
    LossDef,
    ParamRange,
    normalized_cross_entropy,
    reverse_cross_entropy,
)

APL_P_MIN = 1e-7
PAPER_P_MIN = 1e-8
ANL_MIN_PROB = 1e-7


def _log_probs(logits: torch.Tensor) -> torch.Tensor:
    return F.log_softmax(logits.float(), dim=1)


def _softmax(logits: torch.Tensor) -> torch.Tensor:
    return F.softmax(logits.float(), dim=1)


def _at(values: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return values.gather(1, target[:, None]).squeeze(1)


# ---------------------------------------------------------------------------------------------
# APL (Ma et al. 2020): the normalised losses and their active-passive pairs.

def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float) -> torch.Tensor:
    """Focal loss (Lin et al. 2017), as APL's ``FocalLoss``: -(1 - p_y)^gamma log p_y, the factor
    (1 - p_y)^gamma without gradient. gamma = 0.5 in APL's, ALFs' and ANL's configs."""
    log_p_y = _at(_log_probs(logits), target)
    return -((1.0 - log_p_y.detach().exp()) ** gamma) * log_p_y


def normalized_focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float,
                          scale: float) -> torch.Tensor:
    """NFL, APL's ``NormalizedFocalLoss``: scale * FL(p, y) / sum_k FL(p, k), with
    FL(p, k) = -(1 - p_k)^gamma log p_k, every factor (1 - p_k)^gamma without gradient.
    Symmetric (sum over labels = scale). APL: gamma 0.5, scale 10 on CIFAR-10 and 1 on MNIST."""
    log_p = _log_probs(logits)
    terms = -((1.0 - log_p.detach().exp()) ** gamma) * log_p
    return scale * _at(terms, target) / terms.sum(dim=1)


def normalized_generalized_cross_entropy(logits: torch.Tensor, target: torch.Tensor, q: float,
                                         scale: float) -> torch.Tensor:
    """NGCE, APL's ``NormalizedGeneralizedCrossEntropy``: scale * (1 - p_y^q) / (K - sum_k p_k^q),
    p clamped to [1e-7, 1]. Symmetric (sum = scale). APL: q 0.1; scale 1 on CIFAR-10, 10 on MNIST."""
    p = _softmax(logits).clamp(min=APL_P_MIN, max=1.0)
    powered = p**q
    return scale * (1.0 - _at(powered, target)) / (p.shape[1] - powered.sum(dim=1))


def apl_mae(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """APL's ``MeanAbsoluteError``: 1 - p_y (unclamped), half of the paper's sum_k |p_k - [k=y]|."""
    return 1.0 - _at(_softmax(logits), target)


def apl_rce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """APL's ``ReverseCrossEntropy``: -log(1e-4) sum_{k != y} p_k, p clamped to [1e-7, 1]
    (memtui's RCE, the one of ``sce`` and ``nce+rce``)."""
    return reverse_cross_entropy(logits, target)


def normalized_mean_absolute_error(logits: torch.Tensor, target: torch.Tensor,
                                   scale: float) -> torch.Tensor:
    """NMAE, APL's ``NormalizedMeanAbsoluteError``: scale * (1 - p_y) / (2 (K - 1)).
    Symmetric (sum = scale / 2: APL's MAE is already half of the full MAE)."""
    k = logits.shape[1]
    return scale * apl_mae(logits, target) / (2 * (k - 1))


def normalized_reverse_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                                     scale: float) -> torch.Tensor:
    """NRCE, APL's ``NormalizedReverseCrossEntropy`` as written: scale * (K - 1) / 4 * RCE
    (its ``1 / 4 * (K - 1)``). Symmetric (sum = scale (K - 1)^2 / 4 * -log(1e-4))."""
    k = logits.shape[1]
    return scale * (k - 1) / 4 * apl_rce(logits, target)


def nfl_rce(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
            gamma: float) -> torch.Tensor:
    """APL's ``NFLandRCE``: alpha * NFL + beta * RCE. APL: alpha 1, beta 1 (CIFAR-10), beta 10
    (MNIST); gamma 0.5."""
    return (normalized_focal_loss(logits, target, gamma, alpha)
            + beta * apl_rce(logits, target))


def nfl_mae(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
            gamma: float) -> torch.Tensor:
    """APL's ``NFLandMAE``: alpha * NFL + beta * (1 - p_y). APL: alpha 1, beta 1 (CIFAR-10),
    beta 10 (MNIST); gamma 0.5."""
    return (normalized_focal_loss(logits, target, gamma, alpha)
            + beta * apl_mae(logits, target))


def ngce_rce(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
             q: float) -> torch.Tensor:
    """APL's ``NGCEandRCE``: alpha * NGCE + beta * RCE. APL: alpha 1, beta 1 (CIFAR-10), beta 10
    (MNIST); q 0.1."""
    return (normalized_generalized_cross_entropy(logits, target, q, alpha)
            + beta * apl_rce(logits, target))


def ngce_mae(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
             q: float) -> torch.Tensor:
    """APL's ``NGCEandMAE``: alpha * NGCE + beta * (1 - p_y). APL: alpha 1, beta 1 (CIFAR-10),
    beta 10 (MNIST); q 0.1."""
    return (normalized_generalized_cross_entropy(logits, target, q, alpha)
            + beta * apl_mae(logits, target))


# ---------------------------------------------------------------------------------------------
# ALFs (Zhou et al. 2021): asymmetric losses, unclamped softmax.

def asymmetric_gce(logits: torch.Tensor, target: torch.Tensor, a: float, q: float) -> torch.Tensor:
    """AGCE, ALFs' ``AGCELoss``: ((a + 1)^q - (a + p_y)^q) / q. ALFs: a 0.6, q 0.6 (CIFAR-10);
    a 4, q 0.2 (MNIST)."""
    p_y = _at(_softmax(logits), target)
    return ((a + 1) ** q - (a + p_y) ** q) / q


def asymmetric_unhinged(logits: torch.Tensor, target: torch.Tensor, a: float,
                        q: float) -> torch.Tensor:
    """AUL, ALFs' ``AUELoss``: ((a - p_y)^q - (a - 1)^q) / q, a > 1. ALFs: a 5.5, q 3
    (CIFAR-10); a 3, q 0.1 (MNIST)."""
    p_y = _at(_softmax(logits), target)
    return ((a - p_y) ** q - (a - 1) ** q) / q


def asymmetric_exponential(logits: torch.Tensor, target: torch.Tensor, a: float) -> torch.Tensor:
    """AEL, ALFs' ``AExpLoss``: exp(-p_y / a). ALFs: a 2.5 (CIFAR-10), 3.5 (MNIST)."""
    return torch.exp(-_at(_softmax(logits), target) / a)


def nce_agce(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float, a: float,
             q: float) -> torch.Tensor:
    """ALFs' ``NCEandAGCE``: alpha * NCE + beta * AGCE. ALFs: alpha 1, beta 4, a 6, q 1.5
    (CIFAR-10); alpha 0 (no NCE at all), beta 1, a 4, q 0.2 (MNIST)."""
    return (alpha * normalized_cross_entropy(logits, target)
            + beta * asymmetric_gce(logits, target, a, q))


def nce_aul(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float, a: float,
            q: float) -> torch.Tensor:
    """ALFs' ``NCEandAUE``: alpha * NCE + beta * AUL. ALFs: alpha 1, beta 4, a 6.3, q 1.5
    (CIFAR-10); alpha 0, beta 1, a 3, q 0.1 (MNIST)."""
    return (alpha * normalized_cross_entropy(logits, target)
            + beta * asymmetric_unhinged(logits, target, a, q))


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

def normalized_mse(logits: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
    """``norm_mse``, the paper's ``MSE_APL``: alpha * sum_k (p_k - [k=y])^2 / (K ||p||^2 + K - 2),
    p clamped to [1e-8, 1 - 1e-8]; the denominator is sum_j of the numerator over all labels, so
    the loss is symmetric (sum = alpha). alpha = 0.1 at the call site of the paper's code
    (pakdd_exp_1.py; ``get_loss`` falls back to 1)."""
    p = _softmax(logits).clamp(min=PAPER_P_MIN, max=1.0 - PAPER_P_MIN)
    k = p.shape[1]
    onehot = F.one_hot(target, k).to(p.dtype)
    return alpha * ((p - onehot) ** 2).sum(dim=1) / (k * (p**2).sum(dim=1) + k - 2)


def taylor_cross_entropy(logits: torch.Tensor, target: torch.Tensor, t: float) -> torch.Tensor:
    """Taylor CE (Feng et al., IJCAI 2020): sum_{k=1}^{t} (1 - p_y)^k / k, the order-t Taylor
    series of -log p_y around p_y = 1 (t = 1 is APL's MAE 1 - p_y; t -> infinity is CE).
    No reference code is public: the formula is the paper's; t = 2 is memtui's default."""
    s = 1.0 - _at(_softmax(logits), target)
    return sum((s**k / k for k in range(1, int(t) + 1)), torch.zeros_like(s))


def poly1_cross_entropy(logits: torch.Tensor, target: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Poly-1 (Leng et al., ICLR 2022, the paper's listing): CE + epsilon * (1 - p_y), CE from the
    uncapped log-softmax, p unclamped. epsilon = 1 as the listing's default; the paper requires
    epsilon >= -1 (the first polynomial coefficient 1 + epsilon stays >= 0)."""
    log_p_y = _at(_log_probs(logits), target)
    return -log_p_y + epsilon * (1.0 - log_p_y.exp())


def eps_softmax_ce_mae(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
                       m: float) -> torch.Tensor:
    """CE_eps + MAE, eps-softmax's ``ECEandMAE``: p' = p + m [k = argmax p], divided by m + 1,
    clamped to >= 1e-8; alpha * -log p'_y + beta * 2 (1 - p_y) (its MAE has scale 2). Its
    CIFAR-10 symmetric-noise setting: alpha 0.01, beta 5, m 1e5."""
    p = _softmax(logits)
    boosted = p + m * F.one_hot(p.argmax(dim=1), p.shape[1]).to(p.dtype)
    ece = -_at((boosted / (m + 1)).clamp(min=PAPER_P_MIN).log(), target)
    return alpha * ece + beta * 2.0 * (1.0 - _at(p, target))


# ---------------------------------------------------------------------------------------------
# Ranges and definitions.

class IntegerRange(ParamRange):
    """A ParamRange whose values must also be whole numbers (an order of a series)."""

    def contains(self, value: float) -> bool:
        return super().contains(value) and float(value).is_integer()

    def describe(self) -> str:
        return "a whole number, " + super().describe()


GAMMA = ParamRange(0.0, low_inclusive=True, reason="the focusing exponent; 0 gives CE")
SCALE = ParamRange(0.0, low_inclusive=True, reason="a factor of the loss")
NGCE_Q = GCE_Q
ASYM_A = ParamRange(0.0, reason="AGCE and AEL need a > 0")
AUL_A = ParamRange(1.0, reason="AUL needs a > 1 ((a - 1)^q)")
ASYM_Q = ParamRange(0.0, reason="the formula divides by q")
TAYLOR_T = IntegerRange(1.0, low_inclusive=True, high=100.0, reason="the order of the series")
POLY_EPS = ParamRange(-1.0, low_inclusive=True, reason="Poly-1 needs 1 + epsilon >= 0")
ECE_M = ParamRange(0.0, low_inclusive=True, reason="the boost of the largest probability")

NEW_LOSSES: list[LossDef] = [
    LossDef("rce", "reverse cross-entropy (APL's)", apl_rce, symmetric=True),
    LossDef("focal", "focal loss (APL's, factor without gradient)", focal_loss, symmetric=False,
            defaults={"gamma": 0.5}, ranges={"gamma": GAMMA}),
    LossDef("nfl", "normalized focal loss", normalized_focal_loss, symmetric=True,
            defaults={"gamma": 0.5, "scale": 10.0}, ranges={"gamma": GAMMA, "scale": SCALE}),
    LossDef("ngce", "normalized generalized cross-entropy", normalized_generalized_cross_entropy,
            symmetric=True, defaults={"q": 0.1, "scale": 1.0},
            ranges={"q": NGCE_Q, "scale": SCALE}),
    LossDef("nmae", "normalized MAE (APL's, (1 - p_y) / 2(K-1))", normalized_mean_absolute_error,
            symmetric=True, defaults={"scale": 1.0}, ranges={"scale": SCALE}),
    LossDef("nrce", "normalized RCE (APL's, (K-1)/4 * RCE as written)",
            normalized_reverse_cross_entropy, symmetric=True, defaults={"scale": 1.0},
            ranges={"scale": SCALE}),
    LossDef("nfl+rce", "active-passive NFL+RCE", nfl_rce, symmetric=True,
            defaults={"alpha": 1.0, "beta": 1.0, "gamma": 0.5},
            ranges={"alpha": WEIGHT, "beta": WEIGHT, "gamma": GAMMA}),
    LossDef("nfl+mae", "active-passive NFL+MAE (APL's MAE, 1 - p_y)", nfl_mae, symmetric=True,
            defaults={"alpha": 1.0, "beta": 1.0, "gamma": 0.5},
            ranges={"alpha": WEIGHT, "beta": WEIGHT, "gamma": GAMMA}),
    LossDef("ngce+rce", "active-passive NGCE+RCE", ngce_rce, symmetric=True,
            defaults={"alpha": 1.0, "beta": 1.0, "q": 0.1},
            ranges={"alpha": WEIGHT, "beta": WEIGHT, "q": NGCE_Q}),
    LossDef("ngce+mae", "active-passive NGCE+MAE (APL's MAE, 1 - p_y)", ngce_mae, symmetric=True,
            defaults={"alpha": 1.0, "beta": 1.0, "q": 0.1},
            ranges={"alpha": WEIGHT, "beta": WEIGHT, "q": NGCE_Q}),
    LossDef("agce", "asymmetric generalized cross-entropy", asymmetric_gce, symmetric=False,
            defaults={"a": 0.6, "q": 0.6}, ranges={"a": ASYM_A, "q": ASYM_Q}),
    LossDef("aul", "asymmetric unhinged loss", asymmetric_unhinged, symmetric=False,
            defaults={"a": 5.5, "q": 3.0}, ranges={"a": AUL_A, "q": ASYM_Q}),
    LossDef("ael", "asymmetric exponential loss", asymmetric_exponential, symmetric=False,
            defaults={"a": 2.5}, ranges={"a": ASYM_A}),
    LossDef("nce+agce", "NCE + AGCE", nce_agce, symmetric=False,
            defaults={"alpha": 1.0, "beta": 4.0, "a": 6.0, "q": 1.5},
            ranges={"alpha": WEIGHT, "beta": WEIGHT, "a": ASYM_A, "q": ASYM_Q}),
    LossDef("nce+aul", "NCE + AUL", nce_aul, symmetric=False,
            defaults={"alpha": 1.0, "beta": 4.0, "a": 6.3, "q": 1.5},
            ranges={"alpha": WEIGHT, "beta": WEIGHT, "a": AUL_A, "q": ASYM_Q}),
    LossDef("nce+ael", "NCE + AEL", nce_ael, symmetric=False,
            defaults={"alpha": 1.0, "beta": 4.0, "a": 5.0},
            ranges={"alpha": WEIGHT, "beta": WEIGHT, "a": ASYM_A}),
    LossDef("anl-ce", "active-negative loss NCE+NNCE (+ L1 on the weights)", anl_ce,
            symmetric=True, defaults={"alpha": 5.0, "beta": 5.0, "delta": 5e-5},
            ranges={"alpha": WEIGHT, "beta": WEIGHT, "delta": WEIGHT}),
    LossDef("norm_mse", "normalized squared error (the paper's code)", normalized_mse,
            symmetric=True, defaults={"alpha": 0.1}, ranges={"alpha": WEIGHT}),
    LossDef("tce", "Taylor cross-entropy", taylor_cross_entropy, symmetric=False,
            defaults={"t": 2.0}, ranges={"t": TAYLOR_T}),
    LossDef("poly1", "Poly-1 cross-entropy", poly1_cross_entropy, symmetric=False,
            defaults={"epsilon": 1.0}, ranges={"epsilon": POLY_EPS}),
    LossDef("ece+mae", "eps-softmax CE + MAE", eps_softmax_ce_mae, symmetric=False,
            defaults={"alpha": 0.01, "beta": 5.0, "m": 1e5},
            ranges={"alpha": WEIGHT, "beta": WEIGHT, "m": ECE_M}),
]
