"""The files of a run directory, where a run directory goes, and how its JSON files are written
and read whole.

Layout of ``runs/<timestamp>-<name>/``:

- ``config.json``   the RunStarted event: the resolved experiment, the losses, the device and
                    the data set's sizes; the memtui version that started it (and each resume)
- ``metrics.jsonl`` every later event but progress, one tagged JSON line each, an epoch's
                    lines written together (one ``write``) and synced when it ends, so even a
                    killed process leaves whole epochs (the lines: :mod:`memtui.runlog.records`)
- ``summary.json``  the RunFinished event, with final and best values per loss (from
                    memtui.runstate, the one reducer of events)
- ``checkpoint.pt`` written by the engine; ``error.log`` tracebacks of failed steps and runs
- ``writer.json``   the process writing the run: host, pid, heartbeat (at least every epoch and
                    every ``HEARTBEAT_S`` seconds), whether it finished; ``health`` reads it
- ``writer.lock``   held (``flock``) by that process while it writes, so a second writer is
                    refused; the OS releases it when the process dies, however it dies

- ``ledger.npz``, ``thumbnails.npz``, ``trajectories/``  the sample ledger, written by the
                    engine (memtui.runlog.ledger names and reads them)

Every file carries ``schema_version``; readers refuse a newer one and still read versions 1 and
2 (3 added the sample ledger's ``sample_scores`` lines).
JSON files are written whole or not at all.
"""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from memtui.atomic import atomic_write
from memtui.errors import RunDirError

SCHEMA_VERSION = 3  # 3: metrics.jsonl may hold "resources" and "sample_scores" events
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
ERROR_LOG = "error.log"  # tracebacks of failed steps and runs; displays show one line
WRITER_FILE = "writer.json"
LOCK_FILE = "writer.lock"
#: The writer's heartbeat: at every epoch end, and during an epoch at least this often. Here,
#: not in the writer, because the reader's idea of a stale run (health.STALE_S) rests on it.
HEARTBEAT_S = 10.0


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


def latest_run(runs_root: Path = Path("runs")) -> Path:
    candidates = [p for p in runs_root.glob("*") if (p / CONFIG_FILE).is_file()] if runs_root.is_dir() else []
    if not candidates:
        raise RunDirError(f"no runs found under {runs_root}; start one with `memtui run`")
    return max(candidates, key=lambda p: (p / CONFIG_FILE).stat().st_mtime)


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    with atomic_write(path) as fh:
        json.dump(document, fh, indent=2, allow_nan=False)
        fh.write("\n")


_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)",
          stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


def _not_a_file(path: Path, mode: int) -> RunDirError:
    kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
    return RunDirError(f"{path} is {kind}, not a file; move it aside")


def is_run_file(path: Path) -> bool:
    """Whether a run's file is there; a RunDirError when something else has its name (a
    directory, or a FIFO a reader would wait on forever)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise RunDirError(f"{path} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise _not_a_file(path, mode)
    return True


def open_run_file(path: Path) -> BinaryIO:
    """``path`` opened for reading if it is a regular file; a RunDirError if it is anything
    else. Opened without blocking and checked on the open descriptor, so a FIFO put there
    between a check and the open cannot hang the reader; FileNotFoundError passes through."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _not_a_file(path, mode)
    return os.fdopen(fd, "rb")


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file memtui wrote (a run's config or summary, a sweep's manifest), or a
    RunDirError that says what is wrong with it."""
    try:
        with open_run_file(path) as fh:
            document = json.loads(fh.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, dict):
        raise RunDirError(f"{path} is not a JSON object")
    return document
