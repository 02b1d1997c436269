"""The lockstep trainer: prepares data and models, trains every loss's model on the same batches,
measures the metrics of memtui.metrics after each epoch and emits typed events to its sinks.

It runs in whatever thread calls ``run`` (the main thread headless, a worker under the TUI) and
checks its ``RunControl`` every batch, so a stop request ends it within one batch.
"""

from __future__ import annotations

import copy
import math
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from memtui import data as data_module
from memtui.checkpoint import Checkpoint
from memtui.config import ExperimentConfig
from memtui.corruption import CorruptedLabels, corrupt_inputs, corrupt_labels
from memtui.errors import ConfigError, RunDirError
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
from memtui.metrics import EVAL_METRICS
from memtui.lockstep import LossStepError, ModelBank, build_bank
from memtui.losses import REGISTRY
from memtui.models import build_model

PROGRESS_INTERVAL_S = 0.25


class RunControl:
    """Thread-safe stop and pause requests from a UI, a signal handler or a test."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        # Set once the run writes its checkpoint and summary: from then on an impatient second
        # ctrl+c must not interrupt, or the summary would be lost.
        self.finishing = False

    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run must wake up to stop

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def toggle_pause(self) -> bool:
        """Pause or resume; True when now paused."""
        if self.paused:
            self.resume()
        else:
            self.pause()
        return self.paused

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self) -> float:
        """Block while paused; the seconds spent waiting."""
        if self._running.is_set():
            return 0.0
        start = time.perf_counter()
        self._running.wait()
        return time.perf_counter() - start


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device: {requested!r} asked for, but this machine has no CUDA device; "
                          "valid here: auto, cpu")
    if requested == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device: 'mps' asked for, but MPS is not available; valid here: auto, cpu")
    return torch.device(requested)


@dataclass
class PreparedData:
    """The corrupted training set and the clean test set, resident on the device."""

    train_x: torch.Tensor  # uint8
    labels: CorruptedLabels  # noisy / true / mask, on device
    test_x: torch.Tensor
    test_y: torch.Tensor
    scale: torch.Tensor  # [1, C, 1, 1]: x_float = x_uint8 * scale + shift normalises
    shift: torch.Tensor
    num_classes: int

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, x.float(), self.scale)


def prepare_data(config: ExperimentConfig, device: torch.device) -> PreparedData:
    split = data_module.load(config.data.dataset, config.data.data_dir)
    split = data_module.hold_out(split, config.data.holdout)
    split = data_module.take_subset(split, config.data.subset, config.data.test_subset, config.seed)
    info = split.info
    mean, std = data_module.channel_stats(split.train_x)
    labels = corrupt_labels(split.train_y, config.corruption.labels, config.corruption.noise,
                            info.num_classes, seed=config.seed, dataset=config.data.dataset)
    train_x = corrupt_inputs(split.train_x, config.corruption.inputs, seed=config.seed + 1,
                             mean=mean, std=std)
    c = mean.numel()
    return PreparedData(
        train_x=train_x.to(device),
        labels=CorruptedLabels(labels.noisy.to(device), labels.true.to(device),
                               labels.mask.to(device)),
        test_x=split.test_x.to(device),
        test_y=split.test_y.to(device),
        scale=(1.0 / (255.0 * std)).view(1, c, 1, 1).to(device),
        shift=(-mean / std).view(1, c, 1, 1).to(device),
        num_classes=info.num_classes,
    )


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The batch order of an epoch: a function of (seed, epoch) alone, so a resumed run replays it."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """Batches in order; a last batch of one sample is dropped (BatchNorm cannot train on it)."""
    starts = range(0, n, batch_size)
    return [slice(s, min(s + batch_size, n)) for s in starts if min(s + batch_size, n) - s > 1]


class Engine:
    def __init__(self, config: ExperimentConfig, sinks: Sequence[Sink] = (),
                 control: RunControl | None = None, run_dir: str = "",
                 checkpoint_dir: Path | None = None, threads: int | None = None) -> None:
        self.config = config
        # CPU threads for training, set in the thread that runs it (OpenMP's count is per thread).
        self.threads = threads
        self.sinks = list(sinks)
        self.control = control or RunControl()
        self.run_dir = run_dir
        self.checkpoint_dir = checkpoint_dir
        # The state at the last epoch boundary: what a stop mid-epoch checkpoints, so that a
        # resumed run repeats no half-trained epoch.
        self._boundary: Checkpoint | None = None
        self._saved_epoch = -1
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
        self.data = prepare_data(config, self.device)
        torch.manual_seed(config.seed)
        info = data_module.DATASETS[config.data.dataset]
        initial = build_model(config.model, info.shape, info.num_classes).to(self.device)
        self.bank = build_bank(initial, self.loss_fns, config)
        if self.checkpoint_dir is not None:
            self._boundary = self._snapshot()

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from a checkpoint of a run of the same experiment (after prepare())."""
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
        self._boundary = self._snapshot() if self.checkpoint_dir is not None else None
        self._saved_epoch = checkpoint.epochs_completed

    def _snapshot(self) -> Checkpoint:
        assert self.bank is not None and self.data is not None
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
        """Write the last epoch boundary's state, unless it is on disk already."""
        if self.checkpoint_dir is None or self._boundary is None:
            return
        if self._boundary.epochs_completed == self._saved_epoch:
            return
        self._boundary.save(self.checkpoint_dir)
        self._saved_epoch = self._boundary.epochs_completed

    # -- the run ---------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        for sink in list(self.sinks):
            try:
                sink.handle(event)
            except Exception:
                if getattr(sink, "critical", False):
                    raise
                # A display that broke (stderr gone with a closed SSH session) must not end the
                # training it displays; the run log goes on.
                self.sinks.remove(sink)

    def run(self) -> RunFinished:
        """Train to the end or to a stop request; always ends with a RunFinished event."""
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            self.prepare()
            assert self.data is not None and self.device is not None
            self.emit(RunStarted(
                run_dir=self.run_dir,
                config=self.config.model_dump(mode="json"),
                losses=self.loss_infos,
                device=str(self.device),
                num_train=len(self.data.train_x),
                num_test=len(self.data.test_x),
                num_corrupted=self.data.labels.num_corrupted,
                first_epoch=self.epochs_completed + 1,
            ))
            for epoch in range(self.epochs_completed + 1, self.config.epochs + 1):
                if not self._train_and_measure(epoch) or not self.active:
                    break  # stopped mid-epoch, or nothing left to train: keep the last boundary
                if self.checkpoint_dir is not None:
                    self._boundary = self._snapshot()
                    if epoch % self.config.checkpoint_every == 0:
                        self._save_checkpoint()
            if not self.active:
                reasons = "; ".join(f"{label}: {reason}" for label, reason in self._stopped.items())
                finished = RunFinished("failed", self.epochs_completed,
                                       f"every loss diverged or failed ({reasons})",
                                       error="".join(self._tracebacks) or None)
            elif self.epochs_completed < self.config.epochs:
                finished = RunFinished("stopped", self.epochs_completed, "stopped on request")
            else:  # a stop asked for after the last epoch changes nothing
                finished = RunFinished("completed", self.epochs_completed)
        except KeyboardInterrupt:
            finished = RunFinished("stopped", self.epochs_completed, "interrupted")
        except Exception as exc:  # reported through the event, so the run log still gets a summary
            finished = RunFinished("failed", self.epochs_completed, f"{type(exc).__name__}: {exc}",
                                   error=traceback.format_exc())
        self.control.finishing = True
        try:
            self._save_checkpoint()
        except Exception as exc:  # a full disk must not also lose the summary
            finished = RunFinished("failed", finished.epochs_completed,
                                   f"checkpoint could not be written: {exc}",
                                   error=traceback.format_exc())
        self.emit(finished)
        return finished

    def _sync(self) -> None:
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _train_and_measure(self, epoch: int) -> bool:
        """One epoch of training and evaluation; False when a stop request cut it short."""
        assert self.data is not None and self.bank is not None
        data, bank, control = self.data, self.bank, self.control
        n = len(data.train_x)
        order = epoch_permutation(self.config.seed, epoch, n).to(self.device)
        slices = batch_slices(n, self.config.batch_size)
        active = list(self.active)
        sums = {i: torch.zeros((), device=self.device) for i in active}
        bank.set_mode(train=True)
        self._sync()
        start = time.perf_counter()
        paused = 0.0
        next_progress = start + PROGRESS_INTERVAL_S
        for b, part in enumerate(slices):
            paused += control.wait_while_paused()
            if control.stop_requested:
                return False
            idx = order[part]
            x = data.normalise(data.train_x[idx])
            y = data.labels.noisy[idx]
            try:
                losses = bank.train_step(x, y, active)
            except LossStepError as err:
                losses = err.losses
                self._drop_failed(epoch, err, active, sums)
                if not active:
                    return True  # nothing left to train; run() ends the run as failed
            for i, loss in zip(active, losses):
                sums[i] += loss
            now = time.perf_counter()
            if now >= next_progress:
                next_progress = now + PROGRESS_INTERVAL_S
                self.emit(EpochProgress(epoch, b + 1, len(slices)))
        self._sync()
        train_seconds = time.perf_counter() - start - paused
        lrs = {i: bank.lr(i) for i in active}
        bank.end_epoch()

        mean_losses = torch.stack([sums[i] for i in active]).div_(len(slices)).tolist()
        diverged = {i for i, value in zip(active, mean_losses) if not math.isfinite(value)}
        measured = [i for i in active if i not in diverged]
        evaluate = epoch % self.config.eval_every == 0 or epoch == self.config.epochs
        eval_start = time.perf_counter()
        quality = self._evaluate(measured) if evaluate and measured else {}
        eval_seconds = time.perf_counter() - eval_start
        if control.stop_requested:
            return False

        seconds = train_seconds + eval_seconds
        for i, train_loss in zip(active, mean_losses):
            label = self.loss_infos[i].label
            if i in diverged:
                self.active.remove(i)
                self._emit_stopped(LossDiverged(epoch, label, f"training loss became {train_loss}"))
                continue
            values: dict[str, float | None] = dict.fromkeys(EVAL_METRICS)
            values.update(quality.get(i, {}))
            values.update(train_loss=train_loss, lr=lrs[i], seconds=seconds,
                          eval_seconds=eval_seconds if evaluate else 0.0,
                          images_per_s=n / train_seconds if train_seconds > 0 else None)
            self.emit(EpochMetrics(epoch, label, values))
        self.epochs_completed = epoch
        self.emit(EpochEnded(epoch, self.config.epochs, seconds))
        return True

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

    @torch.inference_mode()
    def _evaluate(self, indices: list[int]) -> dict[int, dict[str, float | None]]:
        """Predictions of every model over the whole training and test sets, counted on device."""
        assert self.data is not None and self.bank is not None
        data, bank = self.data, self.bank
        bank.set_mode(train=False)
        chunk = self.config.eval_batch_size
        train_pred = torch.empty((len(indices), len(data.train_x)), dtype=torch.int64,
                                 device=self.device)
        for start in range(0, len(data.train_x), chunk):
            if self.control.stop_requested:
                return {}
            x = data.normalise(data.train_x[start:start + chunk])
            for row, i in enumerate(indices):
                train_pred[row, start:start + chunk] = bank.logits(i, x).argmax(dim=1)
        test_correct = torch.zeros(len(indices), device=self.device)
        test_loss = torch.zeros(len(indices), device=self.device)
        for start in range(0, len(data.test_x), chunk):
            x = data.normalise(data.test_x[start:start + chunk])
            y = data.test_y[start:start + chunk]
            for row, i in enumerate(indices):
                logits = bank.logits(i, x)
                test_correct[row] += (logits.argmax(dim=1) == y).sum()
                test_loss[row] += self.loss_fns[i](logits, y).sum()
        bank.set_mode(train=True)

        labels = data.labels
        hits_noisy = (train_pred == labels.noisy).float()
        hits_true = (train_pred == labels.true).float()
        mask = labels.mask.float()
        n_corrupt = mask.sum()
        n_clean = len(mask) - n_corrupt
        stats = torch.stack([
            hits_noisy.mean(dim=1),
            (hits_noisy * mask).sum(dim=1) / n_corrupt.clamp(min=1),
            (hits_true * mask).sum(dim=1) / n_corrupt.clamp(min=1),
            (hits_true * (1 - mask)).sum(dim=1) / n_clean.clamp(min=1),
            test_correct / len(data.test_y),
            test_loss / len(data.test_y),
        ], dim=1).tolist()
        has_corrupt, has_clean = bool(n_corrupt > 0), bool(n_clean > 0)
        results = {}
        for row, i in enumerate(indices):
            train_acc, memorized, recovered, clean_acc, test_acc, loss = stats[row]
            results[i] = {
                "train_acc": train_acc,
                "memorized": memorized if has_corrupt else None,
                "recovered": recovered if has_corrupt else None,
                "clean_acc": clean_acc if has_clean else None,
                "test_acc": test_acc,
                "test_loss": loss,
            }
        return results
