"""The sample ledger: every statistic on a prediction trajectory written out by hand, the detector
figures against brute force, resuming bit for bit, and its files."""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest
import torch

from memtui.errors import RunDirError
from memtui.ledger import (
    Ledger,
    LedgerFiles,
    detector_figures,
    detector_statistics,
    tie_codes,
)
from memtui.runlog.ledger import (
    FIGURE_NAMES,
    LEDGER_FILE,
    SCORE_NAMES,
    read_ledger,
    read_trajectories,
    write_ledger,
)

# Four samples, three classes. Given labels 0 1 2 0; true labels 0 1 0 1: samples 2 and 3 are
# corrupted. Predictions per epoch (the model's argmax), row = sample:
GIVEN = torch.tensor([0, 1, 2, 0])
TRUE = torch.tensor([0, 1, 0, 1])
PREDICTIONS = [  # epoch 1, 2, 3
    [0, 0, 0, 0],  # s0 right; s1 wrong; s2 wrong; s3 right (memorised at 1)
    [0, 1, 2, 1],  # s1 fitted; s2 memorised; s3 forgotten
    [0, 0, 2, 0],  # s1 forgotten (clean); s3 memorised again at 3
]
HEIGHTS = [1.0, 2.0, 3.0]  # the predicted class's logit; every other logit is 0


def logits_of(epoch: int) -> torch.Tensor:
    z = torch.zeros(4, 3)
    z[torch.arange(4), torch.tensor(PREDICTIONS[epoch - 1])] = HEIGHTS[epoch - 1]
    return z


def run_ledger(epochs: int = 3, chunk: int = 4) -> tuple[Ledger, list[dict]]:
    ledger = Ledger(1, GIVEN, TRUE)
    figures = []
    for epoch in range(1, epochs + 1):
        ledger.begin_epoch(epoch, [0])
        z = logits_of(epoch)
        for start in range(0, 4, chunk):
            ledger.observe(0, start, z[start:start + chunk])
        figures.append(ledger.end_epoch()[0])
    return ledger, figures


def test_fit_epochs_forgetting_and_last_prediction_follow_the_trajectory():
    ledger, _ = run_ledger()
    assert ledger.first_fit[0].tolist() == [1, 2, 2, 1]
    assert ledger.fit_since[0].tolist() == [1, -1, 2, 3]  # s1 wrong now; s3 memorised since 3
    assert ledger.forgets[0].tolist() == [0, 1, 0, 1]
    assert ledger.last_pred[0].tolist() == PREDICTIONS[-1]
    assert ledger.epochs_seen == [3]


def test_aum_confidence_and_variability_are_the_running_mean_and_std_over_epochs():
    ledger, _ = run_ledger()
    margins, probs = [], []
    for preds, a in zip(PREDICTIONS, HEIGHTS):
        right = np.array(preds) == GIVEN.numpy()
        # the given label's logit is a when predicted, else 0 against a best other of a
        margins.append(np.where(right, a, -a))
        probs.append(np.where(right, math.exp(a), 1.0) / (math.exp(a) + 2))
    margins_a, probs_a = np.array(margins), np.array(probs)
    np.testing.assert_allclose(ledger.aum[0].numpy(), margins_a.mean(0), rtol=1e-6)
    np.testing.assert_allclose(ledger.conf_mean[0].numpy(), probs_a.mean(0), rtol=1e-6)
    np.testing.assert_allclose(ledger.variability()[0].numpy(), probs_a.std(0), rtol=1e-5)


def test_margin_is_taken_on_logits_not_probabilities():
    ledger = Ledger(1, torch.tensor([0, 0]), torch.tensor([0, 1]))
    ledger.begin_epoch(1, [0])
    ledger.observe(0, 0, torch.tensor([[5.0, 1.0, 2.0], [0.0, 4.0, 1.0]]))
    ledger.end_epoch()
    assert ledger.aum[0].tolist() == [3.0, -4.0]


def test_each_epoch_counts_memorised_and_forgotten_samples():
    _, figures = run_ledger()
    counts = [[f[name] for name in ("memorized", "forgotten", "fitted_clean", "forgotten_clean")]
              for f in figures]
    assert counts == [[1, 0, 1, 0], [1, 1, 1, 0], [1, 0, 0, 1]]
    assert all(tuple(f) == FIGURE_NAMES for f in figures)


