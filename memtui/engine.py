"""The lockstep trainer: trains every loss's model on the same batches, measures them after each
epoch and emits typed events to its sinks.

It runs in whatever thread calls ``run`` (the main thread headless, a worker under the TUI) and
checks its ``RunControl`` every batch, so a stop request ends it within one batch. What it trains
(device, data, models, a restored checkpoint) is put together by memtui.session; when checkpoints
are written is memtui.checkpointing's policy, and how sinks fail is memtui.fanout's. The engine
is the loop.
"""

from __future__ import annotations

import copy
import math
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

import torch

from memtui.augment import batch_generator, crop_and_flip
from memtui.bank import LossStepError, ModelBank, PerSampleLoss
from memtui.checkpoint import Checkpoint
from memtui.checkpointing import Checkpointer
from memtui.config import ExperimentConfig
from memtui.control import RunControl
from memtui.device import synchronize
from memtui.errors import RunWriteError
from memtui.evaluation import Measurements, evaluate
from memtui.events import (
    EpochEnded,
    EpochMetrics,
    EpochProgress,
    Event,
    LossDiverged,
    LossInfo,
    RunFinished,
    RunStarted,
    SampleScores,
    Sink,
)
from memtui.fanout import Fanout
from memtui.ledger import Ledger, LedgerFiles
from memtui.metrics import EVAL_METRICS
from memtui.prepare import PreparedData, batch_slices, epoch_permutation

__all__ = ["Engine", "EpochObserver", "Measured", "Progress", "RunControl", "Workload"]

PROGRESS_INTERVAL_S = 0.25


@dataclass
class Workload:
    """What a run trains, on its device: built by memtui.session."""

    device: torch.device
    data: PreparedData
    bank: ModelBank
    loss_fns: list[PerSampleLoss]  # in the config's order, as the bank's models
    loss_infos: tuple[LossInfo, ...]
    ledger: Ledger | None = None  # the sample ledger, fed by the evaluation pass; None: off


@dataclass
class Progress:
    """How far a run has trained: what a checkpoint restores besides the models."""

    epochs_completed: int = 0
    active: list[int] = field(default_factory=list)  # the losses still training
    stopped: dict[str, str] = field(default_factory=dict)  # loss label -> why it stopped


@dataclass(frozen=True)
class Measured:
    """One epoch's measurement, as observers see it."""

    epoch: int
    measured: list[int]  # the losses that trained this epoch and did not diverge
    quality: Measurements  # loss index -> prediction metrics; empty when not evaluated
    train_seconds: float
    eval_seconds: float


class EpochObserver(Protocol):
    """Told of every completed epoch after its metrics are emitted and before its boundary is
    kept for the next checkpoint, so what an observer updates is part of that epoch's state."""

    def epoch_measured(self, result: Measured) -> None: ...


class Ended(Enum):
    """How an epoch's training pass ended."""

    COMPLETED = "completed"  # every batch trained (by the losses still active)
    STOPPED = "stopped"  # a stop request cut it short: the epoch does not count
    ALL_FAILED = "all failed"  # every loss's step raised: nothing left to train


@dataclass
class TrainingPass:
    """What one epoch's training leaves for its measurement."""

    ended: Ended
    trained: list[int] = field(default_factory=list)  # the losses that trained to the end
    mean_losses: list[float] = field(default_factory=list)  # of ``trained``, in order
    lrs: dict[int, float] = field(default_factory=dict)
    seconds: float = 0.0  # training time, pauses excluded


