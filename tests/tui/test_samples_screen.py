"""The samples screen (`e`): opened from the run view, it reads the run directory's sample
ledger in a worker and shows its panels per loss: one panel of one loss at 80x24, three losses by
three panels at 200x60; tab, 1-5 and [ ] pick panels and losses; a rewritten ledger is read
again. Snapshots of every panel at 80x24 and 200x60 on a fixed ledger of real demo images; review
them with `pytest tests/tui --snapshot-update` and the SVGs under tests/tui/__snapshots__."""

from __future__ import annotations

import asyncio
import os

import pytest

from memtui.tui.app import MemtuiApp
from memtui.tui.samples_screen import PANELS, SamplesScreen
from memtui.tui.widgets.samples.gallery_panel import GalleryPanel
from memtui.tui.widgets.samples.samples_panel import SamplesPanel
from memtui.tui.widgets.samples.when_panel import WhenPanel

from ledger_fixture import LOSSES, write_fixture
from tui_helpers import FROZEN_NOW, wait_for


@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("run"))


def app_on(run_dir) -> MemtuiApp:
    app = MemtuiApp(clock=lambda: FROZEN_NOW)
    app.state.run_dir = str(run_dir)
    return app


async def open_samples(pilot, *keys: str, ledger: bool = True) -> SamplesScreen:
    """Press e; with ``ledger``, wait until the screen has read it."""
    await pilot.press("e")
    screen = pilot.app.screen
    assert isinstance(screen, SamplesScreen)
    if ledger:
        await wait_for(lambda: screen.ledger is not None, pilot)
    for key in keys:
        await pilot.press(key)
    await pilot.pause()
    return screen


def shown(screen: SamplesScreen) -> list[tuple[str, str]]:
    return [(type(p).__name__, p.label) for p in screen.query(SamplesPanel)]


