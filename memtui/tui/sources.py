"""Where the app's events come from: a live engine (a sink on the training thread) or a run
directory on disk (``memtui watch``). Both yield plain memtui.events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from memtui.events import (
    EpochEnded,
    EpochMetrics,
    Event,
    LossDiverged,
    LossInfo,
    RunFinished,
    RunStarted,
)
from memtui.runlog import METRICS_FILE, SUMMARY_FILE, read_metrics, read_run


class ForwardingSink:
    """An engine sink that hands every event to ``post`` and returns at once.

    ``post`` is the app's ``post_message`` wrapped in a message: it only schedules the message on
    the app's event loop (thread-safe, non-blocking), so training never waits on drawing. An event
    that arrives after the app has closed is dropped; the run log still gets it.
    """

    def __init__(self, post: Callable[[Event], Any]) -> None:
        self._post = post

    def handle(self, event: Event) -> None:
        try:
            self._post(event)
        except RuntimeError:
            # the app's loop is gone (the app is shutting down); the run log is the record
            pass


class RunDirSource:
    """Reconstructs the engine's events from a run directory, following it while it grows.

    ``poll()`` returns the events for whatever was appended since the last call: RunStarted from
    config.json on the first call, EpochMetrics / LossDiverged per line of metrics.jsonl,
    EpochEnded once every loss still training has its line for an epoch, and RunFinished once
    summary.json exists (with error.log's traceback for a failed run).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        record = read_run(self.path)  # raises RunDirError before any UI starts
        self.meta = record.meta
        self._offset = 0
        self._started = False
        self._finished = False
        self._active: set[str] = set(record.loss_labels)
        self._lines_in_epoch: dict[int, int] = {}
        self._diverged_in: dict[int, set[str]] = {}
        self._seconds: dict[int, float] = {}
        self._last_epoch = 0
        self._epochs = int(record.config.get("epochs", 0))

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def started_at(self) -> float | None:
        """When the run started, from config.json (the writer stamps it in local time)."""
        stamp = self.meta.get("started")
        try:
            return datetime.fromisoformat(stamp).timestamp() if stamp else None
        except ValueError:
            return None

    @property
    def ended_at(self) -> float | None:
        summary = self.path / SUMMARY_FILE
        return summary.stat().st_mtime if summary.is_file() else None

    def _run_started(self) -> RunStarted:
        meta = self.meta
        return RunStarted(
            run_dir=str(self.path),
            config=meta.get("config", {}),
            losses=tuple(LossInfo(loss["label"], loss["name"], dict(loss.get("params", {})),
                                  bool(loss.get("symmetric", False)))
                         for loss in meta.get("losses", [])),
            device=str(meta.get("device", "")),
            num_train=int(meta.get("num_train", 0)),
            num_test=int(meta.get("num_test", 0)),
            num_corrupted=int(meta.get("num_corrupted", 0)),
        )

    def _from_records(self, records: list[dict[str, Any]]) -> list[Event]:
        events: list[Event] = []
        for record in records:
            epoch, label = int(record.get("epoch", 0)), str(record.get("loss", ""))
            if "diverged" in record:
                events.append(LossDiverged(epoch, label, str(record["diverged"])))
                self._diverged_in.setdefault(epoch, set()).add(label)
            else:
                values = {k: v for k, v in record.items() if k not in ("epoch", "loss")}
                events.append(EpochMetrics(epoch, label, values))
                self._seconds.setdefault(epoch, float(values.get("seconds") or 0.0))
            self._lines_in_epoch[epoch] = self._lines_in_epoch.get(epoch, 0) + 1
            # every loss still training at the start of an epoch writes exactly one line for it
            if self._lines_in_epoch[epoch] == len(self._active):
                events.append(EpochEnded(epoch, self._epochs, self._seconds.get(epoch, 0.0)))
                self._last_epoch = epoch
                self._active -= self._diverged_in.get(epoch, set())
        return events

    def poll(self) -> list[Event]:
        if self._finished:
            return []
        events: list[Event] = []
        if not self._started:
            self._started = True
            events.append(self._run_started())
        summary_path = self.path / SUMMARY_FILE
        # Check for the summary before reading: the writer closes metrics.jsonl before it writes
        # summary.json, so lines read after seeing it are the last ones.
        done = summary_path.is_file()
        records, self._offset = read_metrics(self.path / METRICS_FILE, self._offset)
        events += self._from_records(records)
        if done:
            summary = read_run(self.path).summary or {}
            error_log = self.path / "error.log"
            error = error_log.read_text("utf-8", errors="replace") if error_log.is_file() else None
            events.append(RunFinished(summary.get("status", "completed"),
                                      int(summary.get("epochs_completed", self._last_epoch)),
                                      str(summary.get("message", "")), error))
            self._finished = True
        return events

