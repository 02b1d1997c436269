"""How fast do the commands start and end? Wall time and peak memory of `memtui --help`,
`memtui presets`, `memtui report RUN` (and `memtui run --help`), `memtui presets show demo`,
`memtui sweep noise-grid --dry-run` and an import of the sweep orchestrator
(`python -c 'import memtui.sweep.runner'`), each in a fresh process, several rounds, rotated so
that drift on a shared machine hits every command. ``--short-run`` adds a
one-epoch headless run of 256 demo images: what a run costs beyond its training (importing
torch, building the bank, leaving the interpreter).

    python benchmarks/startup.py [--rounds 9] [--run RUN_DIR] [--short-run] [--checkout DIR ...]
                                 [--only COMMAND ...]

``--checkout`` times another checkout of memtui side by side (PYTHONPATH points at it), e.g. the
code before a change: `git worktree add /tmp/before <commit>`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EMPTY_DIR = tempfile.mkdtemp(prefix="memtui-startup-")


def measure(argv: list[str], pythonpath: Path) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one process: `memtui ARGV`, or `python -c CODE` when
    ARGV is ["-c", CODE]."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    start = time.perf_counter()
    # cwd elsewhere: `python -m` puts the working directory first on sys.path
    python_args = argv if argv[:1] == ["-c"] else ["-m", "memtui", *argv]
    process = subprocess.Popen([sys.executable, *python_args], env=env, cwd=EMPTY_DIR,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"memtui {' '.join(argv)} failed in {pythonpath}")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--run", type=Path, default=ROOT / "docs" / "gpu-runs" / "cifar10-random",
                        help="run directory for `report` (default: the committed GPU run, which "
                        "every version reads)")
    parser.add_argument("--checkout", type=Path, action="append", default=[],
                        help="another memtui checkout to time side by side")
    parser.add_argument("--short-run", action="store_true",
                        help="also time `memtui run --no-ui` of one epoch on 256 demo images")
    parser.add_argument("--only", action="append", default=[], metavar="COMMAND",
                        help="time only this command (by its name in the table; repeatable)")
    args = parser.parse_args()
    run = args.run
    commands = {"--help": ["--help"], "presets": ["presets"], "report": ["report", str(run)],
                "run --help": ["run", "--help"], "presets show": ["presets", "show", "demo"],
                "sweep --dry-run": ["sweep", "noise-grid", "--dry-run"],
                "import runner": ["-c", "import memtui.sweep.runner"]}
    if args.short_run:
        # each process gets a fresh run directory ({fresh})
        commands["run 1 epoch"] = ["run", "--no-ui", "--preset", "demo", "--epochs", "1",
                                   "--subset", "256", "--out", "{fresh}"]
    if args.only:
        unknown = set(args.only) - set(commands)
        if unknown:
            parser.error(f"unknown command {sorted(unknown)}; valid: {', '.join(commands)}")
        commands = {name: commands[name] for name in args.only}
    checkouts = [ROOT, *args.checkout]
    cases = [(c, name) for c in checkouts for name in commands]
    results: dict[tuple[Path, str], list[tuple[float, float]]] = {case: [] for case in cases}
    for round_ in range(args.rounds):
        shift = round_ % len(cases)
        for checkout, name in cases[shift:] + cases[:shift]:
            argv = [tempfile.mkdtemp(dir=EMPTY_DIR) + "/run" if a == "{fresh}" else a
                    for a in commands[name]]
            results[(checkout, name)].append(measure(argv, checkout))
    load = os.getloadavg()[0]
    print(f"{args.rounds} rounds, load average {load:.2f} on {os.cpu_count()} CPUs")
    print(f"{'checkout':<22} {'command':<16} {'median s':>9} {'min-max s':>13} {'peak MB':>8}")
    for (checkout, name), samples in results.items():
        walls = [w for w, _ in samples]
        peak = statistics.median(m for _, m in samples)
        label = "this" if checkout == ROOT else str(checkout)
        print(f"{label:<22} {name:<16} {statistics.median(walls):>9.2f} "
              f"{min(walls):>6.2f}-{max(walls):<6.2f} {peak:>8.0f}")


if __name__ == "__main__":
    main()
