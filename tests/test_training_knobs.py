"""Specification of the training knobs of the published recipes: gradient clipping per loss's
model (``optimizer.clip_grad_norm``), Nesterov momentum, a linear warm-up before the schedule
(``schedule.warmup_epochs``), and ANL's L1 norm of the weights (loss ``anl-ce``'s delta). Both
model banks apply them identically."""

from __future__ import annotations

import pytest
import torch
from test_fused import TinyCNN, assert_states_close, batches, make_pair

from memtui.bank.separate import SeparateModels
from memtui.config import OptimizerConfig, ScheduleConfig
from memtui.errors import ConfigError
from memtui.losses import REGISTRY

CE = REGISTRY["ce"].bind()


class Scaled:
    """CE times a factor: the same direction, a gradient ``factor`` times larger."""

    def __init__(self, factor: float, weight_l1: float = 0.0) -> None:
        self.factor = factor
        self.weight_l1 = weight_l1

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.factor * CE(logits, target)


def _flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _bank(losses, clip=None, lr=1.0, momentum=0.0, seed=0):
    torch.manual_seed(seed)
    optimizer = OptimizerConfig(lr=lr, momentum=momentum, clip_grad_norm=clip)
    return SeparateModels(TinyCNN(), losses, optimizer, ScheduleConfig(), epochs=3)


# ---------------------------------------------------------------------------------------------
# Clipping

def test_clipping_bounds_each_models_step_by_its_own_gradient_norm():
    """Plain SGD at lr 1: the step is minus the clipped gradient. The large loss's step is cut
    to the bound; the small loss's, below the bound, is not cut because of the large one."""
    x, y = batches(1)[0]
    free = _bank([Scaled(1000.0), Scaled(0.001)])
    clipped = _bank([Scaled(1000.0), Scaled(0.001)], clip=1.0)
    before = [_flat(m) for m in clipped.models]
    free.train_step(x, y, [0, 1])
    clipped.train_step(x, y, [0, 1])
    steps_free = [_flat(m) - b for m, b in zip(free.models, before)]
    steps = [_flat(m) - b for m, b in zip(clipped.models, before)]
    assert steps_free[0].norm() > 10.0
    assert steps[0].norm().item() == pytest.approx(1.0, rel=1e-4)
    cosine = torch.nn.functional.cosine_similarity(steps[0], steps_free[0], dim=0)
    assert cosine.item() == pytest.approx(1.0, abs=1e-5)
    assert steps_free[1].norm() < 1.0
    torch.testing.assert_close(steps[1], steps_free[1])


def test_without_a_bound_nothing_is_clipped():
    x, y = batches(1)[0]
    a, b = _bank([Scaled(1000.0)]), _bank([Scaled(1000.0)], clip=1e6)
    a.train_step(x, y, [0])
    b.train_step(x, y, [0])
    torch.testing.assert_close(_flat(a.models[0]), _flat(b.models[0]))


@pytest.mark.parametrize("clip", [0.05, 5.0])
def test_fused_clipping_equals_separate_clipping(clip):
    losses = [Scaled(100.0), CE, Scaled(0.01)]
    separate, fused = make_pair(OptimizerConfig(lr=0.1, momentum=0.9, clip_grad_norm=clip),
                                losses=losses)
    for x, y in batches(4):
        separate.train_step(x, y, [0, 1, 2])
        fused.train_step(x, y, [0, 1, 2])
    assert_states_close(separate.state_dict(), fused.state_dict())


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf")])
def test_a_bound_must_be_positive_and_finite(bad):
    with pytest.raises(ValueError):
        OptimizerConfig(clip_grad_norm=bad)


# ---------------------------------------------------------------------------------------------
# Nesterov

def test_nesterov_reaches_the_optimiser_and_matches_fused():
    optimizer = OptimizerConfig(lr=0.05, momentum=0.9, nesterov=True)
    separate, fused = make_pair(optimizer)
    assert separate.optimizers[0].param_groups[0]["nesterov"] is True
    assert fused.optimizer.param_groups[0]["nesterov"] is True
    for x, y in batches(3):
        separate.train_step(x, y, [0, 1, 2])
        fused.train_step(x, y, [0, 1, 2])
    assert_states_close(separate.state_dict(), fused.state_dict())
    plain, _ = make_pair(OptimizerConfig(lr=0.05, momentum=0.9))
    for x, y in batches(3):
        plain.train_step(x, y, [0, 1, 2])
    assert not torch.equal(_flat(plain.models[0]), _flat(separate.models[0]))


@pytest.mark.parametrize("document", [{"name": "adam", "nesterov": True},
                                      {"momentum": 0.0, "nesterov": True}])
def test_nesterov_without_sgd_momentum_is_refused_in_one_line(tiny_config, document):
    with pytest.raises(ConfigError, match=r"^optimizer: nesterov = true needs name 'sgd' and "
                                          r"momentum > 0 \(got "):
        tiny_config(optimizer=document)


# ---------------------------------------------------------------------------------------------
# Warm-up

