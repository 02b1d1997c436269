"""Where the view's events come from, behind one small protocol (in the shape of Toolong's
watcher): a live run trained in this process, or a run directory on disk (``memtui watch``).

The app calls ``attach`` with a thread-safe ``deliver`` callback, then runs ``work`` in a Textual
thread worker; both sources deliver plain memtui.events, so the app never knows which it has
and never imports the engine.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from memtui.events import EpochEnded, Event, RunFinished, RunHealth
from memtui.runlog import (
    ERROR_LOG,
    METRICS_FILE,
    SUMMARY_FILE,
    RecordDecoder,
    health,
    read_metrics,
    read_run,
    run_finished,
    run_started,
    writer_info,
)

if TYPE_CHECKING:  # the live source is only built by `memtui run`, which has torch loaded
    from memtui.session import Run

#: ``deliver(events)``, or ``deliver(events, run)`` from a MultiRunSource (the run's index):
#: the events read together, delivered together. A message costs the app's thread the same for
#: one event as for fifty, and `watch` with several runs reads dozens a second.
Deliver = Callable[..., Any]


class SourceNotice:
    """Not a run event: something about the source itself the view should say (a remote
    connection dropped, or back); an empty ``text`` clears the last one."""

    def __init__(self, text: str) -> None:
        self.text = text

WATCH_POLL_S = 0.5
#: Several runs on screen: each is read once a second, the view's tick; their values are drawn
#: at most that often, and each poll costs the process a thread's wake-up.
SEVERAL_RUNS_POLL_S = 1.0
#: The writer's health is asked less often than the metrics: its texts count whole seconds
#: against a 30 s staleness, and `watch` of several runs asks it for each of them.
HEALTH_POLL_S = 2.0


class RunSource(Protocol):
    """What the view needs from wherever its events come from."""

    #: True when pause and stop reach a training run (a live run); False for a directory.
    controllable: bool

    def attach(self, deliver: Deliver) -> None:
        """Deliver every event through ``deliver`` from now on (from any thread)."""
        ...

    def work(self) -> None:
        """The blocking part, run in a thread worker: train, or follow the directory. Returns
        when no more events will come, or soon after ``request_stop``."""
        ...

    def request_stop(self) -> None: ...

    def toggle_pause(self) -> bool:
        """Pause or resume; True when now paused."""
        ...

    @property
    def paused(self) -> bool: ...

    @property
    def started_at(self) -> float | None:
        """When the run started, if known before its first event (a directory knows)."""
        ...

    @property
    def ended_at(self) -> float | None: ...


class ForwardingSink:
    """An engine sink that hands every event to ``deliver`` and returns at once.

    ``deliver`` is the app's ``post_message`` wrapped in a message: it only schedules the message
    on the app's event loop (thread-safe, non-blocking), so training never waits on drawing. An
    event that arrives after the app has closed is dropped; the run log still gets it.
    """

    critical = False

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def handle(self, event: Event) -> None:
        try:
            self._deliver([event])
        except RuntimeError:
            # the app's loop is gone (the app is shutting down); the run log is the record
            pass


class LiveSource:
    """A prepared run (memtui.session.Run), trained by ``work`` in the app's thread worker."""

    controllable = True

    def __init__(self, run: Run) -> None:
        self.run = run
        self.done = threading.Event()  # set once the engine has returned (summary written)
        self.worked = False
        self.finished: RunFinished | None = None  # what the engine returned

    def attach(self, deliver: Deliver) -> None:
        # After the run log among the sinks: the disk is always written first.
        self.run.add_sink(ForwardingSink(deliver))

    def work(self) -> None:
        """Runs the engine; it checks its RunControl every batch and never raises (failures
        arrive as RunFinished)."""
        self.worked = True
        try:
            self.finished = self.run.execute()
        finally:
            self.done.set()

    def request_stop(self) -> None:
        self.run.control.request_stop()

    def toggle_pause(self) -> bool:
        return self.run.control.toggle_pause()

    @property
    def paused(self) -> bool:
        return self.run.control.paused

    @property
    def started_at(self) -> float | None:
        return None

    @property
    def ended_at(self) -> float | None:
        return None

    @property
    def resources(self) -> dict[str, float] | None:
        """The newest sample of the machine this run trains on (None before the first)."""
        monitor = self.run.resources
        sample = monitor.latest if monitor is not None else None
        return sample.values if sample is not None else None

    def wait(self) -> None:
        """Block until the engine has written its summary (if it ever started)."""
        if self.worked:
            self.done.wait()


class ReadOnlySource:
    """What every source that only reads a run shares: nothing to pause or steer."""

    controllable = False

    def toggle_pause(self) -> bool:
        return False

    @property
    def paused(self) -> bool:
        return False


