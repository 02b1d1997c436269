"""Snapshots of the main view and the overlay at 80x24 and 160x48, fed a deterministic fake
event stream on a frozen clock. Review changes with `pytest tests/tui --snapshot-update` and
the SVGs under tests/tui/__snapshots__."""

from __future__ import annotations

from pathlib import Path

import pytest

from memtui.tui.app import MemtuiApp

from tui_helpers import FROZEN_NOW, fake_events

SIZES = [(80, 24), (160, 48)]


def fed_app(**fake) -> tuple[MemtuiApp, object]:
    app = MemtuiApp(clock=lambda: FROZEN_NOW)

    async def feed(pilot) -> None:
        app.state.started_at = FROZEN_NOW - 75  # 1:15 into the run
        app.consume_all(fake_events(**fake))
        await pilot.pause()
        app.flush(force=True)
        await pilot.pause()

    return app, feed


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_view(snap_compare, size):
    app, feed = fed_app()
    assert snap_compare(app, terminal_size=size, run_before=feed)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_overlay_view(snap_compare, size):
    app, feed = fed_app()

    async def overlay(pilot) -> None:
        await feed(pilot)
        await pilot.press("o")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=overlay)


def test_small_terminal_switches_the_panes_to_the_loss_chart(snap_compare):
    app, feed = fed_app()

    async def loss_charts(pilot) -> None:
        await feed(pilot)
        await pilot.press("l")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=loss_charts)


def test_no_color_draws_series_apart_by_marker(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app, feed = fed_app()
    assert app.no_color
    assert snap_compare(app, terminal_size=(80, 24), run_before=feed)


def fake_sweep(root) -> None:
    """A sweep directory of four cells written from the fake event stream: completed, running,
    running with a diverged loss, pending."""
    from memtui.events import RunFinished
    from memtui.runlog import RunLogWriter
    from memtui.sweep.manifest import Manifest

    cells = []
    for noise, seed, status, epochs, diverge in [(0.2, 0, "completed", 60, None),
                                                 (0.2, 1, "running", 24, None),
                                                 (0.6, 0, "running", 12, "MSE"),
                                                 (0.6, 1, "pending", 0, None)]:
        name = f"noise-{noise}_seed-{seed}"
        cells.append({"name": name, "overrides": {"corruption.noise": noise, "seed": seed},
                      "status": status, "attempts": int(status != "pending"), "epochs": 60,
                      "epochs_completed": epochs if status == "completed" else 0, "message": ""})
        if status == "pending":
            continue
        (root / "cells" / name).mkdir(parents=True)
        writer = RunLogWriter(root / "cells" / name)
        for event in fake_events(epochs, diverge=diverge):
            writer.handle(event)
        if status == "completed":
            writer.handle(RunFinished("completed", epochs, ""))
    Manifest(root, {"schema_version": 1, "kind": "memtui-sweep", "name": "noise-grid",
                    "axes": {"corruption.noise": [0.2, 0.6], "seed": [0, 1]},
                    "cells": cells}).save()


def test_sweep_board(snap_compare, tmp_path, monkeypatch):
    from memtui.tui.sweep_app import SweepApp

    fake_sweep(tmp_path / "sweep")
    monkeypatch.chdir(tmp_path)  # the board names the directory as given
    app = SweepApp(Path("sweep"))

    async def loaded(pilot) -> None:
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 14), run_before=loaded)


# -- several runs, the leaderboard, log scale and cursor -----------------------------------


class QuietSource:
    """A source that delivers nothing: the snapshot feeds the app itself, on a frozen clock."""
    controllable = False
    paused = False
    started_at = FROZEN_NOW - 75
    ended_at = FROZEN_NOW

    def attach(self, deliver) -> None: ...
    def work(self) -> None: ...
    def request_stop(self) -> None: ...
    def toggle_pause(self) -> bool:
        return False


def multi_app() -> tuple[MemtuiApp, object]:
    from multi_helpers import run_events

    from memtui.tui.sources import MultiRunSource

    runs = [(0, 0.4), (1, 0.4), (2, 0.4), (0, 0.8), (1, 0.8)]
    app = MemtuiApp(MultiRunSource([QuietSource() for _ in runs],
                                   [f"run-{i}" for i in range(len(runs))]),
                    clock=lambda: FROZEN_NOW)

    async def feed(pilot) -> None:
        for index, (seed, noise) in enumerate(runs):
            app.consume_all(run_events(seed, noise, epochs=30), run=index)
        await pilot.pause()
        app.flush(force=True)
        await pilot.pause()

    return app, feed


def test_several_runs_overlay_with_bands(snap_compare):
    app, feed = multi_app()

    async def overlay(pilot) -> None:
        await feed(pilot)
        await pilot.press("o")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 48), run_before=overlay)


def test_leaderboard(snap_compare):
    app, feed = multi_app()

    async def board(pilot) -> None:
        await feed(pilot)
        await pilot.press("b")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 30), run_before=board)


def test_log_scale_and_cursor(snap_compare):
    app, feed = fed_app()

    async def log_cursor(pilot) -> None:
        await feed(pilot)
        await pilot.press("g", "right", "left", "left")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 48), run_before=log_cursor)


def test_x_range_the_last_20_epochs(snap_compare):
    app, feed = fed_app()

    async def last_20(pilot) -> None:
        await feed(pilot)
        await pilot.press("x", "x")  # the whole run -> the last 50 -> the last 20
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 48), run_before=last_20)


def test_leaderboard_sorted_by_another_column_and_reversed(snap_compare):
    app, feed = multi_app()

    async def resorted(pilot) -> None:
        await feed(pilot)
        await pilot.press("b", "]", "]", "]", "r")  # best test acc -> ... -> recovered, ascending
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 30), run_before=resorted)


def test_a_remote_runs_dropped_connection_shows_as_a_banner(snap_compare):
    from memtui.tui.sources import SourceNotice

    app, feed = fed_app()

    async def dropped(pilot) -> None:
        await feed(pilot)
        app.consume(SourceNotice("connection lost: ssh me@lab: Connection timed out; "
                                 "reconnecting in 8 s"))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 36), run_before=dropped)


def test_watch_picker(snap_compare, tmp_path):
    import os

    from memtui import catalog
    from memtui.tui.picker_app import PickerApp

    from helpers import write_fake_catalog

    paths = write_fake_catalog(tmp_path)
    for age, path in enumerate([paths["sweep"], *(paths[k] for k in ("gone", "running", "failed",
                                                                      "stopped", "completed"))]):
        for file in [path, *path.rglob("*")]:
            os.utime(file, (FROZEN_NOW - 90 * (age + 1),) * 2)
    entries = catalog.find([tmp_path], now=FROZEN_NOW)
    assert snap_compare(PickerApp(entries, now=FROZEN_NOW), terminal_size=(120, 16),
                        press=["down", "space", "down", "space"])
