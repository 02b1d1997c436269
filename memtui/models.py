"""Networks: the MLPs of Zhang et al. and Patel & Sastry, the 8-layer CNN of the APL/SCE papers,
a CIFAR ResNet-32 and the small Inception of Zhang et al.

Every model takes normalised float images [B, C, H, W] and returns logits [B, K].
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


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


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


class CNN8(nn.Module):
    """2x conv64, 2x conv128, 2x conv196 (each BN+ReLU, max-pool after each pair), FC 256."""

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        c, h, w = in_shape
        layers: list[nn.Module] = []
        for c_out in (64, 128, 196):
            layers += _conv_bn_relu(c, c_out) + _conv_bn_relu(c_out, c_out) + [nn.MaxPool2d(2)]
            c, h, w = c_out, h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c * h * w, 256), nn.BatchNorm1d(256), nn.ReLU(inplace=True),
            nn.Linear(256, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet: 6n+2 layers over three stages of 16, 32 and 64 channels."""

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, depth: int = 32) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError("CIFAR ResNet depth must be 6n+2")
        n = (depth - 2) // 6
        self.stem = nn.Sequential(*_conv_bn_relu(in_shape[0], 16))
        blocks: list[nn.Module] = []
        c = 16
        for stage, c_out in enumerate((16, 32, 64)):
            for i in range(n):
                blocks.append(BasicBlock(c, c_out, 2 if stage > 0 and i == 0 else 1))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


class _ConvModule(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        padding = (kernel - 1) // 2 if stride == 1 else 0
        super().__init__(nn.Conv2d(c_in, c_out, kernel, stride, padding=padding, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class _Inception(nn.Module):
    def __init__(self, c_in: int, c1: int, c3: int) -> None:
        super().__init__()
        self.b1 = _ConvModule(c_in, c1, 1)
        self.b3 = _ConvModule(c_in, c3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x)], dim=1)


class _Downsample(nn.Module):
    def __init__(self, c_in: int, c3: int) -> None:
        super().__init__()
        self.conv = _ConvModule(c_in, c3, 3, stride=2)
        self.pool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.pool(x)], dim=1)


class InceptionSmall(nn.Module):
    """The small Inception of Zhang et al. (2017), Appendix A."""

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _ConvModule(in_shape[0], 96, 3),
            _Inception(96, 32, 32), _Inception(64, 32, 48), _Downsample(80, 80),
            _Inception(160, 112, 48), _Inception(160, 96, 64), _Inception(160, 80, 80),
            _Inception(160, 48, 96), _Downsample(144, 96),
            _Inception(240, 176, 160), _Inception(336, 176, 160),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(336, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


ModelFactory = Callable[..., nn.Module]

#: arch name -> (factory(in_shape, num_classes, model_config) , one-line description)
ARCHITECTURES: dict[str, tuple[ModelFactory, str]] = {
    "mlp": (lambda shape, k, cfg: MLP(shape, k, cfg.width, cfg.depth, cfg.batchnorm),
            "multilayer perceptron (width x depth, BatchNorm optional)"),
    "cnn8": (lambda shape, k, cfg: CNN8(shape, k), "8-layer CNN of the APL/SCE papers"),
    "resnet32": (lambda shape, k, cfg: CifarResNet(shape, k, 32), "CIFAR ResNet-32"),
    "inception-small": (lambda shape, k, cfg: InceptionSmall(shape, k),
                        "small Inception of Zhang et al."),
}


def build_model(model_config, in_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    factory, _ = ARCHITECTURES[model_config.arch]
    return factory(in_shape, num_classes, model_config)
