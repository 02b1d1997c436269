"""Specification of the lockstep engine.

One model per loss, trained in lockstep: every model starts from the same weights and sees the
same batches in the same order, so the loss is the only difference. After each epoch every active
loss gets the metrics of memtui.metrics. A non-finite training loss stops that loss only; a stop
request (from a sink or another thread) ends the run with status "stopped". Runs are reproducible
from the seed on a CPU.
"""

from __future__ import annotations

import math
import threading

import pytest
import torch

from memtui.control import RunControl
from memtui.engine import Engine
from memtui.events import (
    EpochEnded,
    EpochMetrics,
    LossDiverged,
    RunFinished,
    RunStarted,
)
from memtui.losses import REGISTRY, LossDef, cross_entropy
from memtui.metrics import METRICS
from memtui.prepare import batch_slices, epoch_permutation
from memtui.session import build_engine

from helpers import Recorder

TIMING = {"seconds", "eval_seconds", "images_per_s"}
FRACTIONS = ("train_acc", "memorized", "recovered", "clean_acc", "test_acc")


def run_engine(config, *sinks, control=None) -> tuple[Engine, RunFinished]:
    engine = build_engine(config, list(sinks), control or RunControl())
    return engine, engine.run()


def test_every_loss_starts_from_identical_weights(tiny_config):
    engine = build_engine(tiny_config(losses=[{"name": n} for n in ("ce", "mse", "rll", "gce")]))
    states = [model.state_dict() for model in engine.bank.models]
    assert len(states) == 4
    for state in states[1:]:
        assert state.keys() == states[0].keys()
        for key in state:
            assert torch.equal(state[key], states[0][key]), key
    # Copies, not one shared module: training one must not move the others.
    params = [next(model.parameters()) for model in engine.bank.models]
    assert len({p.data_ptr() for p in params}) == 4


def test_initial_weights_depend_on_the_seed_only(tiny_config):
    def first_weight(seed, losses):
        engine = build_engine(tiny_config(seed=seed, losses=[{"name": n} for n in losses]))
        return next(engine.bank.models[0].parameters()).detach().clone()

    assert torch.equal(first_weight(3, ["ce"]), first_weight(3, ["rll", "mse"]))
    assert not torch.equal(first_weight(3, ["ce"]), first_weight(4, ["ce"]))


def test_every_loss_sees_the_same_batches_in_the_same_order(tiny_config):
    config = tiny_config(epochs=2)
    engine = build_engine(config)
    seen: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in engine.bank.models]

    def watch(index, fn):
        inputs: list[torch.Tensor] = []

        def pre_hook(module, args):
            if module.training:
                inputs.append(args[0].detach().clone())

        def loss(logits, target):
            seen[index].append((inputs.pop(), target.clone()))
            return fn(logits, target)

        engine.bank.models[index].register_forward_pre_hook(pre_hook)
        return loss

    engine.bank.losses = [watch(i, fn) for i, fn in enumerate(engine.bank.losses)]
    assert engine.run().status == "completed"

    n = len(engine.data.train_x)
    expected_targets = [engine.data.labels.noisy[epoch_permutation(config.seed, epoch, n)[part]]
                        for epoch in (1, 2) for part in batch_slices(n, config.batch_size)]
    for batches in seen:
        assert len(batches) == len(expected_targets) == 2 * 4  # 256 images, batches of 64
        for (x, y), (x0, y0), expected in zip(batches, seen[0], expected_targets):
            assert torch.equal(x, x0) and torch.equal(y, y0)
            assert torch.equal(y, expected)


def test_batch_order_is_a_function_of_seed_and_epoch():
    assert torch.equal(epoch_permutation(0, 1, 100), epoch_permutation(0, 1, 100))
    assert not torch.equal(epoch_permutation(0, 1, 100), epoch_permutation(0, 2, 100))
    assert not torch.equal(epoch_permutation(0, 1, 100), epoch_permutation(1, 1, 100))
    assert sorted(epoch_permutation(5, 3, 100).tolist()) == list(range(100))


def test_batch_slices_cover_the_set_and_drop_only_a_last_batch_of_one():
    assert batch_slices(10, 4) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert batch_slices(9, 4) == [slice(0, 4), slice(4, 8)]


def test_a_run_emits_started_metrics_per_loss_per_epoch_ended_and_finished(tiny_config, recorder):
    _, finished = run_engine(tiny_config(epochs=2), recorder)
    assert finished == recorder.events[-1]
    assert finished.status == "completed" and finished.epochs_completed == 2
    assert isinstance(recorder.events[0], RunStarted)
    started = recorder.events[0]
    assert (started.num_train, started.num_test) == (256, 128)
    assert [info.label for info in started.losses] == ["CE", "MSE", "RLL"]
    assert [info.symmetric for info in started.losses] == [False, False, True]
    metrics = recorder.of(EpochMetrics)
    assert [(m.epoch, m.loss) for m in metrics] == [
        (e, loss) for e in (1, 2) for loss in ("CE", "MSE", "RLL")]
    assert [e.epoch for e in recorder.of(EpochEnded)] == [1, 2]


