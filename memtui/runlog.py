"""The run directory: its writer (an event sink) and its reader (for watch and report).

Layout of ``runs/<timestamp>-<name>/``:

- ``config.json``   the resolved experiment, the losses, the device and the data set's sizes
- ``metrics.jsonl`` one line per loss per epoch, flushed as written; a loss that diverged gets a
                    line ``{"epoch", "loss", "diverged": reason}`` instead
- ``summary.json``  written at the end (completed, stopped or failed): final and best per loss

Every file carries ``schema_version``; readers refuse a newer one. JSON files are written to a
temporary name and renamed, so a killed process never leaves half a file behind.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from memtui.config import ExperimentConfig
from memtui.errors import RunDirError
from memtui.events import (
    EpochEnded,
    EpochMetrics,
    Event,
    LossDiverged,
    RunFinished,
    RunStarted,
)

SCHEMA_VERSION = 1
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
ERROR_LOG = "error.log"  # tracebacks of failed steps and runs; displays show one line


def default_run_dir(config: ExperimentConfig, runs_root: Path = Path("runs"),
                    now: datetime | None = None) -> Path:
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "-", config.name).strip("-") or "run"
    return runs_root / f"{stamp}-{safe_name}"


def create_run_dir(path: Path) -> Path:
    """Make an empty run directory; refuse one that already holds a run, so nothing is overwritten."""
    if (path / METRICS_FILE).exists() or (path / CONFIG_FILE).exists():
        raise RunDirError(f"output directory {path} already holds a run; choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".memtui-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RunDirError(f"output directory {path} cannot be written ({reason}); "
                          "choose another with --out") from None
    return path


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=2, allow_nan=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_lines_atomic(path: Path, records: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, allow_nan=False) + "\n" for r in records)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    """Non-finite floats become null: JSON has no NaN, and a line must stay valid JSON."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in values.items()}


def summarize(records: list[dict[str, Any]], status: str, epochs_completed: int,
              loss_labels: list[str], message: str = "") -> dict[str, Any]:
    """summary.json's document, computed from metrics.jsonl's records."""
    per_loss: dict[str, Any] = {}
    for label in loss_labels:
        rows = [r for r in records if r.get("loss") == label and "diverged" not in r]
        diverged = next((r["diverged"] for r in records
                         if r.get("loss") == label and "diverged" in r), None)
        rated = [r for r in rows if r.get("test_acc") is not None]
        best = max(rated, key=lambda r: r["test_acc"]) if rated else None
        per_loss[label] = {
            "epochs": len(rows),
            "diverged": diverged,
            "final": {k: v for k, v in rows[-1].items() if k not in ("epoch", "loss")} if rows else None,
            "best_test_acc": best["test_acc"] if best else None,
            "best_epoch": best["epoch"] if best else None,
        }
    return {"schema_version": SCHEMA_VERSION, "status": status, "epochs_completed": epochs_completed,
            "message": message, "losses": per_loss}


