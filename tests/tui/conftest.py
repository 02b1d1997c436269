"""Fixtures of the TUI tests: a small real engine run of the demo preset."""

from __future__ import annotations

from pathlib import Path

import pytest

from memtui.config import apply_overrides, load_preset
from memtui.engine import Engine
from memtui.runlog import RunLogWriter, create_run_dir


@pytest.fixture
def small_config(tmp_path: Path):
    """The demo preset cut down to seconds: 500 images, a 64-unit MLP, three losses."""
    return apply_overrides(load_preset("demo"), {
        "data.subset": 500, "epochs": 3, "model.width": 64, "out": tmp_path / "run",
    })


@pytest.fixture
def make_engine(small_config):
    """A prepared engine writing its run directory, as `memtui run` hands it to run_live."""

    def make(epochs: int = 3, extra_sinks=()) -> Engine:
        config = apply_overrides(small_config, {"epochs": epochs})
        run_dir = create_run_dir(config.out)
        engine = Engine(config, [RunLogWriter(run_dir), *extra_sinks], run_dir=str(run_dir))
        engine.prepare()
        return engine

    return make