def test_metric_values_are_all_present_and_in_range(tiny_config, recorder):
    config = tiny_config(epochs=2)
    run_engine(config, recorder)
    started = recorder.of(RunStarted)[0]
    corrupted, n = started.num_corrupted, started.num_train
    assert 0 < corrupted < n
    for event in recorder.of(EpochMetrics):
        v = event.values
        assert set(v) == set(METRICS)
        for name in FRACTIONS:
            assert v[name] is not None and 0.0 <= v[name] <= 1.0, name
        assert v["memorized"] + v["recovered"] <= 1.0 + 1e-9
        # Clean samples carry their true label: train accuracy splits into the two groups.
        assert v["train_acc"] == pytest.approx(
            (v["memorized"] * corrupted + v["clean_acc"] * (n - corrupted)) / n)
        assert math.isfinite(v["test_loss"]) and v["test_loss"] >= 0
        assert math.isfinite(v["train_loss"]) and v["train_loss"] >= 0
        assert v["lr"] == pytest.approx(config.optimizer.lr)
        assert v["seconds"] > 0 and v["images_per_s"] > 0 and v["eval_seconds"] >= 0


def test_without_corruption_memorized_and_recovered_are_undefined(tiny_config, recorder):
    run_engine(tiny_config(epochs=1, corruption={"noise": 0.0}), recorder)
    for event in recorder.of(EpochMetrics):
        assert event.values["memorized"] is None and event.values["recovered"] is None
        assert event.values["clean_acc"] == pytest.approx(event.values["train_acc"])


def test_the_learning_rate_follows_the_schedule(tiny_config, recorder):
    # As in the paper's code (PyTorch's MultiStepLR): milestone m means the first m epochs run at
    # the initial rate, so [100, 150] over 200 epochs gives 100 epochs at lr, 50 at lr/10, ...
    config = tiny_config(epochs=3, losses=[{"name": "ce"}],
                         schedule={"kind": "multistep", "milestones": [2], "gamma": 0.1})
    run_engine(config, recorder)
    assert [m.values["lr"] for m in recorder.of(EpochMetrics)] == pytest.approx([0.1, 0.1, 0.01])


def test_eval_every_skips_evaluation_between_but_not_at_the_last_epoch(tiny_config, recorder):
    run_engine(tiny_config(epochs=3, eval_every=2, losses=[{"name": "ce"}]), recorder)
    tested = [m.values["test_acc"] is not None for m in recorder.of(EpochMetrics)]
    assert tested == [False, True, True]


def _nan_loss(logits, target):
    return cross_entropy(logits, target) * float("nan")


def test_a_nan_loss_stops_that_loss_only(tiny_config, recorder, monkeypatch):
    monkeypatch.setitem(REGISTRY, "nan", LossDef("nan", "always NaN (test only)", _nan_loss,
                                                 symmetric=False))
    config = tiny_config(epochs=3, losses=[{"name": "ce"}, {"name": "nan"}, {"name": "rll"}])
    _, finished = run_engine(config, recorder)
    assert finished.status == "completed" and finished.epochs_completed == 3
    (diverged,) = recorder.of(LossDiverged)
    assert (diverged.loss, diverged.epoch) == ("NAN", 1)
    assert "nan" in diverged.reason.lower()
    labels = [(m.epoch, m.loss) for m in recorder.of(EpochMetrics)]
    assert labels == [(e, loss) for e in (1, 2, 3) for loss in ("CE", "RLL")]
    for event in recorder.of(EpochMetrics):
        assert math.isfinite(event.values["train_loss"])


def test_a_run_whose_every_loss_diverges_finishes_as_failed(
        tiny_config, recorder, monkeypatch):
    monkeypatch.setitem(REGISTRY, "nan", LossDef("nan", "always NaN", _nan_loss, symmetric=False))
    _, finished = run_engine(tiny_config(epochs=3, losses=[{"name": "nan"}]), recorder)
    assert finished.status == "failed" and "diverged" in finished.message
    assert len(recorder.of(LossDiverged)) == 1


class StopAfterFirstEpoch:
    critical = False
    def __init__(self, control: RunControl) -> None:
        self.control = control

    def handle(self, event) -> None:
        if isinstance(event, EpochEnded):
            self.control.request_stop()


def test_a_stop_request_from_a_sink_ends_the_run_as_stopped(tiny_config, recorder):
    control = RunControl()
    _, finished = run_engine(tiny_config(epochs=20), StopAfterFirstEpoch(control), recorder,
                             control=control)
    assert finished.status == "stopped" and finished.epochs_completed == 1
    assert recorder.events[-1] == finished
    assert {m.epoch for m in recorder.of(EpochMetrics)} == {1}


