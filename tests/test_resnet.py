"""Specification of the benchmark ResNets (memtui/resnet.py): the parameter counts of the code the
benchmarks build on (kuangliu/pytorch-cifar: ResNet34() 21,282,122 and PreActResNet18()
11,171,146 parameters for 10 classes), logits [B, K] for 32x32 and 28x28 inputs, BatchNorm on/off."""

from __future__ import annotations

from functools import cache

import pytest
import torch
from torch import nn

from memtui.config import ModelConfig
from memtui.models import build_model
from memtui.resnet import ResNet, preact_resnet18, resnet34


@cache
def _built(factory, shape=(3, 32, 32), classes=10, batchnorm=True) -> nn.Module:
    """Each network is built once per session: ResNet-34's initialisation takes a second."""
    return factory(shape, classes, batchnorm=batchnorm)


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _bn_channels(model: nn.Module) -> int:
    return sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def _conv_out_channels(model: nn.Module) -> int:
    return sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize("factory, expected", [(resnet34, 21_282_122), (preact_resnet18, 11_171_146)])
def test_parameter_counts_with_batchnorm_are_the_benchmarks(factory, expected):
    assert _count(_built(factory)) == expected


@pytest.mark.parametrize("factory", [resnet34, preact_resnet18])
def test_without_batchnorm_each_bn_pair_gives_way_to_one_bias_per_convolution_channel(factory):
    with_bn = _built(factory)
    without = _built(factory, batchnorm=False)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in without.modules())
    assert all(m.bias is not None for m in without.modules() if isinstance(m, nn.Conv2d))
    assert _count(without) == (_count(with_bn) - 2 * _bn_channels(with_bn)
                               + _conv_out_channels(without))


def test_parameter_counts_without_batchnorm_are_pinned():
    assert _count(_built(resnet34, batchnorm=False)) == 21_273_610
    assert _count(_built(preact_resnet18, batchnorm=False)) == 11_169_162


@pytest.mark.parametrize("factory", [resnet34, preact_resnet18])
@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28)])
@pytest.mark.parametrize("batchnorm", [True, False])
def test_a_batch_maps_to_logits(factory, shape, batchnorm):
    torch.manual_seed(0)
    model = _built(factory, shape, 10, batchnorm)
    with torch.no_grad():
        logits = model(torch.randn(2, *shape))
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()


def test_resnet34_has_34_weighted_layers_and_preact18_has_18():
    """Counting the 3x3 convolutions and the linear head (1x1 shortcuts are not layers)."""
    def layers(model: nn.Module) -> int:
        convs = sum(1 for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
        return convs + sum(1 for m in model.modules() if isinstance(m, nn.Linear))

    assert layers(_built(resnet34)) == 34
    assert layers(_built(preact_resnet18)) == 18


@pytest.mark.parametrize("arch, preact", [("resnet34", False), ("preact-resnet18", True)])
def test_model_arch_builds_them_by_name_with_or_without_batchnorm(arch, preact, monkeypatch):
    built = []
    monkeypatch.setattr(ResNet, "__init__", lambda self, *args, **kw: built.append((args, kw)))
    monkeypatch.setattr(ResNet, "forward", lambda self, x: x)
    for batchnorm in (True, False):
        build_model(ModelConfig(arch=arch, batchnorm=batchnorm), (3, 32, 32), 10)
    assert [kw["preact"] for _, kw in built] == [preact, preact]
    assert [kw["batchnorm"] for _, kw in built] == [True, False]
