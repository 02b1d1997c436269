"""Specification of the networks: every architecture maps normalised images [B, C, H, W] to
logits [B, K], for the input shapes the data sets have."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from memtui.config import ModelConfig
from memtui.models import ARCHITECTURES, MLP, build_model

MNIST_SHAPE = (1, 28, 28)
CIFAR_SHAPE = (3, 32, 32)
CASES = [("mlp", MNIST_SHAPE), ("mlp", CIFAR_SHAPE), ("cnn8", CIFAR_SHAPE), ("cnn8", MNIST_SHAPE),
         ("resnet32", CIFAR_SHAPE), ("inception-small", CIFAR_SHAPE)]


def test_every_architecture_is_covered_here():
    assert {arch for arch, _ in CASES} == set(ARCHITECTURES)


@pytest.mark.parametrize("arch, shape", CASES)
@pytest.mark.parametrize("train", [True, False])
def test_each_architecture_gives_b_by_k_logits(arch, shape, train):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, width=32), shape, num_classes=10)
    model.train(train)
    with torch.no_grad():
        logits = model(torch.randn(3, *shape))
    assert logits.shape == (3, 10) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("width, depth, batchnorm", [(512, 1, True), (512, 3, True), (64, 2, False)])
def test_mlp_width_depth_and_batchnorm_are_configurable(width, depth, batchnorm):
    model = build_model(ModelConfig(arch="mlp", width=width, depth=depth, batchnorm=batchnorm),
                        MNIST_SHAPE, 10)
    assert isinstance(model, MLP)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == depth + 1
    assert [m.out_features for m in linears] == [width] * depth + [10]
    assert any(isinstance(m, nn.BatchNorm1d) for m in model.modules()) is batchnorm


def test_resnet32_has_32_weighted_layers():
    model = build_model(ModelConfig(arch="resnet32"), CIFAR_SHAPE, 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) + len(linears) == 32


def test_cnn8_has_six_convolutions_and_two_fully_connected_layers():
    model = build_model(ModelConfig(arch="cnn8"), CIFAR_SHAPE, 10)
    convs = [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)]
    assert convs == [64, 64, 128, 128, 196, 196] and linears == [256, 10]


def test_mlp_learns_a_batch():
    """A few SGD steps lower the loss on one batch: gradients reach every parameter."""
    torch.manual_seed(0)
    x, y = torch.randn(32, *MNIST_SHAPE), torch.randint(0, 10, (32,))
    model = build_model(ModelConfig(arch="mlp", width=64), MNIST_SHAPE, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(8):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None for p in model.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
