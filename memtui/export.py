"""``memtui export tensorboard RUN_OR_SWEEP [--out DIR]``: TensorBoard event files from
a run's read model (``metrics.jsonl`` replayed into a RunState; the final values are
memtui.aggregate's results), for the viewer researchers already use.

One TensorBoard run per run (or sweep cell) and loss, ``DIR/<cell>/<loss>/``: every metric of
every epoch as a scalar (step = epoch), and the hyperparameters (data set, corruption, seed,
model, optimiser, the loss and its parameters, a sweep's axes) with the final metrics for
TensorBoard's HPARAMS tab. Written with tensorboardX (``pip install 'memtui[tensorboard]'``), which
needs neither TensorFlow nor the tensorboard package. Exporting again replaces the event files
an earlier export wrote there. Then: ``tensorboard --logdir DIR``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from memtui.aggregate import clean, loss_results
from memtui.errors import MemtuiError, RunDirError, did_you_mean
from memtui.metrics import METRICS
from memtui.runlog import RunRecord, read_run
from memtui.runstate import RunState

KINDS = ("tensorboard",)
EVENT_PREFIX = "events.out.tfevents."
#: Final values shown in the HPARAMS tab, under these tags (distinct from the per-epoch scalars).
HPARAM_METRICS = ("test_acc", "best_test_acc", "memorized", "recovered", "clean_acc", "train_acc")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", name).strip("_") or "loss"


def _scalar(value: Any) -> bool | str | float | int | None:
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    return str(value)


def hparams_of(run: RunRecord, label: str, overrides: dict[str, Any]) -> dict[str, Any]:
    cfg = run.config
    loss: dict[str, Any] = next(
        (info for info in run.meta.get("losses", []) if info.get("label") == label), {})
    values: dict[str, Any] = {
        "loss": label,
        "loss.name": loss.get("name"),
        "loss.symmetric": loss.get("symmetric"),
        **{f"loss.{key}": value for key, value in (loss.get("params") or {}).items()},
        "data.dataset": cfg.get("data", {}).get("dataset"),
        "data.subset": cfg.get("data", {}).get("subset"),
        "corruption.labels": cfg.get("corruption", {}).get("labels"),
        "corruption.noise": cfg.get("corruption", {}).get("noise"),
        "corruption.inputs": cfg.get("corruption", {}).get("inputs"),
        "seed": cfg.get("seed"),
        "model.arch": cfg.get("model", {}).get("arch"),
        "model.width": cfg.get("model", {}).get("width"),
        "model.depth": cfg.get("model", {}).get("depth"),
        "optimizer.name": cfg.get("optimizer", {}).get("name"),
        "optimizer.lr": cfg.get("optimizer", {}).get("lr"),
        "optimizer.weight_decay": cfg.get("optimizer", {}).get("weight_decay"),
        "schedule.kind": cfg.get("schedule", {}).get("kind"),
        "batch_size": cfg.get("batch_size"),
        "epochs": cfg.get("epochs"),
    }
    for axis, value in overrides.items():  # a sweep's axes, e.g. "losses" as a list
        values.setdefault(axis, value)
    return {key: _scalar(value) for key, value in values.items() if _scalar(value) is not None}


def final_metrics(state: RunState, label: str) -> dict[str, float]:
    """A loss's results (memtui.aggregate.loss_results: its last epoch's values and the best test
    accuracy), for the HPARAMS tab."""
    loss = state.losses.get(label)
    results = loss_results(loss) if loss is not None else {}
    return {f"hparam/{key}": clean(float(value)) for key in HPARAM_METRICS
            if isinstance(value := results.get(key), (int, float))}


def _clear(logdir: Path) -> None:
    if logdir.is_dir():
        for path in logdir.iterdir():
            if path.name.startswith(EVENT_PREFIX) and path.is_file():
                path.unlink()


def write_run(run: RunRecord, target: Path, overrides: dict[str, Any]) -> list[Path]:
    from tensorboardX import SummaryWriter
    from tensorboardX.summary import hparams

    written = []
    state = run.state()
    for label, loss in state.losses.items():
        logdir = target / _safe(label)
        _clear(logdir)
        writer = SummaryWriter(logdir=str(logdir), flush_secs=3600)
        try:
            for name in METRICS:
                for epoch, value in zip(*loss.points(name)):
                    writer.add_scalar(name, float(value), epoch)
            last = loss.epochs[-1] if loss.epochs else 0
            metrics = final_metrics(state, label)
            experiment, start, end = hparams(hparams_of(run, label, overrides), metrics)
            for summary in (experiment, start, end):
                writer.file_writer.add_summary(summary)
            for tag, value in metrics.items():
                writer.add_scalar(tag, value, last)
        finally:
            writer.close()
        written.append(logdir)
    return written


def export_tensorboard(path: Path, out: Path | None = None) -> tuple[Path, list[Path]]:
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        raise MemtuiError("export tensorboard needs tensorboardX; install it with: "
                          "pip install 'memtui[tensorboard]'") from None
    from memtui.sweep.manifest import Manifest, is_sweep_dir

    path = Path(path)
    out = Path(out) if out is not None else path / "tensorboard"
    sources: list[tuple[RunRecord, Path, dict[str, Any]]] = []
    if is_sweep_dir(path):
        manifest = Manifest.load(path)
        for cell in manifest.cells:
            cell_dir = manifest.cell_dir(cell["name"])
            if (cell_dir / "config.json").is_file():
                sources.append((read_run(cell_dir), out / _safe(cell["name"]),
                                dict(cell.get("overrides", {}))))
        if not sources:
            raise RunDirError(f"sweep {path} has no cell with a run yet")
    else:
        sources.append((read_run(path), out, {}))
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = [logdir for run, target, overrides in sources
                   for logdir in write_run(run, target, overrides)]
    except OSError as exc:
        raise RunDirError(f"--out: cannot write {out} ({exc.strerror or exc})") from None
    return out, written


def export_command(kind: str, path: Path, out: Path | None = None) -> None:
    if kind not in KINDS:
        raise MemtuiError(f"unknown export {kind!r}{did_you_mean(kind, KINDS)}; valid: "
                          f"{', '.join(KINDS)}")
    target, written = export_tensorboard(path, out)
    print(f"wrote {len(written)} TensorBoard runs under {target}; view them with: "
          f"tensorboard --logdir {target}", file=sys.stderr)
