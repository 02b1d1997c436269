"""The `memtui` command line: run, watch, report, sweep, export, presets (and presets show)."""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from memtui.config import (
    DEFAULT_PRESET,
    ExperimentConfig,
    apply_overrides,
    load_preset,
    parse_losses,
    shipped_presets,
    to_toml,
)
from memtui.errors import ConfigError, MemtuiError

app = typer.Typer(
    name="memtui",
    help="Watch, live, whether a neural network memorises corrupted labels - several loss "
    "functions trained side by side on the same data (Patel & Sastry, PAKDD 2021).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
presets_app = typer.Typer(help="List the shipped presets, or print one fully resolved as TOML.")
app.add_typer(presets_app, name="presets")

EXIT_STATUS = {"completed": 0, "failed": 1, "stopped": 130}


def resolve_config(
    preset: str,
    epochs: int | None = None,
    losses: str | None = None,
    noise: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    data_dir: Path | None = None,
    subset: int | None = None,
    out: Path | None = None,
) -> ExperimentConfig:
    config = load_preset(preset)
    return apply_overrides(config, {
        "epochs": epochs,
        "losses": parse_losses(losses) if losses is not None else None,
        "corruption.noise": noise,
        "seed": seed,
        "device": device,
        "data.data_dir": data_dir,
        "data.subset": subset,
        "out": out,
    })


@contextmanager
def stop_on_signals(control):
    """SIGINT, SIGTERM and SIGHUP (an SSH session closing) ask the run to stop after the current
    batch; a second SIGINT interrupts at once, unless the run is already writing its summary."""
    previous = {}

    def handler(signum, _frame):
        if signum == signal.SIGINT and control.stop_requested and not control.finishing:
            raise KeyboardInterrupt
        control.request_stop()

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            sig = getattr(signal, name)
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@app.command()
def run(
    preset: Annotated[Optional[str], typer.Option(
        "--preset", "-p", help="A shipped preset name (see `memtui presets`) or a path to a .toml "
        f"file (default: {DEFAULT_PRESET}).", show_default=False)] = None,
    no_ui: Annotated[bool, typer.Option(
        "--no-ui", help="Run headless: progress and a table per epoch on stderr. Implied when "
        "stdout is not a terminal.")] = False,
    epochs: Annotated[Optional[int], typer.Option(
        help="Number of epochs (with --resume: the new total, to extend a run).")] = None,
    losses: Annotated[Optional[str], typer.Option(
        help="Comma-separated losses with default parameters, e.g. ce,mse,rll.")] = None,
    noise: Annotated[Optional[float], typer.Option(
        help="Corruption rate in [0, 1] for the preset's label corruption mode.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for corruption, init and batch order.")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(
        help="Folder holding the data set in torchvision's layout (read offline).")] = None,
    subset: Annotated[Optional[int], typer.Option(
        help="Train on a fixed random subset of this many training images.")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Run directory to write (default runs/<timestamp>-<preset>).")] = None,
    resume: Annotated[Optional[Path], typer.Option(
        help="Continue the run in this directory from its last checkpoint, with its own config. "
        "Only --epochs (to extend it), --device and --data-dir may be given with it.")] = None,
) -> None:
    """Train one model per loss in lockstep and stream the metrics of every epoch.

    The run directory gets config.json, metrics.jsonl (a line per loss per epoch), checkpoints
    and summary.json. ctrl+c, SIGTERM and SIGHUP stop after the current batch and keep every
    completed epoch; `memtui run --resume RUN_DIR` continues.
    """
    import torch

    from memtui.engine import Engine, RunControl
    from memtui.runlog import RunLogWriter, create_run_dir, default_run_dir

    use_ui = not no_ui and sys.stdout.isatty()
    threads = torch.get_num_threads()
    if use_ui:
        # The engine will train in a worker thread. OpenMP keeps a pool of threads for each thread
        # that ran a parallel region, and the main thread's idle pool slowed the worker's training
        # to half its speed on two cores (demo preset: 8,568 against 17,389 images/s headless).
        # So the main thread prepares with one thread, and the engine sets the count back in the
        # thread that trains.
        torch.set_num_threads(1)
    control = RunControl()
    if resume is not None:
        refused = {"--preset": preset, "--losses": losses, "--noise": noise, "--seed": seed,
                   "--subset": subset, "--out": out}
        given = [flag for flag, value in refused.items() if value is not None]
        if given:
            raise ConfigError(f"{given[0]} cannot be combined with --resume: it would change the "
                              "experiment; only --epochs (to extend it), --device and --data-dir "
                              "may be given")
        config, checkpoint = resume_config(resume, epochs, device, data_dir)
        run_dir = resume
        writer = RunLogWriter(run_dir, resume_after=checkpoint.epochs_completed)
        engine = Engine(config, [writer], control, run_dir=str(run_dir), checkpoint_dir=run_dir,
                        threads=threads)
        engine.restore(checkpoint)
    else:
        config = resolve_config(preset or DEFAULT_PRESET, epochs, losses, noise, seed, device,
                                data_dir, subset, out)
        run_dir = config.out or default_run_dir(config)
        config = config.model_copy(update={"out": run_dir})
        fresh_dir = not run_dir.exists()
        create_run_dir(run_dir)
        writer = RunLogWriter(run_dir)
        try:
            engine = Engine(config, [writer], control, run_dir=str(run_dir),
                            checkpoint_dir=run_dir, threads=threads)
            engine.prepare()
        except BaseException:
            if fresh_dir and run_dir.is_dir() and not any(run_dir.iterdir()):
                run_dir.rmdir()  # leave no empty run behind a typo
            raise
    raise typer.Exit(EXIT_STATUS[train(engine, writer, use_ui=use_ui)])


def resume_config(run_dir: Path, epochs: int | None, device: str | None, data_dir: Path | None):
    """The config a run directory was started with, extended by the few allowed overrides, and
    its checkpoint."""
    from memtui.checkpoint import Checkpoint
    from memtui.config import validate
    from memtui.runlog import read_run

    record = read_run(run_dir)
    config = validate(record.config, source=f"{run_dir}/config.json")
    checkpoint = Checkpoint.load(run_dir)
    done = checkpoint.epochs_completed
    if epochs is not None and epochs <= done:
        raise ConfigError(f"--epochs: the run has completed {done} epochs already; give a larger "
                          "total to extend it")
    if epochs is None and done >= config.epochs:
        raise ConfigError(f"the run in {run_dir} completed all {config.epochs} epochs; pass "
                          f"--epochs N with N > {config.epochs} to extend it")
    if epochs not in (None, config.epochs) and config.schedule.kind == "cosine":
        raise ConfigError("--epochs cannot extend a run with a cosine schedule: its learning rate "
                          f"was annealed to 0 over {config.epochs} epochs; start a new run instead")
    config = apply_overrides(config, {"epochs": epochs, "device": device,
                                      "data.data_dir": data_dir})
    return config, checkpoint


def train(engine, writer, use_ui: bool) -> str:
    """Run a prepared engine under the TUI or headless; the final status."""
    if use_ui:
        from memtui.tui.app import run_live

        return run_live(engine, writer)
    from memtui.headless import HeadlessReporter

    engine.sinks.append(HeadlessReporter())
    with stop_on_signals(engine.control):
        finished = engine.run()
    if finished.status == "failed" and finished.error:
        print(finished.error, file=sys.stderr)
    return finished.status


@app.command()
def watch(
    run_dir: Annotated[Optional[Path], typer.Argument(
        help="A run directory; default: the most recent run under ./runs.")] = None,
) -> None:
    """Open the live view on a run directory: follows a run still being written, replays a
    finished one."""
    from memtui.runlog import latest_run
    from memtui.tui.app import run_watch

    raise typer.Exit(run_watch(run_dir or latest_run()))


@app.command()
def report(
    run_dirs: Annotated[list[Path], typer.Argument(
        help="One or more run directories, or a sweep directory (aggregated over seeds).")],
    format: Annotated[str, typer.Option(
        "--format", "-f", help="table (Rich, the default), markdown, csv or json.")] = "table",
    plot: Annotated[Optional[Path], typer.Option(
        help="Also draw every loss's curves into this .svg or .png file.")] = None,
    long: Annotated[Optional[Path], typer.Option(
        help="Also write a tidy .csv table: a row per run (cell) x loss x epoch.")] = None,
) -> None:
    """Summarise finished runs: final and best metrics per loss, as a table, Markdown, CSV or
    JSON, and optionally a figure of the curves."""
    from memtui.report import report_runs

    report_runs(run_dirs, format, plot, long=long)


@app.command()
def sweep(
    grid_file: Annotated[Optional[Path], typer.Argument(
        help="A grid file (TOML: base preset, [set], [grid] axes, [resources]) or a shipped "
        "grid's name (noise-grid).", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Sweep directory (default sweeps/<timestamp>-<name>).")] = None,
    parallel: Annotated[Optional[int], typer.Option(
        help="Cells at a time (default: by CPU cores, or slots per GPU from gpus_per_run).")] = None,
    on: Annotated[str, typer.Option(
        help="local, ray (RAY_ADDRESS, `ray start`, or a new local instance) or ray://host:port.")
    ] = "local",
    resume: Annotated[Optional[Path], typer.Option(
        help="Re-submit the cells of this sweep directory that have no completed summary.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the cells and exit.")] = False,
    data_dir: Annotated[Optional[Path], typer.Option(
        help="Folder holding the data sets, for every cell.")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = None,
) -> None:
    """Run a grid of experiments, each cell an ordinary run directory.

    Cells go under sweeps/<id>/cells/<cell>/, with a manifest.json of their status. ctrl-c stops
    every cell after its current batch; --resume continues.
    """
    from memtui.sweep.runner import sweep_command

    raise typer.Exit(sweep_command(grid_file, out, parallel, on, resume, dry_run,
                                   {"data.data_dir": data_dir, "device": device}))


@app.command()
def export(
    kind: Annotated[str, typer.Argument(help="tensorboard")],
    path: Annotated[Path, typer.Argument(help="A run directory or a sweep directory.")],
    out: Annotated[Optional[Path], typer.Option(
        help="Folder for the event files (default: PATH/tensorboard).")] = None,
) -> None:
    """Write a run's or a sweep's metrics for other viewers: TensorBoard event files, one
    TensorBoard run per cell and loss, hyperparameters included."""
    from memtui.export import export_command

    export_command(kind, path, out)


@presets_app.callback(invoke_without_command=True)
def presets(ctx: typer.Context) -> None:
    """List the shipped presets with a one-line description each."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True, box=None, pad_edge=False)
    table.add_column("preset", style="bold")
    table.add_column("description")
    for name, description in shipped_presets().items():
        table.add_row(name, description)
    Console().print(table)


@presets_app.command("show")
def presets_show(
    name: Annotated[str, typer.Argument(help="A shipped preset name or a path to a .toml file.")],
) -> None:
    """Print a preset fully resolved (every default filled in) as TOML you can save and edit."""
    typer.echo(to_toml(load_preset(name)), nl=False)


def main() -> None:
    try:
        app()
    except MemtuiError as exc:
        print(f"memtui: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
