"""`memtui report SWEEP_DIR`: mean +- std over seeds, the long table, the figure. The sweep's
cells are real runs, trained in this process to keep the tests fast."""

from __future__ import annotations

import csv
import io
import json
import statistics

import pytest
from sweep_helpers import call_main, grid_text, sweep_in_process

from memtui.report import report_runs
from memtui.runlog import read_run


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    try:
        tmp = tmp_path_factory.mktemp("sweep")
        grid = grid_text(axes='"corruption.labels" = ["symmetric", "pairflip"]\n'
                              '"corruption.noise" = [0.2, 0.6]\nseed = [0, 1]')
        yield sweep_in_process(tmp, monkeypatch, grid)
    finally:
        monkeypatch.undo()


def report_text(path, fmt, **kwargs) -> str:
    out = io.StringIO()
    report_runs([path], fmt, None, out=out, **kwargs)
    return out.getvalue()


def test_json_aggregates_every_loss_and_setting_over_the_seeds(sweep_dir):
    rows = json.loads(report_text(sweep_dir, "json"))
    assert len(rows) == 2 * 2 * 3  # labels x noise x losses
    assert [(r["corruption.labels"], r["corruption.noise"], r["loss"]) for r in rows[:4]] == [
        ("symmetric", 0.2, "CE"), ("symmetric", 0.2, "MSE"), ("symmetric", 0.2, "RLL"),
        ("symmetric", 0.6, "CE")]
    row = next(r for r in rows if r["corruption.labels"] == "pairflip"
               and r["corruption.noise"] == 0.6 and r["loss"] == "RLL")
    assert row["n"] == 2 and row["symmetric"] is True
    runs = [read_run(sweep_dir / "cells" / f"labels-pairflip_noise-0.6_seed-{s}") for s in (0, 1)]
    finals = [run.summary["losses"]["RLL"]["final"] for run in runs]
    for key in ("test_acc", "memorized", "recovered", "clean_acc"):
        values = [final[key] for final in finals]
        assert row[f"{key}_mean"] == pytest.approx(statistics.fmean(values))
        assert row[f"{key}_std"] == pytest.approx(statistics.stdev(values))
    best = [run.summary["losses"]["RLL"]["best_test_acc"] for run in runs]
    assert row["best_test_acc_mean"] == pytest.approx(statistics.fmean(best))


def test_markdown_has_the_mean_std_table_and_the_papers_layout(sweep_dir):
    text = report_text(sweep_dir, "markdown")
    assert "| labels | noise | loss | sym | n | final test acc |" in text
    assert "| symmetric | 0.2 | CE | no | 2 |" in text
    assert " ± " in text
    assert "| loss | labels=symmetric noise=0.2 | labels=symmetric noise=0.6 |" in text
    assert text.count("\n| RLL |") == 1


def test_csv_and_table_formats(sweep_dir):
    rows = list(csv.DictReader(io.StringIO(report_text(sweep_dir, "csv"))))
    assert len(rows) == 12 and "test_acc_std" in rows[0] and rows[0]["n"] == "2"
    table = report_text(sweep_dir, "table")
    assert "mean ± std over 2 seed(s)" in table and "pairflip" in table


def test_long_table_has_a_row_per_cell_loss_and_epoch_with_config_columns(sweep_dir, tmp_path):
    path = tmp_path / "long.csv"
    report_text(sweep_dir, "csv", long=path)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 8 * 3 * 2  # cells x losses x epochs
    first = rows[0]
    for column in ("sweep", "cell", "corruption.labels", "corruption.noise", "seed", "dataset",
                   "loss", "symmetric", "epoch", "test_acc", "memorized", "recovered"):
        assert column in first, column
    assert {r["epoch"] for r in rows} == {"1", "2"}
    for row in rows:  # float32 metrics without their float64 noise (0.7720000147819519)
        assert len(row["test_acc"].replace("0.", "", 1).lstrip("0").replace(".", "")) <= 7
    assert {(r["cell"], r["loss"]) for r in rows} == {
        (f"labels-{kind}_noise-{n}_seed-{s}", loss) for kind in ("symmetric", "pairflip")
        for n in ("0.2", "0.6") for s in (0, 1) for loss in ("CE", "MSE", "RLL")}


def test_long_table_of_plain_runs(sweep_dir, tmp_path):
    path = tmp_path / "runs.csv"
    cell = sweep_dir / "cells" / "labels-symmetric_noise-0.2_seed-0"
    out = io.StringIO()
    report_runs([cell], "csv", None, out=out, long=path)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 6 and rows[0]["cell"] == cell.name and rows[0]["noise"] == "0.2"


def test_plot_draws_accuracy_and_memorized_vs_noise_and_curves_with_bands(sweep_dir, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sweep.svg"
    report_runs([sweep_dir], "json", path, out=io.StringIO())
    svg = path.read_text()
    assert "final test accuracy vs noise" in svg and "memorized vs noise" in svg
    assert "memorized over epochs, noise 60%" in svg and "labels=pairflip" in svg
    assert "RLL (sym.)" in svg


def test_cells_without_a_completed_summary_are_named_and_left_out(sweep_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(sweep_dir, copy)
    (copy / "cells" / "labels-symmetric_noise-0.2_seed-1" / "summary.json").unlink()
    rows = json.loads(report_text(copy, "json"))
    assert rows[0]["n"] == 1 and rows[3]["n"] == 2
    err = capsys.readouterr().err
    assert "1 of 8 cells have no completed summary" in err
    assert "labels-symmetric_noise-0.2_seed-1" in err


@pytest.mark.parametrize("extra, fragment", [
    (["--long", "long.txt"], "--long: write the long table to a .csv file"),
    (["RUN"], "give one sweep directory at a time"),
])
def test_bad_report_arguments_for_a_sweep(sweep_dir, tmp_path, monkeypatch, capsys, extra,
                                          fragment):
    monkeypatch.chdir(tmp_path)
    run = sweep_dir / "cells" / "labels-symmetric_noise-0.2_seed-0"
    extra = [str(run) if e == "RUN" else e for e in extra]
    assert call_main(monkeypatch, "report", str(sweep_dir), *extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err


def test_the_figure_draws_each_loss_in_the_palettes_colour_and_line_style(sweep_dir, tmp_path,
                                                                          monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from memtui.palette import line_style

    drawn = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, *args, **kwargs: drawn.append(fig))
    report_runs([sweep_dir], "json", tmp_path / "sweep.svg", out=io.StringIO())
    styles = [line_style(i, loss == "RLL") for i, loss in enumerate(("CE", "MSE", "RLL"))]
    expected = [(s["color"], s["linestyle"]) for s in styles]
    vs_noise = [ax for ax in drawn[0].axes if "vs noise" in ax.get_title()]
    over_epochs = [ax for ax in drawn[0].axes if "over epochs" in ax.get_title()]
    assert len(vs_noise) == 4 and len(over_epochs) == 4  # 2 label kinds x (2 + 2 noise rates)
    for ax in vs_noise:  # error bars: the data line of each loss
        assert [c.get_label() for c in ax.containers] == ["CE", "MSE", "RLL (sym.)"]
        assert [(c.lines[0].get_color(), c.lines[0].get_linestyle())
                for c in ax.containers] == expected
    for ax in over_epochs:  # mean curves, a line per loss
        assert [(line.get_color(), line.get_linestyle()) for line in ax.get_lines()] == expected
