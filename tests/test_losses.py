"""Specification of the loss functions (docs/reference.md, "Losses").

Each loss maps logits [B, K] and labels [B] to per-sample losses [B]. Every formula is checked
against a direct float64 computation of docs/reference.md's table on random logits: the CE-based
losses (CE, SCE's CE, NCE) from the uncapped log-softmax as nn.CrossEntropyLoss, the others from
the probabilities clamped to [1e-7, 1]. ``nce+mae`` is APL's (its MAE is 1 - p_y). The *symmetric*
flag each loss declares is checked
numerically: sum_j L(p, j) over all K labels is the same constant for every softmax output p
exactly when the loss is declared symmetric.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from memtui.losses import REGISTRY

K = 10
P_MIN = 1e-7
# Losses are computed in float32 and the clamp at 1e-7 perturbs sums by up to K * 1e-7 / alpha:
# a "constant" sum may wobble by ~1e-5; a non-constant one varies by whole units.
SYMMETRIC_TOL = 1e-4


def _logits(rows: int, seed: int, scale: float = 3.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(rows, K, generator=gen, dtype=torch.float64) * scale


def _mixed_logits(seed: int = 0) -> torch.Tensor:
    """Mild, ordinary and peaked (saturated softmax) outputs, plus near-uniform ones."""
    return torch.cat([_logits(200, seed, 0.1), _logits(200, seed + 1, 3.0),
                      _logits(200, seed + 2, 30.0), _logits(50, seed + 3, 100.0)])


def _labels(rows: int, seed: int) -> torch.Tensor:
    return torch.randint(0, K, (rows,), generator=torch.Generator().manual_seed(seed + 100))


def _reference_probs(logits: torch.Tensor) -> np.ndarray:
    z = logits.numpy().astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.clip(e / e.sum(axis=1, keepdims=True), P_MIN, 1.0)


def _onehot(y: torch.Tensor) -> np.ndarray:
    return np.eye(K)[y.numpy()]


def reference(name: str, logits: torch.Tensor, y: torch.Tensor, **params: float) -> np.ndarray:
    """docs/reference.md's formulas, written out independently of memtui.losses."""
    p = _reference_probs(logits)
    rows = np.arange(len(y))
    p_y = p[rows, y.numpy()]
    onehot = _onehot(y)
    z = logits.numpy().astype(np.float64)
    log_p = z - z.max(axis=1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))  # uncapped log-softmax
    ce = -log_p[rows, y.numpy()]
    rce = -np.sum(p * np.log(np.clip(onehot, 1e-4, 1.0)), axis=1)
    mae = np.sum(np.abs(p - onehot), axis=1)
    nce = ce / np.sum(-log_p, axis=1)
    if name == "ce":
        return ce
    if name == "mse":
        return np.sum((p - onehot) ** 2, axis=1)
    if name == "mae":
        return mae
    if name == "rll":
        a = params["alpha"]
        off = (np.sum(np.log(a + p), axis=1) - np.log(a + p_y)) / (K - 1)
        return math.log((a + 1) / a) - np.log(a + p_y) + off
    if name == "gce":
        q = params["q"]
        return (1 - p_y**q) / q
    if name == "sce":
        return params["alpha"] * ce + params["beta"] * rce
    if name == "nce":
        return nce
    if name == "nce+rce":
        return params["alpha"] * nce + params["beta"] * rce
    if name == "nce+mae":
        return params["alpha"] * nce + params["beta"] * (1.0 - p_y)  # APL's MAE
    raise AssertionError(f"no reference formula for {name}")


DESIGN_DEFAULTS = {
    "ce": {}, "mse": {}, "mae": {}, "nce": {},
    "rll": {"alpha": 0.1},
    "gce": {"q": 0.7},
    "sce": {"alpha": 0.1, "beta": 1.0},
    "nce+rce": {"alpha": 1.0, "beta": 1.0},
    "nce+mae": {"alpha": 1.0, "beta": 1.0},
}
DESIGN_SYMMETRIC = {"ce": False, "mse": False, "mae": True, "rll": True, "gce": False,
                    "sce": False, "nce": True, "nce+rce": True, "nce+mae": True}


def test_the_registry_holds_the_losses_of_the_reference():
    """The losses added since (APL's, ALFs', ANL's...) are held against their own reference code
    in tests/test_losses_golden.py."""
    assert set(DESIGN_DEFAULTS) <= set(REGISTRY)


@pytest.mark.parametrize("name", sorted(DESIGN_DEFAULTS))
def test_defaults_are_those_of_the_reference(name):
    assert dict(REGISTRY[name].defaults) == DESIGN_DEFAULTS[name]


@pytest.mark.parametrize("name", sorted(DESIGN_SYMMETRIC))
def test_symmetric_declaration_matches_the_reference(name):
    assert REGISTRY[name].symmetric is DESIGN_SYMMETRIC[name]


