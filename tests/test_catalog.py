"""`memtui ls`: one line per run and sweep, with the status a user needs to find a run again.

Built on tests/helpers.write_fake_catalog: a completed, a stopped, a failed, a running and a
dead-process run under runs/, and a two-cell sweep under sweeps/.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from sweep_helpers import call_main

from memtui import __version__, catalog
from memtui.runlog import read_run

from helpers import write_fake_catalog, write_fake_run


@pytest.fixture
def project(tmp_path):
    paths = write_fake_catalog(tmp_path)
    # a clear order by age: a-completed oldest, the sweep newest
    for age, name in enumerate(["f-sweep", "e-gone", "d-running", "c-failed", "b-stopped",
                                "a-completed"]):
        stamp = time.time() - 60 * (age + 1)
        folder = paths["sweep"] if name == "f-sweep" else tmp_path / "runs" / name
        for file in folder.rglob("*"):
            os.utime(file, (stamp, stamp))
    return tmp_path, paths


def test_every_status_is_told_apart(project):
    root, paths = project
    status = {e.name: e.status for e in catalog.find([root])}
    assert status == {"a-completed": "completed", "b-stopped": "stopped", "c-failed": "failed",
                      "d-running": "running", "e-gone": "process gone", "f-sweep": "completed"}


def test_entries_are_newest_first_with_preset_data_noise_epochs_and_best_accuracy(project):
    root, _ = project
    entries = catalog.find([root])
    assert [e.name for e in entries] == ["f-sweep", "e-gone", "d-running", "c-failed",
                                         "b-stopped", "a-completed"]
    completed = entries[-1]
    assert (completed.preset, completed.dataset, completed.noise) == ("tiny", "demo", "random 40%")
    assert (completed.epochs_done, completed.epochs) == (4, 4)
    assert completed.best_test_acc == pytest.approx({"CE": 0.8, "MSE": 0.7})
    stopped = entries[-2]
    assert (stopped.epochs_done, stopped.epochs) == (2, 4)


def test_a_sweep_is_one_line_over_its_cells(project):
    root, _ = project
    sweep = catalog.find([root])[0]
    assert sweep.kind == "sweep" and sweep.noise == "random 20%-60%"
    assert (sweep.epochs_done, sweep.epochs) == (8, 8) and sweep.note == "(2/2 cells)"
    assert sweep.best_test_acc == pytest.approx({"CE": 0.8, "MSE": 0.7})  # the best cell's


def test_default_roots_are_runs_and_sweeps_of_the_working_directory(project, monkeypatch):
    root, _ = project
    monkeypatch.chdir(root)
    assert len(catalog.find()) == 6
    assert catalog.find()[0].path == catalog.DEFAULT_ROOTS[1] / "f-sweep"  # as found, relative


def test_a_damaged_run_is_listed_as_unreadable_with_the_reason(tmp_path):
    write_fake_run(tmp_path / "good")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    entries = {e.name: e for e in catalog.find([tmp_path])}
    assert entries["good"].status == "completed"
    assert entries["bad"].status == "unreadable" and "not valid JSON" in entries["bad"].note


def test_ls_prints_a_header_and_one_unwrapped_line_per_entry(project, monkeypatch, capsys):
    root, _ = project
    assert call_main(monkeypatch, "ls", str(root)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["status", "name", "preset"]
    assert len(lines) == 7
    running = next(line for line in lines if "d-running" in line)
    assert running.startswith("running") and "3/4" in running and "CE 50.0%" in running
    assert next(line for line in lines if "e-gone" in line).startswith("process gone")
    assert "f-sweep/" in lines[1] and "(2/2 cells)" in lines[1]


def test_ls_json_is_for_scripts(project, monkeypatch, capsys):
    root, _ = project
    assert call_main(monkeypatch, "ls", str(root), "--json") == 0
    document = json.loads(capsys.readouterr().out)
    by_name = {item["name"]: item for item in document}
    assert by_name["c-failed"]["status"] == "failed"
    assert by_name["a-completed"]["best_test_acc"] == pytest.approx({"CE": 0.8, "MSE": 0.7})
    assert by_name["a-completed"]["epochs_done"] == 4 and by_name["f-sweep"]["kind"] == "sweep"
    assert 5 * 60 - 1 < by_name["b-stopped"]["age_s"] < 6 * 60


def test_ls_of_an_empty_folder_says_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert call_main(monkeypatch, "ls") == 0
    assert "no runs or sweeps under ./runs or ./sweeps" in capsys.readouterr().err


def test_version_is_printed_and_written_into_every_runs_config(tmp_path, monkeypatch, capsys):
    assert call_main(monkeypatch, "--version") == 0
    assert capsys.readouterr().out.strip() == f"memtui {__version__}"
    run = write_fake_run(tmp_path / "run")
    assert read_run(run).meta["memtui_version"] == __version__


def test_format_age_uses_one_unit():
    assert [catalog.format_age(s) for s in (5, 125, 7300, 200000)] == ["5 s", "2 min", "2 h",
                                                                       "2 d"]


def test_a_resumed_run_keeps_who_started_it_and_records_who_resumed_it(tmp_path, monkeypatch):
    from memtui.runlog import RunLogWriter, writer

    run = write_fake_run(tmp_path / "run", done=2, end="stopped")
    meta = read_run(run).meta
    monkeypatch.setattr(writer, "__version__", "9.9.9")  # a later memtui resumes it
    resumed = RunLogWriter(run, resume_after=2)
    started = read_run(run).replay()[0]
    resumed.handle(started.__class__(**{**started.__dict__, "first_epoch": 3}))
    after = read_run(run).meta
    assert after["memtui_version"] == meta["memtui_version"] == __version__
    assert after["resumed"][-1]["memtui_version"] == "9.9.9"
