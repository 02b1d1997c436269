"""The composition root: how a run is put together. Every front-end (the CLI, the live view,
sweeps, tests, benchmarks, scripts) starts and resumes runs through ``start_run`` and
``resume_run``, so the wiring of a run is written once:

    run directory -> run log (the critical sink) -> workload (built or restored) -> engine -> Run

The workload is what the engine trains: the device, the data (loaded, cut, corrupted, on the
device), every loss's model in a bank, and the state of a checkpoint when a run is resumed.
It also owns the policies that belong to no single part: the CPU thread count a run trains with,
the rules for what a resumed run may change, the lock that keeps a run directory to one writer,
and restarting a run that was killed before its first checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import torch

from memtui.bank import PerSampleLoss, build_bank
from memtui.checkpoint import CHECKPOINT_FILE, Checkpoint
from memtui.checkpointing import Checkpointer
from memtui.config import ExperimentConfig, apply_overrides, validate
from memtui.control import RunControl
from memtui.device import enable_fast_paths, resolve_device
from memtui.engine import Engine, EpochObserver, Progress, Workload
from memtui.errors import ConfigError, RunDirError
from memtui.events import LossInfo, RunFinished, Sink
from memtui.ledger import Ledger, LedgerFiles
from memtui.losses import REGISTRY
from memtui.models import build_model
from memtui.prepare import prepare_data
from memtui.resources import ResourceMonitor, Sampler
from memtui.runlog import (
    CONFIG_FILE,
    LOCK_FILE,
    RunLock,
    RunLogWriter,
    create_run_dir,
    default_run_dir,
    is_run_file,
    lock_run_dir,
    read_run,
)
from memtui.runlog.reader import lost_epochs

#: CPU threads a run trains with unless told (--threads, or ``threads`` in a preset). One: on a
#: machine whose cores are shared, more threads than free cores made training several times
#: slower, and one costs little on an idle machine with these small models (docs/benchmarks.md).
DEFAULT_THREADS = 1


@dataclass
class Run:
    """A prepared run: its config, directory, run log and engine. ``execute`` trains it in the
    calling thread; a front-end may add its own sinks (a display) before."""

    config: ExperimentConfig
    run_dir: Path
    engine: Engine
    writer: RunLogWriter
    lock: RunLock | None = None
    #: One line for the user about how the run was put together (a restart), or None.
    notice: str | None = None
    #: Samples the machine while ``execute`` trains (None: not watched).
    resources: ResourceMonitor | None = None

    @property
    def control(self) -> RunControl:
        return self.engine.control

    @property
    def write_error(self) -> str | None:
        """One line when the run directory stopped taking writes (a full disk)."""
        return self.engine.write_error

    def add_sink(self, sink: Sink) -> None:
        """A display; it comes after the run log, so the disk is always written first."""
        self.engine.fanout.add(sink)

    def execute(self) -> RunFinished:
        if self.resources is not None:
            self.resources.start()
        try:
            return self.engine.run()
        finally:
            if self.resources is not None:
                self.resources.stop()
            self.release()

    def release(self) -> None:
        """Give up the run directory's lock (done by ``execute``; a run never executed may call
        it, and the OS does it when the process exits)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def describe_losses(config: ExperimentConfig) -> tuple[LossInfo, ...]:
    """Each loss of the config as its events name it, parameters with their defaults filled in."""
    return tuple(LossInfo(spec.display, spec.name,
                          {**REGISTRY[spec.name].defaults, **spec.params},
                          REGISTRY[spec.name].symmetric)
                 for spec in config.losses)


def bind_losses(config: ExperimentConfig) -> list[PerSampleLoss]:
    """Each loss of the config as the per-sample function its model trains on."""
    return [REGISTRY[spec.name].bind(spec.params) for spec in config.losses]


def assemble(config: ExperimentConfig) -> Workload:
    """The device, the data on it and every loss's model (the same initial weights for all).
    Raises MemtuiError on bad input."""
    device = resolve_device(config.device)
    enable_fast_paths(device)
    data = prepare_data(config, device)
    torch.manual_seed(config.seed)
    shape = (int(data.train_x.shape[1]), int(data.train_x.shape[2]), int(data.train_x.shape[3]))
    # the data's own shape and classes: an image folder's are known only once it is read
    initial = build_model(config.model, shape, data.num_classes).to(device)
    loss_fns = bind_losses(config)
    ledger = (Ledger(len(config.losses), data.labels.noisy, data.labels.true)
              if config.ledger.enabled else None)
    return Workload(device, data, build_bank(initial, loss_fns, config), loss_fns,
                    describe_losses(config), ledger)


