"""How much of a core the live view may use: a bucket of the app thread's CPU time.

The view shares the GIL with training (or, in `memtui watch`, the machine with it). Its cost is
whatever its thread does (compositing frames, reading events, the header's clock, drawing
charts), not any one part of it, so the budget is kept on the whole thread: the bucket fills at
``share`` of the wall time and empties by the thread's CPU time. What the view redraws by its own
choice waits while the bucket is short; what the user asks for is drawn at once and paid for
afterwards."""

from __future__ import annotations

import time
from collections.abc import Callable


class CpuBudget:
    def __init__(self, share: float, burst_s: float = 30.0,
                 wall: Callable[[], float] = time.monotonic,
                 cpu: Callable[[], float] = time.thread_time) -> None:
        """``share``: of one core, e.g. 0.02; ``burst_s``: the bucket holds at most ``burst_s``
        seconds' worth of it, so a quiet minute does not pay for a busy one. ``cpu`` must be
        read on the thread being budgeted."""
        self.share = share
        self.capacity = share * burst_s
        self.balance = self.capacity  # a view starts rested
        self._wall, self._cpu = wall, cpu
        self._last: tuple[float, float] | None = None
        self._forgive = False

    def update(self) -> None:
        """Credit the time since the last update and charge the CPU the thread used in it. The
        first call only starts the account: what the view cost to start (importing, parsing its
        CSS) is not held against what it draws."""
        wall, cpu = self._wall(), self._cpu()
        if self._last is not None:
            earned = self.share * (wall - self._last[0])
            self.balance = min(self.capacity, self.balance + earned - (cpu - self._last[1]))
        if self._forgive:
            self.balance, self._forgive = max(0.0, self.balance), False
        self._last = (wall, cpu)

    def forgive(self) -> None:
        """What the user asked for (a key, drawn at once) is not held against what the view
        draws on its own: the debt it runs up until the next update is dropped."""
        self._forgive = True

    def affords(self, seconds: float = 0.0) -> bool:
        return self.balance > seconds
