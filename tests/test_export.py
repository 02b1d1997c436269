"""`memtui export tensorboard`: event files read back with TensorBoard's own reader."""

from __future__ import annotations

import pytest
from sweep_helpers import call_main, grid_text, sweep_in_process

from memtui.runlog import read_run

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
plugin_data_pb2 = pytest.importorskip("tensorboard.plugins.hparams.plugin_data_pb2")


def load(logdir):
    accumulator = event_accumulator.EventAccumulator(str(logdir), size_guidance={"scalars": 0,
                                                                                 "tensors": 0})
    accumulator.Reload()
    return accumulator


def hparams_of(accumulator) -> dict:
    content = accumulator.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    out = {}
    for key, value in start.hparams.items():
        kind = value.WhichOneof("kind")
        out[key] = getattr(value, kind)
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    try:
        yield sweep_in_process(tmp_path_factory.mktemp("sw"), monkeypatch,
                               grid_text(axes='"corruption.noise" = [0.2, 0.6]'))
    finally:
        monkeypatch.undo()


def test_a_sweep_becomes_one_tensorboard_run_per_cell_and_loss(sweep_dir, tmp_path, monkeypatch,
                                                                capsys):
    out = tmp_path / "tb"
    assert call_main(monkeypatch, "export", "tensorboard", str(sweep_dir), "--out", str(out)) == 0
    assert "wrote 6 TensorBoard runs" in capsys.readouterr().err
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*")) == [
        f"noise-{n}/{loss}" for n in ("0.2", "0.6") for loss in ("CE", "MSE", "RLL")]
    run = read_run(sweep_dir / "cells" / "noise-0.6")
    accumulator = load(out / "noise-0.6" / "RLL")
    scalars = accumulator.Tags()["scalars"]
    for name in ("test_acc", "memorized", "recovered", "clean_acc", "train_loss", "lr"):
        assert name in scalars
    events = accumulator.Scalars("memorized")
    assert [e.step for e in events] == [1, 2]
    assert [e.value for e in events] == pytest.approx([r["memorized"]
                                                       for r in run.metrics_of("RLL")])
    hparams = hparams_of(accumulator)
    assert hparams["loss"] == "RLL" and hparams["loss.alpha"] == pytest.approx(0.1)
    assert hparams["corruption.noise"] == pytest.approx(0.6)
    assert hparams["data.dataset"] == "demo" and hparams["loss.symmetric"] is True
    final = accumulator.Scalars("hparam/test_acc")
    assert final[-1].value == pytest.approx(run.summary["losses"]["RLL"]["final"]["test_acc"])


def test_a_run_exports_beside_itself_and_again_without_duplicates(sweep_dir, monkeypatch):
    cell = sweep_dir / "cells" / "noise-0.2"
    for _ in range(2):
        assert call_main(monkeypatch, "export", "tensorboard", str(cell)) == 0
    files = list((cell / "tensorboard" / "CE").iterdir())
    assert len(files) == 1
    assert [e.step for e in load(cell / "tensorboard" / "CE").Scalars("test_acc")] == [1, 2]


def test_an_unknown_export_is_refused(sweep_dir, monkeypatch, capsys):
    assert call_main(monkeypatch, "export", "tensorbord", str(sweep_dir)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'tensorboard'" in err
