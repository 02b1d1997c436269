"""How fast each loss fits its training labels: the first epoch at which train accuracy (against
the corrupted labels) reaches each threshold, read from run directories through memtui.runlog.

Usage: .venv/bin/python scripts/results/fit_epochs.py RUN_DIR [RUN_DIR...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from memtui.runlog import read_run

THRESHOLDS = (0.5, 0.9, 0.99)


def main(paths: list[str]) -> None:
    for path in paths:
        run = read_run(Path(path))
        print(f"{run.path.name}:")
        for label in run.loss_labels:
            curve = run.metrics_of(label)
            firsts = []
            for threshold in THRESHOLDS:
                epoch = next((r["epoch"] for r in curve if r["train_acc"] >= threshold), None)
                firsts.append(f">={threshold:.0%} at {epoch if epoch else 'never'}")
            final = curve[-1]
            print(f"  {label:<14} {', '.join(firsts)}; final train acc {final['train_acc']:.1%} "
                  f"after {final['epoch']} epochs")


if __name__ == "__main__":
    main(sys.argv[1:])
