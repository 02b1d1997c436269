"""*Scoreboard*: how well each per-sample score finds the corrupted labels, over epochs (AUROC,
the chance that a corrupted sample looks more suspect than a clean one; 50% is guessing), and at
the last epoch its AUROC and precision at k (k = the number of corrupted samples)."""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from memtui.palette import OKABE_ITO, RGB, rich_colour
from memtui.runlog.ledger import SCORES, LedgerView
from memtui.tui.widgets.charts.epoch_chart import MONO_MARKERS, EpochChart, Series, draw_series
from memtui.tui.widgets.samples.samples_panel import DIM, SamplesPanel

#: One colour per score, apart from the corrupted / clean pair of the other panels.
SCORE_COLOURS: dict[str, RGB] = {score.name: OKABE_ITO[i] for i, score in
                                 enumerate(SCORES)}


def figure(value: float) -> str:
    return f"{100 * value:5.1f}%" if math.isfinite(value) else "    —"


class ScoreboardPanel(SamplesPanel):
    TITLE = "scoreboard"

    def compose(self) -> ComposeResult:
        yield EpochChart(classes="score-chart")
        yield Static(classes="score-table")

    def on_mount(self) -> None:
        self._draw()

    def show(self, ledger: LedgerView) -> None:
        self.ledger = ledger
        self.border_subtitle = self.subtitle()
        self._draw()

    def render(self) -> Text:
        return Text("")

    def _draw(self) -> None:
        board = self.ledger.scoreboard
        series = []
        for score in SCORES:
            if score.name not in board.score_names:
                continue
            epochs, values = board.series(self.label, score.name)
            series.append(Series(score.title, [int(e) for e in epochs],
                                 [100.0 * float(v) for v in values], SCORE_COLOURS[score.name]))
        last = int(board.epochs.max(initial=1)) if board.epochs.size else 1
        draw_series(self.query_one(EpochChart), "AUROC % finding the corrupted labels", series,
                    percent=True, last_epoch=last, no_color=self.no_color)
        table = Text(no_wrap=True, overflow="crop")
        table.append(f"{'score':<12}{'AUROC':>7}{'prec@k':>8}", DIM)
        for i, score in enumerate(s for s in SCORES if s.name in board.score_names):
            column = board.score_names.index(score.name)
            auroc = board.auroc[self.label][:, column]
            precision = board.precision[self.label][:, column]
            seen = ~np.isnan(auroc)
            last_auroc = float(auroc[seen][-1]) if seen.any() else math.nan
            last_precision = float(precision[seen][-1]) if seen.any() else math.nan
            # under NO_COLOR the chart tells the scores apart by these markers
            marker = f" {MONO_MARKERS[i % len(MONO_MARKERS)]}" if self.no_color else ""
            table.append("\n")
            table.append(f"{score.title + marker:<12}",
                         Style.parse(rich_colour(SCORE_COLOURS[score.name])))
            table.append(f"{figure(last_auroc):>7}{figure(last_precision):>8}")
        self.query_one(".score-table", Static).update(table)
