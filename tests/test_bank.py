"""Specification of the model banks' fast-path options and of the backend choice.

``build_bank`` is the one place that decides how the models of all losses are laid out
(``separate`` or ``fused``) and which device fast paths are on (channels-last, bf16 autocast,
TF32, torch.compile). None of these may change what is computed beyond rounding.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from memtui.bank import build_bank, choose_backend
from memtui.bank.fused import FusedModels
from memtui.bank.separate import SeparateModels
from memtui.config import OptimizerConfig, ScheduleConfig
from memtui.errors import ConfigError
from memtui.losses import REGISTRY

LOSSES = [REGISTRY[name].bind() for name in ("ce", "mse", "rll")]
CPU = torch.device("cpu")


def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))


def batch(seed: int = 1, size: int = 16):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(size, 3, 8, 8, generator=gen), torch.randint(0, 10, (size,), generator=gen)


def separate(**options) -> SeparateModels:
    return SeparateModels(tiny_cnn(), LOSSES, OptimizerConfig(lr=0.1), ScheduleConfig(), 2,
                          **options)


@pytest.mark.parametrize("requested", ["separate", "fused"])
def test_an_explicit_backend_is_always_honoured(requested):
    assert choose_backend(requested, CPU) == requested
    assert choose_backend(requested, torch.device("cuda")) == requested


def test_auto_picks_separate_models_which_measured_faster_on_every_device():
    # docs/benchmarks.md: separate beat fused on an idle 2-core CPU (MNIST MLP, 2.1x) and on an
    # H200 (CIFAR-10 CNN, 1.05x).
    assert choose_backend("auto", CPU) == "separate"
    assert choose_backend("auto", torch.device("cuda")) == "separate"


@pytest.mark.parametrize(("backend", "kind"), [("separate", SeparateModels),
                                                 ("fused", FusedModels),
                                                 ("auto", SeparateModels)])
def test_build_bank_builds_the_chosen_backend(tiny_config, backend, kind):
    bank = build_bank(tiny_cnn(), LOSSES, tiny_config(backend=backend))  # a CNN on the CPU
    assert isinstance(bank, kind)
    assert len(bank.train_step(*batch(), [0, 1, 2])) == 3


def test_channels_last_changes_the_layout_not_the_result():
    plain, channels_last = separate(), separate(channels_last=True)
    assert channels_last.models[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    for seed in range(3):
        torch.testing.assert_close(torch.stack(channels_last.train_step(*batch(seed), [0, 1, 2])),
                                   torch.stack(plain.train_step(*batch(seed), [0, 1, 2])),
                                   rtol=1e-5, atol=1e-6)
    with torch.inference_mode():
        torch.testing.assert_close(channels_last.logits(1, batch(7)[0]),
                                   plain.logits(1, batch(7)[0]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bank_kind", [SeparateModels, FusedModels])
def test_bf16_autocasts_the_forward_pass_but_keeps_fp32_weights(bank_kind):
    fp32 = bank_kind(tiny_cnn(), LOSSES, OptimizerConfig(lr=0.1), ScheduleConfig(), 2)
    bf16 = bank_kind(tiny_cnn(), LOSSES, OptimizerConfig(lr=0.1), ScheduleConfig(), 2,
                     precision="bf16")
    losses_32 = torch.stack(fp32.train_step(*batch(), [0, 1, 2]))
    losses_16 = torch.stack(bf16.train_step(*batch(), [0, 1, 2]))
    assert losses_16.dtype == torch.float32
    # bf16 keeps 8 bits of mantissa: the first losses agree to about 1%.
    torch.testing.assert_close(losses_16, losses_32, rtol=2e-2, atol=2e-2)
    state = bf16.state_dict()["models"][0]
    assert all(v.dtype in (torch.float32, torch.int64) for v in state.values())
    with torch.inference_mode():
        assert bf16.logits(0, batch()[0]).dtype == torch.float32


def test_a_dropped_index_is_not_trained():
    bank = separate()
    before = [p.detach().clone() for p in bank.models[1].parameters()]
    losses = bank.train_step(*batch(), [0, 2])
    assert len(losses) == 2
    for p, saved in zip(bank.models[1].parameters(), before):
        assert torch.equal(p, saved)
    assert not torch.equal(next(bank.models[0].parameters()), before[0])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fused_bf16_on_cuda_is_refused_with_a_clear_message(tiny_config):
    with pytest.raises(ConfigError, match="bf16"):
        build_bank(tiny_cnn().cuda(), LOSSES,
                   tiny_config(backend="fused", precision="bf16", device="cuda"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("backend", ["separate", "fused"])
def test_cuda_banks_match_the_cpu_within_tf32_rounding(tiny_config, backend):
    cpu_bank = build_bank(tiny_cnn(), LOSSES, tiny_config(backend="separate"))
    gpu_bank = build_bank(tiny_cnn().cuda(), LOSSES, tiny_config(backend=backend, device="cuda"))
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    x, y = batch()
    for _ in range(3):
        expected = torch.stack(cpu_bank.train_step(x, y, [0, 1, 2]))
        got = torch.stack(gpu_bank.train_step(x.cuda(), y.cuda(), [0, 1, 2])).cpu()
    torch.testing.assert_close(got, expected, rtol=5e-3, atol=5e-3)
