"""`memtui watch` alone with several runs and sweeps: `memtui ls`'s list to pick from. Enter
opens the run under the cursor; space marks several, which open side by side."""

from __future__ import annotations

from pathlib import Path

import pytest

from memtui import catalog
from memtui.tui import launch
from memtui.tui.picker_app import PickerApp
from memtui.tui.widgets.picker.run_list import RunList

from helpers import write_fake_catalog

SIZE = (140, 30)


@pytest.fixture
def entries(tmp_path) -> list[catalog.Entry]:
    write_fake_catalog(tmp_path)
    return sorted(catalog.find([tmp_path]), key=lambda e: e.name)  # a-completed first


async def test_the_picker_lists_every_run_and_sweep_with_its_status(entries):
    app = PickerApp(entries)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(RunList)
        assert table.row_count == 6
        rows = [table.get_row_at(i) for i in range(6)]
        assert [row[1] for row in rows] == ["completed", "stopped", "failed", "running",
                                            "process gone", "completed"]
        assert rows[5][2] == "f-sweep/"
        await pilot.press("q")
    assert app.return_value == []


async def test_enter_opens_the_run_under_the_cursor(entries):
    app = PickerApp(entries)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down", "enter")
    assert app.return_value == [entries[2].path]


async def test_space_marks_several_and_enter_opens_them_side_by_side(entries):
    app = PickerApp(entries)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "down", "space", "enter")  # a-completed, c-failed
        await pilot.pause()
    assert app.return_value == [entries[0].path, entries[2].path]


async def test_a_sweep_marked_with_runs_is_refused_with_a_reason(entries):
    app = PickerApp(entries)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", *["down"] * 4, "space", "enter")
        await pilot.pause()
        assert app.return_value is None, "the picker stays open"
        assert any("sweep" in str(n.message) for n in app._notifications)
        await pilot.press("space", "enter")  # unmark the sweep: the run alone opens
    assert app.return_value == [entries[0].path]


def test_watch_alone_opens_what_was_picked_as_watch_A_B_would(tmp_path, monkeypatch):
    write_fake_catalog(tmp_path)
    monkeypatch.chdir(tmp_path)
    opened: list[list[Path]] = []
    monkeypatch.setattr(launch, "check_terminal", lambda: None)
    monkeypatch.setattr(PickerApp, "run", lambda self: [e.path for e in self.entries[:2]])
    monkeypatch.setattr(launch, "run_watch", lambda paths: opened.append(paths) or 0)
    assert launch.run_watch_default() == 0
    assert opened == [[Path("sweeps/f-sweep"), Path("runs/e-gone")]]  # newest first


def test_watch_alone_with_one_run_opens_it_without_asking(tmp_path, monkeypatch):
    from helpers import write_fake_run

    write_fake_run(tmp_path / "runs" / "only")
    monkeypatch.chdir(tmp_path)
    opened: list[list[Path]] = []
    monkeypatch.setattr(PickerApp, "run", lambda self: pytest.fail("no picker for one run"))
    monkeypatch.setattr(launch, "run_watch", lambda paths: opened.append(paths) or 0)
    assert launch.run_watch_default() == 0
    assert opened == [[Path("runs/only")]]
