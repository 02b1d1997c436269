"""*When*: the epochs at which a loss memorised its corrupted samples, beside those at which it
first fitted its clean ones; each bar is the share of its own kind, on one scale for both."""

from __future__ import annotations

from rich.text import Text

from memtui.sample_figures import when_histogram
from memtui.tui.widgets.samples.cells import bar
from memtui.tui.widgets.samples.samples_panel import (
    CLEAN_STYLE,
    CORRUPTED_STYLE,
    DIM,
    SamplesPanel,
    percent,
)

LABEL_WIDTH = 8  # "epochs  " / "120-129 "
SHARE_WIDTH = 5  # " 12%"


class WhenPanel(SamplesPanel):
    TITLE = "when"

    def draw(self, width: int, height: int) -> Text:
        histogram = when_histogram(self.ledger, self.label, max(1, height - 3))
        bar_width = max(1, (width - LABEL_WIDTH - 2 * SHARE_WIDTH - 2) // 2)
        clean_total = max(1, histogram.num_clean)
        corrupted_total = max(1, histogram.num_corrupted)
        shares = [(f / clean_total, m / corrupted_total)
                  for f, m in zip(histogram.fitted.tolist(), histogram.memorized.tolist())]
        top = max((max(pair) for pair in shares), default=0.0) or 1.0
        text = Text(no_wrap=True, overflow="crop")
        column = bar_width + SHARE_WIDTH + 1
        text.append("epochs".ljust(LABEL_WIDTH), DIM)
        text.append("clean: first fitted".ljust(column)[:column], CLEAN_STYLE)
        text.append("corrupted: memorised"[:column], CORRUPTED_STYLE)
        for (first, last), (clean, corrupted) in zip(histogram.bins, shares):
            span = f"{first}" if first == last else f"{first}-{last}"
            text.append("\n" + span.rjust(LABEL_WIDTH - 1) + " ", DIM)
            text.append(bar(clean / top, bar_width).ljust(bar_width), CLEAN_STYLE)
            text.append(f"{100 * clean:4.0f}% ")
            text.append(bar(corrupted / top, bar_width).ljust(bar_width), CORRUPTED_STYLE)
            text.append(f"{100 * corrupted:4.0f}%")
        text.append("\n" + "not yet".rjust(LABEL_WIDTH - 1) + " ", DIM)
        never = (f"{histogram.never_fitted} clean never fitted "
                 f"({percent(histogram.never_fitted, histogram.num_clean)})")
        text.append(never.ljust(column)[:column], CLEAN_STYLE)
        text.append(f"{histogram.not_memorized} not memorised "
                    f"({percent(histogram.not_memorized, histogram.num_corrupted)})", CORRUPTED_STYLE)
        text.append(f"\n{'':>{LABEL_WIDTH}}", DIM)
        text.append(f"epoch {self.ledger.epoch} · {histogram.num_clean} clean, "
                    f"{histogram.num_corrupted} corrupted samples", DIM)
        return text
