"""How much of a core the live view may use: a bucket of the app thread's CPU time.

The view shares the GIL with training (or, in `memtui watch`, the machine with it). Its cost is
whatever its thread does (compositing frames, reading events, the header's clock, drawing
charts), not any one part of it, so the budget is kept on the whole thread: the bucket fills at
``share`` of the wall time and empties by the thread's CPU time. What the view redraws by its own
choice waits while the bucket is short; what it draws at once (a key, the first epoch) is drawn
whatever the balance and left off the account (``waive``)."""

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
        self._waived_from: float | None = None

    def update(self) -> None:
        """Credit the time since the last update and charge the CPU the thread used in it. The
        first call only starts the account: what the view cost to start (importing, parsing its
        CSS) is not held against what it draws."""
        wall, cpu = self._wall(), self._cpu()
        if self._last is not None:
            earned = self.share * (wall - self._last[0])
            spent = cpu - self._last[1]
            if self._waived_from is not None:
                spent -= cpu - max(self._waived_from, self._last[1])
            self._set(self.balance + earned - spent)
        self._last, self._waived_from = (wall, cpu), None

    def waive(self) -> None:
        """Leave what the thread spends from now to the next update off the account: a draw
        made for the user is rendered and composited after the call that asks for it."""
        self._waived_from = self._cpu()

    def _set(self, balance: float) -> None:
        # Debt is bounded too: after a long busy spell the view is back to its own pace within
        # ``burst_s`` of the load falling, not after minutes of paying it off.
        self.balance = max(-self.capacity, min(self.capacity, balance))

    def affords(self, seconds: float = 0.0) -> bool:
        return self.balance > seconds
