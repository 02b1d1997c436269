"""The live views in a real terminal (a pseudo-terminal), hung up as an SSH session or a tmux
pane going away hangs it up: the kernel sends SIGHUP and the terminal is gone. The process must
not wait on the dead terminal (Textual's teardown writes to it), and what it runs must stop
cleanly, with its summary, before the process ends with the exit code of a stopped run."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time
from pathlib import Path

import pytest
import tomli_w
from sweep_helpers import grid_text

from memtui.runlog import read_run
from memtui.sweep.manifest import Manifest

from helpers import tiny_document

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux ptys")]


class Terminal:
    """``memtui ARGS`` as the only process of a fresh 120x30 terminal."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": os.pathsep.join(sys.path)}
        env.pop("NO_COLOR", None)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: a session of its own, the terminal its controlling one
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "memtui", *args], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
        self.output = b""

    def read_until(self, ready, timeout: float = 60.0) -> None:
        """Keep reading what the view draws (a full terminal would block it) until ``ready()``."""
        deadline = time.monotonic() + timeout
        while not ready():
            assert time.monotonic() < deadline, self.output[-2000:].decode(errors="replace")
            if select.select([self.fd], [], [], 0.05)[0]:
                try:
                    self.output += os.read(self.fd, 65536)
                except OSError:  # the child has gone
                    return

    def hang_up(self, timeout: float = 60.0) -> int:
        """Close the terminal (SIGHUP to the child); its exit code once it has ended."""
        os.close(self.fd)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        pytest.fail(f"still running {timeout:.0f} s after the terminal was hung up")


def lines_in(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except OSError:
        return 0


def test_a_hung_up_terminal_stops_the_run_with_its_summary_and_ends_the_view(tmp_path):
    preset = tmp_path / "tiny.toml"
    preset.write_text(tomli_w.dumps(tiny_document(epochs=500, checkpoint_every=1)))
    run_dir = tmp_path / "run"
    terminal = Terminal(["run", "--preset", str(preset), "--out", str(run_dir)], tmp_path)
    terminal.read_until(lambda: lines_in(run_dir / "metrics.jsonl") >= 3)  # an epoch, drawn
    assert b"\x1b[" in terminal.output  # the view, not the headless table

    assert terminal.hang_up() == 130
    summary = read_run(run_dir).summary
    assert summary["status"] == "stopped" and 1 <= summary["epochs_completed"] < 500


def test_a_hung_up_terminal_stops_the_sweep_under_its_board_and_ends_the_view(tmp_path):
    """Hung up as soon as the board is drawn: the sweep's process may still be starting, or its
    first cell; whichever, nothing is left running and the cells can be resumed. (How running
    cells stop, each with its summary: tests/tui/test_sweep_board.py.)"""
    grid = tmp_path / "grid.toml"
    grid.write_text(grid_text(epochs=500, subset=400, axes="seed = [0, 1]"))
    sweep_dir = tmp_path / "sweep"
    terminal = Terminal(["sweep", str(grid), "--out", str(sweep_dir), "--parallel", "1"],
                        tmp_path)
    terminal.read_until(lambda: b"running here" in terminal.output)  # the board

    assert terminal.hang_up() == 130
    statuses = {cell["status"] for cell in Manifest.load(sweep_dir).cells}
    assert statuses <= {"pending", "stopped"}, statuses
    assert not processes_mentioning(str(sweep_dir))  # the sweep and its cells have ended


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_text():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
