"""Specification of the fused model bank: all losses' models stacked into one computation.

Fused training is an implementation detail: after any number of steps it must leave every model
with the parameters, BatchNorm statistics, optimiser state and losses that separate training gives
(up to fp32 rounding), keep a diverged model from touching the others, freeze a model the engine
dropped, and save and load checkpoints in the layout the separate bank uses.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from memtui.bank.fused import FusedModels
from memtui.bank.separate import SeparateModels
from memtui.config import OptimizerConfig, ScheduleConfig
from memtui.events import EpochMetrics, LossDiverged
from memtui.losses import REGISTRY, LossDef
from memtui.session import build_engine

from helpers import Recorder

TOL = dict(rtol=1e-5, atol=1e-5)
LOSSES = [REGISTRY[name].bind() for name in ("ce", "mse", "rll")]


class TinyCNN(nn.Module):
    """Conv + BatchNorm2d + pooling + Linear + BatchNorm1d: every layer kind of the real models."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 8), nn.BatchNorm1d(8),
            nn.ReLU(inplace=True), nn.Linear(8, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_pair(optimizer=None, schedule=None, losses=LOSSES, seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    initial = TinyCNN().to(dtype)
    optimizer = optimizer or OptimizerConfig(lr=0.1, momentum=0.9, weight_decay=1e-3)
    schedule = schedule or ScheduleConfig()
    return (SeparateModels(initial, losses, optimizer, schedule, epochs=5),
            FusedModels(initial, losses, optimizer, schedule, epochs=5))


def batches(count: int, seed: int = 1, size: int = 16):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, 3, 8, 8, generator=gen), torch.randint(0, 10, (size,), generator=gen))
            for _ in range(count)]


def assert_states_close(a: dict, b: dict) -> None:
    """Two banks' state_dicts: same layout, same tensors within fp32 rounding."""
    assert len(a["models"]) == len(b["models"])
    for model_a, model_b in zip(a["models"], b["models"]):
        assert list(model_a) == list(model_b)
        for key in model_a:
            torch.testing.assert_close(model_a[key], model_b[key], **TOL, msg=key)
    for opt_a, opt_b in zip(a["optimizers"], b["optimizers"]):
        assert opt_a["param_groups"] == opt_b["param_groups"]
        assert opt_a["state"].keys() == opt_b["state"].keys()
        for k in opt_a["state"]:
            for key, value in opt_a["state"][k].items():
                torch.testing.assert_close(value, opt_b["state"][k][key], **TOL)
    assert a["schedulers"] == b["schedulers"]


def test_fused_sgd_training_equals_separate_training():
    separate, fused = make_pair()
    for x, y in batches(5):
        losses_s = separate.train_step(x, y, [0, 1, 2])
        losses_f = fused.train_step(x, y, [0, 1, 2])
        torch.testing.assert_close(torch.stack(losses_f), torch.stack(losses_s), **TOL)
    # Parameters, BatchNorm running statistics (per model) and momentum buffers.
    assert_states_close(separate.state_dict(), fused.state_dict())
    means = fused.state_dict()["models"]
    assert not torch.equal(means[0]["net.1.running_mean"], means[1]["net.1.running_mean"]), \
        "each model keeps its own BatchNorm statistics"


def test_fused_adam_training_equals_separate_training():
    # float64: a Linear bias in front of BatchNorm gets a gradient of pure rounding noise, which
    # Adam's normalisation blows up to full-size steps when that noise is fp32-sized (vs eps).
    separate, fused = make_pair(OptimizerConfig(name="adam", lr=1e-2, weight_decay=1e-4),
                                dtype=torch.float64)
    for x, y in batches(4):
        separate.train_step(x.double(), y, [0, 1, 2])
        fused.train_step(x.double(), y, [0, 1, 2])
    assert_states_close(separate.state_dict(), fused.state_dict())


def test_eval_logits_and_schedule_match_separate():
    schedule = ScheduleConfig(kind="multistep", milestones=[1, 2], gamma=0.1)
    separate, fused = make_pair(schedule=schedule)
    for x, y in batches(3):
        separate.train_step(x, y, [0, 1, 2])
        fused.train_step(x, y, [0, 1, 2])
    for bank in (separate, fused):
        bank.end_epoch()
        bank.set_mode(train=False)
    x, _ = batches(1, seed=9, size=32)[0]
    with torch.inference_mode():
        for i in range(3):
            torch.testing.assert_close(fused.logits(i, x), separate.logits(i, x), **TOL)
            assert fused.lr(i) == pytest.approx(separate.lr(i)) == pytest.approx(0.01)