async def test_e_opens_one_panel_of_one_loss_at_80x24_and_keys_pick_others(ledger_dir):
    app = app_on(ledger_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_samples(pilot)
        assert screen.ledger is not None and screen.ledger.loss_labels == LOSSES
        assert shown(screen) == [("WhenPanel", "CE")]
        await pilot.press("tab")
        assert shown(screen) == [("MatrixPanel", "CE")]
        await pilot.press("right_square_bracket")
        assert shown(screen) == [("MatrixPanel", "MSE")]
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert shown(screen) == [("MatrixPanel", "RLL")]
        await pilot.press("5")
        assert shown(screen) == [("GalleryPanel", "RLL")]
        await pilot.press("shift+tab")
        assert shown(screen) == [("ScoreboardPanel", "RLL")]
        await pilot.press("escape")
        assert app.screen is app.run_screen


async def test_200x60_shows_three_losses_by_three_panels(ledger_dir):
    app = app_on(ledger_dir)
    async with app.run_test(size=(200, 60)) as pilot:
        screen = await open_samples(pilot)
        assert screen.shape == (3, 3)
        kinds = [type(p).__name__ for p in screen.query(SamplesPanel)]
        assert kinds == ["WhenPanel"] * 3 + ["MatrixPanel"] * 3 + ["DataMapPanel"] * 3
        assert [p.label for p in screen.query(SamplesPanel)][:3] == list(LOSSES)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert screen.shape == (1, 1) and len(screen.query(SamplesPanel)) == 1


async def test_a_run_without_a_ledger_says_so_and_shows_it_once_written(tmp_path):
    app = app_on(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_samples(pilot, ledger=False)
        message = str(screen.query_one("#samples-message").render())
        assert "no sample ledger" in message and not screen.query(SamplesPanel)
        # written as a run would, from another thread (the view's budget is its own thread's)
        await asyncio.to_thread(write_fixture, tmp_path, 4)
        await wait_for(lambda: screen.ledger is not None, pilot)
        assert screen.ledger is not None and screen.ledger.epoch == 4
        assert shown(screen) == [("WhenPanel", "CE")]


async def test_a_rewritten_ledger_is_read_again_and_redrawn(tmp_path, monkeypatch):
    import memtui.tui.samples_screen as samples_screen

    # how long the CPU budget may defer a redraw depends on the machine's speed: not this test's
    monkeypatch.setattr(samples_screen, "MAX_REDRAW_WAIT_S", 0.0)
    write_fixture(tmp_path, epochs=5)
    app = app_on(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_samples(pilot, ledger=False)
        assert screen.ledger is not None and screen.ledger.epoch == 5
        panel = screen.query_one(WhenPanel)
        await asyncio.to_thread(write_fixture, tmp_path, 9)
        os.utime(tmp_path / "ledger.npz", ns=(1, 1))  # a new stamp whatever the clock's grain
        await wait_for(lambda: screen.ledger.epoch == 9, pilot)
        assert screen.ledger.epoch == 9
        assert screen.query_one(WhenPanel) is panel and panel.ledger.epoch == 9
        assert "epoch 9" in str(panel.render())


async def test_the_gallery_shows_the_first_memorised_real_images_with_true_and_given(ledger_dir):
    app = app_on(ledger_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_samples(pilot, "5")
        gallery = screen.query_one(GalleryPanel)
        text = gallery.render()
        ledger = screen.ledger
        first = int(ledger.memorized_order("CE")[0])
        caption = f"{ledger.class_names[ledger.true[first]]} → {ledger.class_names[ledger.given[first]]}"
        assert caption in text.plain
        assert "▀" in text.plain
        # the first pixel pair of the first image, as foreground over background
        image = ledger.thumbnails.image(first)[0]
        style = text.get_style_at_offset(app.console, 0)
        assert style.color.triplet == (int(image[0, 0]),) * 3
        assert style.bgcolor.triplet == (int(image[1, 0]),) * 3


SIZES = [(80, 24), (200, 60)]


@pytest.mark.parametrize("panel", range(len(PANELS)), ids=[p.TITLE for p in PANELS])
def test_panel_at_80x24(snap_compare, ledger_dir, panel):
    async def show(pilot) -> None:
        await open_samples(pilot, str(panel + 1))

    assert snap_compare(app_on(ledger_dir), terminal_size=(80, 24), run_before=show)


@pytest.mark.parametrize("first", [1, 4], ids=["when-what-map", "scores-gallery-when"])
def test_panels_at_200x60(snap_compare, ledger_dir, first):
    async def show(pilot) -> None:
        await open_samples(pilot, str(first))

    assert snap_compare(app_on(ledger_dir), terminal_size=(200, 60), run_before=show)


@pytest.mark.parametrize("panel", [3, 5], ids=["data-map", "gallery"])
def test_no_color_uses_markers_and_shades(snap_compare, ledger_dir, monkeypatch, panel):
    monkeypatch.setenv("NO_COLOR", "1")

    async def show(pilot) -> None:
        await open_samples(pilot, str(panel))

    app = app_on(ledger_dir)
    assert app.no_color
    assert snap_compare(app, terminal_size=(80, 24), run_before=show)


FAKE_SSH = """#!/bin/sh
# ssh [-o opt]... host command: runs the command here
while [ "$1" = "-o" ]; do shift 2; done
shift
exec sh -c "$*"
"""


async def test_a_remote_runs_ledger_is_mirrored_and_shown(tmp_path, monkeypatch):
    import stat

    from multi_helpers import run_events, write_run

    import memtui.tui.remote as remote
    from memtui.runlog.ledger import read_ledger
    from memtui.tui.remote import RemoteRunSource

    monkeypatch.setattr(remote, "SNAPSHOT_POLL_S", 0.0)  # every sync looks at the ledger
    ssh = tmp_path / "ssh"
    ssh.write_text(FAKE_SSH)
    ssh.chmod(ssh.stat().st_mode | stat.S_IEXEC)
    run = write_run(tmp_path / "far" / "run", run_events(0, epochs=3, finished=False))
    write_fixture(run, epochs=4)
    source = RemoteRunSource("me@lab", str(run), ssh=str(ssh), mirror=tmp_path / "mirror")
    source.sync()
    assert (source.mirror / "ledger.npz").read_bytes() == (run / "ledger.npz").read_bytes()
    assert (source.mirror / "thumbnails.npz").is_file()
    write_fixture(run, epochs=6)  # the run rewrites its ledger
    os.utime(run / "ledger.npz", ns=(1, 1))  # a new stamp whatever the clock's grain
    source.sync()
    assert read_ledger(source.mirror).epoch == 6
    app = MemtuiApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: bool(app.state.run_dir), pilot)
        screen = await open_samples(pilot)
        assert screen.ledger is not None and screen.ledger.epoch == 6
        assert shown(screen) == [("WhenPanel", "CE")]
