"""`memtui watch user@host:path/to/run`: follow a run on another machine over the system's ssh.

No server of ours: every poll is one ``ssh HOST sh -c '...'`` with the user's keys and
~/.ssh/config (a ``ControlMaster`` there makes each poll a cheap new channel). What it reads is
mirrored into a local folder (``$MEMTUI_CACHE/remote/HOST/PATH``, else under
``$XDG_CACHE_HOME/memtui``), byte for byte, and a RunDirSource follows the mirror: the same
parsing, checks and events as a local run. metrics.jsonl is fetched from the byte after the
last one mirrored (``tail -c +N``); the sample ledger's files (rewritten whole) when their
``cksum`` changed, at most every ``SNAPSHOT_POLL_S`` and once more at the end; summary.json and
error.log once the run has ended. A failed
poll says "connection lost" in the view and is retried, further apart each time, until it works.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import threading
import time
from pathlib import Path

from memtui.atomic import atomic_write
from memtui.errors import RunDirError
from memtui.runlog import CONFIG_FILE, ERROR_LOG, METRICS_FILE, SUMMARY_FILE
from memtui.runlog.ledger import LEDGER_FILE, THUMBNAILS_FILE
from memtui.tui.sources import Deliver, ReadOnlySource, RunDirSource, SourceNotice

REMOTE_POLL_S = 2.0
#: Files a run rewrites whole, mirrored when they change (the samples screen reads them).
SNAPSHOT_FILES = (LEDGER_FILE, THUMBNAILS_FILE)
#: How often their checksums are asked for: the ledger is rewritten at most every 30 s.
SNAPSHOT_POLL_S = 10.0
#: Retries after a failed poll wait this long, doubling up to the cap.
RETRY_S, RETRY_CAP_S = 2.0, 30.0
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
               "-o", "ServerAliveInterval=10")
_SPEC = re.compile(r"^(?P<host>[^/:\s]+):(?P<path>.+)$")


def parse_remote(spec: str) -> tuple[str, str] | None:
    """``user@host:path`` -> (user@host, path); None for a local path (one that exists, or
    has a slash before any colon)."""
    if Path(spec).exists():
        return None
    match = _SPEC.match(spec)
    if match is None or len(match["host"]) == 1:  # C:\\... is a drive, not a host
        return None
    return match["host"], match["path"]


def shell_path(path: str) -> str:
    """``path`` quoted for the remote shell, a leading ``~/`` left outside the quotes so that
    the shell expands it (``user@host:~/runs/x``, as scp writes it)."""
    if path == "~":
        return "~"
    if path.startswith("~/"):
        rest = path[2:]
        return "~/" + shlex.quote(rest) if rest else "~/"
    return shlex.quote(path)


def cache_root() -> Path:
    if os.environ.get("MEMTUI_CACHE"):
        return Path(os.environ["MEMTUI_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "memtui"


class SshError(RunDirError):
    """ssh could not reach the host, or the remote command failed."""


class RemoteRunSource(ReadOnlySource):
    """Follows ``host:path`` through ssh into a local mirror."""


    def __init__(self, host: str, path: str, poll_s: float = REMOTE_POLL_S,
                 ssh: str = "ssh", mirror: Path | None = None) -> None:
        self.host, self.remote_path = host, path
        self.ssh = ssh
        self.poll_s = poll_s
        slug = re.sub(r"[^\w.-]+", "_", path.strip("/")) or "run"
        self.mirror = mirror or cache_root() / "remote" / re.sub(r"[^\w.@-]+", "_", host) / slug
        self.mirror.mkdir(parents=True, exist_ok=True)
        for name in (METRICS_FILE, SUMMARY_FILE, ERROR_LOG, *SNAPSHOT_FILES):  # a fresh copy
            (self.mirror / name).unlink(missing_ok=True)
        # config.json first, before anything is drawn: a wrong host or path ends here
        (self.mirror / CONFIG_FILE).write_bytes(self._run(f"cat {CONFIG_FILE}"))
        self.inner = RunDirSource(self.mirror, poll_s)
        self._offset = 0
        self._checksums: dict[str, bytes] = {}
        self._snapshots_at = -SNAPSHOT_POLL_S
        self._stop = threading.Event()
        self._deliver: Deliver | None = None
        self.connected = True
        self.polls = 0

    def __str__(self) -> str:
        return f"{self.host}:{self.remote_path}"

    def _run(self, command: str) -> bytes:
        """One ssh round trip: ``command`` in the run directory; its stdout."""
        remote = f"cd {shell_path(self.remote_path)} && {command}"
        try:
            done = subprocess.run([self.ssh, *SSH_OPTIONS, self.host, remote],
                                  capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SshError(f"ssh {self.host}: {exc}") from None
        if done.returncode != 0:
            why = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SshError(f"ssh {self.host} ({self.remote_path}): "
                           f"{why[-1] if why else f'exit status {done.returncode}'}")
        return done.stdout

    def sync(self) -> None:
        """Bring the mirror up to date: the new bytes of metrics.jsonl and, once the run has
        ended, its summary. The remote checks for summary.json before it reads the metrics, as
        RunDirSource does, so the lines read with it are the last ones."""
        out = self._run(f"if [ -f {SUMMARY_FILE} ]; then echo done; else echo running; fi; "
                        f"tail -c +{self._offset + 1} {METRICS_FILE} 2>/dev/null; true")
        state, _, chunk = out.partition(b"\n")
        if chunk:
            with (self.mirror / METRICS_FILE).open("ab") as fh:
                fh.write(chunk)
            self._offset += len(chunk)
        ended = state.strip() == b"done"
        now = time.monotonic()
        if ended or now - self._snapshots_at >= SNAPSHOT_POLL_S:
            self._snapshots_at = now
            self._sync_snapshots()
        if ended:
            error = self._run(f"cat {ERROR_LOG} 2>/dev/null; true")
            if error:
                (self.mirror / ERROR_LOG).write_bytes(error)
            # written last: RunDirSource takes summary.json as the sign that the run has ended
            (self.mirror / SUMMARY_FILE).write_bytes(self._run(f"cat {SUMMARY_FILE}"))

    def _sync_snapshots(self) -> None:
        """Copy each of SNAPSHOT_FILES whose checksum changed since the last copy."""
        names = " ".join(SNAPSHOT_FILES)
        for line in self._run(f"cksum {names} 2>/dev/null; true").splitlines():
            parts = line.decode("utf-8", "replace").split()
            name = parts[-1] if parts else ""
            if name in SNAPSHOT_FILES and self._checksums.get(name) != line:
                content = self._run(f"cat {name}")
                with atomic_write(self.mirror / name, "wb") as fh:  # the view reads it meanwhile
                    fh.write(content)
                self._checksums[name] = line

    # -- the RunSource protocol ------------------------------------------------------------------

    def attach(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self.inner.attach(deliver)

    def work(self) -> None:
        retry = RETRY_S
        while not self._stop.is_set():
            try:
                self.sync()
                self.polls += 1
            except SshError as exc:
                self.connected = False
                self._say(f"connection lost: {exc}; reconnecting in {retry:.0f} s")
                self._stop.wait(retry)
                retry = min(RETRY_CAP_S, retry * 2)
                continue
            if not self.connected:
                self.connected = True
                retry = RETRY_S
                self._say("")
            events = self.inner.poll()
            if events and self._deliver is not None:
                self._deliver(events)
            if self.inner.finished:
                return
            self._stop.wait(self.poll_s)

    def _say(self, text: str) -> None:
        if self._deliver is not None:
            self._deliver([SourceNotice(text)])

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def finished(self) -> bool:
        return self.inner.finished

    @property
    def started_at(self) -> float | None:
        return self.inner.started_at

    @property
    def ended_at(self) -> float | None:
        return self.inner.ended_at
