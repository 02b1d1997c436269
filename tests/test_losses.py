"""Specification of the loss functions (docs/reference.md, "Losses").

Each loss maps logits [B, K] and labels [B] to per-sample losses [B]. Every formula is checked
against a direct float64 computation of docs/reference.md's table on random logits, with the probabilities
clamped to [1e-7, 1] as the table says. The *symmetric* flag each loss declares is checked
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
    ce = -np.log(p_y)
    rce = -np.sum(p * np.log(np.clip(onehot, 1e-4, 1.0)), axis=1)
    mae = np.sum(np.abs(p - onehot), axis=1)
    nce = ce / np.sum(-np.log(p), axis=1)
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
        return params["alpha"] * nce + params["beta"] * mae
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


def test_the_registry_holds_exactly_the_losses_of_the_reference():
    assert set(REGISTRY) == set(DESIGN_DEFAULTS)


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


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_sum_over_labels_is_constant_exactly_for_losses_declared_symmetric(name):
    sums = _label_sums(name, _mixed_logits(seed=11))
    spread = float(sums.max() - sums.min())
    if REGISTRY[name].symmetric:
        assert spread < SYMMETRIC_TOL, f"{name} is declared symmetric but its sum varies by {spread}"
    else:
        assert spread > 0.1, f"{name} is declared not symmetric but its sum is constant"


@pytest.mark.parametrize("name, constant", [
    ("mae", 2 * K - 2),
    ("rll", K * math.log(1.1 / 0.1)),
    ("nce", 1.0),
    ("nce+rce", 1.0 - math.log(1e-4) * (K - 1)),
    ("nce+mae", 1.0 + 2 * K - 2),
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
