"""The runs and sweeps under a folder, one entry each: what `memtui ls` prints and what
`memtui watch` offers to pick from when it has several candidates.

An entry says what a user looks for when finding a run again: its status (completed, stopped,
failed, running, stale, process gone), preset, data set, label noise, epochs done of planned,
the best test accuracy of each loss and how long ago it was last written. A directory that
cannot be read is listed as ``unreadable`` with the reason, never skipped in silence and never
the end of the listing. Nothing here imports torch or a UI library.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from memtui.errors import MemtuiError
from memtui.runlog import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, WRITER_FILE, health, read_run
from memtui.sweep.manifest import MANIFEST_FILE, Manifest, is_sweep_dir

#: Where `memtui ls` and `memtui watch` look without an argument.
DEFAULT_ROOTS = (Path("runs"), Path("sweeps"))
#: health's states as ls names them; a finished run's status comes from its summary.
HEALTH_STATUS = {"running": "running", "stale": "stale", "gone": "process gone"}
COLUMNS = ("status", "name", "preset", "data", "noise", "epochs", "best test acc", "age")


@dataclass(frozen=True)
class Entry:
    kind: str  # "run" or "sweep"
    path: Path
    status: str  # completed, stopped, failed, running, stale, process gone, pending, unreadable
    preset: str = ""
    dataset: str = ""
    noise: str = ""  # e.g. "random 40%", or "noisy 20-60%" over a sweep's cells
    epochs_done: int = 0
    epochs: int = 0
    best_test_acc: dict[str, float | None] = field(default_factory=dict)  # loss label -> best
    updated: float = 0.0  # when it was last written (seconds since the epoch)
    note: str = ""  # why an unreadable entry could not be read; a sweep's cell counts

    @property
    def name(self) -> str:
        return self.path.name

    def cells(self, now: float | None = None) -> tuple[str, ...]:
        """The entry as the strings of COLUMNS."""
        best = " ".join(f"{label} {_percent(value)}" for label, value in self.best_test_acc.items())
        epochs = f"{self.epochs_done}/{self.epochs}" if self.epochs else ""
        if self.kind == "sweep":
            epochs = f"{epochs} {self.note}".strip()
        name = f"{self.name}/" if self.kind == "sweep" else self.name
        return (self.status, name, self.preset, self.dataset, self.noise, epochs,
                best or self.note, format_age(self.age(now)))

    def age(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.updated)

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path), "name": self.name,
                "status": self.status, "preset": self.preset, "dataset": self.dataset,
                "noise": self.noise, "epochs_done": self.epochs_done, "epochs": self.epochs,
                "best_test_acc": self.best_test_acc,
                "updated": datetime.fromtimestamp(self.updated).isoformat(timespec="seconds"),
                "age_s": round(self.age(now), 1), "note": self.note}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def format_age(seconds: float) -> str:
    """'12 s', '5 min', '3 h', '2 d': how long ago, to one unit."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def _newest_write(folder: Path, names: tuple[str, ...]) -> float:
    stamps = [(folder / name).stat().st_mtime for name in names if (folder / name).is_file()]
    return max(stamps, default=folder.stat().st_mtime)


def _noise(config: dict[str, Any]) -> str:
    corruption = config.get("corruption", {})
    noise = corruption.get("noise")
    if not isinstance(noise, (int, float)):
        return ""
    return f"{corruption.get('labels', '?')} {noise:.0%}"


def run_entry(path: Path, now: float | None = None) -> Entry:
    """One run directory; ``unreadable`` with the reason when its files cannot be read."""
    path = Path(path)
    try:
        updated = _newest_write(path, (CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, WRITER_FILE))
        record = read_run(path)
        state = record.state()
    except (MemtuiError, OSError) as exc:
        return Entry("run", path, "unreadable", note=str(exc))
    if record.summary is not None:
        status = state.status
    else:
        status = HEALTH_STATUS.get(health(path, now).state, "running")
    config = state.config
    best = {label: (loss.best["test_acc"][0] if "test_acc" in loss.best else None)
            for label, loss in state.losses.items()}
    return Entry("run", path, status, preset=str(config.get("name", "")),
                 dataset=str(config.get("data", {}).get("dataset", "")), noise=_noise(config),
                 epochs_done=state.epochs_done, epochs=int(config.get("epochs", 0)),
                 best_test_acc=best, updated=updated)