# The schedules are stepped here without training steps: torch warns about that order.
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)`")


def _lrs(schedule: ScheduleConfig, epochs: int, lr: float = 0.1) -> list[float]:
    bank = SeparateModels(TinyCNN(), [CE], OptimizerConfig(lr=lr), schedule, epochs=epochs)
    lrs = []
    for _ in range(epochs):
        lrs.append(bank.lr(0))
        bank.end_epoch()
    return lrs


def test_warmup_raises_lr_linearly_then_cosine_runs_over_the_remaining_epochs():
    lrs = _lrs(ScheduleConfig(kind="cosine", warmup_epochs=4), epochs=10)
    assert lrs[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert lrs[4:] == pytest.approx(_lrs(ScheduleConfig(kind="cosine"), epochs=6))


def test_multistep_milestones_stay_epochs_of_the_whole_run_after_a_warmup():
    lrs = _lrs(ScheduleConfig(kind="multistep", milestones=[5, 8], warmup_epochs=2), epochs=10)
    assert lrs == pytest.approx([0.05, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001])


def test_without_warmup_the_schedule_is_unchanged():
    assert _lrs(ScheduleConfig(kind="multistep", milestones=[2]), epochs=4) == pytest.approx(
        [0.1, 0.1, 0.01, 0.01])
    assert _lrs(ScheduleConfig(kind="constant", warmup_epochs=3), epochs=5) == pytest.approx(
        [0.1 / 3, 0.2 / 3, 0.1, 0.1, 0.1])


def test_a_warmup_schedule_resumes_from_a_checkpoint():
    schedule = ScheduleConfig(kind="cosine", warmup_epochs=3)
    first, _ = make_pair(schedule=schedule)
    for _ in range(2):
        first.end_epoch()
    second, _ = make_pair(schedule=schedule, seed=4)
    second.load_state_dict(first.state_dict())
    for _ in range(4):
        assert second.lr(0) == pytest.approx(first.lr(0))
        first.end_epoch()
        second.end_epoch()


def test_a_milestone_inside_the_warmup_is_refused(tiny_config):
    with pytest.raises(ConfigError, match=r"^schedule: milestone 2 falls in the warm-up "
                                          r"\(warmup_epochs = 3\); give milestones after it$"):
        tiny_config(epochs=10, schedule={"kind": "multistep", "milestones": [2, 6],
                                         "warmup_epochs": 3})


def test_a_warmup_as_long_as_the_run_is_refused(tiny_config):
    with pytest.raises(ConfigError, match=r"^schedule\.warmup_epochs: 2 leaves no epoch"):
        tiny_config(epochs=2, schedule={"warmup_epochs": 2})


# ---------------------------------------------------------------------------------------------
# ANL's L1 norm of the weights

def test_a_weight_l1_adds_delta_times_the_sign_of_each_weight_to_its_gradient():
    x, y = batches(1)[0]
    delta = 1e-3
    plain, penalised = _bank([Scaled(1.0)]), _bank([Scaled(1.0, weight_l1=delta)])
    before = _flat(plain.models[0])
    with torch.no_grad():  # the objective before the step: CE plus delta * sum |theta|
        expected = CE(penalised.models[0](x), y).mean() + delta * before.abs().sum()
    plain.train_step(x, y, [0])
    (loss,) = penalised.train_step(x, y, [0])
    difference = _flat(penalised.models[0]) - _flat(plain.models[0])
    torch.testing.assert_close(difference, -delta * torch.sign(before), rtol=1e-3, atol=1e-7)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)  # the loss reported is trained


def test_fused_weight_l1_equals_separate_and_stays_with_its_own_model():
    losses = [CE, Scaled(1.0, weight_l1=1e-3), Scaled(2.0)]
    separate, fused = make_pair(OptimizerConfig(lr=0.1, momentum=0.9, clip_grad_norm=5.0),
                                losses=losses)
    for x, y in batches(3):
        torch.testing.assert_close(torch.stack(fused.train_step(x, y, [0, 1, 2])),
                                   torch.stack(separate.train_step(x, y, [0, 1, 2])),
                                   rtol=1e-5, atol=1e-5)
    assert_states_close(separate.state_dict(), fused.state_dict())
    reference, _ = make_pair(OptimizerConfig(lr=0.1, momentum=0.9, clip_grad_norm=5.0),
                             losses=[CE, CE, Scaled(2.0)])
    for x, y in batches(3):
        reference.train_step(x, y, [0, 1, 2])
    for i, same in ((0, True), (1, False), (2, True)):
        equal = torch.allclose(_flat(reference.models[i]), _flat(separate.models[i]), atol=1e-6)
        assert equal is same, i



# ---------------------------------------------------------------------------------------------
# The recipes as shipped presets

def test_apls_cifar10_recipe_runs_nce_rce_at_apls_own_weights():
    from memtui.config import load_preset

    config = load_preset("apl-cifar10-noisy")
    assert (config.model.arch, config.epochs, config.batch_size) == ("cnn8", 120, 128)
    assert config.optimizer.model_dump() == {
        "name": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4, "nesterov": False,
        "clip_grad_norm": 5.0}
    assert (config.schedule.kind, config.schedule.warmup_epochs) == ("cosine", 0)
    params = {spec.display: spec.params for spec in config.losses}
    assert params["NCE+RCE"] == {"alpha": 1.0, "beta": 1.0}
    assert len(config.losses) == 15


def test_the_apl_recipes_mae_is_apls_one_minus_p_y():
    from memtui.config import load_preset

    (spec,) = [s for s in load_preset("apl-cifar10-noisy").losses if s.display == "MAE (APL)"]
    logits, y = torch.randn(64, 10), torch.randint(0, 10, (64,))
    p_y = torch.softmax(logits, 1).gather(1, y[:, None]).squeeze(1)
    torch.testing.assert_close(REGISTRY[spec.name].bind(spec.params)(logits, y), 1 - p_y)


def test_the_mnist_losses_preset_uses_apls_mnist_optimiser():
    from memtui.config import load_preset

    config = load_preset("mnist-losses")
    assert config.optimizer.nesterov and config.optimizer.clip_grad_norm == 5.0
    assert (config.optimizer.lr, config.optimizer.weight_decay) == (0.01, 1e-2)
    assert (config.corruption.labels, config.corruption.noise) == ("symmetric", 0.4)
