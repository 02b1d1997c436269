"""The writer's lock on a run directory: one process writes a run at a time."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from memtui.errors import RunDirError
from memtui.runlog.health import writer_info
from memtui.runlog.layout import LOCK_FILE


class RunLock:
    """The writer's lock on a run directory (``flock`` on writer.lock). The OS releases it when
    the process exits, however it exits; ``release`` lets a process write the run again."""

    def __init__(self, handle: IO[str] | None) -> None:
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def lock_run_dir(run_dir: Path) -> RunLock:
    """Take the run directory for writing; RunDirError naming the writer if another has it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        return RunLock(None)
    path = Path(run_dir) / LOCK_FILE
    try:
        handle = path.open("a", encoding="utf-8")
    except OSError as exc:
        raise RunDirError(f"{run_dir} cannot be written ({exc.strerror or exc})") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        who = writer_info(Path(run_dir))
        named = (f"pid {who.get('pid')} on {who.get('host')}" if who else "another process")
        raise RunDirError(f"{run_dir} is being written by another memtui ({named}); stop it "
                          f"first, or follow it with `memtui watch {run_dir}`") from None
    return RunLock(handle)
