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
         ("resnet32", CIFAR_SHAPE), ("resnet32", MNIST_SHAPE), ("inception-small", CIFAR_SHAPE),
         ("inception-small", MNIST_SHAPE)]


# Built once each in tests/test_resnet.py (ResNet-34 takes a second to initialise).
BENCHMARK_RESNETS = {"resnet34", "preact-resnet18"}


def test_every_architecture_is_covered_here_or_in_test_resnet():
    assert {arch for arch, _ in CASES} | BENCHMARK_RESNETS == set(ARCHITECTURES)


@pytest.mark.parametrize("arch, shape", CASES)
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("batchnorm", [True, False])
def test_each_architecture_gives_b_by_k_logits(arch, shape, train, batchnorm):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, width=32, batchnorm=batchnorm), shape,
                        num_classes=10)
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


def _has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@pytest.mark.parametrize("arch, shape", CASES)
def test_batchnorm_off_leaves_no_batchnorm_module_and_on_has_some(arch, shape):
    assert not _has_batchnorm(build_model(ModelConfig(arch=arch, batchnorm=False), shape, 10))
    assert _has_batchnorm(build_model(ModelConfig(arch=arch, batchnorm=True), shape, 10))


@pytest.mark.parametrize("arch, shape", CASES)
def test_without_batchnorm_every_convolution_has_a_bias(arch, shape):
    """Otherwise a BN-free conv net has no bias at all before its head (it failed to train)."""
    model = build_model(ModelConfig(arch=arch, batchnorm=False), shape, 10)
    assert all(m.bias is not None for m in model.modules() if isinstance(m, nn.Conv2d))


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _conv(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k


def _resnet32_reference_count(c_in: int, k: int) -> int:
    """ResNet-32 with option-A shortcuts (no shortcut parameters), BatchNorm after every conv,
    counted from its definition: stem conv 3x3 -> 16, three stages of 5 blocks (two 3x3 convs
    each) at 16, 32, 64 channels, head Linear(64, K). For CIFAR-10 this is 464,154, the count the
    reference PyTorch port (akamaster/pytorch_resnet_cifar10, which the paper's code follows)
    gives for its resnet32 ("0.46M")."""
    convs = _conv(c_in, 16, 3)
    bn_channels = 16
    c = 16
    for c_out in (16, 32, 64):
        for _ in range(5):
            convs += _conv(c, c_out, 3) + _conv(c_out, c_out, 3)
            bn_channels += 2 * c_out
            c = c_out
    return convs + 2 * bn_channels + 64 * k + k


def _inception_reference_count(c_in: int, head_in: int, k: int, per_channel: int = 3) -> int:
    """Inception-small from its layer table (Zhang et al. 2017, Appendix A, as in the paper's
    code, pakdd_models.py): conv 3x3 96; Inception(32, 32), Inception(32, 48), Downsample(80);
    Inception(112, 48), (96, 64), (80, 80), (48, 96), Downsample(96); Inception(176, 160) twice;
    each conv with its bias and then BatchNorm (scale and shift): 3 parameters per output
    channel beside the weights, 1 without BatchNorm; head Linear(head_in, K): 1,344 inputs on
    CIFAR-10 as in the paper's code. With a global-average-pool head (336 inputs), no conv bias
    and a BatchNorm shift only (1 per channel), the same table gives 1,649,402 on CIFAR-10:
    Zhang et al.'s Table 1 count."""
    total = _conv(c_in, 96, 3) + per_channel * 96
    c = 96
    for kind, a, b in [("i", 32, 32), ("i", 32, 48), ("d", 80, 0), ("i", 112, 48), ("i", 96, 64),
                       ("i", 80, 80), ("i", 48, 96), ("d", 96, 0), ("i", 176, 160),
                       ("i", 176, 160)]:
        if kind == "i":
            total += _conv(c, a, 1) + _conv(c, b, 3) + per_channel * (a + b)
            c = a + b
        else:
            total += _conv(c, a, 3) + per_channel * a
            c = c + a
    return total + head_in * k + k


def test_paper_resnet32_parameter_count_equals_the_reference():
    model = build_model(ModelConfig(arch="resnet32"), CIFAR_SHAPE, 10)
    assert _count(model) == _resnet32_reference_count(3, 10) == 464_154
    model = build_model(ModelConfig(arch="resnet32"), MNIST_SHAPE, 10)
    assert _count(model) == _resnet32_reference_count(1, 10)


def test_paper_inception_small_parameter_count_equals_the_reference():
    model = build_model(ModelConfig(arch="inception-small"), CIFAR_SHAPE, 10)
    assert model.classifier.in_features == 1344
    assert _count(model) == _inception_reference_count(3, 1344, 10) == 1_662_906
    without_bn = build_model(ModelConfig(arch="inception-small", batchnorm=False), CIFAR_SHAPE, 10)
    assert _count(without_bn) == _inception_reference_count(3, 1344, 10, per_channel=1) == 1_659_482
    mnist = build_model(ModelConfig(arch="inception-small"), MNIST_SHAPE, 10)
    assert mnist.classifier.in_features == 336
    assert _count(mnist) == _inception_reference_count(1, 336, 10)
    # The layer table itself checked against a published count: Zhang et al.'s Table 1.
    assert _inception_reference_count(3, 336, 10, per_channel=1) == 1_649_402


def test_paper_inception_stem_has_no_padding_and_resnet_shortcuts_have_no_parameters():
    inception = build_model(ModelConfig(arch="inception-small"), CIFAR_SHAPE, 10)
    stem = next(m for m in inception.modules() if isinstance(m, nn.Conv2d))
    assert stem.padding == (0, 0) and stem.kernel_size == (3, 3)
    resnet = build_model(ModelConfig(arch="resnet32"), CIFAR_SHAPE, 10)
    convs = [m for m in resnet.modules() if isinstance(m, nn.Conv2d)]
    assert all(m.kernel_size == (3, 3) for m in convs)  # no 1x1 (option-B) shortcut convs


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