class RunLogWriter:
    """A sink that keeps the run directory up to date as events arrive.

    ``resume_after``: continue a run from a checkpoint of that epoch. Lines of later epochs (the
    run went on past its last checkpoint before it was killed) are dropped, since the resumed run
    measures those epochs again.
    """

    def __init__(self, run_dir: Path, resume_after: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.records: list[dict[str, Any]] = []
        self.loss_labels: list[str] = []
        self.resume_after = resume_after
        self._metrics = None

    #: The run log failing (a full disk, say) must fail the run; a display failing must not.
    critical = True

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.loss_labels = [info.label for info in event.losses]
            now = datetime.now().isoformat(timespec="seconds")
            meta: dict[str, Any] = {
                "schema_version": SCHEMA_VERSION,
                "config": event.config,
                "losses": [asdict(info) for info in event.losses],
                "device": event.device,
                "num_train": event.num_train,
                "num_test": event.num_test,
                "num_corrupted": event.num_corrupted,
                "started": now,
            }
            if self.resume_after is not None:
                # Only now, with the engine restored and running, are later epochs dropped: a
                # resume that fails before this point leaves the directory as it was.
                records, _ = read_metrics(self.run_dir / METRICS_FILE)
                self.records = [r for r in records if r.get("epoch", 0) <= self.resume_after]
                _write_lines_atomic(self.run_dir / METRICS_FILE, self.records)
                previous = _read_json(self.run_dir / CONFIG_FILE)
                meta["started"] = previous.get("started", now)
                meta["resumed"] = [*previous.get("resumed", []),
                                   {"at": now, "after_epoch": self.resume_after}]
                # A summary would tell watchers the run is over; the resumed run writes a new one.
                (self.run_dir / SUMMARY_FILE).unlink(missing_ok=True)
            write_json_atomic(self.run_dir / CONFIG_FILE, meta)
            self._metrics = (self.run_dir / METRICS_FILE).open("a", encoding="utf-8")
        elif isinstance(event, EpochMetrics):
            self._append({"epoch": event.epoch, "loss": event.loss, **_json_safe(event.values)})
        elif isinstance(event, LossDiverged):
            self._append({"epoch": event.epoch, "loss": event.loss, "diverged": event.reason})
            if event.detail:
                with (self.run_dir / ERROR_LOG).open("a", encoding="utf-8") as log:
                    log.write(f"{event.loss}, epoch {event.epoch}:\n{event.detail}\n")
        elif isinstance(event, EpochEnded) and self._metrics is not None:
            os.fsync(self._metrics.fileno())
        elif isinstance(event, RunFinished):
            if self._metrics is not None:
                self._metrics.close()
                self._metrics = None
            summary = summarize(self.records, event.status, event.epochs_completed,
                                self.loss_labels, event.message)
            write_json_atomic(self.run_dir / SUMMARY_FILE, summary)
            if event.error:
                with (self.run_dir / ERROR_LOG).open("a", encoding="utf-8") as log:
                    log.write(event.error)

    def _append(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        assert self._metrics is not None, "metrics before RunStarted"
        # One write per line keeps each line whole even if the process dies right after it.
        self._metrics.write(json.dumps(record, allow_nan=False) + "\n")
        self._metrics.flush()


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass
class RunRecord:
    path: Path
    meta: dict[str, Any]  # config.json
    records: list[dict[str, Any]]  # metrics.jsonl, whole lines only
    summary: dict[str, Any] | None  # None while the run is still going (or was killed)

    @property
    def loss_labels(self) -> list[str]:
        return [loss["label"] for loss in self.meta.get("losses", [])]

    @property
    def config(self) -> dict[str, Any]:
        return self.meta.get("config", {})

    def metrics_of(self, label: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("loss") == label and "diverged" not in r]


def _check_version(document: dict[str, Any], path: Path) -> None:
    version = document.get("schema_version")
    if not isinstance(version, int):
        raise RunDirError(f"{path} has no schema_version; is it a memtui run directory?")
    if version > SCHEMA_VERSION:
        raise RunDirError(f"{path} was written by a newer memtui (schema {version}, this one reads "
                          f"up to {SCHEMA_VERSION}); upgrade memtui to read it")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, dict):
        raise RunDirError(f"{path} is not a JSON object")
    _check_version(document, path)
    return document


def read_metrics(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Whole JSON lines of metrics.jsonl from byte ``offset``; the offset to continue from.

    A last line without its newline is a write in progress (or cut by a kill): it is left for
    the next call, so a reader following a live run never sees half a record.
    """
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1
    records = []
    for number, line in enumerate(chunk[:end].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise RunDirError(f"{path}: line {number} is not valid JSON") from None
        if isinstance(record, dict):
            records.append(record)
    return records, offset + end


def read_run(path: Path) -> RunRecord:
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"run directory {path} does not exist")
    if not (path / CONFIG_FILE).is_file():
        raise RunDirError(f"{path} is not a memtui run directory (no {CONFIG_FILE})")
    meta = _read_json(path / CONFIG_FILE)
    records, _ = read_metrics(path / METRICS_FILE)
    summary = _read_json(path / SUMMARY_FILE) if (path / SUMMARY_FILE).is_file() else None
    return RunRecord(path, meta, records, summary)


def latest_run(runs_root: Path = Path("runs")) -> Path:
    candidates = [p for p in runs_root.glob("*") if (p / CONFIG_FILE).is_file()] if runs_root.is_dir() else []
    if not candidates:
        raise RunDirError(f"no runs found under {runs_root}; start one with `memtui run`")
    return max(candidates, key=lambda p: (p / CONFIG_FILE).stat().st_mtime)
