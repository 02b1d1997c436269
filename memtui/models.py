"""Networks: the MLP of Zhang et al., the 8-layer CNN of the APL/SCE papers, and the two networks
of Patel & Sastry's released code (github.com/dbp1994/memorization-pakdd-2021, pakdd_models.py):
their Inception-small ("Inception-Lite") and ResNet-32; the benchmarks' ResNet-34 and
PreAct-ResNet-18 (``resnet.py``); or a network of the user's own (``usermodel.py``).

Every model takes normalised float images [B, C, H, W] and returns logits [B, K], and every one
can be built with or without BatchNorm (``model.batchnorm``). Without BatchNorm, a convolution
carries a bias (with it, BatchNorm's shift takes the bias's place), so no network is left
without any bias.

Names, descriptions and the size options each reads are in the spec table (``specs.py``);
``ARCHITECTURES`` binds each name to its network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from memtui.resnet import preact_resnet18, resnet34
from memtui.specs import is_user_arch
from memtui.usermodel import build_user_model


def _norm2d(channels: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()


class MLP(nn.Module):
    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, width: int = 512,
                 depth: int = 1, batchnorm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = in_shape[0] * in_shape[1] * in_shape[2]
        for _ in range(depth):
            layers.append(nn.Linear(fan_in, width))
            if batchnorm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU(inplace=True))
            fan_in = width
        layers.append(nn.Linear(fan_in, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _conv_bn_relu(c_in: int, c_out: int, batchnorm: bool) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batchnorm), _norm2d(c_out, batchnorm),
            nn.ReLU(inplace=True)]


class CNN8(nn.Module):
    """2x conv64, 2x conv128, 2x conv196 (each BN+ReLU, max-pool after each pair), FC 256."""

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int,
                 batchnorm: bool = True) -> None:
        super().__init__()
        c, h, w = in_shape
        layers: list[nn.Module] = []
        for c_out in (64, 128, 196):
            layers += (_conv_bn_relu(c, c_out, batchnorm) + _conv_bn_relu(c_out, c_out, batchnorm)
                       + [nn.MaxPool2d(2)])
            c, h, w = c_out, h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c * h * w, 256),
            nn.BatchNorm1d(256) if batchnorm else nn.Identity(), nn.ReLU(inplace=True),
            nn.Linear(256, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


# ---------------------------------------------------------------------------------------------
# ResNet-32 as in the paper's code (He et al.'s CIFAR ResNet in the common PyTorch port):
# option-A shortcuts (stride-2 subsampling, zero-padded channels: no parameters) and
# Kaiming-normal initialisation of every convolution and linear layer.

class _ShortcutA(nn.Module):
    def __init__(self, c_out: int, c_in: int) -> None:
        super().__init__()
        self.pad = (c_out - c_in) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, batchnorm: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not batchnorm)
        self.bn1 = _norm2d(c_out, batchnorm)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=not batchnorm)
        self.bn2 = _norm2d(c_out, batchnorm)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = _ShortcutA(c_out, c_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet: 6n+2 layers over three stages of 16, 32 and 64 channels."""

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, depth: int = 32,
                 batchnorm: bool = True) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError("CIFAR ResNet depth must be 6n+2")
        n = (depth - 2) // 6
        self.stem = nn.Sequential(*_conv_bn_relu(in_shape[0], 16, batchnorm))
        blocks: list[nn.Module] = []
        c = 16
        for stage, c_out in enumerate((16, 32, 64)):
            for i in range(n):
                blocks.append(BasicBlock(c, c_out, 2 if stage > 0 and i == 0 else 1, batchnorm))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


# ---------------------------------------------------------------------------------------------
# Inception-small as in the paper's code: the small Inception of Zhang et al. (2017, Appendix A)
# with a stem convolution without padding and a head of AvgPool(7, stride 1, padding 1) ->
# flatten -> Linear. On 32x32 CIFAR-10 images the last feature map is 336 x 6 x 6, pooled to
# 336 x 2 x 2, so the linear layer has 1,344 inputs as in the paper's code; on 28x28 MNIST it is
# 336 x 5 x 5, pooled to 336 x 1 x 1 (336 inputs). The paper's code cannot run MNIST at all (its
# stem takes 3 channels and its head 1,344 inputs, both fixed): the 1-channel stem and the head
# sized from the input are memtui's adaptation.

class _ConvModule(nn.Sequential):
    # Every convolution keeps its bias, with BatchNorm too, as the paper's code has it: redundant
    # under BatchNorm (it ends up in the running mean) but the parameter count is the reference's.
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0,
                 batchnorm: bool = True) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, kernel, stride, padding),
                         _norm2d(c_out, batchnorm), nn.ReLU(inplace=True))


class _Inception(nn.Module):
    def __init__(self, c_in: int, c1: int, c3: int, batchnorm: bool) -> None:
        super().__init__()
        self.b1 = _ConvModule(c_in, c1, 1, batchnorm=batchnorm)
        self.b3 = _ConvModule(c_in, c3, 3, padding=1, batchnorm=batchnorm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x)], dim=1)


class _Downsample(nn.Module):
    def __init__(self, c_in: int, c3: int, batchnorm: bool) -> None:
        super().__init__()
        self.conv = _ConvModule(c_in, c3, 3, stride=2, batchnorm=batchnorm)
        self.pool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.pool(x)], dim=1)


class InceptionSmall(nn.Module):
    """The paper's Inception-small ("Inception-Lite"), BatchNorm optional."""

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int,
                 batchnorm: bool = True) -> None:
        super().__init__()
        bn = batchnorm
        self.features = nn.Sequential(
            _ConvModule(in_shape[0], 96, 3, batchnorm=bn),
            _Inception(96, 32, 32, bn), _Inception(64, 32, 48, bn), _Downsample(80, 80, bn),
            _Inception(160, 112, 48, bn), _Inception(160, 96, 64, bn), _Inception(160, 80, 80, bn),
            _Inception(160, 48, 96, bn), _Downsample(144, 96, bn),
            _Inception(240, 176, 160, bn), _Inception(336, 176, 160, bn),
            nn.AvgPool2d(7, stride=1, padding=1), nn.Flatten(),
        )
        with torch.no_grad():
            fan_in = self.features(torch.zeros(1, *in_shape)).shape[1]
        self.classifier = nn.Linear(fan_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


ModelFactory = Callable[..., nn.Module]

#: arch name (an entry of ``specs.ARCHITECTURES``) -> factory(in_shape, num_classes, model_config)
ARCHITECTURES: dict[str, ModelFactory] = {
    "mlp": lambda shape, k, cfg: MLP(shape, k, cfg.width, cfg.depth, cfg.batchnorm),
    "cnn8": lambda shape, k, cfg: CNN8(shape, k, cfg.batchnorm),
    "resnet32": lambda shape, k, cfg: CifarResNet(shape, k, 32, cfg.batchnorm),
    "inception-small": lambda shape, k, cfg: InceptionSmall(shape, k, cfg.batchnorm),
    "resnet34": lambda shape, k, cfg: resnet34(shape, k, cfg.batchnorm),
    "preact-resnet18": lambda shape, k, cfg: preact_resnet18(shape, k, cfg.batchnorm),
}


def build_model(model_config, in_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """The network of ``model.arch``: a name of ``ARCHITECTURES``, or a factory of the user's
    ("package.module:factory", called with the model section's ``options``)."""
    if is_user_arch(model_config.arch):
        return build_user_model(model_config.arch, in_shape, num_classes, model_config.options)
    return ARCHITECTURES[model_config.arch](in_shape, num_classes, model_config)
