"""Events <-> the lines of metrics.jsonl (and config.json/summary.json as the events they record).

A version-2 line is one tagged event:
``{"event": "epoch_metrics", "epoch", "loss", <metric>: value...}``,
``{"event": "loss_diverged", "epoch", "loss", "diverged": reason}``,
``{"event": "epoch_ended", "epoch", "epochs", "seconds"}``. Version 3 adds
``{"event": "sample_scores", "epoch", "loss", <figure>: value...}`` (the sample ledger's figures,
memtui.runlog.ledger.FIGURE_NAMES) and
``{"event": "resources", "epoch", "samples", "gpus": [name...], "note", <figure>: [mean, max]...}``
(memtui.resources names the figures), which a version-2 reader would not know; version-2 files
read as before. Filter on ``event == "epoch_metrics"`` to plot. Version-1 lines carry no tag
and no epoch ends, which are inferred. A line a reader cannot use is a ValueError naming the
field, which the decoder turns into a RunDirError naming the file and the line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from memtui.errors import RunDirError
from memtui.events import (
    EpochEnded,
    EpochMetrics,
    Event,
    LossDiverged,
    LossInfo,
    ResourceUsage,
    RunFinished,
    RunStarted,
    SampleScores,
)
from memtui.runlog.layout import CONFIG_FILE

EPOCH_METRICS, LOSS_DIVERGED, EPOCH_ENDED = "epoch_metrics", "loss_diverged", "epoch_ended"
RESOURCES = "resources"
_RESOURCE_FIELDS = ("event", "epoch", "samples", "gpus", "note")
SAMPLE_SCORES = "sample_scores"


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    """Non-finite floats become null: JSON has no NaN, and a line must stay valid JSON."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in values.items()}


def to_record(event: Event) -> dict[str, Any] | None:
    """The metrics.jsonl line of an event; None for events that live elsewhere or nowhere."""
    if isinstance(event, EpochMetrics):
        return {"event": EPOCH_METRICS, "epoch": event.epoch, "loss": event.loss,
                **_json_safe(event.values)}
    if isinstance(event, SampleScores):
        return {"event": SAMPLE_SCORES, "epoch": event.epoch, "loss": event.loss,
                **_json_safe(event.values)}
    if isinstance(event, LossDiverged):
        return {"event": LOSS_DIVERGED, "epoch": event.epoch, "loss": event.loss,
                "diverged": event.reason}
    if isinstance(event, EpochEnded):
        return {"event": EPOCH_ENDED, "epoch": event.epoch, "epochs": event.epochs,
                "seconds": event.seconds}
    if isinstance(event, ResourceUsage):
        figures = {k: list(pair) for k, pair in event.values.items()
                   if all(math.isfinite(v) for v in pair)}
        return {"event": RESOURCES, "epoch": event.epoch, "samples": event.samples,
                "gpus": list(event.gpus), "note": event.note, **figures}
    return None


# The checks of a line are written out rather than delegated to a validation library: they are
# what a reader needs (a number in range, a string), their messages are the one line a user sees
# for a damaged file, and watch and report start without pydantic.

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


def _values(record: dict[str, Any]) -> dict[str, float | None]:
    """The numbers of a line besides its tag, epoch and loss (null stays None)."""
    values: dict[str, float | None] = {}
    for key, value in record.items():
        if key in ("event", "epoch", "loss"):
            continue
        if value is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"field {key!r} is {str(value)[:40]!r}, not a number")
            if isinstance(value, int) and not -1e300 < value < 1e300:
                raise ValueError(f"field {key!r} is out of range")
            value = float(value)
        values[key] = value
    return values


def from_record(record: dict[str, Any]) -> Event:
    """The event of a version-2 or version-3 line. ValueError for a line that is not one."""
    kind = record.get("event")
    if kind == EPOCH_METRICS:
        return EpochMetrics(_number(record, "epoch"), _label(record), _values(record))
    if kind == SAMPLE_SCORES:
        return SampleScores(_number(record, "epoch"), _label(record), _values(record))
    if kind == LOSS_DIVERGED:
        return LossDiverged(_number(record, "epoch"), _label(record),
                            str(record.get("diverged", "")))
    if kind == EPOCH_ENDED:
        return EpochEnded(_number(record, "epoch"), _number(record, "epochs"),
                          _number(record, "seconds", float))
    if kind == RESOURCES:
        return _resources(record)
    raise ValueError(f"unknown event {kind!r}")


def _resources(record: dict[str, Any]) -> ResourceUsage:
    gpus = record.get("gpus", [])
    if not isinstance(gpus, list) or not all(isinstance(g, str) for g in gpus):
        raise ValueError(f"field 'gpus' is {str(gpus)[:40]!r}, not a list of names")
    values: dict[str, tuple[float, float]] = {}
    for key, pair in record.items():
        if key in _RESOURCE_FIELDS:
            continue
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and -1e300 < v < 1e300 for v in pair)):
            raise ValueError(f"field {key!r} is {str(pair)[:40]!r}, not [mean, max]")
        values[key] = (float(pair[0]), float(pair[1]))
    return ResourceUsage(_number(record, "epoch"), _number(record, "samples"), values,
                         tuple(gpus), str(record.get("note", "")))


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
    """summary.json's document as the RunFinished event it records."""
    status = summary.get("status")
    epochs = summary.get("epochs_completed")
    return RunFinished(
        status if status in ("completed", "stopped", "failed") else "completed",
        epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else epochs_done,
        str(summary.get("message", "")), error)
