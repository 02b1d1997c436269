"""Resumable checkpoints: the state of every loss's model, optimiser and schedule at an epoch
boundary, plus what is needed to check that a resumed run sees the same corrupted data.

Batch order needs no saved state: it is a function of (seed, epoch) (memtui.prepare.epoch_permutation).
The file is written to a temporary name and renamed, so a kill leaves the previous checkpoint.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from memtui.atomic import atomic_write
from memtui.errors import RunDirError

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_VERSION = 1


@dataclass
class Checkpoint:
    epochs_completed: int
    bank: dict[str, Any]  # ModelBank.state_dict()
    active: list[int]  # indices of the losses still training
    noisy_labels: torch.Tensor  # cpu int64: the corrupted labels the run trained on
    rng: torch.Tensor  # torch's CPU generator state (dropout-free models ignore it; kept anyway)
    cuda_rng: list[torch.Tensor] | None = None
    stopped: dict[str, str] = field(default_factory=dict)  # loss label -> why it stopped training
    ledger: dict[str, Any] | None = None  # Ledger.state_dict(); None: kept without the ledger

    def save(self, run_dir: Path) -> Path:
        path = Path(run_dir) / CHECKPOINT_FILE
        payload = {"version": CHECKPOINT_VERSION, **self.__dict__}
        # Serialised in memory first: a write that fails inside torch.save (a full disk, a
        # file-size limit) surfaces as a RuntimeError ("unexpected pos") that hides its OSError.
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        with atomic_write(path, "wb") as fh:
            fh.write(buffer.getbuffer())
        return path

    @classmethod
    def load(cls, run_dir: Path, device: torch.device | str = "cpu") -> Checkpoint:
        path = Path(run_dir) / CHECKPOINT_FILE
        if not path.is_file():
            raise RunDirError(f"{run_dir} has no {CHECKPOINT_FILE} to resume from (a run writes one "
                              "every checkpoint_every epochs and when it stops)")
        try:
            payload = torch.load(path, map_location=device, weights_only=True)
        except Exception as exc:
            raise RunDirError(f"{path} cannot be read ({type(exc).__name__}); it is damaged") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("version"), int):
            raise RunDirError(f"{path} is not a memtui checkpoint")
        if payload["version"] > CHECKPOINT_VERSION:
            raise RunDirError(f"{path} was written by a newer memtui (checkpoint version "
                              f"{payload['version']}); upgrade memtui to resume it")
        payload.pop("version")
        try:
            return cls(**payload)
        except TypeError:
            raise RunDirError(f"{path} is not a memtui checkpoint") from None
