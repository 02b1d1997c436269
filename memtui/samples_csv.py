"""``memtui report RUN --samples FILE.csv``: the sample ledger as one CSV row per training sample,
for a spreadsheet or pandas (``pd.read_csv``), without numpy's file format.

Columns: ``row`` (the sample's position in the ledger), ``index`` (its position in the data set's
training split), ``given`` and ``true`` (labels as class names), ``corrupted`` (0/1), then per
loss ``<loss>:<field>`` for the fields of ``FIELDS``. An epoch that never happened (a sample never
fitted, or not fitted at the last measurement) is an empty cell, which pandas reads as NaN.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from memtui.atomic import atomic_write
from memtui.errors import MemtuiError
from memtui.runlog.ledger import NEVER, LedgerView, read_ledger

#: Per-loss columns, in order: ledger field -> column suffix.
FIELDS = {"first_fit": "first_fit", "fit_since": "fitted_since", "forgets": "forgetting_events",
          "last_pred": "prediction", "aum": "aum", "confidence": "confidence",
          "variability": "variability"}
_EPOCH_FIELDS = ("first_fit", "fit_since")


def header(view: LedgerView) -> list[str]:
    return ["row", "index", "given", "true", "corrupted",
            *(f"{loss.label}:{suffix}" for loss in view.losses for suffix in FIELDS.values())]


def _column(view: LedgerView, label: str, field: str) -> list[str]:
    values = getattr(view.loss(label), field)
    if field in _EPOCH_FIELDS:
        return ["" if v == NEVER else str(v) for v in values.tolist()]
    if field == "last_pred":
        names = view.class_names
        return [names[v] if 0 <= v < len(names) else "" for v in values.tolist()]
    if values.dtype.kind in "iu":
        return [str(v) for v in values.tolist()]
    # repr of a Python float: the shortest text that reads back as the same float32 value
    return [repr(v) for v in values.astype(np.float64).tolist()]


def write_samples_csv(view: LedgerView, path: Path) -> int:
    """Write the CSV whole (or not at all); the number of rows."""
    names = view.class_names
    columns: list[list[str]] = [
        [str(r) for r in range(view.num_samples)],
        [str(i) for i in view.index.tolist()],
        [names[v] for v in view.given.tolist()],
        [names[v] for v in view.true.tolist()],
        ["1" if c else "0" for c in view.corrupted.tolist()],
    ]
    for loss in view.losses:
        columns += [_column(view, loss.label, field) for field in FIELDS]
    with atomic_write(Path(path), "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header(view))
        writer.writerows(zip(*columns))
    return view.num_samples


def ledger_for_csv(paths: list[Path], target: Path) -> LedgerView:
    """The one run's ledger that ``--samples target`` writes, every argument checked first (so
    a bad one leaves no half report): MemtuiError naming the flag otherwise."""
    from memtui.sweep.manifest import is_sweep_dir

    target = Path(target)
    if target.suffix.lower() != ".csv":
        raise MemtuiError(f"--samples: give a file ending in .csv, not {target.name!r}")
    if not target.parent.is_dir():
        raise MemtuiError(f"--samples: folder {target.parent} does not exist")
    if len(paths) != 1:
        raise MemtuiError("--samples: give one run directory (the CSV has a row per training "
                          "sample of one run)")
    if is_sweep_dir(Path(paths[0])):
        raise MemtuiError(f"--samples: {paths[0]} is a sweep; give one of its cells' run "
                          "directories (cells/<cell>)")
    return read_ledger(Path(paths[0]))
