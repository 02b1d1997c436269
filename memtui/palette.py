"""The one palette of memtui: the live view, the headless table and `memtui report --plot` draw
the same loss in the same colour, and tell standard from symmetric losses by line style too;
every matplotlib figure (a run's curves, a sweep's) takes both from `line_style`.

Okabe & Ito's eight colours ("Color Universal Design", 2008) stay apart under the common forms
of colour blindness; black is left out (it is the terminal's background), so seven remain.
Nothing here imports Textual, Rich or matplotlib.
"""

from __future__ import annotations

RGB = tuple[int, int, int]

#: Okabe-Ito without black, in the order series take them.
OKABE_ITO: tuple[RGB, ...] = (
    (0, 114, 178),    # blue
    (230, 159, 0),    # orange
    (0, 158, 115),    # bluish green
    (204, 121, 167),  # reddish purple
    (86, 180, 233),   # sky blue
    (213, 94, 0),     # vermillion
    (240, 228, 66),   # yellow
)
NAMES = ("blue", "orange", "bluish green", "reddish purple", "sky blue", "vermillion", "yellow")

#: The series of a pane (metrics of one loss), each with a fixed colour.
METRIC_COLOURS: dict[str, RGB] = {
    "train_acc": OKABE_ITO[1],   # orange
    "memorized": OKABE_ITO[5],   # vermillion
    "test_acc": OKABE_ITO[2],    # bluish green
    "clean_acc": OKABE_ITO[4],   # sky blue
    "recovered": OKABE_ITO[3],   # reddish purple
    "train_loss": OKABE_ITO[1],
    "test_loss": OKABE_ITO[4],
}

#: Terminal markers (plotext): standard losses draw solid braille lines, symmetric ones lines of
#: dots, so the two families read apart without colour too.
TERMINAL_MARKER = {False: "braille", True: "dot"}
#: The same in a legend drawn with text.
LEGEND_STROKE = {False: "━━", True: "••"}
#: matplotlib line styles: standard solid, symmetric dashed.
LINE_STYLE = {False: "-", True: "--"}


def loss_colour(index: int) -> RGB:
    """The colour of the ``index``-th loss of a run (the config's order), or of the index-th
    series of a comparison."""
    return OKABE_ITO[index % len(OKABE_ITO)]


def hex_colour(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def rich_colour(rgb: RGB) -> str:
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})"


def dimmed(rgb: RGB, towards: RGB = (40, 40, 40), share: float = 0.5) -> RGB:
    """A colour halfway to the background: the ± std lines of a band around its mean."""
    r, g, b = (round(c * (1 - share) + t * share) for c, t in zip(rgb, towards))
    return (r, g, b)


def line_style(index: int, symmetric: bool) -> dict[str, str]:
    """matplotlib's color and linestyle of the index-th loss: every figure draws with these."""
    return {"color": hex_colour(loss_colour(index)), "linestyle": LINE_STYLE[symmetric]}