class Engine:
    def __init__(self, config: ExperimentConfig, workload: Workload, sinks: Sequence[Sink] = (),
                 control: RunControl | None = None, *, run_dir: Path | None = None,
                 progress: Progress | None = None, checkpointer: Checkpointer | None = None,
                 threads: int | None = None, observers: Sequence[EpochObserver] = (),
                 ledger_files: LedgerFiles | None = None) -> None:
        """``run_dir``: the run's directory, for its events and errors (the run log, a sink,
        writes it). ``progress``: where a resumed run goes on from (None: epoch 0, every loss
        active). ``checkpointer``: when checkpoints are written; None trains without them.
        ``observers``: told of every completed epoch. ``threads``: CPU threads for training,
        set in the thread that runs it (OpenMP's count is per thread). ``ledger_files``: writes
        the workload's sample ledger into the run directory (when due, with every checkpoint
        and at the end)."""
        self.config = config
        self.workload = workload
        self.threads = threads
        self.control = control or RunControl()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.checkpointer = checkpointer
        self.fanout = Fanout(sinks, self.run_dir)
        self.observers = list(observers)
        self.ledger_files = ledger_files
        progress = progress or Progress(active=list(range(len(config.losses))))
        self.epochs_completed = progress.epochs_completed
        self.active = list(progress.active)
        self._stopped = dict(progress.stopped)
        self._tracebacks: list[str] = []
        #: One line when the run directory stopped taking writes (a full disk); None otherwise.
        self.write_error: str | None = None
        if self.checkpointer is not None:
            self.checkpointer.keep(self._snapshot())

    @property
    def device(self) -> torch.device:
        return self.workload.device

    @property
    def data(self) -> PreparedData:
        return self.workload.data

    @property
    def bank(self) -> ModelBank:
        return self.workload.bank

    @property
    def loss_infos(self) -> tuple[LossInfo, ...]:
        return self.workload.loss_infos

    def _snapshot(self) -> Checkpoint:
        """The state at this epoch boundary: what a stop mid-epoch checkpoints, so that a
        resumed run repeats no half-trained epoch."""
        return Checkpoint(
            epochs_completed=self.epochs_completed,
            bank=copy.deepcopy(self.bank.state_dict()),
            active=list(self.active),
            stopped=dict(self._stopped),
            noisy_labels=self.data.labels.noisy.cpu(),
            rng=torch.get_rng_state(),
            cuda_rng=torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            ledger=self.workload.ledger.state_dict() if self.workload.ledger is not None else None,
        )

    def _save_checkpoint(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.save()
        self._write_ledger()

    def _write_ledger(self, due_only: bool = False, measured: Sequence[int] = ()) -> None:
        """The ledger's files: with ``due_only`` after an epoch (its trajectory, the ledger at
        most every LEDGER_WRITE_S), else now (a checkpoint, the end). A failed write (a full
        disk) raises RunWriteError, as a checkpoint's does."""
        if self.ledger_files is None:
            return
        try:
            if due_only:
                self.ledger_files.epoch_ended(measured)
            else:
                self.ledger_files.write()
        except OSError as exc:
            raise RunWriteError(f"cannot write the sample ledger in {self.run_dir} "
                                f"({exc.strerror or exc})") from exc

    # -- the run ---------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        self.fanout.emit(event)

    def run(self) -> RunFinished:
        """Train to the end or to a stop request; always ends with a RunFinished event."""
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        interrupt: BaseException | None = None
        if self.checkpointer is not None:
            self.checkpointer.start_clock()
        try:
            self.emit(RunStarted(
                run_dir=str(self.run_dir or ""),
                config=self.config.model_dump(mode="json"),
                losses=self.loss_infos,
                device=str(self.device),
                num_train=len(self.data.train_x),
                num_test=len(self.data.test_x),
                num_corrupted=self.data.labels.num_corrupted,
                first_epoch=self.epochs_completed + 1,
            ))
            for epoch in range(self.epochs_completed + 1, self.config.epochs + 1):
                training = self._train_epoch(epoch)
                if training.ended is Ended.STOPPED:
                    break  # the half-trained epoch does not count: keep the last boundary
                self._measure(epoch, training)
                if not self.active:
                    break
                if self.control.stop_requested and self.epochs_completed < epoch:
                    break  # stopped during the evaluation
                if self.checkpointer is not None and self.checkpointer.due(epoch):
                    self._save_checkpoint()
            finished = self._outcome()
        except KeyboardInterrupt:
            finished = RunFinished("stopped", self.epochs_completed, "interrupted")
        except RunWriteError as exc:  # a full disk: one line, no traceback to write anywhere
            self.write_error = str(exc)
            finished = RunFinished("failed", self.epochs_completed, str(exc))
        except Exception as exc:  # reported through the event, so the run log still gets a summary
            finished = RunFinished("failed", self.epochs_completed, f"{type(exc).__name__}: {exc}",
                                   error=traceback.format_exc())
        except BaseException as exc:  # SystemExit and the like: write the summary, then go on
            interrupt = exc
            finished = RunFinished("stopped", self.epochs_completed,
                                   f"interrupted ({type(exc).__name__})")
        self.control.finishing = True
        if self.write_error is None:
            try:
                self._save_checkpoint()
            except RunWriteError as exc:  # a full disk must not also lose the summary
                self.write_error = str(exc)
                finished = RunFinished("failed", finished.epochs_completed, str(exc))
            except Exception as exc:
                finished = RunFinished("failed", finished.epochs_completed,
                                       f"checkpoint could not be written: {exc}",
                                       error=traceback.format_exc())
        summary_error = self.fanout.finish(finished)
        if self.write_error is None:
            self.write_error = summary_error
        if interrupt is not None:
            raise interrupt
        return finished

    def _outcome(self) -> RunFinished:
        if not self.active:
            reasons = "; ".join(f"{label}: {reason}" for label, reason in self._stopped.items())
            return RunFinished("failed", self.epochs_completed,
                               f"every loss diverged or failed ({reasons})",
                               error="".join(self._tracebacks) or None)
        if self.epochs_completed < self.config.epochs:
            return RunFinished("stopped", self.epochs_completed, "stopped on request")
        return RunFinished("completed", self.epochs_completed)  # a late stop request changes nothing

    def _train_epoch(self, epoch: int) -> TrainingPass:
        """One pass over the training set in this epoch's order, every active loss per batch."""
        data, bank, control = self.data, self.bank, self.control
        n = len(data.train_x)
        order = epoch_permutation(self.config.seed, epoch, n).to(self.device)
        slices = batch_slices(n, self.config.batch_size)
        augment = (batch_generator(self.config.seed, epoch, data.train_x.device)
                   if self.config.data.augment else None)
        active = list(self.active)
        sums = {i: torch.zeros((), device=self.device) for i in active}
        bank.set_mode(train=True)
        synchronize(self.device)
        start = time.perf_counter()
        paused = 0.0
        next_progress = start + PROGRESS_INTERVAL_S
        for b, part in enumerate(slices):
            paused += control.wait_while_paused()
            if control.stop_requested:
                return TrainingPass(Ended.STOPPED)
            idx = order[part]
            images = data.train_x[idx]
            if augment is not None:
                images = crop_and_flip(images, augment)
            x = data.normalise(images)
            y = data.labels.noisy[idx]
            try:
                losses = bank.train_step(x, y, active)
            except LossStepError as err:
                losses = err.losses
                self._drop_failed(epoch, err, active, sums)
                if not active:
                    return TrainingPass(Ended.ALL_FAILED)
            for i, loss in zip(active, losses):
                sums[i] += loss  # stays on the device: no sync per batch
            now = time.perf_counter()
            if now >= next_progress:
                next_progress = now + PROGRESS_INTERVAL_S
                self.emit(EpochProgress(epoch, b + 1, len(slices)))
        synchronize(self.device)  # host sync: the epoch's time must include its queued kernels
        seconds = time.perf_counter() - start - paused
        lrs = {i: bank.lr(i) for i in active}
        bank.end_epoch()
        # host sync: the epoch's mean losses, one transfer for all losses
        mean_losses = torch.stack([sums[i] for i in active]).div_(len(slices)).tolist()
        return TrainingPass(Ended.COMPLETED, active, mean_losses, lrs, seconds)

    def _measure(self, epoch: int, training: TrainingPass) -> None:
        """Evaluate the losses that trained, drop those that diverged, emit the epoch's events."""
        if training.ended is not Ended.COMPLETED:
            return
        diverged = {i for i, value in zip(training.trained, training.mean_losses)
                    if not math.isfinite(value)}
        measured = [i for i in training.trained if i not in diverged]
        should_evaluate = epoch % self.config.eval_every == 0 or epoch == self.config.epochs
        ledger = self.workload.ledger if should_evaluate and measured else None
        eval_start = time.perf_counter()
        if ledger is not None:
            ledger.begin_epoch(epoch, measured)
        quality = (evaluate(self.bank, self.data, measured, self.workload.loss_fns,
                            self.config.eval_batch_size, lambda: self.control.stop_requested,
                            ledger)
                   if should_evaluate and measured else {})
        if self.control.stop_requested:
            if ledger is not None:
                ledger.abort_epoch()
            return  # the epoch is not reported; run() keeps the last boundary
        sample_scores = ledger.end_epoch() if ledger is not None else {}
        eval_seconds = time.perf_counter() - eval_start

        seconds = training.seconds + eval_seconds
        n = len(self.data.train_x)
        for i, train_loss in zip(training.trained, training.mean_losses):
            label = self.loss_infos[i].label
            if i in diverged:
                self.active.remove(i)
                self._emit_stopped(LossDiverged(epoch, label, f"training loss became {train_loss}"))
                continue
            values: dict[str, float | None] = dict.fromkeys(EVAL_METRICS)
            values.update(quality.get(i, {}))
            values.update(train_loss=train_loss, lr=training.lrs[i], seconds=seconds,
                          eval_seconds=eval_seconds if should_evaluate else 0.0,
                          images_per_s=n / training.seconds if training.seconds > 0 else None)
            self.emit(EpochMetrics(epoch, label, values))
            if i in sample_scores:
                self.emit(SampleScores(epoch, label, sample_scores[i]))
        self.epochs_completed = epoch
        result = Measured(epoch, measured, quality, training.seconds, eval_seconds)
        for observer in self.observers:
            observer.epoch_measured(result)
        if self.checkpointer is not None and self.active:
            # The boundary is taken before any sink hears that the epoch ended: an interrupt
            # while a display draws it (a second ctrl+c, SystemExit) still checkpoints the
            # epoch that the summary counts. An epoch where every loss diverged is not one.
            self.checkpointer.keep(self._snapshot())
        if sample_scores:
            self._write_ledger(due_only=True, measured=measured)
        self.emit(EpochEnded(epoch, self.config.epochs, seconds))

    def _emit_stopped(self, event: LossDiverged) -> None:
        self._stopped[event.loss] = event.reason
        self.emit(event)

    def _drop_failed(self, epoch: int, err: LossStepError, active: list[int],
                     sums: dict[int, torch.Tensor]) -> None:
        """Stop the losses whose step raised (e.g. out of memory); the others go on."""
        for i, exc in err.failures.items():
            active.remove(i)
            self.active.remove(i)
            del sums[i]
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            detail = "".join(traceback.format_exception(exc))
            self._tracebacks.append(detail)
            self._emit_stopped(LossDiverged(epoch, self.loss_infos[i].label,
                                            f"step failed: {reason}", detail=detail))
        if self.device.type == "cuda":
            torch.cuda.empty_cache()  # what the failed model held may let the others fit
