"""The errors memtui reports to a user as one line on stderr with exit code 2.

Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import errno
import unicodedata
from collections.abc import Iterable


class MemtuiError(Exception):
    """A problem with what the user asked for (a preset, a flag, a path, a run directory)."""


class ConfigError(MemtuiError):
    """An experiment description that cannot be run: unknown names, bad values, malformed TOML."""


class DataError(MemtuiError):
    """A data set that cannot be found or read."""


class RunDirError(MemtuiError):
    """A run directory that cannot be written or read."""


class RunWriteError(RunDirError):
    """The run directory stopped taking writes mid-run (a full disk, a read-only remount)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def printable(text: str) -> str:
    """``text`` with control characters escaped (NUL as \\x00, ESC as \\x1b): a value echoed
    from a file name or a preset cannot move the cursor, recolour or clear the user's terminal,
    or hide the rest of its line."""
    return "".join(ch if unicodedata.category(ch) != "Cc" else ascii(ch)[1:-1] for ch in text)


#: What the errors of a full machine mean, said where a run or a sweep cell reports them.
_MEANING = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded",
            errno.EFBIG: "over the file-size limit, see ulimit -f"}


def os_reason(exc: BaseException) -> str:
    """Why a write failed, in words and by name: 'No space left on device, ENOSPC: disk full'."""
    if not isinstance(exc, OSError) or exc.errno is None:
        return str(exc) or type(exc).__name__
    name = errno.errorcode.get(exc.errno, str(exc.errno))
    meaning = _MEANING.get(exc.errno)
    return f"{exc.strerror or exc}, {name}" + (f": {meaning}" if meaning else "")
