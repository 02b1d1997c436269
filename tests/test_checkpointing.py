"""Specification of the checkpoint policy: when a run writes its checkpoint, and that what it
writes is the last good epoch boundary, once."""

from __future__ import annotations

import pytest
import torch

from memtui.checkpoint import CHECKPOINT_FILE, Checkpoint
from memtui.checkpointing import Checkpointer
from memtui.errors import RunWriteError


def boundary(epochs: int) -> Checkpoint:
    return Checkpoint(epochs_completed=epochs, bank={"w": torch.tensor([float(epochs)])},
                      active=[0], noisy_labels=torch.zeros(4, dtype=torch.int64),
                      rng=torch.get_rng_state())


def test_due_at_the_first_boundary_every_n_epochs_and_after_the_time_budget(tmp_path):
    policy = Checkpointer(tmp_path, every=5, seconds=3600)
    assert policy.due(1)  # nothing on disk yet: a run killed after epoch 1 must resume
    policy.keep(boundary(1))
    policy.save()
    assert not policy.due(2) and not policy.due(4)
    assert policy.due(5) and policy.due(10)
    policy.seconds = 0  # the budget since the last write has run out
    assert policy.due(2)


def test_a_resumed_run_counts_its_checkpoint_on_disk(tmp_path):
    assert not Checkpointer(tmp_path, every=5, seconds=3600, saved_epoch=3).due(4)


def test_save_writes_the_kept_boundary_once(tmp_path, monkeypatch):
    policy = Checkpointer(tmp_path, every=1, seconds=3600)
    policy.save()  # nothing kept yet: nothing to write
    assert not (tmp_path / CHECKPOINT_FILE).exists()
    policy.keep(boundary(2))
    policy.save()
    assert Checkpoint.load(tmp_path).epochs_completed == 2
    writes = []
    monkeypatch.setattr(Checkpoint, "save", lambda self, run_dir: writes.append(run_dir))
    policy.save()  # the same boundary is on disk already
    assert writes == [] and policy.saved_epoch == 2


def test_a_failed_write_raises_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    policy = Checkpointer(tmp_path, every=1, seconds=3600)
    policy.keep(boundary(1))
    policy.save()

    def full_disk(self, run_dir):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Checkpoint, "save", full_disk)
    policy.keep(boundary(2))
    with pytest.raises(RunWriteError, match=f"cannot write .*{CHECKPOINT_FILE} \\(No space left"):
        policy.save()
    assert policy.saved_epoch == 1 and policy.due(2)
    monkeypatch.undo()
    assert Checkpoint.load(tmp_path).epochs_completed == 1