@pytest.mark.parametrize("name", sorted(DESIGN_DEFAULTS))
def test_each_loss_matches_its_formula_with_default_parameters(name):
    logits, y = _mixed_logits(seed=1), _labels(650, seed=1)
    got = REGISTRY[name].bind()(logits, y)
    assert got.shape == (650,)
    expected = reference(name, logits, y, **DESIGN_DEFAULTS[name])
    np.testing.assert_allclose(got.double().numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name, params", [
    ("rll", {"alpha": 0.5}), ("rll", {"alpha": 2.0}), ("gce", {"q": 0.3}), ("gce", {"q": 1.0}),
    ("sce", {"alpha": 0.01, "beta": 1.0}), ("nce+rce", {"alpha": 10.0, "beta": 0.1}),
    ("nce+mae", {"alpha": 0.5, "beta": 2.0}),
])
def test_parameters_given_to_bind_override_the_defaults(name, params):
    logits, y = _logits(300, seed=7), _labels(300, seed=7)
    got = REGISTRY[name].bind(params)(logits, y)
    np.testing.assert_allclose(got.double().numpy(), reference(name, logits, y, **params),
                               rtol=1e-4, atol=1e-5)


def test_gce_with_q_one_is_half_of_mae():
    logits, y = _logits(100, seed=3), _labels(100, seed=3)
    gce = REGISTRY["gce"].bind({"q": 1.0})(logits, y)
    mae = REGISTRY["mae"].bind()(logits, y)
    torch.testing.assert_close(gce, mae / 2)


def test_losses_stay_finite_and_differentiable_on_saturated_outputs():
    logits = _logits(64, seed=5, scale=1000.0).float().requires_grad_()
    y = _labels(64, seed=5)
    for name, definition in REGISTRY.items():
        loss = definition.bind()(logits, y)
        assert torch.isfinite(loss).all(), name
        (grad,) = torch.autograd.grad(loss.mean(), logits)
        assert torch.isfinite(grad).all(), name


def _label_sums(name: str, logits: torch.Tensor, params=None) -> torch.Tensor:
    """sum_j L(p, j) for each row of logits."""
    rows = len(logits)
    repeated = logits.repeat_interleave(K, dim=0)
    every_label = torch.arange(K).repeat(rows)
    per_sample = REGISTRY[name].bind(params)(repeated, every_label).double()
    return per_sample.view(rows, K).sum(dim=1)


@pytest.mark.parametrize("name", sorted(DESIGN_SYMMETRIC))
def test_sum_over_labels_is_constant_exactly_for_losses_declared_symmetric(name):
    sums = _label_sums(name, _mixed_logits(seed=11))
    # Relative to the constant: RCE's clamp moves its sum of -log(1e-4)(K - 1) ~ 83 by ~1e-4.
    spread = float(sums.max() - sums.min()) / max(1.0, float(sums.abs().mean()))
    if REGISTRY[name].symmetric:
        assert spread < SYMMETRIC_TOL, f"{name} is declared symmetric but its sum varies by {spread}"
    else:
        assert spread > 0.1, f"{name} is declared not symmetric but its sum is constant"


@pytest.mark.parametrize("name, constant", [
    ("mae", 2 * K - 2),
    ("rll", K * math.log(1.1 / 0.1)),
    ("nce", 1.0),
    ("nce+rce", 1.0 - math.log(1e-4) * (K - 1)),
    ("nce+mae", 1.0 + K - 1),
])
def test_symmetric_losses_sum_to_the_constant_of_the_reference(name, constant):
    sums = _label_sums(name, _mixed_logits(seed=12))
    np.testing.assert_allclose(sums.numpy(), constant, rtol=1e-5, atol=SYMMETRIC_TOL)


@pytest.mark.parametrize("alpha", [0.01, 0.1, 1.0, 5.0])
def test_rll_is_symmetric_for_any_alpha(alpha):
    sums = _label_sums("rll", _mixed_logits(seed=13), {"alpha": alpha})
    np.testing.assert_allclose(sums.numpy(), K * math.log((alpha + 1) / alpha), rtol=1e-5,
                               atol=SYMMETRIC_TOL / min(alpha, 1.0))


@pytest.mark.parametrize("name", ["ce", "mse"])
def test_ce_and_mse_are_not_symmetric(name):
    uniform = torch.zeros(1, K, dtype=torch.float64)
    peaked = torch.tensor([[20.0] + [0.0] * (K - 1)], dtype=torch.float64)
    assert abs(float(_label_sums(name, uniform) - _label_sums(name, peaked))) > 1.0


def test_losses_are_smallest_when_the_label_is_the_predicted_class():
    logits = _logits(200, seed=21)
    predicted = logits.argmax(dim=1)
    other = (predicted + 1) % K
    for name, definition in REGISTRY.items():
        loss = definition.bind()
        assert (loss(logits, predicted) <= loss(logits, other) + 1e-6).all(), name


# ---------------------------------------------------------------------------------------------
# CE through log-softmax: no cap, and the gradient of nn.CrossEntropyLoss.

def _confidently_wrong(margin: float = 40.0) -> tuple[torch.Tensor, torch.Tensor]:
    """One sample whose true class (0) has p_y ~ exp(-40) ~ 4e-18, far below the old 1e-7 clamp."""
    logits = torch.zeros(1, K)
    logits[0, 1] = margin
    return logits, torch.tensor([0])


