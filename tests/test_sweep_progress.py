"""A sweep's overall progress: epochs of every cell to run, from what their runs have written,
drawn as a bar on a terminal and left out of logs."""

from __future__ import annotations

import io
import json

from rich.console import Console
from sweep_helpers import grid_text

from memtui.sweep.driver import Driver, LinesDisplay
from memtui.sweep.grid import load_grid
from memtui.sweep.progress import BarDisplay
from memtui.sweep.runner import create_sweep


class Recorded:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.updates: list[tuple[int, int, int, int, int]] = []
        self.closed = False

    def line(self, text: str) -> None:
        self.lines.append(text)

    def update(self, *counts: int) -> None:
        self.updates.append(counts)

    def close(self) -> None:
        self.closed = True


def a_sweep(tmp_path):
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text(grid_text(epochs=4))
    return create_sweep(load_grid(grid_file), grid_file.read_text(), tmp_path / "sweep")


def test_progress_counts_the_epochs_each_cells_run_has_written(tmp_path):
    manifest = a_sweep(tmp_path)
    names = [cell["name"] for cell in manifest.cells]  # 4 cells of 4 epochs
    manifest.update(names[0], status="completed", epochs_completed=4)
    for name, epochs_done in ((names[1], 3), (names[2], 1)):
        manifest.update(name, status="running")
        cell_dir = manifest.cell_dir(name)
        cell_dir.mkdir(parents=True, exist_ok=True)
        (cell_dir / "writer.json").write_text(json.dumps(
            {"host": "h", "pid": 1, "heartbeat": 1.0, "epochs_done": epochs_done}))
    display = Recorded()
    driver = Driver(manifest, names, retries=0, display=display)
    driver.tick(force=True)
    assert display.updates[-1] == (4 + 3 + 1, 16, 0, 4, 2)
    driver.tick()  # within a second of the last: not read again
    assert len(display.updates) == 1
    driver.close()
    assert display.closed and len(display.updates) == 2


def test_on_a_terminal_the_lines_scroll_above_a_bar_with_an_eta():
    screen = io.StringIO()
    display = BarDisplay(screen, Console(file=screen, force_terminal=True, width=120))
    display.update(3, 8, 1, 4, 2)
    display.line("[1/4] cell-a completed (4 epochs, 0:12)")
    display.update(5, 8, 2, 4, 2)
    display.close()
    text = screen.getvalue()
    assert "[1/4] cell-a completed" in text  # printed as is, not read as markup
    assert "5/8" in text and "2/4 cells, 2 running" in text and "ETA" in text


def test_in_a_log_only_the_lines_appear():
    out = io.StringIO()
    display = LinesDisplay(out)
    display.update(3, 8, 1, 4, 2)
    display.line("[1/4] cell-a completed")
    display.close()
    assert out.getvalue() == "[1/4] cell-a completed\n"
