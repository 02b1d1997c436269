"""*What*: for the corrupted samples, original class (rows) by the loss's prediction now
(columns), and how many it predicts as their given label, their true one, or a third."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from memtui.palette import METRIC_COLOURS, RGB, rich_colour
from memtui.sample_figures import prediction_shares
from memtui.tui.widgets.samples.cells import short_name
from memtui.tui.widgets.samples.samples_panel import (
    CORRUPTED_STYLE,
    DIM,
    SamplesPanel,
    percent,
)

RECOVERED_STYLE = Style.parse(rich_colour(METRIC_COLOURS["recovered"]))
#: The heat of a cell: its background goes from this towards the cell's colour with its count.
BACKGROUND: RGB = (30, 30, 30)


def heat(rgb: RGB, share: float) -> Style:
    r, g, b = (round(t + (c - t) * share) for c, t in zip(rgb, BACKGROUND))
    return Style(bgcolor=f"rgb({r},{g},{b})", color="white" if share > 0.3 else None)


class MatrixPanel(SamplesPanel):
    TITLE = "what"

    def draw(self, width: int, height: int) -> Text:
        ledger = self.ledger
        matrix = ledger.prediction_matrix(self.label)
        names = ledger.class_names
        k = len(names)
        digits = len(str(int(matrix.max(initial=0))))
        cell = max(digits + 1, min(7, (width - 8) // max(1, k + 1)))
        row_label = max(4, min(12, width - cell * k - 1))
        shares = prediction_shares(ledger, self.label)
        text = Text(no_wrap=True, overflow="crop")
        text.append(f"{shares.total} corrupted: ")
        text.append(f"given {percent(shares.given, shares.total)}", CORRUPTED_STYLE)
        text.append(" · ")
        text.append(f"true {percent(shares.true, shares.total)}", RECOVERED_STYLE)
        text.append(f" · other {percent(shares.other, shares.total)}\n")
        text.append("true \\ pred".ljust(row_label)[:row_label], DIM)
        text.append("".join(short_name(n, cell - 1).rjust(cell) for n in names) + "\n", DIM)
        top = max(1, int(matrix.max(initial=0)))
        colour_on = not self.no_color
        for i, name in enumerate(names[:max(0, height - 3)]):
            text.append(short_name(name, row_label - 1).ljust(row_label), DIM)
            for j in range(k):
                count = int(matrix[i, j])
                shown = str(count) if count else "·"
                rgb = METRIC_COLOURS["recovered"] if i == j else METRIC_COLOURS["memorized"]
                style = heat(rgb, count / top) if colour_on and count else (
                    Style(bold=True, underline=True) if i == j and count else Style())
                text.append(" " * (cell - len(shown)))
                text.append(shown, style)
            text.append("\n")
        text.append("rows: true class · columns: prediction now · diagonal: recovered", DIM)
        return text
