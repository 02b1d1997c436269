"""Every loss against its reference code: values and gradients on fixed logits.

The expected numbers in tests/golden/losses.json were computed (float64) by running the reference
repositories' own loss code, unmodified, on the logits stored next to them; each case names the
repository, file, commit and class it came from (Taylor CE and Poly-1 have no public code: their
papers' formulas). memtui's implementations are its own; this file only compares numbers.

The six rows of logits: mild, moderate and wrong outputs, a confident correct one (p_y = 1 - 5.5e-5),
a confident wrong one past every clamp (p_y = 7.6e-10 < 1e-8, p_max = 1 - 6.9e-9 > 1 - 1e-8) and
a uniform one. memtui computes in float32, as training does.

Named differences, inside the tolerances below (they only move the clamped row by less than 1e-6):
memtui's ``mse``, ``mae`` and ``rll`` clamp p to [1e-7, 1] where the paper's code clamps to
[1e-8, 1 - 1e-8]; memtui's ``sce`` and ``nce+rce`` write RCE as -log(1e-4)(1 - p_y) with p_y
clamped, APL as -log(1e-4) sum_{k != y} p_k with each p_k clamped.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from memtui.losses import REGISTRY, LossDef

GOLDEN = json.loads((Path(__file__).parent / "golden" / "losses.json").read_text())
CASES = GOLDEN["cases"]
K = GOLDEN["K"]
ALL: dict[str, LossDef] = dict(REGISTRY)

# float32 against float64: relative 2e-5 on values and gradients (of sizes 1e-3 to 20); absolute
# 1e-5 because float32 resolves 1 - p_y on the confident correct row (5.5e-5) only to ~0.1%.
RTOL, ATOL = 2e-5, 1e-5


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(GOLDEN["logits"], dtype=torch.float32), torch.tensor(GOLDEN["targets"])


def test_every_loss_has_a_golden_case_at_its_defaults():
    covered = {case["loss"] for case in CASES.values() if case["loss"] in ALL
               and case["params"] == dict(ALL[case["loss"]].defaults)}
    assert covered == set(ALL)


def test_every_golden_case_names_its_reference():
    for key, case in CASES.items():
        assert case["source"], key
        assert case["loss"] in ALL, key


@pytest.mark.parametrize("key", sorted(CASES))
def test_value_equals_the_reference(key):
    case = CASES[key]
    logits, y = _inputs()
    got = ALL[case["loss"]].bind(case["params"])(logits, y)
    np.testing.assert_allclose(got.double().numpy(), case["value"], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("key", sorted(CASES))
def test_gradient_equals_the_reference(key):
    case = CASES[key]
    logits, y = _inputs()
    logits.requires_grad_()
    loss = ALL[case["loss"]].bind(case["params"])(logits, y).sum()
    (grad,) = torch.autograd.grad(loss, logits)
    np.testing.assert_allclose(grad.double().numpy(), case["grad"], rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------------------------
# The symmetric flag: sum_j L(f(x), j) over all K labels is constant exactly for the losses
# declared symmetric (checked relative to the size of the sum: NRCE's constant is ~187). The
# asymmetric losses nearest to symmetric at their defaults (AEL, NCE+AEL) vary by ~0.2%.

def _random_logits(seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    scales = torch.tensor([0.1, 1.0, 3.0, 10.0, 30.0]).repeat_interleave(40)[:, None]
    return torch.randn(200, K, generator=gen, dtype=torch.float64) * scales


def _label_sums(definition: LossDef, logits: torch.Tensor) -> torch.Tensor:
    rows = len(logits)
    every_label = torch.arange(K).repeat(rows)
    per_sample = definition.bind()(logits.repeat_interleave(K, dim=0), every_label).double()
    return per_sample.view(rows, K).sum(dim=1)


@pytest.mark.parametrize("name", sorted(ALL))
def test_sum_over_labels_is_constant_exactly_when_declared_symmetric(name):
    sums = _label_sums(ALL[name], _random_logits(seed=5))
    spread = float(sums.max() - sums.min()) / max(float(sums.abs().mean()), 1e-12)
    if ALL[name].symmetric:
        assert spread < 2e-5, f"{name} is declared symmetric but its sum varies by {spread:.2g}"
    else:
        assert spread > 5e-4, f"{name} is declared not symmetric but its sum is constant"


@pytest.mark.parametrize("name, constant", [
    ("rce", -math.log(1e-4) * (K - 1)),
    ("nfl", 10.0),
    ("ngce", 1.0),
    ("nmae", 0.5),  # APL's NMAE: its MAE is half the full MAE
    ("nrce", (K - 1) ** 2 / 4 * -math.log(1e-4)),  # APL's normaliser as written
    ("nfl+rce", 1.0 - math.log(1e-4) * (K - 1)),
    ("nfl+mae", 1.0 + (K - 1)),
    ("ngce+rce", 1.0 - math.log(1e-4) * (K - 1)),
    ("ngce+mae", 1.0 + (K - 1)),
    ("anl-ce", 5.0 * 1.0 + 5.0 * (K - 1)),
    ("norm_mse", 0.1),
])
def test_symmetric_new_losses_sum_to_their_constant(name, constant):
    sums = _label_sums(ALL[name], _random_logits(seed=6))
    np.testing.assert_allclose(sums.numpy(), constant, rtol=2e-5)


@pytest.mark.parametrize("name, params", [("agce", {"q": 1.0}), ("aul", {"q": 1.0}),
                                          ("tce", {"t": 1.0})])
def test_asymmetric_losses_become_symmetric_at_q_or_t_one(name, params):
    """AGCE and AUL at q = 1 and Taylor CE at t = 1 are MAE-like: sum over labels K - 1."""
    definition = ALL[name]
    bound = LossDef(name, "", definition.fn, True, {**definition.defaults, **params})
    sums = _label_sums(bound, _random_logits(seed=7))
    np.testing.assert_allclose(sums.numpy(), K - 1, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# The quirks the references' gradients carry.

def test_focal_gradient_is_ce_reweighted_by_a_constant_factor():
    """APL's focal loss takes (1 - p_y)^gamma without gradient: d focal = (1 - p_y)^gamma d CE."""
    logits, y = _inputs()
    logits.requires_grad_()
    (g_focal,) = torch.autograd.grad(ALL["focal"].bind({"gamma": 2.0})(logits, y).sum(), logits)
    (g_ce,) = torch.autograd.grad(ALL["ce"].bind()(logits, y).sum(), logits)
    p_y = torch.softmax(logits.detach(), 1).gather(1, y[:, None])
    torch.testing.assert_close(g_focal, (1 - p_y) ** 2 * g_ce, rtol=1e-5, atol=1e-7)


