"""Specification of image-folder data sets (``train/<class>/*``, ``test/<class>/*``).

Classes are the sorted sub-folders of ``train``; ``test`` must have the same. Files are taken in
torchvision ImageFolder's order. All images share one size; a grey set stays one channel, a set
with any colour image becomes three. Mixed sizes, empty classes and differing class lists are
refused, each with one line naming the files or folders.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from memtui.config import validate
from memtui.data import load
from memtui.errors import DataError
from memtui.imagefolder import fingerprint, read_image_folder
from memtui.session import build_engine

from helpers import tiny_document


def write_image(path: Path, value: int, channels: int = 3, size: tuple[int, int] = (8, 6)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = torch.full((channels, *size), value, dtype=torch.uint8)
    image[0, 0, 0] = value // 2  # not flat: a check that pixels land where they belong
    pixels = image.permute(1, 2, 0).numpy()
    Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels).save(path)


def write_folder(root: Path, classes=("zebra", "ant", "cat"), per_class=(3, 2), channels=3):
    for split, n in zip(("train", "test"), per_class):
        for c, name in enumerate(classes):
            for i in range(n):
                write_image(root / split / name / f"{i:02d}.png", 10 * c + i, channels)


def test_classes_sorted_and_images_in_imagefolder_order(tmp_path):
    write_folder(tmp_path)
    data = read_image_folder(tmp_path)
    assert data.classes == ("ant", "cat", "zebra")
    assert data.train_x.shape == (9, 3, 8, 6) and data.test_x.shape == (6, 3, 8, 6)
    assert data.train_y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # ant was written as class 1 of the writer (values 10, 11, 12): file order 00, 01, 02
    assert data.train_x[:3, 1, 1, 1].tolist() == [10, 11, 12]
    assert data.train_x[0, 0, 0, 0] == 5
    datasets = pytest.importorskip("torchvision.datasets")  # the order it defines, if at hand
    reference = datasets.ImageFolder(str(tmp_path / "train"))
    assert reference.classes == list(data.classes)
    assert reference.targets == data.train_y.tolist()


def test_a_grey_set_stays_one_channel_and_a_mixed_one_becomes_colour(tmp_path):
    write_folder(tmp_path / "grey", channels=1)
    assert read_image_folder(tmp_path / "grey").train_x.shape[1] == 1
    write_folder(tmp_path / "mixed", channels=1)
    write_image(tmp_path / "mixed" / "train" / "ant" / "99.png", 200, channels=3)
    mixed = read_image_folder(tmp_path / "mixed")
    assert mixed.train_x.shape[1] == 3
    grey_one = mixed.train_x[0]  # ant/00.png, grey, repeated over the channels
    assert torch.equal(grey_one[0], grey_one[1]) and torch.equal(grey_one[1], grey_one[2])


def test_mixed_sizes_are_refused_naming_both_files(tmp_path):
    write_folder(tmp_path)
    write_image(tmp_path / "test" / "cat" / "big.png", 7, size=(16, 16))
    with pytest.raises(DataError) as error:
        read_image_folder(tmp_path)
    message = str(error.value)
    assert message.startswith("images differ in size:") and "big.png is 16x16" in message
    assert "is 6x8" in message and "\n" not in message


def test_an_empty_class_is_refused(tmp_path):
    write_folder(tmp_path)
    (tmp_path / "train" / "dog").mkdir()
    (tmp_path / "train" / "dog" / "notes.txt").write_text("no image")
    with pytest.raises(DataError, match=r"train/dog holds no images \(.jpg"):
        read_image_folder(tmp_path)


def test_test_classes_must_equal_train_classes(tmp_path):
    write_folder(tmp_path)
    write_image(tmp_path / "test" / "dog" / "0.png", 1)
    with pytest.raises(DataError, match=r"other classes than .*train \(differing: dog\)"):
        read_image_folder(tmp_path)


@pytest.mark.parametrize("layout, message", [
    ("no-test", "has no train/ and test/ folders"),
    ("one-class", "holds 1 class folder"),
    ("damaged", "cannot be decoded"),
])
def test_broken_trees_are_one_line(tmp_path, layout, message):
    if layout == "no-test":
        write_image(tmp_path / "train" / "a" / "0.png", 1)
    elif layout == "one-class":
        for split in ("train", "test"):
            write_image(tmp_path / split / "a" / "0.png", 1)
    else:
        write_folder(tmp_path)
        (tmp_path / "train" / "ant" / "01.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=message):
        read_image_folder(tmp_path)


def test_the_fingerprint_changes_when_an_image_in_a_class_folder_changes(tmp_path):
    write_folder(tmp_path)
    before = fingerprint(tmp_path)
    assert fingerprint(tmp_path) == before
    write_image(tmp_path / "train" / "ant" / "07.png", 3)
    assert fingerprint(tmp_path) != before


def test_an_image_folder_is_a_data_set_with_its_own_classes_and_size(tmp_path):
    write_folder(tmp_path / "pets")
    split = load("imagefolder", tmp_path / "pets")
    assert split.info.classes == ("ant", "cat", "zebra") and split.info.num_classes == 3
    assert split.info.shape == (3, 8, 6)


def test_an_image_folder_is_decoded_once_then_read_from_the_cache(tmp_path):
    write_folder(tmp_path / "pets")
    first = load("imagefolder", tmp_path / "pets")
    cached = load("imagefolder", tmp_path / "pets")
    assert torch.equal(first.train_x, cached.train_x) and cached.classes == first.classes
    write_image(tmp_path / "pets" / "train" / "ant" / "zz.png", 9)  # a change: decoded again
    assert len(load("imagefolder", tmp_path / "pets").train_y) == len(first.train_y) + 1


def test_a_run_trains_on_an_image_folder(tmp_path, recorder):
    write_folder(tmp_path / "pets", per_class=(6, 2))
    config = validate(tiny_document(data={"dataset": "imagefolder", "subset": None,
                                          "test_subset": None, "data_dir": str(tmp_path / "pets")},
                                    batch_size=4, losses=[{"name": "ce"}, {"name": "rll"}]))
    build_engine(config, [recorder]).run()
    assert recorder.events[-1].status == "completed"
