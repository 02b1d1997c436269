"""`memtui report --plot FILE` draws the runs' sample ledgers into FILE-samples beside it: per
run the data maps, the when-histograms and the AUROC curves; for runs that differ only in their
seed, the AUROC as mean ± std over them. Runs without a ledger add nothing."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from memtui.config import apply_overrides, load_preset
from memtui.palette import line_style
from memtui.report import report_runs
from memtui.runlog import read_run
from memtui.runlog.ledger import SCORES, read_ledger
from memtui.sample_plots import CLEAN, CORRUPTED, auroc_band, ledger_runs, plot_samples
from memtui.session import start_run

from ledger_fixture import LOSSES, write_fixture

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished tiny run of the demo preset (its losses: CE, MSE, RLL)."""
    config = apply_overrides(load_preset("demo"), {
        "data.subset": 300, "data.test_subset": 200, "epochs": 2, "model.width": 16,
        "device": "cpu", "seed": 0})
    path = tmp_path_factory.mktemp("runs") / "demo-tiny"
    assert start_run(config.model_copy(update={"out": path})).execute().status == "completed"
    return path


def with_ledger(trained: Path, target: Path, seed: int = 0, ledger: bool = True) -> Path:
    """A copy of the run with config seed ``seed`` and the fixture's ledger drawn with it (or
    none)."""
    shutil.copytree(trained, target)
    meta = json.loads((target / "config.json").read_text("utf-8"))
    meta["config"]["seed"] = seed
    (target / "config.json").write_text(json.dumps(meta), "utf-8")
    for name in ("ledger.npz", "thumbnails.npz"):
        (target / name).unlink(missing_ok=True)
    if ledger:
        write_fixture(target, seed=seed)
    return target


def report(paths, plot) -> None:
    report_runs([Path(p) for p in paths], "csv", plot, out=io.StringIO())


def test_one_run_gets_data_maps_when_histograms_and_auroc_curves(trained, tmp_path, capsys):
    run = with_ledger(trained, tmp_path / "run")
    figure = tmp_path / "curves.svg"
    report([run], figure)
    samples = tmp_path / "curves-samples.svg"
    assert capsys.readouterr().err == f"wrote {figure}\nwrote {samples}\n"
    text = samples.read_text("utf-8")
    for label in LOSSES:
        assert f"{label}: data map" in text and f"{label}: when" in text
    for score in SCORES:
        assert f"AUROC of {score.title}" in text
    assert "run: " in text  # the row is titled with its run


def test_samples_figure_takes_the_palettes_colours(trained, tmp_path):
    run = read_run(with_ledger(trained, tmp_path / "run"))
    runs = ledger_runs([("run", run.path, run.state())])
    fig = plot_samples(runs)
    maps = [ax for ax in fig.axes if ax.get_title().endswith("data map")]
    assert len(maps) == len(LOSSES)
    colours = {tuple(np.round(c.get_facecolor()[0][:3], 3)) for c in maps[0].collections}
    assert colours == {tuple(np.round(np.array(
        [int(h[i:i + 2], 16) for i in (1, 3, 5)]) / 255, 3)) for h in (CLEAN, CORRUPTED)}
    auroc = [ax for ax in fig.axes if ax.get_title().startswith("AUROC")]
    lines = [line for line in auroc[0].get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == list(LOSSES)  # and the unlabelled 50% line
    for line in lines:
        index = LOSSES.index(line.get_label())
        style = line_style(index, LOSSES[index] == "RLL")
        assert line.get_color() == style["color"] and line.get_linestyle() == style["linestyle"]


def test_seeds_get_the_auroc_as_mean_and_std_over_them(trained, tmp_path, capsys):
    runs = [with_ledger(trained, tmp_path / f"seed{s}", seed=s) for s in range(3)]
    figure = tmp_path / "curves.svg"
    report(runs, figure)
    text = (tmp_path / "curves-samples.svg").read_text("utf-8")
    assert "mean ± std over 3 runs" in text
    ledgers = [read_ledger(r) for r in runs]
    column = ledgers[0].scoreboard.score_names.index("aum")
    values = np.stack([lg.scoreboard.auroc["CE"][:, column] for lg in ledgers])
    records = [read_run(r) for r in runs]
    entries = ledger_runs([(r.path.name, r.path, r.state()) for r in records])
    epochs, mean, std = auroc_band(entries, "CE", "aum")
    assert epochs == list(range(1, values.shape[1] + 1))
    np.testing.assert_allclose(mean, values.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std, values.std(axis=0, ddof=1), rtol=1e-5)


def test_runs_without_a_ledger_draw_no_samples_figure(trained, tmp_path, capsys):
    run = with_ledger(trained, tmp_path / "run", ledger=False)
    report([run], tmp_path / "curves.png")
    assert capsys.readouterr().err == f"wrote {tmp_path / 'curves.png'}\n"
    assert not (tmp_path / "curves-samples.png").exists()
