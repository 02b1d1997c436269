"""`memtui watch SWEEP_DIR`: the board of the cells, Enter / Esc, following a sweep that grows.
The sweep is real: two cells of the demo preset trained in this process once per module."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sweep_helpers import call_main, grid_text, sweep_in_process
from textual.widgets import DataTable

from memtui.errors import RunDirError
from memtui.runlog import read_run
from memtui.tui.sweep_board import CellScreen, SweepApp, SweepBoard

from tui_helpers import EAGER, wait_for

SIZE = (140, 30)
CELLS = ["noise-0.2_seed-0", "noise-0.6_seed-0"]


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory) -> Path:
    monkeypatch = pytest.MonkeyPatch()
    try:
        tmp = tmp_path_factory.mktemp("sweep")
        yield sweep_in_process(tmp, monkeypatch, grid_text(
            axes='"corruption.noise" = [0.2, 0.6]\nseed = [0]'))
    finally:
        monkeypatch.undo()


def row_of(app: SweepApp, cell: str) -> list[str]:
    table = app.board.query_one(DataTable)
    return [str(getattr(value, "plain", value)) for value in table.get_row(cell)]


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def test_the_fixture_is_a_finished_sweep(finished_sweep):
    manifest = json.loads((finished_sweep / "manifest.json").read_text())
    assert [c["name"] for c in manifest["cells"]] == CELLS
    assert all(c["status"] == "completed" for c in manifest["cells"])


async def test_the_board_shows_a_row_per_cell_with_its_latest_values(finished_sweep):
    app = SweepApp(finished_sweep, poll_s=0.05, **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.board.query_one(DataTable)
        assert table.row_count == 2
        labels = read_run(finished_sweep / "cells" / CELLS[0]).loss_labels
        headings = [str(column.label).replace("\n", " ").strip() for column in table.columns.values()]
        assert headings[:4] == ["noise", "seed", "status", "epoch"]
        assert headings[4:6] == [f"{labels[0]} mem", "test"]
        for cell, noise in zip(CELLS, ("0.2", "0.6")):
            state = read_run(finished_sweep / "cells" / cell).state()
            expected = [noise, "0", "completed", "2/2"]
            for label in labels:
                latest = state.losses[label].latest
                expected += [percent(latest["memorized"]), percent(latest["test_acc"])]
            assert row_of(app, cell) == expected


async def test_enter_opens_a_cells_panes_and_escape_goes_back(finished_sweep):
    app = SweepApp(finished_sweep, poll_s=0.05, **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter")  # the second cell
        await wait_for(lambda: app.state.finished, pilot)
        assert isinstance(app.screen, CellScreen)
        assert Path(app.state.run_dir) == finished_sweep / "cells" / CELLS[1]
        assert app.state.epochs_done == 2 and app.state.config["corruption"]["noise"] == 0.6
        assert len(app.screen.panes) == len(app.state.losses)
        first = app.source

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SweepBoard) and app.source is None
        assert first is not None and first._stop.is_set()  # its thread stops

        await pilot.press("up", "enter")  # the first cell: a fresh view of its own run
        await wait_for(lambda: app.state.finished, pilot)
        assert Path(app.state.run_dir) == finished_sweep / "cells" / CELLS[0]
        assert app.state.config["corruption"]["noise"] == 0.2
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SweepBoard)


def grow_from(finished: Path, target: Path) -> dict[str, list[str]]:
    """A copy of the sweep as it looked while its first cell had just started and the second
    was pending; per cell, the metrics lines still to write."""
    shutil.copytree(finished, target)
    manifest = json.loads((target / "manifest.json").read_text())
    for cell, status in zip(manifest["cells"], ("running", "pending")):
        cell.update(status=status, attempts=int(status == "running"), epochs_completed=0)
    (target / "manifest.json").write_text(json.dumps(manifest))
    lines = {}
    for name in CELLS:
        cell_dir = target / "cells" / name
        lines[name] = (cell_dir / "metrics.jsonl").read_text().splitlines(keepends=True)
        (cell_dir / "metrics.jsonl").write_text("")
        (cell_dir / "summary.json").unlink()
    (target / "cells" / CELLS[1] / "config.json").unlink()
    return lines


def set_status(sweep: Path, cell: str, status: str) -> None:
    path = sweep / "manifest.json"
    manifest = json.loads(path.read_text())
    next(c for c in manifest["cells"] if c["name"] == cell)["status"] = status
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest))
    tmp.replace(path)  # as the sweep writes it: atomically


async def test_the_board_follows_a_sweep_while_it_runs(finished_sweep, tmp_path):
    sweep = tmp_path / "sweep"
    lines = grow_from(finished_sweep, sweep)
    first, second = CELLS
    losses = len(read_run(sweep / "cells" / first).loss_labels)
    per_epoch = losses + 1  # each loss's metrics and the epoch's end
    app = SweepApp(sweep, poll_s=0.05, **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert row_of(app, first)[2:4] == ["running", "0/2"]
        assert row_of(app, first)[4:] == ["—"] * 2 * losses
        assert row_of(app, second)[2:4] == ["pending", "—/2"]

        await pilot.press("down", "enter")  # a pending cell has nothing to open yet
        await pilot.pause()
        assert isinstance(app.screen, SweepBoard)

        with (sweep / "cells" / first / "metrics.jsonl").open("a") as fh:
            fh.write("".join(lines[first][:per_epoch]))
        await wait_for(lambda: row_of(app, first)[3] == "1/2", pilot)
        assert row_of(app, first)[4] != "—" or row_of(app, first)[5] != "—"

        # the second cell starts: its config appears, the manifest says so
        shutil.copy(finished_sweep / "cells" / second / "config.json", sweep / "cells" / second)
        set_status(sweep, second, "running")
        await wait_for(lambda: row_of(app, second)[2:4] == ["running", "0/2"], pilot)

        # open the running cell: its panes follow it too, and the board keeps following
        await pilot.press("up", "enter")
        await wait_for(lambda: isinstance(app.screen, CellScreen) and app.state.epochs_done == 1,
                       pilot)
        with (sweep / "cells" / first / "metrics.jsonl").open("a") as fh:
            fh.write("".join(lines[first][per_epoch:]))
        shutil.copy(finished_sweep / "cells" / first / "summary.json", sweep / "cells" / first)
        set_status(sweep, first, "completed")
        await wait_for(lambda: app.state.finished, pilot)
        assert app.state.status == "completed" and app.state.epochs_done == 2
        await pilot.press("escape")
        await wait_for(lambda: row_of(app, first)[2:4] == ["completed", "2/2"], pilot)
        state = read_run(finished_sweep / "cells" / first).state()
        label = next(iter(state.losses))
        assert row_of(app, first)[4:6] == [percent(state.losses[label].latest["memorized"]),
                                           percent(state.losses[label].latest["test_acc"])]


def test_watch_opens_the_board_on_a_sweep_directory(finished_sweep, monkeypatch):
    import memtui.tui.app
    import memtui.tui.sweep_board

    opened = []
    monkeypatch.setattr(memtui.tui.sweep_board, "run_sweep_board",
                        lambda path: opened.append(path) or 0)
    monkeypatch.setattr(memtui.tui.app.MemtuiApp, "run", lambda self: pytest.fail("run view"))
    assert call_main(monkeypatch, "watch", str(finished_sweep)) == 0
    assert opened == [finished_sweep]


def test_a_bad_manifest_is_one_line_before_anything_is_drawn(tmp_path, monkeypatch, capsys):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(RunDirError, match="not valid JSON"):
        SweepApp(tmp_path)
    assert call_main(monkeypatch, "watch", str(tmp_path)) != 0
    assert "manifest.json is not valid JSON" in capsys.readouterr().err
