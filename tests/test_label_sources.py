"""Specification of where a run's training labels come from, end to end through the config.

``corruption.labels = "file"`` trains on the labels of ``corruption.file`` (``corruption.key``
picks a label set), read for the whole training set before holdout and subset, so a subset keeps
each image's own label; a sample counts as corrupted where the file's label differs from the data
set's. ``"asymmetric"`` draws labels from the data set's class map or ``corruption.matrix``.
``corruption.seed`` draws the subset and the noise apart from the seed that initialises the
networks. ``data.normalize = false`` feeds raw 0-255 values; ``data.augment`` crops and flips
training batches only.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memtui.config import validate
from memtui.data import load
from memtui.errors import ConfigError
from memtui.events import EpochMetrics, RunFinished, RunStarted
from memtui.prepare import prepare_data
from memtui.session import build_engine

from helpers import tiny_document

CPU = torch.device("cpu")


def demo_labels_file(tmp_path, flip_every: int = 3) -> tuple[str, np.ndarray]:
    """A .npy of the demo set's labels with every third one moved to the next class."""
    labels = load("demo").train_y.numpy().copy()
    labels[::flip_every] = (labels[::flip_every] + 1) % 10
    path = tmp_path / "labels.npy"
    np.save(path, labels)
    return str(path), labels


def file_config(path: str, **changes):
    document = tiny_document(corruption={"labels": "file", "noise": 0.0, "file": path}, **changes)
    return validate(document)


def test_file_labels_follow_their_images_through_the_subset(tmp_path):
    path, labels = demo_labels_file(tmp_path)
    full = load("demo")
    data = prepare_data(file_config(path), CPU)
    # each kept image carries its own line of the file: find it by its pixels
    index = {bytes(image.numpy().tobytes()): i for i, image in enumerate(full.train_x)}
    kept = [index[bytes(image.numpy().tobytes())] for image in data.train_x]
    assert data.labels.noisy.tolist() == labels[kept].tolist()
    assert data.labels.true.tolist() == full.train_y[kept].tolist()
    assert torch.equal(data.labels.mask, data.labels.noisy != data.labels.true)
    assert 0.2 < data.labels.mask.float().mean().item() < 0.45  # a third flipped


def test_file_labels_with_holdout_keep_their_images_too(tmp_path):
    path, labels = demo_labels_file(tmp_path)
    data = prepare_data(file_config(path, data={"dataset": "demo", "holdout": 0.2,
                                                "subset": None}), CPU)
    full = load("demo")
    index = {bytes(image.numpy().tobytes()): i for i, image in enumerate(full.train_x)}
    kept = [index[bytes(image.numpy().tobytes())] for image in data.train_x]
    assert len(kept) == 4000 and data.labels.noisy.tolist() == labels[kept].tolist()


def test_a_run_on_file_labels_reports_memorized_and_recovered(tmp_path, recorder):
    path, _ = demo_labels_file(tmp_path)
    build_engine(file_config(path), [recorder]).run()
    started = recorder.of(RunStarted)[0]
    assert 256 * 0.2 < started.num_corrupted < 256 * 0.45
    assert recorder.of(RunFinished)[0].status == "completed"
    metrics = recorder.of(EpochMetrics)
    assert metrics and all(m.values["memorized"] is not None
                           and m.values["recovered"] is not None for m in metrics)


def test_labels_file_without_a_file_names_the_flag():
    config = validate(tiny_document(corruption={"labels": "file", "noise": 0.0}))
    with pytest.raises(ConfigError, match=r"^corruption.file: .*--label-file"):
        prepare_data(config, CPU)


def test_a_file_of_the_wrong_length_is_refused_where_it_enters(tmp_path):
    np.save(tmp_path / "short.npy", np.zeros(10, dtype=np.int64))
    with pytest.raises(ConfigError, match="holds 10 labels; the demo training set has 5,000"):
        prepare_data(file_config(str(tmp_path / "short.npy")), CPU)


@pytest.mark.parametrize("changes, message", [
    ({"corruption": {"labels": "symmetric", "noise": 0.4, "key": "worse_label"}},
     "corruption.key: only read with corruption.labels = 'file'"),
    ({"corruption": {"labels": "file", "noise": 0.4}},
     "corruption.noise: labels from a file carry their own noise"),
    ({"corruption": {"labels": "random", "noise": 0.4, "matrix": [[1.0]]}},
     "corruption.matrix: only used with corruption.labels = 'asymmetric'"),
    ({"data": {"dataset": "imagefolder"}}, "data.data_dir: the imagefolder data set needs"),
])
def test_options_that_do_not_fit_the_mode_are_refused_by_the_config(changes, message):
    with pytest.raises(ConfigError, match=message):
        validate(tiny_document(**changes))


