"""Specification of the run directory.

``config.json`` (the resolved experiment), ``metrics.jsonl`` (one JSON line per loss per epoch,
an epoch's lines written together when it ends; a diverged loss gets a ``diverged`` line) and
``summary.json`` (status, final and best metrics per loss) — after a completed run and after a
stopped one, whose lines all stay valid. Readers tolerate a last line cut short by a kill.
"""

from __future__ import annotations

import json
import os

import pytest

from memtui.control import RunControl
from memtui.errors import RunDirError
from memtui.events import EpochEnded, EpochMetrics
from memtui.losses import REGISTRY, LossDef, cross_entropy
from memtui.runlog import (
    CONFIG_FILE,
    METRICS_FILE,
    SUMMARY_FILE,
    create_run_dir,
    default_run_dir,
    latest_run,
    read_metrics,
    read_run,
)
from memtui.session import start_run


def run_into(run_dir, config, *extra_sinks, control=None):
    config = config.model_copy(update={"out": run_dir})
    return start_run(config, sinks=extra_sinks, control=control).execute()


def json_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_completed_run_writes_config_metrics_and_summary(tiny_config, tmp_path):
    config = tiny_config(epochs=2)
    run_dir = tmp_path / "run"
    assert run_into(run_dir, config).status == "completed"
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        [CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, "checkpoint.pt", "writer.json", "writer.lock",
         "ledger.npz", "thumbnails.npz"])
    assert json.loads((run_dir / CONFIG_FILE).read_text())["schema_version"] == 3

    meta = json.loads((run_dir / CONFIG_FILE).read_text())
    assert meta["config"] == config.model_copy(update={"out": run_dir}).model_dump(mode="json")
    assert [loss["label"] for loss in meta["losses"]] == ["CE", "MSE", "RLL"]
    assert meta["num_train"] == 256 and meta["num_test"] == 128 and 0 < meta["num_corrupted"] < 256

    # one tagged line per event: each loss's metrics and sample ledger figures, the machine's
    # figures, the epoch's end
    everything = json_lines(run_dir / METRICS_FILE)
    assert [(r["event"], r["epoch"], r.get("loss")) for r in everything] == [
        row for e in (1, 2) for row in [
            *(pair for loss in ("CE", "MSE", "RLL")
              for pair in (("epoch_metrics", e, loss), ("sample_scores", e, loss))),
            ("resources", e, None), ("epoch_ended", e, None)]]
    lines = [r for r in everything if r["event"] == "epoch_metrics"]
    for record in lines:
        assert {"train_acc", "memorized", "recovered", "clean_acc", "test_acc", "test_loss",
                "train_loss", "lr", "seconds", "images_per_s"} <= set(record)

    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2
    assert set(summary["losses"]) == {"CE", "MSE", "RLL"}
    for label, entry in summary["losses"].items():
        rows = [r for r in lines if r["loss"] == label]
        assert entry["final"] == {k: v for k, v in rows[-1].items()
                                  if k not in ("event", "epoch", "loss")}
        best = max(rows, key=lambda r: r["test_acc"])
        assert entry["best_test_acc"] == best["test_acc"]
        assert entry["best_epoch"] == best["epoch"]
        assert entry["diverged"] is None and entry["epochs"] == 2


def test_read_run_returns_what_the_writer_wrote(tiny_config, tmp_path):
    run_into(tmp_path / "run", tiny_config(epochs=2))
    record = read_run(tmp_path / "run")
    assert record.loss_labels == ["CE", "MSE", "RLL"]
    assert record.config["epochs"] == 2
    assert len(record.records) == 16 and len(record.metrics_of("RLL")) == 2
    assert record.summary["status"] == "completed"


def test_a_stopped_run_still_writes_its_summary_and_every_line_stays_valid(tiny_config, tmp_path):
    control = RunControl()

    class StopAfterFirstEpoch:
        critical = False
        def handle(self, event):
            if isinstance(event, EpochEnded):
                control.request_stop()

    run_dir = tmp_path / "run"
    finished = run_into(run_dir, tiny_config(epochs=10), StopAfterFirstEpoch(), control=control)
    assert finished.status == "stopped"
    lines = json_lines(run_dir / METRICS_FILE)  # raises on any invalid line
    # three losses' metrics and ledger figures, the machine's figures, the epoch's end
    assert [r["epoch"] for r in lines] == [1] * 8
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    assert summary["status"] == "stopped" and summary["epochs_completed"] == 1
    assert all(entry["final"] is not None for entry in summary["losses"].values())


