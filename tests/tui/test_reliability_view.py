"""What the view adds to "never lose a run": the run directory in the header, the writer's
health while watching, a second ctrl+c, a terminal too small, and the summary left on leaving."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys

from textual.widgets import Static

from memtui.runlog import WRITER_FILE, read_run
from memtui.tui.app import MemtuiApp
from memtui.tui.sources import LiveSource, RunDirSource

from tui_helpers import EAGER, Gate, drawn, text_of, wait_for

SIZE = (120, 36)


async def test_the_header_shows_the_run_directory(make_run):
    run = make_run(epochs=1)
    app = MemtuiApp(LiveSource(run), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.state.finished, pilot)
        await drawn(app, pilot)
        assert str(run.run_dir) in text_of(app.query_one("#run-info", Static))
        await pilot.press("q")


async def test_watch_tells_a_dead_writer_from_a_live_one(make_run, tmp_path):
    run = make_run(epochs=1)
    run.execute()
    dead_run = tmp_path / "dead"
    shutil.copytree(run.run_dir, dead_run)
    (dead_run / "summary.json").unlink()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    writer = json.loads((dead_run / WRITER_FILE).read_text())
    (dead_run / WRITER_FILE).write_text(json.dumps({**writer, "pid": dead.pid, "finished": False}))
    app = MemtuiApp(RunDirSource(dead_run, poll_s=0.05), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.state.health == "gone", pilot)
        await drawn(app, pilot)
        assert f"PROCESS GONE (PID {dead.pid})" in text_of(app.query_one("#run-status", Static))
        await pilot.press("q")


async def test_a_second_ctrl_c_leaves_the_view_at_once(make_run):
    gate = Gate()  # holds the engine at the end of each epoch: a slow batch, as it were
    run = make_run(epochs=200, extra_sinks=[gate])
    app = MemtuiApp(LiveSource(run), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        # the epoch's metrics are in; the engine waits at the gate before the epoch's end
        await wait_for(lambda: bool(app.state.losses) and all(
            loss.epochs for loss in app.state.losses.values()), pilot)
        await pilot.press("ctrl+c")
        assert app.stopping and app.return_value is None
        await pilot.press("ctrl+c")
        await wait_for(lambda: app.return_value is not None, pilot)
        assert not app.source.done.is_set()  # the engine has not ended yet; the view has
    gate.release()
    await asyncio.to_thread(app.source.done.wait, 30)
    assert read_run(run.run_dir).summary["status"] == "stopped"


async def test_a_terminal_too_small_says_so(make_run):
    app = MemtuiApp(LiveSource(make_run(epochs=1)), **EAGER)
    async with app.run_test(size=(30, 10)) as pilot:
        await pilot.pause(0.2)
        banner = app.run_screen.banner
        assert banner.display and "terminal too small (30x10)" in text_of(banner)
        await pilot.resize_terminal(100, 30)
        await pilot.pause(0.2)
        assert not banner.display
        await wait_for(lambda: app.state.finished, pilot)
        await pilot.press("q")


def test_leaving_the_view_prints_the_summary_directory_and_resume_command(make_run, capsys,
                                                                        monkeypatch):
    from memtui import cli
    from memtui.tui import launch

    run = make_run(epochs=3)

    def stopped_after_one_epoch(run):
        run.control.request_stop()
        run.execute()
        return "stopped"

    monkeypatch.setattr(launch, "run_live", stopped_after_one_epoch)
    monkeypatch.setenv("COLUMNS", "100")
    assert cli.train(run, use_ui=True) == "stopped"
    err = capsys.readouterr().err
    assert "memtui: run stopped after 0 epoch(s)" in err
    assert f"run directory: {run.run_dir}" in err
    assert f"resume it with: memtui run --resume {run.run_dir}" in err
    assert os.path.exists(run.run_dir / "summary.json")
