"""The run directory: its writer (the run's one critical sink) and its reader (for watch, report,
resume and sweeps).

Layout of ``runs/<timestamp>-<name>/``:

- ``config.json``   the RunStarted event: the resolved experiment, the losses, the device and
                    the data set's sizes
- ``metrics.jsonl`` every later event but progress, one tagged JSON line each, an epoch's
                    lines written together (one ``write``) and synced when it ends, so even a
                    killed process leaves whole epochs:
                    ``{"event": "epoch_metrics", "epoch", "loss", <metric>: value...}``,
                    ``{"event": "loss_diverged", "epoch", "loss", "diverged": reason}``,
                    ``{"event": "epoch_ended", "epoch", "epochs", "seconds"}``. Filter on
                    ``event == "epoch_metrics"`` to plot.
- ``summary.json``  the RunFinished event, with final and best values per loss (from
                    memtui.runstate, the one reducer of events)
- ``checkpoint.pt`` written by the engine; ``error.log`` tracebacks of failed steps and runs
- ``writer.json``   the process writing the run: host, pid, heartbeat (at least every epoch and
                    every ``HEARTBEAT_S`` seconds), whether it finished; ``health`` reads it
- ``writer.lock``   held (``flock``) by that process while it writes, so a second writer is
                    refused; the OS releases it when the process dies, however it dies

Replaying a directory is one event per line. Every file carries ``schema_version``; readers
refuse a newer one and still read version 1 (lines without the ``event`` tag and without epoch
ends, whose epoch ends are inferred). JSON files are written whole or not at all.
Nothing here imports torch or the config schema, so watch and report start fast.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from memtui.atomic import atomic_write
from memtui.errors import RunDirError
from memtui.events import (
    EpochEnded,
    EpochMetrics,
    EpochProgress,
    Event,
    LossDiverged,
    LossInfo,
    RunFinished,
    RunStarted,
)
from memtui.runstate import RunState, summary_document

SCHEMA_VERSION = 2
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
ERROR_LOG = "error.log"  # tracebacks of failed steps and runs; displays show one line
WRITER_FILE = "writer.json"
LOCK_FILE = "writer.lock"
#: The writer's heartbeat: at every epoch end, and during an epoch at least this often.
HEARTBEAT_S = 10.0
#: A run whose heartbeat is older than this (and whose process cannot be checked) is shown as
#: "not updated for N s".
STALE_S = 30.0

EPOCH_METRICS, LOSS_DIVERGED, EPOCH_ENDED = "epoch_metrics", "loss_diverged", "epoch_ended"


def default_run_dir(name: str, runs_root: Path = Path("runs"), now: datetime | None = None) -> Path:
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
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
    with atomic_write(path) as fh:
        json.dump(document, fh, indent=2, allow_nan=False)
        fh.write("\n")


def _write_lines_atomic(path: Path, records: list[dict[str, Any]]) -> None:
    with atomic_write(path) as fh:
        fh.writelines(json.dumps(r, allow_nan=False) + "\n" for r in records)


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    """Non-finite floats become null: JSON has no NaN, and a line must stay valid JSON."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in values.items()}


# ---------------------------------------------------------------------------------------------
# Events <-> records

def to_record(event: Event) -> dict[str, Any] | None:
    """The metrics.jsonl line of an event; None for events that live elsewhere or nowhere."""
    if isinstance(event, EpochMetrics):
        return {"event": EPOCH_METRICS, "epoch": event.epoch, "loss": event.loss,
                **_json_safe(event.values)}
    if isinstance(event, LossDiverged):
        return {"event": LOSS_DIVERGED, "epoch": event.epoch, "loss": event.loss,
                "diverged": event.reason}
    if isinstance(event, EpochEnded):
        return {"event": EPOCH_ENDED, "epoch": event.epoch, "epochs": event.epochs,
                "seconds": event.seconds}
    return None


def _number(record: dict[str, Any], key: str, kind: type = int) -> Any:
    value = record.get(key)
    if key not in record:
        raise ValueError(f"field {key!r} is missing")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"field {key!r} is {value!r}, not a number")
    if not -1e15 < value < 1e15:  # also NaN; no epoch, count or duration is near this
        raise ValueError(f"field {key!r} is {value!r}, out of range")
    return kind(value)


