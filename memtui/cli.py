"""The `memtui` command line: run, watch, report, sweep, export, presets (and presets show).

Commands import what they need when they run, so `memtui --help`, `presets`, `watch` and
`report` start without torch; the run itself is put together by memtui.session.
"""

from __future__ import annotations

import errno
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from memtui.control import EXIT_CODES
from memtui.errors import ConfigError, MemtuiError, RunWriteError, printable
from memtui.overrides import (
    OVERRIDES,
    SWEEP_OVERRIDES,
    Override,
    allowed_with_resume,
    refused_with_resume,
    to_fields,
)
from memtui.presets import DEFAULT_PRESET
from memtui.report import ReportFormat
from memtui.tui.terminal import can_draw

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


def _print_version(given: bool) -> None:
    if given:
        from memtui import __version__

        typer.echo(f"memtui {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option(
        "--version", help="Print memtui's version and exit.", callback=_print_version,
        is_eager=True)] = False) -> None:
    pass  # the options of `memtui` itself; its help is the app's


def with_override_options(table: tuple[Override, ...]
                          ) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give ``command(..., **given)`` one option per override of ``table`` (memtui.overrides),
    in the table's order, before the command's last option; Typer reads the signature made here,
    so a new override is one row of that table."""
    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        keyword_only = inspect.Parameter.KEYWORD_ONLY
        own = [p.replace(kind=keyword_only)
               for p in inspect.signature(command, eval_str=True).parameters.values()
               if p.kind is not inspect.Parameter.VAR_KEYWORD]
        declared = [inspect.Parameter(
            o.param, keyword_only, default=None,
            annotation=Annotated[Optional[o.type],
                                 typer.Option(o.flag, help=o.help, show_default=False)])
            for o in table]
        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            own[:-1] + declared + own[-1:])
        return command

    return decorate


@app.command()
@with_override_options(OVERRIDES)
def run(
    preset: Annotated[Optional[str], typer.Option(
        "--preset", "-p", help="A shipped preset name (see `memtui presets`) or a path to a .toml "
        f"file (default: {DEFAULT_PRESET}).", show_default=False)] = None,
    no_ui: Annotated[bool, typer.Option(
        "--no-ui", help="Run headless: progress and a table per epoch on stderr. Implied when "
        "stdout or stderr is not a terminal, or TERM is dumb.")] = False,
    resume: Annotated[Optional[Path], typer.Option(
        help="Continue the run in this directory from its last checkpoint, with its own config. "
        f"Only {allowed_with_resume()} may be given with it.")] = None,
    **given: Any,
) -> None:
    """Train one model per loss in lockstep and stream the metrics of every epoch.

    The run directory gets config.json, metrics.jsonl (a line per loss per epoch), checkpoints
    and summary.json. ctrl+c, SIGTERM and SIGHUP stop after the current batch and keep every
    completed epoch; `memtui run --resume RUN_DIR` continues.
    """
    from memtui import session
    from memtui.config import apply_overrides, config_warnings, load_preset

    use_ui = not no_ui and can_draw()
    if resume is not None:
        refused = (["--preset"] if preset is not None else []) + refused_with_resume(given)
        if refused:
            raise ConfigError(f"{refused[0]} cannot be combined with --resume: it would change the "
                              f"experiment; only {allowed_with_resume()} may be given")
        fields = to_fields(given)
        resumed_epochs = fields.pop("epochs", None)
        prepared = session.resume_run(resume, epochs=resumed_epochs, overrides=fields)
    else:
        config = apply_overrides(load_preset(preset or DEFAULT_PRESET), to_fields(given))
        for warning in config_warnings(config):
            _say(f"memtui: warning: {printable(warning)}")
        prepared = session.start_run(config)
    if prepared.notice:
        _say(f"memtui: {prepared.notice}")
    raise typer.Exit(EXIT_CODES[train(prepared, use_ui=use_ui)])


def _say(line: str) -> None:
    """A line on stderr; nothing when stderr is closed or a closed pipe."""
    try:
        print(line, file=sys.stderr or sys.stdout, flush=True)
    except (OSError, ValueError, AttributeError):
        pass


def train(prepared, use_ui: bool) -> str:
    """Run a prepared memtui.session.Run under the live view or headless; its final status.
    A run directory that stopped taking writes (a full disk) ends in RunWriteError: one line,
    after the summary was written where it could be."""
    from memtui.errors import RunWriteError

    if use_ui:
        from memtui.tui.launch import run_live

        status = run_live(prepared)
        # the engine has ended (run_live waits for it), even if the view left first
        state = prepared.writer.state
        status = state.status if state.finished else status
        _print_summary(prepared)  # the view is gone: leave its results in the terminal
    else:
        from memtui.control import stop_on_signals
        from memtui.headless import HeadlessReporter

        prepared.add_sink(HeadlessReporter(state=prepared.writer.state,
                                           resume_hint=prepared.run_dir))
        with stop_on_signals(prepared.control):
            finished = prepared.execute()
        status = finished.status
        if finished.status == "failed" and finished.error and not prepared.write_error:
            _say(finished.error)
    if prepared.write_error:
        raise RunWriteError(prepared.write_error)
    return status


def _print_summary(prepared) -> None:
    """The headless reporter's final table, from the run's read model, and where the run is."""
    from memtui.headless import print_summary, stderr_console

    try:
        print_summary(stderr_console(), prepared.writer.state, prepared.run_dir)
    except Exception:  # noqa: BLE001 - a closed terminal must not turn a run into a failure
        pass


@app.command()
def watch(
    run_dirs: Annotated[Optional[list[str]], typer.Argument(
        help="Run directories (a shell glob works), a sweep directory (a board of its cells), or "
        "user@host:path to follow a run on another machine over ssh; default: the most recent "
        "run under ./runs, or a list to pick from when ./runs and ./sweeps hold several.",
        show_default=False)] = None,
) -> None:
    """Open the live view on run directories: follows runs still being written, replays finished
    ones. Several runs share one view: runs that differ only in seed are drawn as mean ± std,
    the others as series labelled by what differs."""
    from memtui.tui.launch import run_watch, run_watch_default

    distinct = _distinct(run_dirs or [], local=os.path.exists)  # user@host:path is not local
    raise typer.Exit(run_watch(distinct) if distinct else run_watch_default())


@app.command("ls")
def list_runs(
    dirs: Annotated[Optional[list[Path]], typer.Argument(
        help="Folders of runs and sweeps, or run and sweep directories (default: ./runs and "
        "./sweeps).", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list, for scripts.")] = False,
) -> None:
    """List runs and sweeps, newest first, one line each: status (completed, stopped, failed,
    running, stale, process gone), preset, data set, label noise, epochs done/planned, best test
    accuracy per loss, and how long ago it was last written."""
    import json

    from memtui.catalog import find, table

    entries = find(list(dirs) if dirs else None)
    if as_json:
        typer.echo(json.dumps([e.to_json() for e in entries], indent=2))
    elif not entries:
        where = ", ".join(map(str, dirs)) if dirs else "./runs or ./sweeps"
        _say(f"memtui: no runs or sweeps under {where}; start one with `memtui run`")
    else:
        typer.echo("\n".join(table(entries)))


@app.command()
def report(
    run_dirs: Annotated[list[Path], typer.Argument(
        help="One or more run directories, or a sweep directory (aggregated over seeds).")],
    format: Annotated[ReportFormat, typer.Option(
        "--format", "-f", help="table (Rich), markdown, csv or json.")] = ReportFormat.table,
    plot: Annotated[Optional[Path], typer.Option(
        help="Also draw every loss's curves into this .svg or .png file.")] = None,
    long: Annotated[Optional[Path], typer.Option(
        help="Also write a tidy .csv table: a row per run (cell) x loss x epoch.")] = None,
    samples: Annotated[Optional[Path], typer.Option(
        help="Also write the run's sample ledger as a .csv: a row per training sample, per-loss "
        "columns (memorised when, forgetting events, AUM, confidence, variability).")] = None,
) -> None:
    """Summarise runs (a run still going, or killed, from its metrics, marked as such): final
    and best metrics per loss, as a table, Markdown, CSV or JSON, and optionally a figure of the
    curves."""
    from memtui.report import report_runs

    run_dirs = _distinct(run_dirs)
    ledger = None
    if samples is not None:
        from memtui.samples_csv import ledger_for_csv

        ledger = ledger_for_csv(run_dirs, samples)
    report_runs(run_dirs, format, plot, long=long)
    if ledger is not None:
        from memtui.samples_csv import write_samples_csv

        rows = write_samples_csv(ledger, Path(str(samples)))
        print(f"wrote {samples} ({rows} samples, epoch {ledger.epoch})", file=sys.stderr)


def _distinct(paths: list[Any], local: Callable[[Any], bool] = lambda _path: True) -> list[Any]:
    """The paths in order, each local directory once however it was spelled (``run``,
    ``./run/``, a link to it, or a glob that matched it twice)."""
    seen: dict[str, Any] = {}
    for path in paths:
        seen.setdefault(os.path.realpath(path) if local(path) else str(path), path)
    return list(seen.values())


@app.command()
@with_override_options(SWEEP_OVERRIDES)
def sweep(
    grid_file: Annotated[Optional[Path], typer.Argument(
        help="A grid file (TOML: base preset, \\[set], \\[grid] axes, \\[resources]) or a "
        "shipped grid's name (noise-grid).", show_default=False)] = None,
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
    no_ui: Annotated[bool, typer.Option(
        "--no-ui", help="Lines on stderr (and a bar when stderr is a terminal) instead of the "
        "board. Implied when stdout or stderr is not a terminal, or TERM is dumb.")] = False,
    **given: Any,
) -> None:
    """Run a grid of experiments, each cell an ordinary run directory.

    Cells go under sweeps/<id>/cells/<cell>/, with a manifest.json of their status. On a
    terminal the board of the cells follows them (Enter opens a cell's panes) while a child
    process runs the sweep, its lines in sweeps/<id>/sweep.log; q or ctrl-c stops every cell
    after its current batch. Headless (--no-ui, or no terminal to draw on): a line per finished
    cell, and a bar of every cell's epochs with an ETA when stderr is a terminal.
    --resume continues a stopped sweep. The flags it shares with `memtui run` set every cell.
    """
    from memtui.sweep.runner import execute_sweep, prepare_sweep

    prepared = prepare_sweep(grid_file, out, parallel, on, resume, dry_run, to_fields(given))
    if prepared is None:
        raise typer.Exit(0)
    if not no_ui and can_draw():
        from memtui.tui.launch import run_sweep_live

        raise typer.Exit(run_sweep_live(prepared.manifest.sweep_dir, on, parallel))
    display = None
    if sys.stderr is not None and sys.stderr.isatty():
        from memtui.sweep.progress import BarDisplay

        display = BarDisplay(sys.stderr)
    raise typer.Exit(execute_sweep(prepared, parallel, on, display))


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

    from memtui.presets import shipped_presets

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
    """Print a preset resolved (every option that has a value; TOML has no null, so unset ones
    such as threads or data.subset are left out) as TOML you can save and edit."""
    from memtui.config import load_preset, to_toml

    typer.echo(to_toml(load_preset(name)), nl=False)


def _usage_error_line(exc: Exception, context: Any) -> str:
    """Click's message for a usage error, with a suggestion for a mistyped choice and the
    command whose --help explains."""
    import re

    from memtui.errors import did_you_mean

    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = message.replace("Value error, ", "")  # pydantic's prefix, via Typer
    choice = re.search(r"'([^']*)' is not one of (.*)\.$", message)
    if choice:
        valid = re.findall(r"'([^']*)'", choice.group(2))
        message = (f"{message[:choice.start()]}{choice.group(1)!r} is not valid"
                   f"{did_you_mean(choice.group(1), valid)}; valid: {', '.join(valid)}")
    names: list[str] = []
    while context is not None and context.parent is not None:
        names.insert(0, context.info_name)
        context = context.parent
    return f"{message} (see `{' '.join(['memtui', *names])} --help`)"


def _reflowed(doc: str) -> str:
    """A docstring's paragraphs each on one line: Typer keeps single line breaks after the first
    paragraph, which break mid-sentence in an 80-column terminal."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


for _command in [*app.registered_commands, *presets_app.registered_commands]:
    if _command.callback is not None and _command.callback.__doc__:
        _command.help = _reflowed(_command.callback.__doc__)


def main() -> None:
    try:
        # Not standalone: a usage error (an option's value of the wrong type, say) gets the same
        # one line as every other bad input, instead of Click's boxed usage text.
        status = app(standalone_mode=False)
    except typer.TyperException as exc:  # Click's usage errors, as Typer re-exports them
        context = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and context is not None:
            print(context.get_help())  # `memtui` alone: help, as before
            status = 0
        else:
            _say(f"memtui: error: {printable(_usage_error_line(exc, context))}")
            status = 2
    except typer.Abort:
        status = 130
    except MemtuiError as exc:
        _say(f"memtui: error: {printable(str(exc))}")
        status = 1 if isinstance(exc, RunWriteError) else 2  # the machine failed, not the input
    except BrokenPipeError:
        status = 1  # the reader went away (`| head`); the run's files are written regardless
    except OSError as exc:
        status = _os_error(exc)
    _quiet_closed_streams()
    # Everything is written. With torch loaded, the interpreter's collections at exit take
    # about a second on two cores; frozen objects are skipped by them (and still freed).
    import gc

    gc.freeze()
    sys.exit(status if isinstance(status, int) else 0)


#: OS errors about a path the user gave (exit 2), and about the machine (exit 1): a full disk,
#: a file-size limit, stdout to /dev/full. Any other OSError is a bug and keeps its traceback.
_PATH_ERRNOS = {errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EACCES,
                errno.EPERM, errno.EROFS}
_MACHINE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def _os_error(exc: OSError) -> int:
    """One line for an OSError that escaped a command: the path when it has one (a name too
    long for the file system, say), else the output it was writing (stdout, or a file)."""
    if exc.errno not in _PATH_ERRNOS | _MACHINE_ERRNOS:
        raise exc
    reason = exc.strerror or os.strerror(exc.errno or 0)
    if exc.filename is not None:
        name = str(exc.filename)
        shown = name if len(name) <= 80 else f"{name[:40]}…{name[-20:]} ({len(name):,} characters)"
        _say(f"memtui: error: cannot use {printable(shown)} ({reason})")
    else:
        _say(f"memtui: error: cannot write the output ({reason})")
    return 2 if exc.errno in _PATH_ERRNOS else 1


def _quiet_closed_streams() -> None:
    """Flush stdout and stderr now; if either is a closed pipe, point it at /dev/null so that
    Python's own flush at exit does not print 'Exception ignored ... BrokenPipeError'."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            continue
        try:
            stream.flush()
        except (OSError, ValueError):
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)
            except (OSError, ValueError):
                pass


if __name__ == "__main__":
    main()
