"""When a run writes its checkpoint, and which state: the last epoch boundary is kept in memory
(a stop mid-epoch checkpoints it, so a resumed run repeats no half-trained epoch) and written
when due and when the run ends. The file itself (format, atomic write) is memtui.checkpoint's."""

from __future__ import annotations

import time
from pathlib import Path

from memtui.checkpoint import CHECKPOINT_FILE, Checkpoint
from memtui.errors import RunWriteError, os_reason


class Checkpointer:
    """The checkpoint policy of one run directory.

    Due at the first epoch boundary (so a run killed after its first epoch resumes), every
    ``every`` epochs, and at the first boundary ``seconds`` after the last checkpoint: a kill
    loses at most about that much training."""

    def __init__(self, run_dir: Path, every: int, seconds: float, saved_epoch: int = -1) -> None:
        """``saved_epoch``: the epochs of the checkpoint already on disk (a resumed run's), -1
        for none."""
        self.run_dir = Path(run_dir)
        self.every = every
        self.seconds = seconds
        self.saved_epoch = saved_epoch
        self.saved_at = time.monotonic()
        #: The last good epoch boundary: what the next save writes.
        self.boundary: Checkpoint | None = None

    def keep(self, boundary: Checkpoint) -> None:
        self.boundary = boundary

    def start_clock(self) -> None:
        """Count ``seconds`` from now: the run's training starts."""
        self.saved_at = time.monotonic()

    def due(self, epoch: int) -> bool:
        return (self.saved_epoch < 0
                or epoch % self.every == 0
                or time.monotonic() - self.saved_at >= self.seconds)

    def save(self) -> None:
        """Write the kept boundary, unless it is on disk already. A failed write (a full disk)
        leaves the previous file and raises RunWriteError."""
        if self.boundary is None or self.boundary.epochs_completed == self.saved_epoch:
            return
        try:
            self.boundary.save(self.run_dir)
        except OSError as exc:
            kept = (f"; the checkpoint of epoch {self.saved_epoch} is kept" if self.saved_epoch > 0
                    else "")
            raise RunWriteError(f"cannot write {self.run_dir / CHECKPOINT_FILE} "
                                f"({os_reason(exc)}){kept}") from exc
        self.saved_epoch = self.boundary.epochs_completed
        self.saved_at = time.monotonic()
