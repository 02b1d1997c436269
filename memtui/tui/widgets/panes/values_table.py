"""A borderless table drawn from prebuilt lines (the panes' current and best values)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

#: The header row of a values table.
DIM = Style(dim=True)


class ValuesTable(Widget):
    """A borderless table: the first column left-aligned and styled per row, the others
    right-aligned, the header dim; it looks as Rich's ``Table(box=None)`` does in a Static. The
    values of every pane change each epoch, and a Static re-wrapped and re-styled its whole
    table at each change: that was most of the view's CPU time with several runs on screen
    (docs/benchmarks.md). This widget builds each line's segments once per change and hands
    Textual finished lines."""

    DEFAULT_CSS = "ValuesTable { height: auto; width: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._strips: list[Strip] = []
        self._base = Style()

    @property
    def plain(self) -> str:
        return "\n".join(strip.text for strip in self._strips)

    def show(self, header: tuple[str, ...], rows: Sequence[tuple[str, ...]], gap: int,
             title_styles: Sequence[str]) -> None:
        """``title_styles``: a Rich style for each row's first cell ("" for none)."""
        table = [header, *rows]
        widths = [max(cell_len(row[i]) for row in table) for i in range(len(header))]
        strips = []
        for number, row in enumerate(table):
            rest = "".join(" " * (gap + width - cell_len(cell)) + cell
                           for cell, width in zip(row[1:], widths[1:]))
            first = row[0] + " " * (widths[0] - cell_len(row[0]))
            if number == 0:
                segments = [Segment(first + rest, DIM)]
            else:
                style = title_styles[number - 1]
                segments = [Segment(first, Style.parse(style) if style else None), Segment(rest)]
            strips.append(Strip(segments, sum(widths) + gap * (len(widths) - 1)))
        new_height = len(strips) != len(self._strips)
        self._strips = strips
        self.refresh(layout=new_height)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return max((strip.cell_length for strip in self._strips), default=0)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._strips)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._base = self.rich_style  # once per redraw, not per line: it walks the DOM
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        base = self._base
        width = self.size.width
        if y >= len(self._strips):
            return Strip.blank(width, base)
        return self._strips[y].apply_style(base).crop_extend(0, width, base)
