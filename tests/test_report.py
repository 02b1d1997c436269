"""`memtui report`: every format and the figure on a real (tiny) run directory, and the errors
a user can run into, each one line on stderr with exit code 2."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import statistics
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from memtui import cli
from memtui.config import apply_overrides, load_preset
from memtui.metrics import format_value
from memtui.report import report_runs
from memtui.runlog import read_run
from memtui.session import start_run

LABELS = ["CE", "MSE", "RLL"]  # the demo preset's losses; RLL is the symmetric one


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """A finished run of the demo preset, shrunk to train in seconds."""
    config = apply_overrides(load_preset("demo"), {
        "data.subset": 500, "data.test_subset": 300, "epochs": 2, "model.width": 32,
        "device": "cpu", "seed": 0})
    path = tmp_path_factory.mktemp("runs") / "demo-small"
    finished = start_run(config.model_copy(update={"out": path})).execute()
    assert finished.status == "completed"
    return path


def copy_run(source: Path, target: Path, shift: float = 0.0, **config) -> Path:
    """A copy of a run with other config values (e.g. seed=1) and its test accuracy moved by
    ``shift`` in every epoch: another run without training one."""
    shutil.copytree(source, target)
    meta = json.loads((target / "config.json").read_text("utf-8"))
    for dotted, value in config.items():
        *parents, leaf = dotted.split("__")
        node = meta["config"]
        for parent in parents:
            node = node[parent]
        node[leaf] = value
    (target / "config.json").write_text(json.dumps(meta), "utf-8")
    lines = []
    for line in (target / "metrics.jsonl").read_text("utf-8").splitlines():
        record = json.loads(line)
        if isinstance(record.get("test_acc"), float):
            record["test_acc"] += shift
        lines.append(json.dumps(record))
    (target / "metrics.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    return target


@pytest.fixture
def second_run(run_dir, tmp_path) -> Path:
    """Another setting (80% noise): reported as a run of its own, not averaged with run_dir."""
    return copy_run(run_dir, tmp_path / "demo-again", corruption__noise=0.8)


@pytest.fixture
def seeds(run_dir, tmp_path) -> list[Path]:
    """Three seeds of one config, their test accuracy 0, 2 and 4 points apart."""
    return [run_dir, copy_run(run_dir, tmp_path / "seed1", 0.02, seed=1),
            copy_run(run_dir, tmp_path / "seed2", 0.04, seed=2)]


def report(paths, fmt="table", plot=None) -> str:
    out = io.StringIO()
    report_runs([Path(p) for p in paths], fmt, plot, out=out)
    return out.getvalue()


def cli_report(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run `memtui report ARGS` in-process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["memtui", "report", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def markdown_rows(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


# --- formats ------------------------------------------------------------------------------------


def test_table_titles_the_run_with_its_setting_and_lists_every_loss(run_dir):
    text = report([run_dir])
    assert "demo · demo 500/300 · random labels 40% (186) · mlp 1×32 lr 0.1 · cpu" in text
    assert "2 epochs" in text and "completed" in text  # the title wraps at 80 columns
    for label in LABELS:
        assert label in text


def test_markdown_has_one_row_per_loss_with_the_summary_numbers(run_dir):
    run = read_run(run_dir)
    rows = markdown_rows(report([run_dir], "markdown"))
    header, rule, *body = rows
    assert header[:2] == ["loss", "sym"]
    assert set(rule[2:]) == {"---:"}  # numbers right-aligned
    assert [row[0] for row in body] == LABELS
    assert [row[1] for row in body] == ["no", "no", "yes"]
    column = {name: header.index(name) for name in header}
    for row in body:
        result = run.summary["losses"][row[0]]
        assert row[column["final test acc"]] == format_value("test_acc", result["final"]["test_acc"])
        assert row[column["best test acc"]] == format_value("test_acc", result["best_test_acc"])
        assert row[column["best epoch"]] == str(result["best_epoch"])
        assert row[column["memorized"]] == format_value("memorized", result["final"]["memorized"])


def test_markdown_of_several_runs_gets_a_run_column(run_dir, second_run):
    header, _, *body = markdown_rows(report([run_dir, second_run], "markdown"))
    assert header[0] == "run"
    assert [row[0] for row in body] == [run_dir.name] * 3 + [second_run.name] * 3


def test_csv_gives_unformatted_numbers_that_match_the_metrics_file(run_dir):
    run = read_run(run_dir)
    rows = list(csv.DictReader(io.StringIO(report([run_dir], "csv"))))
    assert [row["loss"] for row in rows] == LABELS
    assert all(row["run"] == run_dir.name and row["status"] == "completed" for row in rows)
    for row in rows:
        curve = run.metrics_of(row["loss"])
        assert float(row["test_acc"]) == pytest.approx(curve[-1]["test_acc"])
        assert float(row["train_acc"]) == pytest.approx(curve[-1]["train_acc"])
        best = max(curve, key=lambda r: r["test_acc"])
        assert float(row["best_test_acc"]) == pytest.approx(best["test_acc"])
        assert int(row["best_epoch"]) == best["epoch"]


def test_json_is_a_list_of_rows_with_the_symmetric_flag_of_each_loss(run_dir, second_run):
    rows = json.loads(report([run_dir, second_run], "json"))
    assert len(rows) == 6
    assert {row["run"] for row in rows} == {run_dir.name, second_run.name}
    flags = {row["loss"]: row["symmetric"] for row in rows}
    assert flags == {"CE": False, "MSE": False, "RLL": True}
    assert all(row["preset"] == "demo" and row["epochs"] == 2 for row in rows)
    assert [row["noise"] for row in rows] == [0.4] * 3 + [0.8] * 3
    assert all(0.0 <= row["memorized"] <= 1.0 for row in rows)


def test_csv_and_json_numbers_carry_no_float32_noise(run_dir):
    # metrics.jsonl holds float32 values as float64 (0.4233333468437195); a report gives 0.4233333
    row = json.loads(report([run_dir], "json"))[0]
    for key in ("test_acc", "train_acc", "memorized", "best_test_acc"):
        digits = repr(row[key]).replace("0.", "", 1).lstrip("0")
        assert len(digits) <= 7, row[key]  # float32 holds about 7 significant digits
    curve = read_run(run_dir).metrics_of(row["loss"])
    assert row["test_acc"] == pytest.approx(curve[-1]["test_acc"], abs=1e-7)


# --- seeds ---------------------------------------------------------------------------------------


def test_three_seeds_of_one_config_print_mean_std_and_n_per_loss(seeds):
    rows = json.loads(report(seeds, "json"))
    assert [(row["loss"], row["n"]) for row in rows] == [(label, 3) for label in LABELS]
    for row in rows:
        finals = [read_run(p).metrics_of(row["loss"])[-1]["test_acc"] for p in seeds]
        assert row["test_acc_mean"] == pytest.approx(statistics.fmean(finals), abs=1e-6)
        assert row["test_acc_std"] == pytest.approx(statistics.stdev(finals), abs=1e-6)
        assert row["runs"] == [p.name for p in seeds]
    header, rule, *body = markdown_rows(report(seeds, "markdown"))
    assert header[:3] == ["loss", "sym", "n"] and "final test acc" in header
    assert all(row[2] == "3" and " ± " in row[3] for row in body)
    table = report(seeds, "table")
    assert "mean ± std over 3" in table and " ± " in table


def test_seeds_of_two_settings_are_averaged_per_setting(seeds, second_run):
    rows = json.loads(report([*seeds, second_run], "json"))
    assert [(row["setting"], row["n"]) for row in rows] == [
        ("noise 0.4", 3)] * 3 + [("noise 0.8", 1)] * 3
    assert all(row["test_acc_std"] is None for row in rows[3:])  # one run has no std


def test_cli_prints_the_report_on_stdout_and_exits_0(run_dir, monkeypatch, capsys):
    code, out, err = cli_report(monkeypatch, capsys, str(run_dir), "--format", "markdown")
    assert code == 0, err
    assert [row[0] for row in markdown_rows(out)[2:]] == LABELS


# --- figure -------------------------------------------------------------------------------------


def test_plot_writes_an_svg_with_a_curve_label_per_loss(run_dir, second_run, tmp_path, capsys):
    figure = tmp_path / "curves.svg"
    report([run_dir, second_run], "markdown", figure)
    root = ET.parse(figure).getroot()
    assert root.tag.endswith("svg")
    text = figure.read_text("utf-8")
    for label in ["CE", "MSE", "RLL (sym.)", "clean test accuracy"]:
        assert label in text
    for run in (run_dir, second_run):  # each row of panels titled with its run
        assert f"{run.name}: " in text
    # the runs keep sample ledgers: their figure goes beside (memtui.sample_plots)
    samples = tmp_path / "curves-samples.svg"
    assert capsys.readouterr().err == f"wrote {figure}\nwrote {samples}\n"
    assert "CE: data map" in samples.read_text("utf-8")


def test_plot_lines_take_the_palettes_colours_and_styles(run_dir, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from memtui.palette import line_style
    from memtui.report import plot_runs

    drawn = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: drawn.append(fig))
    plot_runs([read_run(run_dir)], tmp_path / "f.svg")
    lines = [line for ax in drawn[0].axes for line in ax.get_lines()]
    assert len(lines) == 3 * 3  # panels x losses
    for line in lines:
        index = LABELS.index(line.get_label().split(" ")[0])
        style = line_style(index, LABELS[index] == "RLL")
        assert line.get_color() == style["color"]
        assert line.get_linestyle() == style["linestyle"]


def test_plot_of_runs_without_an_epoch_is_refused(run_dir, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty"
    shutil.copytree(run_dir, empty)
    (empty / "metrics.jsonl").write_text("", "utf-8")
    (empty / "summary.json").unlink()
    code, out, err = cli_report(monkeypatch, capsys, str(empty), "--plot",
                                str(tmp_path / "f.svg"))
    assert_one_line_error(code, err, "--plot", "nothing to draw")
    assert out == "" and not (tmp_path / "f.svg").exists()


def test_plot_writes_a_png(run_dir, tmp_path):
    figure = tmp_path / "curves.png"
    report([run_dir], "csv", figure)
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- errors -------------------------------------------------------------------------------------


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("memtui: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_run_directory(monkeypatch, capsys, tmp_path):
    code, out, err = cli_report(monkeypatch, capsys, str(tmp_path / "nope"))
    assert_one_line_error(code, err, "nope", "does not exist")
    assert out == ""


def test_directory_that_is_not_a_run(monkeypatch, capsys, tmp_path):
    code, _, err = cli_report(monkeypatch, capsys, str(tmp_path))
    assert_one_line_error(code, err, "config.json")


def test_run_without_summary_is_reported_from_its_metrics_marked_unfinished(
        run_dir, tmp_path, monkeypatch, capsys):
    incomplete = tmp_path / "killed"
    shutil.copytree(run_dir, incomplete)
    (incomplete / "summary.json").unlink()
    (incomplete / "writer.json").unlink()  # a run of an older memtui: its files' age tells
    old = 1_000_000_000
    for name in ("config.json", "metrics.jsonl"):
        os.utime(incomplete / name, (old, old))
    code, out, err = cli_report(monkeypatch, capsys, str(incomplete), "--format", "csv")
    assert code == 0, err
    assert "unfinished: not updated for" in out.splitlines()[1]


def test_corrupted_summary_is_an_error(run_dir, tmp_path, monkeypatch, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / "summary.json").write_text('{"schema_version": 1, "losses": ', "utf-8")
    code, _, err = cli_report(monkeypatch, capsys, str(broken))
    assert_one_line_error(code, err, "summary.json", "not valid JSON")


def test_one_bad_directory_among_good_ones_prints_nothing(run_dir, tmp_path, monkeypatch,
                                                          capsys):
    figure = tmp_path / "f.svg"
    code, out, err = cli_report(monkeypatch, capsys, str(run_dir), str(tmp_path / "nope"),
                                "--plot", str(figure))
    assert_one_line_error(code, err, "nope")
    assert out == ""
    assert not figure.exists()


def test_unknown_format_names_the_valid_ones(run_dir, monkeypatch, capsys):
    code, _, err = cli_report(monkeypatch, capsys, str(run_dir), "--format", "markdwn")
    assert_one_line_error(code, err, "'markdwn'", "did you mean 'markdown'",
                          "table, markdown, csv, json")


def test_plot_with_an_unsupported_suffix(run_dir, tmp_path, monkeypatch, capsys):
    code, _, err = cli_report(monkeypatch, capsys, str(run_dir), "--plot",
                              str(tmp_path / "curves.pdf"))
    assert_one_line_error(code, err, "curves.pdf", ".svg or .png")


def test_plot_into_a_missing_folder(run_dir, tmp_path, monkeypatch, capsys):
    code, _, err = cli_report(monkeypatch, capsys, str(run_dir), "--plot",
                              str(tmp_path / "no" / "curves.svg"))
    assert_one_line_error(code, err, "does not exist")


def test_matplotlib_is_imported_only_when_a_figure_is_drawn():
    import subprocess

    probe = ("import sys, memtui.cli, memtui.report; "
             "sys.exit('matplotlib' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", probe]).returncode == 0


def test_plot_without_matplotlib_says_how_to_install_it(run_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("memtui.report.matplotlib_available", lambda: False)
    code, out, err = cli_report(monkeypatch, capsys, str(run_dir), "--plot",
                                str(tmp_path / "curves.svg"))
    assert_one_line_error(code, err, "matplotlib", "pip install")
    assert out == ""
