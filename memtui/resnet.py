"""The ResNets of the noisy-label benchmarks, for 32x32 inputs (28x28 works too).

As kuangliu/pytorch-cifar writes them (models/resnet.py and models/preact_resnet.py), the code
that CIFAR-N (ResNet-34) and most label-noise papers (PreAct-ResNet-18) build on: a 3x3 stem of
64 channels without max-pooling, four stages of 64, 128, 256 and 512 channels (stride 2 from the
second on), 1x1 projection shortcuts where the shape changes, global average pooling and one
linear layer. PreAct-ResNet ends without a BatchNorm-ReLU before the pooling, like that code (He
et al.'s pre-activation paper has one). Parameter counts with BatchNorm, 10 classes:
ResNet-34 21,282,122 and PreAct-ResNet-18 11,171,146 (tests/test_resnet.py); with that code's
weights copied in, the outputs are equal to float32 rounding (scripts/check_benchmark_resnets.py).

``batchnorm=False`` replaces every BatchNorm by nothing and gives every convolution a bias, as
the other models of memtui do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv3x3(c_in: int, c_out: int, stride: int, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=bias)


def _norm(channels: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()


class BasicBlock(nn.Module):
    """conv-BN-ReLU, conv-BN, plus the shortcut, ReLU (He et al. 2016a)."""

    def __init__(self, c_in: int, c_out: int, stride: int, batchnorm: bool) -> None:
        super().__init__()
        bias = not batchnorm
        self.conv1 = _conv3x3(c_in, c_out, stride, bias)
        self.bn1 = _norm(c_out, batchnorm)
        self.conv2 = _conv3x3(c_out, c_out, 1, bias)
        self.bn2 = _norm(c_out, batchnorm)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=bias),
                                          _norm(c_out, batchnorm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class PreActBlock(nn.Module):
    """BN-ReLU-conv twice, the shortcut taken after the first BN-ReLU (He et al. 2016b)."""

    def __init__(self, c_in: int, c_out: int, stride: int, batchnorm: bool) -> None:
        super().__init__()
        bias = not batchnorm
        self.bn1 = _norm(c_in, batchnorm)
        self.conv1 = _conv3x3(c_in, c_out, stride, bias)
        self.bn2 = _norm(c_out, batchnorm)
        self.conv2 = _conv3x3(c_out, c_out, 1, bias)
        self.shortcut: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv2(F.relu(self.bn2(self.conv1(out))))
        return out + shortcut


STAGE_WIDTHS = (64, 128, 256, 512)


class ResNet(nn.Module):
    """ResNet for small images; ``preact`` chooses pre-activation blocks and a bare stem."""

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int,
                 blocks: tuple[int, int, int, int], preact: bool = False,
                 batchnorm: bool = True) -> None:
        super().__init__()
        stem: list[nn.Module] = [_conv3x3(in_shape[0], 64, 1, bias=not batchnorm)]
        if not preact:
            stem += [_norm(64, batchnorm), nn.ReLU(inplace=True)]
        self.stem = nn.Sequential(*stem)
        block = PreActBlock if preact else BasicBlock
        layers: list[nn.Module] = []
        c_in = 64
        for stage, (c_out, count) in enumerate(zip(STAGE_WIDTHS, blocks, strict=True)):
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(block(c_in, c_out, stride, batchnorm))
                c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(c_in, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(x)))


def preact_resnet18(in_shape: tuple[int, int, int], num_classes: int,
                    batchnorm: bool = True) -> ResNet:
    return ResNet(in_shape, num_classes, (2, 2, 2, 2), preact=True, batchnorm=batchnorm)


def resnet34(in_shape: tuple[int, int, int], num_classes: int, batchnorm: bool = True) -> ResNet:
    return ResNet(in_shape, num_classes, (3, 4, 6, 3), preact=False, batchnorm=batchnorm)
