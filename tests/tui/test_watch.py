"""`memtui watch`: the same app fed from a run directory, live-growing or finished."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from textual.widgets import Static

from memtui.errors import RunDirError
from memtui.events import (
    EpochEnded,
    EpochMetrics,
    LossDiverged,
    RunFinished,
    RunHealth,
    RunStarted,
)
from memtui.metrics import format_value
from memtui.runlog import read_run
from memtui.session import start_run
from memtui.tui.app import MemtuiApp
from memtui.tui.launch import run_watch
from memtui.tui.sources import RunDirSource
from memtui.tui.widgets.panes.loss_pane import LossPane

from tui_helpers import EAGER, drawn, text_of, wait_for

SIZE = (120, 36)


@pytest.fixture
def finished_run(small_config) -> Path:
    """A real three-epoch run of the demo preset, trained without any UI. Without the sample
    ledger: these tests cut its metrics.jsonl by line, three losses' metrics and an epoch end per
    epoch (the ledger's lines and files are tests/test_ledger.py's)."""
    config = small_config.model_copy(update={"ledger": small_config.ledger.model_copy(
        update={"enabled": False})})
    return start_run(config).execute() and config.out


def start_copy(finished: Path, target: Path) -> list[str]:
    """A run directory holding only the finished run's config.json (as right after RunStarted);
    the finished run's metrics lines to append, but its resource lines (test_resources.py
    follows those)."""
    target.mkdir()
    shutil.copy(finished / "config.json", target / "config.json")
    return [line for line in (finished / "metrics.jsonl").read_text().splitlines(keepends=True)
            if '"event": "resources"' not in line]


def append(path: Path, text: str) -> None:
    with (path / "metrics.jsonl").open("a") as fh:
        fh.write(text)


async def test_watch_follows_a_run_directory_while_it_grows(finished_run, tmp_path):
    growing = tmp_path / "growing"
    lines = start_copy(finished_run, growing)
    assert len(lines) == 12  # three epochs, each three losses' metrics and the epoch's end
    app = MemtuiApp(RunDirSource(growing, poll_s=0.05), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: len(app.query(LossPane)) == 3, pilot)
        # the header is drawn at the screen's next tick, which a loaded machine may delay
        await wait_for(lambda: "FOLLOWING" in text_of(app.query_one("#run-status", Static)), pilot)
        assert all(not loss.epochs for loss in app.state.losses.values())

        append(growing, "".join(lines[:4]))
        await wait_for(lambda: app.state.epochs_done == 1, pilot)

        # a line caught half written is not read until its newline arrives
        append(growing, "".join(lines[4:6]) + lines[6][:20])
        await wait_for(lambda: len(app.state.losses["MSE"].epochs) == 2, pilot)
        await pilot.pause(0.3)
        assert len(app.state.losses["RLL"].epochs) == 1
        append(growing, lines[6][20:] + "".join(lines[7:]))
        await wait_for(lambda: app.state.epochs_done == 3, pilot)
        await drawn(app, pilot)
        last = json.loads(lines[-2])
        pane = next(p for p in app.query(LossPane) if p.loss.label == last["loss"])
        assert format_value("test_acc", last["test_acc"]) in text_of(pane.query_one(".values"))
        assert not app.state.finished

        shutil.copy(finished_run / "summary.json", growing / "summary.json")
        await wait_for(lambda: app.state.finished, pilot)
        await drawn(app, pilot)
        assert app.state.status == "completed"
        assert "COMPLETED" in text_of(app.query_one("#run-status", Static))
        await pilot.press("q")
    assert app.return_value == "completed"


async def test_watch_replays_a_finished_run(finished_run):
    app = MemtuiApp(RunDirSource(finished_run), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.state.finished, pilot)
        await drawn(app, pilot)
        assert [p.loss.label for p in app.query(LossPane)] == ["CE", "MSE", "RLL"]
        assert all(loss.epochs == [1, 2, 3] for loss in app.state.losses.values())
        assert "epoch 3/3" in text_of(app.query_one("#epoch-label", Static))
        await pilot.press("p")  # nothing to pause: it says so rather than pretending
        assert any("live run" in n.message for n in app._notifications)
        await pilot.press("o")
        await drawn(app, pilot)
        table = text_of(app.query_one("#overlay-table", Static))
        assert all(label in table for label in ("CE", "MSE", "RLL"))
        await pilot.press("question_mark")  # its help says what q does to a watched run
        help_text = str(app.screen.query_one(Static).content)
        assert "leave the view" in help_text and "pause" not in help_text


def test_each_poll_arrives_as_one_batch_and_health_only_when_it_changes(finished_run, tmp_path):
    """One message per poll, not per event, and none from a run that is quiet: with several
    runs on screen these messages were a good part of what the view cost."""
    growing = tmp_path / "growing"
    lines = start_copy(finished_run, growing)
    source = RunDirSource(growing, poll_s=0.02)
    batches: list[list] = []
    source.attach(batches.append)
    worker = threading.Thread(target=source.work, daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not batches and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [type(e) for e in batches[0]] == [RunStarted, RunHealth]
        append(growing, "".join(lines[:4]))  # epoch 1, written at once
        while len(batches) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # ten more polls of a quiet, healthy run
        assert [[type(e) for e in batch] for batch in batches[1:]] == [
            [EpochMetrics] * 3 + [EpochEnded]]
    finally:
        source.request_stop()
        worker.join(timeout=5)


def test_the_source_rebuilds_the_engines_events(finished_run, tmp_path):
    growing = tmp_path / "diverging"
    lines = start_copy(finished_run, growing)
    source = RunDirSource(growing, poll_s=0.05)
    first = source.poll()
    assert [type(e) for e in first] == [RunStarted]
    assert [info.label for info in first[0].losses] == ["CE", "MSE", "RLL"]
    assert first[0].losses[2].symmetric

    # one event per line, exactly as the engine emitted it
    append(growing, "".join(lines[:4]))
    diverged = {"event": "loss_diverged", "epoch": 2, "loss": "MSE", "diverged": "nan"}
    append(growing, lines[4] + json.dumps(diverged) + "\n" + lines[6] + lines[7])
    events = source.poll()
    assert [type(e) for e in events] == [EpochMetrics] * 3 + [EpochEnded, EpochMetrics,
                                                              LossDiverged, EpochMetrics, EpochEnded]
    assert events[5] == LossDiverged(2, "MSE", "nan")

    (growing / "error.log").write_text("Traceback: boom\n")
    summary = json.loads((finished_run / "summary.json").read_text())
    (growing / "summary.json").write_text(json.dumps({**summary, "status": "failed",
                                                      "epochs_completed": 2, "message": "boom"}))
    finished = source.poll()
    assert finished == [RunFinished("failed", 2, "boom", "Traceback: boom\n")]
    assert source.poll() == []


async def test_a_diverged_loss_shows_in_its_pane_and_as_a_notification(finished_run, tmp_path):
    growing = tmp_path / "diverging"
    lines = start_copy(finished_run, growing)
    append(growing, "".join(lines[:5]) + json.dumps(
        {"event": "loss_diverged", "epoch": 2, "loss": "MSE", "diverged": "training loss became nan"})
        + "\n")
    app = MemtuiApp(RunDirSource(growing, poll_s=0.05), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.state.losses and app.state.losses["MSE"].diverged, pilot)
        await drawn(app, pilot)
        pane = next(p for p in app.query(LossPane) if p.loss.label == "MSE")
        alert = pane.query_one(".alert", Static)
        assert alert.display
        assert "diverged in epoch 2: training loss became nan" in text_of(alert)
        assert pane.has_class("-diverged")
        assert any(n.severity == "warning" and "MSE diverged" in n.message
                   for n in app._notifications)


def test_watch_refuses_a_folder_that_is_no_run_before_drawing(tmp_path):
    with pytest.raises(RunDirError, match="not a memtui run directory"):
        run_watch(tmp_path)
    with pytest.raises(RunDirError, match="does not exist"):
        run_watch(tmp_path / "missing")


def as_version_1(finished: Path, target: Path) -> list[str]:
    """The run directory as memtui wrote it before tagged events (schema 1): untagged metric
    lines, no epoch ends. Returns its metrics lines."""
    target.mkdir()
    meta = json.loads((finished / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**meta, "schema_version": 1}))
    lines = []
    for line in (finished / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        kind = record.pop("event")
        if kind in ("epoch_metrics", "loss_diverged"):
            lines.append(json.dumps(record) + "\n")
    (target / "metrics.jsonl").write_text("".join(lines))
    return lines


def test_a_version_1_run_directory_replays_with_its_epoch_ends_inferred(finished_run, tmp_path):
    old = tmp_path / "old"
    lines = as_version_1(finished_run, old)
    source = RunDirSource(old)
    assert [type(e) for e in source.poll()] == [RunStarted] + (
        [EpochMetrics] * 3 + [EpochEnded]) * 3
    # a loss that diverged in a version-1 run: the next epoch ends after the others' lines
    diverging = tmp_path / "diverging"
    lines = as_version_1(finished_run, diverging)
    (diverging / "metrics.jsonl").write_text(
        "".join(lines[:3]) + lines[3] + json.dumps({"epoch": 2, "loss": "MSE", "diverged": "nan"})
        + "\n" + lines[5] + "".join(line for line in lines[6:] if '"MSE"' not in line))
    events = RunDirSource(diverging).poll()[1:]
    assert [type(e) for e in events] == [EpochMetrics] * 3 + [EpochEnded, EpochMetrics,
                                                              LossDiverged, EpochMetrics, EpochEnded,
                                                              EpochMetrics, EpochMetrics, EpochEnded]


def test_the_committed_version_1_gpu_run_still_opens():
    run = read_run(Path(__file__).resolve().parents[2] / "docs" / "gpu-runs" / "cifar10-random")
    state = run.state()
    assert run.version == 1
    assert state.status == "stopped" and state.epochs_done == 18
    assert list(state.losses) == ["CE", "MSE", "RLL", "MAE"]
    assert all(len(loss.epochs) == 18 for loss in state.losses.values())


async def test_replay_and_live_run_draw_the_same_screen(small_config):
    """The same events, live from the engine or replayed from the run directory it wrote, end
    in the same screen (the clock frozen, so the elapsed time matches)."""
    from memtui.tui.sources import LiveSource

    run = start_run(small_config)
    live = MemtuiApp(LiveSource(run), clock=lambda: 0.0, **EAGER)
    async with live.run_test(size=SIZE) as pilot:
        await wait_for(lambda: live.state.finished, pilot)
        live.state.started_at = live.state.ended_at = 0.0
        await drawn(live, pilot)
        live_screen = live.export_screenshot()
        live_state = live.state

    replay = MemtuiApp(RunDirSource(run.run_dir), clock=lambda: 0.0, **EAGER)
    async with replay.run_test(size=SIZE) as pilot:
        await wait_for(lambda: replay.state.finished, pilot)
        replay.state.started_at = replay.state.ended_at = 0.0  # a directory knows its own times
        await drawn(replay, pilot)
        replay_screen = replay.export_screenshot()
    assert replay.state.losses.keys() == live_state.losses.keys()
    for label, loss in live_state.losses.items():
        assert replay.state.losses[label].series == loss.series
    strip = lambda svg: svg.split("</style>", 1)[1]  # noqa: E731 - ids differ per export
    assert strip(replay_screen) == strip(live_screen)
