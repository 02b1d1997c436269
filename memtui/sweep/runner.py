"""``memtui sweep``: check a grid, lay out the sweep directory, run or resume its cells.

```
sweeps/<id>/
  manifest.json          the cells, their overrides and status (manifest.py)
  grid.toml              the grid file as given
  cells/<cell>/          an ordinary run directory, plus cell.toml (its resolved experiment),
                         cell.log (its output) and attempts
```
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from memtui.config import config_warnings, to_toml
from memtui.errors import ConfigError, RunDirError, printable
from memtui.sweep.cell import CELL_TOML, is_complete
from memtui.sweep.driver import Driver, SweepDisplay
from memtui.sweep.grid import Grid, grid_source, load_grid
from memtui.sweep.manifest import CELLS_DIR, GRID_COPY, Manifest

EXECUTORS = ("local", "ray", "ray://host:port")


def check_executor(on: str) -> str:
    if on in ("local", "ray") or re.match(r"^ray://[^/:\s]+(:\d+)?/?$", on):
        return on
    raise ConfigError(f"--on: unknown executor {on!r}; valid: local, ray (RAY_ADDRESS, a "
                      "`ray start` on this machine, or a new local instance), ray://host:port")


def default_sweep_dir(name: str, root: Path = Path("sweeps")) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / f"{stamp}-{re.sub(r'[^A-Za-z0-9._-]+', '-', name).strip('-') or 'sweep'}"


def describe_cells(grid: Grid) -> str:
    """--dry-run's listing: one line per cell with its overrides."""
    res = grid.resources
    lines = [f"sweep {grid.name}: {len(grid.cells)} cells from base {grid.base!r}"
             + (f", with {', '.join(f'{k} = {v!r}' for k, v in grid.fixed.items())}"
                if grid.fixed else ""),
             f"resources per cell: {res.cpus_per_run:g} CPU, {res.gpus_per_run:g} GPU; "
             f"retries {res.retries}" + (f"; at most {res.parallel} at a time" if res.parallel
                                         else "")]
    width = max(len(cell.name) for cell in grid.cells)
    for cell in grid.cells:
        config = cell.config
        settings = ", ".join(f"{axis} = {value!r}" for axis, value in cell.overrides.items())
        lines.append(f"  {cell.name:<{width}}  {settings}  ({config.data.dataset}, "
                     f"{config.epochs} epochs, {', '.join(config.loss_labels)})")
    return "\n".join(lines) + "\n"


def create_sweep(grid: Grid, grid_text: str, out: Path) -> Manifest:
    if (out / "manifest.json").exists():
        raise RunDirError(f"{out} already holds a sweep; continue it with "
                          f"`memtui sweep --resume {out}` or choose another --out")
    if out.exists() and any(out.iterdir()):
        raise RunDirError(f"output directory {out} is not empty; choose another --out")
    try:
        (out / CELLS_DIR).mkdir(parents=True, exist_ok=True)
        (out / GRID_COPY).write_text(grid_text, "utf-8")
        for cell in grid.cells:
            cell_dir = out / CELLS_DIR / cell.name
            cell_dir.mkdir()
            (cell_dir / CELL_TOML).write_text(to_toml(cell.config.model_copy(update={"out": None})),
                                              "utf-8")
    except OSError as exc:
        raise RunDirError(f"sweep directory {out} cannot be written "
                          f"({exc.strerror or type(exc).__name__}); choose another --out") from None
    return Manifest.create(out, grid)


def rebuild_missing_cells(manifest: Manifest) -> list[str]:
    """Lay out again the cells whose directory (or cell.toml) was deleted, so that --resume runs
    them afresh: a cell's experiment is a surviving cell's with this cell's axis values (so
    the sweep's --data-dir and --device stay), or else the grid file's copy in the sweep."""
    import tomllib

    from memtui.config import validate
    from memtui.sweep.grid import _apply

    missing = [c for c in manifest.cells
               if not (manifest.cell_dir(c["name"]) / CELL_TOML).is_file()]
    if not missing:
        return []
    sibling = next((manifest.cell_dir(c["name"]) / CELL_TOML for c in manifest.cells
                    if (manifest.cell_dir(c["name"]) / CELL_TOML).is_file()), None)
    grid = None if sibling is not None else load_grid(manifest.sweep_dir / GRID_COPY)
    for cell in missing:
        name = cell["name"]
        try:
            if sibling is not None:
                document = _apply(tomllib.loads(sibling.read_text("utf-8")),
                                  dict(cell.get("overrides", {})))
                config = validate(document, f"{sibling} with the axis values of cell {name}")
            else:
                assert grid is not None
                config = next(c.config for c in grid.cells if c.name == name)
            cell_dir = manifest.cell_dir(name)
            cell_dir.mkdir(parents=True, exist_ok=True)
            (cell_dir / CELL_TOML).write_text(to_toml(config.model_copy(update={"out": None})),
                                              "utf-8")
        except StopIteration:
            raise RunDirError(f"cell {name}'s directory is gone and {GRID_COPY} has no such cell; "
                              "it cannot be rebuilt") from None
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RunDirError(f"cell {name}'s directory is gone and cannot be rebuilt "
                              f"({exc})") from None
        print(f"sweep {manifest.name}: cell {name} had no directory; laid out again, it starts "
              "afresh", file=sys.stderr)
    return [c["name"] for c in missing]


