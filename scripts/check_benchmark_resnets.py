"""Hold memtui's benchmark ResNets (memtui/resnet.py) against the code the benchmarks build on:
same parameter shapes in the same order, and with the reference's weights copied in, the same
outputs.

    git clone https://github.com/kuangliu/pytorch-cifar /tmp/kuangliu
    python scripts/check_benchmark_resnets.py /tmp/kuangliu

Like check_reference_models.py, a script to run by hand when resnet.py changes;
tests/test_resnet.py keeps the parameter counts it confirmed (checked at kuangliu/pytorch-cifar
49b7aa9: ResNet34 21,282,122 and PreActResNet18 11,171,146 parameters, outputs equal to 2e-7).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from memtui.resnet import preact_resnet18, resnet34

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_reference_models import compare  # noqa: E402 - the sibling script's comparison


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="a checkout of kuangliu/pytorch-cifar")
    args = parser.parse_args()
    sys.path.insert(0, str(args.reference / "models"))
    from preact_resnet import PreActResNet18  # noqa: PLC0415 - the reference's own files
    from resnet import ResNet34

    torch.manual_seed(0)
    gaps = [
        compare("ResNet-34", ResNet34(), resnet34((3, 32, 32), 10), (3, 32, 32)),
        compare("PreAct-ResNet-18", PreActResNet18(), preact_resnet18((3, 32, 32), 10),
                (3, 32, 32)),
    ]
    worst = max(gaps)
    print("same outputs (to float32 rounding)" if worst < 1e-5 else
          f"outputs differ (worst gap {worst:.1e})")
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