def _label(record: dict[str, Any]) -> str:
    label = record.get("loss")
    if not isinstance(label, str):
        raise ValueError(f"field 'loss' is {str(label)[:40]!r}, not a string")
    return label


def from_record(record: dict[str, Any]) -> Event:
    """The event of a version-2 line. ValueError for a line that is not one."""
    kind = record.get("event")
    if kind == EPOCH_METRICS:
        values = {k: v for k, v in record.items() if k not in ("event", "epoch", "loss")}
        for key, value in values.items():
            if value is None:
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"field {key!r} is {str(value)[:40]!r}, not a number")
            if isinstance(value, int) and not -1e300 < value < 1e300:
                raise ValueError(f"field {key!r} is out of range")
            values[key] = float(value)
        return EpochMetrics(_number(record, "epoch"), _label(record), values)
    if kind == LOSS_DIVERGED:
        return LossDiverged(_number(record, "epoch"), _label(record),
                            str(record.get("diverged", "")))
    if kind == EPOCH_ENDED:
        return EpochEnded(_number(record, "epoch"), _number(record, "epochs"),
                          _number(record, "seconds", float))
    raise ValueError(f"unknown event {kind!r}")


class RecordDecoder:
    """metrics.jsonl lines -> events, for either schema version.

    Version 2 lines are one event each. Version 1 lines carry no tag and no epoch ends: an epoch
    ended once every loss still training had its line for it, which is counted here.
    """

    def __init__(self, version: int, loss_labels: Iterable[str], epochs: int) -> None:
        self.version = version
        self._active = set(loss_labels)
        self._epochs = epochs
        self._lines_in_epoch: dict[int, int] = {}
        self._diverged_in: dict[int, set[str]] = {}
        self._seconds: dict[int, float] = {}
        self._count = 0  # lines decoded so far: errors name the line

    def decode(self, records: Iterable[dict[str, Any]], where: str = "") -> list[Event]:
        events: list[Event] = []
        for record in records:
            self._count += 1
            number = self._count
            try:
                if self.version >= 2:
                    events.append(from_record(record))
                else:
                    events += self._decode_v1(record)
            except (ValueError, TypeError, OverflowError) as exc:
                raise RunDirError(f"{where}: line {number}: {exc}") from None
        return events

    def _decode_v1(self, record: dict[str, Any]) -> list[Event]:
        epoch, label = _number(record, "epoch"), str(record.get("loss", ""))
        events: list[Event] = []
        if "diverged" in record:
            events.append(LossDiverged(epoch, label, str(record["diverged"])))
            self._diverged_in.setdefault(epoch, set()).add(label)
        else:
            values = {k: v for k, v in record.items() if k not in ("epoch", "loss")}
            events.append(EpochMetrics(epoch, label, values))
            seconds = values.get("seconds")
            self._seconds.setdefault(epoch, float(seconds) if isinstance(seconds, (int, float)) else 0.0)
        self._lines_in_epoch[epoch] = self._lines_in_epoch.get(epoch, 0) + 1
        # every loss still training at the start of an epoch wrote exactly one line for it
        if self._lines_in_epoch[epoch] == len(self._active):
            events.append(EpochEnded(epoch, self._epochs, self._seconds.get(epoch, 0.0)))
            self._active -= self._diverged_in.get(epoch, set())
        return events


