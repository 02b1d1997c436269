"""The run directory: what it holds, who writes it and how it is read back.

One module per concern, so that a new file in a run directory has an obvious home (its name in
``layout``, its writing in ``writer`` or a sink of its own, its reading in ``reader``):

- ``layout``  the files of a run directory and their names, where a run directory goes, JSON
              written and read whole
- ``records`` events <-> the lines of metrics.jsonl (both schema versions), config.json and
              summary.json as the events they record
- ``schema``  the checks of config.json and summary.json: one line naming the file and the field
- ``reader``  read_run, RunRecord (replay, state), read_metrics for a reader following a live run
- ``writer``  RunLogWriter, the run's one critical sink
- ``lock``    the writer's lock: one process writes a run at a time
- ``health``  what a reader can tell of the writer: finished, running, stale or gone
- ``ledger``  the sample ledger's files (ledger.npz, thumbnails, trajectories), numpy only

Everything a caller needs is importable from ``memtui.runlog`` itself. Nothing here imports
torch, the config schema or a UI library, so watch and report start fast.
"""

from __future__ import annotations

from memtui.runlog.health import STALE_S, Health, health, writer_info
from memtui.runlog.layout import (
    CONFIG_FILE,
    ERROR_LOG,
    HEARTBEAT_S,
    LOCK_FILE,
    METRICS_FILE,
    SCHEMA_VERSION,
    SUMMARY_FILE,
    WRITER_FILE,
    create_run_dir,
    default_run_dir,
    is_run_file,
    latest_run,
    open_run_file,
    read_json_object,
    write_json_atomic,
)
from memtui.runlog.lock import RunLock, lock_run_dir
from memtui.runlog.reader import RunRecord, check_run_dir, read_metrics, read_run
from memtui.runlog.records import (
    EPOCH_ENDED,
    EPOCH_METRICS,
    LOSS_DIVERGED,
    SAMPLE_SCORES,
    RecordDecoder,
    from_record,
    run_finished,
    run_started,
    to_record,
)
from memtui.runlog.schema import (
    LOSS_FIELDS,
    META_FIELDS,
    META_REQUIRED,
    SUMMARY_FIELDS,
    check_meta,
    check_summary,
    check_version,
)
from memtui.runlog.writer import RunLogWriter

__all__ = [
    "CONFIG_FILE", "EPOCH_ENDED", "EPOCH_METRICS", "ERROR_LOG", "HEARTBEAT_S", "LOCK_FILE",
    "LOSS_DIVERGED", "LOSS_FIELDS", "META_FIELDS", "META_REQUIRED", "METRICS_FILE",
    "SAMPLE_SCORES", "SCHEMA_VERSION", "STALE_S", "SUMMARY_FIELDS", "SUMMARY_FILE",
    "WRITER_FILE", "Health", "RecordDecoder", "RunLock", "RunLogWriter", "RunRecord",
    "check_meta", "check_run_dir", "check_summary", "check_version", "create_run_dir",
    "default_run_dir", "from_record", "health", "is_run_file", "latest_run", "lock_run_dir",
    "open_run_file", "read_json_object", "read_metrics", "read_run", "run_finished",
    "run_started", "to_record", "write_json_atomic", "writer_info"
]
