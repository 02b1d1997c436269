"""What a reader needs of config.json and summary.json, checked where they are read.

What a reader uses must have the type it expects, so watch and report answer a damaged file with
one line naming the file and the field (``config.json: field 'config.data' is 7, not an object``)
instead of a traceback somewhere later. The lines of metrics.jsonl are checked as they are decoded
(:mod:`memtui.runlog.records`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from memtui.errors import RunDirError
from memtui.runlog.layout import SCHEMA_VERSION

_NUMBER = (int, float)
#: config.json: dotted field -> the types it may have (absent is fine unless required).
META_FIELDS: dict[str, tuple[type, ...]] = {
    "config": (dict,), "losses": (list,), "device": (str,), "num_train": (int,),
    "num_test": (int,), "num_corrupted": (int,), "started": (str,), "resumed": (list,),
    "memtui_version": (str,),
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


def check_version(document: dict[str, Any], path: Path) -> None:
    """RunDirError for a file without a schema version or with one newer than this memtui reads."""
    version = document.get("schema_version")
    if not isinstance(version, int):
        raise RunDirError(f"{path} has no schema_version; is it a memtui run directory?")
    if version > SCHEMA_VERSION:
        raise RunDirError(f"{path} was written by a newer memtui (schema {version}, this one reads "
                          f"up to {SCHEMA_VERSION}); upgrade memtui to read it")


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
    """RunDirError naming the field of summary.json that a reader could not use."""
    for key, types in SUMMARY_FIELDS.items():
        if key in summary:
            _expect(summary[key], types, f"{path}: field {key!r}")
