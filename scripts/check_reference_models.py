"""Hold memtui's paper models against the paper's own code: same parameter shapes in the same
order, and with the reference's weights copied in, the same outputs.

    git clone https://github.com/dbp1994/memorization-pakdd-2021 /tmp/pakdd
    python scripts/check_reference_models.py /tmp/pakdd

The reference is not a dependency of memtui (it is a research repository, not a package), so this
is a script to run by hand when models.py changes; tests/test_models.py keeps the parameter
counts that it confirmed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

from memtui.models import CifarResNet, InceptionSmall


def copy_weights(reference: nn.Module, ours: nn.Module) -> int:
    """The reference's parameters and buffers into ours, in order; their count. Every pair must
    have the same shape, which is the structural check."""
    theirs = list(reference.state_dict().items())
    mine = list(ours.state_dict().items())
    if len(theirs) != len(mine):
        raise SystemExit(f"{len(theirs)} tensors in the reference, {len(mine)} in memtui's")
    copied = {}
    for (their_name, tensor), (my_name, mine_tensor) in zip(theirs, mine):
        if tensor.shape != mine_tensor.shape:
            raise SystemExit(f"{their_name} {tuple(tensor.shape)} vs {my_name} "
                             f"{tuple(mine_tensor.shape)}")
        copied[my_name] = tensor
    ours.load_state_dict(copied)
    return len(copied)


def compare(name: str, reference: nn.Module, ours: nn.Module, shape: tuple[int, ...]) -> float:
    torch.manual_seed(0)
    tensors = copy_weights(reference, ours)
    reference.eval()
    ours.eval()
    x = torch.randn(8, *shape)
    with torch.no_grad():
        expected = reference(x)
        gap = ((expected - ours(x)).abs().max() / expected.abs().max()).item()
    count = sum(p.numel() for p in ours.parameters())
    print(f"{name:30} {tensors:4} tensors  {count:>9,} parameters  "
          f"max |output gap| {gap:.1e} of the largest output")
    return gap


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="a checkout of dbp1994/memorization-pakdd-2021")
    args = parser.parse_args()
    sys.path.insert(0, str(args.reference))
    from pakdd_models import CIFAR_Inception_Small  # noqa: PLC0415 - the reference's own files
    from resnet import resnet32

    torch.manual_seed(0)
    gaps = [
        compare("Inception-small, BatchNorm", CIFAR_Inception_Small(10, batch_norm=True),
                InceptionSmall((3, 32, 32), 10, batchnorm=True), (3, 32, 32)),
        compare("Inception-small, no BatchNorm", CIFAR_Inception_Small(10, batch_norm=False),
                InceptionSmall((3, 32, 32), 10, batchnorm=False), (3, 32, 32)),
        compare("ResNet-32 (option A)", resnet32(), CifarResNet((3, 32, 32), 10, 32, True),
                (3, 32, 32)),
    ]
    worst = max(gaps)
    print("same outputs (to float32 rounding)" if worst < 1e-5 else
          f"outputs differ (worst gap {worst:.1e})")
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
