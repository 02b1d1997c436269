"""What every panel of the samples screen shares: one loss of one ledger, a border titled with
the loss in its colour, and a redraw from the ledger whenever it or the panel's size changes."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.markup import escape
from textual.widget import Widget

from memtui.palette import METRIC_COLOURS, hex_colour, loss_colour, rich_colour
from memtui.runlog.ledger import LedgerView

#: The two kinds of sample in every panel, in the colours the panes give memorised and clean.
CORRUPTED_COLOUR = METRIC_COLOURS["memorized"]
CLEAN_COLOUR = METRIC_COLOURS["clean_acc"]
CORRUPTED_STYLE = Style.parse(rich_colour(CORRUPTED_COLOUR))
CLEAN_STYLE = Style.parse(rich_colour(CLEAN_COLOUR))
DIM = Style(dim=True)


class SamplesPanel(Widget):
    """A panel of one loss (``label``, the ``index``-th of the run) drawn from ``ledger``;
    subclasses draw it in ``draw`` for the panel's inner size."""

    #: the panel's name in its border and on the screen's panel line
    TITLE = ""

    def __init__(self, ledger: LedgerView, label: str, index: int) -> None:
        super().__init__(classes="samples-panel")
        self.ledger = ledger
        self.label = label
        self.index = index
        self._drawn: tuple[tuple[int, int, bool], Text] | None = None
        self.border_title = f"[b {hex_colour(loss_colour(index))}]{escape(label)}[/] · {self.TITLE}"
        self.border_subtitle = self.subtitle()

    def subtitle(self) -> str:
        """What the border's foot says (from ``self.ledger``)."""
        return ""

    @property
    def no_color(self) -> bool:
        return bool(self.app.no_color)

    def show(self, ledger: LedgerView) -> None:
        """Draw from a newer reading of the ledger."""
        self.ledger = ledger
        self._drawn = None
        self.border_subtitle = self.subtitle()
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size
        if width < 4 or height < 2:
            return Text("")
        # Textual renders again on any refresh; the text only changes with these
        key = (width, height, self.no_color)
        if self._drawn is None or self._drawn[0] != key:
            self._drawn = (key, self.draw(width, height))
        return self._drawn[1]

    def draw(self, width: int, height: int) -> Text:
        raise NotImplementedError


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"
