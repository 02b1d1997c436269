"""Several runs in one view: grouping by seed, bands, labels, the leaderboard; log scale, x range
and the epoch cursor; remote watch over a fake ssh."""

from __future__ import annotations

import json
import os
import stat
import statistics
from pathlib import Path

import pytest
from multi_helpers import run_events, write_run, write_runs
from textual.widgets import DataTable

from memtui.compare import Comparison, band, board_markdown, leaderboard, sort_rows
from memtui.metrics import format_value
from memtui.runlog import read_run
from memtui.tui.app import MemtuiApp
from memtui.tui.launch import watch_source
from memtui.tui.leaderboard import BOARD_FILE, LeaderboardScreen
from memtui.tui.sources import MultiRunSource, RunDirSource
from memtui.tui.widgets.charts.epoch_chart import EpochChart
from memtui.tui.widgets.charts.ticks import even_yticks
from memtui.tui.widgets.panes.loss_pane import LossPane

from tui_helpers import EAGER, drawn, text_of, wait_for

SIZE = (140, 40)


def comparison_of(paths: list[Path]) -> Comparison:
    return Comparison([read_run(p).state() for p in paths], [p.name for p in paths])


def multi_app(paths: list[Path]) -> MemtuiApp:
    return MemtuiApp(MultiRunSource([RunDirSource(p, 0.05) for p in paths],
                                    [p.name for p in paths]), **EAGER)


# -- the comparison model (no Textual) -----------------------------------------------------------


def test_runs_differing_only_in_seed_are_grouped_and_others_labelled_by_what_differs(tmp_path):
    comparison = comparison_of(write_runs(tmp_path))
    assert comparison.fields() == ["corruption.noise"]
    groups = comparison.groups()
    assert [(g.title, g.runs) for g in groups] == [("noise 0.4 (3 seeds)", [0, 1, 2]),
                                                   ("noise 0.8", [3])]
    assert comparison.run_label(1) == "noise 0.4 · seed 1"
    assert comparison.run_label(3) == "noise 0.8 · seed 0"


def test_seeds_alone_are_labelled_by_seed(tmp_path):
    paths = [write_run(tmp_path / f"s{s}", run_events(s)) for s in (3, 4)]
    comparison = comparison_of(paths)
    assert [g.title for g in comparison.groups()] == ["2 seeds"]
    assert [comparison.run_label(i) for i in range(2)] == ["seed 3", "seed 4"]


def test_band_is_mean_and_sample_std_over_the_seeds(tmp_path):
    paths = write_runs(tmp_path)[:3]
    comparison = comparison_of(paths)
    stats = band([s.losses["CE"] for s in comparison.runs], "memorized")
    values = [[rec["memorized"] for rec in read_run(p).metrics_of("CE")] for p in paths]
    for k, epoch_values in enumerate(zip(*values)):
        assert stats.mean[k] == pytest.approx(statistics.mean(epoch_values))
        assert stats.std[k] == pytest.approx(statistics.stdev(epoch_values))
        assert stats.count[k] == 3
    assert stats.epochs == list(range(1, 13))


def test_leaderboard_rows_sort_and_markdown(tmp_path):
    comparison = comparison_of(write_runs(tmp_path))
    rows = leaderboard(comparison)
    assert len(rows) == 4 * 3
    by_best = sort_rows(rows, "best_test_acc", descending=True)
    bests = [r.best_test_acc for r in by_best]
    assert bests == sorted(bests, reverse=True)
    by_mem = sort_rows(rows, "memorized", descending=False)
    assert [r.memorized for r in by_mem] == sorted(r.memorized for r in rows)
    text = board_markdown(by_best)
    assert text.splitlines()[0].startswith("| run | loss | best test acc (epoch) |")
    assert len(text.splitlines()) == 2 + 12


@pytest.mark.parametrize("rows", range(3, 40))
def test_even_yticks_fall_on_rows_evenly_spaced(rows):
    for lo, hi, percent in ((0, 100, True), (0.13, 2.4, False), (-1.7, -0.2, False),
                            (0.5, 0.5, False)):
        ticks, (ylo, yhi) = even_yticks(lo, hi, rows, percent)
        assert ylo <= min(lo, hi) and yhi >= max(lo, hi) - 1e-9
        # plotext's row of a value
        placed = [int(0.5 + (rows - 1) * (t - ylo) / (yhi - ylo)) for t in ticks]
        gaps = {b - a for a, b in zip(placed, placed[1:])}
        assert len(gaps) <= 1 and min(gaps, default=1) >= 1, (ticks, placed)


