"""Fixtures of the TUI tests: a small real engine run of the demo preset."""

from __future__ import annotations

from pathlib import Path

import pytest

from memtui.config import apply_overrides, load_preset
from memtui.session import Run, start_run


@pytest.fixture
def small_config(tmp_path: Path):
    """The demo preset cut down to seconds: 500 images, a 64-unit MLP, three losses."""
    return apply_overrides(load_preset("demo"), {
        "data.subset": 500, "epochs": 3, "model.width": 64, "out": tmp_path / "run",
    })


@pytest.fixture
def make_run(small_config):
    """A prepared run writing its run directory, as `memtui run` hands it to the live view."""

    def make(epochs: int = 3, extra_sinks=()) -> Run:
        return start_run(apply_overrides(small_config, {"epochs": epochs}), sinks=extra_sinks)

    return make