def test_an_epoch_reaches_the_file_whole_when_it_ends_so_a_kill_never_splits_it(
        tiny_config, tmp_path):
    """A process killed between two losses' lines would leave half an epoch; the writer holds
    an epoch's lines until its end and writes them in one go."""
    run_dir = tmp_path / "run"
    seen_on_disk = []

    class LookAtTheFile:
        critical = False
        def handle(self, event):
            if isinstance(event, EpochMetrics):
                seen_on_disk.append((event.epoch, event.loss,
                                     {r["epoch"] for r in json_lines(run_dir / METRICS_FILE)}))

    run_into(run_dir, tiny_config(epochs=2), LookAtTheFile())
    assert seen_on_disk == [(epoch, loss, set(range(1, epoch))) for epoch in (1, 2)
                            for loss in ("CE", "MSE", "RLL")]


def test_a_diverged_loss_gets_a_diverged_line_and_is_marked_in_the_summary(
        tiny_config, tmp_path, monkeypatch):
    def nan_loss(logits, target):
        return cross_entropy(logits, target) * float("nan")

    monkeypatch.setitem(REGISTRY, "nan", LossDef("nan", "always NaN", nan_loss, symmetric=False))
    run_dir = tmp_path / "run"
    run_into(run_dir, tiny_config(epochs=2, losses=[{"name": "ce"}, {"name": "nan"}]))
    lines = json_lines(run_dir / METRICS_FILE)
    diverged = [r for r in lines if r.get("loss") == "NAN"]
    assert len(diverged) == 1 and diverged[0]["event"] == "loss_diverged"
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    assert summary["status"] == "completed"
    assert summary["losses"]["NAN"]["diverged"] and summary["losses"]["NAN"]["final"] is None
    assert summary["losses"]["CE"]["epochs"] == 2


def test_read_run_tolerates_a_truncated_last_line(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    run_into(run_dir, tiny_config(epochs=1))
    with (run_dir / METRICS_FILE).open("a") as fh:
        fh.write('{"epoch": 2, "loss": "CE", "train_a')  # a write cut by a kill
    (run_dir / SUMMARY_FILE).unlink()  # a killed run has no summary
    record = read_run(run_dir)
    assert len(record.records) == 8 and record.summary is None  # 3 x (metrics, ledger), resources, end


def test_read_metrics_follows_a_growing_file_by_offset(tmp_path):
    path = tmp_path / METRICS_FILE
    path.write_text('{"epoch": 1, "loss": "CE"}\n{"epoch": 1, "lo')
    first, offset = read_metrics(path)
    assert first == [{"epoch": 1, "loss": "CE"}]
    with path.open("a") as fh:
        fh.write('ss": "RLL"}\n')
    second, _ = read_metrics(path, offset)
    assert second == [{"epoch": 1, "loss": "RLL"}]


def test_read_metrics_refuses_a_corrupt_complete_line(tmp_path):
    path = tmp_path / METRICS_FILE
    path.write_text('{"epoch": 1}\nnot json\n')
    with pytest.raises(RunDirError, match="line 2"):
        read_metrics(path)


def test_a_directory_that_already_holds_a_run_is_refused_and_left_unchanged(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    run_into(run_dir, tiny_config(epochs=1))
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    with pytest.raises(RunDirError, match="already holds a run"):
        create_run_dir(run_dir)
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_a_directory_that_cannot_be_created_is_a_run_dir_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(RunDirError, match="cannot be written"):
        create_run_dir(blocker / "run")
    assert blocker.read_text() == "not a folder"


def test_reading_something_that_is_not_a_run_is_a_run_dir_error(tmp_path):
    with pytest.raises(RunDirError, match="does not exist"):
        read_run(tmp_path / "missing")
    with pytest.raises(RunDirError, match="not a memtui run directory"):
        read_run(tmp_path)


def test_a_run_from_a_newer_memtui_is_refused(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    run_into(run_dir, tiny_config(epochs=1))
    meta = json.loads((run_dir / CONFIG_FILE).read_text())
    meta["schema_version"] = 99
    (run_dir / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(RunDirError, match="newer memtui"):
        read_run(run_dir)


def test_default_run_dir_is_timestamp_and_name_and_latest_run_finds_the_newest(
        tiny_config, tmp_path):
    from datetime import datetime

    config = tiny_config()
    path = default_run_dir(config.name, tmp_path, now=datetime(2024, 5, 6, 7, 8, 9))
    assert path == tmp_path / "20240506-070809-tiny"
    run_into(tmp_path / "older", tiny_config(epochs=1))
    run_into(tmp_path / "newer", tiny_config(epochs=1))
    os.utime(tmp_path / "older" / CONFIG_FILE, (1_000_000_000, 1_000_000_000))
    assert latest_run(tmp_path) == tmp_path / "newer"
    with pytest.raises(RunDirError, match="no runs found"):
        latest_run(tmp_path / "empty")
