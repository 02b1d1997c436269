"""Whether there is a terminal a view can draw on. Textual writes to stderr and reads the size
from stdout, so both must be terminals, and TERM must be one that draws. No Textual here: the
CLI asks before it chooses between a view and headless output."""

from __future__ import annotations

import os
import sys

#: TERM values under which a full-screen view cannot draw.
UNDRAWABLE_TERMS = ("", "dumb", "unknown")


def stream_not_a_terminal() -> str | None:
    """The name of the first of stdout and stderr that is not a terminal (a pipe, a file,
    closed), if any."""
    for name, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
        if stream is None or not stream.isatty():
            return name
    return None


def term_that_cannot_draw() -> str | None:
    """TERM's value ("" when unset) when a view cannot draw under it."""
    term = os.environ.get("TERM", "")
    return term if term in UNDRAWABLE_TERMS else None


def can_draw() -> bool:
    return stream_not_a_terminal() is None and term_that_cannot_draw() is None
