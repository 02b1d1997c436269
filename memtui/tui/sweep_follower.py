"""Reading a sweep for its board, without Textual: the manifest (again only when it changed) and
each cell's run directory through a RunDirSource into a RunState of its own, so a poll reads only
the lines that grew and skips finished cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from memtui.errors import RunDirError
from memtui.runlog import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE
from memtui.runstate import RunState
from memtui.sweep.manifest import MANIFEST_FILE, Manifest
from memtui.tui.sources import RunDirSource


@dataclass
class CellFollower:
    """One cell's run directory, read incrementally into its own RunState."""

    path: Path
    source: RunDirSource | None = None
    state: RunState = field(default_factory=RunState)
    #: the inodes of config.json and metrics.jsonl when the source was made: a retry that moves
    #: the run aside or a resume that rewrites metrics.jsonl replaces them, and reading starts over
    files: tuple[int, int] = (0, 0)

    def _files(self) -> tuple[int, int]:
        def inode(name: str) -> int:
            try:
                return (self.path / name).stat().st_ino
            except OSError:
                return 0
        return inode(CONFIG_FILE), inode(METRICS_FILE)

    def poll(self) -> bool:
        """Read what grew; True when the cell's state changed."""
        files = self._files()
        if self.source is not None and (files != self.files or (
                self.source.finished and not (self.path / SUMMARY_FILE).is_file())):
            self.source, self.state = None, RunState()  # rewritten under us: read it again
        if self.source is None:
            if not files[0]:
                return False  # not started yet
            try:
                self.source = RunDirSource(self.path)
            except RunDirError:
                return False  # config.json being written: next time
            self.files = files
        if self.source.finished:
            return False
        try:
            events = self.source.poll()
        except RunDirError:
            self.source, self.state = None, RunState()
            return True
        self.state.apply_all(events)
        return bool(events)


class SweepFollower:
    """The manifest and a CellFollower per cell; ``poll`` returns the names of changed cells."""

    def __init__(self, sweep_dir: Path) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.manifest = Manifest.load(self.sweep_dir)  # raises RunDirError before any UI starts
        self._manifest_stamp = self._stamp()
        self.cells: dict[str, CellFollower] = {}
        self._sync_cells()
        self.poll()  # what is there already, before the first frame

    def _stamp(self) -> tuple[int, int]:
        try:
            stat = (self.sweep_dir / MANIFEST_FILE).stat()
        except OSError:
            return (0, 0)
        return stat.st_ino, stat.st_mtime_ns

    def _sync_cells(self) -> None:
        for cell in self.manifest.cells:
            if cell["name"] not in self.cells:
                self.cells[cell["name"]] = CellFollower(self.manifest.cell_dir(cell["name"]))

    def poll(self) -> set[str]:
        changed: set[str] = set()
        stamp = self._stamp()
        if stamp != self._manifest_stamp:
            try:
                old = {c["name"]: dict(c) for c in self.manifest.cells}
                self.manifest = Manifest.load(self.sweep_dir)
                self._manifest_stamp = stamp
                self._sync_cells()
                changed |= {c["name"] for c in self.manifest.cells if old.get(c["name"]) != c}
            except RunDirError:
                pass  # caught mid-write on a file system without atomic rename: next time
        for name, follower in self.cells.items():
            if follower.poll():
                changed.add(name)
        return changed

    @property
    def loss_labels(self) -> list[str]:
        """Every cell's losses, in the order they first appear."""
        labels: dict[str, None] = {}
        for follower in self.cells.values():
            labels.update(dict.fromkeys(follower.state.losses))
        return list(labels)