@dataclass
class PreparedSweep:
    """A sweep directory ready for an executor: its manifest and the cells still to run."""

    manifest: Manifest
    to_run: list[str]


def prepare_sweep(grid_file: Path | None, out: Path | None = None, parallel: int | None = None,
                  on: str = "local", resume: Path | None = None, dry_run: bool = False,
                  overrides: dict[str, Any] | None = None) -> PreparedSweep | None:
    """Check everything the user gave and lay out (or take up again) the sweep directory;
    None when there is nothing to run (--dry-run, or every cell of --resume is complete). Bad
    input raises a MemtuiError before any cell starts."""
    check_executor(on)
    if parallel is not None and parallel < 1:
        raise ConfigError("--parallel: give 1 or more")
    if resume is not None:
        if grid_file is not None or out is not None or dry_run or any(
                v is not None for v in (overrides or {}).values()):
            raise ConfigError("--resume takes the sweep directory only (with --parallel and --on); "
                              "its cells keep the experiment they were created with")
        manifest = Manifest.load(resume)
        rebuild_missing_cells(manifest)
        for cell in manifest.cells:  # the run directories are the truth
            if is_complete(manifest.cell_dir(cell["name"])):
                cell["status"] = "completed"
            elif cell["status"] in ("running", "completed"):
                cell["status"] = "stopped"
        manifest.save()
        to_run = [c["name"] for c in manifest.cells if c["status"] != "completed"]
        if not to_run:
            print(f"sweep {manifest.name}: every cell is complete; nothing to do ({resume})",
                  file=sys.stderr)
            return None
        return PreparedSweep(manifest, to_run)
    if grid_file is None:
        raise ConfigError("give a grid file, or a shipped grid's name (noise-grid), or --resume "
                          "SWEEP_DIR")
    grid = load_grid(grid_file, cli_overrides=overrides)
    grid_text, _, _ = grid_source(grid_file)
    warned: dict[str, list[str]] = {}
    for grid_cell in grid.cells:
        for warning in config_warnings(grid_cell.config):
            warned.setdefault(warning, []).append(grid_cell.name)
    for warning, cells in warned.items():
        print(f"memtui: warning: {printable(warning)} ({len(cells)} of {len(grid.cells)} cells, "
              f"e.g. {cells[0]})", file=sys.stderr)
    if dry_run:
        sys.stdout.write(describe_cells(grid))
        return None
    out = Path(out) if out is not None else default_sweep_dir(grid.name)
    return PreparedSweep(create_sweep(grid, grid_text, out), [cell.name for cell in grid.cells])


def execute_sweep(prepared: PreparedSweep, parallel: int | None = None, on: str = "local",
                  display: SweepDisplay | None = None) -> int:
    """Run the cells on the executor; the exit code: 0 all completed, 1 a cell failed, 130
    stopped with cells left."""
    manifest = prepared.manifest
    driver = Driver(manifest, prepared.to_run, retries=int(manifest.resources.get("retries", 0)),
                    display=display)
    try:
        if on == "local":
            from memtui.sweep.local import run_local

            run_local(driver, parallel)
        else:
            from memtui.sweep.ray_exec import run_ray

            run_ray(driver, None if on == "ray" else on, parallel)
    finally:
        driver.close()
    driver.say(driver.summary_line())
    return driver.exit_code()


def sweep_command(grid_file: Path | None, out: Path | None = None, parallel: int | None = None,
                  on: str = "local", resume: Path | None = None, dry_run: bool = False,
                  overrides: dict[str, Any] | None = None,
                  display: SweepDisplay | None = None) -> int:
    """`memtui sweep` without its live board: lines (and a bar) on ``display``."""
    prepared = prepare_sweep(grid_file, out, parallel, on, resume, dry_run, overrides)
    if prepared is None:
        return 0
    return execute_sweep(prepared, parallel, on, display)
