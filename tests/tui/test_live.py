"""The live view driving a small real engine run (demo preset, 500 images, 64-unit MLP)."""

from __future__ import annotations

import asyncio
import json

import pytest
from textual.widgets import Static

from memtui.metrics import format_value
from memtui.runlog import read_run
from memtui.tui.app import MemtuiApp
from memtui.tui.sources import LiveSource
from memtui.tui.widgets.panes.loss_pane import LossPane

from tui_helpers import EAGER, Gate, drawn, text_of, wait_for

SIZE = (120, 36)


async def leave(app: MemtuiApp, pilot) -> None:
    """Wait for the training thread to end, then for the app to close."""
    await asyncio.to_thread(app.source.done.wait, 30)
    await wait_for(lambda: app.return_value is not None, pilot)


async def test_one_pane_per_loss_whose_values_follow_the_epochs(make_run):
    gate = Gate()
    run = make_run(epochs=2, extra_sinks=[gate])
    app = MemtuiApp(LiveSource(run), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: all(len(loss.epochs) == 1 for loss in app.state.losses.values())
                       and len(app.state.losses) == 3, pilot)
        await drawn(app, pilot)
        panes = list(app.query(LossPane))
        assert [pane.loss.label for pane in panes] == ["CE", "MSE", "RLL"]
        assert [pane.loss.info.symmetric for pane in panes] == [False, False, True]
        assert "symmetric" in str(panes[2].border_title)
        assert "standard" in str(panes[0].border_title)

        first = {label: loss.latest["test_acc"] for label, loss in app.state.losses.items()}
        for pane in panes:
            shown = text_of(pane.query_one(".values"))
            assert format_value("test_acc", first[pane.loss.label]) in shown

        gate.release()  # epoch 1 ends, epoch 2 trains and is measured
        await wait_for(lambda: all(len(loss.epochs) == 2 for loss in app.state.losses.values()),
                       pilot)
        gate.release()
        await wait_for(lambda: app.state.finished, pilot)
        await drawn(app, pilot)
        run_record = read_run(run.run_dir)
        for pane in panes:
            last = run_record.metrics_of(pane.loss.label)[-1]
            assert last["epoch"] == 2
            shown = text_of(pane.query_one(".values"))
            assert format_value("train_acc", last["train_acc"]) in shown
            assert format_value("test_acc", last["test_acc"]) in shown
        assert "epoch 2/2" in text_of(app.query_one("#epoch-label", Static))
        assert "COMPLETED" in text_of(app.query_one("#run-status", Static))
        await pilot.press("q")
        await leave(app, pilot)
    assert app.return_value == "completed"


async def test_p_pauses_and_resumes_training(make_run):
    gate = Gate()
    run = make_run(epochs=2, extra_sinks=[gate])
    app = MemtuiApp(LiveSource(run), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: all(len(loss.epochs) == 1 for loss in app.state.losses.values())
                       and app.state.losses, pilot)
        await pilot.press("p")
        assert run.control.paused
        await drawn(app, pilot)
        assert "PAUSED" in text_of(app.query_one("#run-status", Static))

        gate.release()  # epoch 2 may start, but the engine waits before its first batch
        await pilot.pause(0.5)
        assert all(len(loss.epochs) == 1 for loss in app.state.losses.values())

        await pilot.press("p")
        assert not run.control.paused
        gate.release()
        await wait_for(lambda: app.state.finished, pilot)
        assert app.state.status == "completed"
        assert all(len(loss.epochs) == 2 for loss in app.state.losses.values())
        await pilot.press("q")
        await leave(app, pilot)


async def test_q_stops_training_and_leaves_a_complete_run_directory(make_run):
    run = make_run(epochs=200)
    app = MemtuiApp(LiveSource(run), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.state.epochs_done >= 1, pilot)
        await pilot.press("q")
        await leave(app, pilot)
    assert app.return_value == "stopped"

    record = read_run(run.run_dir)
    assert record.summary is not None
    assert record.summary["status"] == "stopped"
    done = record.summary["epochs_completed"]
    assert 1 <= done < 200
    for label in ("CE", "MSE", "RLL"):
        # every finished epoch has its line, and no half-measured epoch has one
        assert [r["epoch"] for r in record.metrics_of(label)] == list(range(1, done + 1))
    lines = (run.run_dir / "metrics.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in lines)


async def test_ctrl_c_stops_like_q(make_run):
    run = make_run(epochs=200)
    app = MemtuiApp(LiveSource(run), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.state.epochs_done >= 1, pilot)
        await pilot.press("ctrl+c")
        await leave(app, pilot)
    assert app.return_value == "stopped"
    assert read_run(run.run_dir).summary["status"] == "stopped"


class SinkFailure(Exception):
    pass


class FailingSink:
    critical = True  # like the run log: its failure must fail the run (a display's would not)

    def handle(self, event) -> None:
        if type(event).__name__ == "EpochMetrics":
            raise SinkFailure("the sink broke")


@pytest.mark.parametrize("failure", ["train_step", "sink"])
async def test_an_error_in_the_training_thread_is_shown_and_logged(make_run, failure):
    if failure == "sink":
        run = make_run(epochs=2, extra_sinks=[FailingSink()])
        expected = "SinkFailure: the sink broke"
    else:
        run = make_run(epochs=2)

        def broken_step(x, y, active):
            raise RuntimeError("boom in the training step")

        run.engine.bank.train_step = broken_step
        expected = "RuntimeError: boom in the training step"
    app = MemtuiApp(LiveSource(run), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.state.finished, pilot)
        await drawn(app, pilot)
        assert app.state.status == "failed"
        banner = app.query_one("#error-banner", Static)
        assert banner.display
        assert expected in text_of(banner)
        assert "error.log" in text_of(banner)
        assert any(n.severity == "error" and expected in n.message for n in app._notifications)
        assert "FAILED" in text_of(app.query_one("#run-status", Static))
        await pilot.press("q")
        await leave(app, pilot)
    assert app.return_value == "failed"
    log = (run.run_dir / "error.log").read_text()
    assert "Traceback" in log and expected in log
    assert read_run(run.run_dir).summary["status"] == "failed"


async def test_s_saves_an_svg_screenshot_into_the_run_directory(make_run):
    run = make_run(epochs=1)
    app = MemtuiApp(LiveSource(run), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.state.finished, pilot)
        await pilot.press("s")
        await pilot.press("q")
        await leave(app, pilot)
    shots = list(run.run_dir.glob("*.svg"))
    assert len(shots) == 1
    assert shots[0].read_text().lstrip().startswith("<svg")
