"""What several test files share: the tiny experiment, an event recorder, the data folder.

(Test files import these from here, not from conftest.py: tests/tui has a conftest.py of its
own, and two modules named conftest cannot both be imported by name.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# ../shared/data beside the checkout (where CI puts it too), unless MEMTUI_SHARED_DATA says.
SHARED_DATA = Path(os.environ.get("MEMTUI_SHARED_DATA")
                   or Path(__file__).resolve().parents[2] / "shared" / "data")


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



class Recorder:
    """A sink that keeps every event it is given."""
    critical = False

    def __init__(self) -> None:
        self.events: list[Any] = []

    def handle(self, event: Any) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

#: tiny_document as a preset file, checkpointing at every epoch boundary (by time, set to 0).
TINY_TOML = """
name = "tiny"
epochs = 3
batch_size = 64
eval_batch_size = 512
device = "cpu"
backend = "separate"
checkpoint_seconds = 0
[data]
dataset = "demo"
subset = 256
test_subset = 128
[corruption]
labels = "random"
noise = 0.4
[model]
width = 16
[[losses]]
name = "ce"
[[losses]]
name = "rll"
"""


def full_disk_under_the_log(monkeypatch, from_epoch: int = 2) -> None:
    """The disk fills under metrics.jsonl: the run log's write of epoch ``from_epoch`` fails."""
    import errno
    import os

    from memtui.runlog import RunLogWriter

    real = RunLogWriter._append

    def append(self, record):
        if record.get("epoch") == from_epoch:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, record)

    monkeypatch.setattr(RunLogWriter, "_append", append)
