"""The bad-input catalogue: every bad input we know of, and what memtui answers.

Each case runs the real command line in-process. The answer must be exactly one line on stderr
("memtui: error: ..." naming the field and what would be valid), exit code 2, no traceback, and
no file of an existing run directory changed. docs/bad-inputs.md is this table rendered; regenerate
it with `MEMTUI_WRITE_CATALOGUE=1 pytest tests/test_bad_inputs.py` and commit the result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memtui.cli import main
from memtui.config import load_preset
from memtui.errors import ConfigError
from memtui.session import start_run

CATALOGUE = Path(__file__).resolve().parents[1] / "docs" / "bad-inputs.md"

GOOD_PRESET = """
name = "ok"
epochs = 1
[data]
dataset = "demo"
subset = 300
[model]
width = 16
[[losses]]
name = "ce"
"""


@dataclass
class Case:
    area: str
    what: str  # the bad input, as a user would describe it
    args: Callable[[Path, Path], list[str]]  # (tmp_path, a finished run dir) -> argv after `memtui`
    expect: str  # a fragment of the one-line answer; for an accepted input, what happens instead
    setup: Callable[[Path, Path], None] | None = None
    accepted: bool = False  # not an error at all: the command succeeds (exit 0)
    check: Callable[[Path], None] | None = None  # what must hold of the run dir afterwards


def preset_file(text: str) -> Callable[[Path, Path], list[str]]:
    def args(tmp: Path, _run: Path) -> list[str]:
        path = tmp / "bad.toml"
        path.write_text(text)
        return ["run", "--no-ui", "--preset", str(path), "--out", str(tmp / "out")]
    return args


def run_args(*extra: str) -> Callable[[Path, Path], list[str]]:
    return lambda tmp, _run: ["run", "--no-ui", *extra, "--out", str(tmp / "out")]


def resume_args(*extra: str) -> Callable[[Path, Path], list[str]]:
    return lambda _tmp, run: ["run", "--no-ui", "--resume", str(run), *extra]


def on_run(command: str, *extra: str) -> Callable[[Path, Path], list[str]]:
    return lambda _tmp, run: [command, str(run), *extra]


def cut_last_line(_tmp: Path, run: Path) -> None:
    """What a kill -9 in the middle of a write leaves: a last line without its end."""
    metrics = run / "metrics.jsonl"
    metrics.write_bytes(metrics.read_bytes() + b'{"epoch": 3, "loss": "CE", "train_')


def every_line_whole(run: Path) -> None:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines][-1] == 3


def edit(path_in_run: str, content: bytes | None) -> Callable[[Path, Path], None]:
    def setup(_tmp: Path, run: Path) -> None:
        target = run / path_in_run
        if content is None:
            target.unlink()
        else:
            target.write_bytes(content)
    return setup


def newer_schema(name: str) -> Callable[[Path, Path], None]:
    def setup(_tmp: Path, run: Path) -> None:
        document = json.loads((run / name).read_text())
        document["schema_version"] = 99
        (run / name).write_text(json.dumps(document))
    return setup


CASES = [
    # -- command-line values -------------------------------------------------------------------
    Case("flag", "unknown preset name", run_args("--preset", "dmeo"),
         "unknown preset 'dmeo' (did you mean 'demo'?)"),
    Case("flag", "preset path that does not exist", run_args("--preset", "./nope.toml"),
         "preset file ./nope.toml does not exist"),
    Case("flag", "unknown loss", run_args("--losses", "ce,rl"),
         "--losses: unknown loss 'rl' (did you mean 'rll'?)"),
    Case("flag", "empty loss list", run_args("--losses", ","), "--losses: give at least one loss"),
    Case("flag", "noise above 1", run_args("--noise", "1.5"), "--noise: Input should be less than"),
    Case("flag", "noise below 0", run_args("--noise", "-0.1"),
         "--noise: Input should be greater than or equal to 0"),
    Case("flag", "zero epochs", run_args("--epochs", "0"), "--epochs: Input should be greater than 0"),
    Case("flag", "zero subset", run_args("--subset", "0"), "--subset: Input should be greater than 0"),
    Case("flag", "unknown device", run_args("--device", "tpu"), "--device: unknown device 'tpu'"),
    Case("flag", "data set missing offline",
         run_args("--preset", "mnist-noisy", "--data-dir", "/nonexistent"),
         "MNIST not found: expected MNIST/raw/"),
    Case("flag", "output dir under a regular file",
         lambda tmp, _run: ["run", "--no-ui", "--out", str(tmp / "afile" / "out")],
         "cannot be written", setup=lambda tmp, _run: (tmp / "afile").write_text("x")),
    Case("flag", "output dir that already holds a run",
         lambda _tmp, run: ["run", "--no-ui", "--out", str(run)], "already holds a run"),
    # -- preset files ----------------------------------------------------------------------------
    Case("preset", "malformed TOML", preset_file("epochs = [1,\n"), "is not valid TOML"),
    Case("preset", "unknown top-level key", preset_file("epoch = 3\n"),
         "epoch: unknown key (did you mean 'epochs'?)"),
    Case("preset", "unknown nested key", preset_file("[model]\nwidht = 3\n"),
         "model.widht: unknown key (did you mean 'width'?)"),
    Case("preset", "unknown model", preset_file("[model]\narch = 'mpl'\n"),
         "model.arch: unknown model 'mpl' (did you mean 'mlp'?)"),
    Case("preset", "unknown data set", preset_file("[data]\ndataset = 'mnsit'\n"),
         "data.dataset: unknown data set 'mnsit' (did you mean 'mnist'?)"),
    Case("preset", "unknown label corruption", preset_file("[corruption]\nlabels = 'pairflop'\n"),
         "corruption.labels: 'pairflop' is not valid (did you mean 'pairflip'?)"),
    Case("preset", "zero batch size", preset_file("batch_size = 0\n"),
         "batch_size: Input should be greater than 0"),
    Case("preset", "wrong type", preset_file("epochs = 'ten'\n"), "epochs: Input should be a valid integer"),
    Case("preset", "no losses", preset_file("losses = []\n"), "losses: List should have at least 1 item"),
    Case("preset", "unknown loss parameter",
         preset_file("[[losses]]\nname = 'rll'\nparams = { alpah = 1.0 }\n"),
         "loss 'rll' has no parameter 'alpah' (did you mean 'alpha'?)"),
    Case("preset", "two losses with one display name",
         preset_file("[[losses]]\nname = 'rll'\n[[losses]]\nname = 'rll'\n"),
         "two losses are both shown as 'RLL'"),
    Case("preset", "file that is not UTF-8",
         lambda tmp, _run: (tmp.joinpath("bin.toml").write_bytes(b"\xff\xfe\x00"),
                            ["run", "--no-ui", "--preset", str(tmp / "bin.toml")])[1],
         "cannot be read"),
    # -- run directories given to --resume -----------------------------------------------------
    Case("run dir", "resume a directory that does not exist",
         lambda tmp, _run: ["run", "--resume", str(tmp / "missing")], "does not exist"),
    Case("run dir", "resume an empty directory",
         lambda tmp, _run: (tmp.joinpath("empty").mkdir(), ["run", "--resume", str(tmp / "empty")])[1],
         "is not a memtui run directory (no config.json)"),
    Case("run dir", "resume without a checkpoint", resume_args("--epochs", "5"),
         "has no checkpoint.pt to resume from", setup=edit("checkpoint.pt", None)),
    Case("run dir", "resume a damaged checkpoint", resume_args("--epochs", "5"), "it is damaged",
         setup=edit("checkpoint.pt", b"not a checkpoint")),
    Case("run dir", "config.json that is not JSON", resume_args("--epochs", "5"),
         "config.json is not valid JSON", setup=edit("config.json", b"{\"schema_version\": 1,")),
    Case("run dir", "config.json of a newer memtui", resume_args("--epochs", "5"),
         "written by a newer memtui", setup=newer_schema("config.json")),
    Case("run dir", "metrics.jsonl with a broken line in the middle", resume_args("--epochs", "5"),
         "metrics.jsonl: line 1 is not valid JSON",
         setup=lambda _tmp, run: (run / "metrics.jsonl").write_bytes(
             b"{oops\n" + (run / "metrics.jsonl").read_bytes())),
    Case("run dir", "resume a run that completed all its epochs", resume_args(),
         "completed all 2 epochs; pass --epochs N with N > 2"),
    Case("run dir", "resume with fewer epochs than done", resume_args("--epochs", "1"),
         "--epochs: the run has completed 2 epochs already"),
    Case("run dir", "extend a run whose learning rate followed a cosine schedule",
         resume_args("--epochs", "5"), "--epochs cannot extend a run with a cosine schedule",
         setup=lambda _tmp, run: (run / "config.json").write_text(
             (run / "config.json").read_text().replace('"kind": "constant"', '"kind": "cosine"'))),
    Case("run dir", "resume with an override that changes the experiment",
         resume_args("--noise", "0.2"), "--noise cannot be combined with --resume"),
    Case("run dir", "resume a run whose metrics.jsonl ends in a cut line (kill -9 mid-write)",
         resume_args("--epochs", "3"), "the cut line is dropped and the run goes on from its "
         "checkpoint", setup=cut_last_line, accepted=True, check=lambda run: every_line_whole(run)),
    # -- run directories given to watch and report ----------------------------------------------
    Case("watch", "a directory that does not exist",
         lambda tmp, _run: ["watch", str(tmp / "missing")], "does not exist"),
    Case("watch", "an empty directory",
         lambda tmp, _run: (tmp.joinpath("empty").mkdir(), ["watch", str(tmp / "empty")])[1],
         "is not a memtui run directory (no config.json)"),
    Case("watch", "no argument, and no runs under ./runs", lambda _tmp, _run: ["watch"],
         "no runs found under runs; start one with `memtui run`"),
    Case("watch", "a run of a newer memtui", on_run("watch"), "written by a newer memtui",
         setup=newer_schema("config.json")),
    Case("report", "a directory that does not exist",
         lambda tmp, _run: ["report", str(tmp / "missing")], "does not exist"),
    Case("report", "a run without summary.json (still going, or killed)", on_run("report"),
         "the run is still going or was killed before it finished; follow it with `memtui watch",
         setup=edit("summary.json", None)),
    Case("report", "a truncated summary.json", on_run("report"), "summary.json is not valid JSON",
         setup=edit("summary.json", b'{"schema_version": 1, "status": "comp')),
    Case("report", "a summary.json of a newer memtui", on_run("report"),
         "written by a newer memtui", setup=newer_schema("summary.json")),
    Case("report", "an unknown --format", on_run("report", "--format", "xml"),
         "Invalid value for '--format' / '-f': 'xml' is not valid; valid: table, markdown, csv, json"),
    Case("report", "--plot to an unsupported file type", on_run("report", "--plot", "curves.gif"),
         "--plot: cannot draw 'curves.gif'; give a file ending in .svg or .png"),
    Case("report", "a run whose metrics.jsonl ends in a cut line (kill -9 mid-write)",
         on_run("report", "--format", "csv"), "the cut line is ignored; the whole lines are reported",
         setup=cut_last_line, accepted=True),
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("finished") / "run"
    path.mkdir()
    config = load_preset("demo").model_copy(update={"epochs": 2, "out": path})
    config.schedule.kind = "constant"  # so that --epochs may extend it
    config = config.model_copy(update={"data": config.data.model_copy(update={"subset": 300})})
    start_run(config).execute()
    return path


def fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file()}


def answer(argv: list[str], capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["memtui", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


def run_case(case: Case, tmp_path: Path, finished_run: Path, capsys, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    if case.setup:
        case.setup(tmp_path, run)
    before = fingerprint(run)
    monkeypatch.chdir(tmp_path)
    code, stderr = answer(case.args(tmp_path, run), capsys, monkeypatch)
    return code, stderr, before, fingerprint(run)


REFUSED = [c for c in CASES if not c.accepted]
ACCEPTED = [c for c in CASES if c.accepted]


@pytest.mark.parametrize("case", REFUSED, ids=[f"{c.area}: {c.what}" for c in REFUSED])
def test_bad_input_gets_one_clear_line_exit_2_and_loses_nothing(case, tmp_path, finished_run,
                                                              capsys, monkeypatch):
    code, stderr, before, after = run_case(case, tmp_path, finished_run, capsys, monkeypatch)
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("memtui: error: "), stderr
    assert case.expect in lines[0]
    assert "Traceback" not in stderr
    assert before == after, "an existing run directory must not change"
    assert not (tmp_path / "out").exists(), "a refused run leaves no directory behind"


@pytest.mark.parametrize("case", ACCEPTED, ids=[f"{c.area}: {c.what}" for c in ACCEPTED])
def test_damage_a_kill_can_do_is_not_an_error(case, tmp_path, finished_run, capsys, monkeypatch):
    code, stderr, _, _ = run_case(case, tmp_path, finished_run, capsys, monkeypatch)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    if case.check:
        case.check(tmp_path / "run")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_names_the_devices_that_would_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stderr = answer(["run", "--no-ui", "--device", "cuda", "--out", "o"], capsys, monkeypatch)
    assert code == 2
    assert "no CUDA device; valid here: auto, cpu" in stderr


def render_catalogue(rows: list[tuple[Case, str]]) -> str:
    lines = [
        "# Bad-input catalogue",
        "",
        "Every bad input we have tried, and memtui's answer: always one line on stderr, exit code "
        "2, no traceback, and no file of an existing run directory changed. Each row is a case of "
        "`tests/test_bad_inputs.py`, which checks exactly this; the answers below are what it "
        "printed (temporary paths shortened to `…`). Regenerate with "
        "`MEMTUI_WRITE_CATALOGUE=1 pytest tests/test_bad_inputs.py`.",
        "",
        "| where | bad input | memtui answers |",
        "| --- | --- | --- |",
    ]
    for case, message in rows:
        escaped = message.replace("|", "\\|")
        if case.accepted:
            answer = f"accepted (exit 0): {case.expect}"
        elif "`" in escaped:
            answer = f"`` {escaped} ``"  # the message quotes a command
        else:
            answer = f"`{escaped}`"
        lines.append(f"| {case.area} | {case.what} | {answer} |")
    lines += [
        "",
        "Also checked elsewhere: a `--device cuda` request on a machine without CUDA "
        "(`tests/test_bad_inputs.py`), a truncated last line of metrics.jsonl, which readers skip "
        "as a write in progress while a run is followed (`tests/test_runlog.py`, "
        "`tests/tui/test_watch.py`), and random preset documents (the property tests in the same "
        "file: the loader never raises anything but its own config error).",
        "",
    ]
    return "\n".join(lines)


def test_the_catalogue_in_docs_is_this_table(tmp_path_factory, finished_run, capsys, monkeypatch):
    rows = []
    for case in CASES:
        tmp = tmp_path_factory.mktemp("case")
        with monkeypatch.context() as patch:
            _, stderr, _, _ = run_case(case, tmp, finished_run, capsys, patch)
        message = stderr.strip().removeprefix("memtui: error: ").replace(str(tmp), "…")
        # The list of shipped presets grows; the catalogue should not have to.
        message = re.sub(r"shipped presets: [^(]*\(", "shipped presets: … (", message)
        rows.append((case, message))
    rendered = render_catalogue(rows)
    if os.environ.get("MEMTUI_WRITE_CATALOGUE"):
        CATALOGUE.parent.mkdir(exist_ok=True)
        CATALOGUE.write_text(rendered)
    assert CATALOGUE.read_text() == rendered, (
        "docs/bad-inputs.md is out of date: MEMTUI_WRITE_CATALOGUE=1 pytest tests/test_bad_inputs.py")


# -- random preset documents --------------------------------------------------------------------

KEYS = ["name", "description", "data", "dataset", "subset", "corruption", "labels", "noise",
        "inputs", "model", "arch", "width", "depth", "losses", "params", "alpha", "label", "optimizer",
        "lr", "momentum", "schedule", "kind", "milestones", "epochs", "batch_size", "seed", "device",
        "precision", "out", "eval_every", "backend", "random", "mlp", "ce", "rll", "cuda"]
scalars = (st.integers(-10**12, 10**12) | st.floats(allow_nan=True, allow_infinity=True)
           | st.booleans() | st.sampled_from(KEYS) | st.text(max_size=8))
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.dictionaries(st.sampled_from(KEYS), documents, max_size=6))
def test_the_preset_loader_raises_nothing_but_config_error(document, tmp_path):
    import tomli_w

    path = tmp_path / "random.toml"
    try:
        path.write_text(tomli_w.dumps(document))
    except (TypeError, ValueError):  # not representable as TOML (e.g. mixed-type arrays in old TOML)
        return
    try:
        load_preset(str(path))
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_text_as_a_preset_gives_a_config_or_a_config_error(text, tmp_path):
    path = tmp_path / "random.toml"
    path.write_bytes(text.encode("utf-8", errors="replace"))
    try:
        load_preset(str(path))
    except ConfigError as exc:
        assert str(exc)