def test_ce_gradient_on_a_confidently_wrong_sample_is_minus_one_on_the_true_logit():
    logits, y = _confidently_wrong()
    logits.requires_grad_()
    loss = REGISTRY["ce"].bind()(logits, y).sum()
    (grad,) = torch.autograd.grad(loss, logits)
    assert grad[0, 0].item() == pytest.approx(-1.0, abs=1e-6)
    assert grad[0, 1].item() == pytest.approx(1.0, abs=1e-6)
    assert loss.item() == pytest.approx(40.0, rel=1e-5)  # not capped at -log(1e-7) = 16.1


@pytest.mark.parametrize("scale", [1.0, 30.0, 300.0])
def test_ce_and_its_gradient_equal_torch_cross_entropy(scale):
    logits = _logits(64, seed=9, scale=scale).float().requires_grad_()
    y = _labels(64, seed=9)
    ours = REGISTRY["ce"].bind()(logits, y)
    theirs = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    torch.testing.assert_close(ours, theirs)
    (g_ours,) = torch.autograd.grad(ours.sum(), logits)
    (g_theirs,) = torch.autograd.grad(theirs.sum(), logits)
    torch.testing.assert_close(g_ours, g_theirs)


def test_sce_and_nce_keep_a_gradient_on_a_confidently_wrong_sample():
    logits, y = _confidently_wrong()
    for name in ("sce", "nce"):
        x = logits.clone().requires_grad_()
        (grad,) = torch.autograd.grad(REGISTRY[name].bind()(x, y).sum(), x)
        assert grad[0, 0].item() < -1e-3, name


# ---------------------------------------------------------------------------------------------
# APL's definitions (HanxunH/Active-Passive-Losses, loss.py), written out as APL writes them.

def _apl_nce(logits: torch.Tensor, y: torch.Tensor, scale: float) -> torch.Tensor:
    pred = torch.nn.functional.log_softmax(logits, dim=1)
    onehot = torch.nn.functional.one_hot(y, K).to(pred.dtype)
    return scale * (-1 * torch.sum(onehot * pred, dim=1) / (-pred.sum(dim=1)))


def _apl_mae(logits: torch.Tensor, y: torch.Tensor, scale: float) -> torch.Tensor:
    pred = torch.nn.functional.softmax(logits, dim=1)
    onehot = torch.nn.functional.one_hot(y, K).to(pred.dtype)
    return scale * (1.0 - torch.sum(onehot * pred, dim=1))


def _apl_rce(logits: torch.Tensor, y: torch.Tensor, scale: float) -> torch.Tensor:
    pred = torch.clamp(torch.nn.functional.softmax(logits, dim=1), min=1e-7, max=1.0)
    onehot = torch.clamp(torch.nn.functional.one_hot(y, K).to(pred.dtype), min=1e-4, max=1.0)
    return scale * (-1 * torch.sum(pred * torch.log(onehot), dim=1))


@pytest.mark.parametrize("alpha, beta", [(1.0, 1.0), (1.0, 10.0), (10.0, 0.1)])
def test_nce_mae_equals_apls_ncemae(alpha, beta):
    logits, y = _logits(300, seed=31).float(), _labels(300, seed=31)
    ours = REGISTRY["nce+mae"].bind({"alpha": alpha, "beta": beta})(logits, y)
    apl = _apl_nce(logits, y, alpha) + _apl_mae(logits, y, beta)
    torch.testing.assert_close(ours, apl, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("alpha, beta", [(1.0, 1.0), (1.0, 10.0)])
def test_nce_rce_equals_apls_ncerce(alpha, beta):
    logits, y = _logits(300, seed=32).float(), _labels(300, seed=32)
    ours = REGISTRY["nce+rce"].bind({"alpha": alpha, "beta": beta})(logits, y)
    apl = _apl_nce(logits, y, alpha) + _apl_rce(logits, y, beta)
    torch.testing.assert_close(ours, apl, rtol=1e-5, atol=1e-4)


def test_memtuis_mae_is_the_papers_and_twice_apls():
    logits, y = _logits(100, seed=33).float(), _labels(100, seed=33)
    torch.testing.assert_close(REGISTRY["mae"].bind()(logits, y), 2 * _apl_mae(logits, y, 1.0),
                               rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Parameter ranges, declared next to each definition.

@pytest.mark.parametrize("name, key, bad", [
    ("rll", "alpha", 0.0), ("rll", "alpha", -0.1), ("gce", "q", 0.0), ("gce", "q", 1.5),
    ("gce", "q", float("nan")), ("sce", "beta", -1.0), ("nce+rce", "alpha", float("inf")),
])
def test_out_of_range_parameters_are_refused_with_the_valid_range(name, key, bad):
    with pytest.raises(ValueError, match=f"{key} = .* out of range; valid: "):
        REGISTRY[name].check({key: bad})


@pytest.mark.parametrize("name", sorted(DESIGN_DEFAULTS))
def test_every_default_is_in_its_range_and_every_parameter_has_one(name):
    definition = REGISTRY[name]
    assert set(definition.ranges) == set(definition.defaults)
    definition.check(definition.defaults)