def restore(workload: Workload, checkpoint: Checkpoint) -> Progress:
    """Put a checkpoint's models, optimisers and random state into ``workload``; how far the run
    had trained. Refuses a checkpoint of other corrupted labels."""
    if not torch.equal(checkpoint.noisy_labels.cpu(), workload.data.labels.noisy.cpu()):
        raise RunDirError("the corrupted labels differ from the checkpoint's: the data set or "
                          "its subset changed since the run started, so it cannot be resumed")
    workload.bank.load_state_dict(checkpoint.bank)
    if workload.ledger is not None and checkpoint.ledger is not None:
        # a checkpoint without one (the ledger was off, or an older memtui): the ledger
        # starts at the resumed epoch, and its epochs_seen say so
        workload.ledger.load_state_dict(checkpoint.ledger)
    torch.set_rng_state(checkpoint.rng.cpu())
    if checkpoint.cuda_rng is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.cpu() for state in checkpoint.cuda_rng])
    return Progress(checkpoint.epochs_completed, list(checkpoint.active), dict(checkpoint.stopped))


def build_engine(config: ExperimentConfig, sinks: Sequence[Sink] = (),
                 control: RunControl | None = None, *, run_dir: Path | None = None,
                 checkpoint: Checkpoint | None = None, threads: int | None = None,
                 observers: Sequence[EpochObserver] = ()) -> Engine:
    """An engine ready to run ``config``: assembled, and restored from ``checkpoint`` if given.
    With ``run_dir`` it checkpoints there by the config's policy; without, it trains in memory
    (tests, benchmarks). Raises MemtuiError on bad input."""
    workload = assemble(config)
    progress = restore(workload, checkpoint) if checkpoint is not None else None
    checkpointer = ledger_files = None
    if run_dir is not None:
        checkpointer = Checkpointer(run_dir, config.checkpoint_every, config.checkpoint_seconds,
                                    saved_epoch=checkpoint.epochs_completed if checkpoint else -1)
        if workload.ledger is not None:
            ledger_files = LedgerFiles(
                run_dir, workload.ledger, workload.data.train_x, config.loss_labels,
                workload.data.classes,
                index=(None if workload.data.train_index is None
                       else workload.data.train_index.numpy()),
                trajectories=config.ledger.trajectories)
    return Engine(config, workload, sinks, control, run_dir=run_dir, progress=progress,
                  checkpointer=checkpointer, threads=threads, observers=observers,
                  ledger_files=ledger_files)


def monitor_resources(engine: Engine) -> ResourceMonitor:
    """A monitor of the machine that reports to ``engine`` at the end of every epoch."""
    device = engine.device

    def torch_memory() -> tuple[float, float]:
        return (float(torch.cuda.memory_allocated(device)),
                float(torch.cuda.memory_reserved(device)))

    monitor = ResourceMonitor(Sampler(torch_memory if device.type == "cuda" else None),
                              engine.emit)
    engine.observers.append(monitor)
    return monitor


@contextmanager
def _one_thread() -> Iterator[None]:
    """Prepare with one torch thread. The run may train in another thread (the live view's
    worker), and OpenMP keeps a pool of threads for each thread that ran a parallel region: the
    preparing thread's idle pool halved a worker thread's training speed on two cores. The
    engine sets the training count in the thread that trains."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _training_threads(threads: int | None, config: ExperimentConfig) -> int:
    """The argument, else the config's ``threads``, else DEFAULT_THREADS."""
    if threads is not None:
        return threads
    return config.threads if config.threads is not None else DEFAULT_THREADS


