"""The run's header: what it trains and where, epoch k/N with the progress bar, its pace and
status."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from memtui.metrics import format_value
from memtui.runstate import RunState, describe_parts, format_duration
from memtui.tui.widgets.header.epoch_bar import EpochBar
from memtui.tui.widgets.header.resource_line import ResourceLine


class RunHeader(Vertical):
    """Preset, data, corruption, model and device; epoch k/N with a progress bar, elapsed, ETA,
    images/s and the run's status."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str, str] = {}
        self._widths: dict[str, int] = {}

    def _put(self, selector: str, content: str | Text) -> None:
        """Update a line only when its text changed: the header is refreshed every tick."""
        key = content.markup if isinstance(content, Text) else content
        old = self._shown.get(selector)
        if old != key:
            self._shown[selector] = key
            # a new layout only when the width changes: the clock ticks every second
            plain = content.plain if isinstance(content, Text) else content
            self.query_one(selector, Static).update(
                content, layout=old is None or len(plain) != self._widths.get(selector))
            self._widths[selector] = len(plain)

    def compose(self) -> ComposeResult:
        yield Static(id="run-info")
        with Horizontal(id="run-progress"):
            yield Static(id="epoch-label")
            yield EpochBar(id="progress")
            yield Static(id="run-stats")
            yield Static(id="run-status")
        yield ResourceLine(id="run-resources")

    def show(self, state: RunState, *, paused: bool, stopping: bool, watching: bool) -> None:
        info = Text(no_wrap=False, overflow="ellipsis")
        parts = describe_parts(state)
        if parts:
            name, *rest = parts
            info.append(name, style="bold")
            for part in rest:
                info.append(" · ", style="dim")
                info.append(part)
        else:
            info.append("waiting for the run to start…", style="dim")
        if state.run_dir:
            info.append(" · ", style="dim")
            info.append(state.run_dir, style="dim")
        self._put("#run-info", info)

        total = max(1, state.epochs_total)
        current = min(total, state.epochs_done + (0 if state.finished else 1))
        self._put("#epoch-label", f"epoch {current}/{state.epochs_total or '?'} ")
        # in steps of half a percent: finer moves are invisible but would each cost a frame
        self.query_one("#progress", EpochBar).fraction = round(state.fraction_done * 200) / 200
        stats = f" {format_duration(state.elapsed())}  ETA {format_duration(state.eta())}  "
        speed = format_value("images_per_s", state.images_per_s)
        self._put("#run-stats", f"{stats}{speed} img/s ")

        status = self.query_one("#run-status", Static)
        if stopping and not state.finished:
            label = "STOPPING"
        elif paused and not state.finished:
            label = "PAUSED"
        elif watching and not state.finished and state.health in ("stale", "gone"):
            label = state.health_text.upper()  # NOT UPDATED FOR 45 S, PROCESS GONE (PID 123)
        elif watching and not state.finished and state.status != "waiting":
            label = "FOLLOWING"
        else:
            label = state.status.upper()
        self._put("#run-status", f" {label} ")
        for name in ("running", "paused", "completed", "stopped", "failed", "following",
                     "stopping", "waiting"):
            status.set_class(name == label.lower(), f"-{name}")