def test_chunked_and_stacked_observations_equal_one_pass_bit_for_bit():
    whole, _ = run_ledger(chunk=4)
    chunked, _ = run_ledger(chunk=3)
    stacked = Ledger(2, GIVEN, TRUE)
    for epoch in range(1, 4):
        stacked.begin_epoch(epoch, [0, 1])
        stacked.observe_models([0, 1], 0, logits_of(epoch).expand(2, 4, 3))
        stacked.end_epoch()
    for name in ("first_fit", "fit_since", "forgets", "last_pred", "aum", "conf_mean", "conf_m2"):
        assert torch.equal(getattr(whole, name), getattr(chunked, name)), name
        assert torch.equal(getattr(whole, name)[0], getattr(stacked, name)[1]), name


def test_a_loss_not_measured_keeps_its_arrays_and_has_no_figures():
    ledger = Ledger(2, GIVEN, TRUE)
    ledger.begin_epoch(1, [0, 1])
    ledger.observe_models([0, 1], 0, logits_of(1).expand(2, 4, 3))
    ledger.end_epoch()
    before = ledger.aum[1].clone()
    ledger.begin_epoch(2, [0])  # loss 1 diverged
    ledger.observe(0, 0, logits_of(2))
    assert list(ledger.end_epoch()) == [0]
    assert torch.equal(ledger.aum[1], before) and ledger.epochs_seen == [2, 1]
    with pytest.raises(RuntimeError):
        ledger.observe(1, 0, logits_of(2))


def test_memory_per_sample_per_loss_is_at_most_40_bytes():
    assert Ledger(4, GIVEN, TRUE).bytes_per_sample <= 40


# -- detector figures -----------------------------------------------------------------------------

def brute_force_auroc(suspicion: list[float], corrupted: list[bool]) -> float:
    pairs = [(s, t) for s, c in zip(suspicion, corrupted) if c
             for t, d in zip(suspicion, corrupted) if not d]
    return sum(1.0 if s > t else 0.5 if s == t else 0.0 for s, t in pairs) / len(pairs)


def brute_force_precision(suspicion: list[float], corrupted: list[bool]) -> float:
    """The mean precision at k over every order of the samples that breaks ties."""
    k = sum(corrupted)
    total, count = 0.0, 0
    for tiebreak in itertools.permutations(range(len(suspicion))):
        ranked = sorted(range(len(suspicion)), key=lambda i: (-suspicion[i], tiebreak[i]))
        total += sum(corrupted[i] for i in ranked[:k]) / k
        count += 1
    return total / count


@pytest.mark.parametrize("seed", range(6))
def test_auroc_and_precision_at_k_equal_a_brute_force_count_with_ties(seed):
    gen = np.random.default_rng(seed)
    suspicion = gen.integers(0, 4, 7).astype(float).tolist()  # many ties
    corrupted = [bool(c) for c in gen.permutation([1, 1, 1, 0, 0, 0, 0])]
    codes = tie_codes(torch.tensor([suspicion]))
    stats = detector_statistics(codes, torch.tensor(corrupted), sum(corrupted), len(suspicion))
    auroc, precision = detector_figures(stats[0].tolist(), sum(corrupted), len(corrupted))
    assert auroc == pytest.approx(brute_force_auroc(suspicion, corrupted), abs=1e-12)
    assert precision == pytest.approx(brute_force_precision(suspicion, corrupted), abs=1e-12)


def test_figures_are_undefined_without_corrupted_or_clean_samples():
    stats = detector_statistics(torch.tensor([[0, 1]]), torch.tensor([False, False]), 0, 2)
    assert detector_figures(stats[0].tolist(), 0, 2) == (None, None)


def test_low_aum_and_confidence_and_late_or_no_fit_flag_corrupted_labels():
    # the corrupted samples (2, 3) are never predicted as their given label, the clean ones are
    given, true = torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 0, 1])
    ledger = Ledger(1, given, true)
    for epoch in (1, 2):
        ledger.begin_epoch(epoch, [0])
        ledger.observe(0, 0, torch.nn.functional.one_hot(true, 3).float() * epoch)
        figures = ledger.end_epoch()[0]
    for name in SCORE_NAMES:
        assert figures[f"auroc_{name}"] == 1.0, name
        assert figures[f"precision_{name}"] == 1.0, name


