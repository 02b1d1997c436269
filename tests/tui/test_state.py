"""What the view knows about a run, built from events alone (no Textual involved)."""

from __future__ import annotations

import pytest

from memtui.events import EpochEnded, EpochMetrics, EpochProgress, LossDiverged, RunFinished
from memtui.metrics import EVAL_METRICS, METRICS
from memtui.runstate import HEADER, OVERLAY_METRICS, RunState, format_duration
from memtui.tui.widgets.charts.ticks import epoch_ticks

from tui_helpers import fake_events, text_of, wait_for


def test_state_follows_the_stream():
    clock = iter([100.0, 160.0]).__next__
    state = RunState(clock=clock)
    stream = fake_events(epochs=3)
    changed = state.apply(stream[0])
    assert changed == {HEADER, "CE", "MSE", "RLL"}
    assert state.status == "running" and state.epochs_total == 60
    for event in stream[1:]:
        state.apply(event)
    ce = state.losses["CE"]
    assert ce.epochs == [1, 2, 3]
    assert state.epochs_done == 3
    assert state.images_per_s == 12_345.0
    # three epochs done and half of the fourth, of sixty
    assert state.fraction_done == pytest.approx(3.5 / 60)
    assert state.eta() == pytest.approx(0.5 * (60 - 3.5))
    state.apply(RunFinished("stopped", 3, "stopped on request"))
    assert state.finished and state.eta() is None
    assert state.elapsed() == 60.0  # frozen at the finish


def test_best_values_follow_each_metrics_direction():
    state = RunState(clock=lambda: 0.0)
    state.apply(fake_events(epochs=0)[0])
    for epoch, (acc, loss) in enumerate([(0.5, 2.0), (0.7, 1.0), (0.6, 1.5)], start=1):
        state.apply(EpochMetrics(epoch, "CE", {"test_acc": acc, "test_loss": loss,
                                               "memorized": 0.1 * epoch}))
    best = state.losses["CE"].best
    assert best["test_acc"] == (0.7, 2)  # higher is better
    assert best["test_loss"] == (1.0, 2)  # lower is better
    assert "memorized" not in best  # neither: no "best" to claim


def test_unmeasured_epochs_leave_gaps_not_zeros():
    state = RunState(clock=lambda: 0.0)
    state.apply(fake_events(epochs=0)[0])
    state.apply(EpochMetrics(1, "CE", {"test_acc": None, "train_loss": 2.0}))
    state.apply(EpochMetrics(2, "CE", {"test_acc": 0.4, "train_loss": 1.0}))
    assert state.losses["CE"].points("test_acc") == ([2], [0.4])
    assert state.losses["CE"].points("train_loss") == ([1, 2], [2.0, 1.0])


def test_a_diverged_loss_is_marked_and_events_for_unknown_losses_are_ignored():
    state = RunState(clock=lambda: 0.0)
    state.apply(fake_events(epochs=0)[0])
    assert state.apply(LossDiverged(4, "MSE", "nan")) == {"MSE"}
    assert state.losses["MSE"].diverged == (4, "nan")
    assert state.apply(EpochMetrics(1, "nope", {})) == set()


def test_progress_counts_only_within_the_next_epoch():
    state = RunState(clock=lambda: 0.0)
    state.apply(fake_events(epochs=0)[0])
    state.apply(EpochProgress(1, 5, 10))
    assert state.fraction_done == pytest.approx(0.5 / 60)
    state.apply(EpochEnded(1, 60, 1.0))
    assert state.fraction_done == pytest.approx(1 / 60)


def test_the_overlay_cycles_through_the_quality_metrics_of_the_single_list():
    assert set(OVERLAY_METRICS) == set(EVAL_METRICS) | {"train_loss"}
    assert list(OVERLAY_METRICS) == [m for m in METRICS if m in OVERLAY_METRICS]


@pytest.mark.parametrize("last, width, ticks", [
    (2, 40, [1, 2]),
    (24, 24, [1, 10, 20]),
    (24, 40, [1, 5, 10, 15, 20]),
    (200, 16, [1, 200]),
    (200, 100, [1, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200]),
])
def test_epoch_ticks_are_whole_epochs_spaced_by_the_width(last, width, ticks):
    assert epoch_ticks(last, width) == ticks


def test_durations_read_as_clock_times():
    assert format_duration(None) == "—"
    assert format_duration(75) == "1:15"
    assert format_duration(3 * 3600 + 61) == "3:01:01"


