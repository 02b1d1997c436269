"""Helpers of the TUI tests: a deterministic fake event stream, a gate that holds the training
thread between epochs, and ways to wait on and read the app."""

from __future__ import annotations

import asyncio
import io
import math
import threading
from collections.abc import Callable

from rich.console import Console

from memtui.events import (
    EpochEnded,
    EpochMetrics,
    EpochProgress,
    Event,
    LossDiverged,
    LossInfo,
    RunStarted,
)

FROZEN_NOW = 1_000_000.0  # the snapshot apps' clock: elapsed and ETA never move
FAKE_CONFIG = {
    "name": "demo",
    "data": {"dataset": "demo", "data_dir": None, "subset": None, "test_subset": None},
    "corruption": {"labels": "random", "noise": 0.4, "inputs": "none"},
    "model": {"arch": "mlp", "width": 512, "depth": 1, "batchnorm": True},
    "epochs": 60,
}
FAKE_LOSSES = (
    LossInfo("CE", "ce", {}, False),
    LossInfo("MSE", "mse", {}, False),
    LossInfo("RLL", "rll", {"alpha": 0.1}, True),
)
#: per epoch, how fast each loss memorises the corrupted labels: CE and MSE do, RLL barely
MEMORISE_RATE = {"CE": 0.08, "MSE": 0.04, "RLL": 0.004}


def fake_values(label: str, epoch: int) -> dict[str, float | None]:
    memorized = 0.1 + 0.88 * (1 - math.exp(-MEMORISE_RATE[label] * epoch))
    clean = 0.6 + 0.38 * (1 - math.exp(-0.3 * epoch))
    return {
        "train_acc": 0.6 * clean + 0.4 * memorized,
        "memorized": memorized,
        "recovered": max(0.0, 0.5 - memorized / 2),
        "clean_acc": clean,
        "test_acc": 0.8 - 0.3 * (memorized - 0.1) + 0.02 * math.sin(epoch),
        "test_loss": 0.5 + 1.5 * (memorized - 0.1),
        "train_loss": 1.8 * math.exp(-0.05 * epoch) + 0.1,
        "lr": 0.1,
        "seconds": 0.5,
        "eval_seconds": 0.1,
        "images_per_s": 12_345.0,
    }


def fake_events(epochs: int = 24, diverge: str | None = None) -> list[Event]:
    """A three-loss run shaped like the demo preset's curves, ``epochs`` epochs into 60, half
    way through the next; ``diverge`` names a loss that diverges in epoch 5."""
    stream: list[Event] = [RunStarted("", FAKE_CONFIG, FAKE_LOSSES, "cpu", 2000, 1000, 800)]
    active = [info.label for info in FAKE_LOSSES]
    for epoch in range(1, epochs + 1):
        for label in list(active):
            if label == diverge and epoch == 5:
                stream.append(LossDiverged(epoch, label, "training loss became nan"))
                active.remove(label)
            else:
                stream.append(EpochMetrics(epoch, label, fake_values(label, epoch)))
        stream.append(EpochEnded(epoch, FAKE_CONFIG["epochs"], 0.5))
    stream.append(EpochProgress(epochs + 1, 8, 16))
    return stream


def text_of(static) -> str:
    """The plain text a Static shows (a Rich renderable or a string), or a ValuesTable."""
    if hasattr(static, "plain"):
        return static.plain
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(static.content)
    return console.export_text()


async def wait_for(condition: Callable[[], bool], pilot, timeout: float = 30.0) -> None:
    """Let the app run until ``condition`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


class Gate:
    """A sink that holds the training thread at the end of each epoch until the test opens it,
    so a test sees the app between epochs without racing the engine."""
    critical = False

    def __init__(self) -> None:
        self.open = threading.Event()

    def handle(self, event: Event) -> None:
        if isinstance(event, EpochEnded):
            self.open.wait(timeout=30)
            self.open.clear()

    def release(self) -> None:
        self.open.set()


#: App settings that redraw the charts at every tick, so tests need not wait out the throttle
#: that keeps drawing under a few percent of a core in real use.
EAGER = {"chart_interval": 0.0, "view_budget": 1.0, "refresh_hz": 4}


async def drawn(app, pilot) -> None:
    """Wait until the app has drawn every change it has taken in, header included."""
    await wait_for(lambda: not app.pending_redraw, pilot)
    await pilot.pause(2 * app.refresh_interval)