# -- state and files ------------------------------------------------------------------------------

def test_a_restored_ledger_continues_bit_for_bit():
    whole, _ = run_ledger(3)
    first, _ = run_ledger(2)
    resumed = Ledger(1, GIVEN, TRUE)
    resumed.load_state_dict(first.state_dict())
    resumed.begin_epoch(3, [0])
    resumed.observe(0, 0, logits_of(3))
    resumed.end_epoch()
    for name in ("first_fit", "fit_since", "forgets", "last_pred", "aum", "conf_mean", "conf_m2"):
        assert torch.equal(getattr(whole, name), getattr(resumed, name)), name
    assert resumed.history == whole.history and resumed.epochs_seen == whole.epochs_seen


def test_the_ledger_file_round_trips_with_thumbnails_and_trajectories(tmp_path):
    ledger = Ledger(1, GIVEN, TRUE)
    images = torch.arange(4 * 28 * 28, dtype=torch.int32).reshape(4, 1, 28, 28).to(torch.uint8)
    files = LedgerFiles(tmp_path, ledger, images, ["CE"], ["a", "b", "c"],
                        index=np.array([10, 11, 12, 13]), trajectories=True, every_s=3600)
    for epoch in (1, 2, 3):
        ledger.begin_epoch(epoch, [0])
        ledger.observe(0, 0, logits_of(epoch))
        ledger.end_epoch()
        files.epoch_ended([0])
        if epoch == 1:
            assert read_ledger(tmp_path).epoch == 1  # the first epoch end writes it
    assert read_ledger(tmp_path).epoch == 1  # not due again within every_s
    files.write()
    view = read_ledger(tmp_path)
    assert view.epoch == 3 and view.loss_labels == ("CE",)
    assert view.index.tolist() == [10, 11, 12, 13] and view.class_names == ("a", "b", "c")
    assert view.corrupted.tolist() == [False, False, True, True]
    ce = view.loss("CE")
    assert ce.fit_since.tolist() == [1, -1, 2, 3] and ce.forgets.tolist() == [0, 1, 0, 1]
    np.testing.assert_array_equal(ce.aum, ledger.aum[0].numpy())
    assert view.memorized_order("CE").tolist() == [2, 3]
    # corrupted samples: true 0 predicted 2 (s2), true 1 predicted 0 (s3)
    assert view.prediction_matrix("CE").tolist() == [[0, 0, 1], [1, 0, 0], [0, 0, 0]]
    epochs, values = view.scoreboard.series("CE", "aum")
    assert epochs.tolist() == [1, 2, 3]
    assert values[-1] == pytest.approx(ledger.history[-1][1][0]["auroc_aum"])
    assert view.scoreboard.counts["CE"][:, 0].tolist() == [1, 1, 1]
    assert view.thumbnails is not None
    np.testing.assert_array_equal(view.thumbnails.image(2), images[2].numpy())
    steps, predictions = read_trajectories(tmp_path)
    assert steps.tolist() == [1, 2, 3] and predictions.dtype == np.int8
    assert predictions[:, 0].tolist() == PREDICTIONS


def test_a_50000_sample_4_loss_ledger_file_is_under_10_mb(tmp_path):
    n, k = 50_000, 10
    gen = torch.Generator().manual_seed(0)
    true = torch.randint(0, k, (n,), generator=gen)
    given = torch.where(torch.rand(n, generator=gen) < 0.4, torch.randint(0, k, (n,), generator=gen),
                        true)
    ledger = Ledger(4, given, true)
    for epoch in range(1, 6):  # random logits: the least compressible arrays a run could have
        ledger.begin_epoch(epoch, range(4))
        ledger.observe_models(range(4), 0, torch.randn(4, n, k, generator=gen) * 3)
        ledger.end_epoch()
    write_ledger(tmp_path, ledger.to_arrays(["CE", "MSE", "RLL", "MAE"], [str(c) for c in range(k)]))
    size = (tmp_path / LEDGER_FILE).stat().st_size
    assert size < 10 * 1024 * 1024, size