class RunDirSource(ReadOnlySource):
    """Replays a run directory's events, following it while it grows.

    ``poll()`` returns the events for whatever was appended since the last call: RunStarted
    from config.json on the first call, one event per line of metrics.jsonl, and RunFinished once
    summary.json exists (with error.log's traceback for a failed run).
    """


    def __init__(self, path: Path, poll_s: float = WATCH_POLL_S) -> None:
        self.path = Path(path)
        record = read_run(self.path)  # raises RunDirError before any UI starts
        record.events()  # ...and so does a damaged line already written
        self.meta = record.meta
        self.poll_s = poll_s
        self._decoder = RecordDecoder(record.version, record.loss_labels,
                                      int(record.config.get("epochs", 0)))
        self._offset = 0
        self._started = False
        self._finished = False
        self._last_epoch = 0
        self._last_health: RunHealth | None = None
        self._health_due = 0.0
        self._stop = threading.Event()
        self._deliver: Deliver | None = None

    # -- the protocol ----------------------------------------------------------------------------

    def attach(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def work(self) -> None:
        """Poll until the run's summary has been read or the view stops us. An error (the file
        rewritten under us by a --resume) propagates: the worker fails and the app shows it."""
        while not self._stop.is_set():
            if self.step():
                return
            self._stop.wait(self.poll_s)

    def step(self) -> bool:
        """One poll: deliver what is new (and the writer's health when due and changed); True
        once the run's summary has been read."""
        events = self.poll()
        if not self._finished and time.monotonic() >= self._health_due:
            self._health_due = time.monotonic() + HEALTH_POLL_S
            health = self.health()
            if health != self._last_health:
                events.append(health)  # only news: a quiet run costs the view nothing
                self._last_health = health
        if events and self._deliver is not None:
            self._deliver(events)
        return self._finished

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def started_at(self) -> float | None:
        """When the run started, from config.json (the writer stamps it in local time)."""
        stamp = self.meta.get("started")
        try:
            return datetime.fromisoformat(stamp).timestamp() if isinstance(stamp, str) else None
        except ValueError:
            return None

    @property
    def ended_at(self) -> float | None:
        """When the run ended: stamped in summary.json. Runs of earlier versions have their
        writer's last heartbeat; the oldest, only their start plus their epochs' time (not the
        summary's mtime, which a copy resets)."""
        summary_path = self.path / SUMMARY_FILE
        if not summary_path.is_file():
            return None
        record = read_run(self.path)
        stamp = (record.summary or {}).get("ended")
        if isinstance(stamp, str):
            try:
                return datetime.fromisoformat(stamp).timestamp()
            except ValueError:
                pass
        writer = writer_info(self.path)
        if writer.get("finished") is True:
            return float(writer["heartbeat"])
        started = self.started_at
        trained = sum(e.seconds for e in record.events() if isinstance(e, EpochEnded))
        return started + trained if started is not None else summary_path.stat().st_mtime

    # -- reading ---------------------------------------------------------------------------------

    def health(self) -> RunHealth:
        """Whether the run's writer is alive: running, not updated for N s, process gone."""
        now = health(self.path)
        return RunHealth(now.state, now.text)

    def poll(self) -> list[Event]:
        if self._finished:
            return []
        events: list[Event] = []
        if not self._started:
            self._started = True
            events.append(run_started(self.meta, self.path))
        summary_path = self.path / SUMMARY_FILE
        # Check for the summary before reading: the writer closes metrics.jsonl before it writes
        # summary.json, so lines read after seeing it are the last ones.
        done = summary_path.is_file()
        metrics_path = self.path / METRICS_FILE
        try:
            grown = os.stat(metrics_path).st_size > self._offset
        except FileNotFoundError:
            grown = False
        records: list[dict[str, Any]] = []
        if grown:  # a stat is the whole cost of a poll that finds nothing new
            records, self._offset = read_metrics(metrics_path, self._offset)
        for event in self._decoder.decode(records, str(self.path / METRICS_FILE)):
            events.append(event)
            self._last_epoch = max(self._last_epoch, getattr(event, "epoch", 0))
        if done:
            summary = read_run(self.path).summary or {}
            error_log = self.path / ERROR_LOG
            error = error_log.read_text("utf-8", errors="replace") if error_log.is_file() else None
            events.append(run_finished(summary, error, self._last_epoch))
            self._finished = True
        return events


class MultiRunSource(ReadOnlySource):
    """Several sources behind one: each follows its own run in its own thread and delivers
    ``deliver(events, run)`` with the run's index, so one app can hold one RunState per run."""


    def __init__(self, sources: list[RunSource], names: list[str]) -> None:
        self.sources = sources
        self.names = names
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def attach(self, deliver: Deliver) -> None:
        for index, source in enumerate(self.sources):
            source.attach(lambda events, index=index: deliver(events, index))

    def work(self) -> None:
        """The local run directories polled in turn by one thread (a wake-up per poll, not one
        per run); any other source (a remote one waits on ssh) in a thread of its own. Returns
        when all are done. An error in one is raised once the others are done (the view shows
        it)."""
        errors: list[BaseException] = []
        local = [s for s in self.sources if type(s) is RunDirSource]

        def run(source: RunSource) -> None:
            try:
                source.work()
            except BaseException as exc:  # noqa: BLE001 - handed to the app's worker below
                errors.append(exc)

        def follow(runs: list[RunDirSource]) -> None:
            poll_s = min(source.poll_s for source in runs)
            while runs and not self._stop.is_set():
                following = []
                for source in runs:
                    try:
                        if not source.step():
                            following.append(source)
                    except BaseException as exc:  # noqa: BLE001 - as in run() above
                        errors.append(exc)
                runs = following
                if runs:
                    self._stop.wait(poll_s)

        self._threads = [threading.Thread(target=run, args=(s,), daemon=True,
                                          name=f"memtui-source-{i}")
                         for i, s in enumerate(self.sources) if s not in local]
        if local:
            self._threads.append(threading.Thread(target=follow, args=(local,), daemon=True,
                                                  name="memtui-runs"))
        for thread in self._threads:
            thread.start()
        for thread in self._threads:
            thread.join()
        if errors:
            raise errors[0]

    def request_stop(self) -> None:
        self._stop.set()
        for source in self.sources:
            source.request_stop()

    @property
    def started_at(self) -> float | None:
        return self.sources[0].started_at if self.sources else None

    @property
    def ended_at(self) -> float | None:
        return None
