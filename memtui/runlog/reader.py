"""Reading a run directory back: for watch, report, export, resume and sweeps.

Replaying a directory is one event per line, between the RunStarted of config.json and the
RunFinished of summary.json. A reader following a live run reads metrics.jsonl by byte offset and
never sees half a line. Nothing here imports torch or the config schema, so watch and report
start fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memtui.errors import RunDirError
from memtui.events import EpochEnded, Event
from memtui.runlog.layout import (
    CONFIG_FILE,
    ERROR_LOG,
    METRICS_FILE,
    SUMMARY_FILE,
    is_run_file,
    open_run_file,
    read_json_object,
)
from memtui.runlog.records import EPOCH_METRICS, RecordDecoder, run_finished, run_started
from memtui.runlog.schema import check_meta, check_summary, check_version
from memtui.runstate import RunState


@dataclass
class RunRecord:
    path: Path
    meta: dict[str, Any]  # config.json
    records: list[dict[str, Any]]  # metrics.jsonl, whole lines only
    summary: dict[str, Any] | None  # None while the run is still going (or was killed)

    @property
    def version(self) -> int:
        return int(self.meta.get("schema_version", 1))

    @property
    def loss_labels(self) -> list[str]:
        return [loss["label"] for loss in self.meta.get("losses", [])]

    @property
    def config(self) -> dict[str, Any]:
        return self.meta.get("config", {})

    def metrics_of(self, label: str) -> list[dict[str, Any]]:
        """The metric lines of one loss (either schema version)."""
        return [r for r in self.records if r.get("loss") == label and "diverged" not in r
                and r.get("event", EPOCH_METRICS) == EPOCH_METRICS]

    def events(self) -> list[Event]:
        """The events recorded in metrics.jsonl, in order (RunStarted and RunFinished aside)."""
        decoder = RecordDecoder(self.version, self.loss_labels, int(self.config.get("epochs", 0)))
        return decoder.decode(self.records, str(self.path / METRICS_FILE))

    @property
    def logged_epochs(self) -> int:
        """The last epoch metrics.jsonl holds whole (every loss's line and its end)."""
        return max((e.epoch for e in self.events() if isinstance(e, EpochEnded)), default=0)

    def replay(self) -> list[Event]:
        """Every event of the run as the engine emitted it (progress aside)."""
        events: list[Event] = [run_started(self.meta, self.path), *self.events()]
        if self.summary is not None:
            error_log = self.path / ERROR_LOG
            error = error_log.read_text("utf-8", errors="replace") if error_log.is_file() else None
            events.append(run_finished(self.summary, error))
        return events

    def state(self) -> RunState:
        """The run's read model, from its replayed events."""
        return RunState().apply_all(self.replay())


def _read_json(path: Path) -> dict[str, Any]:
    document = read_json_object(path)
    check_version(document, path)
    return document


def read_metrics(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Whole JSON lines of metrics.jsonl from byte ``offset``; the offset to continue from.

    A last line without its newline is a write in progress (or cut by a kill): it is left for
    the next call, so a reader following a live run never sees half a record.
    """
    try:
        with open_run_file(path) as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return [], offset
    except OSError as exc:
        raise RunDirError(f"{path} cannot be read ({exc.strerror})") from None
    end = chunk.rfind(b"\n") + 1
    records = []
    for number, line in enumerate(chunk[:end].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RunDirError(f"{path}: line {number} is not valid JSON") from None
        if not isinstance(record, dict):
            raise RunDirError(f"{path}: line {number} is not a JSON object")
        records.append(record)
    return records, offset + end


def check_run_dir(path: Path, what: str = "run directory") -> None:
    """RunDirError unless ``path`` is a directory, saying what it is instead."""
    if path.is_dir():
        return
    if path.exists():
        raise RunDirError(f"{path} is a file, not a {what}")
    raise RunDirError(f"{what} {path} does not exist")


def read_run(path: Path) -> RunRecord:
    """A run directory's files, checked: a RunDirError naming the file and field otherwise."""
    path = Path(path)
    check_run_dir(path)
    if not is_run_file(path / CONFIG_FILE):
        raise RunDirError(f"{path} is not a memtui run directory (no {CONFIG_FILE})")
    meta = _read_json(path / CONFIG_FILE)
    check_meta(meta, path / CONFIG_FILE)
    records, _ = read_metrics(path / METRICS_FILE)
    summary = _read_json(path / SUMMARY_FILE) if is_run_file(path / SUMMARY_FILE) else None
    if summary is not None:
        check_summary(summary, path / SUMMARY_FILE)
    record = RunRecord(path, meta, records, summary)
    counted = (summary or {}).get("epochs_completed")
    if isinstance(counted, int) and counted > record.logged_epochs:
        raise RunDirError(lost_epochs(path, record.logged_epochs, counted, SUMMARY_FILE))
    return record


def lost_epochs(path: Path, logged: int, counted: int, counter: str) -> str:
    """Why a run directory whose log ends before the epoch its summary or checkpoint counts is
    refused: reported or resumed, it would show those epochs as done, with no metrics."""
    lost = f"epoch {counted}" if counted == logged + 1 else f"epochs {logged + 1}-{counted}"
    return (f"{path / METRICS_FILE} holds {logged} whole epoch(s), but {counter} counts {counted}: "
            f"the log lost {lost} (its last lines cut, overwritten or deleted) and they cannot "
            "be rebuilt; restore the file, or start the run again")
