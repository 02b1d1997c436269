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
    from memtui.tui.sweep_board import SweepApp

    fake_sweep(tmp_path / "sweep")
    monkeypatch.chdir(tmp_path)  # the board names the directory as given
    app = SweepApp(Path("sweep"))

    async def loaded(pilot) -> None:
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 14), run_before=loaded)
