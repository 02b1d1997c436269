"""Re-make the tables and figures of docs/results.md from the committed run data.

The runs behind the page live in docs/results-data/<section>/<run>/ (config.json, metrics.jsonl,
summary.json: what `memtui report` reads). Each table of the page sits between
``<!-- table: KEY -->`` and ``<!-- /table: KEY -->`` and is exactly what
``memtui report RUNS... --format markdown`` prints for that table's runs; its figure is
``--plot docs/figures/KEY.svg``. This script is the one way to write them, and
tests/test_results_page.py checks that the page still equals what it would write.

    python scripts/results/make_results.py --runs runs/results   # copy new runs in, then re-make
    python scripts/results/make_results.py                       # re-make from the committed data
    python scripts/results/make_results.py --check               # exit 1 if the page has drifted

``--runs`` takes the root that scripts/results/run_all.sh writes.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "results.md"
DATA = ROOT / "docs" / "results-data"
FIGURES = ROOT / "docs" / "figures"
RUN_FILES = ("config.json", "metrics.jsonl", "summary.json")

SEEDS = (0, 1, 2)

#: Each table of the page: its key and its runs (section/run under docs/results-data), in order.
TABLES: dict[str, list[str]] = {
    "lr0.1-nobn": [f"lr-batchnorm/lr0.1-nobn-s{s}" for s in SEEDS],
    "raw-input": [f"raw-input/lr0.1-nobn-raw-s{s}" for s in SEEDS],
    "rll-question": [f"rll-question/{v}-s{s}" for v in ("rll-sgd", "rll-adam") for s in SEEDS],
    "lr-batchnorm": [f"lr-batchnorm/{v}-s{s}" for v in ("lr0.1-bn", "lr0.01-nobn", "lr0.01-bn")
                     for s in SEEDS],
    "noise-rate": [f"noise-rate/noise-{n}-s{s}" for n in ("0.4", "0.6", "0.8", "0.9")
                   for s in SEEDS],
    "demo-batchnorm": [f"demo/demo-{v}-s{s}" for v in ("bn", "nobn") for s in SEEDS],
    "cifar-n-worse": [f"cifar-n/worse-seed{s}" for s in SEEDS],
    "cifar-n-sym40": [f"cifar-n/sym40-seed{s}" for s in SEEDS],
}

BLOCK = re.compile(r"(<!-- table: (?P<key>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /table: (?P=key) -->)",
                   re.DOTALL)


def run_dirs(key: str) -> list[Path]:
    return [DATA / run for run in TABLES[key]]


def report(key: str, plot: bool = False) -> str:
    """What `memtui report` prints for a table's committed runs (and its figure, with plot)."""
    command = [sys.executable, "-m", "memtui", "report", *map(str, run_dirs(key)),
               "--format", "markdown"]
    if plot:
        command += ["--plot", str(FIGURES / f"{key}.svg")]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return done.stdout


def tables_in_page(text: str) -> dict[str, str]:
    return {m["key"]: m["body"] for m in BLOCK.finditer(text)}


def copy_runs(runs_root: Path) -> None:
    for key, runs in TABLES.items():
        complete = [r for r in runs if '"completed"' in _read(runs_root / r / "summary.json")]
        if len(complete) < len(runs):
            print(f"{key}: {len(complete)} of {len(runs)} runs completed in {runs_root}; "
                  "not copied", file=sys.stderr)
            continue
        for run in runs:
            target = DATA / run
            target.mkdir(parents=True, exist_ok=True)
            for name in RUN_FILES:
                shutil.copyfile(runs_root / run / name, target / name)
            _forget_machine_paths(target / "config.json")


def _forget_machine_paths(config_file: Path) -> None:
    """The data folder is a path of the machine that ran it: committed data names none."""
    document = json.loads(config_file.read_text())
    data = document.get("config", {}).get("data", {})
    corruption = document.get("config", {}).get("corruption", {})
    if data.get("data_dir") is not None or corruption.get("file"):
        data["data_dir"] = None
        if corruption.get("file"):  # a label file: its name says which, its folder is the machine's
            corruption["file"] = Path(corruption["file"]).name
        config_file.write_text(json.dumps(document, indent=2) + "\n")


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def remake(check: bool) -> int:
    text = PAGE.read_text()
    drifted = []

    def fill(match: re.Match[str]) -> str:
        key = match["key"]
        if key not in TABLES:
            raise SystemExit(f"docs/results.md has a table {key!r} that TABLES does not name")
        missing = [str(d) for d in run_dirs(key) if not (d / "summary.json").exists()]
        if missing:
            raise SystemExit(f"table {key!r}: no committed run at {', '.join(missing)}")
        body = report(key, plot=not check)
        if body != match["body"]:
            drifted.append(key)
        return match.group(1) + body + match.group(4)

    new = BLOCK.sub(fill, text)
    if check:
        if drifted:
            print(f"docs/results.md differs from the data in: {', '.join(drifted)}", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(new)
    print(f"re-made {len(tables_in_page(new))} tables and their figures", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, help="copy the completed runs of this root in first")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page has drifted")
    args = parser.parse_args()
    if args.runs:
        copy_runs(args.runs)
    return remake(args.check)


if __name__ == "__main__":
    sys.exit(main())
