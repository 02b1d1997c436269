"""`memtui watch SWEEP_DIR`: the board of the cells, Enter / Esc, following a sweep that grows.
The sweep is real: two cells of the demo preset trained in this process once per module."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sweep_helpers import (
    assert_every_cell_complete,
    assert_stopped_in_its_first_cell,
    call_main,
    grid_text,
    sweep_in_process,
)
from textual.widgets import DataTable

from memtui.errors import RunDirError
from memtui.runlog import read_run
from memtui.tui.sweep_app import CellScreen, SweepApp
from memtui.tui.sweep_board import SweepBoard

from tui_helpers import EAGER, text_of, wait_for

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
        await pilot.press("s")  # from a cell: into its run directory
        await wait_for(lambda: any((finished_sweep / "cells" / CELLS[0]).glob("*.svg")), pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SweepBoard)
        await pilot.press("s")  # from the board: into the sweep directory
        await wait_for(lambda: any(finished_sweep.glob("*.svg")), pilot)
    for shot in [*finished_sweep.glob("*.svg"), *(finished_sweep / "cells").glob("*/*.svg")]:
        shot.unlink()  # the fixture is shared


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
    # an epoch's lines: each loss's metrics (and ledger figures), the machine's, the epoch's end
    per_epoch = next(i for i, line in enumerate(lines[first]) if '"epoch_ended"' in line) + 1
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
        status_column = app.board.query_one(DataTable).columns["status"]
        assert status_column.content_width >= len("completed")  # grown, not cut to "complet"
        state = read_run(finished_sweep / "cells" / first).state()
        label = next(iter(state.losses))
        assert row_of(app, first)[4:6] == [percent(state.losses[label].latest["memorized"]),
                                           percent(state.losses[label].latest["test_acc"])]


def test_watch_opens_the_board_on_a_sweep_directory(finished_sweep, monkeypatch):
    import memtui.tui.app
    import memtui.tui.launch

    opened = []
    monkeypatch.setattr(memtui.tui.launch, "run_sweep_board",
                        lambda path: opened.append(path) or 0)
    monkeypatch.setattr(memtui.tui.app.MemtuiApp, "run", lambda self: pytest.fail("run view"))
    assert call_main(monkeypatch, "watch", str(finished_sweep)) == 0
    assert opened == [finished_sweep]


def test_sweep_on_a_terminal_opens_the_board_and_runs_the_sweep_behind_it(tmp_path, monkeypatch):
    import sys

    import memtui.tui.launch

    opened = []
    monkeypatch.setattr(memtui.tui.launch, "run_sweep_live",
                        lambda *args: opened.append(args) or 0)
    for stream in (sys.stdout, sys.stderr):
        monkeypatch.setattr(stream, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "xterm-256color")
    grid = tmp_path / "grid.toml"
    grid.write_text(grid_text(axes="seed = [0, 1]"))
    assert call_main(monkeypatch, "sweep", str(grid), "--out", str(tmp_path / "sw"),
                     "--parallel", "1") == 0
    assert opened == [(tmp_path / "sw", "local", 1)]  # laid out first: bad input never opens it
    assert (tmp_path / "sw" / "manifest.json").is_file()

    assert call_main(monkeypatch, "sweep", "--resume", str(tmp_path / "sw"), "--on",
                     "nowhere") == 2  # refused before anything is drawn
    assert len(opened) == 1

    import memtui.sweep.runner

    headless = []
    monkeypatch.setattr(memtui.sweep.runner, "execute_sweep",
                        lambda prepared, *args: headless.append(prepared.manifest.sweep_dir) or 0)
    assert call_main(monkeypatch, "sweep", str(grid), "--out", str(tmp_path / "a"), "--no-ui") == 0
    monkeypatch.setenv("TERM", "dumb")  # a terminal that cannot draw gets the lines
    assert call_main(monkeypatch, "sweep", str(grid), "--out", str(tmp_path / "b")) == 0
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)  # 2>log: lines into the log
    assert call_main(monkeypatch, "sweep", str(grid), "--out", str(tmp_path / "c")) == 0
    assert headless == [tmp_path / name for name in "abc"] and len(opened) == 1


def test_a_bad_manifest_is_one_line_before_anything_is_drawn(tmp_path, monkeypatch, capsys):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(RunDirError, match="not valid JSON"):
        SweepApp(tmp_path)
    assert call_main(monkeypatch, "watch", str(tmp_path)) != 0
    assert "manifest.json is not valid JSON" in capsys.readouterr().err


async def test_q_under_a_sweeps_board_stops_every_cell_and_resume_completes_them(tmp_path, capsys):
    """The sweep as `memtui sweep` starts it on a terminal: a real child process (the headless
    sweep) and real cells under the board. The first q reaches the sweep as one ctrl-c: every
    cell stops after its current batch, and the view leaves once the sweep has written down where
    each stopped. `--resume` then runs the cells left, two at a time, each an ordinary run
    directory, without repeating an epoch."""
    from memtui.sweep.background import BackgroundSweep
    from memtui.sweep.manifest import Manifest
    from memtui.sweep.runner import prepare_sweep, sweep_command
    from memtui.tui.sweep_process import SweepProcess

    grid = tmp_path / "grid.toml"
    grid.write_text(grid_text(epochs=20, subset=500, axes="seed = [0, 1]"))
    prepared = prepare_sweep(grid, tmp_path / "sweep")
    assert prepared is not None
    sweep_dir = prepared.manifest.sweep_dir
    child = BackgroundSweep(sweep_dir, parallel=1)
    app = SweepApp(sweep_dir, poll_s=0.05, sweep=SweepProcess(child), **EAGER)
    child.start()
    try:
        async with app.run_test(size=SIZE) as pilot:
            assert "running here · q stops every cell" in text_of(app.board.info)
            table = app.board.query_one(DataTable)

            def epochs_shown() -> int:
                done = str(table.get_cell("seed-0", "epoch")).split("/")[0]
                return int(done) if done.isdigit() else 0

            await wait_for(lambda: epochs_shown() >= 2, pilot, timeout=60)
            await pilot.press("q")
            assert "stopping: every running cell" in text_of(app.board.info)
            await wait_for(lambda: app.return_value is not None, pilot, timeout=60)
        assert child.wait(timeout=30) == 130 and child.stops_sent == 1
    finally:
        child.request_stop()
    log = child.log_path.read_text()
    assert "Traceback" not in log and "stopping" in log
    assert "1 stopped, 1 pending" in child.last_lines(1)[0]
    assert_stopped_in_its_first_cell(sweep_dir, epochs=20)

    capsys.readouterr()
    assert sweep_command(None, resume=sweep_dir, parallel=2) == 0  # headless, in this process
    err = capsys.readouterr().err
    assert "2 cells to run, 2 at a time" in err and "[2/2]" in err and "2 completed" in err
    assert_every_cell_complete(sweep_dir, epochs=20)
    cells = {cell["name"]: cell for cell in Manifest.load(sweep_dir).cells}
    assert [cells[name]["attempts"] for name in ("seed-0", "seed-1")] == [2, 1]
    assert read_run(sweep_dir / "cells" / "seed-0").meta["resumed"][0]["after_epoch"] >= 2
    assert "attempt 2: memtui run --resume" in (sweep_dir / "cells" / "seed-0" / "cell.log").read_text()
    assert sweep_command(None, resume=sweep_dir) == 0  # a finished sweep: nothing to do
    assert "every cell is complete" in capsys.readouterr().err




async def test_a_terminal_too_small_for_the_board_says_so_instead_of_fragments(finished_sweep):
    app = SweepApp(finished_sweep, poll_s=0.05, **EAGER)
    async with app.run_test(size=(20, 5)) as pilot:
        await pilot.pause(0.2)
        board = app.board
        assert board.too_small.display and not board.table.display and not board.info.display
        assert text_of(board.too_small).strip() == ("terminal too small (20x5): the board needs "
                                                    "at least 40x10")
        await pilot.resize_terminal(*SIZE)
        await pilot.pause(0.2)
        assert not board.too_small.display and board.table.display and board.info.display


async def test_e_in_a_cell_opens_its_samples_and_escape_goes_back_to_the_cell(finished_sweep,
                                                                              tmp_path):
    from memtui.tui.samples_screen import SamplesScreen

    from ledger_fixture import write_fixture

    sweep = tmp_path / "sweep"
    shutil.copytree(finished_sweep, sweep)
    write_fixture(sweep / "cells" / CELLS[0], epochs=3)
    app = SweepApp(sweep, poll_s=0.05, **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(lambda: app.state.finished, pilot)
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, SamplesScreen)
        await wait_for(lambda: screen.ledger is not None, pilot)
        assert screen.ledger.epoch == 3 and screen.run_dir == sweep / "cells" / CELLS[0]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CellScreen)
