"""Grid files: expansion into cells, --dry-run, and every bad grid refused in one line, exit 2,
with nothing written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from memtui import cli
from memtui.sweep.grid import load_grid

ROOT = Path(__file__).resolve().parents[1]

TINY_GRID = """
base = "demo"
name = "tiny"
[set]
epochs = 2
"data.subset" = 200
"data.test_subset" = 200
"model.width" = 32
device = "cpu"
[grid]
"corruption.labels" = ["symmetric", "pairflip"]
"corruption.noise" = [0.2, 0.6]
seed = [0, 1]
"""


def call_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["memtui", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    out, err = capsys.readouterr()
    return (0 if exited.value.code is None else exited.value.code), out, err


def test_a_grid_expands_into_every_combination_in_file_order(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text(TINY_GRID)
    grid = load_grid(path)
    assert grid.name == "tiny" and len(grid.cells) == 8
    first, last = grid.cells[0], grid.cells[-1]
    assert first.name == "labels-symmetric_noise-0.2_seed-0"
    assert last.name == "labels-pairflip_noise-0.6_seed-1"
    assert last.overrides == {"corruption.labels": "pairflip", "corruption.noise": 0.6, "seed": 1}
    assert last.config.corruption.labels == "pairflip" and last.config.corruption.noise == 0.6
    assert last.config.seed == 1 and last.config.epochs == 2 and last.config.model.width == 32
    assert last.config.loss_labels == ["CE", "MSE", "RLL"]  # the base preset's losses


def test_tables_a_losses_axis_and_a_base_beside_the_grid_file(tmp_path):
    (tmp_path / "mine.toml").write_text('name = "mine"\nepochs = 1\n[data]\ndataset = "demo"\n')
    path = tmp_path / "g.toml"
    path.write_text('base = "mine.toml"\n[grid.corruption]\nnoise = [0.0, 0.4]\n'
                    '[grid]\nlosses = ["ce,mse", ["rll", {name = "gce", params = {q = 0.5}}]]\n')
    grid = load_grid(path)
    assert [c.name for c in grid.cells] == ["noise-0_losses-ce-mse", "noise-0_losses-rll-gce",
                                            "noise-0.4_losses-ce-mse", "noise-0.4_losses-rll-gce"]
    assert grid.cells[1].config.loss_labels == ["RLL", "GCE q=0.5"]
    assert grid.name == "g"


def test_dry_run_lists_the_cells_and_starts_nothing(tmp_path, monkeypatch, capsys):
    path = tmp_path / "g.toml"
    path.write_text(TINY_GRID)
    monkeypatch.chdir(tmp_path)
    code, out, err = call_main(monkeypatch, capsys, "sweep", str(path), "--dry-run")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("sweep tiny: 8 cells from base 'demo'")
    assert sum("labels-" in line for line in lines) == 8
    assert "corruption.noise = 0.6, seed = 1" in out
    assert not (tmp_path / "sweeps").exists()


def test_the_shipped_example_grid_is_valid_and_has_the_issues_30_cells():
    grid = load_grid(ROOT / "presets" / "sweeps" / "noise-grid.toml")
    assert len(grid.cells) == 30 and grid.resources.gpus_per_run == 0.25
    by_name = load_grid(Path("noise-grid"))  # a shipped grid by its name
    assert [c.name for c in by_name.cells] == [c.name for c in grid.cells]


BAD_GRIDS = [
    # (what, grid file text, fragments of the one line)
    ("unknown top-level key", 'bsae = "demo"\n' + TINY_GRID,
     ["unknown key 'bsae'", "valid keys: base"]),
    ("unknown resources key", TINY_GRID + "\n[resources]\ngpus = 1\n",
     ["unknown key 'gpus' in [resources]", "gpus_per_run"]),
    ("negative retries", TINY_GRID + "\n[resources]\nretries = -1\n",
     ["resources.retries", "greater than or equal to 0"]),
    ("no [grid]", 'base = "demo"\n', ["no [grid] table"]),
    ("empty [grid]", 'base = "demo"\n[grid]\n', ["[grid] has no axes"]),
    ("empty axis", 'base = "demo"\n[grid]\nseed = []\n', ["axis 'seed' is empty"]),
    ("not a list", 'base = "demo"\n[grid]\nseed = 3\n', ["axis 'seed': give a list of values"]),
    ("repeated value", 'base = "demo"\n[grid]\nseed = [1, 1]\n', ["axis 'seed' lists 1 twice"]),
    ("unknown field", 'base = "demo"\n[grid]\n"corruption.nois" = [0.1]\n',
     ["axis 'corruption.nois': unknown field", "did you mean 'corruption.noise'"]),
    ("unknown section", 'base = "demo"\n[grid]\n"optimiser.lr" = [0.1]\n',
     ["axis 'optimiser.lr': unknown field", "did you mean 'optimizer.lr'"]),
    ("reserved field", 'base = "demo"\n[grid]\nout = ["a", "b"]\n',
     ["axis 'out': cannot be set by a sweep"]),
    ("value out of range", 'base = "demo"\n[grid]\n"corruption.noise" = [0.2, 1.5]\nseed = [0]\n',
     ["axis 'corruption.noise' = 1.5, cell noise-1.5_seed-0",
      "corruption.noise: 1.5 is out of range; valid: 0 to 1"]),
    ("literal refused", 'base = "demo"\n[grid]\n"corruption.labels" = ["symmetric", "pairflp"]\n',
     ["axis 'corruption.labels' = 'pairflp', cell labels-pairflp", "did you mean 'pairflip'"]),
    ("unknown loss in an axis", 'base = "demo"\n[grid]\nlosses = ["ce,rl"]\n',
     ["cell losses-ce-rl", "unknown loss 'rl'", "did you mean 'rll'"]),
    ("bad [set] value", 'base = "demo"\n[set]\nepochs = 0\n[grid]\nseed = [0]\n',
     ["[set]", "epochs", "0 is out of range; valid: 1 to"]),
    ("unknown base", 'base = "demoo"\n[grid]\nseed = [0]\n',
     ["unknown preset 'demoo'", "did you mean 'demo'"]),
    ("malformed TOML", 'base = "demo"\n[grid\n', ["is not valid TOML"]),
]


@pytest.mark.parametrize("what, text, fragments", BAD_GRIDS, ids=[c[0] for c in BAD_GRIDS])
def test_bad_grid_files_are_refused_in_one_line_with_exit_2(what, text, fragments, tmp_path,
                                                              monkeypatch, capsys):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    monkeypatch.chdir(tmp_path)
    code, out, err = call_main(monkeypatch, capsys, "sweep", str(path), "--out",
                               str(tmp_path / "sw"))
    assert code == 2, err
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("memtui: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert not (tmp_path / "sw").exists()  # nothing started


@pytest.mark.parametrize("args, fragment", [
    (["--on", "slurm"], "--on: unknown executor 'slurm'"),
    ([], "give a grid file"),
    (["--parallel", "0"], "--parallel: give 1 or more"),
])
def test_bad_sweep_flags_are_refused(args, fragment, tmp_path, monkeypatch, capsys):
    path = tmp_path / "grid.toml"
    path.write_text(TINY_GRID)
    grid_args = [str(path)] if args else []
    code, _, err = call_main(monkeypatch, capsys, "sweep", *grid_args, *args)
    assert code == 2 and err.count("\n") == 1 and fragment in err, err


def test_a_missing_grid_file_and_a_resume_of_a_non_sweep_are_refused(tmp_path, monkeypatch, capsys):
    code, _, err = call_main(monkeypatch, capsys, "sweep", str(tmp_path / "nope.toml"))
    assert code == 2 and "grid file" in err and "does not exist" in err
    code, _, err = call_main(monkeypatch, capsys, "sweep", "noise-gird")
    assert code == 2 and "did you mean 'noise-grid'" in err and err.count("\n") == 1
    code, _, err = call_main(monkeypatch, capsys, "sweep", "--resume", str(tmp_path))
    assert code == 2 and "is not a memtui sweep directory" in err


def test_a_grid_past_the_cell_limit_is_refused_from_its_axes_before_any_cell_is_built(
        tmp_path, monkeypatch):
    from memtui.sweep import grid as grid_module

    built = []
    monkeypatch.setattr(grid_module, "validate", lambda *a, **k: built.append(a))
    axes = "".join(f"{axis} = {list(range(1, 101))}\n" for axis in ("seed", "epochs", "batch_size"))
    path = tmp_path / "huge.toml"
    path.write_text(f"base = 'demo'\n[grid]\n{axes}")
    with pytest.raises(grid_module.ConfigError) as refused:
        load_grid(path)
    assert str(refused.value).endswith(
        "the grid has 1,000,000 cells (100 seed x 100 epochs x 100 batch_size); at most 10,000 "
        "are allowed: drop an axis or some of its values")
    assert built == []


def test_pair_flip_cells_above_half_are_listed_with_one_warning_per_rate(tmp_path, monkeypatch,
                                                                          capsys):
    (tmp_path / "tiny.toml").write_text(TINY_GRID)
    code, _out, err = call_main(monkeypatch, capsys, "sweep", str(tmp_path / "tiny.toml"),
                                "--dry-run")
    assert code == 0
    assert err.splitlines() == [
        "memtui: warning: corruption.noise = 0.6 with pairflip labels: above 0.5 most images of "
        "each flipped class carry their pair's label, so the wrong class is the majority there "
        "(2 of 8 cells, e.g. labels-pairflip_noise-0.6_seed-0)"]


def test_resume_lays_out_again_a_cell_whose_directory_was_deleted(tmp_path, capsys):
    """The rebuilt cell.toml is the one the sweep made: a surviving cell's experiment with the
    lost cell's axis values; and with every cell gone, the grid file's copy."""
    import shutil

    from memtui.sweep.grid import load_grid
    from memtui.sweep.runner import create_sweep, prepare_sweep

    (tmp_path / "tiny.toml").write_text(TINY_GRID)
    sweep_dir = tmp_path / "sweep"
    manifest = create_sweep(load_grid(tmp_path / "tiny.toml"), TINY_GRID, sweep_dir)
    made = {c["name"]: (manifest.cell_dir(c["name"]) / "cell.toml").read_text()
            for c in manifest.cells}
    lost = "labels-pairflip_noise-0.6_seed-1"
    shutil.rmtree(manifest.cell_dir(lost))
    prepared = prepare_sweep(None, resume=sweep_dir)
    assert prepared is not None and lost in prepared.to_run
    assert (manifest.cell_dir(lost) / "cell.toml").read_text() == made[lost]
    assert f"cell {lost} had no directory; laid out again, it starts afresh" in capsys.readouterr().err
    shutil.rmtree(sweep_dir / "cells")
    prepare_sweep(None, resume=sweep_dir)
    assert {name: (manifest.cell_dir(name) / "cell.toml").read_text() for name in made} == made