def start_run(config: ExperimentConfig, *, sinks: Sequence[Sink] = (),
              control: RunControl | None = None, threads: int | None = None,
              runs_root: Path = Path("runs")) -> Run:
    """Create the run directory (``config.out`` or ``runs_root/<timestamp>-<name>``), its run log
    and a prepared engine. Bad input raises MemtuiError and leaves no empty directory behind."""
    run_dir = Path(config.out) if config.out is not None else default_run_dir(config.name, runs_root)
    config = config.model_copy(update={"out": run_dir})
    fresh_dir = not run_dir.exists()
    fresh_parent = not run_dir.parent.exists()  # ./runs on a first run
    create_run_dir(run_dir)
    lock = lock_run_dir(run_dir)
    writer = RunLogWriter(run_dir)
    try:
        with _one_thread():
            engine = build_engine(config, [writer, *sinks], control, run_dir=run_dir,
                                  threads=_training_threads(threads, config))
    except BaseException:
        lock.release()
        if fresh_dir and run_dir.is_dir():
            (run_dir / LOCK_FILE).unlink(missing_ok=True)
            if not any(run_dir.iterdir()):
                run_dir.rmdir()  # leave no empty run behind a typo
                if fresh_parent and not any(run_dir.parent.iterdir()):
                    with suppress(OSError):  # another run got there first: keep our error
                        run_dir.parent.rmdir()
        raise
    return Run(config, run_dir, engine, writer, lock, resources=monitor_resources(engine))


def resumed_config(run_dir: Path, epochs: int | None = None, overrides: dict | None = None
                   ) -> tuple[ExperimentConfig, Checkpoint]:
    """The config a run directory was started with, with the overrides a resume allows
    (``epochs`` to extend it; ``overrides``: dotted field -> value, e.g. device), and its
    checkpoint. The rules of what a resume may change live here."""
    config, checkpoint = _resumed_config(run_dir, epochs, overrides, restart=False)
    assert checkpoint is not None
    return config, checkpoint


def _resumed_config(run_dir: Path, epochs: int | None, overrides: dict | None, restart: bool
                    ) -> tuple[ExperimentConfig, Checkpoint | None]:
    """As resumed_config; with ``restart``, a run without any checkpoint gives None (it is
    restarted from epoch 0) instead of an error."""
    record = read_run(run_dir)
    config = validate(record.config, source=f"{run_dir}/{CONFIG_FILE}")
    checkpoint = (None if restart and not is_run_file(run_dir / CHECKPOINT_FILE)
                  else Checkpoint.load(run_dir))
    done = checkpoint.epochs_completed if checkpoint is not None else 0
    if record.logged_epochs < done:  # resumed, the log would have a hole for good
        raise RunDirError(lost_epochs(run_dir, record.logged_epochs, done, CHECKPOINT_FILE))
    if epochs is not None and epochs <= done:
        way_on = (f"leave --epochs out to finish its {config.epochs}" if done < config.epochs
                  else f"give more than {done} to extend it")
        raise ConfigError(f"--epochs: the run has completed {done} epochs already, so {epochs} "
                          f"would train none; {way_on}")
    if epochs is None and done >= config.epochs:
        raise ConfigError(f"the run in {run_dir} completed all {config.epochs} epochs; pass "
                          f"--epochs N with N > {config.epochs} to extend it")
    if epochs not in (None, config.epochs) and config.schedule.kind == "cosine":
        change = "extend" if epochs and epochs > config.epochs else "shorten"
        raise ConfigError(f"--epochs cannot {change} a run with a cosine schedule: its learning "
                          f"rate anneals to 0 over its {config.epochs} epochs; start a new run "
                          "instead")
    config = apply_overrides(config, {"epochs": epochs, **(overrides or {})})
    return config, checkpoint


def resume_run(run_dir: Path, *, epochs: int | None = None, overrides: dict | None = None,
               sinks: Sequence[Sink] = (), control: RunControl | None = None,
               threads: int | None = None) -> Run:
    """Continue the run in ``run_dir`` from its checkpoint; a run killed before its first
    checkpoint restarts from epoch 0 with its own config (``Run.notice`` says so). A resume that
    fails here (bad overrides, changed data, another process writing the run) leaves the
    directory exactly as it was."""
    run_dir = Path(run_dir)
    read_run(run_dir)  # a run directory at all, before a lock file is made in it
    lock = lock_run_dir(run_dir)
    try:
        config, checkpoint = _resumed_config(run_dir, epochs, overrides, restart=True)
        notice = None
        if checkpoint is None:
            notice = (f"{run_dir} has no {CHECKPOINT_FILE} (it ended before its first one): "
                      "restarting it from epoch 0 with its own config")
        done = checkpoint.epochs_completed if checkpoint is not None else 0
        writer = RunLogWriter(run_dir, resume_after=done)
        with _one_thread():
            engine = build_engine(config, [writer, *sinks], control, run_dir=run_dir,
                                  checkpoint=checkpoint,
                                  threads=_training_threads(threads, config))
    except BaseException:
        lock.release()
        raise
    return Run(config, run_dir, engine, writer, lock, notice, monitor_resources(engine))