def test_a_stop_request_from_another_thread_ends_the_run_as_stopped(tiny_config, recorder):
    control = RunControl()
    first_epoch_done = threading.Event()

    class Signal:
        critical = False
        def handle(self, event):
            if isinstance(event, EpochEnded):
                first_epoch_done.set()

    def stopper():
        first_epoch_done.wait(timeout=60)
        control.request_stop()

    thread = threading.Thread(target=stopper)
    thread.start()
    _, finished = run_engine(tiny_config(epochs=500), Signal(), recorder, control=control)
    thread.join()
    assert finished.status == "stopped"
    assert 1 <= finished.epochs_completed < 500
    assert finished.epochs_completed == max(e.epoch for e in recorder.of(EpochEnded))


def test_a_paused_run_waits_and_a_stop_request_wakes_it(tiny_config, recorder):
    control = RunControl()
    paused = threading.Event()

    class PauseAfterFirstEpoch:
        critical = False
        def handle(self, event):
            if isinstance(event, EpochEnded) and event.epoch == 1:
                control.pause()
                paused.set()

    def stopper():
        paused.wait(timeout=60)
        assert control.paused
        control.request_stop()

    thread = threading.Thread(target=stopper)
    thread.start()
    _, finished = run_engine(tiny_config(epochs=5), PauseAfterFirstEpoch(), recorder,
                             control=control)
    thread.join()
    assert finished.status == "stopped" and finished.epochs_completed == 1
    assert not control.paused


def test_toggle_pause_pauses_and_resumes():
    control = RunControl()
    assert control.toggle_pause() is True and control.paused
    assert control.toggle_pause() is False and not control.paused


def test_two_runs_with_the_same_seed_give_identical_metrics(tiny_config):
    def metrics(seed):
        recorder_ = Recorder()
        run_engine(tiny_config(epochs=2, seed=seed), recorder_)
        return [(m.epoch, m.loss, {k: v for k, v in m.values.items() if k not in TIMING})
                for m in recorder_.of(EpochMetrics)]

    first = metrics(7)
    assert first == metrics(7)
    assert first != metrics(8)


def test_errors_while_assembling_are_raised_before_there_is_an_engine_to_run(tiny_config,
                                                                             tmp_path):
    from memtui.errors import DataError

    with pytest.raises(DataError):
        build_engine(tiny_config(data={"dataset": "mnist", "data_dir": str(tmp_path)}))


def test_an_unexpected_error_during_the_run_finishes_it_as_failed_with_the_traceback(
        tiny_config, recorder, monkeypatch):
    def broken(logits, target):
        raise RuntimeError("boom")

    monkeypatch.setitem(REGISTRY, "broken", LossDef("broken", "raises", broken, symmetric=False))
    _, finished = run_engine(tiny_config(losses=[{"name": "broken"}]), recorder)
    assert finished.status == "failed" and "boom" in finished.message
    assert "Traceback" in finished.error
    assert recorder.events[-1] == finished



def test_a_display_that_breaks_is_dropped_and_training_goes_on(tiny_config, recorder):
    class ClosedTerminal:  # stderr gone with the SSH session that showed it
        critical = False
        def handle(self, event) -> None:
            raise OSError(5, "Input/output error")

    _, finished = run_engine(tiny_config(epochs=2), ClosedTerminal(), recorder)
    assert finished.status == "completed"
    assert recorder.events[-1] == finished


def test_the_engine_sets_its_cpu_threads_in_the_thread_that_trains(tiny_config):
    # OpenMP's thread count is per thread: the UI's worker must get the count, not the main thread.
    import threading

    seen = []

    class ThreadCount:
        critical = False
        def handle(self, event) -> None:
            seen.append(torch.get_num_threads())

    engine = build_engine(tiny_config(epochs=1), [ThreadCount()], threads=2)
    worker = threading.Thread(target=lambda: (torch.set_num_threads(1), engine.run()))
    worker.start()
    worker.join()
    assert seen and set(seen) == {2}


def test_observers_hear_every_measured_epoch_before_its_boundary_is_kept(tiny_config, tmp_path):
    # What an observer updates (a per-sample record, say) is part of that epoch's checkpoint.
    heard = []

    class Observer:
        def epoch_measured(self, result) -> None:
            kept = engine.checkpointer.boundary.epochs_completed
            heard.append((result.epoch, kept, result.measured, sorted(result.quality)))

    engine = build_engine(tiny_config(epochs=2), run_dir=tmp_path, observers=[Observer()])
    assert engine.run().status == "completed"
    assert heard == [(1, 0, [0, 1, 2], [0, 1, 2]), (2, 1, [0, 1, 2], [0, 1, 2])]
    assert engine.checkpointer.boundary.epochs_completed == 2
