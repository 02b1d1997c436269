"""The machine in one line of the header (`r` at small sizes)."""

from __future__ import annotations

from textual.widgets import Static

from memtui.runstate import RunState
from memtui.tui.widgets.resources.resource_panel import header_line


class ResourceLine(Static):
    """Hidden until `r`; the run screen shows it when the terminal is too small for the panel."""

    def show_figures(self, state: RunState, live: dict[str, float] | None) -> None:
        text = header_line(state, live)
        if text.markup != getattr(self, "_shown", None):  # the view ticks every second
            self._shown = text.markup
            self.update(text)
