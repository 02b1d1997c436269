"""Snapshots of the main view and the overlay at 80x24 and 160x48, fed a deterministic fake
event stream on a frozen clock. Review changes with `pytest tests/tui --snapshot-update` and
the SVGs under tests/tui/__snapshots__."""

from __future__ import annotations

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