async def test_charts_redraw_at_most_once_an_interval_however_fast_epochs_arrive():
    from memtui.tui.app import MemtuiApp
    from memtui.tui.widgets.panes.loss_pane import LossPane

    app = MemtuiApp(chart_interval=3600.0, refresh_hz=4)
    draws: list[str] = []
    async with app.run_test(size=(120, 36)) as pilot:
        stream = fake_events(epochs=30)
        app.consume(stream[0])
        await pilot.pause()
        panes = list(app.query(LossPane))
        for pane in panes:
            original = pane.show
            pane.show = lambda view=None, original=original, label=pane.loss.label: (
                draws.append(label), original(view))[1]
        for event in stream[1:]:
            app.consume(event)
            if isinstance(event, EpochEnded):
                await pilot.pause(0.02)
        await pilot.pause(2 * app.refresh_interval)
        assert draws == []  # thirty epochs inside one interval: no chart redrawn
        assert app.pending_redraw
        assert "epoch 31/60" in str(app.query_one("#epoch-label").content)  # the header kept up
        await pilot.press("o")  # a key draws at once
        assert sorted(draws) == ["CE", "MSE", "RLL"]
        assert not app.pending_redraw


async def _started_counting_draws(app, pilot) -> list[str]:
    """Start a fake run in the app and record, from then on, every pane's full redraw (values
    and charts) by the pane's loss label."""
    from memtui.tui.widgets.panes.loss_pane import LossPane

    app.consume(fake_events(epochs=0)[0])
    await pilot.pause()
    draws: list[str] = []
    for pane in app.query(LossPane):
        original = pane.show
        pane.show = lambda view=None, original=original, label=pane.loss.label: (
            draws.append(label), original(view))[1]
    return draws


async def test_values_follow_every_epoch_while_the_charts_wait_their_turn():
    from memtui.tui.app import MemtuiApp

    app = MemtuiApp(chart_interval=3600.0, view_budget=1.0, refresh_hz=4)
    async with app.run_test(size=(120, 36)) as pilot:
        draws = await _started_counting_draws(app, pilot)
        app.consume_all(fake_events(epochs=3)[1:])
        await pilot.pause(2 * app.refresh_interval)
        assert draws == []  # the charts wait for their interval...
        values = text_of(app.query_one(".loss-pane .values"))
        latest = app.state.losses["CE"].latest["train_acc"]
        assert f"{100 * latest:.1f}%" in values  # ...the values of epoch 3 do not


async def test_the_end_of_a_run_draws_the_charts_at_once():
    from memtui.tui.app import MemtuiApp

    app = MemtuiApp(chart_interval=3600.0, refresh_hz=4)
    async with app.run_test(size=(120, 36)) as pilot:
        draws = await _started_counting_draws(app, pilot)
        app.consume_all(fake_events(epochs=3)[1:])
        app.consume(RunFinished("completed", 3))
        assert sorted(draws) == ["CE", "MSE", "RLL"]


def overspent(app, seconds: float = 100.0) -> None:
    """As if the app's thread had just used ``seconds`` of CPU more than its budget allows."""
    app.run_screen.budget.balance = -seconds


async def test_the_first_epoch_is_charted_whatever_the_budget_then_charts_wait_for_it():
    from memtui.tui.app import MemtuiApp

    app = MemtuiApp(chart_interval=0.1, view_budget=0.02, refresh_hz=10)
    async with app.run_test(size=(120, 36)) as pilot:
        draws = await _started_counting_draws(app, pilot)
        overspent(app)
        app.consume_all(fake_events(epochs=3)[1:])
        await wait_for(lambda: sorted(draws) == ["CE", "MSE", "RLL"], pilot, timeout=10)

        draws.clear()
        await pilot.pause(3 * app.refresh_interval)  # the first epoch's draw, kept off the account
        overspent(app)
        app.consume_all(fake_events(epochs=5)[-9:])  # epochs 4 and 5
        await pilot.pause(5 * app.refresh_interval)
        assert draws == []  # they wait (at most MAX_CHART_WAIT_S)
        assert app.pending_redraw


@pytest.mark.parametrize("epoch_s, charted", [(0.5, True), (100.0, False)],
                         ids=["a 30 s run: charted", "a 100 min run: waits"])
async def test_over_budget_a_short_run_is_still_charted_every_tenth_of_the_way(epoch_s, charted):
    import dataclasses

    from memtui.tui.app import MemtuiApp

    events = [dataclasses.replace(e, seconds=epoch_s) if isinstance(e, EpochEnded) else e
              for e in fake_events(epochs=12)]  # of 60 epochs
    app = MemtuiApp(chart_interval=0.1, view_budget=0.02, refresh_hz=10)
    async with app.run_test(size=(120, 36)) as pilot:
        draws = await _started_counting_draws(app, pilot)
        app.consume_all(events[1:21])  # epochs 1-5: the first is charted whatever the budget
        await wait_for(lambda: len(draws) == 3, pilot, timeout=10)
        await pilot.pause(3 * app.refresh_interval)
        draws.clear()
        overspent(app)
        app.consume_all(events[21:])  # to epoch 12: a tenth of the run further
        if charted:
            await wait_for(lambda: sorted(draws) == ["CE", "MSE", "RLL"], pilot, timeout=10)
        else:
            await pilot.pause(5 * app.refresh_interval)
            assert draws == []