def run_started(meta: dict[str, Any], path: Path) -> RunStarted:
    """config.json's document as the RunStarted event it records."""
    try:
        return RunStarted(
            run_dir=str(path),
            config=dict(meta.get("config", {})),
            losses=tuple(LossInfo(str(loss["label"]), str(loss["name"]),
                                  dict(loss.get("params", {})), bool(loss.get("symmetric", False)))
                         for loss in meta.get("losses", [])),
            device=str(meta.get("device", "")),
            num_train=int(meta.get("num_train", 0)),
            num_test=int(meta.get("num_test", 0)),
            num_corrupted=int(meta.get("num_corrupted", 0)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RunDirError(f"{path / CONFIG_FILE}: a field is missing or of the wrong type "
                          f"({type(exc).__name__}: {exc})") from None


def run_finished(summary: dict[str, Any], error: str | None = None, epochs_done: int = 0
                 ) -> RunFinished:
    status = summary.get("status")
    epochs = summary.get("epochs_completed")
    return RunFinished(
        status if status in ("completed", "stopped", "failed") else "completed",
        epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else epochs_done,
        str(summary.get("message", "")), error)


# ---------------------------------------------------------------------------------------------
# Writing

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
            meta["resumed"] = [*previous.meta.get("resumed", []),
                               {"at": now, "after_epoch": self.resume_after}]
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


# ---------------------------------------------------------------------------------------------
# Reading


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


def _check_version(document: dict[str, Any], path: Path) -> None:
    version = document.get("schema_version")
    if not isinstance(version, int):
        raise RunDirError(f"{path} has no schema_version; is it a memtui run directory?")
    if version > SCHEMA_VERSION:
        raise RunDirError(f"{path} was written by a newer memtui (schema {version}, this one reads "
                          f"up to {SCHEMA_VERSION}); upgrade memtui to read it")


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file memtui wrote (a run's config or summary, a sweep's manifest), or a
    RunDirError that says what is wrong with it."""
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, dict):
        raise RunDirError(f"{path} is not a JSON object")
    return document


def _read_json(path: Path) -> dict[str, Any]:
    document = read_json_object(path)
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
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RunDirError(f"{path}: line {number} is not valid JSON") from None
        if not isinstance(record, dict):
            raise RunDirError(f"{path}: line {number} is not a JSON object")
        records.append(record)
    return records, offset + end


# Run files are checked where they are read: what a reader uses must have the type it expects,
# so watch and report answer a damaged file with one line naming the file and the field.
_NUMBER = (int, float)
#: config.json: dotted field -> the types it may have (absent is fine unless required).
META_FIELDS: dict[str, tuple[type, ...]] = {
    "config": (dict,), "losses": (list,), "device": (str,), "num_train": (int,),
    "num_test": (int,), "num_corrupted": (int,), "started": (str,), "resumed": (list,),
    "config.name": (str,), "config.epochs": (int,), "config.data": (dict,),
    "config.data.dataset": (str,), "config.corruption": (dict,), "config.corruption.labels": (str,),
    "config.corruption.noise": _NUMBER, "config.corruption.inputs": (str,),
    "config.model": (dict,), "config.model.arch": (str,), "config.model.width": (int,),
    "config.model.depth": (int,), "config.optimizer": (dict,), "config.optimizer.lr": _NUMBER,
    "config.schedule": (dict,), "config.schedule.kind": (str,),
}
META_REQUIRED = ("config", "losses", "config.epochs")
LOSS_FIELDS: dict[str, tuple[type, ...]] = {"label": (str,), "name": (str,), "params": (dict,),
                                           "symmetric": (bool,)}
SUMMARY_FIELDS: dict[str, tuple[type, ...]] = {"status": (str,), "epochs_completed": (int,),
                                              "message": (str,), "losses": (dict,),
                                              "ended": (str,)}
_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
               float: "a number", bool: "true or false"}


def _lookup(document: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    target: Any = document
    for part in dotted.split("."):
        if not isinstance(target, dict) or part not in target:
            return False, None
        target = target[part]
    return True, target


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, types)


def _expect(value: Any, types: tuple[type, ...], where: str) -> None:
    if not _has_type(value, types):
        wanted = " or ".join(dict.fromkeys(_TYPE_NAMES.get(t, t.__name__) for t in types))
        shown = json.dumps(value)[:40] if _json_able(value) else repr(value)[:40]
        raise RunDirError(f"{where} is {shown}, not {wanted}")


def _json_able(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def check_meta(meta: dict[str, Any], path: Path) -> None:
    """RunDirError naming the file and field of config.json that a reader could not use."""
    for dotted, types in META_FIELDS.items():
        present, value = _lookup(meta, dotted)
        if not present:
            if dotted in META_REQUIRED:
                raise RunDirError(f"{path}: field {dotted!r} is missing")
            continue
        _expect(value, types, f"{path}: field {dotted!r}")
    epochs = meta["config"]["epochs"]
    if not 0 <= epochs <= 10**9:
        raise RunDirError(f"{path}: field 'config.epochs' is {epochs}, not an epoch count")
    losses = meta["losses"]
    if not losses:
        raise RunDirError(f"{path}: field 'losses' is empty; is it a memtui run?")
    for index, loss in enumerate(losses):
        _expect(loss, (dict,), f"{path}: field 'losses.{index}'")
        for key, types in LOSS_FIELDS.items():
            if key in ("label", "name") and key not in loss:
                raise RunDirError(f"{path}: field 'losses.{index}.{key}' is missing")
            if key in loss:
                _expect(loss[key], types, f"{path}: field 'losses.{index}.{key}'")
    for key in ("num_train", "num_test", "num_corrupted"):
        if not 0 <= meta.get(key, 0) <= 10**12:
            raise RunDirError(f"{path}: field {key!r} is {meta[key]}, not a count")


def check_summary(summary: dict[str, Any], path: Path) -> None:
    for key, types in SUMMARY_FIELDS.items():
        if key in summary:
            _expect(summary[key], types, f"{path}: field {key!r}")


def read_run(path: Path) -> RunRecord:
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"run directory {path} does not exist")
    if not (path / CONFIG_FILE).is_file():
        raise RunDirError(f"{path} is not a memtui run directory (no {CONFIG_FILE})")
    meta = _read_json(path / CONFIG_FILE)
    check_meta(meta, path / CONFIG_FILE)
    records, _ = read_metrics(path / METRICS_FILE)
    summary = _read_json(path / SUMMARY_FILE) if (path / SUMMARY_FILE).is_file() else None
    if summary is not None:
        check_summary(summary, path / SUMMARY_FILE)
    return RunRecord(path, meta, records, summary)


def latest_run(runs_root: Path = Path("runs")) -> Path:
    candidates = [p for p in runs_root.glob("*") if (p / CONFIG_FILE).is_file()] if runs_root.is_dir() else []
    if not candidates:
        raise RunDirError(f"no runs found under {runs_root}; start one with `memtui run`")
    return max(candidates, key=lambda p: (p / CONFIG_FILE).stat().st_mtime)


# ---------------------------------------------------------------------------------------------
# Who writes a run: the lock and the health a reader sees


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


def writer_info(run_dir: Path) -> dict[str, Any]:
    """writer.json, or {} when it is absent or unusable (health must never fail a reader)."""
    try:
        document = json.loads((Path(run_dir) / WRITER_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict):
        return {}
    host, pid, beat = document.get("host"), document.get("pid"), document.get("heartbeat")
    if not (isinstance(host, str) and isinstance(pid, int) and not isinstance(pid, bool)
            and isinstance(beat, (int, float)) and not isinstance(beat, bool)
            and math.isfinite(beat)):
        return {}
    return document


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or a pid we cannot check: assume alive
    return True


@dataclass(frozen=True)
class Health:
    """What a reader can tell about the process writing a run."""

    state: str  # finished, running, stale (not updated for a while), gone (the process died)
    text: str  # what watch and report show: "finished", "not updated for 45 s", ...
    age: float | None = None  # seconds since the last heartbeat (or write)


def health(run_dir: Path, now: float | None = None) -> Health:
    """finished (summary.json exists), gone (writer.json names a dead process on this host),
    stale (no heartbeat for STALE_S seconds: the writer hangs, is paused, or died elsewhere), or
    running. Runs of older memtui versions have no writer.json: their files' age tells."""
    run_dir = Path(run_dir)
    now = time.time() if now is None else now
    age: float | None
    if (run_dir / SUMMARY_FILE).is_file():
        return Health("finished", "finished")
    who = writer_info(run_dir)
    if who:
        age = max(0.0, now - float(who["heartbeat"]))
        if who.get("host") == socket.gethostname() and not _pid_alive(who["pid"]):
            return Health("gone", f"process gone (pid {who['pid']})", age)
    else:
        stamps = [p.stat().st_mtime for p in (run_dir / METRICS_FILE, run_dir / CONFIG_FILE)
                  if p.is_file()]
        age = max(0.0, now - max(stamps)) if stamps else None
    if age is not None and age >= STALE_S:
        return Health("stale", f"not updated for {int(age)} s", age)
    return Health("running", "running", age)
