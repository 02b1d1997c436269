"""What a reader can tell about the process writing a run: finished, running, stale or gone.

The writer stamps writer.json (host, pid, heartbeat) at least every ``HEARTBEAT_S`` seconds;
health never fails a reader, whatever that file holds.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memtui.runlog.layout import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, WRITER_FILE

#: A run whose heartbeat is older than this (and whose process cannot be checked) is shown as
#: "not updated for N s".
STALE_S = 30.0


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
