"""The run log's writer: the sink that keeps a run directory up to date as events arrive
(config.json, metrics.jsonl, summary.json, writer.json's heartbeat, error.log).

It is the run's one critical sink: a full disk fails the run rather than losing its record.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from memtui import __version__
from memtui.atomic import atomic_write
from memtui.events import (
    EpochEnded,
    EpochProgress,
    Event,
    LossDiverged,
    RunFinished,
    RunStarted,
)
from memtui.runlog.layout import (
    CONFIG_FILE,
    ERROR_LOG,
    HEARTBEAT_S,
    METRICS_FILE,
    SCHEMA_VERSION,
    SUMMARY_FILE,
    WRITER_FILE,
    write_json_atomic,
)
from memtui.runlog.reader import read_run
from memtui.runlog.records import to_record
from memtui.runstate import RunState, summary_document


def _write_lines_atomic(path: Path, records: list[dict[str, Any]]) -> None:
    with atomic_write(path) as fh:
        fh.writelines(json.dumps(r, allow_nan=False) + "\n" for r in records)


class RunLogWriter:
    """A sink that keeps the run directory up to date as events arrive.

    ``resume_after``: continue a run from a checkpoint of that epoch. Lines of later epochs (the
    run went on past its last checkpoint before it was killed) are dropped, since the resumed run
    measures those epochs again.
    """

    #: The run log failing (a full disk, say) must fail the run; a display failing must not.
    critical = True

    def __init__(self, run_dir: Path, resume_after: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.resume_after = resume_after
        self.state = RunState()
        self._metrics: IO[bytes] | None = None
        self._pending: list[str] = []  # this epoch's lines, written when it ends
        self._beat_at = -math.inf
        self._writer_started = datetime.now().isoformat(timespec="seconds")

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._started(event)
            self._heartbeat()
            return
        self.state.apply(event)
        if isinstance(event, EpochProgress):
            if time.monotonic() - self._beat_at >= HEARTBEAT_S:
                self._heartbeat()
            return
        record = to_record(event)
        if record is not None:
            self._append(record)
        if isinstance(event, LossDiverged) and event.detail:
            with (self.run_dir / ERROR_LOG).open("a", encoding="utf-8") as log:
                log.write(f"{event.loss}, epoch {event.epoch}:\n{event.detail}\n")
        elif isinstance(event, EpochEnded) and self._metrics is not None:
            self._write_pending()
            os.fsync(self._metrics.fileno())
            self._heartbeat()
        elif isinstance(event, RunFinished):
            self._finished(event)

    def _finished(self, event: RunFinished) -> None:
        """Close the log and write the summary, even on a full disk: partial files first go
        (they may be what filled it), then the small summary."""
        if self._metrics is not None:
            try:
                self._write_pending()  # a run stopped inside an epoch keeps what it measured
                self._metrics.close()
            except OSError:
                pass  # the lines that could not be flushed are lost either way
            self._metrics = None
        for partial in self.run_dir.glob("*.tmp"):
            partial.unlink(missing_ok=True)
        # The end is stamped in the file, not left to its mtime: a copied or remotely followed
        # run keeps its real duration.
        write_json_atomic(self.run_dir / SUMMARY_FILE,
                          {"schema_version": SCHEMA_VERSION, **summary_document(self.state),
                           "ended": datetime.now().isoformat(timespec="seconds")})
        try:
            self._heartbeat(finished=True)
        except OSError:
            pass  # summary.json tells the run is over anyway
        if event.error:
            with (self.run_dir / ERROR_LOG).open("a", encoding="utf-8") as log:
                log.write(event.error)

    def _heartbeat(self, finished: bool = False) -> None:
        """writer.json: who writes the run and when it last wrote. Replaced whole (rename) but
        not synced: a heartbeat lost to a power cut tells nothing wrong."""
        self._beat_at = time.monotonic()
        document = {"schema_version": SCHEMA_VERSION, "host": socket.gethostname(),
                    "pid": os.getpid(), "started": self._writer_started,
                    "heartbeat": time.time(), "epochs_done": self.state.epochs_done,
                    "finished": finished}
        tmp = self.run_dir / (WRITER_FILE + ".tmp")
        tmp.write_text(json.dumps(document) + "\n", encoding="utf-8")
        os.replace(tmp, self.run_dir / WRITER_FILE)

    def _started(self, event: RunStarted) -> None:
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
            # Which memtui wrote the run; readers of any version ignore keys they do not know.
            "memtui_version": __version__,
        }
        self.state.apply(event)
        if self.resume_after is not None:
            # Only now, with the engine restored and running, are later epochs dropped: a
            # resume that fails before this point leaves the directory as it was.
            previous = read_run(self.run_dir)
            kept = [e for e in previous.events() if getattr(e, "epoch", 0) <= self.resume_after]
            self.state.apply_all(kept)
            self.state.epochs_done = self.resume_after
            records = [r for r in map(to_record, kept) if r is not None]
            _write_lines_atomic(self.run_dir / METRICS_FILE, records)
            meta["started"] = previous.meta.get("started", now)
            if isinstance(previous.meta.get("memtui_version"), str):
                meta["memtui_version"] = previous.meta["memtui_version"]  # who started it
            meta["resumed"] = [*previous.meta.get("resumed", []),
                               {"at": now, "after_epoch": self.resume_after,
                                "memtui_version": __version__}]
            if previous.version < SCHEMA_VERSION:
                meta["upgraded_from_schema"] = previous.version
            # A summary would tell watchers the run is over; the resumed run writes a new one.
            (self.run_dir / SUMMARY_FILE).unlink(missing_ok=True)
        write_json_atomic(self.run_dir / CONFIG_FILE, meta)
        self._metrics = (self.run_dir / METRICS_FILE).open("ab", buffering=0)

    def _append(self, record: dict[str, Any]) -> None:
        assert self._metrics is not None, "metrics before RunStarted"
        self._pending.append(json.dumps(record, allow_nan=False) + "\n")

    def _write_pending(self) -> None:
        """One unbuffered write per epoch: a process killed at any moment leaves the epoch's
        lines all there or none of them, never the first losses of an epoch without the rest."""
        assert self._metrics is not None
        block = "".join(self._pending).encode("utf-8")
        self._pending.clear()
        written = 0
        while written < len(block):  # a regular file takes it whole but for a full disk
            written += self._metrics.write(block[written:]) or 0
