"""What the TUI knows about a run, built from memtui.events alone.

Live runs and ``memtui watch`` feed the same ``RunState.apply``, so both views show exactly the
same thing for the same events. Nothing here imports Textual: the widgets only read this state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memtui.events import (
    EpochEnded,
    EpochMetrics,
    EpochProgress,
    Event,
    LossDiverged,
    LossInfo,
    RunFinished,
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
    clock: Callable[[], float]
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


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
