"""Specification of the sinks' fan-out: every event reaches every sink in order; the run log
(critical) failing fails the run with one line, a display failing is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from memtui.errors import RunWriteError
from memtui.events import EpochEnded, RunFinished
from memtui.fanout import Fanout

from helpers import Recorder


class Failing:
    def __init__(self, exc: BaseException, critical: bool) -> None:
        self.exc, self.critical, self.calls = exc, critical, 0

    def handle(self, event) -> None:
        self.calls += 1
        raise self.exc


def test_every_sink_gets_every_event_in_order():
    order = []

    class Named(Recorder):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def handle(self, event) -> None:
            order.append(self.name)

    fanout = Fanout([Named("log")])
    fanout.add(Named("display"))
    fanout.emit(EpochEnded(1, 2, 0.1))
    assert order == ["log", "display"]


@pytest.mark.parametrize("exc", [OSError(5, "Input/output error"), SystemExit(1),
                                 RuntimeError("draw")])
def test_a_display_that_raises_is_dropped_and_the_others_go_on(exc):
    display, log = Failing(exc, critical=False), Recorder()
    fanout = Fanout([display, log])
    fanout.emit(EpochEnded(1, 2, 0.1))
    fanout.emit(EpochEnded(2, 2, 0.1))
    assert display.calls == 1 and len(log.events) == 2


def test_a_run_log_that_cannot_write_raises_one_line_naming_the_run_directory():
    fanout = Fanout([Failing(OSError(28, "No space left on device"), critical=True)], Path("r"))
    with pytest.raises(RunWriteError, match=r"cannot write the run log in r \(No space left"):
        fanout.emit(EpochEnded(1, 2, 0.1))


def test_ctrl_c_while_a_display_draws_reaches_the_engine():
    with pytest.raises(KeyboardInterrupt):
        Fanout([Failing(KeyboardInterrupt(), critical=False)]).emit(EpochEnded(1, 2, 0.1))


def test_the_end_reaches_every_sink_even_after_the_run_log_failed():
    log = Failing(OSError(28, "No space left on device"), critical=True)
    display = Recorder()
    finished = RunFinished("completed", 2)
    error = Fanout([log, display], Path("r")).finish(finished)
    assert display.events == [finished]
    assert error == "cannot write the summary in r (No space left on device, ENOSPC: disk full)"
    assert Fanout([Recorder()]).finish(finished) is None
