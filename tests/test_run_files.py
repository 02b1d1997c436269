"""Run files with arbitrary JSON values: whatever config.json, metrics.jsonl and summary.json hold,
`watch`'s reader, `report` (every format) and `--resume`'s reader answer with a MemtuiError (one
line) or work; no other exception ever reaches the user."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from memtui.errors import MemtuiError
from memtui.headless import print_summary
from memtui.report import report_runs
from memtui.runlog import META_FIELDS, health, read_run
from memtui.runstate import describe, format_duration
from memtui.session import start_run
from memtui.tui.sources import RunDirSource

from helpers import tiny_document

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=8,
)
PATHS = [*META_FIELDS, "schema_version", "config.seed", "config.losses", "losses.0",
         "losses.0.label", "losses.0.params", "losses.0.symmetric", "losses.1.name"]
SUMMARY_KEYS = ["status", "epochs_completed", "message", "losses", "schema_version", "losses.CE",
                "losses.CE.final", "losses.CE.best_test_acc", "losses.CE.epochs"]
METRIC_KEYS = ["event", "epoch", "loss", "test_acc", "train_acc", "memorized", "seconds",
               "epochs", "diverged", "images_per_s"]

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    from memtui.config import validate

    path = tmp_path_factory.mktemp("files") / "run"
    start_run(validate(tiny_document(epochs=2, out=str(path)))).execute()
    return path


def _set(document, dotted: str, value, delete: bool) -> None:
    *parents, leaf = dotted.split(".")
    target = document
    for part in parents:
        if isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        elif isinstance(target, dict) and part in target:
            target = target[part]
        else:
            return
    if isinstance(target, dict):
        if delete:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    elif isinstance(target, list) and leaf.isdigit() and int(leaf) < len(target):
        target[int(leaf)] = value


def every_reader(run: Path) -> None:
    """What watch, report and resume read of a run; MemtuiError is the only way to refuse."""
    try:
        record = read_run(run)
        state = record.state()
        describe(state)
        format_duration(state.elapsed())
        state.eta()
        state.fraction_done  # noqa: B018
        print_summary(Console(file=io.StringIO(), width=80), state, run)
        source = RunDirSource(run)
        source.poll()
        source.health()
        health(run)
        for fmt in ("table", "markdown", "csv", "json"):
            report_runs([run], fmt, None, out=io.StringIO())
    except MemtuiError as exc:
        assert str(exc) and "\n" not in str(exc)


@SETTINGS
@given(edits=st.lists(st.tuples(st.sampled_from(PATHS), json_values, st.booleans()), min_size=1,
                      max_size=3))
def test_config_json_with_any_values(edits, finished, tmp_path):
    run = tmp_path / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(finished, run)
    meta = json.loads((run / "config.json").read_text())
    for dotted, value, delete in edits:
        _set(meta, dotted, value, delete)
    (run / "config.json").write_text(json.dumps(meta))
    every_reader(run)


@SETTINGS
@given(line=st.integers(0, 7), edits=st.lists(st.tuples(st.sampled_from(METRIC_KEYS), json_values,
                                                      st.booleans()), min_size=1, max_size=3),
       raw=st.none() | json_values)
def test_metrics_lines_with_any_values(line, edits, raw, finished, tmp_path):
    run = tmp_path / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(finished, run)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    index = line % len(lines)
    if raw is not None:
        lines[index] = json.dumps(raw)
    else:
        record = json.loads(lines[index])
        for key, value, delete in edits:
            _set(record, key, value, delete)
        lines[index] = json.dumps(record)
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    every_reader(run)


@SETTINGS
@given(edits=st.lists(st.tuples(st.sampled_from(SUMMARY_KEYS), json_values, st.booleans()),
                      min_size=1, max_size=3),
       whole=st.none() | json_values)
def test_summary_json_with_any_values(edits, whole, finished, tmp_path):
    run = tmp_path / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(finished, run)
    summary = json.loads((run / "summary.json").read_text())
    if whole is not None:
        summary = whole
    else:
        for dotted, value, delete in edits:
            _set(summary, dotted, value, delete)
    (run / "summary.json").write_text(json.dumps(summary))
    every_reader(run)


@SETTINGS
@given(document=st.dictionaries(st.sampled_from(["host", "pid", "heartbeat", "finished", "x"]),
                                json_values, max_size=5) | json_values)
def test_writer_json_with_any_values_never_fails_health(document, finished, tmp_path):
    run = tmp_path / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(finished, run)
    (run / "summary.json").unlink()
    (run / "writer.json").write_text(json.dumps(document))
    assert health(run).state in ("running", "stale", "gone")