def test_reading_a_missing_damaged_or_newer_ledger_is_one_clear_error(tmp_path):
    with pytest.raises(RunDirError, match="has no ledger.npz"):
        read_ledger(tmp_path)
    (tmp_path / LEDGER_FILE).write_bytes(b"not a zip")
    with pytest.raises(RunDirError, match="damaged"):
        read_ledger(tmp_path)
    ledger, _ = run_ledger(1)
    arrays = ledger.to_arrays(["CE"], ["a", "b", "c"])
    arrays["version"] = np.int32(99)
    write_ledger(tmp_path, arrays)
    with pytest.raises(RunDirError, match="newer memtui"):
        read_ledger(tmp_path)


def test_an_epoch_cut_short_leaves_the_ledger_as_it_was():
    ledger, _ = run_ledger(2)
    before = ledger.state_dict()
    ledger.begin_epoch(3, [0])
    ledger.observe(0, 0, logits_of(3)[:2])  # a stop request ends the evaluation here
    ledger.abort_epoch()
    after = ledger.state_dict()
    assert after["epochs_seen"] == before["epochs_seen"] and after["history"] == before["history"]
    for name in ("first_fit", "fit_since", "forgets", "last_pred", "aum", "conf_mean", "conf_m2"):
        assert torch.equal(after[name], before[name]), name


