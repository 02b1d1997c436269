"""Typed events the engine emits; the run log, the headless reporter and the TUI consume them.

Events are plain frozen dataclasses of JSON-friendly values so they can cross threads and be
written to disk without conversion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

RunStatus = Literal["running", "completed", "stopped", "failed"]


@dataclass(frozen=True)
class LossInfo:
    label: str
    name: str
    params: dict[str, float]
    symmetric: bool


@dataclass(frozen=True)
class RunStarted:
    run_dir: str
    config: dict[str, Any]
    losses: tuple[LossInfo, ...]
    device: str
    num_train: int
    num_test: int
    num_corrupted: int
    first_epoch: int = 1  # > 1 when a run is resumed


@dataclass(frozen=True)
class EpochProgress:
    """Sent a few times a second during an epoch, so a display can move between epochs."""

    epoch: int
    batch: int
    num_batches: int


@dataclass(frozen=True)
class EpochMetrics:
    """One loss's metrics after one epoch; ``values`` is keyed by memtui.metrics.METRICS."""

    epoch: int
    loss: str
    values: dict[str, float | None]


@dataclass(frozen=True)
class SampleScores:
    """One loss's per-epoch figures of the sample ledger (memtui.ledger): corrupted samples
    memorised and forgotten this epoch, and each score's AUROC and precision at k as a detector
    of the corrupted labels; ``values`` is keyed by memtui.runlog.ledger.FIGURE_NAMES."""

    epoch: int
    loss: str
    values: dict[str, float | None]


@dataclass(frozen=True)
class EpochEnded:
    """Sent after the EpochMetrics of every active loss for ``epoch``."""

    epoch: int
    epochs: int
    seconds: float


@dataclass(frozen=True)
class LossDiverged:
    """One loss stopped training (a NaN/Inf loss, or its step raised); the others go on."""

    epoch: int
    loss: str
    reason: str  # one line, for displays
    detail: str | None = None  # a traceback when the step raised


@dataclass(frozen=True)
class RunFinished:
    status: RunStatus
    epochs_completed: int
    message: str = ""
    error: str | None = None  # a traceback when status is "failed"


@dataclass(frozen=True)
class ResourceUsage:
    """The machine during one epoch (memtui.resources), sampled off the training thread: per
    figure (``cpu_percent``, ``gpu0_util``...) its (mean, max) over ``samples`` readings. Sent
    before the epoch's EpochEnded."""

    epoch: int
    samples: int
    values: dict[str, tuple[float, float]]
    gpus: tuple[str, ...] = ()  # NVML's names, by index
    note: str = ""  # why there are no GPU figures, in the run's first event only


@dataclass(frozen=True)
class RunHealth:
    """What a reader of a run directory can tell about its writer (``memtui watch``): "running",
    "not updated for 45 s", "process gone (pid N)" or "finished". Never from the engine."""

    state: str  # running, stale, gone, finished
    text: str


Event = (RunStarted | EpochProgress | EpochMetrics | SampleScores | EpochEnded | LossDiverged
         | RunFinished | RunHealth | ResourceUsage)


class Sink(Protocol):
    """What the engine reads of a sink."""

    #: True when the run cannot go on without this sink (the run log: a full disk must fail the
    #: run). A sink that is not critical (a display) is dropped when it raises, and training goes on.
    critical: bool

    def handle(self, event: Event) -> None: ...
