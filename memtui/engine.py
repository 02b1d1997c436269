"""The lockstep trainer: trains every loss's model on the same batches, measures them after each
epoch and emits typed events to its sinks.

It runs in whatever thread calls ``run`` (the main thread headless, a worker under the TUI) and
checks its ``RunControl`` every batch, so a stop request ends it within one batch. Building a run
(run directory, run log, threads, resume) is memtui.session's job; the engine only trains.
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

import torch

from memtui import data as data_module
from memtui.bank import LossStepError, ModelBank, build_bank
from memtui.checkpoint import Checkpoint
from memtui.config import ExperimentConfig
from memtui.control import RunControl
from memtui.device import enable_fast_paths, resolve_device, synchronize
from memtui.errors import RunDirError, RunWriteError
from memtui.evaluation import evaluate
from memtui.events import (
    EpochEnded,
    EpochMetrics,
    EpochProgress,
    Event,
    LossDiverged,
    LossInfo,
    RunFinished,
    RunStarted,
    Sink,
)
from memtui.losses import REGISTRY
from memtui.metrics import EVAL_METRICS
from memtui.models import build_model
from memtui.prepare import PreparedData, batch_slices, epoch_permutation, prepare_data

__all__ = ["Engine", "RunControl"]

PROGRESS_INTERVAL_S = 0.25


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
    def __init__(self, config: ExperimentConfig, sinks: Sequence[Sink] = (),
                 control: RunControl | None = None, run_dir: Path | None = None,
                 threads: int | None = None) -> None:
        """``run_dir``: where checkpoints go (the run log, a sink, writes the rest); None trains
        without checkpoints. ``threads``: CPU threads for training, set in the thread that runs
        it (OpenMP's count is per thread)."""
        self.config = config
        self.threads = threads
        self.sinks = list(sinks)
        self.control = control or RunControl()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        # The state at the last epoch boundary: what a stop mid-epoch checkpoints, so that a
        # resumed run repeats no half-trained epoch.
        self._boundary: Checkpoint | None = None
        self._saved_epoch = -1
        self._saved_at = time.monotonic()
        #: One line when the run directory stopped taking writes (a full disk); None otherwise.
        self.write_error: str | None = None
        self.device: torch.device | None = None
        self.data: PreparedData | None = None
        self.bank: ModelBank | None = None
        self.loss_infos: tuple[LossInfo, ...] = tuple(
            LossInfo(spec.display, spec.name, {**REGISTRY[spec.name].defaults, **spec.params},
                     REGISTRY[spec.name].symmetric)
            for spec in config.losses
        )
        self.loss_fns = [REGISTRY[spec.name].bind(spec.params) for spec in config.losses]
        self.active = list(range(len(config.losses)))
        self.epochs_completed = 0
        self._stopped: dict[str, str] = {}  # loss label -> why it stopped training
        self._tracebacks: list[str] = []

    # -- set-up ----------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Load and corrupt the data, build the models. Raises MemtuiError on bad input."""
        if self.bank is not None:
            return
        config = self.config
        self.device = resolve_device(config.device)
        enable_fast_paths(self.device)
        self.data = prepare_data(config, self.device)
        torch.manual_seed(config.seed)
        info = data_module.DATASETS[config.data.dataset]
        initial = build_model(config.model, info.shape, info.num_classes).to(self.device)
        self.bank = build_bank(initial, self.loss_fns, config)
        if self.run_dir is not None:
            self._boundary = self._snapshot()

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from a checkpoint of a run of the same experiment."""
        self.prepare()
        assert self.bank is not None and self.data is not None
        if not torch.equal(checkpoint.noisy_labels.cpu(), self.data.labels.noisy.cpu()):
            raise RunDirError("the corrupted labels differ from the checkpoint's: the data set or "
                              "its subset changed since the run started, so it cannot be resumed")
        self.bank.load_state_dict(checkpoint.bank)
        self.active = list(checkpoint.active)
        self._stopped = dict(checkpoint.stopped)
        self.epochs_completed = checkpoint.epochs_completed
        torch.set_rng_state(checkpoint.rng.cpu())
        if checkpoint.cuda_rng is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([state.cpu() for state in checkpoint.cuda_rng])
        self._boundary = self._snapshot() if self.run_dir is not None else None
        self._saved_epoch = checkpoint.epochs_completed

    def _snapshot(self) -> Checkpoint:
        assert self.bank is not None and self.data is not None and self.device is not None
        return Checkpoint(
            epochs_completed=self.epochs_completed,
            bank=copy.deepcopy(self.bank.state_dict()),
            active=list(self.active),
            stopped=dict(self._stopped),
            noisy_labels=self.data.labels.noisy.cpu(),
            rng=torch.get_rng_state(),
            cuda_rng=torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
        )

    def _save_checkpoint(self) -> None:
        """Write the last epoch boundary's state, unless it is on disk already. A failed write
        (a full disk) leaves no partial file and raises RunWriteError."""
        if self.run_dir is None or self._boundary is None:
            return
        if self._boundary.epochs_completed == self._saved_epoch:
            return
        try:
            self._boundary.save(self.run_dir)
        except OSError as exc:
            raise RunWriteError(f"cannot write {self.run_dir / 'checkpoint.pt'} "
                                f"({exc.strerror or exc})") from exc
        self._saved_epoch = self._boundary.epochs_completed
        self._saved_at = time.monotonic()

    def _checkpoint_due(self, epoch: int) -> bool:
        """At the first epoch boundary (so a run killed after its first epoch resumes), every
        ``checkpoint_every`` epochs, and at the first boundary ``checkpoint_seconds`` after the
        last checkpoint: a kill loses at most about that much training."""
        return (self._saved_epoch < 0
                or epoch % self.config.checkpoint_every == 0
                or time.monotonic() - self._saved_at >= self.config.checkpoint_seconds)

    # -- the run ---------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        for sink in list(self.sinks):
            try:
                sink.handle(event)
            except KeyboardInterrupt:
                raise  # a second ctrl+c while a display draws: the run's own, handled in run()
            except BaseException as exc:
                if sink.critical:
                    if isinstance(exc, OSError):  # the run log could not be written
                        raise RunWriteError(f"cannot write the run log in {self.run_dir} "
                                            f"({exc.strerror or exc})") from exc
                    raise
                # A display that broke must not end the training it displays; the run log goes
                # on. That covers SystemExit too: Rich raises it when its stream is a closed pipe
                # (`memtui run --no-ui 2>&1 | head`).
                self.sinks.remove(sink)

    def _finish(self, finished: RunFinished) -> None:
        """Give every sink the run's end, even if one fails: a full disk must not also keep the
        displays from showing it, and nothing raised here may lose what was written."""
        for sink in list(self.sinks):
            try:
                sink.handle(finished)
            except BaseException as exc:  # noqa: BLE001 - the run is over; record, never raise
                if sink.critical and self.write_error is None:
                    reason = exc.strerror if isinstance(exc, OSError) else None
                    self.write_error = (f"cannot write the summary in {self.run_dir} "
                                        f"({reason or type(exc).__name__})")

    def run(self) -> RunFinished:
        """Train to the end or to a stop request; always ends with a RunFinished event."""
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        interrupt: BaseException | None = None
        self._saved_at = time.monotonic()
        try:
            self.prepare()
            assert self.data is not None and self.device is not None
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
                if self.run_dir is not None and self._checkpoint_due(epoch):
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
        self._finish(finished)
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
        assert self.data is not None and self.bank is not None
        data, bank, control = self.data, self.bank, self.control
        n = len(data.train_x)
        order = epoch_permutation(self.config.seed, epoch, n).to(self.device)
        slices = batch_slices(n, self.config.batch_size)
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
            x = data.normalise(data.train_x[idx])
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
        assert self.data is not None and self.bank is not None
        diverged = {i for i, value in zip(training.trained, training.mean_losses)
                    if not math.isfinite(value)}
        measured = [i for i in training.trained if i not in diverged]
        should_evaluate = epoch % self.config.eval_every == 0 or epoch == self.config.epochs
        eval_start = time.perf_counter()
        quality = (evaluate(self.bank, self.data, measured, self.loss_fns,
                            self.config.eval_batch_size, lambda: self.control.stop_requested)
                   if should_evaluate and measured else {})
        eval_seconds = time.perf_counter() - eval_start
        if self.control.stop_requested:
            return  # the epoch is not reported; run() keeps the last boundary

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
        self.epochs_completed = epoch
        if self.run_dir is not None and self.active:
            # The boundary is taken before any sink hears that the epoch ended: an interrupt
            # while a display draws it (a second ctrl+c, SystemExit) still checkpoints the
            # epoch that the summary counts. An epoch where every loss diverged is not one.
            self._boundary = self._snapshot()
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
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.empty_cache()  # what the failed model held may let the others fit
