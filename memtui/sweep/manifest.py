"""``sweeps/<id>/manifest.json``: what a sweep is made of and how far each cell got.

```json
{"schema_version": 1, "kind": "memtui-sweep", "name": "noise-grid", "grid_file": "grid.toml",
 "base": "mnist-noisy", "axes": {"corruption.noise": [0.0, 0.2]}, "fixed": {"epochs": 20},
 "resources": {...}, "created": "...", "updated": "...",
 "cells": [{"name": "noise-0_seed-0", "overrides": {"corruption.noise": 0.0, "seed": 0},
            "status": "completed", "attempts": 1, "epochs_completed": 20, "message": ""}]}
```

Status: pending (not started), running, completed, failed, stopped (ctrl-c). The cells'
run directories are the truth; the manifest is rewritten (atomically) by the one process that
drives the sweep, after every change.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from memtui.errors import RunDirError
from memtui.runlog import check_run_dir, is_run_file, read_json_object, write_json_atomic

SCHEMA_VERSION = 1
MANIFEST_FILE = "manifest.json"
GRID_COPY = "grid.toml"
CELLS_DIR = "cells"
STATUSES = ("pending", "running", "completed", "failed", "stopped")


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def is_sweep_dir(path: Path) -> bool:
    return (Path(path) / MANIFEST_FILE).is_file()


class Manifest:
    def __init__(self, sweep_dir: Path, document: dict[str, Any]) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.document = document

    # -- creation and reading ----------------------------------------------------------------

    @classmethod
    def create(cls, sweep_dir: Path, grid) -> Manifest:
        document = {
            "schema_version": SCHEMA_VERSION,
            "kind": "memtui-sweep",
            "name": grid.name,
            "description": grid.description,
            "grid_file": GRID_COPY,
            "base": grid.base,
            "axes": grid.axes,
            "fixed": grid.fixed,
            "resources": grid.resources.model_dump(),
            "created": now(),
            "updated": now(),
            "cells": [{"name": cell.name, "overrides": cell.overrides, "status": "pending",
                       "attempts": 0, "epochs": cell.config.epochs, "epochs_completed": 0,
                       "message": ""} for cell in grid.cells],
        }
        manifest = cls(sweep_dir, document)
        manifest.save()
        return manifest

    @classmethod
    def load(cls, sweep_dir: Path) -> Manifest:
        path = Path(sweep_dir) / MANIFEST_FILE
        check_run_dir(Path(sweep_dir), "sweep directory")
        if not is_run_file(path):
            raise RunDirError(f"{sweep_dir} is not a memtui sweep directory (no {MANIFEST_FILE})")
        document = read_json_object(path)
        if not isinstance(document.get("cells"), list):
            raise RunDirError(f"{path} is not a memtui sweep manifest")
        version = document.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise RunDirError(f"{path} was written by a newer memtui (schema {version}); upgrade "
                              "memtui to read it")
        return cls(sweep_dir, document)

    def save(self) -> None:
        self.document["updated"] = now()
        write_json_atomic(self.sweep_dir / MANIFEST_FILE, self.document)

    # -- access ------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self.document.get("name", self.sweep_dir.name))

    @property
    def axes(self) -> dict[str, list[Any]]:
        return dict(self.document.get("axes", {}))

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.document.get("resources", {}))

    @property
    def cells(self) -> list[dict[str, Any]]:
        return self.document["cells"]

    def cell(self, name: str) -> dict[str, Any]:
        return next(c for c in self.cells if c["name"] == name)

    def cell_dir(self, name: str) -> Path:
        return self.sweep_dir / CELLS_DIR / name

    def update(self, name: str, **changes: Any) -> None:
        self.cell(name).update(changes)
        self.save()

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for cell in self.cells:
            counts[cell["status"]] = counts.get(cell["status"], 0) + 1
        return counts