def test_focal_at_gamma_zero_is_ce():
    logits, y = _inputs()
    torch.testing.assert_close(ALL["focal"].bind({"gamma": 0.0})(logits, y), ALL["ce"].bind()(logits, y))


def test_taylor_ce_approaches_ce_as_its_order_grows():
    logits, y = _inputs()
    mild = [0, 1, 5]  # rows with p_y >= 0.08: the series converges slowly near p_y = 0
    ce = ALL["ce"].bind()(logits, y)[mild]
    errors = [float((ce - ALL["tce"].bind({"t": t})(logits, y)[mild]).abs().max()) for t in (1, 4, 16, 64)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-3


def test_anl_ce_per_sample_part_ignores_delta():
    logits, y = _inputs()
    low = ALL["anl-ce"].bind({"delta": 0.0})(logits, y)
    high = ALL["anl-ce"].bind({"delta": 1.0})(logits, y)
    torch.testing.assert_close(low, high)


# ---------------------------------------------------------------------------------------------
# Parameters as a user writes them: every one has a valid range, a misspelt one a suggestion.

@pytest.mark.parametrize("name", sorted(ALL))
def test_every_parameter_has_a_bounded_range_and_a_misspelling_gets_a_suggestion(name, tiny_config):
    from memtui.errors import ConfigError

    definition = ALL[name]
    assert set(definition.ranges) == set(definition.defaults)
    for key, valid in definition.ranges.items():
        assert math.isfinite(valid.low), (name, key)
        with pytest.raises(ConfigError, match=rf"has no parameter '{key}x' \(did you mean '{key}'\?\)"):
            tiny_config(losses=[{"name": name, "params": {key + "x": 1.0}}])


@pytest.mark.parametrize("name, key, bad", [
    ("tce", "t", 2.5), ("tce", "t", 0.0), ("aul", "a", 1.0), ("agce", "q", 0.0), ("ngce", "q", 1.5),
    ("poly1", "epsilon", -1.5), ("anl-ce", "delta", -1e-5), ("focal", "gamma", -0.5),
])
def test_an_out_of_range_parameter_is_refused_in_one_line(name, key, bad, tiny_config):
    from memtui.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"^losses\.0: loss '{name}': {key} = .* is out of range; "
                                          r"valid: "):
        tiny_config(losses=[{"name": name, "params": {key: bad}}])


def test_only_anl_ce_weighs_the_l1_norm_of_the_weights():
    assert ALL["anl-ce"].bind({"delta": 3e-4}).weight_l1 == 3e-4
    assert {n for n, d in ALL.items() if d.bind().weight_l1} == {"anl-ce"}
