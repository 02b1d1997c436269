"""Specification of the command line.

``memtui run`` resolves a preset plus overrides, writes a run directory and reports on stderr.
Every bad input ends with one clear line on stderr, exit code 2, no
traceback, and nothing already written lost. ``memtui presets`` lists the shipped presets and
``memtui presets show NAME`` prints one fully resolved.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from typer.testing import CliRunner

from memtui import cli
from memtui.presets import shipped_presets

from helpers import tiny_document


def write_preset(path: Path, **changes) -> Path:
    document = tiny_document(**changes)
    path.write_text(tomli_w.dumps(document))
    return path


def call_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """memtui.cli.main as the console script runs it: exit code, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["memtui", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    out, err = capsys.readouterr()
    code = exited.value.code
    return (0 if code is None else code), out, err


def memtui_command() -> list[str]:
    script = Path(sys.executable).with_name("memtui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "memtui"]


def assert_clean_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("memtui: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# --- presets -----------------------------------------------------------------------------------

def test_presets_lists_every_shipped_preset_with_its_description():
    result = CliRunner().invoke(cli.app, ["presets"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name, description in shipped_presets().items():
        assert name in result.stdout
        assert description.split()[0] in result.stdout


def test_presets_show_prints_resolved_toml_on_stdout():
    result = CliRunner().invoke(cli.app, ["presets", "show", "demo"])
    assert result.exit_code == 0
    assert 'name = "demo"' in result.stdout and "[optimizer]" in result.stdout


def test_presets_show_of_an_unknown_preset_suggests_the_closest(monkeypatch, capsys):
    assert_clean_error(*call_main(monkeypatch, capsys, "presets", "show", "mnist-nosiy"),
                       "did you mean 'mnist-noisy'")


# --- a good run --------------------------------------------------------------------------------

def test_run_no_ui_writes_a_run_directory_and_a_summary_on_stderr(tmp_path, monkeypatch, capsys):
    preset = write_preset(tmp_path / "tiny.toml")
    out_dir = tmp_path / "run"
    code, out, err = call_main(monkeypatch, capsys, "run", "--no-ui", "--preset", str(preset),
                               "--out", str(out_dir), "--epochs", "1", "--losses", "ce,rll",
                               "--noise", "0.2", "--seed", "3", "--subset", "200")
    assert code == 0, err
    assert out == "", "stdout stays free for scripts"
    assert "run completed after 1 epoch" in err
    meta = json.loads((out_dir / "config.json").read_text())
    config = meta["config"]
    assert (config["epochs"], config["corruption"]["noise"], config["seed"]) == (1, 0.2, 3)
    assert config["data"]["subset"] == 200 and meta["num_train"] == 200
    assert [loss["name"] for loss in config["losses"]] == ["ce", "rll"]
    assert json.loads((out_dir / "summary.json").read_text())["status"] == "completed"


def test_run_without_out_writes_under_runs_with_timestamp_and_preset_name(
        tmp_path, monkeypatch, capsys):
    preset = write_preset(tmp_path / "tiny.toml", epochs=1)
    monkeypatch.chdir(tmp_path)
    code, _, err = call_main(monkeypatch, capsys, "run", "--no-ui", "--preset", str(preset))
    assert code == 0, err
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.endswith("-tiny") and (run_dir / "summary.json").is_file()


@pytest.mark.slow  # a fresh interpreter imports torch: several seconds
def test_real_processes_a_run_exits_0_with_whole_lines_and_a_bad_input_exits_2(tmp_path):
    """Two fresh interpreters at once (most of each one's time is importing): a good run, and a
    bad preset name that gets one line, exit 2, no traceback and no run directory."""
    preset = write_preset(tmp_path / "tiny.toml", epochs=2)
    env = {**os.environ, "COLUMNS": "80", "OMP_NUM_THREADS": "1"}
    good = subprocess.Popen([*memtui_command(), "run", "--no-ui", "--preset", str(preset),
                             "--out", str(tmp_path / "run")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    (tmp_path / "elsewhere").mkdir()
    bad = subprocess.Popen([*memtui_command(), "run", "--no-ui", "--preset", "dmeo"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           cwd=tmp_path / "elsewhere")
    stdout, stderr = good.communicate(timeout=120)
    assert good.returncode == 0, stderr
    assert "Traceback" not in stderr and stdout == ""
    assert "run completed after 2 epoch(s)" in stderr
    # Piped, nothing wraps (even with COLUMNS=80): the run's line and its directory stay whole.
    assert any(line.startswith("memtui tiny") and line.endswith("CE, MSE, RLL")
               for line in stderr.splitlines()), stderr
    assert f"run directory: {tmp_path / 'run'}" in stderr.splitlines()
    assert (tmp_path / "run" / "summary.json").is_file()
    stdout, stderr = bad.communicate(timeout=120)
    assert_clean_error(bad.returncode, stdout, stderr, "did you mean 'demo'")
    assert not (tmp_path / "elsewhere" / "runs").exists()


def test_real_processes_stdout_to_dev_full_is_one_line_exit_1(tmp_path, tiny_config):
    """`> /dev/full`: every write to stdout fails with ENOSPC. Each command that prints says so
    in one line on stderr and exits 1 (the machine failed, not the input), in fresh interpreters
    started together."""
    from memtui.session import start_run

    start_run(tiny_config(epochs=1, out=tmp_path / "run")).execute()
    commands = [["presets"], ["presets", "show", "demo"], ["sweep", "noise-grid", "--dry-run"],
                ["report", str(tmp_path / "run"), "-f", "csv"], ["report", str(tmp_path / "run")]]
    with open("/dev/full", "w") as full:
        started = [subprocess.Popen([*memtui_command(), *args], stdout=full,
                                    stderr=subprocess.PIPE, text=True) for args in commands]
        answers = [process.communicate(timeout=120)[1] for process in started]
    for args, process, err in zip(commands, started, answers):
        assert process.returncode == 1, (args, err)
        lines = [line for line in err.splitlines() if not line.startswith("memtui: warning:")]
        assert lines == ["memtui: error: cannot write the output (No space left on device)"], (
            args, err)


# --- bad input: one line on stderr, exit 2, no traceback ----------------------------------------

@pytest.mark.parametrize("args, fragments", [
    (["--preset", "demoo"], ["unknown preset 'demoo'", "did you mean 'demo'"]),
    (["--losses", "ce,rl"], ["--losses", "unknown loss 'rl'", "did you mean 'rll'"]),
    (["--noise", "1.5"], ["--noise", "out of range; valid: 0 to 1"]),
    (["--noise", "-0.1"], ["--noise", "out of range; valid: 0 to 1"]),
    (["--epochs", "0"], ["--epochs", "out of range; valid: 1 to"]),
    (["--epochs", "-5"], ["--epochs", "out of range; valid: 1 to"]),
    (["--subset", "0"], ["--subset", "cannot form a training batch"]),
    (["--device", "gpu"], ["--device", "unknown device 'gpu'"]),
])
def test_bad_flags_are_refused(args, fragments, tmp_path, monkeypatch, capsys):
    out_dir = tmp_path / "run"
    result = call_main(monkeypatch, capsys, "run", "--no-ui", "--out", str(out_dir), *args)
    assert_clean_error(*result, *fragments)
    assert not out_dir.exists()


@pytest.mark.parametrize("changes, fragments", [
    ({"model": {"arch": "mpl"}}, ["model.arch", "unknown model 'mpl'", "did you mean 'mlp'"]),
    ({"data": {"dataset": "fashion-mnst"}},
     ["data.dataset", "unknown data set", "did you mean 'fashion-mnist'"]),
    ({"losses": [{"name": "gec"}]}, ["unknown loss 'gec'", "did you mean 'gce'"]),
    ({"epoch": 3}, ["epoch: unknown key", "did you mean 'epochs'"]),
    ({"optimizer": {"momentun": 0.9}}, ["optimizer.momentun: unknown key", "did you mean 'momentum'"]),
    ({"batch_size": 0}, ["batch_size", "out of range; valid: 2 to"]),
    ({"batch_size": -32}, ["batch_size", "out of range; valid: 2 to"]),
    ({"corruption": {"noise": 2.0}}, ["corruption.noise", "out of range; valid: 0 to 1"]),
])
def test_bad_preset_files_are_refused_naming_file_and_field(changes, fragments, tmp_path,
                                                            monkeypatch, capsys):
    preset = write_preset(tmp_path / "bad.toml", **changes)
    result = call_main(monkeypatch, capsys, "run", "--no-ui", "--preset", str(preset),
                       "--out", str(tmp_path / "run"))
    assert_clean_error(*result, "bad.toml", *fragments)
    assert not (tmp_path / "run").exists()


def test_malformed_toml_is_refused(tmp_path, monkeypatch, capsys):
    preset = tmp_path / "broken.toml"
    preset.write_text('name = "x"\n[data\ndataset = "demo"\n')
    assert_clean_error(*call_main(monkeypatch, capsys, "run", "--no-ui", "--preset", str(preset)),
                       "broken.toml is not valid TOML", "line 2")


def test_a_missing_preset_file_is_refused(tmp_path, monkeypatch, capsys):
    assert_clean_error(*call_main(monkeypatch, capsys, "run", "--preset",
                                  str(tmp_path / "nope.toml")), "does not exist")


@pytest.mark.parametrize("dataset, layout", [("mnist", "MNIST/raw/"),
                                             ("cifar10", "train/<class>/")])
def test_missing_data_offline_names_layout_folder_and_data_dir_and_leaves_no_run(
        dataset, layout, tmp_path, monkeypatch, capsys):
    preset = write_preset(tmp_path / "p.toml", data={"dataset": dataset})
    empty = tmp_path / "empty"
    empty.mkdir()
    out_dir = tmp_path / "run"
    result = call_main(monkeypatch, capsys, "run", "--no-ui", "--preset", str(preset),
                       "--data-dir", str(empty), "--out", str(out_dir))
    assert_clean_error(*result, layout, str(empty), "--data-dir")
    assert not out_dir.exists(), "a run that never started leaves no directory behind"


def test_a_first_run_refused_for_its_data_leaves_no_empty_runs_folder(tmp_path, monkeypatch,
                                                                       capsys):
    preset = write_preset(tmp_path / "p.toml", data={"dataset": "mnist"})
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(tmp_path)
    result = call_main(monkeypatch, capsys, "run", "--no-ui", "--preset", str(preset),
                       "--data-dir", str(empty))
    assert_clean_error(*result, "--data-dir")
    assert not (tmp_path / "runs").exists()


def test_an_output_dir_under_a_regular_file_is_refused(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    result = call_main(monkeypatch, capsys, "run", "--no-ui", "--out", str(blocker / "run"))
    assert_clean_error(*result, str(blocker / "run"), "cannot be written", "--out")
    assert blocker.read_text() == "keep me"


def test_an_output_dir_that_holds_a_run_is_refused_and_left_unchanged(tmp_path, monkeypatch,
                                                                      capsys):
    preset = write_preset(tmp_path / "tiny.toml", epochs=1)
    run_dir = tmp_path / "run"
    code, _, err = call_main(monkeypatch, capsys, "run", "--no-ui", "--preset", str(preset),
                             "--out", str(run_dir))
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    result = call_main(monkeypatch, capsys, "run", "--no-ui", "--preset", str(preset),
                       "--out", str(run_dir))
    assert_clean_error(*result, "already holds a run", "--out")
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_an_existing_empty_output_dir_is_kept_when_the_data_is_missing(tmp_path, monkeypatch,
                                                                      capsys):
    preset = write_preset(tmp_path / "p.toml", data={"dataset": "mnist"})
    out_dir = tmp_path / "mine"
    out_dir.mkdir()
    result = call_main(monkeypatch, capsys, "run", "--no-ui", "--preset", str(preset),
                       "--data-dir", str(tmp_path), "--out", str(out_dir))
    assert_clean_error(*result, "--data-dir")
    assert out_dir.is_dir(), "a folder the user made is not ours to remove"


def test_the_console_script_is_installed():
    assert shutil.which("memtui") or Path(sys.executable).with_name("memtui").exists()


def test_each_commands_help_is_reflowed_to_the_terminal_not_broken_mid_sentence():
    from memtui.cli import app, presets_app

    for command in [*app.registered_commands, *presets_app.registered_commands]:
        assert command.help, command.name
        assert "\n" not in command.help.replace("\n\n", ""), command.name
