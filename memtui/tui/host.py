"""What a screen needs from the app that shows it, as protocols: the screens take their host in
their constructor and never import the app, so the app can import them (and its launchers it)
without a circle. MemtuiApp is a RunHost, SweepApp also a BoardHost; mypy checks both where the
app hands itself to a screen.

Textual's own side of the app (notify, copy_to_clipboard, theme_variables, call_from_thread,
no_color) stays ``self.app``: every App has it."""

from __future__ import annotations

from typing import Protocol

from memtui.compare import Comparison
from memtui.runstate import RunState


class RunHost(Protocol):
    """The runs a run screen or the leaderboard shows, and how they are followed."""

    @property
    def comparison(self) -> Comparison:
        """Every run on screen, one RunState each."""

    @property
    def state(self) -> RunState:
        """The run whose panes are shown."""

    @property
    def selected(self) -> int:
        """Its number in ``comparison.runs``."""

    @property
    def paused(self) -> bool: ...

    @property
    def stopping(self) -> bool: ...

    @property
    def watching(self) -> bool:
        """A run directory, not a run in this process."""

    @property
    def resource_sample(self) -> dict[str, float] | None:
        """The newest reading of the machine a run in this process trains on (memtui.resources);
        None when watching: the view shows the run log's per-epoch figures."""

    def select_run(self, run: int) -> None:
        """Show the panes of run number ``run``."""


class BoardHost(Protocol):
    """What the sweep board shows of the sweep's process, and what Enter does."""

    @property
    def sweep_line(self) -> str | None:
        """What the board says of the sweep process; None when it only watches."""

    @property
    def sweep_stopping(self) -> bool: ...

    def open_cell(self, name: str) -> None:
        """Follow the cell's run directory in a run view."""