def test_the_samples_csv_has_one_row_per_sample_and_the_ledger_per_loss(tmp_path):
    import csv

    from memtui.samples_csv import write_samples_csv

    ledger = Ledger(2, GIVEN, TRUE)
    for epoch in (1, 2, 3):
        ledger.begin_epoch(epoch, [0, 1])
        ledger.observe_models([0, 1], 0, logits_of(epoch).expand(2, 4, 3))
        ledger.end_epoch()
    write_ledger(tmp_path, ledger.to_arrays(["CE", "RLL a=0.1"], ["zero", "one", "two"]))
    assert write_samples_csv(read_ledger(tmp_path), tmp_path / "s.csv") == 4
    with (tmp_path / "s.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    assert [r["given"] for r in rows] == ["zero", "one", "two", "zero"]
    assert [r["corrupted"] for r in rows] == ["0", "0", "1", "1"]
    assert [r["RLL a=0.1:fitted_since"] for r in rows] == ["1", "", "2", "3"]
    assert [r["CE:forgetting_events"] for r in rows] == ["0", "1", "0", "1"]
    assert [r["CE:prediction"] for r in rows] == ["zero", "zero", "two", "zero"]
    assert [float(r["CE:aum"]) for r in rows] == ledger.aum[0].tolist()


# -- in a run -------------------------------------------------------------------------------------

def run_tiny(tiny_config, run_dir, **changes):
    from memtui.session import start_run

    config = tiny_config(**changes).model_copy(update={"out": run_dir})
    return start_run(config).execute()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A tiny run with the ledger on (the default), shared by the tests that only read it."""
    from memtui.config import validate
    from memtui.session import start_run

    from helpers import tiny_document

    run_dir = tmp_path_factory.mktemp("ledger") / "run"
    start_run(validate({**tiny_document(), "out": str(run_dir)})).execute()
    return run_dir


def test_a_run_keeps_the_ledger_of_its_evaluation_passes_and_logs_its_figures(tiny_config,
                                                                             tmp_path):
    from memtui.runlog import read_run
    from memtui.runlog.records import SAMPLE_SCORES

    assert run_tiny(tiny_config, tmp_path / "run", epochs=3,
                    ledger={"trajectories": True}).status == "completed"
    view = read_ledger(tmp_path / "run")
    assert view.epoch == 3 and view.loss_labels == ("CE", "MSE", "RLL")
    assert view.num_samples == 256 and view.class_names[0] == "t-shirt"
    assert all(loss.epochs_seen == 3 for loss in view.losses)
    assert view.scoreboard.epochs.tolist() == [1, 2, 3]
    lines = [r for r in read_run(tmp_path / "run").records if r["event"] == SAMPLE_SCORES]
    assert [(r["epoch"], r["loss"]) for r in lines] == [
        (e, loss) for e in (1, 2, 3) for loss in ("CE", "MSE", "RLL")]
    # the file's scoreboard and the run log's lines are the same figures
    last_ce = lines[-3]
    assert view.scoreboard.auroc["CE"][-1].tolist() == pytest.approx(
        [last_ce[f"auroc_{name}"] for name in SCORE_NAMES])
    epochs, predictions = read_trajectories(tmp_path / "run")
    assert epochs.tolist() == [1, 2, 3] and predictions.shape == (3, 3, 256)
    np.testing.assert_array_equal(predictions[-1], np.stack([loss.last_pred for loss in view.losses]))
    assert view.thumbnails is not None and view.thumbnails.images.shape[1:] == (1, 28, 28)


def test_with_the_ledger_off_a_run_writes_neither_its_file_nor_its_lines(tiny_config, tmp_path):
    from memtui.runlog import read_run

    run_tiny(tiny_config, tmp_path / "run", ledger={"enabled": False})
    assert not (tmp_path / "run" / LEDGER_FILE).exists()
    events = {r["event"] for r in read_run(tmp_path / "run").records}
    assert "sample_scores" not in events and "epoch_metrics" in events


def test_sample_scores_lines_round_trip_and_a_version_2_reader_is_kept():
    from memtui.events import EpochMetrics, SampleScores
    from memtui.runlog.records import RecordDecoder, from_record, to_record

    event = SampleScores(4, "CE", {"memorized": 3.0, "auroc_aum": None, "precision_aum": 0.5})
    assert from_record(to_record(event)) == event
    old_line = {"event": "epoch_metrics", "epoch": 1, "loss": "CE", "train_acc": 0.5}
    assert RecordDecoder(2, ["CE"], 1).decode([old_line]) == [
        EpochMetrics(1, "CE", {"train_acc": 0.5})]


def test_report_samples_writes_the_csv_of_one_run_and_refuses_what_it_cannot(
        finished_run, tmp_path, monkeypatch, capsys):
    import sys

    from memtui import cli

    def call(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["memtui", "report", *args])
        with pytest.raises(SystemExit) as exited:
            cli.main()
        return exited.value.code or 0, capsys.readouterr().err

    target = tmp_path / "samples.csv"
    assert call(str(finished_run), "--format", "csv", "--samples", str(target))[0] == 0
    lines = target.read_text().splitlines()
    assert len(lines) == 257 and lines[0].startswith("row,index,given,true,corrupted,CE:")
    for args, message in (
            ([str(finished_run), "--samples", str(tmp_path / "x.txt")], "ending in .csv"),
            ([str(finished_run), str(tmp_path), "--samples", str(target)],
             "one run directory"),
            ([str(tmp_path), "--samples", str(target)], "has no ledger.npz")):
        code, err = call(*args)
        assert code == 2 and message in err and "Traceback" not in err, err


FAKE_SSH = """#!/bin/sh
# ssh [-o opt]... host command: runs the command here
while [ "$1" = "-o" ]; do shift 2; done
shift
exec sh -c "$*"
"""


def test_watch_over_ssh_mirrors_the_ledger_when_it_changes(finished_run, tmp_path, monkeypatch):
    import shutil

    import memtui.tui.remote as remote

    ssh = tmp_path / "bin" / "ssh"
    ssh.parent.mkdir()
    ssh.write_text(FAKE_SSH)
    ssh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{ssh.parent}:{os.environ['PATH']}")
    run = tmp_path / "far" / "run"
    shutil.copytree(finished_run, run)
    source = remote.RemoteRunSource("me@lab", str(run), mirror=tmp_path / "mirror")
    source.sync()  # a finished run: everything at once
    assert read_ledger(tmp_path / "mirror").epoch == 2
    assert (tmp_path / "mirror" / "thumbnails.npz").read_bytes() == (
        run / "thumbnails.npz").read_bytes()
    ledger, _ = run_ledger(1)  # the remote file changes: the next sync copies it
    write_ledger(run, ledger.to_arrays(["CE"], ["a", "b", "c"]))
    source.sync()
    assert read_ledger(tmp_path / "mirror").epoch == 1


def test_the_ledger_index_is_each_samples_position_in_the_full_training_split():
    from memtui import data

    full = data.load("demo")
    split = data.take_subset(data.hold_out(full, 0.2), 300, 50, seed=1)
    index = split.positions()
    assert len(index) == 300 and bool((index[1:] > index[:-1]).all())
    assert torch.equal(split.train_x, full.train_x[index])
    assert torch.equal(data.load("demo").positions(), torch.arange(len(full.train_y)))