def _sweep_status(manifest: Manifest, cells: list[Entry]) -> str:
    """running while a cell runs; process gone when the cells the manifest calls running are
    all gone (the sweep was killed); else the worst of failed, stopped, pending, completed."""
    live = [c.status for c in cells if c.status in ("running", "stale", "process gone")]
    if live:
        for status in ("running", "stale"):
            if status in live:
                return status
        return "process gone"
    counts = manifest.counts()
    for status in ("failed", "stopped"):
        if counts.get(status):
            return status
    if counts.get("running"):  # the manifest says running, no cell directory shows it
        return "process gone"
    if counts.get("pending"):
        return "pending" if not counts.get("completed") else "stopped"
    return "completed"


def sweep_entry(path: Path, now: float | None = None) -> Entry:
    """One sweep directory: its cells' figures together (epochs summed, best over cells)."""
    path = Path(path)
    try:
        manifest = Manifest.load(path)
        updated = _newest_write(path, (MANIFEST_FILE,))
    except (MemtuiError, OSError) as exc:
        return Entry("sweep", path, "unreadable", note=str(exc))
    cells = [run_entry(manifest.cell_dir(cell["name"]), now) for cell in manifest.cells
             if (manifest.cell_dir(cell["name"]) / CONFIG_FILE).is_file()]
    best: dict[str, float | None] = {}
    for cell in cells:
        for label, value in cell.best_test_acc.items():
            if value is not None and (best.get(label) is None or value > best[label]):  # type: ignore[operator]
                best[label] = value
            best.setdefault(label, None)
    base = manifest.document.get("base", "")
    first = cells[0] if cells else None
    noise_axis = manifest.axes.get("corruption.noise")
    noise = first.noise if first else ""
    if noise_axis and all(isinstance(v, (int, float)) for v in noise_axis):
        labels = noise.split(" ")[0] if noise else ""
        noise = f"{labels} {min(noise_axis):.0%}-{max(noise_axis):.0%}".strip()
    counts = manifest.counts()
    done = counts.get("completed", 0)
    return Entry("sweep", path, _sweep_status(manifest, cells), preset=str(base),
                 dataset=first.dataset if first else "", noise=noise,
                 epochs_done=sum(int(c.get("epochs_completed", 0) or 0) for c in manifest.cells),
                 epochs=sum(int(c.get("epochs", 0) or 0) for c in manifest.cells),
                 best_test_acc=best, updated=max([updated, *(c.updated for c in cells)]),
                 note=f"({done}/{len(manifest.cells)} cells)")


def entry(path: Path, now: float | None = None) -> Entry:
    return sweep_entry(path, now) if is_sweep_dir(path) else run_entry(path, now)


def _is_run_dir(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file()


def find(roots: list[Path] | None = None, now: float | None = None) -> list[Entry]:
    """Every run and sweep in ``roots`` (default ./runs and ./sweeps), newest first. A root
    may itself be a run or a sweep, or hold runs/ and sweeps/ (a project folder)."""
    found: dict[Path, Path] = {}  # resolved -> as given, so each directory is listed once
    for root in (roots if roots else list(DEFAULT_ROOTS)):
        root = Path(root)
        folders = [root, *(root / sub for sub in DEFAULT_ROOTS)]
        for folder in folders:
            if _is_run_dir(folder) or is_sweep_dir(folder):
                found.setdefault(folder.resolve(), folder)
            elif folder.is_dir():
                for child in sorted(p for p in folder.iterdir() if p.is_dir()):
                    if _is_run_dir(child) or is_sweep_dir(child):
                        found.setdefault(child.resolve(), child)
            if folder == root and (_is_run_dir(root) or is_sweep_dir(root)):
                break
    entries = [entry(path, now) for path in found.values()]
    return sorted(entries, key=lambda e: e.updated, reverse=True)


def table(entries: list[Entry], now: float | None = None) -> list[str]:
    """Aligned lines, a header first: `memtui ls`'s output (never wrapped: one line per entry)."""
    rows = [COLUMNS, *(e.cells(now) for e in entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in rows]
