"""Drawing in terminal cells, pure (numpy and strings, no Textual): the samples panels' bars,
thumbnails and scatter, testable without a terminal.

- bars: eighth blocks, so a bar's length is exact to 1/8 of a cell;
- thumbnails: one pixel per half cell with the upper half block (foreground = upper pixel,
  background = lower pixel), lossless for 28x28 and 32x32 images in 24-bit colour; without
  colour, one shading character per cell (the mean of its two pixels);
- scatter: braille, 2x4 dots per cell.
"""

from __future__ import annotations

import numpy as np

from memtui.palette import RGB

UPPER_HALF = "▀"
EIGHTHS = " ▏▎▍▌▋▊▉█"
#: Darkest to brightest, for a terminal without colour (light text on a dark background).
SHADES = " ░▒▓█"
BRAILLE_BASE = 0x2800
#: Braille dot bits by (row, column) of the 4x2 dot grid in a cell.
BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


def bar(fraction: float, width: int) -> str:
    """A bar ``fraction`` (0..1) of ``width`` cells long, in eighths of a cell; a non-zero
    fraction is never drawn as nothing."""
    if width <= 0:
        return ""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    if fraction > 0 and eighths == 0:
        eighths = 1
    full, part = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[part] if part else "")


def as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] from an image [C, H, W] (C = 1 or 3) or [H, W]."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[None]
    if image.shape[0] == 1:
        image = np.repeat(image, 3, axis=0)
    return np.ascontiguousarray(np.transpose(image[:3], (1, 2, 0))).astype(np.uint8)


def half_block_cells(image: np.ndarray) -> list[list[tuple[RGB, RGB]]]:
    """Per cell row (two pixel rows) and cell, the (upper, lower) pixel colours that the upper
    half block draws as foreground and background. An odd last pixel row gets a black lower
    half."""
    rgb = as_rgb(image)
    if rgb.shape[0] % 2:
        rgb = np.concatenate([rgb, np.zeros((1, *rgb.shape[1:]), np.uint8)])
    upper, lower = rgb[0::2].tolist(), rgb[1::2].tolist()
    return [[(tuple(u), tuple(d)) for u, d in zip(up_row, low_row)]
            for up_row, low_row in zip(upper, lower)]


def shade_rows(image: np.ndarray) -> list[str]:
    """Without colour: one character per cell, its shade the mean brightness of its two
    pixels."""
    grey = as_rgb(image).astype(np.float64).mean(axis=2)
    if grey.shape[0] % 2:
        grey = np.concatenate([grey, np.zeros((1, grey.shape[1]))])
    cells = (grey[0::2] + grey[1::2]) / 2.0
    levels = np.minimum((cells / 256.0 * len(SHADES)).astype(np.int64), len(SHADES) - 1)
    return ["".join(SHADES[v] for v in row) for row in levels.tolist()]


def braille_rows(dots: np.ndarray) -> list[str]:
    """Bool dots [4 * rows, 2 * columns] as braille characters, one string per cell row
    (blank cells are spaces)."""
    dots = np.asarray(dots, dtype=bool)
    rows, columns = dots.shape[0] // 4, dots.shape[1] // 2
    codes = np.zeros((rows, columns), dtype=np.int64)
    for dy in range(4):
        for dx in range(2):
            codes |= dots[dy::4, dx::2][:rows, :columns].astype(np.int64) * BRAILLE_BITS[dy][dx]
    return ["".join(chr(BRAILLE_BASE + c) if c else " " for c in row) for row in codes.tolist()]


def short_name(name: str, width: int) -> str:
    """A class name cut to ``width`` characters (the first letters: 'T-shirt/top' -> 'T-sh')."""
    return name if len(name) <= width else name[:width]