def test_state_dict_round_trips_between_backends():
    separate, fused = make_pair()
    for x, y in batches(3):
        separate.train_step(x, y, [0, 1, 2])
        fused.train_step(x, y, [0, 1, 2])
    separate.end_epoch()
    fused.end_epoch()
    # A checkpoint of either backend resumes in the other and in a fresh bank of its own kind.
    fresh_separate, fresh_fused = make_pair(seed=5)
    fresh_separate.load_state_dict(fused.state_dict())
    fresh_fused.load_state_dict(separate.state_dict())
    assert_states_close(fresh_separate.state_dict(), separate.state_dict())
    assert_states_close(fresh_fused.state_dict(), fused.state_dict())
    for x, y in batches(2, seed=2):
        for bank in (separate, fused, fresh_separate, fresh_fused):
            bank.train_step(x, y, [0, 1, 2])
    assert_states_close(fresh_fused.state_dict(), separate.state_dict())
    assert_states_close(fresh_separate.state_dict(), separate.state_dict())


def test_a_nan_model_does_not_touch_the_others():
    separate, fused = make_pair()
    with torch.no_grad():
        separate.models[1].net[0].weight.fill_(math.nan)
        fused.params["net.0.weight"][1].fill_(math.nan)
    for x, y in batches(3):
        losses = fused.train_step(x, y, [0, 1, 2])
        separate.train_step(x, y, [0, 1, 2])
    assert math.isnan(losses[1]) and math.isfinite(losses[0]) and math.isfinite(losses[2])
    state_s, state_f = separate.state_dict(), fused.state_dict()
    for i in (0, 2):
        for key, value in state_s["models"][i].items():
            torch.testing.assert_close(state_f["models"][i][key], value, **TOL, msg=key)
            assert torch.isfinite(state_f["models"][i][key].float()).all(), key


def test_a_dropped_model_stays_frozen():
    separate, fused = make_pair()
    first, *rest = batches(4)
    separate.train_step(*first, [0, 1, 2])
    fused.train_step(*first, [0, 1, 2])
    before = fused.state_dict()
    for x, y in rest:
        losses = fused.train_step(x, y, [0, 2])
        separate.train_step(x, y, [0, 2])
    assert len(losses) == 2
    after = fused.state_dict()
    for key, value in before["models"][1].items():
        assert torch.equal(after["models"][1][key], value), key
    for k, entry in before["optimizers"][1]["state"].items():
        assert torch.equal(after["optimizers"][1]["state"][k]["momentum_buffer"],
                           entry["momentum_buffer"])
    assert_states_close(separate.state_dict(), after)


def test_engine_fused_and_separate_give_the_same_metrics(tiny_config):
    def metrics(backend):
        recorder = Recorder()
        build_engine(tiny_config(backend=backend, epochs=2), [recorder]).run()
        return {(e.epoch, e.loss): e.values for e in recorder.of(EpochMetrics)}

    separate, fused = metrics("separate"), metrics("fused")
    assert separate.keys() == fused.keys() and len(separate) == 6
    for key, values in separate.items():
        for name, value in values.items():
            if name in ("seconds", "eval_seconds", "images_per_s") or value is None:
                continue
            assert fused[key][name] == pytest.approx(value, rel=1e-4, abs=1e-5), (key, name)


def _nan_loss(logits, target):
    return REGISTRY["ce"].fn(logits, target) * float("nan")


def test_engine_isolates_a_diverging_loss_under_the_fused_backend(tiny_config, monkeypatch):
    monkeypatch.setitem(REGISTRY, "nan", LossDef("nan", "always NaN (test only)", _nan_loss,
                                                 symmetric=False))
    losses = [{"name": "ce"}, {"name": "nan"}, {"name": "rll"}]

    def run(backend):
        recorder = Recorder()
        finished = build_engine(tiny_config(backend=backend, epochs=3, losses=losses), [recorder]).run()
        return finished, recorder

    finished, fused = run("fused")
    _, separate = run("separate")
    assert finished.status == "completed"
    assert [(e.loss, e.epoch) for e in fused.of(LossDiverged)] == [("NAN", 1)]
    expected = {(e.epoch, e.loss): e.values for e in separate.of(EpochMetrics)}
    got = {(e.epoch, e.loss): e.values for e in fused.of(EpochMetrics)}
    assert got.keys() == expected.keys() == {(e, loss) for e in (1, 2, 3) for loss in ("CE", "RLL")}
    for key, values in expected.items():
        for name in ("train_loss", "train_acc", "test_acc", "test_loss", "memorized"):
            assert got[key][name] == pytest.approx(values[name], rel=1e-4, abs=1e-5), (key, name)


@pytest.mark.slow
def test_compiled_fused_training_equals_eager():
    torch.manual_seed(0)
    initial = TinyCNN()
    optimizer, schedule = OptimizerConfig(lr=0.1), ScheduleConfig()
    eager = FusedModels(initial, LOSSES, optimizer, schedule, epochs=1)
    compiled = FusedModels(initial, LOSSES, optimizer, schedule, epochs=1, compile=True)
    for x, y in batches(2):
        eager.train_step(x, y, [0, 1, 2])
        compiled.train_step(x, y, [0, 1, 2])
    assert_states_close(compiled.state_dict(), eager.state_dict())
