"""How every chart is looked at: log scale, x range, cursor (shared by the screen's charts)."""

from __future__ import annotations

from dataclasses import dataclass

#: The x-range choices `x` cycles through: the whole run, then the last N epochs.
X_RANGES: tuple[int | None, ...] = (None, 50, 20, 10)


@dataclass(frozen=True)
class ChartView:
    """How the charts are looked at: log-scale values (`g`, loss charts only), the last N
    epochs or the whole run (`x`), a cursor epoch (left/right) whose values the tables show."""
    log: bool = False
    last_n: int | None = None
    cursor: int | None = None

    def first_epoch(self, last_epoch: int) -> int:
        return max(1, last_epoch - self.last_n + 1) if self.last_n else 1