# -- the view ------------------------------------------------------------------------------------


async def test_several_runs_draw_mean_and_std_per_group_with_the_seed_count(tmp_path):
    paths = write_runs(tmp_path)
    app = multi_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: all(s.finished for s in app.comparison.runs), pilot)
        await pilot.press("o")
        await drawn(app, pilot)
        table = text_of(app.query_one("#overlay-table"))
        expected = band([app.comparison.runs[i].losses["CE"] for i in (0, 1, 2)], "memorized")
        mean = format_value("memorized", expected.mean[-1])
        std = format_value("memorized", expected.std[-1]).rstrip("%")
        row = next(line for line in table.splitlines() if "CE · noise 0.4 (3 seeds)" in line)
        assert f"{mean} ± {std}" in row and " 3 " in row
        assert "RLL · noise 0.8" in table
        assert "4 runs: noise 0.4 (3 seeds), noise 0.8" in text_of(app.query_one("#runs-line"))


async def test_a_live_run_among_several_keeps_updating(tmp_path):
    paths = write_runs(tmp_path)[:2]
    live = tmp_path / "live"
    events = run_events(2, epochs=12, finished=False)
    first_epochs = [e for e in events if getattr(e, "epoch", 0) <= 3]
    write_run(live, first_epochs)
    app = multi_app([*paths, live])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.comparison.runs[2].epochs_done == 3, pilot)
        writer_lines = (live / "metrics.jsonl").read_text()
        # the writer goes on: append epochs 4 and 5 the way RunLogWriter does
        import json

        from memtui.runlog import to_record
        more = [e for e in events if getattr(e, "epoch", 0) in (4, 5)]
        with (live / "metrics.jsonl").open("a") as fh:
            for event in more:
                fh.write(json.dumps(to_record(event)) + "\n")
        await wait_for(lambda: app.comparison.runs[2].epochs_done == 5, pilot)
        assert writer_lines
        # the runs line is redrawn on the next tick, once the finished runs' summaries are read
        await wait_for(lambda: "1 still running" in text_of(app.query_one("#runs-line")), pilot)


async def test_log_scale_draws_the_loss_charts_in_decades(tmp_path):
    path = write_run(tmp_path / "run", run_events(0))
    app = MemtuiApp(RunDirSource(path, 0.05), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.state.finished, pilot)
        await drawn(app, pilot)
        pane = app.query(LossPane).first()
        loss_chart = pane.query_one(".loss-chart", EpochChart)
        acc_chart = pane.query_one(".acc-chart", EpochChart)
        assert not loss_chart.log_scale
        await pilot.press("g")
        await drawn(app, pilot)
        assert loss_chart.log_scale and not acc_chart.log_scale  # percentages stay linear
        train = [v for v in pane.loss.series["train_loss"] if v]
        import math
        lo, hi = loss_chart.y_range
        assert lo == pytest.approx(min(math.log10(v) for v in train + [
            v for v in pane.loss.series["test_loss"] if v]))
        assert hi >= math.log10(max(train)) - 1e-9
        await pilot.press("g")
        await drawn(app, pilot)
        assert not loss_chart.log_scale


async def test_cursor_values_equal_the_metrics_file(tmp_path):
    path = write_run(tmp_path / "run", run_events(1))
    app = MemtuiApp(RunDirSource(path, 0.05), **EAGER)
    # read with json alone, not memtui's reader: the view must show what the file says
    lines = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    records = {rec["epoch"]: rec for rec in lines
               if rec.get("event") == "epoch_metrics" and rec.get("loss") == "MSE"}
    assert sorted(records) == list(range(1, 13))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.state.finished, pilot)
        await pilot.press("right")  # the cursor appears on the last epoch
        for _ in range(4):
            await pilot.press("left")
        await drawn(app, pilot)
        assert app.run_screen.view.cursor == 8
        pane = next(p for p in app.query(LossPane) if p.loss.label == "MSE")
        table = text_of(pane.query_one(".values"))
        assert "ep 8" in table
        for metric, title in (("memorized", "memorized"), ("test_acc", "test acc"),
                              ("train_loss", "train loss")):
            line = next(ln for ln in table.splitlines() if ln.strip().startswith(title))
            assert format_value(metric, records[8][metric]) in line.split()[len(title.split())]
        await pilot.press("o")
        await drawn(app, pilot)
        overlay = text_of(app.query_one("#overlay-table"))
        assert "epoch 8" in overlay
        row = next(ln for ln in overlay.splitlines() if "MSE" in ln)
        assert format_value("memorized", records[8]["memorized"]) in row
        await pilot.press("escape")
        await drawn(app, pilot)
        assert app.run_screen.view.cursor is None


