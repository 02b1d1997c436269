"""`memtui watch` without an argument when ./runs and ./sweeps hold several runs: the list of
`memtui ls` to pick from. The app ends with the chosen directories, which the launcher opens as
`memtui watch A B` would (memtui.tui.launch)."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from memtui.catalog import Entry
from memtui.tui.widgets.picker.run_list import RunList


class PickerApp(App[list[Path]]):
    """The runs and sweeps to choose from; ends with the paths to open (none on q)."""

    TITLE = "memtui watch"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #picker-title { height: 1; padding: 0 1; background: $panel; }
    RunList { height: 1fr; }
    """
    BINDINGS = [
        Binding("q", "quit_picker", "quit"),
        Binding("escape", "quit_picker", "quit", show=False),
    ]

    def __init__(self, entries: list[Entry], now: float | None = None) -> None:
        super().__init__()
        self.entries = entries
        self.now = now

    def compose(self) -> ComposeResult:
        yield Static(f"[b]{len(self.entries)} runs and sweeps[/b], newest first: [b]enter[/b] "
                     "opens, [b]space[/b] marks several to compare side by side",
                     id="picker-title")
        yield RunList(self.entries, self.now)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RunList).focus()

    def on_run_list_chosen(self, message: RunList.Chosen) -> None:
        sweeps = [e for e in message.entries if e.kind == "sweep"]
        if sweeps and len(message.entries) > 1:
            self.notify(f"{sweeps[0].name} is a sweep: it opens on its own board; mark runs "
                        "only to compare them", severity="warning")
            return
        self.exit([e.path for e in message.entries])

    def action_quit_picker(self) -> None:
        self.exit([])