def test_asymmetric_noise_follows_the_data_sets_class_map():
    config = validate(tiny_document(corruption={"labels": "asymmetric", "noise": 1.0},
                                    data={"dataset": "demo", "subset": 2000}))
    data = prepare_data(config, CPU)
    flips = {0: 6, 2: 4, 5: 7, 9: 7}  # Fashion-MNIST's map
    expected = torch.tensor([flips.get(int(c), int(c)) for c in data.labels.true])
    assert torch.equal(data.labels.noisy, expected)


def test_an_asymmetric_matrix_is_checked_against_the_class_count():
    config = validate(tiny_document(corruption={"labels": "asymmetric", "noise": 0.0,
                                                "matrix": [[0.5, 0.5], [0.0, 1.0]]}))
    with pytest.raises(ConfigError, match=r"corruption.matrix: .*10 classes, so it must be 10x10"):
        prepare_data(config, CPU)


def test_an_asymmetric_matrix_from_a_file(tmp_path):
    matrix = np.eye(10)
    matrix[3] = 0.0
    matrix[3, 4] = 1.0  # every 3 becomes a 4
    np.save(tmp_path / "t.npy", matrix)
    config = validate(tiny_document(corruption={"labels": "asymmetric",
                                                "matrix": str(tmp_path / "t.npy")}))
    data = prepare_data(config, CPU)
    true, noisy = data.labels.true, data.labels.noisy
    assert (noisy[true == 3] == 4).all() and torch.equal(noisy[true != 3], true[true != 3])


def test_the_noise_seed_holds_subset_and_noise_while_the_seed_varies():
    def labels(seed, noise_seed=None):
        corruption = {"labels": "symmetric", "noise": 0.4}
        if noise_seed is not None:
            corruption["seed"] = noise_seed
        data = prepare_data(validate(tiny_document(seed=seed, corruption=corruption)), CPU)
        return data.train_x, data.labels.noisy

    x0, y0 = labels(0, noise_seed=7)
    x1, y1 = labels(1, noise_seed=7)
    assert torch.equal(x0, x1) and torch.equal(y0, y1)
    # by default the run's seed draws them
    assert not torch.equal(labels(0)[1], labels(1)[1])
    assert torch.equal(labels(7)[1], y0)

    def first_weight(seed):
        engine = build_engine(validate(tiny_document(seed=seed, corruption={
            "labels": "symmetric", "noise": 0.4, "seed": 7})))
        return next(engine.bank.models[0].parameters()).detach().clone()

    assert not torch.equal(first_weight(0), first_weight(1))


def test_normalize_false_feeds_raw_pixel_values():
    raw = prepare_data(validate(tiny_document(data={"dataset": "demo", "subset": 256,
                                                    "normalize": False})), CPU)
    x = raw.normalise(raw.train_x[:4])
    assert torch.equal(x, raw.train_x[:4].float())
    standard = prepare_data(validate(tiny_document()), CPU)
    assert abs(standard.normalise(standard.train_x).mean().item()) < 0.05


def test_augmentation_changes_training_batches_and_nothing_the_evaluation_sees(recorder):
    def run(augment):
        config = validate(tiny_document(data={"dataset": "demo", "subset": 256,
                                              "test_subset": 128, "augment": augment},
                                        losses=[{"name": "ce"}], epochs=1))
        engine = build_engine(config, [recorder])
        before = engine.data.train_x.clone()
        engine.run()
        assert torch.equal(engine.data.train_x, before)  # images stay as they were
        return next(engine.bank.models[0].parameters()).detach().clone()

    plain, augmented = run(False), run(True)
    assert not torch.equal(plain, augmented)
    assert torch.equal(run(True), augmented)  # the draws are the seed's


def test_a_sweep_grid_takes_label_sets_augmentation_and_the_noise_seed_as_axes(tmp_path):
    from pathlib import Path

    from memtui.sweep.grid import load_grid

    path = tmp_path / "g.toml"
    path.write_text('base = "cifar10n-worse-cpu"\n[set]\n"corruption.seed" = 3\n[grid]\n'
                    '"corruption.key" = ["aggre_label", "worse_label"]\n'
                    '"data.augment" = [false, true]\n')
    grid = load_grid(path, {"corruption.file": Path("CIFAR-10_human.pt")})
    assert len(grid.cells) == 4
    last = grid.cells[-1].config
    assert last.corruption.key == "worse_label" and last.data.augment
    assert last.corruption.seed == 3 and last.corruption.file == Path("CIFAR-10_human.pt")