async def test_x_range_shows_the_last_epochs(tmp_path):
    path = write_run(tmp_path / "run", run_events(0, epochs=30))
    app = MemtuiApp(RunDirSource(path, 0.05), **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.state.finished, pilot)
        await drawn(app, pilot)  # a finished run arrives in one batch: its panes mount after it
        chart = app.query(LossPane).first().query_one(".acc-chart", EpochChart)
        assert (chart.first_epoch, chart.last_epoch) == (1, 30)
        await pilot.press("x")  # last 50: the whole of a 30-epoch run
        await pilot.press("x")  # last 20
        await drawn(app, pilot)
        assert (chart.first_epoch, chart.last_epoch) == (11, 30)
        await pilot.press("x", "x")  # last 10, then the whole run again
        await drawn(app, pilot)
        assert chart.first_epoch == 1


async def test_leaderboard_sorts_opens_a_run_and_copies_markdown(tmp_path):
    paths = write_runs(tmp_path)
    app = multi_app(paths)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: all(s.finished for s in app.comparison.runs), pilot)
        await pilot.press("b")
        board = app.screen
        assert isinstance(board, LeaderboardScreen)
        bests = [r.best_test_acc for r in board.rows]
        assert bests == sorted(bests, reverse=True) and len(bests) == 12
        await pilot.press("]")  # next column: final test acc, highest first
        assert board.sort_column == "final_test_acc"
        finals = [r.final_test_acc for r in board.rows]
        assert finals == sorted(finals, reverse=True)
        await pilot.press("r")
        assert [r.final_test_acc for r in board.rows] == sorted(finals)
        await pilot.press("c")
        assert copied == [board.markdown()]
        assert (paths[0] / BOARD_FILE).read_text() == board.markdown()
        table = board.query_one(DataTable)
        table.move_cursor(row=2)
        target = board.rows[2].run
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, LeaderboardScreen)
        assert app.selected == target and app.state is app.comparison.runs[target]
        assert app.run_screen.views.current == "panes"


# -- remote watch over a fake ssh ----------------------------------------------------------------

FAKE_SSH = """#!/bin/sh
# ssh [-o opt]... host command: runs the command here; exits 255 while $DOWN exists
while [ "$1" = "-o" ]; do shift 2; done
host="$1"; shift
echo "$host $*" >> "{log}"
if [ -e "{down}" ]; then echo "ssh: connect to host $host port 22: Connection refused" >&2; exit 255; fi
exec sh -c "$*"
"""


