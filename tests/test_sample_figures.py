"""The samples view's figures and cell drawing, without Textual: histogram bins, where the
corrupted samples' predictions went, the data map's grid, bars, half-block thumbnails (lossless),
shading and braille."""

from __future__ import annotations

import numpy as np
import pytest

from memtui.runlog.ledger import read_ledger
from memtui.sample_figures import (
    count_in_bins,
    data_map_grid,
    epoch_bins,
    prediction_shares,
    when_histogram,
)
from memtui.tui.widgets.samples.cells import (
    SHADES,
    bar,
    braille_rows,
    half_block_cells,
    shade_rows,
)

from ledger_fixture import demo_images, write_fixture


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    return read_ledger(write_fixture(tmp_path_factory.mktemp("ledger")))


def test_epoch_bins_cover_every_epoch_once_in_equal_widths():
    assert epoch_bins(30, 10) == [(1, 3), (4, 6), (7, 9), (10, 12), (13, 15), (16, 18),
                                  (19, 21), (22, 24), (25, 27), (28, 30)]
    assert epoch_bins(7, 3) == [(1, 3), (4, 6), (7, 7)]
    assert epoch_bins(5, 20) == [(e, e) for e in range(1, 6)]
    assert epoch_bins(0, 4) == [(1, 1)]


def test_count_in_bins_counts_inclusive_edges():
    assert count_in_bins(np.array([1, 3, 4, 7, 7]), [(1, 3), (4, 6), (7, 7)]).tolist() == [2, 1, 2]


def test_when_histogram_counts_memorised_corrupted_and_first_fitted_clean(ledger):
    for label in ledger.loss_labels:
        loss = ledger.loss(label)
        hist = when_histogram(ledger, label, 7)
        assert hist.bins == epoch_bins(ledger.epoch, 7)
        memorized = ledger.corrupted & (loss.fit_since >= 0)
        assert hist.memorized.sum() == memorized.sum()
        assert hist.not_memorized == ledger.num_corrupted - memorized.sum()
        assert hist.fitted.sum() == (~ledger.corrupted & (loss.first_fit >= 0)).sum()
        first, last = hist.bins[1]
        in_bin = memorized & (loss.fit_since >= first) & (loss.fit_since <= last)
        assert hist.memorized[1] == in_bin.sum()
    # the fixture's CE memorises most of its corrupted samples, RLL few
    assert when_histogram(ledger, "CE", 5).not_memorized < 0.2 * ledger.num_corrupted
    assert when_histogram(ledger, "RLL", 5).not_memorized > 0.8 * ledger.num_corrupted


def test_prediction_shares_split_the_corrupted_samples_by_given_true_or_other(ledger):
    for label in ledger.loss_labels:
        shares = prediction_shares(ledger, label)
        pred = ledger.loss(label).last_pred[ledger.corrupted]
        assert shares.total == ledger.num_corrupted
        assert shares.given == (pred == ledger.given[ledger.corrupted]).sum()
        assert shares.true == (pred == ledger.true[ledger.corrupted]).sum()
        assert shares.given + shares.true + shares.other == shares.total
        # the matrix holds the same samples: its diagonal is the recovered ones
        assert np.trace(ledger.prediction_matrix(label)) == shares.true


def test_data_map_grid_places_each_sample_once_confident_at_the_top(ledger):
    corrupted, clean = data_map_grid(ledger, "CE", 10, 8)
    assert corrupted.sum() == ledger.num_corrupted
    assert corrupted.sum() + clean.sum() == ledger.num_samples
    loss = ledger.loss("CE")
    confident = int((~ledger.corrupted & (loss.confidence >= 7 / 8)).sum())
    assert clean[0].sum() == confident  # row 0 holds confidence 7/8..1


def test_bar_is_exact_to_an_eighth_and_never_hides_a_non_zero_share():
    assert bar(1.0, 4) == "████"
    assert bar(0.5, 3) == "█▌"
    assert bar(0.0, 5) == ""
    assert bar(0.001, 5) == "▏"
    assert bar(2.0, 2) == "██"


@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 28), (3, 32, 32)])
def test_half_blocks_keep_every_pixel(shape):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    cells = half_block_cells(image)
    height, width = shape[-2:]
    assert len(cells) == height // 2 and all(len(row) == width for row in cells)
    rebuilt = np.zeros((height, width, 3), np.uint8)
    for r, row in enumerate(cells):
        for c, (upper, lower) in enumerate(row):
            rebuilt[2 * r, c], rebuilt[2 * r + 1, c] = upper, lower
    channels = image.reshape(-1, height, width)
    expected = (channels if len(channels) == 3 else np.repeat(channels, 3, axis=0)).transpose(1, 2, 0)
    assert np.array_equal(rebuilt, expected)


def test_a_real_demo_image_as_half_blocks_and_as_shades():
    images, _labels = demo_images(1)
    cells = half_block_cells(images[0])
    assert cells[0][0] == ((int(images[0][0, 0]),) * 3, (int(images[0][1, 0]),) * 3)
    shades = shade_rows(images[0])
    assert len(shades) == 14 and {len(row) for row in shades} == {28}
    assert set("".join(shades)) <= set(SHADES)
    assert len(set("".join(shades))) > 2  # an image, not a blank or a block


def test_shades_go_from_blank_to_full_block():
    image = np.array([[0, 255], [0, 255]], np.uint8)
    assert shade_rows(image) == [" █"]


def test_braille_sets_one_dot_per_sample_place():
    dots = np.zeros((4, 4), bool)
    dots[0, 0] = dots[3, 3] = True
    assert braille_rows(dots) == [chr(0x2801) + chr(0x2880)]
    assert braille_rows(np.zeros((4, 2), bool)) == [" "]
