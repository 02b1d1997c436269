"""*Data map* (Swayamdipta et al. 2020): each sample's confidence (mean p(given label)) against
its variability (its std over epochs), corrupted and clean in two colours, or two markers where
colour is off. Braille draws 2x4 samples' places per cell; a cell takes the colour of the kind
most of its samples are."""

from __future__ import annotations

import numpy as np
from rich.text import Text

from memtui.sample_figures import MAX_VARIABILITY, data_map_grid
from memtui.tui.widgets.samples.cells import braille_rows
from memtui.tui.widgets.samples.samples_panel import CLEAN_STYLE, CORRUPTED_STYLE, DIM, SamplesPanel

AXIS_WIDTH = 5  # "1.0 ┤"
#: Markers under NO_COLOR: a cell where most samples are corrupted, and one where most are clean.
MONO_CORRUPTED, MONO_CLEAN = "x", "·"


class DataMapPanel(SamplesPanel):
    TITLE = "data map"

    def subtitle(self) -> str:
        return "easy ↖ · hard to learn ↙ · ambiguous →"  # Swayamdipta et al.'s regions

    def draw(self, width: int, height: int) -> Text:
        columns, rows = max(2, width - AXIS_WIDTH), max(2, height - 3)
        mono = self.no_color
        scale = (1, 1) if mono else (4, 2)
        corrupted, clean = data_map_grid(self.ledger, self.label, columns * scale[1],
                                         rows * scale[0])
        # per cell: samples of each kind, for the cell's colour (or marker)
        cell_corrupted = corrupted.reshape(rows, scale[0], columns, scale[1]).sum(axis=(1, 3))
        cell_clean = clean.reshape(rows, scale[0], columns, scale[1]).sum(axis=(1, 3))
        glyphs = (None if mono else braille_rows((corrupted + clean) > 0))
        text = Text(no_wrap=True, overflow="crop")
        text.append("     ")
        text.append("× corrupted" if mono else "● corrupted", CORRUPTED_STYLE)
        text.append("  ")
        text.append("· clean" if mono else "● clean", CLEAN_STYLE)
        text.append("   y: confidence · x: variability", DIM)
        for r in range(rows):
            tick = 1.0 - r / max(1, rows - 1)
            label = f"{tick:.1f}" if r in (0, rows - 1) or r == (rows - 1) // 2 else ""
            text.append("\n" + label.rjust(AXIS_WIDTH - 1) + "┤", DIM)
            for c in range(columns):
                bad, good = int(cell_corrupted[r, c]), int(cell_clean[r, c])
                if not bad and not good:
                    text.append(" ")
                    continue
                style = CORRUPTED_STYLE if bad >= good else CLEAN_STYLE
                if mono:
                    text.append(MONO_CORRUPTED if bad >= good else MONO_CLEAN, style)
                else:
                    assert glyphs is not None
                    text.append(glyphs[r][c], style)
        axis = np.full(columns, "─", dtype=object)
        for value in (0.0, 0.25, 0.5):
            axis[min(columns - 1, int(value / MAX_VARIABILITY * (columns - 1)))] = "┬"
        text.append("\n" + " " * (AXIS_WIDTH - 1) + "└" + "".join(axis), DIM)
        ticks = [" "] * columns
        for value in (0.0, 0.25, 0.5):
            place = min(columns - 4, int(value / MAX_VARIABILITY * (columns - 1)))
            label = f"{value:g}"
            ticks[max(0, place):max(0, place) + len(label)] = list(label)
        text.append("\n" + " " * AXIS_WIDTH + "".join(ticks)[:columns], DIM)
        return text