@pytest.fixture
def fake_ssh(tmp_path, monkeypatch) -> dict[str, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    files = {"log": tmp_path / "ssh.log", "down": tmp_path / "down"}
    ssh = bin_dir / "ssh"
    ssh.write_text(FAKE_SSH.format(**files))
    ssh.chmod(ssh.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MEMTUI_CACHE", str(tmp_path / "cache"))
    return files


async def test_remote_watch_follows_over_ssh_and_reconnects(tmp_path, fake_ssh, monkeypatch):
    import memtui.tui.remote as remote
    from memtui.runlog import to_record

    monkeypatch.setattr(remote, "RETRY_S", 0.1)
    run = tmp_path / "far away" / "run"
    events = run_events(0, epochs=6, finished=False)
    write_run(run, [e for e in events if getattr(e, "epoch", 0) <= 2])
    source = watch_source(f"me@lab:{run}")
    assert isinstance(source, remote.RemoteRunSource)
    source.poll_s = 0.05
    app = MemtuiApp(source, **EAGER)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.state.epochs_done == 2, pilot)
        fake_ssh["down"].touch()  # the connection drops
        await wait_for(lambda: "connection lost" in str(app.run_screen.banner.content), pilot)
        assert app.run_screen.banner.display
        with (run / "metrics.jsonl").open("a") as fh:
            for event in events:
                if getattr(event, "epoch", 0) in (3, 4, 5, 6):
                    fh.write(json.dumps(to_record(event)) + "\n")
        fake_ssh["down"].unlink()  # back: it reconnects and catches up
        await wait_for(lambda: app.state.epochs_done == 6, pilot)
        assert not app.run_screen.banner.display
        (run / "summary.json").write_text(json.dumps(
            {"schema_version": 2, "status": "completed", "epochs_completed": 6, "losses": {}}))
        await wait_for(lambda: app.state.finished, pilot)
    log = fake_ssh["log"].read_text()
    assert log.startswith("me@lab cd ") and "tail -c +" in log
    # what the view showed is what the remote run directory holds
    expected = read_run(run).metrics_of("CE")
    assert [r["memorized"] for r in expected] == app.state.losses["CE"].series["memorized"]


def test_a_local_path_is_not_taken_for_a_host(tmp_path):
    from memtui.tui.remote import parse_remote

    assert parse_remote(str(tmp_path)) is None
    assert parse_remote("runs/a:b") is None
    assert parse_remote("me@lab:runs/x") == ("me@lab", "runs/x")
    assert parse_remote("lab:/data/run") == ("lab", "/data/run")


# -- one palette for the view, the headless table and report --plot ------------------------------


def test_the_view_the_headless_table_and_report_plot_share_the_palette(tmp_path):
    import io

    from rich.console import Console

    from memtui.headless import HeadlessReporter
    from memtui.palette import LINE_STYLE, hex_colour, loss_colour, rich_colour
    from memtui.report import matplotlib_available, plot_runs

    path = write_run(tmp_path / "run", run_events(0, epochs=3))
    state = read_run(path).state()
    reporter = HeadlessReporter(state=state)
    reporter.console = Console(file=io.StringIO())
    assert [reporter._colour(label) for label in state.losses] == [
        rich_colour(loss_colour(i)) for i in range(3)]
    assert LINE_STYLE[True] != LINE_STYLE[False]
    if not matplotlib_available():
        pytest.skip("matplotlib is not installed")
    figure = tmp_path / "curves.svg"
    plot_runs([read_run(path)], figure)
    svg = figure.read_text()
    for i in range(3):
        assert hex_colour(loss_colour(i)) in svg
    assert "stroke-dasharray" in svg  # RLL, the symmetric loss, dashed


def test_a_remote_path_under_home_is_expanded_by_the_remote_shell(tmp_path):
    import subprocess

    from memtui.tui.remote import shell_path

    (tmp_path / "runs" / "my run").mkdir(parents=True)
    for spec in ("~/runs/my run", "~"):
        done = subprocess.run(["sh", "-c", f"cd {shell_path(spec)} && pwd"], capture_output=True,
                              text=True, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
        assert done.stdout.strip() == str(tmp_path / spec[2:]).rstrip("/"), done.stderr
    assert shell_path("/data/it's here") == "'/data/it'\"'\"'s here'"


def test_a_copied_run_keeps_its_own_end_time(tmp_path):
    import shutil
    from datetime import datetime

    run = write_run(tmp_path / "run", run_events(0))
    ended = json.loads((run / "summary.json").read_text())["ended"]
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)  # new mtimes, as a remote mirror's files have
    os.utime(copy / "summary.json", (1e9, 2e9))
    assert RunDirSource(copy).ended_at == datetime.fromisoformat(ended).timestamp()
    summary = json.loads((copy / "summary.json").read_text())
    del summary["ended"]  # a run of an earlier memtui: its writer's last heartbeat tells
    (copy / "summary.json").write_text(json.dumps(summary))
    writer = json.loads((copy / "writer.json").read_text())
    assert writer["finished"] and RunDirSource(copy).ended_at == writer["heartbeat"]
    (copy / "writer.json").unlink()  # older still: its start and the time of its epochs tell
    source = RunDirSource(copy)
    epochs = [json.loads(line) for line in (copy / "metrics.jsonl").read_text().splitlines()]
    trained = sum(r["seconds"] for r in epochs if r.get("event") == "epoch_ended")
    assert trained > 0 and source.ended_at == pytest.approx(source.started_at + trained)