async def test_over_budget_the_values_still_follow_at_their_longest_wait(monkeypatch):
    from types import SimpleNamespace

    from memtui.tui import run_screen
    from memtui.tui.app import MemtuiApp
    from memtui.tui.budget import CpuBudget

    # the screen's clock and the budget's, moved by hand: however slow or busy the machine (a
    # garbage collection on the app's thread), no wait ends early and none is paid for late
    clock = [1000.0]
    monkeypatch.setattr(run_screen, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    app = MemtuiApp(chart_interval=3600.0, refresh_hz=20)
    app.run_screen.budget = CpuBudget(0.02, wall=lambda: clock[0], cpu=lambda: 0.0)

    def values_show(loss_value: str) -> bool:
        return loss_value in text_of(app.query_one(".loss-pane .values"))

    def latest_train_acc() -> str:
        return f"{100 * app.state.losses['CE'].latest['train_acc']:.1f}%"

    async with app.run_test(size=(120, 36)) as pilot:
        await _started_counting_draws(app, pilot)
        app.consume_all(fake_events(epochs=1)[1:])
        epoch_1 = latest_train_acc()
        await wait_for(lambda: values_show(epoch_1), pilot, timeout=10)  # drawn with the charts
        overspent(app)
        app.consume_all(fake_events(epochs=2)[-5:])  # epoch 2
        epoch_2 = latest_train_acc()
        await pilot.pause(5 * app.refresh_interval)
        assert not values_show(epoch_2)  # waiting...
        clock[0] += run_screen.MAX_VALUES_WAIT_S
        await wait_for(lambda: values_show(epoch_2), pilot, timeout=10)  # ...not for long


def test_the_budget_fills_with_wall_time_and_empties_with_the_threads_cpu_time():
    from memtui.tui.budget import CpuBudget

    wall, cpu = [0.0], [0.0]
    budget = CpuBudget(0.02, burst_s=30.0, wall=lambda: wall[0], cpu=lambda: cpu[0])
    budget.update()  # starts the account, with a full bucket: 30 s worth
    budget.balance = 0.0
    wall[0], cpu[0] = 10.0, 0.05
    budget.update()
    assert budget.balance == pytest.approx(0.02 * 10 - 0.05)
    assert budget.affords(0.1) and not budget.affords(0.2)
    wall[0] = 1000.0  # a quiet quarter of an hour buys no more than 30 s worth
    budget.update()
    assert budget.balance == pytest.approx(0.02 * 30)
    cpu[0] += 0.8  # a burst of drawing: in debt until the wall clock pays it back
    budget.update()
    assert budget.balance == pytest.approx(0.02 * 30 - 0.8) and not budget.affords()
    cpu[0] += 0.1
    budget.waive()  # a draw for the user: what follows, to the next update, is not charged
    cpu[0] += 0.3
    budget.update()
    assert budget.balance == pytest.approx(0.02 * 30 - 0.9)
    cpu[0] += 100.0  # however busy a spell, the debt is bounded: 30 s of quiet repay it
    budget.update()
    assert budget.balance == pytest.approx(-0.02 * 30)


def test_what_the_view_cost_to_start_is_not_charged():
    from memtui.tui.budget import CpuBudget

    cpu = [3.0]  # 3 s of CPU before the first tick
    budget = CpuBudget(0.02, burst_s=30.0, wall=lambda: 5.0, cpu=lambda: cpu[0])
    budget.update()
    assert budget.balance == pytest.approx(0.02 * 30)
    cpu[0] += 0.1
    budget.update()
    assert budget.balance == pytest.approx(0.02 * 30 - 0.1)


async def test_help_opens_over_a_ticking_view_and_closes():
    from textual.widgets import Static

    from memtui.tui.app import MemtuiApp
    from memtui.tui.widgets.help.help_screen import HelpScreen

    app = MemtuiApp(refresh_hz=20)
    async with app.run_test(size=(80, 24)) as pilot:
        app.consume_all(fake_events(epochs=3))
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_text = str(app.screen.query_one(Static).content)
        assert "pause / resume" in help_text
        assert all(m.help in help_text for m in METRICS.values())
        await pilot.pause(0.3)  # header ticks underneath keep working
        assert "epoch 4/60" in str(app.run_screen.header.query_one("#epoch-label").content)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
