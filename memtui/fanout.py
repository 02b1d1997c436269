"""The run's sinks and what a failing one means: the run log (critical) fails the run, a display
that breaks is dropped and training goes on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from memtui.errors import RunWriteError, os_reason
from memtui.events import Event, RunFinished, Sink


class Fanout:
    """Hands every event to every sink, in order: the run log comes first, so the disk is always
    written before a display draws."""

    def __init__(self, sinks: Sequence[Sink] = (), run_dir: Path | None = None) -> None:
        self.sinks = list(sinks)
        self.run_dir = run_dir  # named in the one line a full disk gives

    def add(self, sink: Sink) -> None:
        self.sinks.append(sink)

    def emit(self, event: Event) -> None:
        """Raises RunWriteError when the run log cannot be written, and whatever else a critical
        sink raised; a non-critical sink that raises is dropped."""
        for sink in list(self.sinks):
            try:
                sink.handle(event)
            except KeyboardInterrupt:
                raise  # a second ctrl+c while a display draws: the run's own, handled by the engine
            except BaseException as exc:
                if sink.critical:
                    if isinstance(exc, OSError):  # the run log could not be written
                        raise RunWriteError(f"cannot write the run log in {self.run_dir} "
                                            f"({os_reason(exc)})") from exc
                    raise
                # A display that broke must not end the training it displays; the run log goes
                # on. That covers SystemExit too: Rich raises it when its stream is a closed pipe
                # (`memtui run --no-ui 2>&1 | head`).
                self.sinks.remove(sink)

    def finish(self, finished: RunFinished) -> str | None:
        """Give every sink the run's end, even if one fails: a full disk must not also keep the
        displays from showing it, and nothing raised here may lose what was written. One line
        when a critical sink could not take it (the summary was not written), else None."""
        error = None
        for sink in list(self.sinks):
            try:
                sink.handle(finished)
            except BaseException as exc:  # noqa: BLE001 - the run is over; record, never raise
                if sink.critical and error is None:
                    reason = os_reason(exc) if isinstance(exc, OSError) else None
                    error = (f"cannot write the summary in {self.run_dir} "
                             f"({reason or type(exc).__name__})")
        return error
