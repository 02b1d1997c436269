"""The run's progress bar."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget


class EpochBar(Widget):
    """The run's progress as a line of "━", drawn as Textual's ProgressBar draws it. Not that
    widget itself: it updates its ETA on a timer of its own, once a second even when hidden, and
    so made the screen draw twice a second instead of once (docs/benchmarks.md)."""

    DEFAULT_CSS = "EpochBar { height: 1; width: 1fr; }"

    fraction: reactive[float] = reactive(0.0)

    def render(self) -> Content:
        width = self.size.width
        end = round(width * min(1.0, max(0.0, self.fraction)) * 2) / 2  # to half a cell
        whole, half = int(end), end % 1 > 0
        if end == 0:
            done, left = "", "━" * width
        else:
            done = "━" * whole + ("╸" if half else "")
            left = ("╺" if not half and end != width else "") + "━" * (width - whole - 1)
        colour = "$success" if self.fraction >= 1 else "$primary"
        return Content.assemble((done, colour), (left, "$surface"))
