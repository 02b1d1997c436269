"""Hold memtui's paper models against the paper's own code: same parameter shapes in the same
order, and with the reference's weights copied in, the same outputs.

    git clone https://github.com/dbp1994/memorization-pakdd-2021 /tmp/pakdd
    python scripts/check_reference_models.py /tmp/pakdd

Each model is compared twice, with every BatchNorm layer's weight, bias and running statistics
randomised first (fresh BatchNorm layers are the identity in eval mode, so a check without that
would not see where a BatchNorm sits): in eval mode (running statistics) and in train mode (batch
statistics). A BatchNorm moved to another place, a missing bias or a different eps shows as a gap.

What it cannot see: initialisation (the reference's weights are copied in, so how either side
draws its initial weights is not compared; tests/test_models.py checks memtui's), the losses
(tests/test_losses.py holds them against their formulas), the data pipeline (the paper's code
feeds raw 0-255 pixels, memtui normalises; its augmentation flag is never applied), the optimiser
and schedule, and memtui's MNIST adaptations (a 1-channel stem, the head sized from the input),
which the reference cannot build.

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


def randomise_batchnorm(model: nn.Module) -> int:
    """Every BatchNorm's weight, bias and running statistics drawn at random; how many."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for layer in layers:
            if layer.weight is not None:
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.normal_(0.0, 0.5)
            if layer.running_mean is not None and layer.running_var is not None:
                layer.running_mean.normal_(0.0, 0.5)
                layer.running_var.uniform_(0.5, 1.5)
    return len(layers)


def gap_of(reference: nn.Module, ours: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        expected = reference(x)
        return ((expected - ours(x)).abs().max() / expected.abs().max()).item()


def compare(name: str, reference: nn.Module, ours: nn.Module, shape: tuple[int, ...]) -> float:
    torch.manual_seed(0)
    batchnorms = randomise_batchnorm(reference)
    tensors = copy_weights(reference, ours)
    x = torch.randn(8, *shape)
    reference.eval()
    ours.eval()
    eval_gap = gap_of(reference, ours, x)
    # Train mode normalises by the batch's statistics (and updates the running ones, alike on
    # both sides), so where a BatchNorm sits and its eps show even where eval mode could hide them.
    reference.train()
    ours.train()
    train_gap = gap_of(reference, ours, x)
    count = sum(p.numel() for p in ours.parameters())
    print(f"{name:30} {tensors:4} tensors  {count:>9,} parameters  {batchnorms:2} BatchNorms "
          f"randomised  max |output gap| of the largest output: eval {eval_gap:.1e}, "
          f"train {train_gap:.1e}")
    return max(eval_gap, train_gap)


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
    print("same outputs in eval and train mode (to float32 rounding)" if worst < 1e-5 else
          f"outputs differ (worst gap {worst:.1e})")
    print("not compared: initialisation, losses, data pipeline (raw 0-255 inputs in the "
          "reference), optimiser, and memtui's MNIST adaptations")
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
