"""The resource panel (`r`): one header line at 80x24, a panel with per-epoch history at larger
sizes; two GPUs, no NVML, and a CPU-only machine; live in this process and replayed by watch."""

from __future__ import annotations

import math

import pytest
from textual.widgets import Static

from memtui.events import EpochEnded, ResourceUsage
from memtui.tui.app import MemtuiApp
from memtui.tui.sources import LiveSource, RunDirSource

from fake_nvml import install_fake_nvml, install_missing_nvml
from tui_helpers import EAGER, FROZEN_NOW, drawn, fake_events, text_of, wait_for

NO_NVML = "NVML not available (NVML Shared Library Not Found): no GPU figures"
NO_GPU = "NVML sees no GPU: no GPU figures"


def usage(epoch: int, machine: str) -> ResourceUsage:
    """Figures shaped like a training run: GPU busy, memory climbing then flat, CPU busy."""
    wave = 0.5 + 0.5 * math.sin(epoch / 3)
    host = {"cpu_percent": (40 + 30 * wave, 95.0), "rss_bytes": (2.1e9 + 1e7 * epoch, 2.4e9)}
    if machine != "2 GPUs":
        note = {"no NVML": NO_NVML, "CPU only": NO_GPU}[machine] if epoch == 1 else ""
        return ResourceUsage(epoch, 12, host, (), note)
    gpus = {}
    for i, busy in enumerate((0.9, 0.3)):
        gpus |= {f"gpu{i}_util": (100 * busy * (0.8 + 0.2 * wave), 100 * busy),
                 f"gpu{i}_mem_used": (min(60e9, 5e9 * epoch) * busy, 62e9 * busy),
                 f"gpu{i}_mem_total": (80e9, 80e9),
                 f"gpu{i}_power": (700 * busy * (0.7 + 0.3 * wave), 700 * busy),
                 f"gpu{i}_power_cap": (700.0, 700.0),
                 f"gpu{i}_temp": (40 + 30 * busy, 45 + 30 * busy),
                 f"gpu{i}_sm_clock": (1980.0 * busy, 1980.0)}
    torch = {"torch_allocated": (12.3e9, 13.0e9), "torch_reserved": (14.0e9, 14.0e9)}
    return ResourceUsage(epoch, 12, {**host, **gpus, **torch}, ("NVIDIA H200",) * 2)


def events_with_resources(machine: str, epochs: int = 24) -> list:
    """The fake run's stream with each epoch's figures before its end, as the engine sends."""
    stream = []
    for event in fake_events(epochs):
        if isinstance(event, EpochEnded):
            stream.append(usage(event.epoch, machine))
        stream.append(event)
    return stream


def fed_app(machine: str):
    app = MemtuiApp(clock=lambda: FROZEN_NOW)

    async def feed(pilot) -> None:
        app.state.started_at = FROZEN_NOW - 75
        app.consume_all(events_with_resources(machine))
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()

    return app, feed


MACHINES = ["2 GPUs", "no NVML", "CPU only"]


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_panel_snapshot(snap_compare, machine, size):
    app, feed = fed_app(machine)
    assert snap_compare(app, terminal_size=size, run_before=feed)


@pytest.mark.parametrize("machine, says, absent", [
    ("2 GPUs", ["GPU0 90% 54.0G/80.0G 67°C", "GPU1 30% ", "CPU ", "RSS 2.3G", "torch 12.3G/14.0G",
                "epoch 24 mean"], ["NVML"]),
    ("no NVML", ["CPU ", "RSS 2.3G", "no GPU figures (NVML)"], ["GPU0", "torch"]),
    ("CPU only", ["CPU ", "RSS 2.3G", "no GPU figures (NVML)"], ["GPU0", "torch"]),
])
async def test_r_shows_one_header_line_in_a_small_terminal(machine, says, absent):
    app = MemtuiApp(clock=lambda: FROZEN_NOW, **EAGER)
    async with app.run_test(size=(80, 24)) as pilot:
        app.consume_all(events_with_resources(machine))
        line = app.query_one("#run-resources", Static)
        assert not line.display and not app.query_one("#resources").display  # off until `r`
        await pilot.press("r")
        await drawn(app, pilot)
        assert line.display and not app.query_one("#resources").display
        assert line.region.height == 1  # one line, whatever the machine
        text = text_of(line)
        assert all(s in text for s in says), text
        assert not any(s in text for s in absent), text
        await pilot.press("r")
        await pilot.pause()
        assert not line.display


async def test_r_shows_the_panel_with_history_in_a_large_terminal():
    app = MemtuiApp(clock=lambda: FROZEN_NOW, **EAGER)
    async with app.run_test(size=(160, 48)) as pilot:
        app.consume_all(events_with_resources("2 GPUs"))
        await pilot.press("r")
        await drawn(app, pilot)
        panel = app.query_one("#resources", Static)
        assert panel.display and not app.query_one("#run-resources").display
        text = text_of(panel)
        assert "epochs 13-24" in text  # the newest twelve epochs
        rows = {line.split()[0] for line in text.splitlines() if line.strip()}
        assert {"GPU0", "GPU1", "host", "torch"} <= rows
        assert any(c in text for c in "▁▂▃▄▅▆▇█")


async def test_without_nvml_the_panel_says_so_once(tmp_path):
    app = MemtuiApp(clock=lambda: FROZEN_NOW, **EAGER)
    async with app.run_test(size=(160, 48)) as pilot:
        app.consume_all(events_with_resources("no NVML"))
        await pilot.press("r")
        await drawn(app, pilot)
        text = text_of(app.query_one("#resources", Static))
        assert text.count("NVML not available") == 1 and "GPU0" not in text
        assert not app._notifications  # said in the panel, not as a toast per epoch


async def test_watch_replays_the_figures_of_a_finished_run(small_config, monkeypatch):
    install_fake_nvml(monkeypatch)
    from memtui.session import start_run

    start_run(small_config).execute()
    app = MemtuiApp(RunDirSource(small_config.out), **EAGER)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.state.finished, pilot)
        await pilot.press("r")
        await drawn(app, pilot)
        assert [u.epoch for u in app.state.resources] == [1, 2, 3]
        text = text_of(app.query_one("#resources", Static))
        assert "epoch 3 mean" in text and "GPU1 NVIDIA H200" in text and "87%" in text


async def test_a_live_run_shows_the_monitors_newest_sample(make_run, monkeypatch):
    install_missing_nvml(monkeypatch)
    run = make_run(epochs=2)
    source = LiveSource(run)
    app = MemtuiApp(source, **EAGER)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.state.finished, pilot)
        # the monitor's thread sampled while the run trained, or the epoch's end did
        run.resources.take()
        await pilot.press("r")
        await drawn(app, pilot)
        assert app.resource_sample is not None
        assert "(now)" in text_of(app.query_one("#run-resources", Static))
