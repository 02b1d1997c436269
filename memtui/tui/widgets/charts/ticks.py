"""Ticks that fall on whole epochs and on whole rows of the canvas."""

from __future__ import annotations

import math


def epoch_ticks(last_epoch: int, width: int, first_epoch: int = 1) -> list[int]:
    """Whole-epoch ticks from ``first_epoch``, every 1, 2 or 5 times a power of ten, about one
    per 8 columns."""
    room = max(2, width // 8)
    step, power = 1, 1
    while (last_epoch - first_epoch + 1) // step + 1 > room:
        step = next((m * power for m in (1, 2, 5) if m * power > step), 10 * power)
        if step == 10 * power:
            power *= 10
    start = math.ceil(first_epoch / step) * step
    return [first_epoch] + [t for t in range(start, last_epoch + 1, step)
                            if t - first_epoch >= step / 2]


#: Rows of a titled plotext chart that are not canvas: title, frame top and bottom, x tick labels.
CHART_CHROME_ROWS = 4


def even_yticks(lo: float, hi: float, rows: int, percent: bool = False
                ) -> tuple[list[float], tuple[float, float]]:
    """Y ticks and limits for a canvas ``rows`` cells high such that every tick falls exactly on a
    row and the ticks are evenly spaced (at least two rows apart where the height allows).

    plotext puts a tick on row floor(0.5 + (rows - 1) * (v - ylo) / (yhi - ylo)): ticks 0, 25, 50,
    75, 100 on 8 rows land on rows 0, 2, 4, 5, 7. Here the step is a nice number, the lower limit
    a multiple of it and the upper limit is stretched so that a step is a whole number of rows;
    the spare rows (fewer than the number of steps) stay empty at the top."""
    span_rows = max(1, rows - 1)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:
        lo, hi = (lo - 0.5, hi + 0.5) if lo == 0 else (lo - abs(lo) * 0.1, hi + abs(hi) * 0.1)
    best: tuple[float, list[float], tuple[float, float]] | None = None
    magnitude = math.floor(math.log10(hi - lo))
    for min_gap in (2, 1):
        for power in range(magnitude - 2, magnitude + 2):
            for mult in ((10, 20, 25, 50) if percent else (1, 2, 2.5, 5)):
                step = float(mult) if percent else mult * 10.0 ** power
                first = math.floor(lo / step + 1e-9) * step
                steps = max(1, math.ceil((hi - first) / step - 1e-9))
                rows_per_step = span_rows // steps
                if rows_per_step < min_gap or steps > 6:
                    continue
                top = first + step * span_rows / rows_per_step
                empty = span_rows * (1 - (hi - lo) / (top - first))  # rows without data
                # two ticks only is a last resort; ticks far apart are hard to read off
                score = empty + (2.5 if steps == 1 else 0.0) + 0.25 * max(0, rows_per_step - 6)
                if best is None or score < best[0] - 1e-9:
                    best = (score, [first + i * step for i in range(steps + 1)], (first, top))
            if percent:
                break
        if best is not None:
            break
    if best is None:  # a canvas of one or two rows: plotext's own ticks
        return [lo, hi], (lo, hi)
    return best[1], best[2]


def tick_label(value: float, log: bool) -> str:
    return f"{10 ** value:.2g}" if log else f"{value:g}"
