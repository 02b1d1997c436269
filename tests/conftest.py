"""Shared fixtures: tiny experiments that train in well under a second on a CPU."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from memtui.config import ExperimentConfig, validate

from helpers import Recorder, tiny_document


@pytest.fixture
def tiny_config():
    """Factory: tiny_config(epochs=3, losses=[...]) -> a validated ExperimentConfig."""

    def make(**changes: Any) -> ExperimentConfig:
        return validate(tiny_document(**changes))

    return make


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    # Caches and default run folders of a test never touch the user's home or the repo.
    monkeypatch.setenv("MEMTUI_CACHE", str(tmp_path_factory.mktemp("cache")))
    # One thread: the models are tiny, and on a loaded machine extra threads only contend.
    torch.set_num_threads(1)
    yield


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
