"""What a user met every day in the view (issue 26): every key says or shows something, the
footer and the help name what the view shows, and nothing is cut to "…" that has room."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from rich.console import Console
from textual.widgets import DataTable, Static

from memtui.events import EpochEnded, EpochMetrics, RunFinished
from memtui.headless import HeadlessReporter, print_summary, stderr_console
from memtui.metrics import METRICS
from memtui.runstate import RunState
from memtui.tui.app import MemtuiApp
from memtui.tui.leaderboard import LeaderboardScreen
from memtui.tui.widgets.help.help_screen import HelpScreen
from memtui.tui.widgets.panes.loss_pane import ACC_SERIES, LOSS_SERIES, LossPane

from tui_helpers import fake_events, fake_values, text_of


async def fed(pilot, app: MemtuiApp) -> None:
    app.consume_all(fake_events())
    await pilot.pause()
    app.flush(force=True)
    await pilot.pause()


async def test_l_with_both_charts_on_screen_says_why_it_changes_nothing():
    app = MemtuiApp()
    async with app.run_test(size=(140, 40)) as pilot:
        await fed(pilot, app)
        assert not app.run_screen.grid.has_class("-compact")
        await pilot.press("l")
        await pilot.pause()
        assert any("both charts are shown" in str(n.message) for n in app._notifications)


async def test_l_in_a_low_terminal_switches_the_chart_and_names_it():
    app = MemtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await fed(pilot, app)
        assert app.run_screen.grid.has_class("-compact")
        await pilot.press("l")
        await pilot.pause()
        assert app.run_screen.grid.has_class("-show-loss")
        assert [str(n.message) for n in app._notifications][-1] == "loss chart"


async def test_the_footer_lists_g_x_and_the_arrows_where_there_is_room():
    app = MemtuiApp()
    async with app.run_test(size=(120, 30)) as pilot:
        await fed(pilot, app)
        footer = " ".join(str(key.render()) for key in app.screen.query("FooterKey"))
        for shown in ("quit", "help", "log", "range", "←→", "cursor"):
            assert shown in footer


async def test_each_chart_of_a_pane_has_a_legend_naming_its_lines():
    app = MemtuiApp()
    async with app.run_test(size=(160, 48)) as pilot:
        await fed(pilot, app)
        pane = app.query(LossPane).first()
        acc = text_of(pane.query_one(".acc-legend", Static))
        loss = text_of(pane.query_one(".loss-legend", Static))
        assert all(METRICS[m].title in acc for m in ACC_SERIES)
        assert all(METRICS[m].title in loss for m in LOSS_SERIES)


async def test_a_narrow_pane_keeps_every_line_in_its_legend():
    app = MemtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await fed(pilot, app)
        legend = text_of(app.query(LossPane).first().query_one(".acc-legend", Static))
        assert "…" not in legend and all(w in legend for w in ("train", "memorized", "test"))


async def test_the_help_explains_the_headers_figures():
    app = MemtuiApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await fed(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_text = str(app.screen.query_one(Static).content)
        for figure in ("Header", "random labels 40% (N)", "actually differ", "ETA", "img/s"):
            assert figure in help_text


async def test_the_leaderboard_fits_every_column_in_80_columns():
    app = MemtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await fed(pilot, app)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, LeaderboardScreen)
        table = app.screen.query_one(DataTable)
        assert "clean_acc" in [str(key.value) for key in table.columns]
        assert table.virtual_size.width <= 80


def finished_state() -> RunState:
    return RunState().apply_all([*fake_events(epochs=3), RunFinished("stopped", 3, "")])


@pytest.mark.parametrize("width", [40, 30])
def test_the_summary_after_quitting_in_a_narrow_terminal_shows_every_value(width):
    console = Console(file=io.StringIO(), width=width, color_system=None)
    state = finished_state()
    print_summary(console, state)
    text = console.file.getvalue()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    for label, loss in state.losses.items():
        assert label in text and f"{loss.latest['test_acc']:.1%}" in text


def test_the_summary_in_80_columns_is_still_the_table():
    console = Console(file=io.StringIO(), width=80, color_system=None)
    print_summary(console, finished_state())
    assert "best test" in console.file.getvalue() and "sym" in console.file.getvalue()


def test_piped_headless_output_is_never_wrapped(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")  # what a pipe gets by default
    console = stderr_console()  # stderr is captured: not a terminal
    assert not console.is_terminal and console.width > 80
    started, *_ = fake_events(epochs=1)
    losses = tuple(replace(info, label=f"{info.label}-with-a-long-label")
                   for info in started.losses)
    reporter = HeadlessReporter(console=console)
    reporter.handle(replace(started, losses=losses))
    for info in losses:
        reporter.handle(EpochMetrics(1, info.label, fake_values(info.label.split("-")[0], 1)))
    reporter.handle(EpochEnded(1, 60, 0.5))
    lines = capsys.readouterr().err.splitlines()
    assert any(len(line) > 80 for line in lines), "long lines stay whole"
    assert all("-with-a-long-label" in line for line in lines if line.strip()[:1] == "1"), \
        "per-epoch lines keep the whole label"
