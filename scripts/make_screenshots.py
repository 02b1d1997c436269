"""Regenerate the SVG screenshots in screenshots/ from real training runs.

Runs the live view headlessly (Textual's run_test) on a real engine, waits for the run to end and
saves what the screen shows:

  screenshots/demo.svg           the demo preset (embedded Fashion-MNIST subset), 160x48
  screenshots/demo-overlay.svg   the same run, overlay view of `memorized`
  screenshots/demo-80x24.svg     the same run at 80x24 (panes show one chart each)
  screenshots/samples.svg        the same run's samples screen (e), 200x60: when, what, data map
  screenshots/samples-gallery.svg  the same at 200x60 from panel 4: scoreboard, gallery, when
  screenshots/samples-80x24.svg  the gallery at 80x24 (one panel of one loss)
  screenshots/mnist.svg          real MNIST with 40% random labels (the mnist-noisy preset)
  screenshots/sweep-board.svg    `memtui watch` on a sweep directory (--sweep: a finished one,
                                 e.g. docs/results.md section 6's), shown as sweeps/noise
  screenshots/compare-overlay.svg  `memtui watch` of several runs (--compare): mean ± std bands
  screenshots/leaderboard.svg      the same runs' leaderboard

    .venv/bin/python scripts/make_screenshots.py --data-dir DATA
        [--mnist-epochs 30] [--mnist-subset 10000] [--out screenshots]
        [--demo-run RUN_DIR] [--compare RUN_DIR ...] [--sweep SWEEP_DIR] [--skip-demo]
        [--skip-mnist]

The run directories go to a temporary folder and are deleted afterwards. ``--demo-run`` takes the
demo screenshots from a finished demo run directory instead of training one; ``--compare`` takes
the multi-run ones from finished runs, e.g. three seeds and two noise rates of the demo preset:

    for s in 0 1 2; do memtui run --no-ui --seed $s --out runs/demo-s$s; done
    for s in 0 1; do memtui run --no-ui --seed $s --noise 0.8 --out runs/demo-n08-s$s; done

Every SVG has its braille pinned to its cells (memtui.tui.svg), so renderers that ignore
textLength (librsvg) draw the charts inside their frames.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from memtui.config import ExperimentConfig, apply_overrides, load_preset
from memtui.session import start_run
from memtui.tui.app import MemtuiApp
from memtui.tui.sources import LiveSource, MultiRunSource, RunDirSource, RunSource
from memtui.tui.svg import pin_cells
from memtui.tui.sweep_app import SweepApp

Shots = dict[str, tuple[tuple[int, int], list[str]]]


def save(app: MemtuiApp, out: Path, name: str) -> None:
    (out / name).write_text(pin_cells(app.export_screenshot()), encoding="utf-8")
    print(f"  wrote {out / name}")


async def take(app: MemtuiApp, pilot, shots: Shots, out: Path) -> None:
    """For each file name: resize the terminal, press the keys, save the screen, undo."""
    for name, (size, keys) in shots.items():
        await pilot.resize_terminal(*size)
        await pilot.pause(0.3)
        for key in keys:
            await pilot.press(key)
        await pilot.pause(1.0)  # a few refresh ticks
        app.flush(force=True)
        await pilot.pause(0.3)
        save(app, out, name)
        for key in reversed(keys):  # undo toggles for the next shot
            await pilot.press("escape" if key in ("b", "right", "left") else key)
        await pilot.pause(0.2)


async def shoot_dirs(source: RunSource, shots: Shots, out: Path) -> None:
    """The view of finished run directories (`memtui watch`), replayed to their end."""
    app = MemtuiApp(source)
    async with app.run_test(size=next(iter(shots.values()))[0]) as pilot:
        while not all(state.finished for state in app.comparison.runs):
            await pilot.pause(0.2)
        await take(app, pilot, shots, out)
        await pilot.press("q")


async def shoot(config: ExperimentConfig, shots: dict[str, tuple[tuple[int, int], list[str]]],
                out: Path) -> None:
    """Train ``config`` under the app; then, for each file name, resize the terminal, press the
    keys and save the screen."""
    app = MemtuiApp(LiveSource(start_run(config)))
    first_size = next(iter(shots.values()))[0]
    start = time.perf_counter()
    async with app.run_test(size=first_size) as pilot:
        while not app.state.finished:
            await pilot.pause(0.5)
        print(f"{config.name}: {app.state.status} after {app.state.epochs_done} epochs in "
              f"{time.perf_counter() - start:.0f} s")
        await take(app, pilot, shots, out)
        await pilot.press("q")


async def shoot_board(sweep_dir: Path, out: Path, size: tuple[int, int] = (160, 40)) -> None:
    """The board of a sweep, opened as `memtui watch sweeps/noise` would show it: through a link
    of that name in a temporary folder, so the header names no machine's path. Reads only."""
    with tempfile.TemporaryDirectory(prefix="memtui-shots-") as tmp:
        (Path(tmp) / "sweeps").mkdir()
        (Path(tmp) / "sweeps" / "noise").symlink_to(sweep_dir.resolve())
        out = out.resolve()
        cwd = Path.cwd()
        os.chdir(tmp)
        try:
            app = SweepApp(Path("sweeps/noise"))
            async with app.run_test(size=size) as pilot:
                await pilot.pause(0.6)
                save(app, out, "sweep-board.svg")
                await pilot.press("q")
        finally:
            os.chdir(cwd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path,
                        help="folder holding MNIST/raw (needed unless --skip-mnist)")
    parser.add_argument("--mnist-epochs", type=int, default=30)
    parser.add_argument("--mnist-subset", type=int, default=10000,
                        help="training images of MNIST to use (0: all 60,000)")
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--demo-run", type=Path,
                        help="a finished demo run directory to take the demo shots from")
    parser.add_argument("--compare", type=Path, nargs="+", default=[],
                        help="finished run directories for the multi-run shots")
    parser.add_argument("--only-compare", action="store_true",
                        help="make the multi-run shots only")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--sweep", type=Path, help="a sweep directory: screenshot its board")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    if args.sweep is not None:
        asyncio.run(shoot_board(args.sweep, args.out))

    if args.compare:
        sources: list[RunSource] = [RunDirSource(path) for path in args.compare]
        asyncio.run(shoot_dirs(MultiRunSource(sources, [p.name for p in args.compare]), {
            "compare-overlay.svg": ((160, 48), ["o"]),
            "leaderboard.svg": ((120, 30), ["b"]),
        }, args.out))
    if args.only_compare:
        return
    demo_shots: Shots = {
        "demo.svg": ((160, 48), []),
        "demo-overlay.svg": ((160, 48), ["o"]),
        "demo-80x24.svg": ((80, 24), []),
        # the samples screen: e opens it, a panel's number picks the first panel shown (the
        # undo presses them again in reverse: the number is harmless, e closes the screen)
        "samples.svg": ((200, 60), ["e"]),
        "samples-gallery.svg": ((200, 60), ["e", "4"]),
        "samples-80x24.svg": ((80, 24), ["e", "5"]),
    }
    with tempfile.TemporaryDirectory(prefix="memtui-shots-") as tmp:
        if args.skip_demo:
            pass
        elif args.demo_run:
            asyncio.run(shoot_dirs(RunDirSource(args.demo_run), demo_shots, args.out))
        else:
            demo = apply_overrides(load_preset("demo"), {"out": Path(tmp) / "demo"})
            asyncio.run(shoot(demo, demo_shots, args.out))
        if not args.skip_mnist:
            mnist = apply_overrides(load_preset("mnist-noisy"), {
                "epochs": args.mnist_epochs,
                "data.data_dir": args.data_dir.resolve(),
                "data.subset": args.mnist_subset or None,
                "out": Path("runs/mnist-noisy"),  # relative: the header shows no temporary path
            })
            out, cwd = args.out.resolve(), Path.cwd()
            os.chdir(tmp)
            try:
                asyncio.run(shoot(mnist, {"mnist.svg": ((160, 48), [])}, out))
            finally:
                os.chdir(cwd)


if __name__ == "__main__":
    main()
