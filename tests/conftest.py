"""Shared fixtures: tiny experiments that train in well under a second on a CPU."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from memtui.config import ExperimentConfig, validate

SHARED_DATA = Path(os.environ.get("MEMTUI_SHARED_DATA", "/work/shared/data"))


def tiny_document(**changes: Any) -> dict[str, Any]:
    """An experiment on 256 embedded demo images with a 16-unit MLP: two epochs take a blink."""
    document: dict[str, Any] = {
        "name": "tiny",
        "data": {"dataset": "demo", "subset": 256, "test_subset": 128},
        "corruption": {"labels": "random", "noise": 0.4},
        "model": {"arch": "mlp", "width": 16, "depth": 1},
        "losses": [{"name": "ce"}, {"name": "mse"}, {"name": "rll"}],
        "optimizer": {"name": "sgd", "lr": 0.1},
        "epochs": 2,
        "batch_size": 64,
        "eval_batch_size": 512,
        "device": "cpu",
        "backend": "separate",
        "seed": 0,
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return document


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


class Recorder:
    """A sink that keeps every event it is given."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def handle(self, event: Any) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
