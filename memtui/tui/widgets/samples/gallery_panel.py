"""*Gallery*: the corrupted samples a loss memorised first, earliest first, each with "true ->
given" under it, drawn from the run's thumbnail pack one pixel per half cell (see cells.py):
lossless in 24-bit colour, one shading character per cell where colour is off. Terminal graphics
protocols (kitty, sixel) are not used: half blocks work over ssh and in tmux alike."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text

from memtui.tui.widgets.samples.cells import UPPER_HALF, half_block_cells, shade_rows
from memtui.tui.widgets.samples.samples_panel import DIM, SamplesPanel

GAP = 1  # cells between thumbnails


@lru_cache(maxsize=4096)
def pixel_pair(upper: tuple[int, int, int], lower: tuple[int, int, int]) -> Style:
    return Style(color=Color.from_rgb(*upper), bgcolor=Color.from_rgb(*lower))


class GalleryPanel(SamplesPanel):
    TITLE = "gallery"

    def subtitle(self) -> str:
        memorized = int(self.ledger.memorized(self.label).sum())
        return f"{memorized} memorised, earliest first · true → given"

    def draw(self, width: int, height: int) -> Text:
        ledger = self.ledger
        thumbnails = ledger.thumbnails
        order = ledger.memorized_order(self.label)
        if thumbnails is None or not thumbnails.images.size:
            return Text("this run has no thumbnail pack (thumbnails.npz): no images to show",
                        style=DIM)
        if not order.size:
            return Text("no corrupted sample memorised yet", style=DIM)
        packed = order[np.isin(order, thumbnails.rows)]
        if not packed.size:
            return Text(f"{order.size} memorised, none of them in the thumbnail pack", style=DIM)
        image_height, image_width = thumbnails.images.shape[-2:]
        cell_rows = (image_height + 1) // 2
        per_row = max(1, (width + GAP) // (image_width + GAP))
        rows = max(1, height // (cell_rows + 1))
        shown = [(int(row), image) for row in packed[:per_row * rows].tolist()
                 if (image := thumbnails.image(int(row))) is not None]
        names = ledger.class_names
        text = Text(no_wrap=True, overflow="crop")
        for start in range(0, len(shown), per_row):
            group = shown[start:start + per_row]
            lines = [self._lines(image) for _row, image in group]
            for line in range(cell_rows):
                if start or line:
                    text.append("\n")
                for n, drawn in enumerate(lines):
                    if n:
                        text.append(" " * GAP)
                    text.append_text(drawn[line])
            text.append("\n")
            for n, (row, _image) in enumerate(group):
                caption = f"{names[int(ledger.true[row])]} → {names[int(ledger.given[row])]}"
                text.append((" " * GAP if n else "") + caption[:image_width].ljust(image_width),
                            DIM)
        return text

    def _lines(self, image: np.ndarray) -> list[Text]:
        """One Text per cell row of a thumbnail."""
        if self.no_color:
            return [Text(row) for row in shade_rows(image)]
        lines = []
        for cells in half_block_cells(image):
            line = Text()
            for upper, lower in cells:
                line.append(UPPER_HALF, pixel_pair(upper, lower))
            lines.append(line)
        return lines
