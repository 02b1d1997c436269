"""The read model of a run: everything known about it, built from memtui.events alone.

One reducer (``RunState.apply``) serves every consumer: the live view and ``memtui watch`` (so
both show the same thing for the same events), the headless reporter, the run log's
summary.json and ``memtui report``. ``describe`` is the one line that names a run.
Nothing here imports Textual, Rich or torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memtui.events import (
    EpochEnded,
    EpochMetrics,
    EpochProgress,
    Event,
    LossDiverged,
    LossInfo,
    ResourceUsage,
    RunFinished,
    RunHealth,
    RunStarted,
)
from memtui.metrics import EVAL_METRICS, METRICS

#: The metrics the overlay cycles through with `m`: everything that describes the model's
#: predictions or its fit, in the order of memtui.metrics.METRICS.
OVERLAY_METRICS: tuple[str, ...] = tuple(
    name for name in METRICS if name in EVAL_METRICS or name == "train_loss"
)

#: Keys of ``RunState.apply``'s result besides loss labels.
HEADER = "__header__"


@dataclass
class LossState:
    info: LossInfo
    epochs: list[int] = field(default_factory=list)
    series: dict[str, list[float | None]] = field(default_factory=dict)
    latest: dict[str, float | None] = field(default_factory=dict)
    #: metric -> (value, epoch) of the best value so far, for metrics with a direction
    best: dict[str, tuple[float, int]] = field(default_factory=dict)
    diverged: tuple[int, str] | None = None

    @property
    def label(self) -> str:
        return self.info.label

    def add(self, epoch: int, values: dict[str, float | None]) -> None:
        self.epochs.append(epoch)
        for name in METRICS:
            value = values.get(name)
            self.series.setdefault(name, []).append(value)
            self.latest[name] = value
            direction = METRICS[name].higher_is_better
            if value is None or direction is None:
                continue
            old = self.best.get(name)
            if old is None or (value > old[0] if direction else value < old[0]):
                self.best[name] = (value, epoch)

    def points(self, metric: str) -> tuple[list[int], list[float]]:
        """(epochs, values) of a metric, leaving out the epochs it was not measured."""
        pairs = [(e, v) for e, v in zip(self.epochs, self.series.get(metric, ())) if v is not None]
        return [e for e, _ in pairs], [v for _, v in pairs]


@dataclass
class RunState:
    clock: Callable[[], float] = time.time
    status: str = "waiting"  # waiting, running, completed, stopped, failed
    run_dir: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    device: str = ""
    num_train: int = 0
    num_test: int = 0
    num_corrupted: int = 0
    losses: dict[str, LossState] = field(default_factory=dict)
    epochs_total: int = 0
    epochs_done: int = 0
    epoch_seconds: list[float] = field(default_factory=list)
    progress: tuple[int, int, int] | None = None  # epoch, batch, num_batches
    images_per_s: float | None = None
    message: str = ""
    error: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    #: The writer's health as a reader of the run directory sees it ("" for a live run).
    health: str = ""
    health_text: str = ""
    #: The machine per epoch (memtui.resources), oldest first; why there are no GPU figures.
    resources: list[ResourceUsage] = field(default_factory=list)
    resource_note: str = ""

    def apply(self, event: Event) -> set[str]:
        """Take one event in; the loss labels (and HEADER) whose display changed."""
        if isinstance(event, RunStarted):
            self.status = "running"
            self.run_dir = event.run_dir
            self.config = event.config
            self.device = event.device
            self.num_train, self.num_test = event.num_train, event.num_test
            self.num_corrupted = event.num_corrupted
            self.epochs_total = int(event.config.get("epochs", 0))
            self.epochs_done = event.first_epoch - 1
            self.losses = {info.label: LossState(info) for info in event.losses}
            if self.started_at is None:
                self.started_at = self.clock()
            return {HEADER, *self.losses}
        if isinstance(event, EpochProgress):
            self.progress = (event.epoch, event.batch, event.num_batches)
            return {HEADER}
        if isinstance(event, EpochMetrics):
            loss = self.losses.get(event.loss)
            if loss is None:
                return set()
            loss.add(event.epoch, event.values)
            if event.values.get("images_per_s") is not None:
                self.images_per_s = event.values["images_per_s"]
            return {event.loss, HEADER}
        if isinstance(event, EpochEnded):
            self.epochs_done = event.epoch
            self.epochs_total = event.epochs
            self.epoch_seconds.append(event.seconds)
            self.progress = None
            return {HEADER}
        if isinstance(event, LossDiverged):
            loss = self.losses.get(event.loss)
            if loss is None:
                return set()
            loss.diverged = (event.epoch, event.reason)
            return {event.loss}
        if isinstance(event, ResourceUsage):
            self.resources.append(event)
            self.resource_note = event.note or self.resource_note
            return {HEADER}
        if isinstance(event, RunHealth):
            if (event.state, event.text) == (self.health, self.health_text):
                return set()
            self.health, self.health_text = event.state, event.text
            return {HEADER}
        if isinstance(event, RunFinished):
            self.status = event.status
            self.epochs_done = event.epochs_completed
            self.message = event.message
            self.error = event.error
            self.progress = None
            if self.ended_at is None:
                self.ended_at = self.clock()
            return {HEADER, *self.losses}
        return set()

    def apply_all(self, events: Iterable[Event]) -> RunState:
        for event in events:
            self.apply(event)
        return self

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "stopped", "failed")

    @property
    def fraction_done(self) -> float:
        """Share of the run's epochs done, counting the batches of the epoch in progress."""
        if not self.epochs_total:
            return 0.0
        done = float(self.epochs_done)
        if self.progress is not None and self.progress[2]:
            epoch, batch, num_batches = self.progress
            if epoch == self.epochs_done + 1:
                done += batch / num_batches
        return min(1.0, done / self.epochs_total)

    def elapsed(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.ended_at if self.ended_at is not None else self.clock()
        return max(0.0, end - self.started_at)

    def eta(self) -> float | None:
        """Seconds left at the mean pace of the epochs so far; None before the first epoch."""
        if self.finished or not self.epoch_seconds or not self.epochs_total:
            return None
        per_epoch = sum(self.epoch_seconds) / len(self.epoch_seconds)
        remaining = self.epochs_total * (1.0 - self.fraction_done)
        return max(0.0, per_epoch * remaining)


def describe_parts(state: RunState) -> list[str]:
    """What a run trains on, in short parts: name, data, corruption, model, device."""
    cfg = state.config
    if not cfg:
        return []
    data, corruption, model = cfg.get("data", {}), cfg.get("corruption", {}), cfg.get("model", {})
    arch = str(model.get("arch", "?"))
    if arch == "mlp":
        arch = f"mlp {model.get('depth', '?')}×{model.get('width', '?')}"
    noise = corruption.get("noise", 0.0)
    corrupt = f"{corruption.get('labels', '?')} labels {noise:.0%}"
    if corruption.get("labels") == "file":  # the file's labels carry their own rate
        corrupt = f"file labels {corruption.get('key') or Path(str(corruption.get('file'))).name}"
    elif corruption.get("labels") == "asymmetric" and corruption.get("matrix") is not None:
        corrupt = "asymmetric labels (matrix)"
    if corruption.get("inputs", "none") != "none":
        corrupt += f" + {corruption['inputs']}"
    lr = cfg.get("optimizer", {}).get("lr")
    if isinstance(lr, (int, float)):
        arch += f" lr {lr:g}"
    return [str(cfg.get("name", "")),
            f"{data.get('dataset', '?')} {state.num_train:,}/{state.num_test:,}",
            f"{corrupt} ({state.num_corrupted:,})", arch, state.device]


def describe(state: RunState) -> str:
    """The run in one line, e.g. 'demo · demo 5,000/1,000 · random labels 40% (2,000) ·
    mlp 1×512 lr 0.1 · cpu'."""
    return " · ".join(part for part in describe_parts(state) if part)


def summary_document(state: RunState) -> dict[str, Any]:
    """summary.json's per-loss results: epochs measured, why it stopped, final values, best
    test accuracy and its epoch."""
    per_loss: dict[str, Any] = {}
    for label, loss in state.losses.items():
        best = loss.best.get("test_acc")
        per_loss[label] = {
            "epochs": len(loss.epochs),
            "diverged": loss.diverged[1] if loss.diverged else None,
            "final": dict(loss.latest) if loss.epochs else None,
            "best_test_acc": best[0] if best else None,
            "best_epoch": best[1] if best else None,
        }
    return {"status": state.status, "epochs_completed": state.epochs_done,
            "message": state.message, "losses": per_loss}


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
